"""modelsnap.toml: load and validate it into dataclasses, write a new one, edit it keeping comments.

Every key is checked here, once, so the rest of the tool can trust a ``ProjectConfig``. A bad
file gets exactly one ``ProjectFileError`` naming the file, the key, what was found and what was
expected. This module is on the fast path (``ls``, ``rank``, the TUI's first screen): it must not
import pandas, scikit-learn or scipy.
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from modelsnap.core.errors import PathError, ProjectFileError
from modelsnap.core.files import (
    PROJECT_TOML_LIMIT,
    atomic_write_bytes,
    inside,
    parse_toml,
    read_regular,
    safe_name,
)
from modelsnap.core.measures import MEASURE_DIRECTIONS as _MEASURE_DIRECTIONS

PROJECT_FILE = "modelsnap.toml"
TASKS = ("classification", "regression")
SKLEARN_DATASETS = ("breast_cancer", "iris", "wine", "diabetes")

CLASSIFICATION_METRICS: tuple[str, ...] = (
    "accuracy",
    "balanced_accuracy",
    "precision",
    "recall",
    "f1",
    "roc_auc",
    "log_loss",
    "brier",
)
REGRESSION_METRICS: tuple[str, ...] = ("r2", "mae", "rmse")

# The measure namespace (docs/project-file.md): name -> the direction that is better. One table,
# kept in core.measures, which extracts the measures from snapshots.
MEASURE_DIRECTIONS = _MEASURE_DIRECTIONS

# Hard constraints (docs/project-file.md [constraints]); every one is a number except min_metric.
CONSTRAINT_KEYS: dict[str, str] = {
    "max_latency_p95_ms": "a number > 0",
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

_DOTTED = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)+$")


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


@dataclass
class Criterion:
    metric: str
    weight: float
    direction: str


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


# --------------------------------------------------------------------------------------- checks


def _show(value: Any) -> str:
    """Render a found value the way the user wrote it in TOML."""
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dict):
        return "a table"
    if isinstance(value, list):
        return "an array" if value else "an empty array"
    return str(value)


def _fail(
    key: str, expected: str, found: Any = None, *, missing: bool = False, hint: str | None = None
) -> ProjectFileError:
    message = (
        f"expected {expected}, found nothing"
        if missing
        else f"expected {expected}, found {_show(found)}"
    )
    return ProjectFileError(message, where=f"{PROJECT_FILE}: {key}", hint=hint)


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def _table(doc: dict[str, Any], name: str, allowed: set[str]) -> dict[str, Any]:
    """The optional table ``[name]`` of ``doc`` ({} when absent), with its keys checked."""
    value = doc.get(name, {})
    if not isinstance(value, dict):
        raise _fail(f"[{name}]", "a table", value)
    return _known_keys(value, allowed, f"[{name}]")


def _known_keys(table: dict[str, Any], allowed: set[str], label: str) -> dict[str, Any]:
    """Refuse keys modelsnap does not know: a typo must not silently fall back to a default."""
    unknown = sorted(set(table) - allowed)
    if unknown:
        raise ProjectFileError(
            f"unknown key{'s' if len(unknown) > 1 else ''} {', '.join(unknown)}",
            where=f"{PROJECT_FILE}: {label}",
            hint=f"known keys: {', '.join(sorted(allowed))}",
        )
    return table


def _str(
    table: dict,
    name: str,
    key: str,
    *,
    required: bool = False,
    default: str | None = None,
    choices: tuple[str, ...] | None = None,
) -> str | None:
    if name not in table:
        if required:
            raise _fail(
                key, "a non-empty string" if not choices else _one_of(choices), missing=True
            )
        return default
    value = table[name]
    if choices is not None:
        if value not in choices:
            raise _fail(key, _one_of(choices), value)
        return value
    if not isinstance(value, str) or (required and not value.strip()):
        raise _fail(key, "a non-empty string" if required else "a string", value)
    return value


def _one_of(choices: tuple[str, ...]) -> str:
    return "one of " + ", ".join(json.dumps(c) for c in choices)


# More threads than this is never useful on one machine and can exhaust it (each BLAS/OpenMP
# pool thread has its own stack); a fixed cap keeps a project file valid on every machine.
MAX_THREADS = 256


def _number(
    table: dict,
    name: str,
    key: str,
    default: float | None,
    *,
    minimum: float | None = None,
    exclusive: bool = True,
    maximum: float | None = None,
    integer: bool = False,
    expected: str | None = None,
) -> Any:
    if name not in table:
        return default
    value = table[name]
    words = expected or _number_words(minimum, exclusive, maximum, integer)
    if not _is_number(value) or (integer and not isinstance(value, int)):
        raise _fail(key, words, value)
    if minimum is not None and (value <= minimum if exclusive else value < minimum):
        raise _fail(key, words, value)
    if maximum is not None and value > maximum:
        raise _fail(key, words, value)
    return int(value) if integer else float(value)


def _number_words(minimum, exclusive, maximum, integer) -> str:
    noun = "an integer" if integer else "a number"
    if minimum is not None and maximum is not None:
        return f"{noun} in {'(' if exclusive else '['}{_fmt(minimum)}, {_fmt(maximum)}]"
    if minimum is not None:
        return f"{noun} {'>' if exclusive else '>='} {_fmt(minimum)}"
    return noun


def _fmt(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else str(value)


def _str_list(table: dict, name: str, key: str) -> list[str]:
    value = table.get(name, [])
    if not isinstance(value, list) or not all(isinstance(v, str) and v for v in value):
        raise _fail(key, "an array of column names (strings)", value)
    duplicates = sorted({v for v in value if value.count(v) > 1})
    if duplicates:
        raise _fail(key, "each column once", ", ".join(duplicates) + " repeated")
    return list(value)


def _relative_path(value: str, root: Path, key: str) -> str:
    try:
        inside(root, value, what="path")
    except PathError as exc:
        raise ProjectFileError(
            exc.message,
            where=f"{PROJECT_FILE}: {key}",
            hint="give a path relative to the project folder, inside it",
        ) from None
    return value


# ------------------------------------------------------------------------------------- sections


def _parse_data(doc: dict, root: Path) -> DataConfig:
    allowed = {
        "source",
        "target",
        "task",
        "positive_label",
        "seed",
        "validation_fraction",
        "test_fraction",
        "stratify",
        "drop",
        "sensitive",
        "suspect_features",
        "edge_cases",
    }
    if "data" not in doc:
        raise _fail("[data]", "a [data] table with source and target", missing=True)
    table = _table(doc, "data", allowed)
    source = _str(table, "source", "[data].source", required=True)
    if source.startswith("sklearn:"):
        name = source.split(":", 1)[1]
        if name not in SKLEARN_DATASETS:
            raise _fail(
                "[data].source",
                "a CSV path or one of " + ", ".join(f'"sklearn:{n}"' for n in SKLEARN_DATASETS),
                source,
            )
    else:
        _relative_path(source, root, "[data].source")
    target = _str(table, "target", "[data].target", required=True)
    task = _str(table, "task", "[data].task", choices=TASKS)
    positive = table.get("positive_label")
    if positive is not None and (isinstance(positive, (dict, list, float)) or positive == ""):
        raise _fail("[data].positive_label", "a class label (string, integer or boolean)", positive)
    if isinstance(positive, bool):
        positive = "True" if positive else "False"
    seed = _number(table, "seed", "[data].seed", 42, minimum=0, exclusive=False, integer=True)
    val = _number(
        table,
        "validation_fraction",
        "[data].validation_fraction",
        0.2,
        minimum=0,
        maximum=1,
        expected="a fraction in (0, 1)",
    )
    test = _number(
        table,
        "test_fraction",
        "[data].test_fraction",
        0.2,
        minimum=0,
        maximum=1,
        expected="a fraction in (0, 1)",
    )
    for name, value in (("validation_fraction", val), ("test_fraction", test)):
        if value >= 1:
            raise _fail(f"[data].{name}", "a fraction in (0, 1)", value)
    if val + test >= 1:
        raise _fail(
            "[data].validation_fraction + test_fraction",
            "a sum < 1 (rows must remain for training)",
            round(val + test, 10),
        )
    stratify = table.get("stratify", True)
    if not isinstance(stratify, bool):
        raise _fail("[data].stratify", "true or false", stratify)
    drop = _str_list(table, "drop", "[data].drop")
    if target in drop:
        raise _fail("[data].drop", "feature columns only, not the target", target)
    sensitive = _str_list(table, "sensitive", "[data].sensitive")
    if target in sensitive:
        raise _fail("[data].sensitive", "feature columns only, not the target", target)
    suspect = _str_list(table, "suspect_features", "[data].suspect_features")
    edge = _str(table, "edge_cases", "[data].edge_cases")
    if edge is not None:
        if not edge:
            raise _fail("[data].edge_cases", "a CSV path relative to the project folder", edge)
        _relative_path(edge, root, "[data].edge_cases")
    return DataConfig(
        source=source,
        target=target,
        task=task,
        positive_label=None if positive is None else str(positive),
        seed=seed,
        validation_fraction=val,
        test_fraction=test,
        stratify=stratify,
        drop=drop,
        sensitive=sensitive,
        suspect_features=suspect,
        edge_cases=edge,
    )


def _parse_preprocess(doc: dict) -> PreprocessConfig:
    table = _table(doc, "preprocess", set(PREPROCESS_CHOICES) | {"max_categories"})
    values = {
        name: _str(
            table,
            name,
            f"[preprocess].{name}",
            default=getattr(PreprocessConfig, name),
            choices=choices,
        )
        for name, choices in PREPROCESS_CHOICES.items()
    }
    max_categories = _number(
        table,
        "max_categories",
        "[preprocess].max_categories",
        20,
        minimum=2,
        exclusive=False,
        integer=True,
    )
    return PreprocessConfig(**values, max_categories=max_categories)


def _metrics_for(task: str | None) -> tuple[str, ...]:
    if task == "classification":
        return CLASSIFICATION_METRICS
    if task == "regression":
        return REGRESSION_METRICS
    return CLASSIFICATION_METRICS + REGRESSION_METRICS


def _parse_selection(doc: dict, task: str | None) -> SelectionConfig:
    table = _table(doc, "selection", {"profile", "primary_metric", "rank_split"})
    profile = _str(
        table, "profile", "[selection].profile", default="balanced", choices=PROFILE_NAMES
    )
    quality = _metrics_for(task)
    primary = _str(table, "primary_metric", "[selection].primary_metric", choices=quality)
    rank_split = _str(
        table, "rank_split", "[selection].rank_split", default="validation", choices=RANK_SPLITS
    )
    return SelectionConfig(profile=profile, primary_metric=primary, rank_split=rank_split)


def _parse_criteria(doc: dict, task: str | None) -> list[Criterion]:
    value = doc.get("criteria", [])
    if not isinstance(value, list):
        raise _fail("[[criteria]]", "an array of tables ([[criteria]])", value)
    other_task = set(_metrics_for(None)) - set(_metrics_for(task))
    known = tuple(name for name in MEASURE_DIRECTIONS if name not in other_task)
    criteria: list[Criterion] = []
    for number, item in enumerate(value, start=1):
        key = f"[[criteria]] #{number}"
        if not isinstance(item, dict):
            raise _fail(key, "a table with metric, weight and direction", item)
        _known_keys(item, {"metric", "weight", "direction"}, key)
        metric = _str(item, "metric", f"{key}.metric", required=True)
        if metric not in known:
            raise _fail(
                f"{key}.metric",
                "a measure name",
                metric,
                hint=f"measures for this task: {', '.join(known)}",
            )
        if "weight" not in item:
            raise _fail(f"{key}.weight", "a number >= 0", missing=True)
        weight = _number(item, "weight", f"{key}.weight", None, minimum=0, exclusive=False)
        direction = _str(
            item,
            "direction",
            f"{key}.direction",
            default=MEASURE_DIRECTIONS[metric],
            choices=("max", "min"),
        )
        if any(c.metric == metric for c in criteria):
            raise _fail(f"{key}.metric", "each measure once", metric)
        criteria.append(Criterion(metric=metric, weight=weight, direction=direction))
    if criteria and not any(c.weight > 0 for c in criteria):
        raise _fail("[[criteria]].weight", "at least one weight > 0", "all weights 0")
    return criteria


def _parse_constraints(doc: dict, task: str | None) -> dict[str, Any]:
    table = _table(doc, "constraints", set(CONSTRAINT_KEYS))
    constraints: dict[str, Any] = {}
    for name, value in table.items():
        key = f"[constraints].{name}"
        if name == "min_metric":
            constraints[name] = check_min_metric(value, task)
        elif name == "min_gain_over_baseline":
            constraints[name] = _number(table, name, key, None)
        elif name in ("max_fairness_gap", "max_overfit_gap"):
            constraints[name] = _number(table, name, key, None, minimum=0, exclusive=False)
        elif name == "min_interpretability":
            constraints[name] = _number(
                table, name, key, None, minimum=0, exclusive=False, maximum=1
            )
        else:
            constraints[name] = _number(table, name, key, None, minimum=0)
    return constraints


def check_min_metric(value: Any, task: str | None) -> dict[str, float]:
    """``[constraints].min_metric``: a table of quality metric (of ``task``) = minimum value.
    The project-file check, also used by the TUI's editor of these limits before it writes."""
    key = "[constraints].min_metric"
    if not isinstance(value, dict):
        raise _fail(key, CONSTRAINT_KEYS["min_metric"], value)
    quality = _metrics_for(task)
    minimums: dict[str, float] = {}
    for metric in value:
        if metric not in quality:
            raise _fail(f"{key}.{metric}", "a quality metric (" + ", ".join(quality) + ")", metric)
        minimums[metric] = _number(value, metric, f"{key}.{metric}", None)
    return minimums


