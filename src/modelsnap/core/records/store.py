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
import logging
import os
import re
import secrets
import shutil
import stat
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

from modelsnap.core.beside import map_beside
from modelsnap.core.errors import IntegrityError, ModelsnapError, SnapshotError
from modelsnap.core.files import (
    dumps_toml,
    inside_dir,
    is_tmp_name,
    read_toml,
    refuse_link_out,
    safe_name,
    sha256_file,
    share_strings,
    shown_value,
    tmp_dir,
)
from modelsnap.core.records import index
from modelsnap.core.records.listing import file_stat
from modelsnap.core.records.schema import SCHEMA, SnapshotProblem, type_name, validate_snapshot

if TYPE_CHECKING:
    from modelsnap.core.records.shapes import Snapshot

SNAPSHOTS_DIR = "snapshots"
MODELS_DIR = "models"
PREDICTIONS_DIR = "predictions"
ARTIFACT_SUFFIX = ".skops"
PREDICTIONS_SUFFIX = ".npz"
SPLIT_FILE = "split.npz"
# staged_files keys accepted by write_snapshot -> (folder, suffix)
STAGED_KINDS: dict[str, tuple[str, str]] = {
    "artifact": (MODELS_DIR, ARTIFACT_SUFFIX),
    "predictions": (PREDICTIONS_DIR, PREDICTIONS_SUFFIX),
}
_MAX_ID_ATTEMPTS = 64
_SLUG_MAX = 40

log = logging.getLogger(__name__)


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
    for kind, given in staged.items():
        path = Path(given)
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
        raise SnapshotError(f"a snapshot must be a table, not {type_name(snapshot)}")
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
    from modelsnap.core.records.ledger import create_sealed

    name = snapshot_path(root, snapshot_id).name
    return create_sealed(root, "snapshot", f"{SNAPSHOTS_DIR}/{name}", data)


def _record_in_index(root: Path, snapshot: dict) -> None:
    """Keep ``.modelsnap/index.sqlite`` current; it is a cache checked against the listing, so a
    failure here is logged, never raised: the snapshot itself is already safely written."""
    try:
        index.record(root, snapshot)
    except (OSError, ModelsnapError) as exc:
        log.warning("index not updated for %s: %s", snapshot.get("id"), exc)


# --------------------------------------------------------------------------- read


def _load(path: Path, memo: dict[str, str] | None = None) -> Snapshot:
    """One snapshot file, checked; its strings shared through ``memo`` when given (a reader of
    many files: ``files.share_strings``)."""
    refuse_link_out(path)
    data = read_toml(path, what="snapshot")
    _raise_if_invalid(data, str(path))
    if memo is not None:
        data = share_strings(data, memo)
    snapshot = cast("Snapshot", data)  # valid: the shape validate_snapshot checks
    if snapshot["id"] != path.stem:
        raise SnapshotError(
            f"id {shown_value(snapshot['id'])} does not match the file name",
            where=str(path),
            hint="snapshot files are named <id>.toml; restore the original file",
        )
    return snapshot


def read_snapshot(root: Path, snapshot_id: str) -> Snapshot:
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


# How often ``SnapshotReader.read`` reports its progress, at most; and from how many files a
# front end shows it (fewer are read in well under a second).
PROGRESS_SECONDS = index.PROGRESS_SECONDS  # one cadence for every reading of files
PROGRESS_FROM = 500
# From this many files to parse, a forked child parses part of them (see SnapshotReader.read).
PARSE_BESIDE_FROM = 200


def list_snapshots(
    root: Path, progress: Callable[[int, int], None] | None = None
) -> tuple[list[Snapshot], list[SnapshotProblem]]:
    """Every readable snapshot, sorted by id, and a problem for each file that is not: each
    file parsed now (a reader that remembers nothing). ``progress`` as for
    ``SnapshotReader.read``."""
    return SnapshotReader().read(root, progress)


