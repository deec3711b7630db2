"""Model-only against pipeline latency for each model of the sample project. A benchmark: it prints.

For each of the five sample models (sample_project/modelsnap.toml), the single-row latency of the
whole fitted pipeline (a raw row in: the shared ColumnTransformer, then the estimator) and of the
estimator alone on the same rows already preprocessed, measured by the profiler's own function
(``profiler.timing.measure_latency_split``: 300 trials after 20 warm-up, perf_counter_ns around
predict only, gc paused) on the frozen split's validation rows, as ``modelsnap run`` records them.

- ``rounds`` (default 3): each model in a fresh process per round, the models interleaved so a
  busy machine slows them alike; the medians over rounds are printed.
- ``--run``: also a real ``modelsnap run`` of a copy of the sample project (lock, run: the
  worker subprocesses), printing the recorded ``[resources]`` figures beside them.

The models are fitted once on the sample project's training split (as ``modelsnap run`` fits
them, with the grid point the sample snapshot chose) and saved as skops artifacts in a
temporary folder; each child process loads one. Absolute times drift on a shared machine:
compare the ratios of one run.

    python benchmarks/latency_split_bench.py [--rounds 3] [--trials 300] [--run]
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
import tempfile
import time
from pathlib import Path

THREAD_VARS = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")
for _name in THREAD_VARS:
    os.environ[_name] = "1"

REPO = Path(__file__).resolve().parents[1]
SAMPLE = REPO / "sample_project"
PROJECT_FILES = ("modelsnap.toml", "credit.csv", "edge_cases.csv")


def _validation(root: Path):
    from modelsnap.core.evaluation.data import ensure_split, load_dataset
    from modelsnap.core.project.parse import load_project

    config = load_project(root)
    dataset = load_dataset(config)
    split = ensure_split(config, dataset)
    frame = dataset.frame
    return config, dataset, split, frame


def child(root: Path, artifact: Path, sha: str, trials: int, warmup: int) -> None:
    """One model's latency split in this fresh process, on the validation rows; prints JSON."""
    from threadpoolctl import threadpool_limits

    from modelsnap.core.evaluation.artifacts import load_artifact
    from modelsnap.profiler.timing import measure_latency_split

    threadpool_limits(1)
    config, _, split, frame = _validation(root)
    model = load_artifact(artifact, sha, config=config)
    timed = measure_latency_split(model, frame.iloc[split.validation], trials=trials, warmup=warmup)
    print(json.dumps(timed.as_resources()))


def fit_models(root: Path, folder: Path) -> dict[str, tuple[Path, str]]:
    """Each sample model fitted on the training split as ``modelsnap run`` builds it."""
    from modelsnap.core.evaluation.artifacts import save_artifact
    from modelsnap.core.evaluation.pipeline import build_estimator, make_pipeline

    config, dataset, split, frame = _validation(root)
    train_x, train_y = frame.iloc[split.train], dataset.target.iloc[split.train]
    out = {}
    for spec in [config.baseline, *config.candidates]:
        if spec is None:
            continue
        estimator = build_estimator(spec, root)
        if spec.grid:  # the point the sample project's own snapshot chose, not a new search
            estimator.set_params(**_chosen_point(spec.name, spec.grid))
        pipeline = make_pipeline(config, frame, estimator).fit(train_x, train_y)
        path = folder / f"{spec.name}.skops"
        sha, _ = save_artifact(pipeline, path)
        out[spec.name] = (path, sha)
    return out


def _chosen_point(name: str, grid: dict) -> dict:
    import tomllib

    for path in sorted((SAMPLE / "snapshots").glob(f"*-{name}-*.toml"), reverse=True):
        best = tomllib.loads(path.read_text()).get("model", {}).get("search", {}).get("best")
        if isinstance(best, dict):
            return best
    return {key: values[0] for key, values in grid.items()}


