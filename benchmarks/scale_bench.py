"""10,000 snapshots: how fast ``ls``, ``rank`` and ``review`` answer, next to MLflow doing the same.

    python benchmarks/scale_bench.py [--count 10000] [--repeat 5] [--no-mlflow] [--fresh]

What it does, all in one run:

1. generates ``benchmarks/.cache/scale-<count>/`` with ``make_snapshots.write_folder`` (the
   index written as ``store.write_snapshot`` leaves it); kept between runs, ``--fresh`` redoes it;
2. times fresh processes, from before the process is spawned until it exits (so interpreter
   start-up and every import count): ``modelsnap ls DIR --format json``,
   ``modelsnap rank DIR --format json`` and ``review`` until its table is mounted and the first
   frame painted (headless), plus ``python -c pass`` as the floor;
3. times the review table's response to keys in one process (end, page up, sort, filter);
4. logs the same records to a local MLflow SQLite store (``benchmarks/.cache/mlflow.db``, in
   its own virtual environment ``benchmarks/.cache/mlflow-venv``: MLflow is a benchmark-only
   dependency, never a runtime one; logging takes minutes, so the store is kept between runs)
   and times a fresh process doing ``mlflow.search_runs`` plus the same weighted sort with the
   same hard constraints;
5. prints every figure (median, min, max of ``--repeat`` runs) and the ratios.

Absolute times drift on a shared machine: compare the figures of one run.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
CACHE = HERE / ".cache"
MLFLOW_VERSION = "3.17.2"
EXPERIMENT = "modelsnap-scale"

sys.path.insert(0, str(HERE))
import make_snapshots  # noqa: E402

# Review until the table is mounted and painted once, then exit: run in a fresh interpreter.
REVIEW_FIRST_PAINT = """
import sys, time
from pathlib import Path
from modelsnap.tui.review_app import ReviewApp
from modelsnap.tui.widgets.review_table import SnapshotTable

async def first_paint(pilot):
    await pilot.pause()  # mounted and the pending refresh painted
    table = pilot.app.screen.query_one(SnapshotTable)
    assert len(table.view) > 0 and table.region.height > 0, "table not visible"
    print("PAINTED", repr(time.time()), flush=True)
    pilot.app.exit(len(table.view))

rows = ReviewApp(Path(sys.argv[1])).run(headless=True, size=(120, 40), auto_pilot=first_paint)
heavy = [m for m in ("sklearn", "pandas", "scipy", "skops") if m in sys.modules]
print(rows, heavy)
"""


# Runs in the MLflow venv: log records (JSON lines) as runs; the store is kept between runs.
MLFLOW_LOG = """
import json, sys, time
import mlflow
from mlflow.entities import Metric, Param, RunTag
from mlflow.tracking import MlflowClient

uri, records_path, experiment = sys.argv[1], sys.argv[2], sys.argv[3]
client = MlflowClient(tracking_uri=uri)
experiment_id = client.create_experiment(experiment)
start = time.perf_counter()
now = int(time.time() * 1000)
with open(records_path) as handle:
    for n, line in enumerate(handle, 1):
        record = json.loads(line)
        run = client.create_run(experiment_id, run_name=record["id"],
                                tags={"snapshot_id": record["id"]})
        client.log_batch(
            run.info.run_id,
            metrics=[Metric(k, v, now, 0) for k, v in record["metrics"].items()],
            params=[Param(k, str(v)) for k, v in record["params"].items()],
            tags=[RunTag(k, str(v)) for k, v in record["tags"].items()],
        )
        client.set_terminated(run.info.run_id)
        if n % 1000 == 0:
            print(f"  logged {n} runs ({time.perf_counter() - start:.0f} s)", flush=True)
print(json.dumps({"seconds": time.perf_counter() - start}))
"""

# Runs in the MLflow venv, fresh process: search all runs, then the same judgement as rank.
MLFLOW_SEARCH_AND_SORT = """
import json, sys
import mlflow

