"""The snapshot store: ids, schema check, write (files first, TOML last, never overwritten), read.

A snapshot is the audit record of one evaluated model, so the store is strict about what goes in
(``validate_snapshot`` before anything touches ``snapshots/``) and tolerant about what comes out:
``list_snapshots`` names a broken or hand-edited file as a ``SnapshotProblem`` and keeps going, so
one bad file never hides the other snapshots. It also answers what every reader of the record
asks: do the files still match their hashes (``verify_files``), which files does no snapshot own
(``orphan_files``), and was a snapshot made on the current data and split (``current_data_hashes``,
``comparable``). Fast path: no pandas, scikit-learn or scipy here (numpy inside one function).
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import importlib
import logging
import os
import re
import secrets
import shutil
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from modelsnap.core.errors import IntegrityError, ModelsnapError, SnapshotError
from modelsnap.core.files import (
    dumps_toml,
    inside_dir,
    is_tmp_name,
    read_toml,
    safe_name,
    sha256_file,
    shown_value,
    tmp_dir,
)

SCHEMA = 1
SNAPSHOTS_DIR = "snapshots"
MODELS_DIR = "models"
PREDICTIONS_DIR = "predictions"
ARTIFACT_SUFFIX = ".skops"
PREDICTIONS_SUFFIX = ".npz"
SPLIT_FILE = "split.npz"
KINDS = ("baseline", "candidate")
TASKS = ("classification", "regression")
SOURCES = ("project", "python")
# staged_files keys accepted by write_snapshot -> (folder, suffix)
STAGED_KINDS: dict[str, tuple[str, str]] = {
    "artifact": (MODELS_DIR, ARTIFACT_SUFFIX),
    "predictions": (PREDICTIONS_DIR, PREDICTIONS_SUFFIX),
}
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
)
_MAX_ID_ATTEMPTS = 64
_SLUG_MAX = 40
_HEX64 = re.compile(r"^[0-9a-f]{64}$")
_ID_PATTERN = re.compile(r"^\d{8}T\d{6}-[a-z0-9_]+-[0-9a-f]{4}$")

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class SnapshotProblem:
    """A snapshot file that could not be used, and why (shown by ``ls``, named by ``check``)."""

    path: Path
    message: str

    def __str__(self) -> str:
        return f"{self.path}: {self.message}"


# --------------------------------------------------------------------------- ids


def slug(name: str) -> str:
    """A file-name-safe, lower-case form of a model name (letters, digits, '_')."""
    text = re.sub(r"[^a-z0-9]+", "_", str(name).lower()).strip("_")
    return text[:_SLUG_MAX].rstrip("_") or "model"


def new_snapshot_id(name: str, *, now: datetime | None = None) -> str:
    """``<UTC yyyymmddTHHMMSS>-<slug>-<4 hex>``: sorts by time; the writer retries clashes."""
    moment = (now or datetime.now(UTC)).astimezone(UTC)
    return f"{moment:%Y%m%dT%H%M%S}-{slug(name)}-{secrets.token_hex(2)}"


def snapshots_dir(root: Path) -> Path:
    return Path(root) / SNAPSHOTS_DIR


def snapshot_path(root: Path, snapshot_id: str) -> Path:
    return snapshots_dir(root) / f"{safe_name(snapshot_id, what='snapshot id')}.toml"


# --------------------------------------------------------------------------- schema


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _type_name(value: Any) -> str:
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
        full = f"{prefix}.{key}" if prefix else key
        value = data.get(key)
        if value is None:
            if required:
                self.add(full, "missing table")
            return None
        if not isinstance(value, dict):
            self.add(full, f"found {_type_name(value)}, expected a table")
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
        full = f"{prefix}.{key}" if prefix else key
        if key not in data:
            if required:
                self.add(full, f"missing (expected {kind})")
            return None
        value = data[key]
        ok = {
            "string": isinstance(value, str),
            "integer": _is_int(value),
            "count": _is_int(value) and value >= 0,
            "number": _is_number(value),
            "boolean": isinstance(value, bool),
            "table": isinstance(value, dict),
            "array": isinstance(value, list),
            "sha256": isinstance(value, str) and bool(_HEX64.match(value)),
        }[kind]
        if not ok:
            shown = repr(value) if not isinstance(value, (dict, list)) else _type_name(value)
            self.add(full, f"found {shown[:60]}, expected {kind}")
            return None
        if choices is not None and value not in choices:
            self.add(full, f"found {value!r}, expected one of {', '.join(choices)}")
            return None
        return value

    def numbers(self, table: dict, prefix: str) -> None:
        for name, value in table.items():
            if not _is_number(value):
                self.add(f"{prefix}.{name}", f"found {_type_name(value)}, expected a number")


ORIGIN_EXECUTORS = ("local", "dask")


def validate_snapshot(data: Any, where: str = "snapshot") -> list[str]:
    """Every way ``data`` departs from schema 1 (docs/snapshot-format.md), as readable lines.

    Checks the documented required keys and the types of the optional ones it knows; unknown keys
    are allowed (readers ignore them). Never raises, whatever ``data`` holds, so ``check`` and the
    readers can report problems instead of crashing on a hand-edited file.
    """
    if not isinstance(data, dict):
        return [f"{where}: found {_type_name(data)}, expected a table"]
    c = _Checker()
    schema = data.get("schema")
    if schema != SCHEMA or not _is_int(schema):
        c.add("schema", f"found {schema!r}, expected {SCHEMA}" if "schema" in data else "missing")
        return [f"{where}: {p}" for p in c.problems]
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

    model = c.table(data, "model")
    if model is not None:
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

    data_table = c.table(data, "data")
    if data_table is not None:
        c.value(data_table, "data", "dataset_sha256", "sha256")
        c.value(data_table, "data", "split_sha256", "sha256")
        c.value(data_table, "data", "seed", "integer")
        for key in ("n_train", "n_validation", "n_test"):
            c.value(data_table, "data", key, "count")
        c.value(data_table, "data", "task", "string", required=False, choices=TASKS)
        classes = c.value(data_table, "data", "classes", "array", required=False)
        if classes is not None and not all(isinstance(x, str) for x in classes):
            c.add("data.classes", "expected an array of strings")

    metrics = c.table(data, "metrics")
    if metrics is not None:
        for split in ("validation", "test"):
            table = c.table(metrics, split, prefix="metrics")
            if table is not None:
                c.numbers(table, f"metrics.{split}")
        ci = c.table(metrics, "test_ci", prefix="metrics", required=False)
        if ci is not None:
            for name, pair in ci.items():
                if not (isinstance(pair, list) and len(pair) == 2 and all(map(_is_number, pair))):
                    c.add(f"metrics.test_ci.{name}", "expected [low, high] numbers")

    predictions = c.table(data, "predictions")
    if predictions is not None:
        c.value(predictions, "predictions", "path", "string")
        c.value(predictions, "predictions", "sha256", "sha256")

    resources = c.table(data, "resources")
    if resources is not None:
        c.value(resources, "resources", "fit_seconds", "number")
        for key in RESOURCE_NUMBERS:
            c.value(resources, "resources", key, "number", required=False)
        c.value(resources, "resources", "memory_method", "string", required=False)
        c.value(resources, "resources", "threads", "table", required=False)

    constraints = c.table(data, "constraints", required=False)
    if constraints is not None:
        for name, entry in constraints.items():
            if not isinstance(entry, dict):
                c.add(f"constraints.{name}", f"found {_type_name(entry)}, expected a table")
                continue
            if entry.get("missing") is True:
                # the measure was not taken: judged as missing (completeness), not pass/fail
                continue
            c.value(entry, f"constraints.{name}", "ok", "boolean")

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
    origin = c.table(data, "origin", required=False)
    if origin is not None:  # where the fit ran, when not here (docs/snapshot-format.md)
        c.value(origin, "origin", "executor", "string", choices=ORIGIN_EXECUTORS)
        for key in ("scheduler", "worker", "host", "python"):
            c.value(origin, "origin", key, "string", required=False)
        for key in ("packages", "hardware"):
            c.value(origin, "origin", key, "table", required=False)
    for optional in ("gain", "interpretability", "fairness", "edge_cases", "checks"):
        c.table(data, optional, required=False)
    return [f"{where}: {p}" for p in c.problems]


def _raise_if_invalid(data: Any, where: str) -> None:
    problems = validate_snapshot(data, where)
    if problems:
        shown = "\n  ".join(problems[:10])
        more = f"\n  ... and {len(problems) - 10} more" if len(problems) > 10 else ""
        raise SnapshotError(
            f"snapshot does not follow schema {SCHEMA}:\n  {shown}{more}",
            hint="see docs/snapshot-format.md; 'modelsnap check DIR' lists every problem",
        )


# --------------------------------------------------------------------------- write


def _link_or_copy(source: Path, target: Path, root: Path) -> bool:
    """Hard-link ``source`` to ``target`` unless it exists (False); copies across filesystems."""
    try:
        os.link(source, target)
        return True
    except FileExistsError:
        return False
    except OSError as exc:
        if exc.errno not in (errno.EXDEV, errno.EPERM, errno.ENOTSUP):
            raise
    # Different filesystem (or no hard links): copy into the project's tmp first, then link.
    copy = tmp_dir(root) / f".tmp-{os.getpid()}-{secrets.token_hex(6)}"
    try:
        shutil.copyfile(source, copy)
        try:
            os.link(copy, target)
        except FileExistsError:
            return False
        return True
    finally:
        with contextlib.suppress(OSError):
            copy.unlink()


def _check_staged(snapshot: dict, staged: dict[str, Path]) -> dict[str, tuple[Path, str, int]]:
    """Hash each staged file; a hash the snapshot already claims must match the file's."""
    unknown = sorted(set(staged) - set(STAGED_KINDS))
    if unknown:
        raise SnapshotError(
            f"unknown staged file kind(s): {', '.join(unknown)}",
            hint=f"use {', '.join(STAGED_KINDS)}",
        )
    result: dict[str, tuple[Path, str, int]] = {}
    for kind, path in staged.items():
        path = Path(path)
        if not path.is_file():
            raise SnapshotError(f"staged {kind} file not found", where=str(path))
        digest = sha256_file(path)
        table = snapshot.get("model" if kind == "artifact" else "predictions")
        key = "artifact_sha256" if kind == "artifact" else "sha256"
        claimed = table.get(key) if isinstance(table, dict) else None
        if claimed is not None and claimed != digest:
            raise IntegrityError(
                f"staged {kind} changed after it was hashed "
                f"({claimed[:12]}... != {digest[:12]}...)",
                where=str(path),
                hint="run the model again",
            )
        result[kind] = (path, digest, path.stat().st_size)
    return result


