"""The snapshot index: ``.modelsnap/index.json``, one summary row per snapshot file.

Why it exists: parsing 10,000 snapshot TOMLs costs about 3 s, while ``ls``, ``rank`` and
``review`` must answer in under a second. So every snapshot write also records a *summary row*
(everything those commands show or rank on) keyed by the file name together with the file's
size and ``mtime_ns``. Readers list ``snapshots/`` (cheap: ``scandir`` + ``stat``) and trust a
row only while the file's size and mtime still match; any other file is parsed again. The
snapshot files stay the truth: the index is a cache that can be deleted at any time.

A cache only: nothing read from it is trusted on its word. Each entry also holds the sha256 of
the snapshot file's bytes, and a row is used only while the file still hashes to it (hashing
10,000 files of ~2 KB costs about 0.1 s), so an edit that keeps the file's size and mtime
(``cp -a``, ``touch -r``) is seen and that row is rebuilt from the file. And the index itself
is authenticated: index.json and each journal line carry an HMAC-SHA256 under a per-user key
kept outside the project (``$XDG_STATE_HOME/modelsnap/index.key``), so a row edited by hand,
or an index that came with a copied folder, is not trusted: every row is rebuilt from the
files. Where that key cannot be kept, no row is trusted and every file is parsed.

Fast path: this module imports only the standard library, ``modelsnap.core.errors`` and
``modelsnap.core.files``. ``measures`` is imported inside ``summary_row``.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import hmac
import json
import math
import os
import sys
from array import array
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, overload

from modelsnap.core.errors import ModelsnapError, SnapshotError
from modelsnap.core.files import (
    STATE_DIR,
    STATE_JSON_LIMIT,
    TMP_PREFIX,
    atomic_write_bytes,
    folder_lock,
    is_tmp_name,
    loads_json_state,
    read_regular,
    read_toml,
    refuse_link_out,
)
from modelsnap.core.measures import is_overfit
from modelsnap.core.records.schema import SnapshotProblem, validate_snapshot

if TYPE_CHECKING:
    from modelsnap.core.records.shapes import IndexConstraints, IndexRow

INDEX_FILE = "index.json"
MAC_FILE = "index.json.mac"
KEY_FILE = "index.key"
JOURNAL_FILE = "index.journal"
# record() appends to the journal instead of rewriting an index of 10,000 rows (about 1.3 s
# here); past this size the next record() folds the journal into index.json.
JOURNAL_COMPACT_BYTES = 2 * 2**20
LOCK_NAME = "index.lock"
SNAPSHOT_DIR = "snapshots"
# Bump when summary_row's shape changes: an index written by another row version is ignored
# (every file is parsed again and, where allowed, the index is rewritten).
ROW_VERSION = 5  # 5: the latency split's model-only measures
SPLITS = ("validation", "test")


# ---------------------------------------------------------------------------------------------
# Summary rows


def _table(snapshot: Mapping[str, Any], key: str) -> Mapping[str, Any]:
    value = snapshot.get(key, {})
    if not isinstance(value, Mapping):
        raise SnapshotError(f"[{key}] must be a table, found {type(value).__name__}")
    return value


@overload
def _text(table: Mapping[str, Any], key: str, *, required: Literal[True]) -> str: ...
@overload
def _text(table: Mapping[str, Any], key: str, *, required: bool = False) -> str | None: ...
def _text(table: Mapping[str, Any], key: str, *, required: bool = False) -> str | None:
    value = table.get(key)
    if value is None:
        if required:
            raise SnapshotError(
                f"required key {key!r} is missing",
                hint="the file may be truncated or hand-edited; restore it",
            )
        return None
    if not isinstance(value, str):
        raise SnapshotError(f"key {key!r} must be a string, found {type(value).__name__}")
    return value


def _number(table: Mapping[str, Any], key: str) -> float | None:
    value = table.get(key)
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value)


def _constraint_reason(name: str, entry: Mapping[str, Any]) -> str:
    """``"latency_p95_ms 80 > 50"``: the same words the ranking and decision log use."""
    value, limit = entry.get("value"), entry.get("limit")
    if isinstance(value, int | float) and isinstance(limit, int | float):
        sign = ">" if value > limit else "<"
        return f"{name} {value:g} {sign} {limit:g}"
    return f"{name} violated"


def _constraints(snapshot: Mapping[str, Any]) -> IndexConstraints:
    """The ``[constraints]`` verdicts: overall ok (None when none were checked), each
    constraint's ok flag, and a readable reason per violation. Values and limits stay in the
    TOML: every number here costs parse time at 10,000 rows."""
    flags: dict[str, bool | None] = {}
    reasons: list[str] = []
    for name, entry in _table(snapshot, "constraints").items():
        if not isinstance(entry, Mapping):
            continue
        ok = entry.get("ok")
        flags[name] = ok if isinstance(ok, bool) else None
        if ok is False:
            reasons.append(_constraint_reason(name, entry))
    return {"ok": not reasons if flags else None, "flags": flags, "reasons": reasons}


def summary_row(snapshot: Mapping[str, Any]) -> IndexRow:
    """Everything ``ls``, ``rank`` and ``review`` need, so they never reopen the TOML.

    JSON-safe values only (the row is stored in index.json, and parsing it is most of ``ls``'s
    time at 10,000 snapshots, so long tables such as params stay in the TOML; ``review`` reads
    the one selected file for its detail pane). Raises ``SnapshotError`` when the
    snapshot lacks what every row must have (id, name, kind); optional tables may be absent.
    """
    from modelsnap.core.measures import measures

    if not isinstance(snapshot, Mapping):
        raise SnapshotError("a snapshot must be a TOML table")
    snapshot_id = _text(snapshot, "id", required=True)
    name = _text(snapshot, "name", required=True)
    kind = _text(snapshot, "kind", required=True)
    if kind not in ("baseline", "candidate"):
        raise SnapshotError(f"kind must be 'baseline' or 'candidate', found {kind!r}")
    model = _table(snapshot, "model")
    data = _table(snapshot, "data")
    resources = _table(snapshot, "resources")
    hardware = _table(snapshot, "hardware")
    environment = _table(snapshot, "environment")
    gain = _table(snapshot, "gain")
    edge = _table(snapshot, "edge_cases")
    fairness = _table(snapshot, "fairness")
    checks = _table(snapshot, "checks")
    interpretability = _table(snapshot, "interpretability")
    revision = snapshot.get("criteria_revision")
    packages = environment.get("packages", {})
    packages = packages if isinstance(packages, Mapping) else {}
    return {
        "id": snapshot_id,
        "name": name,
        "kind": kind,
        "version": _text(snapshot, "version") or "",
        "created_at": _text(snapshot, "created_at") or "",
        "criteria_revision": revision if isinstance(revision, int) else None,
        "reprofile_of": _text(snapshot, "reprofile_of"),
        "task": _text(data, "task"),
        "primary_metric": _text(gain, "metric"),
        "dataset_sha256": _text(data, "dataset_sha256"),
        "split_sha256": _text(data, "split_sha256"),
        "hardware_fingerprint": _text(hardware, "fingerprint"),
        "python": _text(environment, "python"),
        "sklearn": packages.get("scikit-learn")
        if isinstance(packages.get("scikit-learn"), str)
        else None,
        "estimator": _text(model, "estimator"),
        "size_mb": _number(resources, "size_mb"),
        "latency_p95_ms": _number(resources, "latency_p95_ms"),
        "measures": {split: dict(measures(dict(snapshot), split)) for split in SPLITS},
        "constraints": _constraints(snapshot),
        "gain": {
            key: value
            for key, value in gain.items()
            if isinstance(value, str | int | float) and not isinstance(value, bool)
        },
        "edge_cases": {
            key: int(edge[key])
            for key in ("n_cases", "n_passed", "must_pass_failed")
            if isinstance(edge.get(key), int) and not isinstance(edge.get(key), bool)
        },
        "fairness_max_gap": _number(fairness, "max_gap"),
        "interpretability": _number(interpretability, "score"),
        "overfit_gap": _number(checks, "overfit_gap"),
        "overfit_flag": is_overfit(checks),
        "leakage": [w for w in checks.get("leakage", []) if isinstance(w, str)]
        if isinstance(checks.get("leakage"), list)
        else [],
    }


# ---------------------------------------------------------------------------------------------
# The index file


def index_path(root: Path) -> Path:
    return Path(root) / STATE_DIR / INDEX_FILE


def _mac_path(root: Path) -> Path:
    return Path(root) / STATE_DIR / MAC_FILE


def key_path() -> Path:
    """The per-user key that authenticates every index (outside any project folder)."""
    base = os.environ.get("XDG_STATE_HOME") or os.path.join(
        os.path.expanduser("~"), ".local", "state"
    )
    return Path(base) / "modelsnap" / KEY_FILE


_KEY: dict[str, bytes] = {}


def _key(*, create: bool) -> bytes | None:
    """The index key; made (32 random bytes, mode 0600, race-safe) when ``create`` and absent.
    None when there is none and none can be made: then no index row is ever trusted."""
    path = key_path()
    cached = _KEY.get(str(path))
    if cached is not None:
        return cached
    try:
        key = path.read_bytes()
    except OSError:
        key = b""
    if len(key) < 32 and create:
        with contextlib.suppress(OSError):
            path.parent.mkdir(parents=True, exist_ok=True)
            tmp = path.parent / f"{TMP_PREFIX}{os.getpid()}-{os.urandom(6).hex()}"
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            try:
                os.write(fd, os.urandom(32))
                os.fsync(fd)
            finally:
                os.close(fd)
            try:
                os.link(tmp, path)
            except FileExistsError:
                pass
            finally:
                tmp.unlink()
            key = path.read_bytes()
    if len(key) < 32:
        return None
    _KEY[str(path)] = key
    return key


def _mac(key: bytes | None, data: bytes) -> str | None:
    return None if key is None else hmac.new(key, data, hashlib.sha256).hexdigest()


def _authentic(key: bytes | None, data: bytes, mac: Any) -> bool:
    expected = _mac(key, data)
    return (
        expected is not None
        and isinstance(mac, str)
        and mac.isascii()
        and hmac.compare_digest(expected, mac)
    )


def _read_index(root: Path) -> dict[str, dict[str, Any]]:
    """The stored entries, or {} when the index is missing, unreadable, or of another version.

    A bad index is never an error: it is a cache, and the snapshot files are the truth.
    """
    try:
        raw = read_regular(index_path(root), what="state file", limit=STATE_JSON_LIMIT)
        mac = _mac_path(root).read_text("ascii").strip()
    except (OSError, ValueError, ModelsnapError):
        return {}
    if not _authentic(_key(create=False), raw, mac):
        return {}  # edited by hand, written elsewhere, or torn: a cache to rebuild
    data = loads_json_state(raw, check_depth=False)
    if not isinstance(data, dict) or data.get("row_version") != ROW_VERSION:
        return {}
    entries = data.get("entries")
    names = data.get("measure_names")
    if (
        not isinstance(entries, dict)
        or not isinstance(names, list)
        or not all(isinstance(name, str) for name in names)
    ):
        return {}
    for entry in entries.values():
        if isinstance(entry, dict) and isinstance(entry.get("row"), dict):
            _unpack_measures(entry["row"], names)
    return entries


# Measures are stored packed: per split, the little-endian float64 values of every measure
# name in the index's ``measure_names`` (NaN where absent; ``measures`` never yields NaN), in
# base64. Parsing ~40 decimal floats per row is most of the cost of reading the index; this
# makes index.json a third smaller and its reading about 25 % faster at 10,000 rows, and
# round-trips every float exactly.


def _number_or_nan(value: Any) -> float:
    if isinstance(value, int | float) and not isinstance(value, bool):
        return float(value)
    return math.nan


def _pack(values: Mapping[str, Any], names: list[str]) -> str:
    packed = array("d", (_number_or_nan(values.get(name)) for name in names))
    if sys.byteorder != "little":
        packed.byteswap()
    return base64.b64encode(packed.tobytes()).decode("ascii")


def _unpack_measures(row: dict[str, Any], names: list[str]) -> None:
    """Replace ``measures_packed`` by ``measures``; a row that does not decode is left without
    measures, so ``_row_ok`` refuses it and the file is parsed again."""
    packed = row.pop("measures_packed", None)
    if not isinstance(packed, list) or len(packed) != len(SPLITS):
        return
    measures = {}
    for split, text in zip(SPLITS, packed, strict=True):
        try:
            raw = base64.b64decode(text, validate=True)
        except (TypeError, ValueError):
            return
        if len(raw) != 8 * len(names):
            return
        values = array("d")
        values.frombytes(raw)
        if sys.byteorder != "little":
            values.byteswap()
        measures[split] = {
            name: value for name, value in zip(names, values, strict=True) if not math.isnan(value)
        }
    row["measures"] = measures


def journal_path(root: Path) -> Path:
    return Path(root) / STATE_DIR / JOURNAL_FILE


def _read_journal(root: Path) -> list[tuple[str, Any]]:
    """Entries appended by ``record`` since the last rewrite of index.json, oldest first.

    A torn last line (a crash mid-append) or any line that is not a current-version entry is
    skipped: like the index, the journal only ever saves work.
    """
    try:
        raw = read_regular(journal_path(root), limit=STATE_JSON_LIMIT)
    except (OSError, ModelsnapError):
        return []
    found = []
    key = _key(create=False)
    for line in raw.split(b"\n"):
        mac, _, payload = line.partition(b" ")
        if not payload or not _authentic(key, payload, mac.decode("ascii", "replace")):
            continue  # torn, hand-written or from another machine: not trusted
        item = loads_json_state(payload)
        if (
            isinstance(item, dict)
            and item.get("row_version") == ROW_VERSION
            and isinstance(item.get("file"), str)
        ):
            found.append((item["file"], item.get("entry")))
    return found


def _read_entries(root: Path) -> dict[str, Any]:
    """index.json with the journal replayed over it: file name -> entry."""
    entries = _read_index(root)
    for name, entry in _read_journal(root):
        entries[name] = entry
    return entries


def _write_index(root: Path, entries: Mapping[str, Any]) -> None:
    """Replace index.json with ``entries`` and empty the journal they include (under the lock).

    In this order, so a crash in between only replays entries the index already holds.
    """
    # Only entries a reader would trust (the journal and a foreign index may hold others).
    entries = {
        name: entry
        for name, entry in entries.items()
        if isinstance(entry, dict)
        and isinstance(entry.get("size"), int)
        and isinstance(entry.get("mtime_ns"), int)
        and isinstance(entry.get("sha256"), str)
        and _row_ok(entry.get("row"), name)
    }
    names = sorted(
        {
            name
            for entry in entries.values()
            for split in SPLITS
            for name in entry["row"]["measures"][split]
        }
    )
    stored = {}
    for file_name, entry in entries.items():
        row = {key: value for key, value in entry["row"].items() if key != "measures"}
        row["measures_packed"] = [_pack(entry["row"]["measures"][split], names) for split in SPLITS]
        stored[file_name] = {**entry, "row": row}
    body = {"schema": 1, "row_version": ROW_VERSION, "measure_names": names, "entries": stored}
    data = json.dumps(body, separators=(",", ":"), ensure_ascii=False).encode("utf-8")
    atomic_write_bytes(root, index_path(root), data)
    # Then its MAC: a reader between the two sees a mismatch and parses the files instead.
    atomic_write_bytes(
        root, _mac_path(root), (_mac(_key(create=True), data) or "none").encode("ascii")
    )
    with contextlib.suppress(FileNotFoundError):
        os.truncate(journal_path(root), 0)


def _append_journal(root: Path, fresh: Mapping[str, Any]) -> None:
    key = _key(create=True)
    lines = b""
    for name, entry in fresh.items():
        payload = json.dumps(
            {"row_version": ROW_VERSION, "file": name, "entry": entry},
            separators=(",", ":"),
            ensure_ascii=False,
        ).encode("utf-8")
        lines += (_mac(key, payload) or "none").encode("ascii") + b" " + payload + b"\n"
    with open(journal_path(root), "ab") as handle:
        handle.write(lines)
        handle.flush()
        os.fsync(handle.fileno())


def _entry(stat: os.stat_result, row: IndexRow, sha256: str | None) -> dict[str, Any]:
    return {"size": stat.st_size, "mtime_ns": stat.st_mtime_ns, "sha256": sha256, "row": row}


def _content_sha256(path: str | Path) -> str | None:
    """The file's bytes hashed (what a row is bound to); None when it cannot be read.

    Plain ``os.read`` calls: half the cost of ``files.sha256_file`` on 10,000 small files.
    """
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))
    except OSError:
        return None
    try:
        digest = hashlib.sha256()
        while True:
            block = os.read(fd, 1 << 20)
            if not block:
                return digest.hexdigest()
            digest.update(block)
    except OSError:
        return None
    finally:
        os.close(fd)


def record(root: Path, snapshot: Mapping[str, Any]) -> None:
    """Add (or refresh) one snapshot's row; ``store.write_snapshot`` calls this after each write.

    Runs under ``.modelsnap/index.lock`` so concurrent writers never drop each other's rows.
    The row is appended to ``.modelsnap/index.journal`` (one fsynced line), so the cost does not
    grow with the folder; once the journal passes ``JOURNAL_COMPACT_BYTES`` it is folded into
    index.json, which is replaced atomically. The file must already be in ``snapshots/``: its
    size and mtime are what later readers compare against.
    """
    record_many(root, [snapshot])


def record_many(root: Path, snapshots: Iterable[Mapping[str, Any]]) -> None:
    """``record`` for many snapshots: one rewrite of index.json (imports, benchmarks)."""
    root = Path(root)
    fresh: dict[str, dict[str, Any]] = {}
    for snapshot in snapshots:
        row = summary_row(snapshot)
        file_name = f"{row['id']}.toml"
        path = root / SNAPSHOT_DIR / file_name
        stat = path.stat()
        fresh[file_name] = _entry(stat, row, _content_sha256(path))
    if not fresh:
        return
    with folder_lock(root, LOCK_NAME):
        try:
            journal_size = journal_path(root).stat().st_size
        except FileNotFoundError:
            journal_size = 0
        if len(fresh) == 1 and journal_size < JOURNAL_COMPACT_BYTES and index_path(root).exists():
            _append_journal(root, fresh)
            return
        entries = _read_entries(root)
        entries.update(fresh)
        _write_index(root, entries)


def _list_files(directory: Path) -> dict[str, os.stat_result]:
    files: dict[str, os.stat_result] = {}
    try:
        iterator = os.scandir(directory)
    except FileNotFoundError:
        return files
    except OSError as exc:
        raise SnapshotError(
            f"cannot list snapshots: {exc.strerror}", where=str(directory)
        ) from None
    with iterator:
        for item in iterator:
            if not item.name.endswith(".toml") or is_tmp_name(item.name) or item.name[0] == ".":
                continue
            with contextlib.suppress(OSError):
                if not item.is_dir():
                    # lstat: a symlinked file never matches its row, so it is parsed (and refused);
                    # a FIFO, socket or device is listed too, so that reading refuses and names it
                    files[item.name] = item.stat(follow_symlinks=False)
    return files


def _parse(path: Path) -> IndexRow:
    """Read and summarise one file; any defect of the file's content becomes a SnapshotError."""
    refuse_link_out(path)
    snapshot = read_toml(path, what="snapshot")
    invalid = validate_snapshot(snapshot, path.name)
    if invalid:
        more = f" (and {len(invalid) - 3} more)" if len(invalid) > 3 else ""
        raise SnapshotError(
            "; ".join(invalid[:3]) + more, hint="'modelsnap check DIR' lists every problem"
        )
    if snapshot.get("id") != path.name[: -len(".toml")]:
        raise SnapshotError(
            f"id {snapshot.get('id')!r} does not match the file name",
            hint="snapshot files are named <id>.toml; do not rename them",
        )
    try:
        return summary_row(snapshot)
    except (TypeError, ValueError, KeyError, AttributeError) as exc:
        # A hand-edited file can put any TOML type anywhere; report it instead of crashing.
        raise SnapshotError(f"unexpected value in the snapshot ({exc})") from None


