"""modelsnap.toml's shape: the names it accepts and the dataclasses a checked file becomes.

Plain data, no checking (``project.parse``) and no writing (``project.edit``). On the fast path:
imports nothing heavier than the error classes and the measure table.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from modelsnap.core.errors import ProjectFileError

# The measure namespace (docs/project-file.md): names, directions and tasks come from the
# registry in core.measures.
from modelsnap.core.measures import CLASSIFICATION_METRICS, REGRESSION_METRICS

PROJECT_FILE = "modelsnap.toml"
EXECUTORS = ("local", "dask")  # [run].executor: where fits run
TASKS = ("classification", "regression")
SKLEARN_DATASETS = ("breast_cancer", "iris", "wine", "diabetes")

# Hard constraints (docs/project-file.md [constraints]); every one is a number except min_metric.
CONSTRAINT_KEYS: dict[str, str] = {
    "max_latency_p95_ms": "a number > 0",
    "max_latency_model_p95_ms": "a number > 0",
    "max_size_mb": "a number > 0",
    "max_peak_memory_mb": "a number > 0",
    "min_gain_over_baseline": "a number",
    "max_fit_seconds": "a number > 0",
    "min_throughput_rows_per_s": "a number > 0",
    "max_fairness_gap": "a number >= 0",
    "min_interpretability": "a number in [0, 1]",
    "max_overfit_gap": "a number >= 0",
    "min_metric": "a table of quality metric = minimum value",
}

PREPROCESS_CHOICES: dict[str, tuple[str, ...]] = {
    "numeric_impute": ("mean", "median", "most_frequent", "none"),
    "numeric_scale": ("standard", "minmax", "robust", "none"),
    "categorical_impute": ("most_frequent", "constant", "none"),
    "categorical_encode": ("onehot", "ordinal"),
}
PROFILE_NAMES = ("speed-first", "accuracy-first", "interpretability-first", "balanced", "custom")
RANK_SPLITS = ("validation", "test")
MAX_GRID_POINTS = 64


# More threads than this is never useful on one machine and can exhaust it (each BLAS/OpenMP
# pool thread has its own stack); a fixed cap keeps a project file valid on every machine.
MAX_THREADS = 256


def quality_metrics(task: str | None) -> tuple[str, ...]:
    """The quality metrics of ``task`` (both tasks' when it is not known yet)."""
    if task == "classification":
        return CLASSIFICATION_METRICS
    if task == "regression":
        return REGRESSION_METRICS
    return CLASSIFICATION_METRICS + REGRESSION_METRICS


@dataclass
class DataConfig:
    source: str
    target: str
    task: str | None = None
    positive_label: str | None = None
    seed: int = 42
    validation_fraction: float = 0.2
    test_fraction: float = 0.2
    stratify: bool = True
    drop: list[str] = field(default_factory=list)
    sensitive: list[str] = field(default_factory=list)
    suspect_features: list[str] = field(default_factory=list)
    edge_cases: str | None = None

    @property
    def is_sklearn(self) -> bool:
        return self.source.startswith("sklearn:")


@dataclass
class PreprocessConfig:
    numeric_impute: str = "median"
    numeric_scale: str = "standard"
    categorical_impute: str = "most_frequent"
    categorical_encode: str = "onehot"
    max_categories: int = 20


@dataclass
class SelectionConfig:
    profile: str = "balanced"
    primary_metric: str | None = None
    rank_split: str = "validation"


@dataclass(frozen=True, slots=True)
class Criterion:
    """One ``[[criteria]]`` entry, checked when it was made (``project.parse`` for the project
    file, ``selection.ranking.make_criteria`` for a locked revision's, a profile's or a
    what-if's), so nothing downstream checks it again. The one criterion class of modelsnap."""

    metric: str
    weight: float
    direction: str  # "max" or "min"


@dataclass
class RunConfig:
    timeout_seconds: float = 600.0
    memory_limit_mb: float = 4096.0
    latency_trials: int = 300
    latency_warmup: int = 20
    batch_size: int = 256
    threads: int = 1
    executor: str = "local"  # where fits run: "local" | "dask" (docs/distributed.md)
    scheduler: str | None = None  # the Dask scheduler's address, tcp://HOST:PORT


@dataclass
class MonitoringConfig:
    """``[monitoring]``: when ``modelsnap monitor`` calls a decision drifted (project-file.md)."""

    psi_watch: float = 0.1  # PSI of a numeric feature from which it is named as moving
    psi_drift: float = 0.25  # PSI of a numeric feature from which the input has drifted
    share_change: float = 0.1  # a category's share moved this much (absolute): drifted
    label_shift: float = 0.1  # a class's share (or the target's PSI, regression) moved this much
    min_rows: int = 30  # fewer labelled rows than this give no figure at all


@dataclass
class ModelSpec:
    name: str
    estimator: str
    params: dict[str, Any] = field(default_factory=dict)
    grid: dict[str, list[Any]] | None = None
    version: str = "v1"
    kind: str = "candidate"
    timeout_seconds: float | None = None
    memory_limit_mb: float | None = None


@dataclass
class ProjectConfig:
    root: Path
    name: str
    data: DataConfig
    preprocess: PreprocessConfig
    selection: SelectionConfig
    criteria: list[Criterion]
    constraints: dict[str, Any]
    run: RunConfig
    baseline: ModelSpec | None
    candidates: list[ModelSpec]
    description: str = ""
    monitoring: MonitoringConfig = field(default_factory=MonitoringConfig)

    @property
    def path(self) -> Path:
        return self.root / PROJECT_FILE

    @property
    def models(self) -> list[ModelSpec]:
        """Baseline first, then candidates in file order."""
        return ([self.baseline] if self.baseline else []) + list(self.candidates)

    def model(self, name: str) -> ModelSpec:
        for spec in self.models:
            if spec.name == name:
                return spec
        known = ", ".join(spec.name for spec in self.models) or "none"
        raise ProjectFileError(
            f"no model named {name!r}", where=PROJECT_FILE, hint=f"models in this project: {known}"
        )

    @property
    def primary_metric(self) -> str:
        """The primary quality metric; defaults by task (f1 / r2) when the file leaves it out."""
        if self.selection.primary_metric:
            return self.selection.primary_metric
        return "r2" if self.data.task == "regression" else "f1"
