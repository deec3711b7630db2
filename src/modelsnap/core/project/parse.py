"""modelsnap.toml -> ProjectConfig: read it, check every key, once.

The rest of the tool can trust a ``ProjectConfig``. A bad file gets exactly one
``ProjectFileError`` naming the file, the key, what was found and what was expected. On the fast
path (``ls``, ``rank``, the TUI's first screen): it must not import pandas, scikit-learn or scipy.
"""

from __future__ import annotations

import json
import math
import re
from pathlib import Path
from typing import Any, Literal, overload

from modelsnap.core.errors import DataError, PathError, ProjectFileError
from modelsnap.core.files import PROJECT_TOML_LIMIT, inside, parse_toml, read_regular, safe_name
from modelsnap.core.measures import MEASURE_DIRECTIONS
from modelsnap.core.project.schema import (
    CONSTRAINT_KEYS,
    EXECUTORS,
    MAX_GRID_POINTS,
    MAX_THREADS,
    PREPROCESS_CHOICES,
    PROFILE_NAMES,
    PROJECT_FILE,
    RANK_SPLITS,
    SKLEARN_DATASETS,
    TASKS,
    Criterion,
    DataConfig,
    ModelSpec,
    MonitoringConfig,
    PreprocessConfig,
    ProjectConfig,
    RunConfig,
    SelectionConfig,
    quality_metrics,
)

_DOTTED = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)+$")


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