def _with_id(snapshot: dict, snapshot_id: str, staged: dict[str, tuple[Path, str, int]]) -> dict:
    body = dict(snapshot)
    body["id"] = snapshot_id
    if "artifact" in staged:
        _, digest, size = staged["artifact"]
        model = dict(body.get("model") or {})
        model["artifact"] = f"{MODELS_DIR}/{snapshot_id}{ARTIFACT_SUFFIX}"
        model["artifact_sha256"] = digest
        model["size_bytes"] = size
        body["model"] = model
    if "predictions" in staged:
        _, digest, _ = staged["predictions"]
        predictions = dict(body.get("predictions") or {})
        predictions["path"] = f"{PREDICTIONS_DIR}/{snapshot_id}{PREDICTIONS_SUFFIX}"
        predictions["sha256"] = digest
        body["predictions"] = predictions
    return body


def _drop_nones(value: Any) -> Any:
    """TOML has no null: an absent value is an absent key (docs/snapshot-format.md)."""
    if isinstance(value, dict):
        return {str(k): _drop_nones(v) for k, v in value.items() if v is not None}
    if isinstance(value, (list, tuple)):
        return [_drop_nones(v) for v in value if v is not None]
    if type(value).__module__ == "numpy" and hasattr(value, "tolist"):
        return _drop_nones(value.tolist())  # numpy scalars and arrays -> plain Python
    return value