def quality_metrics(task: str | None) -> tuple[str, ...]:
    """The quality metrics of ``task`` (both tasks' when it is not known yet)."""
    return _metrics_for(task)


def _parse_run(doc: dict) -> RunConfig:
    allowed = {
        "timeout_seconds",
        "memory_limit_mb",
        "latency_trials",
        "latency_warmup",
        "batch_size",
        "threads",
        "executor",
        "scheduler",
    }
    table = _table(doc, "run", allowed)
    scheduler = table.get("scheduler")
    if scheduler is not None:
        scheduler = check_scheduler_address(scheduler, "[run].scheduler")
    return RunConfig(
        executor=_str(table, "executor", "[run].executor", default="local", choices=EXECUTORS),
        scheduler=scheduler,
        timeout_seconds=_number(
            table, "timeout_seconds", "[run].timeout_seconds", 600.0, minimum=0
        ),
        memory_limit_mb=_number(
            table, "memory_limit_mb", "[run].memory_limit_mb", 4096.0, minimum=0
        ),
        latency_trials=_number(
            table,
            "latency_trials",
            "[run].latency_trials",
            300,
            minimum=1,
            exclusive=False,
            integer=True,
        ),
        latency_warmup=_number(
            table,
            "latency_warmup",
            "[run].latency_warmup",
            20,
            minimum=0,
            exclusive=False,
            integer=True,
        ),
        batch_size=_number(
            table, "batch_size", "[run].batch_size", 256, minimum=1, exclusive=False, integer=True
        ),
        threads=_number(
            table,
            "threads",
            "[run].threads",
            1,
            minimum=1,
            exclusive=False,
            integer=True,
            maximum=MAX_THREADS,
        ),
    )