def load_rows(
    root: Path, *, write_back: bool = False
) -> tuple[list[IndexRow], list[SnapshotProblem]]:
    """All snapshot summary rows (sorted by id, i.e. creation time) and the files that failed.

    Rows whose file still has the indexed size and mtime come from the index; other files are
    parsed. A broken file becomes a ``schema.SnapshotProblem``, never an exception. With
    ``write_back=False`` (review) nothing is written, by construction. With ``write_back=True``
    the index is refreshed when anything changed (new rows added, stale ones replaced, rows of
    vanished files dropped), and a read-only folder is tolerated silently: it is only a cache.
    """
    root = Path(root)
    files = _list_files(root / SNAPSHOT_DIR)
    directory = str(root / SNAPSHOT_DIR)
    entries = _read_entries(root)
    rows: list[IndexRow] = []
    problems: list[SnapshotProblem] = []
    fresh: dict[str, dict[str, Any]] = {}
    trusted = 0
    for file_name in sorted(files):
        stat = files[file_name]
        entry = entries.get(file_name)
        text_path = f"{directory}/{file_name}"  # no Path objects: 10,000 of them cost 0.1 s
        digest = _content_sha256(text_path) if entry is not None else None
        if (
            entry is not None
            and _matches(entry, stat)
            and digest is not None
            and entry.get("sha256") == digest
            and _row_ok(entry.get("row"), file_name)
        ):
            rows.append(entry["row"])
            trusted += 1
            continue
        path = root / SNAPSHOT_DIR / file_name
        try:
            row = _parse(path)
        except ModelsnapError as error:
            problems.append(SnapshotProblem(path, error.message))
            continue
        rows.append(row)
        fresh[file_name] = _entry(stat, row, digest or _content_sha256(text_path))
    stale = len(entries) > trusted
    if write_back and (fresh or stale):
        with contextlib.suppress(OSError):
            _merge_back(root, fresh, files)
    return rows, problems


