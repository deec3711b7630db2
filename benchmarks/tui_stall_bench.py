"""How long the TUI's UI thread stalls while a model is profiled. A benchmark: it prints figures.

The guided TUI opens a fresh copy of ``sample_project/`` at step 3 (headless, Textual's pilot),
a 10 ms interval timer stamps ``perf_counter`` on the UI thread, and the candidates ``--models``
are run the way the screen's ``a``/``r`` keys run them (``App.start_runs``: a thread worker
around ``run_project``; progress arrives as messages that repaint the run panel). A stall is a
gap between two ticks beyond the timer's period: the time the event loop could not react to a
key. Printed: the longest stall during the run (from the start to the run's end, including the
template's start and the state reload after it), the 99th percentile of the gaps, the number of
ticks, for warm and cold workers (``MODELSNAP_COLD_WORKERS=1``), each in a fresh process.
Goal (issue 15): the longest stall <= 50 ms.

    python benchmarks/tui_stall_bench.py [--models random_forest] [--rounds 1]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PERIOD = 0.010


async def settle(app, pilot, rounds: int = 6) -> None:
    from textual.worker import WorkerCancelled

    for _ in range(rounds):
        with contextlib.suppress(WorkerCancelled):
            await app.workers.wait_for_complete()
        await pilot.pause(0.05)


class Sampler:
    """What the UI thread is doing, every 2 ms, from another thread (``sys._current_frames``):
    the stacks inside a long gap name the code that held the loop. Only with ``--why``."""

    def __init__(self, thread_id: int, every: float = 0.002) -> None:
        self.thread_id = thread_id
        self.every = every
        self.samples: list[tuple[float, tuple[str, ...]]] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, daemon=True)

    def __enter__(self) -> Sampler:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()

    def _loop(self) -> None:
        while not self._stop.wait(self.every):
            frame = sys._current_frames().get(self.thread_id)
            stack = []
            while frame is not None:
                code = frame.f_code
                where = code.co_filename.rsplit("site-packages/", 1)[-1].rsplit("/src/", 1)[-1]
                stack.append(f"{where}:{code.co_name}")
                frame = frame.f_back
            self.samples.append((time.perf_counter(), tuple(reversed(stack))))

    def explain(self, start: float, end: float, top: int = 4) -> list[str]:
        """The frames seen most often in ``[start, end]``, deepest project frames first."""
        inside = [stack for at, stack in self.samples if start <= at <= end]
        if not inside:
            return []
        counts: dict[str, int] = {}
        for stack in inside:
            for frame in set(stack):
                counts[frame] = counts.get(frame, 0) + 1
        # Frames in at least a third of the samples, the deepest (most specific) first.
        depth = {frame: max(s.index(frame) for s in inside if frame in s) for frame in counts}
        common = [f for f in counts if counts[f] * 3 >= len(inside) and "asyncio" not in f]
        common.sort(key=lambda f: -depth[f])
        return [f"{counts[f]}/{len(inside)} {f}" for f in common[:top]]


async def measure(folder: Path, models: list[str], idle: float = 5.0, why: bool = False) -> dict:
    from modelsnap.tui.app import ModelsnapApp

    app = ModelsnapApp(folder, open_step=3)
    ticks: list[float] = []
    async with app.run_test(size=(100, 40)) as pilot:
        await settle(app, pilot)
        app.set_interval(PERIOD, lambda: ticks.append(time.perf_counter()))
        await pilot.pause(0.2)
        idle_from = time.perf_counter()
        await asyncio.sleep(idle)  # the same app, nothing running: the machine's own noise
        idle_to = time.perf_counter()
        started = time.perf_counter()
        screen = app.screen
        marks: list[tuple[float, str]] = []

        class Target:
            """The screen, with each run message's arrival noted (to name what a stall is near)."""

            def post_message(self, message) -> bool:
                what = type(message).__name__
                stage = getattr(message, "stage", None)
                marks.append((time.perf_counter(), f"{what} {stage}" if stage else what))
                return screen.post_message(message)

        sampler = Sampler(threading.get_ident()) if why else contextlib.nullcontext()
        with sampler:
            assert app.start_runs(Target(), models), "the run did not start"
            while app._run_cancel is not None:
                await asyncio.sleep(0.05)
            await settle(app, pilot)
            ended = time.perf_counter()
    quiet = [t for t in ticks if idle_from <= t <= idle_to]
    idle_gaps = [b - a for a, b in zip(quiet, quiet[1:], strict=False)]
    finished = next((t for t, label in marks if label == "RunFinished"), ended)
    during = [t for t in ticks if started <= t <= ended]
    gaps = [b - a for a, b in zip(during, during[1:], strict=False)]
    profiling = [b - a for a, b in zip(during, during[1:], strict=False) if b <= finished]
    after = [b - a for a, b in zip(during, during[1:], strict=False) if b > finished]
    worst = sorted(range(len(gaps)), key=lambda i: -gaps[i])[:5]

    def near(at: float) -> str:
        before = [label for t, label in marks if t <= at]
        return before[-1] if before else "before the first message"

    def explain(i: int) -> list[str]:
        return sampler.explain(during[i], during[i + 1]) if why else []

    return {
        "started": started,
        "worst": [
            (round(during[i] - started, 3), round(gaps[i] * 1000, 1), near(during[i]), explain(i))
            for i in sorted(worst)
        ],
        "seconds": ended - started,
        "profiling_stall_ms": (max(profiling) - PERIOD) * 1000 if profiling else float("nan"),
        "after_stall_ms": (max(after) - PERIOD) * 1000 if after else float("nan"),
        "idle_stall_ms": (max(idle_gaps) - PERIOD) * 1000 if idle_gaps else float("nan"),
        "ticks": len(during),
        "longest_stall_ms": (max(gaps) - PERIOD) * 1000 if gaps else float("nan"),
        "p99_gap_ms": statistics.quantiles(gaps, n=100)[98] * 1000 if len(gaps) > 100 else None,
    }