EXECUTORS = ("local", "dask")
_SCHEDULER_ADDRESS = re.compile(
    r"^(tcp|tls|ucx|ws|wss)://(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9]([A-Za-z0-9.\-]*[A-Za-z0-9])?):(\d{1,5})$"
)


def check_scheduler_address(value: Any, key: str = "[run].scheduler") -> str:
    """A Dask scheduler address ``PROTOCOL://HOST:PORT`` (tcp, tls, ucx, ws, wss), or
    ProjectFileError saying what was found and what is expected."""
    match = _SCHEDULER_ADDRESS.fullmatch(value) if isinstance(value, str) else None
    if match is None or not 0 < int(match.group(4)) < 65536:
        raise _fail(
            key,
            'a Dask scheduler address such as "tcp://10.0.0.5:8786"',
            value,
            hint="the address `dask scheduler` prints: protocol://host:port",
        )
    return value


def _parse_monitoring(doc: dict) -> MonitoringConfig:
    table = _table(
        doc, "monitoring", {"psi_watch", "psi_drift", "share_change", "label_shift", "min_rows"}
    )
    defaults = MonitoringConfig()
    values = {
        name: _number(table, name, f"[monitoring].{name}", getattr(defaults, name), minimum=0)
        for name in ("psi_watch", "psi_drift", "share_change", "label_shift")
    }
    if values["psi_watch"] > values["psi_drift"]:
        raise _fail(
            "[monitoring].psi_watch",
            f"a number <= psi_drift ({_fmt(values['psi_drift'])})",
            values["psi_watch"],
        )
    for name in ("share_change", "label_shift"):
        if values[name] > 1:
            raise _fail(f"[monitoring].{name}", "a number in (0, 1]", values[name])
    min_rows = _number(
        table,
        "min_rows",
        "[monitoring].min_rows",
        defaults.min_rows,
        minimum=2,
        exclusive=False,
        integer=True,
    )
    return MonitoringConfig(min_rows=min_rows, **values)


