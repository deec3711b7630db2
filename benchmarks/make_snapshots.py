"""Generate a project folder with N realistic snapshot files, for benchmarks and scale tests.

Each snapshot carries every table of docs/snapshot-format.md with plausible values (about
2.5 KB of TOML, like a real one), so parse costs are honest. The index is written the way
``store.write_snapshot`` leaves it (``index.record_many`` over the files just written), and the
records are sealed in ``ledger.toml`` (``ledger.adopt``, one write).
The values are seeded: the same N gives the same folder (ids included).

    python benchmarks/make_snapshots.py DIR --count 10000
"""

from __future__ import annotations

import argparse
import random
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import tomli_w

FAMILIES = [
    ("logistic", "sklearn.linear_model.LogisticRegression", "linear", {"C": 1.0, "max_iter": 1000}),
    ("linear_svm", "sklearn.svm.LinearSVC", "linear", {"C": 0.5}),
    (
        "random_forest",
        "sklearn.ensemble.RandomForestClassifier",
        "post_hoc",
        {"n_estimators": 100, "max_depth": 8},
    ),
    (
        "grad_boost",
        "sklearn.ensemble.HistGradientBoostingClassifier",
        "post_hoc",
        {"learning_rate": 0.1, "max_iter": 200},
    ),
    ("small_tree", "sklearn.tree.DecisionTreeClassifier", "small_tree", {"max_depth": 4}),
    ("mlp", "sklearn.neural_network.MLPClassifier", "post_hoc", {"hidden_layer_sizes": 64}),
    ("knn", "sklearn.neighbors.KNeighborsClassifier", "post_hoc", {"n_neighbors": 15}),
    ("extra_trees", "sklearn.ensemble.ExtraTreesClassifier", "post_hoc", {"n_estimators": 200}),
]
DATASET_SHA = "a3" * 32
SPLIT_SHA = "5e" * 32
HARDWARE = [
    {
        "cpu": "Intel(R) Xeon(R) CPU @ 2.20GHz",
        "cores": 2,
        "memory_gb": 7.8,
        "fingerprint": "1f2e3d4c5b6a7988",
    },
    {"cpu": "AMD EPYC 7B13", "cores": 8, "memory_gb": 31.4, "fingerprint": "9a8b7c6d5e4f3021"},
]
LIMITS = {"latency_p95_ms": 50.0, "size_mb": 100.0, "peak_memory_mb": 1024.0}

PROJECT_TOML = """\
[project]
name = "Scale benchmark"

[data]
source = "sklearn:breast_cancer"
target = "target"
seed = 42

[selection]
profile = "balanced"
primary_metric = "f1"
rank_split = "validation"

[[criteria]]
metric = "f1"
weight = 0.4
direction = "max"

[[criteria]]
metric = "latency_p95_ms"
weight = 0.2
direction = "min"

[[criteria]]
metric = "size_mb"
weight = 0.1
direction = "min"

[[criteria]]
metric = "interpretability"
weight = 0.15
direction = "max"

[[criteria]]
metric = "fairness_gap"
weight = 0.15
direction = "min"

[constraints]
max_latency_p95_ms = 50.0
max_size_mb = 100.0
max_peak_memory_mb = 1024.0
"""

CRITERIA = [
    {"metric": "f1", "weight": 0.4, "direction": "max"},
    {"metric": "latency_p95_ms", "weight": 0.2, "direction": "min"},
    {"metric": "size_mb", "weight": 0.1, "direction": "min"},
    {"metric": "interpretability", "weight": 0.15, "direction": "max"},
    {"metric": "fairness_gap", "weight": 0.15, "direction": "min"},
]


def _quality(rng: random.Random, base: float, rnd) -> dict[str, float]:
    f1 = min(0.99, max(0.3, rng.gauss(base, 0.03)))
    return {
        "accuracy": rnd(min(0.995, f1 + rng.uniform(0.02, 0.08)), 4),
        "balanced_accuracy": rnd(min(0.99, f1 + rng.uniform(0.0, 0.05)), 4),
        "precision": rnd(min(0.99, f1 + rng.uniform(-0.04, 0.04)), 4),
        "recall": rnd(min(0.99, f1 + rng.uniform(-0.05, 0.05)), 4),
        "f1": rnd(f1, 4),
        "roc_auc": rnd(min(0.999, f1 + rng.uniform(0.05, 0.12)), 4),
        "log_loss": rnd(rng.uniform(0.1, 0.6), 4),
        "brier": rnd(rng.uniform(0.03, 0.2), 4),
    }


def _keep(value: float, digits: int | None = None) -> float:
    return value


