"""The snapshot's shape: the schema version, its vocabularies and ``validate_snapshot``.

One place for what a valid snapshot file holds, read by the store (before a write and after
every read) and by the index (rows are only made from valid snapshots). The format itself is
documented in docs/snapshot-format.md. Standard library only.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

SCHEMA = 1
KINDS = ("baseline", "candidate")
TASKS = ("classification", "regression")
SOURCES = ("project", "python")
ORIGIN_TOOLS = ("mlflow",)  # [origin].tool: the tool an imported model came from
ORIGIN_EXECUTORS = ("local", "dask")  # [origin].executor: where a model was fitted
CI_METHODS = ("multinomial", "little-bags")  # metrics.test_ci_method: how resamples were drawn
# [resources] keys documented as numbers (unknown keys are allowed and not checked)
RESOURCE_NUMBERS = (
    "fit_seconds",
    "fit_cpu_seconds",
    "size_mb",
    "latency_p50_ms",
    "latency_p95_ms",
    "latency_p99_ms",
    "latency_mean_ms",
    "latency_iqr_ms",
    "latency_min_ms",
    "latency_trials",
    "latency_warmup",
    "batch_size",
    "batch_latency_ms",
    "throughput_rows_per_s",
    "peak_memory_fit_mb",
    "peak_memory_predict_mb",
    "peak_memory_mb",
    # the latency split: the estimator alone on preprocessed rows, and preprocessing's share
    "latency_model_p50_ms",
    "latency_model_p95_ms",
    "latency_model_p99_ms",
    "preprocess_share",
)
_HEX64 = re.compile(r"^[0-9a-f]{64}$")
_ID_PATTERN = re.compile(r"^\d{8}T\d{6}-[a-z0-9_]+-[0-9a-f]{4}$")


@dataclass(frozen=True)
class SnapshotProblem:
    """A snapshot file that could not be used, and why (shown by ``ls``, named by ``check``)."""

    path: Path
    message: str

    def __str__(self) -> str:
        return f"{self.path}: {self.message}"


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


# What each kind of ``_Checker.value`` accepts: only the asked kind's test runs (every file a
# reader parses is checked with about 60 of them).
_KIND_TESTS: dict[str, Callable[[Any], bool]] = {
    "string": lambda value: isinstance(value, str),
    "integer": _is_int,
    "count": lambda value: _is_int(value) and value >= 0,
    "number": _is_number,
    "boolean": lambda value: isinstance(value, bool),
    "table": lambda value: isinstance(value, dict),
    "array": lambda value: isinstance(value, list),
    "sha256": lambda value: isinstance(value, str) and bool(_HEX64.match(value)),
}


def _full_name(prefix: str, key: str) -> str:
    """``metrics.validation.f1`` for key ``f1`` under ``metrics.validation``; made only for a
    problem, not for every value checked."""
    return f"{prefix}.{key}" if prefix else key


def type_name(value: Any) -> str:
    return {
        dict: "table",
        list: "array",
        str: "string",
        bool: "boolean",
        int: "integer",
        float: "float",
    }.get(type(value), type(value).__name__)


class _Checker:
    """Collects problems as ``key: found X, expected Y`` lines, one per bad key."""

    def __init__(self) -> None:
        self.problems: list[str] = []

    def add(self, key: str, message: str) -> None:
        self.problems.append(f"{key}: {message}")

    def table(
        self, data: dict, key: str, *, prefix: str = "", required: bool = True
    ) -> dict | None:
        value = data.get(key)
        if value is None:
            if required:
                self.add(_full_name(prefix, key), "missing table")
            return None
        if not isinstance(value, dict):
            self.add(_full_name(prefix, key), f"found {type_name(value)}, expected a table")
            return None
        return value

    def value(
        self,
        data: dict,
        prefix: str,
        key: str,
        kind: str,
        *,
        required: bool = True,
        choices: tuple[str, ...] | None = None,
    ) -> Any:
        test = _KIND_TESTS[kind]  # an unknown kind is a bug here: KeyError
        if key not in data:
            if required:
                self.add(_full_name(prefix, key), f"missing (expected {kind})")
            return None
        value = data[key]
        if not test(value):
            shown = repr(value) if not isinstance(value, (dict, list)) else type_name(value)
            self.add(_full_name(prefix, key), f"found {shown[:60]}, expected {kind}")
            return None
        if choices is not None and value not in choices:
            self.add(
                _full_name(prefix, key), f"found {value!r}, expected one of {', '.join(choices)}"
            )
            return None
        return value

    def numbers(self, table: dict, prefix: str) -> None:
        for name, value in table.items():
            if not _is_number(value):
                self.add(f"{prefix}.{name}", f"found {type_name(value)}, expected a number")


def validate_snapshot(data: Any, where: str = "snapshot") -> list[str]:
    """Every way ``data`` departs from schema 1 (docs/snapshot-format.md), as readable lines.

    Checks the documented required keys and the types of the optional ones it knows; unknown keys
    are allowed (readers ignore them). Never raises, whatever ``data`` holds, so ``check`` and the
    readers can report problems instead of crashing on a hand-edited file.
    """
    if not isinstance(data, dict):
        return [f"{where}: found {type_name(data)}, expected a table"]
    c = _Checker()
    schema = data.get("schema")
    if schema != SCHEMA or not _is_int(schema):
        c.add("schema", f"found {schema!r}, expected {SCHEMA}" if "schema" in data else "missing")
        return [f"{where}: {p}" for p in c.problems]
    for check in (
        _check_header,
        _check_model,
        _check_data,
        _check_metrics,
        _check_predictions,
        _check_resources,
        _check_constraints,
        _check_machine,
        _check_origin,
    ):
        check(c, data)
    for optional in ("gain", "interpretability", "fairness", "edge_cases", "checks"):
        c.table(data, optional, required=False)
    return [f"{where}: {p}" for p in c.problems]


def _check_header(c: _Checker, data: dict) -> None:
    snapshot_id = c.value(data, "", "id", "string")
    if snapshot_id is not None and not _ID_PATTERN.match(snapshot_id):
        c.add("id", f"found {snapshot_id[:60]!r}, expected <yyyymmddTHHMMSS>-<name>-<4 hex>")
    c.value(data, "", "name", "string")
    c.value(data, "", "kind", "string", choices=KINDS)
    c.value(data, "", "version", "string")
    created = c.value(data, "", "created_at", "string")
    if created is not None:
        try:
            datetime.fromisoformat(created)
        except ValueError:
            c.add("created_at", f"found {created[:40]!r}, expected an ISO 8601 timestamp")
    revision = c.value(data, "", "criteria_revision", "count")
    if revision == 0 and data.get("kind") == "candidate":
        c.add("criteria_revision", "a candidate must be judged under a locked revision (>= 1)")
    c.value(data, "", "reprofile_of", "string", required=False)
    c.value(data, "", "notes", "string")


def _check_model(c: _Checker, data: dict) -> None:
    model = c.table(data, "model")
    if model is None:
        return
    c.value(model, "model", "estimator", "string")
    c.value(model, "model", "params", "table")
    c.value(model, "model", "artifact", "string")
    c.value(model, "model", "artifact_sha256", "sha256")
    c.value(model, "model", "size_bytes", "count")
    c.value(model, "model", "source", "string", required=False, choices=SOURCES)
    search = c.table(model, "search", prefix="model", required=False)
    if search is not None:
        c.value(search, "model.search", "grid", "table")
        c.value(search, "model.search", "metric", "string")
        c.value(search, "model.search", "scores", "array")


def _check_data(c: _Checker, data: dict) -> None:
    data_table = c.table(data, "data")
    if data_table is None:
        return
    c.value(data_table, "data", "dataset_sha256", "sha256")
    c.value(data_table, "data", "split_sha256", "sha256")
    c.value(data_table, "data", "seed", "integer")
    for key in ("n_train", "n_validation", "n_test"):
        c.value(data_table, "data", key, "count")
    c.value(data_table, "data", "task", "string", required=False, choices=TASKS)
    classes = c.value(data_table, "data", "classes", "array", required=False)
    if classes is not None and not all(isinstance(x, str) for x in classes):
        c.add("data.classes", "expected an array of strings")


def _check_metrics(c: _Checker, data: dict) -> None:
    metrics = c.table(data, "metrics")
    if metrics is None:
        return
    for split in ("validation", "test"):
        table = c.table(metrics, split, prefix="metrics")
        if table is not None:
            c.numbers(table, f"metrics.{split}")
    ci = c.table(metrics, "test_ci", prefix="metrics", required=False)
    if ci is not None:
        for name, pair in ci.items():
            if not (isinstance(pair, list) and len(pair) == 2 and all(map(_is_number, pair))):
                c.add(f"metrics.test_ci.{name}", "expected [low, high] numbers")
    c.value(metrics, "metrics", "test_ci_method", "string", required=False, choices=CI_METHODS)
    c.value(metrics, "metrics", "test_ci_resamples", "count", required=False)


def _check_predictions(c: _Checker, data: dict) -> None:
    predictions = c.table(data, "predictions")
    if predictions is not None:
        c.value(predictions, "predictions", "path", "string")
        c.value(predictions, "predictions", "sha256", "sha256")


def _check_resources(c: _Checker, data: dict) -> None:
    resources = c.table(data, "resources")
    if resources is None:
        return
    c.value(resources, "resources", "fit_seconds", "number")
    for key in RESOURCE_NUMBERS:
        c.value(resources, "resources", key, "number", required=False)
    c.value(resources, "resources", "memory_method", "string", required=False)
    c.value(resources, "resources", "threads", "table", required=False)


def _check_constraints(c: _Checker, data: dict) -> None:
    constraints = c.table(data, "constraints", required=False)
    if constraints is None:
        return
    for name, entry in constraints.items():
        if not isinstance(entry, dict):
            c.add(f"constraints.{name}", f"found {type_name(entry)}, expected a table")
            continue
        if entry.get("missing") is True:
            # the measure was not taken: judged as missing (completeness), not pass/fail
            continue
        c.value(entry, f"constraints.{name}", "ok", "boolean")


def _check_machine(c: _Checker, data: dict) -> None:
    environment = c.table(data, "environment")
    if environment is not None:
        c.value(environment, "environment", "python", "string")
        c.value(environment, "environment", "platform", "string")
        c.value(environment, "environment", "packages", "table")
    hardware = c.table(data, "hardware")
    if hardware is not None:
        c.value(hardware, "hardware", "cpu", "string")
        c.value(hardware, "hardware", "cores", "count")
        c.value(hardware, "hardware", "memory_gb", "number")


def _check_origin(c: _Checker, data: dict) -> None:
    """[origin] is optional and says where a model came from when it was not fitted here: an
    imported model (``tool``, e.g. an MLflow run) or a fit on a cluster (``executor``)."""
    origin = c.table(data, "origin", required=False)
    if origin is None:
        return
    if "tool" in origin or "executor" not in origin:
        c.value(origin, "origin", "tool", "string", choices=ORIGIN_TOOLS)
        for key in ("tracking_uri", "run_id", "model_uri"):
            c.value(origin, "origin", key, "string")
        for key in ("experiment_id", "run_name", "model_id", "artifact_path", "format"):
            c.value(origin, "origin", key, "string", required=False)
        return
    c.value(origin, "origin", "executor", "string", choices=ORIGIN_EXECUTORS)
    for key in ("scheduler", "worker", "host", "python"):
        c.value(origin, "origin", key, "string", required=False)
    for key in ("packages", "hardware"):
        c.value(origin, "origin", key, "table", required=False)