def _parse_model(item: Any, key: str, kind: str) -> ModelSpec:
    if not isinstance(item, dict):
        raise _fail(key, "a table with name and estimator", item)
    allowed = {
        "name",
        "estimator",
        "params",
        "grid",
        "version",
        "timeout_seconds",
        "memory_limit_mb",
    }
    _known_keys(item, allowed, key)
    name = _str(item, "name", f"{key}.name", required=True)
    try:
        safe_name(name, what="model name")
    except PathError as exc:
        raise ProjectFileError(
            exc.message, where=f"{PROJECT_FILE}: {key}.name", hint=exc.hint
        ) from None
    estimator = _str(item, "estimator", f"{key}.estimator", required=True)
    if not _DOTTED.match(estimator):
        raise _fail(
            f"{key}.estimator",
            'a dotted import path like "sklearn.linear_model.LogisticRegression"',
            estimator,
        )
    params = item.get("params", {})
    if not isinstance(params, dict):
        raise _fail(f"{key}.params", "a table of estimator parameters", params)
    grid = item.get("grid")
    if grid is not None:
        if not isinstance(grid, dict) or not grid:
            raise _fail(f"{key}.grid", "a table of parameter = [values]", grid)
        points = 1
        for param, values in grid.items():
            if not isinstance(values, list) or not values:
                raise _fail(f"{key}.grid.{param}", "a non-empty array of values", values)
            if param in params:
                raise _fail(f"{key}.grid.{param}", "a parameter not also fixed in params", param)
            points *= len(values)
        if points > MAX_GRID_POINTS:
            raise _fail(
                f"{key}.grid",
                f"at most {MAX_GRID_POINTS} grid points (a small grid)",
                f"{points} points",
            )
    version = _str(item, "version", f"{key}.version", default="v1")
    if not version:
        raise _fail(f"{key}.version", "a non-empty tag", version)
    return ModelSpec(
        name=name,
        estimator=estimator,
        params=dict(params),
        grid=None if grid is None else {k: list(v) for k, v in grid.items()},
        version=version,
        kind=kind,
        timeout_seconds=_number(item, "timeout_seconds", f"{key}.timeout_seconds", None, minimum=0),
        memory_limit_mb=_number(item, "memory_limit_mb", f"{key}.memory_limit_mb", None, minimum=0),
    )


