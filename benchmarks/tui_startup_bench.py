"""Start-up of the guided TUI against a bare Textual app with one DataTable, in one run.

Goal (issue 6): the first step screen paints within 1.5x the time a bare Textual app with a
1,000-row DataTable takes to paint. Both are timed from process start (the parent notes the
time just before spawning; the child prints the wall clock when its first frame of that screen
is rendered), alternating, several rounds; medians and their ratio are printed. Absolute times
drift on a shared machine: read the ratio.

    python benchmarks/tui_startup_bench.py [--rounds 7] [--snapshots 24]
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

# Both children stamp the wall clock in App._display, the moment Textual hands a rendered
# frame of the wanted screen to the driver (headless: the frame is rendered, not written).
BARE = """
import time
from textual.app import App
from textual.widgets import DataTable

class Bare(App):
    stamped = False

    def compose(self):
        yield DataTable()

    def on_mount(self):
        table = self.query_one(DataTable)
        table.add_columns("id", "name", "score")
        for i in range(1000):
            table.add_row(i, f"row {i}", i / 1000)

    def _display(self, screen, renderable):
        super()._display(screen, renderable)
        if renderable is not None and not self.stamped and self.query(DataTable):
            self.stamped = True
            print(time.time(), flush=True)
            self.call_later(self.exit)

Bare().run(headless=True, size=(80, 24))
"""

MODELSNAP = """
import sys, time
from pathlib import Path
from modelsnap.tui.app import ModelsnapApp
from modelsnap.tui.screens.base import StepScreen

class Timed(ModelsnapApp):
    stamped = False

    def _display(self, screen, renderable):
        super()._display(screen, renderable)
        if renderable is not None and not self.stamped and isinstance(screen, StepScreen):
            self.stamped = True
            heavy = [m for m in ("pandas", "sklearn", "scipy") if m in sys.modules]
            print(time.time(), ",".join(heavy) or "-", flush=True)
            self.call_later(self.exit)

step = int(sys.argv[2]) if len(sys.argv) > 2 else None
Timed(Path(sys.argv[1]), open_step=step).run(headless=True, size=(80, 24))
"""


# Byte-code caching on, as for an installed package (pip compiles .pyc files at install time,
# as it did for Textual): a shell with PYTHONDONTWRITEBYTECODE=1 would otherwise have every
# child recompile each modelsnap module changed since its .pyc was last written.
BENCH_ENV = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}


def time_child(code: str, *args: str) -> tuple[float, str]:
    start = time.time()
    done = subprocess.run(
        [sys.executable, "-c", code, *args],
        capture_output=True,
        text=True,
        timeout=120,
        env=BENCH_ENV,
    )
    if done.returncode != 0:
        raise SystemExit(f"child failed:\n{done.stderr}")
    fields = done.stdout.split()
    return float(fields[0]) - start, " ".join(fields[1:])


def make_project(root: Path, count: int) -> None:
    script = Path(__file__).with_name("make_snapshots.py")
    spec = importlib.util.spec_from_file_location("make_snapshots", script)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    module.write_folder(root, count)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument(
        "--snapshots", type=int, default=24, help="snapshots in the generated project the TUI opens"
    )
    parser.add_argument(
        "--step",
        type=int,
        choices=range(1, 6),
        help="open this step (default: the first unfinished one, here 5)",
    )
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp) / "project"
        make_project(root, args.snapshots)
        time_child(BARE)  # warm the file cache for both
        extra = [str(args.step)] if args.step else []
        time_child(MODELSNAP, str(root), *extra)
        bare, ours, heavy = [], [], set()
        for _ in range(args.rounds):
            bare.append(time_child(BARE)[0])
            seconds, loaded = time_child(MODELSNAP, str(root), *extra)
            ours.append(seconds)
            heavy.add(loaded)
    bare_median, ours_median = statistics.median(bare), statistics.median(ours)
    where = f"step {args.step}" if args.step else "the first unfinished step"
    print(f"rounds: {args.rounds}, project with {args.snapshots} snapshots, opening {where}")
    print(
        f"bare Textual + 1,000-row DataTable, first paint: median {bare_median:.3f} s "
        f"(min {min(bare):.3f}, max {max(bare):.3f})"
    )
    print(
        f"modelsnap TUI, first step screen painted:     median {ours_median:.3f} s "
        f"(min {min(ours):.3f}, max {max(ours):.3f})"
    )
    print(f"ratio: {ours_median / bare_median:.2f}x (goal <= 1.5x)")
    print(f"heavy modules loaded at first paint: {', '.join(sorted(heavy))}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
