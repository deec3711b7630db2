"""The typed records: what a snapshot that passed ``schema.validate_snapshot`` holds
(docs/snapshot-format.md) and what ``records.index.summary_row`` makes of it.

For the type checker: plain dicts at run time. Modules on the fast path import these names
under ``TYPE_CHECKING`` only, so defining them costs ``ls``, ``rank`` and the TUI nothing. A
reader still ignores keys it does not know; tests/core/test_typed_records.py holds these shapes
to the validator and to ``summary_row``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, NotRequired, Required, TypedDict


class SnapshotModel(TypedDict):
    estimator: str
    params: dict[str, Any]
    artifact: str
    artifact_sha256: str
    size_bytes: int
    source: NotRequired[str]  # "project" | "python"
    search: NotRequired[dict[str, Any]]  # grid, best, metric, scores


class SnapshotData(TypedDict):
    dataset_sha256: str
    split_sha256: str
    seed: int
    n_train: int
    n_validation: int
    n_test: int
    source: NotRequired[str]
    target: NotRequired[str]
    task: NotRequired[str]  # "classification" | "regression"
    classes: NotRequired[list[str]]
    positive_label: NotRequired[str]


class SnapshotMetrics(TypedDict):
    validation: dict[str, float]
    test: dict[str, float]
    test_ci: NotRequired[dict[str, list[float]]]  # [low, high] per test metric
    test_ci_method: NotRequired[str]  # "multinomial" | "little-bags"
    test_ci_resamples: NotRequired[int]


class SnapshotPredictions(TypedDict):
    path: str
    sha256: str


class SnapshotResources(TypedDict, total=False):
    fit_seconds: Required[float]
    fit_cpu_seconds: float
    fit_measured: bool
    size_mb: float
    latency_p50_ms: float
    latency_p95_ms: float
    latency_p99_ms: float
    latency_mean_ms: float
    latency_iqr_ms: float
    latency_min_ms: float
    latency_trials: int
    latency_warmup: int
    batch_size: int
    batch_latency_ms: float
    throughput_rows_per_s: float
    peak_memory_fit_mb: float
    peak_memory_predict_mb: float
    peak_memory_mb: float
    latency_model_p50_ms: float  # the estimator alone on preprocessed rows (docs/profiler.md)
    latency_model_p95_ms: float
    latency_model_p99_ms: float
    preprocess_share: float  # 0..1 of the pipeline's p50
    memory_method: str
    threads: dict[str, int]


class Snapshot(TypedDict):
    """A snapshot file's content (schema 1), as ``records.store`` returns it once valid."""

    schema: int
    id: str
    name: str
    kind: str  # "baseline" | "candidate"
    version: str
    created_at: str
    criteria_revision: int
    notes: str
    model: SnapshotModel
    data: SnapshotData
    metrics: SnapshotMetrics
    predictions: SnapshotPredictions
    resources: SnapshotResources
    environment: dict[str, Any]
    hardware: dict[str, Any]
    reprofile_of: NotRequired[str]
    constraints: NotRequired[dict[str, dict[str, Any]]]  # measure -> value, limit, ok, over
    gain: NotRequired[dict[str, Any]]
    interpretability: NotRequired[dict[str, Any]]
    fairness: NotRequired[dict[str, Any]]
    edge_cases: NotRequired[dict[str, Any]]
    checks: NotRequired[dict[str, Any]]
    # Where the model came from when not fitted here: an MLflow run ("tool") or a Dask worker
    # ("executor"); records/schema.py checks both kinds.
    origin: NotRequired[dict[str, Any]]


class IndexConstraints(TypedDict):
    ok: bool | None  # None when no constraint was checked
    flags: dict[str, bool | None]
    reasons: list[str]


class IndexRow(TypedDict):
    """One snapshot's summary row (``records.index.summary_row``): all ``ls``, ``rank`` and
    ``review`` read, JSON-safe, so they never reopen the TOML."""

    id: str
    name: str
    kind: str
    version: str
    created_at: str
    criteria_revision: int | None
    reprofile_of: str | None
    task: str | None
    primary_metric: str | None
    dataset_sha256: str | None
    split_sha256: str | None
    hardware_fingerprint: str | None
    python: str | None
    sklearn: str | None
    estimator: str | None
    size_mb: float | None
    latency_p95_ms: float | None
    # split -> measure -> value (read only; from the index a PackedMeasures, decoded on access)
    measures: dict[str, Mapping[str, float]]
    constraints: IndexConstraints
    gain: dict[str, str | int | float]
    edge_cases: dict[str, int]
    fairness_max_gap: float | None
    interpretability: float | None
    overfit_gap: float | None
    overfit_flag: bool
    leakage: list[str]