def parse_project(doc: dict[str, Any], root: Path) -> ProjectConfig:
    """Validate an already-parsed modelsnap.toml document (``load_project`` without the reading),
    so writers can check a document before anything reaches the disk."""
    root = Path(root)
    known = {
        "project",
        "data",
        "preprocess",
        "selection",
        "criteria",
        "constraints",
        "run",
        "baseline",
        "candidates",
        "monitoring",
    }
    unknown = sorted(set(doc) - known)
    if unknown:
        raise ProjectFileError(
            f"unknown table{'s' if len(unknown) > 1 else ''} {', '.join(unknown)}",
            where=PROJECT_FILE,
            hint=f"known tables: {', '.join(sorted(known))}",
        )
    project = _table(doc, "project", {"name", "description"})
    name = _str(project, "name", "[project].name", default=None) or root.resolve().name
    description = _str(project, "description", "[project].description", default="") or ""
    data = _parse_data(doc, root)
    task = data.task
    baseline = None
    if "baseline" in doc:
        baseline = _parse_model(doc["baseline"], "[baseline]", "baseline")
    raw_candidates = doc.get("candidates", [])
    if not isinstance(raw_candidates, list):
        raise _fail("[[candidates]]", "an array of tables ([[candidates]])", raw_candidates)
    candidates = [
        _parse_model(item, f"[[candidates]] #{number}", "candidate")
        for number, item in enumerate(raw_candidates, start=1)
    ]
    seen: set[str] = set()
    for spec, key in [(baseline, "[baseline]")] + [
        (c, f"[[candidates]] #{n}") for n, c in enumerate(candidates, start=1)
    ]:
        if spec is None:
            continue
        if spec.name in seen:
            raise _fail(f"{key}.name", "a name not used by another model", spec.name)
        seen.add(spec.name)
    return ProjectConfig(
        root=root,
        name=name,
        description=description,
        data=data,
        preprocess=_parse_preprocess(doc),
        selection=_parse_selection(doc, task),
        criteria=_parse_criteria(doc, task),
        constraints=_parse_constraints(doc, task),
        run=_parse_run(doc),
        baseline=baseline,
        candidates=candidates,
        monitoring=_parse_monitoring(doc),
    )


def _read_document(root: Path) -> tuple[str, dict[str, Any]]:
    path = Path(root) / PROJECT_FILE
    try:
        text = read_regular(
            path, what=PROJECT_FILE, limit=PROJECT_TOML_LIMIT, error=ProjectFileError
        ).decode("utf-8")
    except FileNotFoundError:
        raise ProjectFileError(
            f"no {PROJECT_FILE} in {Path(root)}",
            where=str(root),
            hint=f"create one with: modelsnap init {root} --data FILE --target COLUMN",
        ) from None
    except UnicodeDecodeError:
        raise ProjectFileError("the file is not UTF-8 text", where=PROJECT_FILE) from None
    except OSError as exc:
        raise ProjectFileError(f"cannot read it: {exc.strerror}", where=str(path)) from None
    try:
        return text, parse_toml(text, what="the file", where=PROJECT_FILE, error=ProjectFileError)
    except ProjectFileError as exc:
        raise ProjectFileError(
            exc.message, where=PROJECT_FILE, hint=exc.hint or "fix the syntax at the line shown"
        ) from None


def _loads(text: str) -> dict[str, Any]:
    return parse_toml(text, what="the file", where=PROJECT_FILE, error=ProjectFileError)


def load_project(root: Path) -> ProjectConfig:
    """Read and validate ``root/modelsnap.toml``. Raises ProjectFileError on any invalid key."""
    _, doc = _read_document(Path(root))
    return parse_project(doc, Path(root))


# ------------------------------------------------------------------------------- a new project

# Column names that conventionally hold what a data set predicts, most telling first. The set-up
# proposes the first column whose whole name (any case, spaces and dashes as underscores) is one
# of these, then one that has one as a whole word ("loan_default", "is_churn"), else the last.
TARGET_NAMES: tuple[str, ...] = (
    "target",
    "label",
    "class",
    "y",
    "outcome",
    "default",
    "churn",
    "churned",
    "response",
    "diagnosis",
    "survived",
    "fraud",
    "is_fraud",
    "defaulted",
    "result",
    "status",
    "price",
    "quality",
    "species",
)


def _name_words(name: str) -> list[str]:
    spaced = re.sub(r"(?<=[a-z0-9])(?=[A-Z])", "_", str(name))
    return [part for part in re.split(r"[^a-z0-9]+", spaced.lower()) if part]