def write_snapshot(
    root: Path, snapshot: dict, *, staged_files: dict[str, Path] | None = None
) -> str:
    """Record one evaluated model and return its id.

    ``staged_files`` maps "artifact" / "predictions" to files staged by the worker (normally in
    ``.modelsnap/tmp``). They are linked into ``models/<id>.skops`` and ``predictions/<id>.npz``
    first and the snapshot TOML is created last and exclusively, so a snapshot never names a file
    that is not there, and no record is ever overwritten: on a clash (two processes, same second,
    same 4 hex) a new id is drawn and the file paths follow it. The staged files are removed only
    after the snapshot exists; on failure nothing new is left in the folder.
    """
    root = Path(root)
    if not isinstance(snapshot, dict):
        raise SnapshotError(f"a snapshot must be a table, not {_type_name(snapshot)}")
    staged = _check_staged(snapshot, dict(staged_files or {}))
    name = snapshot.get("name")
    if not isinstance(name, str) or not name:
        raise SnapshotError("snapshot has no name", hint="give the model a name")
    body = _drop_nones(snapshot)
    body.setdefault("schema", SCHEMA)
    first_id = body.get("id") or new_snapshot_id(name)
    provisional = _with_id(body, first_id, staged)
    _raise_if_invalid(provisional, "snapshot")
    try:
        dumps_toml(provisional)
    except (TypeError, ValueError) as exc:
        raise SnapshotError(
            f"snapshot holds a value TOML cannot store ({exc})",
            hint="use numbers, strings, booleans, lists and tables",
        ) from None

    for attempt in range(_MAX_ID_ATTEMPTS):
        snapshot_id = first_id if attempt == 0 else new_snapshot_id(name)
        safe_name(snapshot_id, what="snapshot id")
        linked: list[Path] = []
        try:
            clash = False
            for kind, (source, _, _) in staged.items():
                folder, suffix = STAGED_KINDS[kind]
                target = root / folder / f"{snapshot_id}{suffix}"
                target.parent.mkdir(parents=True, exist_ok=True)
                inside_dir(root, target.parent)
                if not _link_or_copy(source, target, root):
                    clash = True
                    break
                linked.append(target)
            if not clash:
                final = _with_id(body, snapshot_id, staged)
                if _create_sealed(root, snapshot_id, dumps_toml(final)):
                    linked.clear()
                    break
        finally:
            for path in linked:
                with contextlib.suppress(OSError):
                    path.unlink()
    else:
        raise SnapshotError(
            f"could not find a free snapshot id after {_MAX_ID_ATTEMPTS} attempts",
            where=str(snapshots_dir(root)),
        )
    for source, _, _ in staged.values():
        with contextlib.suppress(OSError):
            source.unlink()
    _record_in_index(root, final)
    return snapshot_id