class SnapshotReader:
    """Reads one folder's snapshots again and again, as the TUI does after every run: a file
    is parsed again only when it may have changed since this reader parsed it.

    A parsed file is reused while its size, mtime, ctime and inode are the ones it had just
    before it was parsed, and its ctime was then already ``index.RACY_NS`` old: a rewrite
    moves the ctime, which no user can set back, and a file that changed within the same
    clock tick as the read is parsed again next time (the index's rule). Memory of one
    process only: nothing is written, and what records a decision, a report or ``check``
    still reads the files. The snapshots it returns are shared between reads: read only.
    """

    def __init__(self) -> None:
        # file name -> (its lstat binding, the time it was taken, the snapshot parsed after it)
        self._parsed: dict[str, tuple[tuple[int, int, int, int], int, Snapshot]] = {}

    def read(
        self, root: Path, progress: Callable[[int, int], None] | None = None
    ) -> tuple[list[Snapshot], list[SnapshotProblem]]:
        """Every snapshot as ``list_snapshots`` reads them. ``progress(done, total)`` is called
        at most every ``PROGRESS_SECONDS`` while files are read and once at the end (a first
        read of 10,000 files takes seconds: the TUI counts them for the user).

        From ``PARSE_BESIDE_FROM`` files to parse, a forked child (``core.beside``) parses
        the later part of them while this process parses the rest: the same ``_load`` of the
        same files, its results sent back whole; a file whose result does not come back is
        parsed here."""
        files = snapshot_files(root)
        # file name -> its lstat binding and when it was taken; then the files to parse
        bound: dict[str, tuple[tuple[int, int, int, int], int]] = {}
        known = self._parsed
        outcome: list[Snapshot | SnapshotProblem | None] = [None] * len(files)
        todo: list[int] = []
        for position, path in enumerate(files):
            seen = time.time_ns()  # before the lstat: see the class's docstring
            try:
                info = os.lstat(path)
            except OSError:
                info = None
            binding = file_stat(info) if info is not None and stat.S_ISREG(info.st_mode) else None
            before = known.get(path.name)
            if (
                binding is not None
                and before is not None
                and before[0] == binding
                and binding[2] < before[1] - index.RACY_NS
            ):
                outcome[position], seen = before[2], before[1]
            else:
                todo.append(position)
            if binding is not None:
                bound[path.name] = (binding, seen)
        self._parse(files, todo, outcome, progress)
        snapshots: list[Snapshot] = []
        problems: list[SnapshotProblem] = []
        parsed: dict[str, tuple[tuple[int, int, int, int], int, Snapshot]] = {}
        for path, result in zip(files, outcome, strict=True):
            if isinstance(result, SnapshotProblem):
                problems.append(result)
                continue
            snapshot = cast("Snapshot", result)
            snapshots.append(snapshot)
            if path.name in bound:
                parsed[path.name] = (*bound[path.name], snapshot)
        self._parsed = parsed
        if progress is not None:
            progress(len(files), len(files))
        return snapshots, problems

    @staticmethod
    def _parse(
        files: list[Path],
        todo: list[int],
        outcome: list[Snapshot | SnapshotProblem | None],
        progress: Callable[[int, int], None] | None,
    ) -> None:
        """Each file at the positions ``todo``, parsed into ``outcome``: a snapshot (its
        strings shared with the others'), or the problem that names it."""
        reused, total = len(files) - len(todo), len(files)
        done = None
        if progress is not None:

            def done(count: int) -> None:
                progress(reused + count - 1, total)  # counted before each file, as it was

        memo: dict[str, str] = {}  # the strings of this read's files, each kept once

        def shared(result: tuple[Snapshot | None, str | None]) -> Any:
            snapshot, message = result
            return (share_strings(snapshot, memo) if snapshot is not None else None), message

        paths = [files[i] for i in todo]
        results = map_beside(
            _parsed_or_problem,
            [os.fspath(path) for path in paths],  # what a started interpreter can be sent
            beside_from=PARSE_BESIDE_FROM,
            done=done,
            done_every=PROGRESS_SECONDS,
            keep=shared,
            by_name=True,  # a thread's read (the TUI's) shares the files with a helper too
        )
        for position, path, (snapshot, message) in zip(todo, paths, results, strict=True):
            outcome[position] = (
                SnapshotProblem(path, message) if snapshot is None else cast("Snapshot", snapshot)
            )