def make_snapshot(
    index: int,
    rng: random.Random,
    start: datetime,
    baseline_id: str | None,
    *,
    full_precision: bool = False,
) -> dict[str, Any]:
    """One snapshot body as the worker + store would record it (schema 1).

    ``full_precision`` keeps every measured float at full length, as the worker writes them
    (``0.7509433962264151``, not ``0.7509``): the benchmark's honest case, since longer numbers
    cost parse time. Off by default, so fixtures built on it stay short and readable.
    """
    rnd = _keep if full_precision else round
    family, estimator, interp_family, params = FAMILIES[index % len(FAMILIES)]
    version = f"v{index // len(FAMILIES) + 1}"
    created = start + timedelta(seconds=7 * index)
    snapshot_id = f"{created:%Y%m%dT%H%M%S}-{family}-{index % 65536:04x}"
    kind = "baseline" if index == 0 else "candidate"
    validation = _quality(rng, 0.72 + 0.02 * (index % len(FAMILIES)) / len(FAMILIES), rnd)
    test = {k: rnd(max(0.0, v - rng.uniform(-0.01, 0.04)), 4) for k, v in validation.items()}
    p50 = rng.uniform(0.1, 30.0)
    size_mb = rnd(rng.uniform(0.01, 115.0), 3)
    peak = rnd(rng.uniform(20.0, 1100.0), 1)
    resources = {
        "fit_seconds": rnd(rng.uniform(0.05, 120.0), 3),
        "fit_cpu_seconds": rnd(rng.uniform(0.05, 200.0), 3),
        "size_mb": size_mb,
        "latency_p50_ms": rnd(p50, 3),
        "latency_p95_ms": rnd(p50 * rng.uniform(1.2, 1.6), 3),
        "latency_p99_ms": rnd(p50 * rng.uniform(1.8, 2.4), 3),
        "latency_mean_ms": rnd(p50 * 1.05, 3),
        "latency_iqr_ms": rnd(p50 * 0.2, 3),
        "latency_min_ms": rnd(p50 * 0.9, 3),
        "latency_trials": 300,
        "latency_warmup": 20,
        "batch_size": 256,
        "batch_latency_ms": rnd(p50 * 8, 3),
        "throughput_rows_per_s": rnd(256_000 / (p50 * 8), 1),
        "peak_memory_fit_mb": peak,
        "peak_memory_predict_mb": rnd(peak * 0.05, 1),
        "peak_memory_mb": peak,
        "memory_method": "vmhwm-reset",
        "threads": {"blas": 1, "openmp": 1, "n_jobs": 1},
    }
    constraints = {}
    for measure, limit in LIMITS.items():
        value = resources[measure]
        ok = value <= limit
        constraints[measure] = {
            "value": value,
            "limit": limit,
            "ok": ok,
            "over": 0.0 if ok else rnd((value - limit) / limit, 4),
        }
    n_cases = 12
    n_passed = rng.randint(8, 12)
    must_pass_failed = 1 if n_passed < 10 and rng.random() < 0.3 else 0
    snapshot: dict[str, Any] = {
        "schema": 1,
        "id": snapshot_id,
        "name": family,
        "kind": kind,
        "version": version,
        "created_at": created.isoformat(),
        "criteria_revision": 1,
        "notes": "",
        "model": {
            "estimator": estimator,
            "params": dict(params),
            "artifact": f"models/{snapshot_id}.skops",
            "artifact_sha256": f"{rng.getrandbits(256):064x}",
            "size_bytes": int(size_mb * 2**20),
            "source": "project",
        },
        "data": {
            "source": "sklearn:breast_cancer",
            "target": "target",
            "task": "classification",
            "dataset_sha256": DATASET_SHA,
            "split_sha256": SPLIT_SHA,
            "seed": 42,
            "n_train": 341,
            "n_validation": 114,
            "n_test": 114,
            "classes": ["0", "1"],
            "positive_label": "1",
        },
        "metrics": {
            "validation": validation,
            "test": test,
            "test_ci": {k: [rnd(v - 0.03, 4), rnd(v + 0.03, 4)] for k, v in test.items()},
        },
        "predictions": {
            "path": f"predictions/{snapshot_id}.npz",
            "sha256": f"{rng.getrandbits(256):064x}",
        },
        "resources": resources,
        "constraints": constraints,
        "interpretability": {
            "method": "permutation",
            "intrinsic": interp_family != "post_hoc",
            "family": interp_family,
            "n_nonzero": rng.randint(3, 30),
            "score": rnd(rng.uniform(0.1, 0.9), 3),
            "suspect_hits": [],
            "top_features": [
                {"name": f"feature_{j}", "importance": rnd(0.1 / (j + 1), 4), "std": 0.01}
                for j in range(5)
            ],
        },
        "fairness": {"max_gap": rnd(rng.uniform(0.0, 0.2), 4)},
        "edge_cases": {
            "file": "edge_cases.csv",
            "file_sha256": "e" * 64,
            "n_cases": n_cases,
            "n_passed": n_passed,
            "must_pass_failed": must_pass_failed,
            "failures": [],
        },
        "checks": {
            "overfit_gap": rnd(validation["f1"] - test["f1"], 4),
            "overfit_flag": abs(validation["f1"] - test["f1"]) > 0.05,
            "leakage": [],
        },
        "environment": {
            "python": "3.11.7",
            "platform": "Linux-6.1-x86_64",
            "packages": {
                "scikit-learn": "1.9.1",
                "numpy": "2.4.6",
                "pandas": "3.1.1",
                "skops": "0.16.0",
            },
            "git_dirty": False,
        },
        "hardware": dict(HARDWARE[1 if index % 12 == 11 else 0]),
    }
    if baseline_id is not None:
        primary = validation["f1"]
        snapshot["gain"] = {
            "baseline_id": baseline_id,
            "metric": "f1",
            "absolute": rnd(primary - 0.70, 4),
            "relative": rnd((primary - 0.70) / 0.70, 4),
        }
    return snapshot