def fail(
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
        raise fail(f"[{name}]", "a table", value)
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


@overload
def _str(
    table: dict,
    name: str,
    key: str,
    *,
    required: Literal[True],
    choices: tuple[str, ...] | None = ...,
) -> str: ...
@overload
def _str(
    table: dict, name: str, key: str, *, default: str, choices: tuple[str, ...] | None = ...
) -> str: ...
@overload
def _str(
    table: dict,
    name: str,
    key: str,
    *,
    required: bool = ...,
    default: str | None = ...,
    choices: tuple[str, ...] | None = ...,
) -> str | None: ...
def _str(
    table: dict,
    name: str,
    key: str,
    *,
    required: bool = False,
    default: str | None = None,
    choices: tuple[str, ...] | None = None,
) -> str | None:
    """The string at ``table[name]``: never None when ``required`` or given a ``default``."""
    if name not in table:
        if required:
            raise fail(key, "a non-empty string" if not choices else _one_of(choices), missing=True)
        return default
    value = table[name]
    if choices is not None:
        if value not in choices:
            raise fail(key, _one_of(choices), value)
        return value
    if not isinstance(value, str) or (required and not value.strip()):
        raise fail(key, "a non-empty string" if required else "a string", value)
    return value


def _one_of(choices: tuple[str, ...]) -> str:
    return "one of " + ", ".join(json.dumps(c) for c in choices)


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
        raise fail(key, words, value)
    if minimum is not None and (value <= minimum if exclusive else value < minimum):
        raise fail(key, words, value)
    if maximum is not None and value > maximum:
        raise fail(key, words, value)
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
        raise fail(key, "an array of column names (strings)", value)
    duplicates = sorted({v for v in value if value.count(v) > 1})
    if duplicates:
        raise fail(key, "each column once", ", ".join(duplicates) + " repeated")
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
        raise fail("[data]", "a [data] table with source and target", missing=True)
    table = _table(doc, "data", allowed)
    source = _str(table, "source", "[data].source", required=True)
    if source.startswith("sklearn:"):
        name = source.split(":", 1)[1]
        if name not in SKLEARN_DATASETS:
            raise fail(
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
        raise fail("[data].positive_label", "a class label (string, integer or boolean)", positive)
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
            raise fail(f"[data].{name}", "a fraction in (0, 1)", value)
    if val + test >= 1:
        raise fail(
            "[data].validation_fraction + test_fraction",
            "a sum < 1 (rows must remain for training)",
            round(val + test, 10),
        )
    stratify = table.get("stratify", True)
    if not isinstance(stratify, bool):
        raise fail("[data].stratify", "true or false", stratify)
    drop = _str_list(table, "drop", "[data].drop")
    if target in drop:
        raise fail("[data].drop", "feature columns only, not the target", target)
    sensitive = _str_list(table, "sensitive", "[data].sensitive")
    if target in sensitive:
        raise fail("[data].sensitive", "feature columns only, not the target", target)
    suspect = _str_list(table, "suspect_features", "[data].suspect_features")
    edge = _str(table, "edge_cases", "[data].edge_cases")
    if edge is not None:
        if not edge:
            raise fail("[data].edge_cases", "a CSV path relative to the project folder", edge)
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


def _parse_selection(doc: dict, task: str | None) -> SelectionConfig:
    table = _table(doc, "selection", {"profile", "primary_metric", "rank_split"})
    profile = _str(
        table, "profile", "[selection].profile", default="balanced", choices=PROFILE_NAMES
    )
    quality = quality_metrics(task)
    primary = _str(table, "primary_metric", "[selection].primary_metric", choices=quality)
    rank_split = _str(
        table, "rank_split", "[selection].rank_split", default="validation", choices=RANK_SPLITS
    )
    return SelectionConfig(profile=profile, primary_metric=primary, rank_split=rank_split)


def _parse_criteria(doc: dict, task: str | None) -> list[Criterion]:
    value = doc.get("criteria", [])
    if not isinstance(value, list):
        raise fail("[[criteria]]", "an array of tables ([[criteria]])", value)
    other_task = set(quality_metrics(None)) - set(quality_metrics(task))
    known = tuple(name for name in MEASURE_DIRECTIONS if name not in other_task)
    criteria: list[Criterion] = []
    for number, item in enumerate(value, start=1):
        key = f"[[criteria]] #{number}"
        if not isinstance(item, dict):
            raise fail(key, "a table with metric, weight and direction", item)
        _known_keys(item, {"metric", "weight", "direction"}, key)
        metric = _str(item, "metric", f"{key}.metric", required=True)
        if metric not in known:
            raise fail(
                f"{key}.metric",
                "a measure name",
                metric,
                hint=f"measures for this task: {', '.join(known)}",
            )
        if "weight" not in item:
            raise fail(f"{key}.weight", "a number >= 0", missing=True)
        weight = _number(item, "weight", f"{key}.weight", None, minimum=0, exclusive=False)
        direction = _str(
            item,
            "direction",
            f"{key}.direction",
            default=MEASURE_DIRECTIONS[metric],
            choices=("max", "min"),
        )
        if any(c.metric == metric for c in criteria):
            raise fail(f"{key}.metric", "each measure once", metric)
        criteria.append(Criterion(metric=metric, weight=weight, direction=direction))
    if criteria and not any(c.weight > 0 for c in criteria):
        raise fail("[[criteria]].weight", "at least one weight > 0", "all weights 0")
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
        raise fail(key, CONSTRAINT_KEYS["min_metric"], value)
    quality = quality_metrics(task)
    minimums: dict[str, float] = {}
    for metric in value:
        if metric not in quality:
            raise fail(f"{key}.{metric}", "a quality metric (" + ", ".join(quality) + ")", metric)
        minimums[metric] = _number(value, metric, f"{key}.{metric}", None)
    return minimums


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


_SCHEDULER_ADDRESS = re.compile(
    r"^(tcp|tls|ucx|ws|wss)://(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9]([A-Za-z0-9.\-]*[A-Za-z0-9])?):(\d{1,5})$"
)


def check_scheduler_address(value: Any, key: str = "[run].scheduler") -> str:
    """A Dask scheduler address ``PROTOCOL://HOST:PORT`` (tcp, tls, ucx, ws, wss), or
    ProjectFileError saying what was found and what is expected."""
    match = _SCHEDULER_ADDRESS.fullmatch(value) if isinstance(value, str) else None
    if match is None or not 0 < int(match.group(4)) < 65536:
        raise fail(
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
        raise fail(
            "[monitoring].psi_watch",
            f"a number <= psi_drift ({_fmt(values['psi_drift'])})",
            values["psi_watch"],
        )
    for name in ("share_change", "label_shift"):
        if values[name] > 1:
            raise fail(f"[monitoring].{name}", "a number in (0, 1]", values[name])
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
        raise fail(key, "a table with name and estimator", item)
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
        raise fail(
            f"{key}.estimator",
            'a dotted import path like "sklearn.linear_model.LogisticRegression"',
            estimator,
        )
    params = item.get("params", {})
    if not isinstance(params, dict):
        raise fail(f"{key}.params", "a table of estimator parameters", params)
    grid = item.get("grid")
    if grid is not None:
        if not isinstance(grid, dict) or not grid:
            raise fail(f"{key}.grid", "a table of parameter = [values]", grid)
        points = 1
        for param, values in grid.items():
            if not isinstance(values, list) or not values:
                raise fail(f"{key}.grid.{param}", "a non-empty array of values", values)
            if param in params:
                raise fail(f"{key}.grid.{param}", "a parameter not also fixed in params", param)
            points *= len(values)
        if points > MAX_GRID_POINTS:
            raise fail(
                f"{key}.grid",
                f"at most {MAX_GRID_POINTS} grid points (a small grid)",
                f"{points} points",
            )
    version = _str(item, "version", f"{key}.version", default="v1")
    if not version:
        raise fail(f"{key}.version", "a non-empty tag", version)
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
        raise fail("[[candidates]]", "an array of tables ([[candidates]])", raw_candidates)
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
            raise fail(f"{key}.name", "a name not used by another model", spec.name)
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


def read_document(root: Path) -> tuple[str, dict[str, Any]]:
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


def loads_project_text(text: str) -> dict[str, Any]:
    return parse_toml(text, what="the file", where=PROJECT_FILE, error=ProjectFileError)


def load_project(root: Path) -> ProjectConfig:
    """Read and validate ``root/modelsnap.toml``. Raises ProjectFileError on any invalid key."""
    _, doc = read_document(Path(root))
    return parse_project(doc, Path(root))


# ---------------------------------------------------------------------------- the data's classes

# Each class needs a row in train, validation and test for a stratified split.
MIN_ROWS_PER_CLASS = 3
STRATIFY_OFF_HINT = "set [data].stratify = false"


def check_class_sizes(counts: Any, *, where: str, turn_off: str = STRATIFY_OFF_HINT) -> None:
    """Refuse a stratified split when a class has fewer than MIN_ROWS_PER_CLASS rows.

    ``counts`` maps class label -> rows, in the order classes are reported (the data loader's
    sorted classes). ``turn_off`` is how the reader turns stratifying off where they are (the
    project file, ``init --no-stratify``, the set-up's switch): the message is the same.
    """
    for label, rows in counts.items():
        if rows < MIN_ROWS_PER_CLASS:
            raise DataError(
                f"class {label!r} has {rows} row(s): too few to stratify into train, "
                "validation and test",
                where=where,
                hint=f"add rows of that class, merge it with another, or {turn_off}",
            )