def _create_sealed(root: Path, snapshot_id: str, data: bytes) -> bool:
    """Create ``snapshots/<id>.toml`` exclusively and seal it in ``ledger.toml`` under the
    ledger lock (``ledger.create_sealed``); False when the id is taken."""
    from modelsnap.core.ledger import create_sealed

    name = snapshot_path(root, snapshot_id).name
    return create_sealed(root, "snapshot", f"{SNAPSHOTS_DIR}/{name}", data)


def _record_in_index(root: Path, snapshot: dict) -> None:
    """Keep ``.modelsnap/index.json`` current; it is a cache checked against the listing, so a
    failure here is logged, never raised: the snapshot itself is already safely written."""
    try:
        index = importlib.import_module("modelsnap.core.index")
    except ModuleNotFoundError as exc:
        if exc.name != "modelsnap.core.index":
            raise
        return
    record = getattr(index, "record", None)
    if record is None:
        return
    try:
        record(root, snapshot)
    except (OSError, ModelsnapError) as exc:
        log.warning("index not updated for %s: %s", snapshot.get("id"), exc)


# --------------------------------------------------------------------------- read


def refuse_link_out(path: Path) -> None:
    """A snapshot file that is a symlink out of its project folder is not read (SnapshotError):
    a copied folder must not make modelsnap read, and then show, files from elsewhere."""
    if path.is_symlink():
        try:
            inside_dir(path.parent.parent, path.resolve().parent, what="snapshot file")
        except ModelsnapError as exc:
            raise SnapshotError(exc.message, where=str(path), hint=exc.hint) from None


def _load(path: Path) -> dict:
    refuse_link_out(path)
    data = read_toml(path, what="snapshot")
    _raise_if_invalid(data, str(path))
    if data["id"] != path.stem:
        raise SnapshotError(
            f"id {shown_value(data['id'])} does not match the file name",
            where=str(path),
            hint="snapshot files are named <id>.toml; restore the original file",
        )
    return data


def read_snapshot(root: Path, snapshot_id: str) -> dict:
    """One snapshot by exact id; SnapshotError when it is missing, unreadable or off-schema."""
    path = snapshot_path(Path(root), snapshot_id)
    if not path.is_file():
        raise SnapshotError(
            f"no snapshot {shown_value(snapshot_id)}",
            where=str(snapshots_dir(root)),
            hint="'modelsnap ls DIR' lists the snapshots",
        )
    return _load(path)