def write_folder(
    root: Path, count: int, *, seed: int = 7, with_index: bool = True, full_precision: bool = False
) -> list[str]:
    """Create ``root`` as a project with ``count`` snapshots; returns their ids in order."""
    from modelsnap.core.records import index, ledger

    root = Path(root)
    (root / "snapshots").mkdir(parents=True, exist_ok=True)
    (root / "modelsnap.toml").write_text(PROJECT_TOML, encoding="utf-8")
    revisions = {
        "schema": 1,
        "revision": [
            {
                "revision": 1,
                "locked_at": "2026-11-01T09:00:00+00:00",
                "locked_by": "bench",
                "reason": "initial lock",
                "primary_metric": "f1",
                "criteria": CRITERIA,
                "constraints": {f"max_{k}": v for k, v in LIMITS.items()},
                "sha256": "0" * 64,
            }
        ],
    }
    (root / "criteria_revisions.toml").write_bytes(tomli_w.dumps(revisions).encode())
    rng = random.Random(seed)
    start = datetime(2026, 11, 1, 9, 0, tzinfo=UTC)
    snapshots: list[dict[str, Any]] = []
    ids: list[str] = []
    baseline_id = None
    for i in range(count):
        snapshot = make_snapshot(i, rng, start, baseline_id, full_precision=full_precision)
        if i == 0:
            baseline_id = snapshot["id"]
        # Plain writes: the bytes are what store writes; its fsync per file would only slow
        # the set-up, not change what is measured.
        (root / "snapshots" / f"{snapshot['id']}.toml").write_bytes(
            tomli_w.dumps(snapshot).encode("utf-8")
        )
        ids.append(snapshot["id"])
        if with_index:
            snapshots.append(snapshot)
            if len(snapshots) == 5000:  # bounded memory at 100,000 snapshots
                index.record_many(root, snapshots)
                snapshots.clear()
    if with_index and snapshots:
        index.record_many(root, snapshots)
    ledger.adopt(root)  # sealed, as store.write_snapshot and lock_criteria leave them
    return ids


def reindex(root: Path, count: int, *, seed: int = 7, full_precision: bool = False) -> None:
    """Record the index of a folder ``write_folder`` made (same count, seed and precision)
    from the regenerated bodies, without parsing the files: 100,000 rows in a minute."""
    from modelsnap.core.records import index

    rng = random.Random(seed)
    start = datetime(2026, 11, 1, 9, 0, tzinfo=UTC)
    baseline_id = None
    chunk: list[dict[str, Any]] = []
    for i in range(count):
        snapshot = make_snapshot(i, rng, start, baseline_id, full_precision=full_precision)
        if i == 0:
            baseline_id = snapshot["id"]
        chunk.append(snapshot)
        if len(chunk) == 5000 or i == count - 1:
            index.record_many(root, chunk)
            chunk.clear()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("dir", type=Path)
    parser.add_argument("--count", type=int, default=10_000)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--no-index", action="store_true")
    parser.add_argument(
        "--full-precision",
        action="store_true",
        help="full-length floats, as the worker writes them",
    )
    args = parser.parse_args(argv)
    ids = write_folder(
        args.dir,
        args.count,
        seed=args.seed,
        with_index=not args.no_index,
        full_precision=args.full_precision,
    )
    print(f"wrote {len(ids)} snapshots to {args.dir}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