uri, spec, experiment = sys.argv[1], json.loads(sys.argv[2]), sys.argv[3]
mlflow.set_tracking_uri(uri)
runs = mlflow.search_runs(experiment_names=[experiment], max_results=100000)
ok = runs["metrics.edge_must_pass_failed"].fillna(0) == 0
for column, limit, sense in spec["constraints"]:
    values = runs["metrics." + column]
    ok &= (values <= limit) if sense == "max" else (values >= limit)
kept = runs[ok].copy()
score = 0.0
for metric, weight, direction in spec["criteria"]:
    values = kept["metrics." + metric]
    span = values.max() - values.min()
    norm = (values - values.min()) / span if span else values * 0 + 1.0
    score = score + weight * (norm if direction == "max" else 1 - norm)
kept["score"] = score
kept = kept.sort_values("score", ascending=False)
print(json.dumps({"runs": len(runs), "ranked": len(kept),
                  "top": kept["tags.snapshot_id"].iloc[0]}))
"""


# Byte-code caching on, as for an installed package (pip compiles .pyc files at install time);
# a shell with PYTHONDONTWRITEBYTECODE=1 would otherwise recompile modelsnap in every process.
BENCH_ENV = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}


def timed(command: list[str]) -> tuple[float, str]:
    """Wall seconds from spawning ``command`` to its exit, and its stdout."""
    start = time.perf_counter()
    done = subprocess.run(command, capture_output=True, text=True, env=BENCH_ENV)
    seconds = time.perf_counter() - start
    if done.returncode != 0:
        raise SystemExit(f"failed: {' '.join(command)}\n{done.stderr[-2000:]}")
    return seconds, done.stdout


def until_painted(command: list[str]) -> tuple[float, str]:
    """Seconds from spawning ``command`` to the wall-clock time it prints after "PAINTED"
    (the first frame with the table), and its stdout; the app's shutdown is not counted."""
    start = time.time()
    _, out = timed(command)
    painted = next(
        float(line.split()[1]) for line in out.splitlines() if line.startswith("PAINTED")
    )
    return painted - start, out


def repeat(label: str, command: list[str], times: int, measure=timed) -> dict[str, float]:
    measure(command)  # warm the file cache once; every figure below is a fresh process
    samples = [measure(command)[0] for _ in range(times)]
    figure = {"median": statistics.median(samples), "min": min(samples), "max": max(samples)}
    print(
        f"  {label:<34} median {figure['median']:.3f} s   "
        f"(min {figure['min']:.3f}, max {figure['max']:.3f}, n={times})",
        flush=True,
    )
    return figure


def machine() -> dict[str, str]:
    cpu = platform.processor() or "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    load = os.getloadavg() if hasattr(os, "getloadavg") else (0, 0, 0)
    return {
        "cpu": cpu,
        "cores": str(os.cpu_count()),
        "python": platform.python_version(),
        "platform": platform.platform(),
        "load_1min_at_start": f"{load[0]:.2f}",
    }


def ensure_folder(count: int, fresh: bool) -> Path:
    root = CACHE / f"scale-{count}"
    marker = root / ".generated"
    # Full-length floats, as the worker writes metrics: they make the index about 30 % larger
    # and slower to parse than rounded ones, so anything else would flatter the figures.
    stamp = f"{count} full-precision"
    if root.exists() and (fresh or not marker.exists() or marker.read_text() != stamp):
        shutil.rmtree(root)
    if not marker.exists():
        if root.exists():
            shutil.rmtree(root)
        start = time.perf_counter()
        make_snapshots.write_folder(root, count, full_precision=True)
        marker.write_text(stamp)
        print(f"  generated {count} snapshots + index in {time.perf_counter() - start:.1f} s")
    return root


