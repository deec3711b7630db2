"""Serial here vs fanned out to a Dask LocalCluster: a benchmark, not a test: it prints figures.

One generated project (a numeric table of ``--rows`` rows), either one random forest with a
16-point grid (default) or 8 candidates (``--candidates``), is run twice in this process:

- ``local``: ``modelsnap run``'s path with the local executor (grid points fitted one after the
  other in one worker process, models one after the other);
- ``dask``: the same models on a ``distributed.LocalCluster`` of ``--workers`` worker processes
  x 1 thread on 127.0.0.1 (started before the clock starts; its start-up is printed apart).

It prints both wall times, the speed-up, the time spent profiling here (latency, batch and
predict memory: from the first ``latency`` event to the end of ``batch`` of each model, summed;
serial in both runs on purpose), and checks that the two runs gave the same metrics. On a machine
with few cores the cluster's workers and the local profiling share the CPU: the speed-up is a
floor, not what separate machines give (docs/distributed.md has the arithmetic).

    python benchmarks/dask_bench.py [--rows 20000] [--candidates] [--workers 2] [--trials 100]
"""

from __future__ import annotations

import argparse
import logging
import os
import platform
import sys
import tempfile
import time
from pathlib import Path

MODELS_GRID = """
[[candidates]]
name = "forest"
estimator = "sklearn.ensemble.RandomForestClassifier"
params = { random_state = 0 }
grid = { n_estimators = [20, 40], max_depth = [4, 8], min_samples_leaf = [1, 5], \
max_features = [0.5, 1.0] }
"""

MODELS_EIGHT = "".join(
    f"""
[[candidates]]
name = "{name}"
estimator = "{estimator}"
params = {params}
"""
    for name, estimator, params in [
        (
            "forest_a",
            "sklearn.ensemble.RandomForestClassifier",
            "{ n_estimators = 60, random_state = 0 }",
        ),
        (
            "forest_b",
            "sklearn.ensemble.RandomForestClassifier",
            "{ n_estimators = 60, max_depth = 8, random_state = 1 }",
        ),
        (
            "extra",
            "sklearn.ensemble.ExtraTreesClassifier",
            "{ n_estimators = 80, random_state = 0 }",
        ),
        (
            "boosting",
            "sklearn.ensemble.GradientBoostingClassifier",
            "{ n_estimators = 60, random_state = 0 }",
        ),
        (
            "hist",
            "sklearn.ensemble.HistGradientBoostingClassifier",
            "{ max_iter = 100, random_state = 0 }",
        ),
        (
            "mlp",
            "sklearn.neural_network.MLPClassifier",
            "{ hidden_layer_sizes = [32], max_iter = 200, random_state = 0 }",
        ),
        ("logistic", "sklearn.linear_model.LogisticRegression", "{ max_iter = 1000 }"),
        ("tree", "sklearn.tree.DecisionTreeClassifier", "{ max_depth = 10, random_state = 0 }"),
    ]
)


def make_project(root: Path, rows: int, trials: int, eight: bool) -> None:
    import numpy as np
    import pandas as pd

    rng = np.random.default_rng(0)
    X = rng.normal(size=(rows, 12))
    score = X[:, 0] - 0.8 * X[:, 1] + 0.5 * X[:, 2] * X[:, 3] + rng.normal(scale=0.8, size=rows)
    frame = pd.DataFrame(X.round(4), columns=[f"x{i}" for i in range(12)])
    frame["label"] = np.where(score > 0, "yes", "no")
    root.mkdir(parents=True)
    frame.to_csv(root / "data.csv", index=False)
    (root / "modelsnap.toml").write_text(
        f"""
[data]
source = "data.csv"
target = "label"
seed = 1

[selection]
primary_metric = "f1"

[[criteria]]
metric = "f1"
weight = 1.0
direction = "max"

[run]
latency_trials = {trials}
latency_warmup = 10
timeout_seconds = 1800
memory_limit_mb = 3000
"""
        + (MODELS_EIGHT if eight else MODELS_GRID)
    )


def timed_run(config, overrides) -> tuple[float, float, list]:
    """Wall seconds of the run, seconds spent profiling here, and the outcomes."""
    from modelsnap.profiler.jobs import run_project

    profile_start: dict[str, float] = {}
    profile_seconds: dict[str, float] = {}

    def on_event(name: str, event) -> None:
        now = time.perf_counter()
        if event.stage == "latency" and name not in profile_start:
            profile_start[name] = now
        if event.stage == "batch" and event.fraction >= 1.0 and name in profile_start:
            profile_seconds[name] = now - profile_start[name]

    started = time.perf_counter()
    outcomes = run_project(config, overrides=overrides, on_event=on_event)
    wall = time.perf_counter() - started
    failed = [(o.name, str(o.error)) for o in outcomes if not o.ok]
    if failed:
        sys.exit(f"a run failed: {failed}")
    return wall, sum(profile_seconds.values()), outcomes


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=20000)
    parser.add_argument("--candidates", action="store_true", help="8 candidates, no grid")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--trials", type=int, default=100)
    args = parser.parse_args()

    from distributed import LocalCluster

    from modelsnap.core.evaluation.data import ensure_split, load_dataset
    from modelsnap.core.project.parse import load_project
    from modelsnap.core.selection.criteria import lock_criteria
    from modelsnap.profiler.job_specs import Overrides

    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    print(
        f"python {platform.python_version()}, {os.cpu_count()} cores, load average {load:.1f}; "
        f"{args.rows} rows, "
        + ("8 candidates" if args.candidates else "1 random forest x 16 grid points")
        + f", {args.trials} latency trials"
    )
    with tempfile.TemporaryDirectory() as tmp:
        runs = {}
        for label in ("local", "dask"):
            root = Path(tmp) / label
            make_project(root, args.rows, args.trials, args.candidates)
            config = load_project(root)
            lock_criteria(config, reason="benchmark")
            config = load_project(root)
            ensure_split(config, load_dataset(config))  # drawn before the clock, in both runs
            runs[label] = config
        local_wall, local_profile, local_outcomes = timed_run(runs["local"], Overrides())
        print(f"local  wall {local_wall:7.1f} s   profiling here {local_profile:5.1f} s")

        started = time.perf_counter()
        with LocalCluster(
            n_workers=args.workers,
            threads_per_worker=1,
            processes=True,
            host="127.0.0.1",
            dashboard_address="127.0.0.1:0",  # loopback only, any free port
            silence_logs=logging.CRITICAL,
        ) as cluster:
            startup = time.perf_counter() - started
            dask_wall, dask_profile, dask_outcomes = timed_run(
                runs["dask"], Overrides(scheduler=cluster.scheduler_address)
            )
        print(
            f"dask   wall {dask_wall:7.1f} s   profiling here {dask_profile:5.1f} s   "
            f"({args.workers} workers; cluster start-up {startup:.1f} s, not counted)"
        )
        print(f"speed-up {local_wall / dask_wall:.2f}x")
        same = all(
            a.snapshot["metrics"] == b.snapshot["metrics"]
            for a, b in zip(local_outcomes, dask_outcomes, strict=True)
        )
        print(f"same metrics in both runs: {'yes' if same else 'NO'}")


if __name__ == "__main__":
    main()