def snapshot_files(root: Path) -> list[Path]:
    """The snapshot record files, sorted by id; temp and hidden files are not records."""
    directory = snapshots_dir(Path(root))
    if not directory.is_dir():
        return []
    files = [
        entry
        for entry in directory.iterdir()
        if entry.suffix == ".toml"
        and not entry.name.startswith(".")
        and not is_tmp_name(entry.name)
    ]
    return sorted(files, key=lambda p: p.name)


def list_snapshots(root: Path) -> tuple[list[dict], list[SnapshotProblem]]:
    """Every readable snapshot, sorted by id, and a problem for each file that is not."""
    snapshots: list[dict] = []
    problems: list[SnapshotProblem] = []
    for path in snapshot_files(root):
        try:
            snapshots.append(_load(path))
        except SnapshotError as exc:
            problems.append(SnapshotProblem(path, exc.message))
    return snapshots, problems


def snapshot_ids(root: Path) -> list[str]:
    """Ids of the snapshot files present, sorted (no parsing: cheap for 10,000 files)."""
    return [path.stem for path in snapshot_files(root)]


def short_id(snapshot_id: str) -> str:
    """The form tables show: ``<name>-<hex>`` without the timestamp
    (``20261126T073009-random_forest-6ee3`` -> ``random_forest-6ee3``); other ids as they are."""
    head, _, rest = snapshot_id.partition("-")
    return (
        rest if rest and (head.isdigit() or (len(head) == 15 and head[8:9] == "T")) else snapshot_id
    )


def find_snapshot(root: Path, prefix: str) -> str:
    """The one snapshot id that ``prefix`` names; a clear error if none or several do.

    Accepted, tried in this order (the first form that matches anything decides): the whole
    id; any prefix of it (``20261126T0730``); the short form shown in tables, ``<name>-<hex>``
    (``random_forest-6ee3``), or the end of an id after a ``-`` (``6ee3``); a prefix of the
    short form (``random_forest``). Several matches in one form is an error listing them.
    """
    given = str(prefix).strip()
    if not given:
        raise SnapshotError("empty snapshot id", hint="'modelsnap ls DIR' lists the snapshots")
    safe_name(given, what="snapshot id")
    ids = snapshot_ids(root)
    if given in ids:
        return given
    forms = (
        [i for i in ids if i.startswith(given)],
        [i for i in ids if short_id(i) == given or i.endswith("-" + given)],
        [i for i in ids if short_id(i).startswith(given)],
    )
    matches = next((found for found in forms if found), [])
    if len(matches) == 1:
        return matches[0]
    if not matches:
        raise SnapshotError(
            f"no snapshot id starts with {shown_value(given)} (nor ends with it as <name>-<hex>)",
            where=str(snapshots_dir(root)),
            hint="'modelsnap ls DIR' lists the snapshots",
        )
    shown = ", ".join(matches[:5]) + (f" (+{len(matches) - 5} more)" if len(matches) > 5 else "")
    raise SnapshotError(
        f"{shown_value(given)} matches {len(matches)} snapshots: {shown}",
        hint="give more characters of the id, or the <name>-<hex> form shown in tables",
    )


def orphan_files(root: Path) -> list[Path]:
    """Artifacts and predictions that no snapshot file owns (left by a crash between the steps)."""
    root = Path(root)
    ids = set(snapshot_ids(root))
    orphans: list[Path] = []
    for folder, suffix in STAGED_KINDS.values():
        directory = root / folder
        if not directory.is_dir():
            continue
        for entry in sorted(directory.iterdir()):
            if entry.name.endswith(suffix) and entry.name[: -len(suffix)] not in ids:
                orphans.append(entry)
    return orphans