def child(folder: str, models: str, why: str = "") -> None:
    print(json.dumps(asyncio.run(measure(Path(folder), models.split(","), why=bool(why)))))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--models", default="random_forest", help="comma-separated candidates")
    parser.add_argument("--rounds", type=int, default=1)
    parser.add_argument("--verbose", action="store_true", help="the 5 longest gaps and when")
    parser.add_argument(
        "--why", action="store_true", help="sample the UI thread's stack: what ran in each gap"
    )
    parser.add_argument("--child", nargs=3, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(*args.child)
        return
    print(f"load average {', '.join(f'{x:.2f}' for x in os.getloadavg())}; models {args.models}")
    results: dict[str, list[dict]] = {"warm": [], "cold": []}
    with tempfile.TemporaryDirectory(prefix="modelsnap-stall-") as tmp:
        for round_ in range(args.rounds):
            for mode, found in results.items():
                folder = Path(tmp) / f"{mode}-{round_}"
                shutil.copytree(ROOT / "sample_project", folder)
                env = dict(os.environ)
                env["PYTHONPATH"] = os.pathsep.join(
                    filter(None, [str(ROOT / "src"), env.get("PYTHONPATH")])
                )
                env.pop("MODELSNAP_COLD_WORKERS", None)
                if mode == "cold":
                    env["MODELSNAP_COLD_WORKERS"] = "1"
                proc = subprocess.run(
                    [
                        sys.executable,
                        __file__,
                        "--child",
                        str(folder),
                        args.models,
                        "why" if args.why else "",
                    ],
                    capture_output=True,
                    text=True,
                    env=env,
                    check=False,
                )
                if proc.returncode != 0:
                    sys.exit(f"{mode}: the TUI run failed\n{proc.stderr[-3000:]}")
                found.append(json.loads(proc.stdout.strip().splitlines()[-1]))
    for mode, runs in results.items():
        for run in runs:
            p99 = "n/a" if run["p99_gap_ms"] is None else f"{run['p99_gap_ms']:.1f} ms"
            print(
                f"{mode:<5} run {run['seconds']:.2f} s, {run['ticks']} ticks: longest UI stall "
                f"{run['longest_stall_ms']:.1f} ms (while the model was profiled "
                f"{run['profiling_stall_ms']:.1f} ms; after it, while the screen reloads the "
                f"project: {run['after_stall_ms']:.1f} ms), p99 gap {p99}; idle app, same "
                f"machine, 5 s before the run: longest stall {run['idle_stall_ms']:.1f} ms"
            )
            if args.verbose or args.why:
                for at, gap, after, frames in run["worst"]:
                    print(f"    at {at:7.3f} s a gap of {gap:6.1f} ms, after {after}")
                    for frame in frames:
                        print(f"        {frame}")
    print(f"load average at the end {', '.join(f'{x:.2f}' for x in os.getloadavg())}")


if __name__ == "__main__":
    main()
