"""The measure namespace: one flat ``name -> float`` view of a snapshot.

Criteria, constraints, the ranking, the index and the report all speak about a model through
these names (docs/project-file.md, "Measure names"), so a snapshot is flattened in exactly one
place. A measure the snapshot does not have is *absent* from the result, never 0.0: the ranking's
completeness gate depends on telling "missing" apart from "bad".

Fast path: standard library only.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

QUALITY_MAX = ("accuracy", "balanced_accuracy", "precision", "recall", "f1", "roc_auc", "r2")
QUALITY_MIN = ("log_loss", "brier", "mae", "rmse")
QUALITY_METRICS = QUALITY_MAX + QUALITY_MIN

# Measures read from [resources]; the ones that depend on the machine they were measured on
# are HARDWARE_MEASURES (model size does not: the same artifact has the same size anywhere).
RESOURCE_MEASURES = (
    "latency_p50_ms",
    "latency_p95_ms",
    "latency_p99_ms",
    "throughput_rows_per_s",
    "size_mb",
    "peak_memory_mb",
    "fit_seconds",
)
HARDWARE_MEASURES = frozenset(RESOURCE_MEASURES) - {"size_mb"}

# "max": higher is better; "min": lower is better.
MEASURE_DIRECTIONS: dict[str, str] = {
    **{name: "max" for name in QUALITY_MAX},
    **{name: "min" for name in QUALITY_MIN},
    "latency_p50_ms": "min",
    "latency_p95_ms": "min",
    "latency_p99_ms": "min",
    "throughput_rows_per_s": "max",
    "size_mb": "min",
    "peak_memory_mb": "min",
    "fit_seconds": "min",
    "interpretability": "max",
    "fairness_gap": "min",
    "edge_pass_rate": "max",
    # Used by hard constraints; usable as criteria too.
    "overfit_gap": "min",
    "edge_must_pass_failed": "min",
}

# The latency split (docs/profiler.md): the final estimator alone on rows already preprocessed,
# beside the whole pipeline's latency_p*_ms above. Read from [resources] like them, measured on
# a machine like them, lower is better. ([resources].preprocess_share is shown, not a measure.)
MODEL_LATENCY_MEASURES = ("latency_model_p50_ms", "latency_model_p95_ms", "latency_model_p99_ms")
RESOURCE_MEASURES = RESOURCE_MEASURES + MODEL_LATENCY_MEASURES
HARDWARE_MEASURES = HARDWARE_MEASURES | frozenset(MODEL_LATENCY_MEASURES)
MEASURE_DIRECTIONS.update(dict.fromkeys(MODEL_LATENCY_MEASURES, "min"))

SPLITS = ("validation", "test")

REGRESSION_ONLY = frozenset({"r2", "mae", "rmse"})
CLASSIFICATION_ONLY = frozenset(QUALITY_METRICS) - REGRESSION_ONLY
# Quality metrics defined for two classes only (brier is the binary score of the positive class).
BINARY_ONLY = frozenset({"brier"})
FAIRNESS_MEASURES = frozenset({"fairness_gap"})
EDGE_MEASURES = frozenset({"edge_pass_rate", "edge_must_pass_failed"})


def why_unavailable(
    name: str,
    *,
    task: str | None,
    n_classes: int | None = None,
    sensitive: bool = True,
    edge_cases: bool = True,
) -> str | None:
    """Why no snapshot of a project like this can ever have measure ``name``; None when it can.

    The one rule for "which measures can a project have" (lock refuses criteria and limits on
    the others; the profiles leave them out): quality metrics of the project's task only
    (``task`` None: not known yet, so either task's), ``brier`` for two classes only, a fairness
    measure only with ``[data].sensitive`` columns, edge-case measures only with
    ``[data].edge_cases``. Unknown names are for the project-file checks, not for this rule.
    """
    if task == "classification" and name in REGRESSION_ONLY:
        return f"{name} is a regression metric, but the task is classification"
    if task == "regression" and name in CLASSIFICATION_ONLY:
        return f"{name} is a classification metric, but the task is regression"
    if name in BINARY_ONLY and n_classes is not None and n_classes != 2:
        return f"{name} is defined for two classes, but the target has {n_classes}"
    if name in FAIRNESS_MEASURES and not sensitive:
        return f"{name} needs a sensitive column, and [data].sensitive is empty"
    if name in EDGE_MEASURES and not edge_cases:
        return f"{name} needs edge cases, and [data].edge_cases is not set"
    return None


def is_resource_measure(name: str) -> bool:
    """True for measures taken on a machine (latency, throughput, memory, fit time).

    These are only comparable between snapshots profiled on the same hardware, so the ranking
    flags them when hardware fingerprints differ. ``size_mb`` is a resource too, but it does not
    depend on the machine, so it is not one of these.
    """
    return name in HARDWARE_MEASURES


def direction(name: str) -> str:
    """The default direction of a measure ("max" or "min"); KeyError for unknown names."""
    return MEASURE_DIRECTIONS[name]


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    number = float(value)
    return number if math.isfinite(number) else None


def _table(snapshot: Mapping[str, Any], *keys: str) -> Mapping[str, Any]:
    current: Any = snapshot
    for key in keys:
        current = current.get(key) if isinstance(current, Mapping) else None
    return current if isinstance(current, Mapping) else {}


def _edge_measures(edge: Mapping[str, Any], out: dict[str, float]) -> None:
    n_cases = _number(edge.get("n_cases"))
    n_passed = _number(edge.get("n_passed"))
    failed = _number(edge.get("must_pass_failed"))
    if n_cases is not None and n_passed is not None and n_cases > 0:
        out["edge_pass_rate"] = n_passed / n_cases
    if failed is not None:
        out["edge_must_pass_failed"] = failed


def measures(
    snapshot: Mapping[str, Any],
    split: str = "validation",
    *,
    edge_result: Mapping[str, Any] | None = None,
) -> dict[str, float]:
    """Flatten one snapshot into measure name -> value (absent when not measured).

    Quality metrics come from ``[metrics.<split>]``: validation by default, because choosing
    among candidates is itself tuning and the test split must stay the unbiased final estimate.
    ``edge_result`` is a ``[[result]]`` of a later ``edge_runs/`` file; when given it replaces
    the snapshot's own ``[edge_cases]`` (a newer run over the same artifact wins).
    Non-numeric, boolean, NaN or infinite values are treated as absent.
    """
    if split not in SPLITS:
        raise ValueError(f"split must be one of {SPLITS}, got {split!r}")
    out: dict[str, float] = {}
    for name, value in _table(snapshot, "metrics", split).items():
        number = _number(value)
        if number is not None and name in MEASURE_DIRECTIONS:
            out[name] = number
    resources = _table(snapshot, "resources")
    for name in RESOURCE_MEASURES:
        number = _number(resources.get(name))
        if number is not None:
            out[name] = number
    score = _number(_table(snapshot, "interpretability").get("score"))
    if score is not None:
        out["interpretability"] = score
    gap = _number(_table(snapshot, "fairness").get("max_gap"))
    if gap is not None:
        out["fairness_gap"] = gap
    overfit = _number(_table(snapshot, "checks").get("overfit_gap"))
    if overfit is not None:
        # Same reading as [checks].overfit_flag: how much worse test is than validation (a
        # better test score is no overfitting, so it counts as 0).
        out["overfit_gap"] = max(overfit, 0.0)
    _edge_measures(edge_result if edge_result is not None else _table(snapshot, "edge_cases"), out)
    return out


# Validation better than test by more than this (in the primary metric's own units, signed so
# that positive means worse on test) flags a snapshot as overfit.
OVERFIT_THRESHOLD = 0.05


def is_overfit(checks: Mapping[str, Any]) -> bool:
    """True when a snapshot's ``[checks]`` show overfitting: validation better than test by more
    than ``OVERFIT_THRESHOLD`` (the gap is signed so that positive means worse on test, for
    "max" and "min" metrics alike). Read from the gap, not the stored flag: snapshots written
    before the flag was one-sided carry ``overfit_flag = true`` when test was the better split.
    """
    gap = checks.get("overfit_gap") if isinstance(checks, Mapping) else None
    return (
        isinstance(gap, (int, float))
        and not isinstance(gap, bool)
        and math.isfinite(gap)
        and gap > OVERFIT_THRESHOLD
    )
