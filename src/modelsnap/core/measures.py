"""The measure namespace: the registry of every measure, and one flat ``name -> float`` view
of a snapshot.

``REGISTRY`` holds one ``Measure`` per name (direction, kind, task, what it needs, words for
people, where a snapshot keeps it); every list of names the tool uses (quality metrics per task,
resources, probability metrics, the card's order, ...) is drawn from it here.

Criteria, constraints, the ranking, the index and the report all speak about a model through
these names (docs/project-file.md, "Measure names"), so a snapshot is flattened in exactly one
place. A measure the snapshot does not have is *absent* from the result, never 0.0: the ranking's
completeness gate depends on telling "missing" apart from "bad".

Fast path: standard library only.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

BOTH_TASKS = ("classification", "regression")


@dataclass(frozen=True, slots=True)
class Measure:
    """One measure of the namespace: what it is called, which way is better, where it lives.

    ``kind``: "quality" (a metric of the predictions, per split), "resource" (measured while
    profiling), "interpretability", "fairness", "edge" (edge-case runs) or "check" (the
    overfitting gap). ``where``: the snapshot key it is read from (``<split>`` is the split
    ranked on). ``bounded``: the value lives in a fixed range ([0, 1], [-1, 1]), so gains read
    as percentage points and the overfitting gap is absolute, not relative. ``limits``: the
    lowest and highest value it can take (a bootstrap interval is kept inside them).
    ``card``: position on the snapshot card (quality metrics after the primary one; resources
    on their own line).
    """

    name: str
    direction: str
    kind: str
    where: str
    tasks: tuple[str, ...] = BOTH_TASKS
    needs_proba: bool = False
    binary_only: bool = False
    per_class: bool = False
    bounded: bool = True
    limits: tuple[float, float] = (-math.inf, math.inf)
    hardware: bool = False
    label: str = ""
    unit: str = ""
    card: int | None = None

    @property
    def short(self) -> str:
        """The word shown to people (``label``, else the name itself)."""
        return self.label or self.name


def _quality(name: str, direction: str, task: str, card: int, **options: Any) -> Measure:
    options.setdefault("limits", (0.0, 1.0))  # most metrics of predictions are rates or scores
    return Measure(
        name, direction, "quality", f"metrics.<split>.{name}", tasks=(task,), card=card, **options
    )


def _resource(name: str, direction: str, **options: Any) -> Measure:
    return Measure(name, direction, "resource", f"resources.{name}", **options)


C, R = "classification", "regression"

# The registry: every measure the tool knows, in the order it is listed to people. Everything
# else (tuples of names, directions, which task, which table) is derived from it below.
# To add a metric: one entry here and its computation in core/evaluation/metrics.py.
REGISTRY: dict[str, Measure] = {
    m.name: m
    for m in (
        _quality("accuracy", "max", C, 1),
        _quality("balanced_accuracy", "max", C, 2, per_class=True, label="balanced accuracy"),
        _quality("precision", "max", C, 3, per_class=True),
        _quality("recall", "max", C, 4, per_class=True),
        _quality("f1", "max", C, 0, per_class=True),
        _quality("roc_auc", "max", C, 5, needs_proba=True, per_class=True, label="ROC AUC"),
        _quality(
            "log_loss",
            "min",
            C,
            9,
            needs_proba=True,
            bounded=False,
            label="log loss",
            limits=(0.0, math.inf),
        ),
        _quality("brier", "min", C, 10, needs_proba=True, binary_only=True, label="Brier score"),
        _quality(
            "matthews_corrcoef", "max", C, 11, per_class=True, label="MCC", limits=(-1.0, 1.0)
        ),
        _quality("r2", "max", R, 6, label="R²", limits=(-math.inf, 1.0)),
        _quality("mae", "min", R, 7, bounded=False, limits=(0.0, math.inf)),
        _quality("rmse", "min", R, 8, bounded=False, limits=(0.0, math.inf)),
        _resource("latency_p50_ms", "min", hardware=True, label="p50", unit="ms"),
        _resource("latency_p95_ms", "min", hardware=True, label="p95", unit="ms", card=0),
        _resource("latency_p99_ms", "min", hardware=True, label="p99", unit="ms"),
        _resource("throughput_rows_per_s", "max", hardware=True, label="rows/s", unit="rows/s"),
        # Model size does not depend on the machine: the same artifact has the same size anywhere.
        _resource("size_mb", "min", label="size", unit="MB", card=2),
        _resource("peak_memory_mb", "min", hardware=True, label="mem", unit="MB", card=3),
        _resource("fit_seconds", "min", hardware=True, label="fit", unit="s", card=4),
        # The latency split (docs/profiler.md): the final estimator alone on rows already
        # preprocessed, beside the whole pipeline's latency_p*_ms above. ([resources]
        # .preprocess_share is shown beside it, not a measure.)
        _resource("latency_model_p50_ms", "min", hardware=True, label="model alone p50", unit="ms"),
        _resource(
            "latency_model_p95_ms", "min", hardware=True, label="model alone p95", unit="ms", card=1
        ),
        _resource("latency_model_p99_ms", "min", hardware=True, label="model alone p99", unit="ms"),
        Measure("interpretability", "max", "interpretability", "interpretability.score"),
        Measure("fairness_gap", "min", "fairness", "fairness.max_gap", label="fairness gap"),
        Measure("edge_pass_rate", "max", "edge", "edge_cases.n_passed / edge_cases.n_cases"),
        # Used by hard constraints; usable as criteria too.
        Measure("overfit_gap", "min", "check", "checks.overfit_gap", bounded=False),
        Measure("edge_must_pass_failed", "min", "edge", "edge_cases.must_pass_failed"),
    )
}
del C, R


def _names(**wanted: Any) -> tuple[str, ...]:
    return tuple(
        m.name for m in REGISTRY.values() if all(getattr(m, k) == v for k, v in wanted.items())
    )


QUALITY_MAX = _names(kind="quality", direction="max")
QUALITY_MIN = _names(kind="quality", direction="min")
QUALITY_METRICS = QUALITY_MAX + QUALITY_MIN
CLASSIFICATION_METRICS = _names(kind="quality", tasks=("classification",))
REGRESSION_METRICS = _names(kind="quality", tasks=("regression",))

# Measures read from [resources]; the ones that depend on the machine they were measured on
# are HARDWARE_MEASURES (model size does not: the same artifact has the same size anywhere).
RESOURCE_MEASURES = _names(kind="resource")
HARDWARE_MEASURES = frozenset(_names(hardware=True))

# "max": higher is better; "min": lower is better. Quality metrics first (higher-is-better ones,
# then the errors), then the rest in registry order.
MEASURE_DIRECTIONS: dict[str, str] = {
    name: REGISTRY[name].direction
    for name in QUALITY_METRICS + tuple(n for n in REGISTRY if n not in QUALITY_METRICS)
}

SPLITS = ("validation", "test")

REGRESSION_ONLY = frozenset(REGRESSION_METRICS)
CLASSIFICATION_ONLY = frozenset(CLASSIFICATION_METRICS)
# Quality metrics defined for two classes only (brier is the binary score of the positive class).
BINARY_ONLY = frozenset(_names(binary_only=True))
FAIRNESS_MEASURES = frozenset(_names(kind="fairness"))
EDGE_MEASURES = frozenset(_names(kind="edge"))
# Metrics computed from predicted probabilities (a model without predict_proba lacks them).
PROBABILITY_METRICS = _names(needs_proba=True)
# Metrics in a fixed range; the others (errors in the target's units, log loss) are unbounded.
UNBOUNDED_METRICS = frozenset(n for n in QUALITY_METRICS if not REGISTRY[n].bounded)
# Metrics that look at each class (a group of the fairness table needs rows of every class).
PER_CLASS_METRICS = frozenset(_names(per_class=True))
# The quality metrics in the order the snapshot card shows them (after the primary one).
CARD_QUALITY = tuple(sorted(QUALITY_METRICS, key=lambda n: REGISTRY[n].card or 0))
# The resources the card shows, in order.
CARD_RESOURCES = tuple(
    sorted(
        (n for n in RESOURCE_MEASURES if REGISTRY[n].card is not None),
        key=lambda n: REGISTRY[n].card or 0,
    )
)


def metrics_of(task: str) -> tuple[str, ...]:
    """The quality metrics of a task, in registry order (the order a snapshot lists them)."""
    return CLASSIFICATION_METRICS if task == "classification" else REGRESSION_METRICS


def task_of(metric: str) -> str | None:
    """The task a quality metric belongs to; None for measures of either task."""
    measure = REGISTRY.get(metric)
    if measure is None or measure.kind != "quality" or len(measure.tasks) != 1:
        return None
    return measure.tasks[0]


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


# table -> ((name, key), ...) of the measures read as one number from one table, in registry
# order; quality metrics and edge cases are read apart. The overfitting gap reads as
# [checks].overfit_flag does: how much worse test is than validation (a better test score is no
# overfitting, so it counts as 0).
_TABLE_MEASURES: dict[str, tuple[tuple[str, str], ...]] = {}
for _measure in REGISTRY.values():
    if _measure.kind not in ("quality", "edge"):
        _where, _key = _measure.where.split(".")
        _TABLE_MEASURES[_where] = (*_TABLE_MEASURES.get(_where, ()), (_measure.name, _key))
del _measure, _where, _key


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
    for table, entries in _TABLE_MEASURES.items():
        values = _table(snapshot, table)
        for name, key in entries:
            number = _number(values.get(key))
            if number is not None:
                out[name] = number if name != "overfit_gap" else max(number, 0.0)
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