def tables_in_process(root: Path) -> dict[str, float]:
    """Key-press response of the review table with every row loaded (one process, pilot)."""
    import asyncio

    from modelsnap.tui.review_app import ReviewApp
    from modelsnap.tui.widgets.review_table import SnapshotTable

    figures: dict[str, float] = {}

    async def drive() -> None:
        app = ReviewApp(root)
        async with app.run_test(size=(120, 40)) as pilot:
            await pilot.pause()
            table = app.screen.query_one(SnapshotTable)
            for label, keys in (
                ("end (jump to last row)", ["end"]),
                ("pageup", ["pageup"]),
                ("sort by name", ["s"]),
                ("sort by version", ["s", "s"]),
                ("reverse sort", ["r"]),
            ):
                start = time.perf_counter()
                await pilot.press(*keys)
                await pilot.pause()
                figures[label] = time.perf_counter() - start
            start = time.perf_counter()
            table.set_filter("forest v3")
            await pilot.pause()
            figures["filter 'forest v3'"] = time.perf_counter() - start

    asyncio.run(drive())
    for label, seconds in figures.items():
        print(f"  {label:<34} {seconds * 1000:.0f} ms")
    return figures


def mlflow_python() -> Path:
    venv = CACHE / "mlflow-venv"
    python = venv / "bin" / "python"
    probe = (
        subprocess.run(
            [str(python), "-c", "import mlflow; print(mlflow.__version__)"],
            capture_output=True,
            text=True,
        )
        if python.exists()
        else None
    )
    if probe is None or probe.returncode != 0 or probe.stdout.strip() != MLFLOW_VERSION:
        print(f"  installing mlflow=={MLFLOW_VERSION} into {venv} (benchmark only)", flush=True)
        subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
        subprocess.run(
            [str(python), "-m", "pip", "install", "-q", f"mlflow=={MLFLOW_VERSION}"], check=True
        )
    return python


def mlflow_records(root: Path, path: Path) -> None:
    """The same 10,000 snapshots as MLflow runs: params, metrics (validation + resources), tags."""
    from modelsnap.core.files import read_toml

    with open(path, "w") as handle:
        for file in sorted((root / "snapshots").glob("*.toml")):
            snapshot = read_toml(file)
            metrics = dict(snapshot["metrics"]["validation"])
            metrics.update({f"test_{k}": v for k, v in snapshot["metrics"]["test"].items()})
            for key, value in snapshot["resources"].items():
                if isinstance(value, int | float) and not isinstance(value, bool):
                    metrics[key] = value
            metrics["interpretability"] = snapshot["interpretability"]["score"]
            metrics["fairness_gap"] = snapshot["fairness"]["max_gap"]
            metrics["edge_must_pass_failed"] = snapshot["edge_cases"]["must_pass_failed"]
            tags = {
                "name": snapshot["name"],
                "kind": snapshot["kind"],
                "version": snapshot["version"],
                "dataset_sha256": snapshot["data"]["dataset_sha256"],
                "hardware": snapshot["hardware"]["fingerprint"],
            }
            params = {"estimator": snapshot["model"]["estimator"], **snapshot["model"]["params"]}
            handle.write(
                json.dumps(
                    {"id": snapshot["id"], "metrics": metrics, "params": params, "tags": tags}
                )
                + "\n"
            )


def ensure_mlflow_store(python: Path, root: Path, count: int) -> str:
    uri = f"sqlite:///{CACHE / 'mlflow.db'}"
    marker = CACHE / "mlflow.logged"
    expected = f"{count}:{(root / '.generated').stat().st_mtime_ns}"
    if marker.exists() and marker.read_text() == expected:
        return uri
    database = CACHE / "mlflow.db"
    if database.exists():
        database.unlink()  # ours alone; a store from another folder would mix records
    records = CACHE / "mlflow-records.jsonl"
    mlflow_records(root, records)
    print(f"  logging {count} runs to {uri} (slow: kept for later runs)", flush=True)
    process = subprocess.run(
        [str(python), "-c", MLFLOW_LOG, uri, str(records), EXPERIMENT],
        text=True,
        stdout=subprocess.PIPE,
    )
    if process.returncode != 0:
        raise SystemExit("logging to MLflow failed")
    seconds = json.loads(process.stdout.strip().splitlines()[-1])["seconds"]
    print(f"  logged in {seconds:.0f} s ({seconds / count * 1000:.1f} ms per run)")
    marker.write_text(expected)
    return uri


