"""1,000 / 10,000 / 100,000 snapshots: how fast ``ls``, ``rank`` and ``review`` answer, how the
time grows, next to MLflow doing the same.

    python benchmarks/scale_bench.py [--counts 1000,10000,100000] [--repeat 5] [--no-mlflow]
                                     [--fresh] [--mlflow-counts 1000,10000] [--foreign]

What it does, all in one run:

1. generates ``benchmarks/.cache/scale-<count>/`` for each count with
   ``make_snapshots.write_folder`` (the bytes ``store.write_snapshot`` writes, the index
   recorded with ``index.record_many`` and the records sealed in ``ledger.toml``); kept between
   runs, ``--fresh`` redoes them;
2. times fresh processes, from before the process is spawned until it exits (so interpreter
   start-up and every import count), with each process's peak resident memory (``wait4``):
   ``modelsnap ls DIR --format json``, ``modelsnap rank DIR --all-versions --format json``
   (every snapshot scored, as the peer sorts every run) and the same as a table (the default
   format, written to a pipe), ``modelsnap rank DIR --format json``
   (what a user types: every snapshot read and judged, the latest of each model ranked) and
   ``review`` until its table is mounted and the first frame painted (headless), plus
   ``python -c pass`` as the floor;
3. times the review table's response to keys with every row loaded (Textual's pilot, one
   process per count: end, page up, sort, reverse, filter);
4. logs the same records to a local MLflow SQLite store per count
   (``benchmarks/.cache/mlflow-<count>.db``, in its own virtual environment
   ``benchmarks/.cache/mlflow-venv``: MLflow is a benchmark-only dependency, never a runtime
   one; logging 10,000 runs takes minutes, so the stores are kept between runs) and times a
   fresh process doing ``mlflow.search_runs`` plus the same weighted sort with the same hard
   constraints, at 1,000 and 10,000 runs; its 100,000 figure is *extrapolated* from those two
   (a fixed cost plus a cost per run, the line through both; logging 100,000 runs would take
   about an hour), and printed as such;
5. prints every figure (median, min, max of ``--repeat`` runs), the curve 1k -> 10k -> 100k
   and the ratios;
6. with ``--foreign``, reviews each folder as another user would (its index under a key not
   theirs, a fresh key and cache): the first review, which parses every file and keeps the
   reader's own index in their cache, then the next ones (about a minute more at 100,000).

Absolute times drift on a shared machine: compare the figures of one run.
"""

from __future__ import annotations

import argparse
import functools
import hashlib
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
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
from modelsnap.tui.screens.review import ReviewScreen
from modelsnap.tui.widgets.review_table import SnapshotTable

frames = []

async def first_paint(pilot):
    await pilot.pause()  # mounted and the pending refresh painted
    table = pilot.app.screen.query_one(SnapshotTable)
    assert len(table.view) > 0 and table.region.height > 0, "table not visible"
    assert frames, "no frame of the review screen was composed"
    print("PAINTED", repr(frames[0]), flush=True)
    pilot.app.exit(len(table.view))

app = ReviewApp(Path(sys.argv[1]))
display = app._display

def stamped(screen, renderable):
    display(screen, renderable)  # the frame is composed before this is called
    if renderable is not None and isinstance(screen, ReviewScreen) and not frames:
        frames.append(time.time())  # the first frame of the table with its rows

app._display = stamped
rows = app.run(headless=True, size=(120, 40), auto_pilot=first_paint)
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


def timed(command: list[str], env: dict[str, str] | None = None) -> tuple[float, str, float]:
    """Wall seconds from spawning ``command`` to its exit, its stdout, and its peak resident
    memory in MB when it reports one (``with_peak``), else NaN.

    stdout goes to a file, as with ``> out.json``. Until 2026-12-01 it was read back through a
    pipe by this process, and the 60 MB ``ls`` writes at 100,000 snapshots then made the
    command wait for this reader: ``ls`` took 2.68 s that way at 05:04 and 1.96 s to a file at
    05:12 (the peer 15 % slower in the second run). That wait was the benchmark's cost, not the
    command's."""
    with tempfile.TemporaryFile() as sink:
        start = time.perf_counter()
        process = subprocess.Popen(
            command, stdout=sink, stderr=subprocess.PIPE, text=True, env=env or BENCH_ENV
        )
        _, err = process.communicate()
        seconds = time.perf_counter() - start
        sink.seek(0)
        out = sink.read().decode("utf-8", "replace")
    if process.returncode != 0:
        raise SystemExit(f"failed: {' '.join(command)}\n{err[-2000:]}")
    return seconds, out, _last_peak_mb(out)


