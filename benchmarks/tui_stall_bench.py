"""How long the TUI's UI thread stalls while a model is profiled. A benchmark: it prints figures.

The guided TUI opens a fresh copy of ``sample_project/`` at step 3 (headless, Textual's pilot),
a 10 ms interval timer stamps ``perf_counter`` on the UI thread, and the candidates ``--models``
are run the way the screen's ``a``/``r`` keys run them (``App.start_runs``: a thread worker
around ``run_project``; progress arrives as messages that repaint the run panel). A stall is a
gap between two ticks beyond the timer's period: the time the event loop could not react to a
key. Printed for warm and cold workers (``MODELSNAP_COLD_WORKERS=1``), each in a fresh process:
the longest stall while the model is profiled (from the start to its ``RunFinished``), the
longest after it (the screen re-reads the project and shows the new snapshot), the 99th
percentile of the gaps, and the same app's longest stall while idle for 5 s before the run (the
machine's own noise, in the same process). Then a table, median and worst over the rounds.
Goal (issue 15): the longest stall <= 50 ms.

``--why`` names what ran in each long gap (message handlers, layouts, repaints, garbage
collections of 2 ms or more: Textual's methods are wrapped for the measurement only).
``--baseline-src DIR`` measures another version's sources in the same rounds, alternating, so a
change's before and after come from the same minutes of the same machine::

    python benchmarks/tui_stall_bench.py [--models random_forest] [--rounds 3] [--verbose]
    git archive main src | tar -x -C /tmp/before
    python benchmarks/tui_stall_bench.py --rounds 3 --baseline-src /tmp/before/src
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import gc
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
GOAL_MS = 50.0
MODES = ("warm", "cold")  # the profiler's template process, or a fresh interpreter per model


async def settle(app, pilot, rounds: int = 6) -> None:
    from textual.worker import WorkerCancelled

    for _ in range(rounds):
        with contextlib.suppress(WorkerCancelled):
            await app.workers.wait_for_complete()
        await pilot.pause(0.05)


class Trace:
    """What the UI thread spent its time on: every message handled (pump and message class),
    every layout, repaint and garbage collection taking 2 ms or more, with when it started.
    Textual's own methods are wrapped for the measurement only (``--why``); a gap is then
    explained by what ran in it."""

    def __init__(self) -> None:
        self.spans: list[tuple[float, float, str]] = []  # (start, seconds, what)
        self._undo: list[tuple[type, str, object]] = []

    def _note(self, start: float, what: str) -> None:
        took = time.perf_counter() - start
        if took >= 0.002:
            self.spans.append((start, took, what))

    def __enter__(self) -> Trace:
        from textual.message_pump import MessagePump
        from textual.screen import Screen

        trace = self
        dispatch = MessagePump._dispatch_message

        async def timed_dispatch(pump, message):  # type: ignore[no-untyped-def]
            start = time.perf_counter()
            try:
                return await dispatch(pump, message)
            finally:
                trace._note(start, f"{type(pump).__name__} <- {type(message).__name__}")

        def timed(name: str, what: str):  # type: ignore[no-untyped-def]
            original = getattr(Screen, name)

            def wrapper(screen, *args, **kwargs):  # type: ignore[no-untyped-def]
                start = time.perf_counter()
                try:
                    return original(screen, *args, **kwargs)
                finally:
                    trace._note(start, what)

            self._undo.append((Screen, name, original))
            setattr(Screen, name, wrapper)

        gc_started: list[float] = []

        def on_gc(phase: str, info: dict) -> None:
            if phase == "start":
                gc_started[:] = [time.perf_counter()]
            elif gc_started:
                where = "UI thread" if threading.get_ident() == ui_thread else "another thread"
                trace._note(gc_started[0], f"garbage collection gen {info['generation']} ({where})")

        ui_thread = threading.get_ident()
        gc.callbacks.append(on_gc)
        self._gc_callback = on_gc
        self._undo.append((MessagePump, "_dispatch_message", dispatch))
        MessagePump._dispatch_message = timed_dispatch  # type: ignore[method-assign]
        timed("_refresh_layout", "layout (arrange the screen)")
        timed("_compositor_refresh", "repaint (render changed lines)")
        return self

    def __exit__(self, *exc: object) -> None:
        gc.callbacks.remove(self._gc_callback)
        for owner, name, original in reversed(self._undo):
            setattr(owner, name, original)

    def explain(self, start: float, end: float, top: int = 4) -> list[str]:
        """The longest pieces of work that overlap ``[start, end]``."""
        inside = [span for span in self.spans if span[0] < end and span[0] + span[1] > start]
        inside.sort(key=lambda span: -span[1])
        if not inside:
            return ["  (no UI work of 2 ms or more: the thread waited for the CPU or the GIL)"]
        return [f"{took * 1000:6.1f} ms {what}" for _at, took, what in inside[:top]]


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

        sampler = Trace() if why else contextlib.nullcontext()
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


def summary(label: str, runs: list[dict]) -> str:
    """One table row over the rounds: median and worst of each figure."""

    def spread(key: str) -> str:
        values = [run[key] for run in runs if run[key] is not None]
        if not values:
            return "n/a"
        return f"{statistics.median(values):.0f} / {max(values):.0f} ms"

    met = sum(run["longest_stall_ms"] <= GOAL_MS for run in runs)
    return (
        f"| {label} | {spread('profiling_stall_ms')} | {spread('after_stall_ms')} | "
        f"{spread('p99_gap_ms')} | {spread('idle_stall_ms')} | {met} of {len(runs)} |"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--models", default="random_forest", help="comma-separated candidates")
    parser.add_argument("--rounds", type=int, default=1)
    parser.add_argument("--verbose", action="store_true", help="the 5 longest gaps and when")
    parser.add_argument(
        "--why", action="store_true", help="time Textual's handlers: what ran in each long gap"
    )
    parser.add_argument(
        "--baseline-src",
        type=Path,
        help="another version's src/ folder (e.g. from `git archive`), measured in the same "
        "rounds, alternating with this tree: the before figure of a change",
    )
    parser.add_argument("--child", nargs=3, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(*args.child)
        return
    print(f"load average {', '.join(f'{x:.2f}' for x in os.getloadavg())}; models {args.models}")
    sources = {"": ROOT / "src"}
    if args.baseline_src:
        sources = {"this tree, ": ROOT / "src", "baseline, ": args.baseline_src.resolve()}
    # (label, source, mode): each round runs every one once, in this order.
    variants = [(name + mode, src, mode) for name, src in sources.items() for mode in MODES]
    results: dict[str, list[dict]] = {label: [] for label, _src, _mode in variants}
    with tempfile.TemporaryDirectory(prefix="modelsnap-stall-") as tmp:
        for round_ in range(args.rounds):
            for number, (label, source, mode) in enumerate(variants):
                found = results[label]
                folder = Path(tmp) / f"{round_}-{number}"
                shutil.copytree(ROOT / "sample_project", folder)
                env = dict(os.environ)
                env["PYTHONPATH"] = os.pathsep.join(
                    filter(None, [str(source), env.get("PYTHONPATH")])
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
                    sys.exit(f"{label}: the TUI run failed\n{proc.stderr[-3000:]}")
                found.append(json.loads(proc.stdout.strip().splitlines()[-1]))
    for label, runs in results.items():
        for run in runs:
            p99 = "n/a" if run["p99_gap_ms"] is None else f"{run['p99_gap_ms']:.1f} ms"
            print(
                f"{label:<5} run {run['seconds']:.2f} s, {run['ticks']} ticks: longest UI stall "
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
    print(f"\nMedian / worst over {args.rounds} round(s); goal: longest stall <= {GOAL_MS:.0f} ms")
    print(
        "| | longest stall while profiling | after, while the screen reloads the project "
        "| p99 gap | idle app (same process, before the run) | runs within the goal |"
    )
    print("|---|---|---|---|---|---|")
    for label, runs in results.items():
        print(summary(label, runs))


if __name__ == "__main__":
    main()