def ranking_spec() -> dict[str, list]:
    criteria = [[c["metric"], c["weight"], c["direction"]] for c in make_snapshots.CRITERIA]
    constraints = [[name, limit, "max"] for name, limit in make_snapshots.LIMITS.items()]
    return {"criteria": criteria, "constraints": constraints}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=10_000)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--no-mlflow", action="store_true")
    parser.add_argument("--fresh", action="store_true", help="regenerate the snapshot folder")
    args = parser.parse_args(argv)

    CACHE.mkdir(exist_ok=True)
    info = machine()
    print("machine: " + ", ".join(f"{k} {v}" for k, v in info.items()))
    root = ensure_folder(args.count, args.fresh)
    size = sum(f.stat().st_size for f in (root / "snapshots").iterdir())
    index_size = (root / ".modelsnap" / "index.json").stat().st_size
    print(
        f"folder: {root} ({args.count} snapshots, {size / 2**20:.1f} MB of TOML, "
        f"index {index_size / 2**20:.1f} MB)"
    )

    python = sys.executable
    print("fresh processes, spawn to exit:")
    figures = {
        "python -c pass": repeat("python -c pass", [python, "-c", "pass"], args.repeat),
        "ls": repeat(
            "modelsnap ls --format json",
            [python, "-m", "modelsnap", "ls", str(root), "--format", "json"],
            args.repeat,
        ),
        # --all-versions: every snapshot is scored (by default only the latest of each model
        # competes), so the work matches the peer's sort of every run.
        "rank": repeat(
            "modelsnap rank --all-versions --format json",
            [python, "-m", "modelsnap", "rank", str(root), "--all-versions", "--format", "json"],
            args.repeat,
        ),
        "review": repeat(
            "review: spawn to table painted",
            [python, "-c", REVIEW_FIRST_PAINT, str(root)],
            args.repeat,
            measure=until_painted,
        ),
        "review_exit": repeat(
            "review: spawn to exit after paint",
            [python, "-c", REVIEW_FIRST_PAINT, str(root)],
            args.repeat,
        ),
    }
    _, review_out = timed([python, "-c", REVIEW_FIRST_PAINT, str(root)])
    print(f"  review showed {review_out.strip().splitlines()[-1]}  (rows, heavy modules)")
    print("review table, key to repaint, 10,000 rows loaded:")
    tables_in_process(root)

    if not args.no_mlflow:
        print(f"MLflow {MLFLOW_VERSION}, SQLite store:")
        venv_python = mlflow_python()
        uri = ensure_mlflow_store(venv_python, root, args.count)
        command = [
            str(venv_python),
            "-c",
            MLFLOW_SEARCH_AND_SORT,
            uri,
            json.dumps(ranking_spec()),
            EXPERIMENT,
        ]
        figures["mlflow"] = repeat(
            "mlflow search_runs + weighted sort", command, max(1, min(args.repeat, 3))
        )
        _, out = timed(command)
        print(f"  mlflow result: {out.strip()}")
        ratio = figures["mlflow"]["median"] / figures["rank"]["median"]
        print(
            f"ratio: MLflow search+sort / modelsnap rank = {ratio:.1f}x "
            f"({figures['mlflow']['median']:.2f} s vs {figures['rank']['median']:.2f} s)"
        )
    print(
        "budget 1 s each: "
        + ", ".join(
            f"{k} {'OK' if figures[k]['median'] <= 1.0 else 'OVER'}"
            for k in ("ls", "rank", "review")
        )
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