def _parsed_or_problem(path: Path | str) -> tuple[Snapshot | None, str | None]:
    """One file as (snapshot, None), or (None, the message of the problem that names it): a
    form a child can send back (``marshal`` writes dicts and strings)."""
    try:
        return _load(Path(path)), None
    except SnapshotError as exc:
        return None, exc.message


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


def verify_files(
    root: Path, snapshot: Mapping[str, Any], *, resolved_root: bool = False
) -> list[str]:
    """What is wrong with the artifact and predictions a (schema-valid) snapshot names.

    Each file must lie inside the folder, exist, and hash to the recorded sha256 (the artifact
    also to ``size_bytes``). Returned as lines, never raised, for ``check``. ``resolved_root``
    as for ``files.inside``.
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
            path = inside(root, relative, what=f"{what} path", resolved_root=resolved_root)
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


def current_data_hashes(
    root: Path, source: str | None, *, write_cache: bool = True, cached: bool = True
) -> DataHashes:
    """The hashes a new snapshot of this project would record, without pandas or scikit-learn.

    ``ls`` and the review screen must stay fast, so this reads bytes only: the data file's sha256
    (the documented ``dataset_sha256`` of a CSV source) and the documented ``split_sha256`` of
    ``split.npz`` (numpy, imported here only). A bundled ``sklearn:`` data set is hashed from its
    arrays, which needs scikit-learn, so its dataset hash is taken from the one frozen into
    ``split.npz`` when the split was drawn. ``check`` recomputes everything the slow, sure way.

    Both values are remembered in ``.modelsnap/hashes.json`` (``hash_cache``) while each file's
    size, mtime, inode, ctime and sampled bytes are unchanged, so a 1 GB data file is not hashed
    again on every ``ls``; ``write_cache=False`` (review) reads that cache but never writes it.
    ``cached=False`` hashes the bytes and leaves the cache alone: what a record depends on (the
    baseline a run compares with, the rows a decision is made on) never comes from a cache.
    """
    from modelsnap.core.records.hash_cache import remembered

    root = Path(root)

    def value(path: Path, what: str, compute: Any) -> Any:
        if not cached:
            return compute(path)
        return remembered(root, path, what, compute, write=write_cache)

    dataset: str | None = None
    if source and not source.startswith("sklearn:"):
        path = root / source
        if path.is_file():
            with contextlib.suppress(OSError):
                dataset = value(path, "sha256", sha256_file)
    split: str | None = None
    split_path = root / SPLIT_FILE
    if split_path.is_file():
        split, frozen = value(split_path, "split", _split_hashes)
        if dataset is None and source:
            dataset = frozen
    return DataHashes(dataset, split)


def _split_hashes(split_path: Path) -> tuple[str | None, str | None]:
    """``split.npz``'s documented ``split_sha256`` and the dataset hash frozen into it (None
    where absent or unreadable)."""
    import zipfile
    import zlib

    import numpy as np

    try:
        with np.load(split_path, allow_pickle=False) as arrays:
            parts = [
                np.ascontiguousarray(arrays[key], dtype="<i8").tobytes()
                for key in ("train", "validation", "test")
            ]
            frozen = (
                str(arrays["meta_dataset_sha256"])
                if "meta_dataset_sha256" in arrays.files
                else None
            )
            return hashlib.sha256(b"".join(parts)).hexdigest(), frozen
    except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile, zlib.error):
        return None, None


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