def guess_target(columns: list[str] | tuple[str, ...]) -> tuple[str, str] | None:
    """(column, why) for the column a data set most likely predicts, or None without columns.

    A whole conventional name wins over a word inside a name, which wins over the last column;
    ``why`` says which rule chose it ("guessed from the name 'target'"), to show beside the guess.
    """
    columns = list(columns)
    if not columns:
        return None
    for wanted in TARGET_NAMES:
        for column in columns:
            if "_".join(_name_words(column)) == wanted:
                return column, f"guessed from the name {column!r}"
    for wanted in TARGET_NAMES:
        if len(wanted) < 3:
            continue  # "y" as a word ("y_pos") says nothing
        for column in columns:
            if wanted in _name_words(column):
                return column, f"guessed from the word {wanted!r} in its name"
    shown = ", ".join(TARGET_NAMES[:6])
    return columns[-1], f"no column is named like a target ({shown}, ...): the last column"


# Each class needs a row in train, validation and test for a stratified split.
MIN_ROWS_PER_CLASS = 3
STRATIFY_OFF_HINT = "set [data].stratify = false"


def check_class_sizes(counts: Any, *, where: str, turn_off: str = STRATIFY_OFF_HINT) -> None:
    """Refuse a stratified split when a class has fewer than MIN_ROWS_PER_CLASS rows.

    ``counts`` maps class label -> rows, in the order classes are reported (the data loader's
    sorted classes). ``turn_off`` is how the reader turns stratifying off where they are (the
    project file, ``init --no-stratify``, the set-up's switch): the message is the same.
    """
    from modelsnap.core.errors import DataError

    for label, rows in counts.items():
        if rows < MIN_ROWS_PER_CLASS:
            raise DataError(
                f"class {label!r} has {rows} row(s): too few to stratify into train, "
                "validation and test",
                where=where,
                hint=f"add rows of that class, merge it with another, or {turn_off}",
            )


def check_new_project(
    root: Path,
    *,
    data_source: str,
    target: str,
    profile: str = "balanced",
    task: str | None = None,
    read_from: Path | None = None,
    turn_off: str = STRATIFY_OFF_HINT,
    **options: Any,
) -> Any:
    """Everything ``init`` and the TUI set-up check before a project file is written: the
    generated file validates, the data loads under the data rules (task inferred when ``task``
    is None) and a split can be drawn. Returns the loaded ``core.data.Dataset``; raises
    ProjectFileError or DataError (nothing is written either way). Imports pandas: call it off
    the UI thread. ``options`` are those of ``build_project_document``.
    """
    from modelsnap.core.data import draw_split, load_dataset

    root = Path(root)

    def config_for(for_task: str, positive: str | None) -> ProjectConfig:
        text = build_project_document(
            data_source=data_source,
            target=target,
            profile=profile,
            task=for_task,
            **{**options, "positive_label": positive},
        )
        return parse_project(_loads(text), root)

    draft = config_for(task or "classification", options.get("positive_label"))
    draft.data.task = task
    dataset = load_dataset(draft, path=read_from)
    draft.data.task = dataset.task
    draw_split(
        dataset,
        seed=draft.data.seed,
        validation_fraction=draft.data.validation_fraction,
        test_fraction=draft.data.test_fraction,
        stratify=draft.data.stratify,
        turn_off=turn_off,
    )
    config_for(dataset.task, dataset.positive_label)
    return dataset


# ---------------------------------------------------------------------------------------- write


def default_models(task: str, seed: int = 42) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """A sensible baseline and three candidates of different families for ``task``.

    Kept small enough that the whole set fits in seconds on a few thousand rows.
    """
    if task == "regression":
        baseline = {
            "name": "linear",
            "estimator": "sklearn.linear_model.LinearRegression",
            "params": {},
        }
        candidates = [
            {
                "name": "random_forest",
                "estimator": "sklearn.ensemble.RandomForestRegressor",
                "params": {"n_estimators": 100, "random_state": seed},
            },
            {
                "name": "hist_gradient_boosting",
                "estimator": "sklearn.ensemble.HistGradientBoostingRegressor",
                "params": {"random_state": seed},
            },
            {
                "name": "mlp",
                "estimator": "sklearn.neural_network.MLPRegressor",
                "params": {
                    "hidden_layer_sizes": [32],
                    "max_iter": 500,
                    "early_stopping": True,
                    "random_state": seed,
                },
            },
        ]
    else:
        baseline = {
            "name": "logistic",
            "estimator": "sklearn.linear_model.LogisticRegression",
            "params": {"max_iter": 1000},
        }
        candidates = [
            {
                "name": "random_forest",
                "estimator": "sklearn.ensemble.RandomForestClassifier",
                "params": {"n_estimators": 100, "random_state": seed},
            },
            {
                "name": "hist_gradient_boosting",
                "estimator": "sklearn.ensemble.HistGradientBoostingClassifier",
                "params": {"random_state": seed},
            },
            {
                "name": "mlp",
                "estimator": "sklearn.neural_network.MLPClassifier",
                "params": {
                    "hidden_layer_sizes": [32],
                    "max_iter": 500,
                    "early_stopping": True,
                    "random_state": seed,
                },
            },
        ]
    return baseline, candidates