def real_run(folder: Path, trials: int, warmup: int) -> dict[str, dict]:
    """``modelsnap lock`` + ``modelsnap run`` on a copy of the sample project; its figures."""
    import tomllib

    root = folder / "sample_copy"
    root.mkdir()
    for name in PROJECT_FILES:
        shutil.copy(SAMPLE / name, root / name)
    text = (root / "modelsnap.toml").read_text()
    text = text.replace("latency_trials = 300", f"latency_trials = {trials}")
    text = text.replace("latency_warmup = 20", f"latency_warmup = {warmup}")
    (root / "modelsnap.toml").write_text(text)
    for command in (["lock", str(root)], ["run", str(root)]):
        subprocess.run(
            [sys.executable, "-m", "modelsnap", *command], check=True, capture_output=True
        )
    recorded = {}
    for path in sorted((root / "snapshots").glob("*.toml")):
        snapshot = tomllib.loads(path.read_text())
        recorded[snapshot["name"]] = snapshot["resources"]
    return recorded


def _line(name: str, figures: dict[str, float]) -> str:
    ratio = figures["latency_p50_ms"] / max(figures["latency_model_p50_ms"], 1e-9)
    return (
        f"| {name} | {figures['latency_p50_ms']:.3f} | {figures['latency_p95_ms']:.3f} | "
        f"{figures['latency_model_p50_ms']:.3f} | {figures['latency_model_p95_ms']:.3f} | "
        f"{figures['preprocess_share'] * 100:.1f} % | {ratio:.1f}x |"
    )


HEADER = (
    "| model | pipeline p50 ms | pipeline p95 ms | model alone p50 ms | model alone p95 ms "
    "| preprocessing share of p50 | pipeline / model p50 |\n|---|---|---|---|---|---|---|"
)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--trials", type=int, default=300)
    parser.add_argument("--warmup", type=int, default=20)
    parser.add_argument("--run", action="store_true", help="also a real modelsnap run of a copy")
    parser.add_argument(
        "--child", nargs=3, metavar=("ROOT", "ARTIFACT", "SHA"), help=argparse.SUPPRESS
    )
    args = parser.parse_args()
    if args.child:
        root, artifact, sha = args.child
        child(Path(root), Path(artifact), sha, args.trials, args.warmup)
        return 0

    import sklearn

    from modelsnap.core.evaluation.environment import cpu_model

    print(
        f"machine: {cpu_model()}, {os.cpu_count()} cores, Python {platform.python_version()}, "
        f"scikit-learn {sklearn.__version__}, {platform.platform()}"
    )
    print(
        f"settings: {args.trials} trials after {args.warmup} warm-up on the sample project's "
        f"validation rows, {args.rounds} rounds (each model in a fresh process per round, "
        "interleaved), 1 BLAS/OpenMP thread"
    )
    print(f"load average at start: {', '.join(f'{x:.2f}' for x in os.getloadavg())}")
    started = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        root = folder / "sample"
        root.mkdir()
        for name in (*PROJECT_FILES, "split.npz"):
            shutil.copy(SAMPLE / name, root / name)
        models = fit_models(root, folder)
        runs: dict[str, list[dict[str, float]]] = {name: [] for name in models}
        for _ in range(args.rounds):
            for name, (artifact, sha) in models.items():
                result = subprocess.run(
                    [
                        sys.executable,
                        __file__,
                        "--child",
                        str(root),
                        str(artifact),
                        sha,
                        "--trials",
                        str(args.trials),
                        "--warmup",
                        str(args.warmup),
                    ],
                    check=True,
                    capture_output=True,
                    text=True,
                )
                runs[name].append(json.loads(result.stdout.strip().splitlines()[-1]))
        print(f"\nmedians over {args.rounds} rounds:\n{HEADER}")
        for name, figures in runs.items():
            keys = figures[0].keys()
            medians = {k: statistics.median(f[k] for f in figures) for k in keys}
            print(_line(name, medians))
        spread = {
            name: [round(f["preprocess_share"] * 100, 1) for f in figures]
            for name, figures in runs.items()
        }
        print(f"preprocessing share per round (%): {spread}")
        if args.run:
            recorded = real_run(folder, args.trials, args.warmup)
            print(f"\nrecorded by `modelsnap run` (one run, worker subprocesses):\n{HEADER}")
            for name, figures in recorded.items():
                print(_line(name, figures))
    print(f"\nload average at end: {', '.join(f'{x:.2f}' for x in os.getloadavg())}")
    print(f"benchmark wall time: {time.perf_counter() - started:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
