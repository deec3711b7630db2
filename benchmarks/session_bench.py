"""What a session pays again and again: a later batch of runs, the first run, a reload after a
run, a Dask run.

Four measurements, each against the path before it in the same run, alternated ``--repeat``
times so a machine that drifts slows both alike:

1. **a later batch of runs** (the TUI: the baseline, then candidates, then more): one model run
   by ``profiler.jobs.run_project`` twice in a row, either with one ``warm.WorkerPool`` kept for
   both (what the TUI does for its session) or with a pool of each call's own (every batch
   before: the template's imports paid again). The second batch's wall time is the figure.
2. **the TUI's first run** (the baseline step of a fresh copy of the sample project, run headless
   by Textual's Pilot): r pressed after ``--reading`` seconds on the step, with the session's
   template started while the user reads (``running.WARM_UP_AFTER``) or, as before, by r. The
   time from r to the run's end is the figure.
3. **the folder read again after a run** (``tui.state.load_state``) in a folder of
   ``--snapshots`` snapshots (made by ``make_snapshots.py``): with the app's
   ``store.SnapshotReader`` (only files that may have changed are parsed) and with a fresh one
   (every file parsed, as before). Between the two reads one new snapshot file appears, as
   after a run.
4. with ``--dask``: ``run_project`` on a ``LocalCluster`` of 2 worker processes, the baseline
   alone and then three candidates, with the local profiles forked from one template started
   while the cluster fits, or each in a fresh interpreter (``MODELSNAP_COLD_WORKERS=1``).

    python benchmarks/session_bench.py [--repeat 2] [--snapshots 1000] [--reading 5] [--dask]
"""

from __future__ import annotations

import argparse
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SAMPLE = ROOT / "sample_project"
sys.path.insert(0, str(ROOT / "benchmarks"))

import make_snapshots  # noqa: E402

BATCHES = """
import sys, time
from pathlib import Path
from modelsnap.core.project.parse import load_project
from modelsnap.profiler.jobs import run_project
from modelsnap.profiler.warm import WorkerPool

config = load_project(Path(sys.argv[1]))
shared = sys.argv[2] == "kept"
assert run_project(config, None, True)[0].ok  # the baseline, so candidates can run
pool = WorkerPool() if shared else None
seconds = []
for _ in range(2):
    start = time.perf_counter()
    [outcome] = run_project(config, ["linear_svm"], False, pool=pool)
    assert outcome.ok, outcome.error
    seconds.append(time.perf_counter() - start)
if pool is not None:
    pool.close()
print("SECOND", seconds[1])
"""

FIRST_RUN = """
import asyncio, sys, time
from pathlib import Path
from modelsnap.tui.app import ModelsnapApp
from modelsnap.tui.screens import running

if sys.argv[2] == "off":
    running.WARM_UP_AFTER = 1e9  # as before: the first run starts the template


async def main():
    app = ModelsnapApp(Path(sys.argv[1]), open_step=2)
    async with app.run_test(size=(100, 40)) as pilot:
        await pilot.pause(float(sys.argv[3]))  # the user reads the baseline step
        start = time.perf_counter()
        await pilot.press("r")
        while app.running:
            await pilot.pause(0.02)
        assert not app.screen.failures, app.screen.failures
        print("FIRST", time.perf_counter() - start)


asyncio.run(main())
"""

DASK = """
import sys, time
from pathlib import Path
from distributed import LocalCluster
from modelsnap.core.project.parse import load_project
from modelsnap.profiler.job_specs import Overrides
from modelsnap.profiler.jobs import run_project

if __name__ == "__main__":
    root = Path(sys.argv[1])
    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                      dashboard_address=None) as cluster:
        config = load_project(root)
        overrides = Overrides(scheduler=cluster.scheduler_address)
        start = time.perf_counter()
        assert all(o.ok for o in run_project(config, None, True, overrides=overrides))
        middle = time.perf_counter()
        names = ["linear_svm", "mlp", "gradient_boosting"]
        assert all(o.ok for o in run_project(config, names, False, overrides=overrides))
        print("DASK", middle - start, time.perf_counter() - middle)
"""


def fresh_sample(parent: Path) -> Path:
    """A copy of the sample project without its records."""
    root = parent / "sample"
    shutil.copytree(SAMPLE, root)
    for name in ("snapshots", "models", "predictions", "edge_runs", ".modelsnap"):
        shutil.rmtree(root / name, ignore_errors=True)
    (root / "decisions.toml").unlink(missing_ok=True)
    return root


def child(code: str, *args: str, cold: bool = False) -> str:
    env = dict(os.environ)
    env.pop("PYTHONDONTWRITEBYTECODE", None)  # as an installed package runs
    if cold:
        env["MODELSNAP_COLD_WORKERS"] = "1"
    done = subprocess.run(
        [sys.executable, "-c", code, *args], capture_output=True, text=True, env=env, check=False
    )
    if done.returncode != 0:
        raise SystemExit(f"failed:\n{done.stderr[-3000:]}")
    return done.stdout