def _matches(entry: Any, stat: os.stat_result | None) -> bool:
    """The entry describes the file as it is now (any malformed entry simply does not)."""
    return (
        stat is not None
        and isinstance(entry, dict)
        and entry.get("size") == stat.st_size
        and entry.get("mtime_ns") == stat.st_mtime_ns
    )


def _plain_name(name: str) -> bool:
    """A name from the (untrusted) index that can only mean a file directly in snapshots/."""
    return (
        name.endswith(".toml")
        and not name.startswith(".")
        and not any(ch in name for ch in "/\\\x00")
    )


def _row_ok(row: Any, file_name: str) -> bool:
    """Enough of a row's shape that readers cannot crash on it: a hand-edited or foreign
    index.json is a cache to distrust, not an input to fail on."""
    if not isinstance(row, dict) or f"{row.get('id')}.toml" != file_name:
        return False
    measures = row.get("measures")
    return (
        isinstance(row.get("name"), str)
        and row.get("kind") in ("baseline", "candidate")
        and isinstance(measures, dict)
        and isinstance(measures.get("validation"), dict)
        and isinstance(measures.get("test"), dict)
        and isinstance(row.get("constraints"), dict)
    )


def _merge_back(root: Path, fresh: Mapping[str, Any], files: Mapping[str, os.stat_result]) -> None:
    """Re-read the index under the lock, add what was parsed, drop what no longer matches.

    An entry is kept only while it describes the file on disk, re-checked under the lock, so a
    row that a concurrent ``record`` added after our listing survives, and rows of vanished,
    edited or now-broken files go.
    """
    with folder_lock(root, LOCK_NAME):
        entries = _read_entries(root)
        entries.update(fresh)
        for name, entry in list(entries.items()):
            if _matches(entry, files.get(name)) and _row_ok(entry.get("row"), name):
                continue
            current = None
            if _plain_name(name):
                with contextlib.suppress(OSError):
                    current = (root / SNAPSHOT_DIR / name).stat()
            if not (_matches(entry, current) and _row_ok(entry.get("row"), name)):
                del entries[name]
        _write_index(root, entries)