def _inline(mapping: dict[str, Any]):
    import tomlkit

    table = tomlkit.inline_table()
    table.update(mapping)
    return table


def build_project_document(
    *,
    data_source: str,
    target: str,
    profile: str = "balanced",
    task: str,
    name: str | None = None,
    positive_label: str | None = None,
    seed: int = 42,
    stratify: bool = True,
    drop: list[str] | tuple[str, ...] = (),
    sensitive: list[str] | tuple[str, ...] = (),
    suspect_features: list[str] | tuple[str, ...] = (),
    edge_cases: str | None = None,
    primary_metric: str | None = None,
    baseline: dict[str, Any] | None = None,
    candidates: list[dict[str, Any]] | None = None,
) -> str:
    """Render a new modelsnap.toml (tomlkit, with short comments) without writing it."""
    import tomlkit

    from modelsnap.core.profiles import DEFAULT_PRIMARY_METRIC, profile_settings

    primary = primary_metric or DEFAULT_PRIMARY_METRIC[task]
    # No sensitive column, no fairness measure: the profile leaves fairness out.
    criteria, constraints = profile_settings(profile, task, primary, fairness=bool(sensitive))
    if baseline is None and candidates is None:
        baseline, candidates = default_models(task, seed)
    doc = tomlkit.document()
    doc.add(tomlkit.comment("modelsnap project file: edit freely; every key is checked on load."))
    doc.add(tomlkit.comment("Format: docs/project-file.md"))
    project = tomlkit.table()
    if name:
        project["name"] = name
    project["description"] = ""
    doc["project"] = project

    data = tomlkit.table()
    data["source"] = data_source
    data["source"].comment("CSV relative to this folder, or sklearn:NAME")
    data["target"] = target
    data["task"] = task
    if positive_label is not None:
        data["positive_label"] = positive_label
        data["positive_label"].comment("the class precision/recall/f1 are about")
    data["seed"] = seed
    data["validation_fraction"] = 0.2
    data["test_fraction"] = 0.2
    data["test_fraction"].comment("the test split only ever gives final metrics")
    flag = tomlkit.item(bool(stratify))
    if not stratify:
        flag.comment("classes are not kept in proportion in each split")
    data["stratify"] = flag
    data["drop"] = list(drop)
    data["drop"].comment("columns never used as features (ids, leaks)")
    data["sensitive"] = list(sensitive)
    data["sensitive"].comment("fairness is reported per group of each")
    data["suspect_features"] = list(suspect_features)
    if edge_cases:
        data["edge_cases"] = edge_cases
    doc["data"] = data

    preprocess = tomlkit.table()
    preprocess.add(tomlkit.comment("the frozen ColumnTransformer every model shares"))
    for key, value in PreprocessConfig().__dict__.items():
        preprocess[key] = value
    doc["preprocess"] = preprocess

    selection = tomlkit.table()
    selection["profile"] = profile
    selection["primary_metric"] = primary
    selection["rank_split"] = "validation"
    selection["rank_split"].comment("rank on validation; test is for final metrics")
    doc["selection"] = selection

    criteria_aot = tomlkit.aot()
    for criterion in criteria:
        item = tomlkit.table()
        item.update(criterion)
        criteria_aot.append(item)
    doc.add(tomlkit.nl())
    doc.add(tomlkit.comment("Criteria: lock them (modelsnap lock) before the first candidate run."))
    doc["criteria"] = criteria_aot

    constraint_table = tomlkit.table()
    constraint_table.add(tomlkit.comment("hard limits: a model over any of them is rejected"))
    for key, value in constraints.items():
        constraint_table[key] = _inline(value) if isinstance(value, dict) else value
    doc["constraints"] = constraint_table

    run = tomlkit.table()
    for key, value in RunConfig().__dict__.items():
        if key in ("executor", "scheduler"):
            continue  # local by default; docs/distributed.md shows how to fit on a cluster
        run[key] = value
    run["threads"].comment("BLAS/OpenMP threads and n_jobs for every model")
    doc["run"] = run

    if baseline is not None:
        base = tomlkit.table()
        for key, value in baseline.items():
            base[key] = _inline(value) if isinstance(value, dict) else value
        doc["baseline"] = base
    if candidates:
        models = tomlkit.aot()
        for candidate in candidates:
            item = tomlkit.table()
            for key, value in candidate.items():
                item[key] = _inline(value) if isinstance(value, dict) else value
            models.append(item)
        doc["candidates"] = models
    return tomlkit.dumps(doc)