def verify_files(root: Path, snapshot: dict) -> list[str]:
    """What is wrong with the artifact and predictions a (schema-valid) snapshot names.

    Each file must lie inside the folder, exist, and hash to the recorded sha256 (the artifact
    also to ``size_bytes``). Returned as lines, never raised, for ``check``.
    """
    from modelsnap.core.files import inside

    root = Path(root)
    problems: list[str] = []
    model = snapshot.get("model", {})
    predictions = snapshot.get("predictions", {})
    for what, relative, expected, size in (
        ("artifact", model.get("artifact"), model.get("artifact_sha256"), model.get("size_bytes")),
        ("predictions", predictions.get("path"), predictions.get("sha256"), None),
    ):
        if not isinstance(relative, str):
            continue
        try:
            path = inside(root, relative, what=f"{what} path")
        except ModelsnapError as exc:
            problems.append(exc.message)
            continue
        if not path.is_file():
            problems.append(f"{what} {relative} is missing")
            continue
        try:
            digest = sha256_file(path)
        except OSError as exc:
            problems.append(f"{what} {relative} cannot be read: {exc.strerror}")
            continue
        if digest != expected:
            problems.append(
                f"{what} {relative} does not match its recorded sha256 "
                f"(recorded {str(expected)[:12]}..., file {digest[:12]}...)"
            )
        elif size is not None and path.stat().st_size != size:
            problems.append(f"{what} {relative} has {path.stat().st_size} bytes, recorded {size}")
    return problems


# --------------------------------------------------------------------------- comparability


@dataclass(frozen=True)
class DataHashes:
    """The project's current data and split hashes; None where they cannot be known cheaply."""

    dataset_sha256: str | None
    split_sha256: str | None


def current_data_hashes(root: Path, source: str | None) -> DataHashes:
    """The hashes a new snapshot of this project would record, without pandas or scikit-learn.

    ``ls`` and the review screen must stay fast, so this reads bytes only: the data file's sha256
    (the documented ``dataset_sha256`` of a CSV source) and the documented ``split_sha256`` of
    ``split.npz`` (numpy, imported here only). A bundled ``sklearn:`` data set is hashed from its
    arrays, which needs scikit-learn, so its dataset hash is taken from the one frozen into
    ``split.npz`` when the split was drawn. ``check`` recomputes everything the slow, sure way.
    """
    root = Path(root)
    dataset: str | None = None
    if source and not source.startswith("sklearn:"):
        path = root / source
        if path.is_file():
            with contextlib.suppress(OSError):
                dataset = sha256_file(path)
    split: str | None = None
    split_path = root / SPLIT_FILE
    if split_path.is_file():
        import zipfile
        import zlib

        import numpy as np

        try:
            with np.load(split_path, allow_pickle=False) as arrays:
                parts = [
                    np.ascontiguousarray(arrays[key], dtype="<i8").tobytes()
                    for key in ("train", "validation", "test")
                ]
                split = hashlib.sha256(b"".join(parts)).hexdigest()
                if dataset is None and source and "meta_dataset_sha256" in arrays.files:
                    dataset = str(arrays["meta_dataset_sha256"])
        except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile, zlib.error):
            split = None
    return DataHashes(dataset, split)


def comparable(snapshot_or_row: Any, current: DataHashes) -> bool | None:
    """True when the snapshot was made on the current data and split, False when either
    differs, None when the current hashes are unknown (no split drawn yet, data missing)."""
    if isinstance(snapshot_or_row, dict) and isinstance(snapshot_or_row.get("data"), dict):
        values = snapshot_or_row["data"]
    else:
        values = snapshot_or_row if isinstance(snapshot_or_row, dict) else {}
    known = False
    for key in ("dataset_sha256", "split_sha256"):
        expected = getattr(current, key)
        if expected is None:
            continue
        known = True
        if values.get(key) != expected:
            return False
    return True if known else None


def clean_leftovers(root: Path, *, orphan_min_age_seconds: float = 600.0) -> list[Path]:
    """Remove what a killed process left behind; return what was removed.

    Staging entries of processes that no longer run (``files.clean_stale_tmp``) go at once.
    Orphan artifacts/predictions go only once older than ``orphan_min_age_seconds``: a writer
    links them in milliseconds before its snapshot file appears, so a young orphan may be a
    write in progress.
    """
    import time

    from modelsnap.core.files import STATE_DIR, clean_stale_tmp

    root = Path(root)
    staging = root / STATE_DIR / "tmp"
    before = set(staging.iterdir()) if staging.is_dir() else set()
    clean_stale_tmp(root)
    removed = sorted(p for p in before if not p.exists())
    now = time.time()
    for path in orphan_files(root):
        try:
            if now - path.lstat().st_mtime >= orphan_min_age_seconds:
                path.unlink()
                removed.append(path)
        except FileNotFoundError:
            continue
    return removed