def _last_peak_mb(out: str) -> float:
    for line in reversed(out.splitlines()):
        if line.startswith("PEAK_RSS_KB "):
            return int(line.split()[1]) / 1024
    return float("nan")


# Every timed process reports its own peak resident memory (VmHWM) as it exits, on a last
# stdout line ``PEAK_RSS_KB n``: a wrapper runs the real command in-process, then prints it.
PEAK_WRAPPER = """
import atexit, runpy, sys
def _peak():
    try:
        for line in open("/proc/self/status"):
            if line.startswith("VmHWM:"):
                sys.stdout.write("\\nPEAK_RSS_KB " + line.split()[1] + "\\n")
                sys.stdout.flush()
    except OSError:
        pass
atexit.register(_peak)
mode, target, *args = sys.argv[1:]
sys.argv = [target, *args]
if mode == "-m":
    runpy.run_module(target, run_name="__main__", alter_sys=True)
else:
    exec(compile(target, "<bench>", "exec"), {"__name__": "__main__"})
"""


def with_peak(command: list[str]) -> list[str]:
    """``[python, -m, mod, args]`` or ``[python, -c, code, args]`` wrapped to report VmHWM."""
    python, mode, target, *args = command
    return [python, "-c", PEAK_WRAPPER, mode, target, *args]


def until_painted(
    command: list[str], env: dict[str, str] | None = None
) -> tuple[float, str, float]:
    """Seconds from spawning ``command`` to the wall-clock time it prints after "PAINTED"
    (the first frame with the table), its stdout and peak memory; shutdown is not counted."""
    start = time.time()
    _, out, peak = timed(command, env)
    painted = next(
        float(line.split()[1]) for line in out.splitlines() if line.startswith("PAINTED")
    )
    return painted - start, out, peak