def write_new_project(
    root: Path,
    *,
    data_source: str,
    target: str,
    profile: str = "balanced",
    task: str,
    force: bool = False,
    **options: Any,
) -> ProjectConfig:
    """Write a fresh modelsnap.toml (validated before it reaches the disk) and return its config.

    Refuses to replace an existing file unless ``force``. ``options`` are those of
    ``build_project_document`` (name, positive_label, seed, drop, sensitive, ...).
    """
    root = Path(root)
    path = root / PROJECT_FILE
    if path.exists() and not force:
        raise ProjectFileError(
            f"{path} already exists",
            where=str(root),
            hint="pass --force to replace it (snapshots already recorded stay)",
        )
    text = build_project_document(
        data_source=data_source, target=target, profile=profile, task=task, **options
    )
    config = parse_project(_loads(text), root)
    root.mkdir(parents=True, exist_ok=True)
    atomic_write_bytes(root, path, text.encode("utf-8"))
    return config


# ----------------------------------------------------------------------------------------- edit

EDITABLE_SECTIONS = ("criteria", "constraints", "selection", "data")


def _replace_criteria(doc: Any, values: list[dict[str, Any]]) -> None:
    """Rewrite the [[criteria]] tables in place, so comments inside them and the comment block
    that tomlkit attaches to the last table (whatever precedes the next section) survive."""
    import tomlkit

    def fill(table: Any, criterion: dict[str, Any]) -> None:
        wanted = {k: v for k, v in criterion.items() if v is not None}
        for key in [k for k in table if k not in wanted]:
            del table[key]
        for key, value in wanted.items():
            table[key] = value

    existing = doc.get("criteria")
    if not isinstance(existing, tomlkit.items.AoT) or not len(existing) or not values:
        aot = tomlkit.aot()
        for criterion in values:
            item = tomlkit.table()
            fill(item, criterion)
            aot.append(item)
        if "criteria" in doc:
            doc["criteria"] = aot
        else:
            doc.append("criteria", aot)
        return
    while len(existing) > len(values):
        del existing[len(existing) - 2 if len(existing) > 1 else 0]
    while len(existing) < len(values):
        existing.insert(len(existing) - 1, tomlkit.table())
    for table, criterion in zip(existing, values, strict=True):
        fill(table, criterion)


def update_project(root: Path, changes: dict[str, Any]) -> ProjectConfig:
    """Edit modelsnap.toml in place, keeping the user's comments and layout (tomlkit).

    ``changes`` maps a section to new values: ``criteria`` -> a list of {metric, weight,
    direction} (replaces the list); ``constraints``, ``selection``, ``data`` -> {key: value}
    (a value of None removes the key). The edited document is validated before it is written
    atomically, so a bad edit leaves the file as it was.
    """
    import tomlkit

    root = Path(root)
    unknown = sorted(set(changes) - set(EDITABLE_SECTIONS))
    if unknown:
        raise ProjectFileError(
            f"cannot edit {', '.join(unknown)}",
            where=PROJECT_FILE,
            hint=f"editable sections: {', '.join(EDITABLE_SECTIONS)}",
        )
    text, _ = _read_document(root)
    doc = tomlkit.parse(text)
    for section, values in changes.items():
        if section == "criteria":
            if not isinstance(values, list):
                raise _fail("[[criteria]]", "a list of criteria", values)
            _replace_criteria(doc, [dict(c) for c in values])
            continue
        if not isinstance(values, dict):
            raise _fail(f"[{section}]", "a table of key = value", values)
        if section not in doc:
            doc[section] = tomlkit.table()
        table = doc[section]
        for key, value in values.items():
            if value is None:
                if key in table:
                    del table[key]
            elif isinstance(value, dict):
                table[key] = _inline(value)
            else:
                table[key] = value
    new_text = tomlkit.dumps(doc)
    config = parse_project(_loads(new_text), root)
    atomic_write_bytes(root, root / PROJECT_FILE, new_text.encode("utf-8"))
    return config


def save_model(root: Path, spec: dict[str, Any], *, kind: str) -> ProjectConfig:
    """Set ``[baseline]`` (kind "baseline") or add/replace the ``[[candidates]]`` entry with
    ``spec["name"]`` (kind "candidate"), keeping comments; validated before it is written.

    The TUI's model chooser uses this, so a model added there is an ordinary project-file entry.
    """
    import tomlkit

    if kind not in ("baseline", "candidate"):
        raise ValueError(f"kind must be 'baseline' or 'candidate', not {kind!r}")
    root = Path(root)
    text, _ = _read_document(root)
    doc = tomlkit.parse(text)
    item = tomlkit.table()
    for key, value in spec.items():
        if value is not None:
            item[key] = _inline(value) if isinstance(value, dict) else value
    if kind == "baseline":
        doc["baseline"] = item
    else:
        models = doc.get("candidates")
        if models is None:
            models = tomlkit.aot()
            models.append(item)
            doc.append("candidates", models)
        else:
            names = [entry.get("name") for entry in models]
            if spec.get("name") in names:
                models[names.index(spec.get("name"))] = item
            else:
                models.append(item)
    new_text = tomlkit.dumps(doc)
    config = parse_project(_loads(new_text), root)
    atomic_write_bytes(root, root / PROJECT_FILE, new_text.encode("utf-8"))
    return config