def alternate(code: str, marker: str, repeat: int, modes: tuple[str, str], *args: str) -> dict:
    """``code`` on a fresh copy of the sample project in each mode (its second argument), the
    modes alternated ``repeat`` times; the seconds it printed after ``marker``, per mode."""
    found: dict[str, list[float]] = {mode: [] for mode in modes}
    for _ in range(repeat):
        for mode in modes:
            with tempfile.TemporaryDirectory() as tmp:
                out = child(code, str(fresh_sample(Path(tmp))), mode, *args)
            found[mode].append(float(out.split(marker)[1]))
    return found


def report(found: dict[str, list[float]], labels: tuple[tuple[str, str], ...], ratio: str) -> None:
    """Each mode's median and rounds, then the first mode's median over the second's."""
    for mode, label in labels:
        values = found[mode]
        print(f"   {label:30} median {statistics.median(values):.2f} s  ({fmt(values)})")
    (new, _), (old, _) = labels
    print(f"   {ratio}: {statistics.median(found[new]) / statistics.median(found[old]):.2f}")


def batches(repeat: int) -> None:
    print("1. a later batch of runs (one linear SVM), second of two batches:")
    found = alternate(BATCHES, "SECOND", repeat, ("own", "kept"))
    labels = (("kept", "one template for the session"), ("own", "a template each"))
    report(found, labels, "ratio kept/own")


def first_run(repeat: int, reading: float) -> None:
    print(f"2. the TUI's first run, r pressed after {reading:g} s on the baseline step:")
    found = alternate(FIRST_RUN, "FIRST", repeat, ("off", "on"), str(reading))
    labels = (("on", "template started while reading"), ("off", "template started by r"))
    report(found, labels, "ratio")


def reload(count: int, repeat: int) -> None:
    from modelsnap.core.records.store import SnapshotReader
    from modelsnap.tui.state import load_state

    print(f"3. the folder read again after a run, {count:,} snapshots:")
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp) / "folder"
        ids = make_snapshots.write_folder(root, count)
        spare = (root / "snapshots" / f"{ids[0]}.toml").read_text()
        found: dict[str, list[float]] = {"reader": [], "fresh": []}
        reader = SnapshotReader()
        load_state(root, reader)
        time.sleep(2.1)  # past the racy window, as a folder read seconds after its last write
        load_state(root, reader)
        for n in range(repeat):
            new_id = f"29991231T2359{n:02d}-extra-{n:04x}"
            (root / "snapshots" / f"{new_id}.toml").write_text(
                spare.replace(ids[0], new_id, 1)
            )  # a run wrote one more snapshot
            start = time.perf_counter()
            kept = load_state(root, reader)
            found["reader"].append(time.perf_counter() - start)
            start = time.perf_counter()
            fresh = load_state(root)
            found["fresh"].append(time.perf_counter() - start)
            assert [s["id"] for s in kept.snapshots] == [s["id"] for s in fresh.snapshots]
        for mode, label in (("reader", "the app's reader"), ("fresh", "every file parsed")):
            values = found[mode]
            print(f"   {label:30} median {statistics.median(values):.3f} s  ({fmt(values)})")


def dask(repeat: int) -> None:
    print("4. run on a LocalCluster of 2 workers: baseline alone, then three candidates:")
    found: dict[str, list[tuple[float, float]]] = {"warm": [], "cold": []}
    for _ in range(repeat):
        for mode in ("cold", "warm"):
            with tempfile.TemporaryDirectory() as tmp:
                out = child(DASK, str(fresh_sample(Path(tmp))), cold=mode == "cold")
            first, second = (float(x) for x in out.split("DASK")[1].split())
            found[mode].append((first, second))
    labels = (("warm", "profiles forked, prestarted"), ("cold", "a fresh interpreter each"))
    for mode, label in labels:
        firsts = [a for a, _ in found[mode]]
        seconds = [b for _, b in found[mode]]
        print(
            f"   {label:30} baseline {statistics.median(firsts):.1f} s ({fmt(firsts)}), "
            f"three candidates {statistics.median(seconds):.1f} s ({fmt(seconds)})"
        )


def fmt(values: list[float]) -> str:
    return ", ".join(f"{v:.2f}" for v in values)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeat", type=int, default=2)
    parser.add_argument("--snapshots", type=int, default=1000)
    parser.add_argument(
        "--reading", type=float, default=5.0, help="seconds on the step before r (default 5)"
    )
    parser.add_argument("--dask", action="store_true", help="also the Dask run (needs dask)")
    args = parser.parse_args()
    print(
        f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores, "
        f"Python {platform.python_version()}; load average {os.getloadavg()[0]:.1f}"
    )
    batches(args.repeat)
    first_run(args.repeat, args.reading)
    reload(args.snapshots, args.repeat)
    if args.dask:
        dask(args.repeat)


if __name__ == "__main__":
    main()