def repeat(label: str, command: list[str], times: int, measure=timed) -> dict[str, float]:
    measure(command)  # warm the file cache once; every figure below is a fresh process
    runs = [measure(command) for _ in range(times)]
    samples = [run[0] for run in runs]
    peaks = [run[2] for run in runs]
    figure = {
        "median": statistics.median(samples),
        "min": min(samples),
        "max": max(samples),
        "peak_mb": max(peaks),
    }
    print(
        f"  {label:<36} median {figure['median']:.3f} s   "
        f"(min {figure['min']:.3f}, max {figure['max']:.3f}, n={times})   "
        f"peak RSS {figure['peak_mb']:.0f} MB",
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
    # Full-length floats, as the worker writes metrics: they make the index larger and slower
    # to read than rounded ones, so anything else would flatter the figures.
    stamp = f"{count} full-precision index-sqlite"
    if root.exists() and (fresh or not marker.exists() or marker.read_text() != stamp):
        shutil.rmtree(root)
    if not marker.exists():
        start = time.perf_counter()
        make_snapshots.write_folder(root, count, full_precision=True)
        marker.write_text(stamp)
        print(f"  generated {count} snapshots + index in {time.perf_counter() - start:.1f} s")
    return root


# Review's table with every row loaded: key press to repainted screen (pilot), in a fresh
# interpreter per count so one folder's rows do not weigh on the next.
REVIEW_KEYS = """
import asyncio, gc, json, sys, time
from pathlib import Path
from modelsnap.tui.review_app import ReviewApp
from modelsnap.tui.widgets.review_table import SnapshotTable

figures = {}

async def drive():
    app = ReviewApp(Path(sys.argv[1]))
    frames = []
    display = app._display

    def stamped(screen, renderable):
        display(screen, renderable)  # the frame is composed before this is called
        if renderable is not None:
            frames.append(time.perf_counter())

    app._display = stamped
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.pause()
        table = app.screen.query_one(SnapshotTable)
        prepared = time.perf_counter()
        await app.workers.wait_for_complete()  # the filter texts and sort orders (a thread)
        figures["prepared in"] = [time.perf_counter() - prepared]

        async def timed(label, act):
            await pilot.pause(0.2)
            del frames[:]
            start = time.perf_counter()
            await act()
            await pilot.pause()
            await pilot.pause(0.1)
            after = [t for t in frames if t > start]
            figures[label] = [(t - start) for t in after]

        for label, key in (
            ("end (jump to last row)", "end"),
            ("pageup", "pageup"),
            ("sort by name", "s"),
            ("sort by version", "s"),
            ("sort by the next column", "s"),
            ("reverse sort", "r"),
        ):
            await timed(label, lambda key=key: pilot.press(key))

        async def filtering():
            table.set_filter("forest v3")

        await timed("filter 'forest v3'", filtering)

        async def clearing():
            table.set_filter("")

        await timed("filter cleared", clearing)
        figures["rows"] = len(table.all_rows)

asyncio.run(drive())
print(json.dumps(figures))
"""


def review_keys(root: Path) -> dict[str, float]:
    """Key-press response of the review table with every row loaded (one process, pilot), after
    the table's thread has prepared its filter texts and sort orders: from the key sent to the
    first frame composed in response (the table repainted) and to the last (the detail pane,
    which follows the cursor after a short timer, settled). The pilot's own idle waits, about
    100 ms a key, are not counted. Returns the first-frame figures."""
    _, out, _ = timed([sys.executable, "-c", REVIEW_KEYS, str(root)])
    figures = json.loads(out.strip().splitlines()[-1])
    rows = figures.pop("rows")
    (prepared,) = figures.pop("prepared in")
    print(f"  filter texts and sort orders prepared in {prepared:.2f} s after the first paint")
    first = {}
    for label, frames in figures.items():
        first[label] = frames[0] if frames else float("nan")
        last = frames[-1] if frames else float("nan")
        print(
            f"  {label:<28} table repainted {first[label] * 1000:4.0f} ms, detail pane settled "
            f"{last * 1000:4.0f} ms   ({rows} rows)"
        )
    return first


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
    """``benchmarks/.cache/mlflow-<count>.db`` holding exactly the folder's records as runs."""
    database = CACHE / f"mlflow-{count}.db"
    uri = f"sqlite:///{database}"
    records = CACHE / f"mlflow-records-{count}.jsonl"
    mlflow_records(root, records)
    expected = f"{count}:{hashlib.sha256(records.read_bytes()).hexdigest()}"
    marker = CACHE / f"mlflow-{count}.logged"
    if marker.exists() and marker.read_text() == expected and database.exists():
        return uri
    if database.exists():
        database.unlink()  # ours alone; a store from another folder would mix records
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


_COMMANDS = ("ls", "rank", "rank table", "rank latest", "review")
# What each figure is, in the summary lines: "rank" here scores every snapshot (the stand-in
# for a ``rank`` over 100,000 different models); what a user types is "rank latest".
_LABELS = {
    "ls": "ls",
    "rank": "rank --all-versions",
    "rank table": "rank --all-versions (table)",
    "rank latest": "rank (latest of each model)",
    "review": "review",
}
_WIDE = {"rank": 9, "rank table": 9}  # number widths of the curve's wider columns


def foreign_review(root: Path, times: int) -> dict[str, float]:
    """Review of the folder as another user sees it: its index was made under a key that is
    not theirs (a fresh key and cache here). The first review parses every file and keeps the
    reader's own index in their cache; the next ones read that index."""
    with tempfile.TemporaryDirectory() as other:
        env = {**BENCH_ENV, "XDG_STATE_HOME": f"{other}/state", "XDG_CACHE_HOME": f"{other}/cache"}
        command = with_peak([sys.executable, "-c", REVIEW_FIRST_PAINT, str(root)])
        first, _, peak = until_painted(command, env)
        print(f"  {'review, another user: the first':<36} {first:.3f} s   peak RSS {peak:.0f} MB")
        figure = repeat(
            "review, another user: the next ones",
            command,
            times,
            measure=functools.partial(until_painted, env=env),
        )
    figure["first"] = first
    return figure


def measure_count(
    count: int, repeat_times: int, fresh: bool, foreign: bool = False
) -> dict[str, dict[str, float]]:
    root = ensure_folder(count, fresh)
    size = sum(f.stat().st_size for f in (root / "snapshots").iterdir())
    index_size = sum(
        path.stat().st_size
        for path in (root / ".modelsnap").glob("index.*")
        if path.suffix in (".sqlite", ".block")
    )
    print(
        f"folder: {root} ({count} snapshots, {size / 2**20:.1f} MB of TOML, "
        f"index {index_size / 2**20:.1f} MB)"
    )
    python = sys.executable
    print("fresh processes, spawn to exit (review: spawn to first frame with the table):")
    figures = {
        "ls": repeat(
            "modelsnap ls --format json",
            with_peak([python, "-m", "modelsnap", "ls", str(root), "--format", "json"]),
            repeat_times,
        ),
        # --all-versions: every snapshot is scored (by default only the latest of each model
        # competes), so the work matches the peer's sort of every run.
        "rank": repeat(
            "modelsnap rank --all-versions --format json",
            with_peak(
                [python, "-m", "modelsnap", "rank", str(root), "--all-versions", "--format", "json"]
            ),
            repeat_times,
        ),
        # The same as a table, the default format (rich's Table took 26 s here at 100,000).
        "rank table": repeat(
            "modelsnap rank --all-versions (table)",
            with_peak([python, "-m", "modelsnap", "rank", str(root), "--all-versions"]),
            repeat_times,
        ),
        # What a user types: every snapshot is read and judged, the latest of each model ranked.
        "rank latest": repeat(
            "modelsnap rank --format json (latest version of each model)",
            with_peak([python, "-m", "modelsnap", "rank", str(root), "--format", "json"]),
            repeat_times,
        ),
        "review": repeat(
            "review: spawn to table painted",
            with_peak([python, "-c", REVIEW_FIRST_PAINT, str(root)]),
            repeat_times,
            measure=until_painted,
        ),
    }
    _, review_out, _ = timed([python, "-c", REVIEW_FIRST_PAINT, str(root)])
    print(f"  review showed {review_out.strip().splitlines()[-1]}  (rows, heavy modules)")
    if foreign:
        figures["review foreign"] = foreign_review(root, repeat_times)
    print(f"review table, key to repaint, {count} rows loaded:")
    figures["keys"] = review_keys(root)
    return figures


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--counts", default="1000,10000,100000")
    parser.add_argument("--mlflow-counts", default="1000,10000")
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--no-mlflow", action="store_true")
    parser.add_argument("--fresh", action="store_true", help="regenerate the snapshot folders")
    parser.add_argument(
        "--foreign",
        action="store_true",
        help="also review each folder as another user (first review, then the next ones)",
    )
    args = parser.parse_args(argv)
    counts = [int(c) for c in args.counts.split(",") if c]
    mlflow_counts = [int(c) for c in args.mlflow_counts.split(",") if c]

    CACHE.mkdir(exist_ok=True)
    info = machine()
    print("machine: " + ", ".join(f"{k} {v}" for k, v in info.items()))
    python = sys.executable
    floor = repeat("python -c pass (floor)", with_peak([python, "-c", "pass"]), args.repeat)
    results = {}
    for count in counts:
        print(f"\n=== {count:,} snapshots ===")
        results[count] = measure_count(count, args.repeat, args.fresh, args.foreign)

    peer: dict[int, float] = {}
    if not args.no_mlflow:
        print(f"\nMLflow {MLFLOW_VERSION}, SQLite store, fresh process each:")
        venv_python = mlflow_python()
        for count in mlflow_counts:
            root = ensure_folder(count, False)
            uri = ensure_mlflow_store(venv_python, root, count)
            command = [
                str(venv_python),
                "-c",
                MLFLOW_SEARCH_AND_SORT,
                uri,
                json.dumps(ranking_spec()),
                EXPERIMENT,
            ]
            figure = repeat(
                f"mlflow search_runs + sort, {count}",
                with_peak(command),
                max(1, min(args.repeat, 3)),
            )
            peer[count] = figure["median"]
            _, out, _ = timed(command)
            print(f"  mlflow result ({count}): {out.strip().splitlines()[-1]}")

    print("\n=== the curve (medians; review = spawn to first frame) ===")
    print(f"floor (python -c pass): {floor['median']:.3f} s, {floor['peak_mb']:.0f} MB")
    header = (
        f"{'snapshots':>10} | {'ls':>16} | {'rank --all-versions':>19} | {'(as a table)':>19} "
        f"| {'rank (latest)':>16} "
        f"| {'review':>16} | keys: sort name"
    )
    header += " / version / reverse / filter"
    print(header)
    for count, figures in results.items():
        cells = [
            f"{figures[k]['median']:{_WIDE.get(k, 6)}.3f} s {figures[k]['peak_mb']:4.0f} MB"
            for k in _COMMANDS
        ]
        keys = figures["keys"]
        sorts = [keys[k] for k in ("sort by name", "sort by version", "reverse sort")]
        sorts.append(keys["filter 'forest v3'"])
        print(
            f"{count:>10,} | "
            + " | ".join(cells)
            + " | "
            + " / ".join(f"{v * 1000:.0f}" for v in sorts)
            + " ms"
        )
    ordered = sorted(results)
    for low, high in zip(ordered, ordered[1:], strict=False):
        growth = ", ".join(
            f"{_LABELS[k]} x{results[high][k]['median'] / results[low][k]['median']:.1f}"
            for k in _COMMANDS
        )
        print(f"growth {low:,} -> {high:,} ({high // low}x the snapshots): {growth}")
    for count, figures in results.items():
        if "review foreign" in figures:
            seen = figures["review foreign"]
            print(
                f"review of another user's {count:,}: the first {seen['first']:.2f} s "
                f"(parses every file), then {seen['median']:.3f} s (its own index; own folder "
                f"{figures['review']['median']:.3f} s)"
            )
    if peer:
        print("\n=== the peer ===")
        for count, seconds in sorted(peer.items()):
            ours = results.get(count, {}).get("rank", {}).get("median")
            ratio = f", {seconds / ours:.1f}x modelsnap rank --all-versions" if ours else ""
            print(f"MLflow search_runs + sort, {count:,} runs: {seconds:.2f} s (measured{ratio})")
        if len(peer) >= 2:
            # MLflow pays a large fixed cost (importing it: ~1.6 s) and then a cost per run,
            # so the line through the two largest measured counts, not a power law.
            (c1, t1), (c2, t2) = sorted(peer.items())[-2:]
            per_run = (t2 - t1) / (c2 - c1)
            projected = t2 + per_run * (100_000 - c2)
            ours = results.get(100_000, {}).get("rank", {}).get("median")
            ratio = f", {projected / ours:.1f}x modelsnap rank --all-versions" if ours else ""
            print(
                f"MLflow at 100,000 runs: {projected:.1f} s (EXTRAPOLATED, not measured: the "
                f"line through {c1:,} and {c2:,} runs, {per_run * 1000:.2f} ms per run{ratio})"
            )
    budget = 2.0
    if 100_000 in results:
        print(
            f"budget {budget:.0f} s at 100,000: "
            + ", ".join(
                f"{_LABELS[k]} {results[100_000][k]['median']:.2f} s "
                f"{'OK' if results[100_000][k]['median'] <= budget else 'OVER'}"
                for k in _COMMANDS
            )
        )
        keys = results[100_000]["keys"]
        print(
            "budget 100 ms per key at 100,000: "
            + ", ".join(f"{k} {'OK' if v <= 0.1 else 'OVER'}" for k, v in keys.items())
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
