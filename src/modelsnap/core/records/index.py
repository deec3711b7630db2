"""The snapshot index: ``.modelsnap/index.sqlite``, one summary row per snapshot file.

Why it exists: parsing 100,000 snapshot TOMLs costs about two minutes, while ``ls``, ``rank``
and ``review`` must answer in seconds. So every snapshot write also records a *summary row*
(everything those commands show or rank on) keyed by the file name and *bound* to the file as
it was: its size, ``mtime_ns``, ``ctime_ns`` and inode, the moment of binding, and the sha256
of its bytes. Readers list ``snapshots/`` (``scandir`` + one ``stat`` per file) and use a row
without reading its file only while size, mtime, ctime and inode are all unchanged and the
binding was made at least ``RACY_NS`` after the file's last change. Any rewrite moves the
ctime, and no user can set a ctime (``touch``, ``utime``, ``cp -a`` and ``rsync -a`` set mtime
only), so a file edited in place, even to the same size with its mtime put back, is seen. A
row bound within ``RACY_NS`` of its file's change (a file can change twice within one clock
tick of the file system, with the same ctime) is trusted only while its file still hashes to
the bound sha256, as is a row whose file has the same size and mtime under another inode or
ctime (a copied folder); a reading ``ls`` or ``rank`` binds such rows again, so the next read
needs no hash (git's "racily clean" index entries are handled the same way). Any other file is
parsed. The snapshot files stay the truth: the index is a cache that can be deleted at any
time, nothing is recorded from it, and ``check`` hashes every record whatever the index says.

Rows live in two places. ``record`` (every snapshot write) adds a *loose* row to the ``entries``
table, one small transaction whatever the folder's size. A writing reader (``ls``, ``rank``),
once loose rows (and rows of vanished or changed files) reach ``COMPACT_FROM`` and a twentieth
of the folder, folds every row it just read into the *block*: one blob holding all rows, their
bindings and their measures as two float64 matrices, under one MAC. Reading 100,000 rows then
costs one MAC and one ``marshal.loads`` instead of one of each per row (a ranking's read, one
of each row's ``RANKING_FIELDS``, kept apart from its other fields); a loose row overrides the
block's row of the same file, and the fold deletes only the loose rows it read, so a row
recorded meanwhile survives.

The index is authenticated: each loose row, the block (with the measure names its values
follow) and the table of measure names carry an HMAC-SHA256 under a per-user key kept outside
the project (``$XDG_STATE_HOME/modelsnap/index.key``), so a row or block edited by hand, or an
index that came with a copied folder, is not trusted: the files are parsed instead. Where
that key cannot be kept, no row is trusted and every file is parsed. It is an SQLite database
(standard library), and concurrent writers are serialised by ``.modelsnap/index.lock``.

A reader that must not write the folder (review), or cannot (a read-only mount), uses the
folder's index when it is this user's; when it is not (someone else's folder, a fresh clone:
an index under another key, or none), it keeps an index of its own for that folder under the
user's cache (``$XDG_CACHE_HOME/modelsnap/folders/``, see ``private_home``), the same format
under the same key, so only its first read parses every file. It is a cache of the same kind,
with the same bindings: nothing in the folder is written, and a file changed since is parsed
again.

Fast path: this module imports only the standard library, ``modelsnap.core.errors`` and
``modelsnap.core.files``. ``measures`` is imported inside ``summary_row``.
"""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import json
import marshal
import math
import mmap
import operator
import os
import sqlite3
import stat as stat_module
import struct
import sys
import time
from array import array
from collections.abc import Callable, Iterable, Iterator, Mapping
from itertools import repeat
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, cast, overload

from modelsnap.core import collector
from modelsnap.core.beside import map_beside
from modelsnap.core.errors import ModelsnapError, SnapshotError
from modelsnap.core.files import (
    STATE_DIR,
    TMP_PREFIX,
    atomic_write_bytes,
    folder_lock,
    read_toml_and_bytes,
    refuse_link_out,
)
from modelsnap.core.measures import is_overfit
from modelsnap.core.records.listing import FileStat, Listing, file_stat, start_listing
from modelsnap.core.records.schema import SnapshotProblem, validate_snapshot

if TYPE_CHECKING:
    from modelsnap.core.records.shapes import IndexConstraints, IndexRow

INDEX_FILE = "index.sqlite"
BLOCK_FILE = "index.block"
KEY_FILE = "index.key"
# What earlier versions kept (a JSON index, its MAC and journal): removed when the index is
# rewritten.
LEGACY_FILES = ("index.json", "index.json.mac", "index.journal")
LOCK_NAME = "index.lock"
SNAPSHOT_DIR = "snapshots"
# Bump when summary_row's shape changes: an index written by another row version is ignored
# (every file is parsed again and, where allowed, the index is rewritten).
ROW_VERSION = 6  # 5: the latency split's model-only measures; 6: rows bound to ctime + inode
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
# The index file: .modelsnap/index.sqlite


def index_path(root: Path) -> Path:
    return Path(root) / STATE_DIR / INDEX_FILE


PRIVATE_DIR = "folders"
# A reader's own index of a folder not written for this long (no file added, replaced or
# removed in it) is removed when the next one is made, so the cache does not grow without end.
PRIVATE_KEEP_SECONDS = 30 * 24 * 3600


def private_home(root: Path) -> Path | None:
    """Where a reader that must not write ``root`` keeps its own index of it: a folder under
    the user's cache named by the hash of ``root``'s real path, laid out like a project folder
    (its index in ``.modelsnap/``), so the index's code serves both. Only ever written by
    ``load_rows`` and ``hash_cache``; deleting it costs one parse of each file.

    None when there is no absolute cache directory: a relative ``$XDG_CACHE_HOME`` is ignored
    (the XDG rule), and with no home directory either, a relative path would put the cache
    wherever the command runs, perhaps in the very folder it must not write."""
    base = os.environ.get("XDG_CACHE_HOME", "")
    if not os.path.isabs(base):
        base = os.path.join(os.path.expanduser("~"), ".cache")
    if not os.path.isabs(base):
        return None
    name = hashlib.sha256(os.fsencode(os.path.realpath(root))).hexdigest()[:32]
    return Path(base) / "modelsnap" / PRIVATE_DIR / name


def folder_writable(root: Path) -> bool:
    """Whether this process may write the folder's state (its ``.modelsnap``, or the folder
    when that is still to be made): an access check, so a write may still fail, harmlessly."""
    state = Path(root) / STATE_DIR
    return os.access(state if state.is_dir() else root, os.W_OK)


def _make_private(home: Path) -> None:
    """``home`` and the folders above it up to the cache's own, made this user's alone (0700):
    the rows summarise someone's snapshots. When ``home`` is new, the other folders' indexes
    not written for ``PRIVATE_KEEP_SECONDS`` are removed (``_prune_private``)."""
    home.parent.parent.parent.mkdir(parents=True, exist_ok=True)  # the user's cache itself
    new = not home.exists()
    for level in (home.parent.parent, home.parent, home, home / STATE_DIR):
        with contextlib.suppress(FileExistsError):
            level.mkdir(mode=0o700)
    if new:
        _prune_private(home)


def _prune_private(home: Path) -> None:
    """Remove the readers' indexes beside ``home`` whose state folder has not changed for
    ``PRIVATE_KEEP_SECONDS``: only folders named as ``private_home`` names them, never through
    a link. A reader still using one keeps its open files; it is only a cache."""
    import shutil

    stale_before = time.time() - PRIVATE_KEEP_SECONDS
    with contextlib.suppress(OSError):
        for entry in os.scandir(home.parent):
            name = entry.name
            if name == home.name or len(name) != 32 or name.strip("0123456789abcdef"):
                continue
            try:
                if not entry.is_dir(follow_symlinks=False):
                    continue
                try:
                    changed = os.stat(os.path.join(entry.path, STATE_DIR)).st_mtime
                except FileNotFoundError:  # made, then left before its first index
                    changed = entry.stat(follow_symlinks=False).st_mtime
            except OSError:
                continue
            if changed < stale_before:
                shutil.rmtree(entry.path, ignore_errors=True)


def key_path() -> Path:
    """The per-user key that authenticates every index (outside any project folder). A
    relative ``$XDG_STATE_HOME`` is ignored (the XDG rule); ``_key`` keeps no key at a path
    that is still relative (no home directory)."""
    base = os.environ.get("XDG_STATE_HOME", "")
    if not os.path.isabs(base):
        base = os.path.join(os.path.expanduser("~"), ".local", "state")
    return Path(base) / "modelsnap" / KEY_FILE


_KEY: dict[str, bytes] = {}


def _key(*, create: bool) -> bytes | None:
    """The index key; made (32 random bytes, mode 0600, race-safe) when ``create`` and absent.
    None when there is none and none can be made: then no index row is ever trusted."""
    path = key_path()
    if not path.is_absolute():  # it would land wherever the command runs: no key, no trust
        return None
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


# Every value of a row is stored as ``marshal`` bytes (decoding one row costs about 2 µs, a
# third of JSON), and only after its HMAC verified: marshal must never read bytes we did not
# write. Measures are packed: per split, the little-endian float64 values of the index's
# measure names (stored once, authenticated, only ever appended to), NaN where absent; readers
# get a read-only mapping that decodes a value when it is asked for, so loading 100,000 rows
# does not build 8 million dict entries.
_FORMAT = f"{ROW_VERSION}/{marshal.version}/{sys.version_info[0]}.{sys.version_info[1]}"
# Row version 5 stored the same rows, bound to size, mtime and sha256 only: an index of it is
# carried over (see _read_legacy) instead of parsing every snapshot again after an upgrade.
_LEGACY_FORMAT = f"5/{marshal.version}/{sys.version_info[0]}.{sys.version_info[1]}"
_DOUBLE = struct.Struct("<d")
# A row with exactly summary_row's keys is stored as the tuple of its values in this order
# (a third of the bytes, and faster to decode); any other row as a dict.
_ROW_FIELDS = (
    "id", "name", "kind", "version", "created_at", "criteria_revision", "reprofile_of", "task",
    "primary_metric", "dataset_sha256", "split_sha256", "hardware_fingerprint", "python",
    "sklearn", "estimator", "size_mb", "latency_p95_ms", "constraints", "gain", "edge_cases",
    "fairness_max_gap", "interpretability", "overfit_gap", "overfit_flag", "leakage",
    "measures_packed",
)  # fmt: skip

_ENTRIES = """
CREATE TABLE IF NOT EXISTS entries (
    file TEXT PRIMARY KEY,
    size INTEGER NOT NULL,
    mtime_ns INTEGER NOT NULL,
    ctime_ns INTEGER NOT NULL,
    ino INTEGER NOT NULL,
    bound_ns INTEGER NOT NULL,
    sha256 TEXT NOT NULL,
    body BLOB NOT NULL,
    mac TEXT NOT NULL
)"""
# The compacted rows live beside the database, in one authenticated file (``BLOCK_FILE``, see
# _pack_block), mapped into memory and read with one MAC and one ``marshal.loads`` instead of
# one of each per row. ``entries`` holds the rows written since (each ``record``), and a row
# there overrides the block's row of the same file.
_SCHEMA = (
    f"CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value BLOB NOT NULL);\n{_ENTRIES};"
)
# A writing reader folds the loose rows (entries, and rows it parsed) and the block's rows of
# vanished or changed files into a new block once there are this many, and at least a twentieth
# of the folder: reading a loose row costs its own MAC (about 7 µs), a block's row does not.
COMPACT_FROM = 256
BLOCK_BYTES_PER_FILE = 64 << 10
_BASE_FIELDS = _ROW_FIELDS[:-1]
_COLUMNS = "file, size, mtime_ns, ctime_ns, ino, bound_ns, sha256, body, mac"
# A file whose ctime is this close to (or after) the moment its row was bound may still change
# within the same clock tick without its ctime moving: such a row is checked by its sha256
# until a writing reader binds it again, later (git's "racily clean" entries). Two seconds
# cover the coarsest ctime a Linux or macOS file system keeps.
RACY_NS = 2_000_000_000
_INT64 = range(-(2**63), 2**63)


class PackedMeasures(Mapping[str, float]):
    """One split's measures of an index row, decoded on access (read only): the float64 words
    ``data[start:end]``, so a block's rows share its matrix instead of each copying a slice.
    Read through ``words``, the matrix as doubles (one view shared by a block's rows), where
    the machine is little-endian like the stored words; by ``struct`` elsewhere."""

    __slots__ = ("_data", "_start", "_end", "_positions", "_count", "_words", "_first", "_stop")

    def __init__(
        self,
        data: bytes,
        positions: Mapping[str, int],
        start: int = 0,
        end: int = -1,
        words: memoryview[float] | None = None,
    ) -> None:
        self._data = data
        self._start = start
        self._end = len(data) if end < 0 else end
        self._positions = positions
        self._count = -1
        self._words = words if words is not None else _doubles(data)
        self._first = start // 8
        self._stop = self._end // 8

    @property
    def _blob(self) -> bytes:
        """This row's words alone."""
        return self._data[self._start : self._end]

    def get(self, name: str, default: Any = None) -> Any:
        # called millions of times by a ranking of 100,000 rows: kept to the bare steps
        position = self._positions.get(name)
        if position is None:
            return default
        at = self._first + position
        if at >= self._stop:
            return default
        words = self._words
        value = words[at] if words is not None else _DOUBLE.unpack_from(self._data, 8 * at)[0]
        return default if value != value else value  # noqa: PLR0124 (NaN: absent; no call)

    def __getitem__(self, name: str) -> float:
        value = self.get(name, _MISSING)
        if value is _MISSING:
            raise KeyError(name)
        return value

    def __contains__(self, name: object) -> bool:
        # get's steps again, without a second call: a ranking asks this half a million times
        position = self._positions.get(name) if isinstance(name, str) else None
        if position is None:
            return False
        at = self._first + position
        if at >= self._stop:
            return False
        words = self._words
        value = words[at] if words is not None else _DOUBLE.unpack_from(self._data, 8 * at)[0]
        return value == value  # noqa: PLR0124 (NaN: absent)

    def __iter__(self) -> Iterator[str]:
        # positions were numbered in order, so the words line up with the names
        words = memoryview(self._data)[self._start : self._end].cast("Q").tolist()
        return iter([n for n, w in zip(self._positions, words, strict=False) if w != _ABSENT_BITS])

    def __len__(self) -> int:
        if self._count < 0:
            # Values are 8-byte words; an absent measure is the one NaN ``_pack`` writes.
            words = memoryview(self._data)[self._start : self._end].cast("Q").tolist()
            self._count = len(words) - words.count(_ABSENT_BITS)
        return self._count

    def __bool__(self) -> bool:  # ``measures or {}``: counted once, not on every call
        return len(self) > 0

    def __repr__(self) -> str:
        return repr(dict(self))


_MISSING = object()
_LITTLE_ENDIAN = sys.byteorder == "little"


def _doubles(data: bytes) -> memoryview[float] | None:
    """``data`` (little-endian float64 words) as doubles, when this machine reads them so."""
    return memoryview(data).cast("d") if _LITTLE_ENDIAN and len(data) % 8 == 0 else None


_ABSENT_BITS = struct.unpack("=Q", struct.pack("<d", math.nan))[0]


def _pack(values: Mapping[str, Any], names: list[str]) -> bytes:
    packed = array("d", (_number_or_nan(values.get(name)) for name in names))
    if sys.byteorder != "little":
        packed.byteswap()
    return packed.tobytes()


def _number_or_nan(value: Any) -> float:
    if isinstance(value, int | float) and not isinstance(value, bool):
        return float(value)
    return math.nan


def _signed(
    file_name: str, binding: tuple[int, int, int, int, int], sha256: str, body: bytes
) -> bytes:
    """The bytes a row's MAC covers: the file it describes, as it was (size, mtime_ns,
    ctime_ns, inode, the moment it was bound), its sha256, and the row itself."""
    size, mtime_ns, ctime_ns, ino, bound_ns = binding
    return (
        f"{file_name}\0{size}\0{mtime_ns}\0{ctime_ns}\0{ino}\0{bound_ns}\0{sha256}\0".encode()
        + body
    )


def _connect(root: Path, *, write: bool) -> sqlite3.Connection | None:
    """The index database; None when it cannot be opened (read only: when it is absent)."""
    path = index_path(root)
    try:
        if write:
            path.parent.mkdir(parents=True, exist_ok=True)
            connection = sqlite3.connect(path, timeout=30, isolation_level=None)
            connection.executescript(_SCHEMA)
        else:
            if not path.is_file():
                return None
            # mode=ro: review writes nothing, not even a journal; immutable is never used, so a
            # concurrent writer's commit is seen consistently
            connection = sqlite3.connect(f"{path.absolute().as_uri()}?mode=ro", uri=True, timeout=5)
    except (sqlite3.Error, OSError, ValueError):
        return None
    return connection


class _Index:
    """What one read of the index yields: the verified names and the stored entries."""

    def __init__(self) -> None:
        self.names: list[str] = []
        self.positions: dict[str, int] = {}
        # file -> (size, mtime_ns, ctime_ns, ino, bound_ns, sha256, body, mac) for a loose row
        # (not yet verified), or (size, mtime_ns, ctime_ns, ino, bound_ns, sha256, i) for the
        # block's row i (verified with the block): see ``stored``
        self._stored: dict[str, Any] = {}
        self._block_entries: tuple[list[str], Iterator[tuple[Any, ...]]] | None = None
        # The block's rows in two parts: each row's ``RANKING_FIELDS`` (always read), and its
        # other fields (None when the read was ``narrow`` and the block kept them apart)
        self.base_keys: list[tuple[Any, ...]] = []
        self.base_rest: list[tuple[Any, ...]] | None = None
        self.old_layout = False  # a block of whole rows (the layout before): rewritten when written
        self.block_mac = ""
        self.source: tuple[Path, int | None] | None = None  # (folder, block_limit) read from
        self.base_measures: tuple[bytes, bytes] = (b"", b"")
        self.base_words: tuple[memoryview[float] | None, memoryview[float] | None] = (None, None)
        self.base_width = 0  # measures per row in the block (a prefix of ``names``)
        self.base_count = 0
        # the block's own columns: (files, sizes, mtime_ns, ctime_ns, inodes, bound_ns)
        self.base_bindings: tuple[list[Any], ...] = ()
        self.loose: list[tuple[str, Any]] = []  # (file, mac) of every loose row read
        self.authentic = False  # the index's names verified under this user's key

    @property
    def stored(self) -> dict[str, Any]:
        """Each file's entry, a loose row over the block's row of its file. The block's entries
        are made when first asked for: a read whose files are all the block's rows
        (``_all_settled``) never needs them, and making and freeing 100,000 of them took
        0.07 s."""
        if self._block_entries is not None:
            files, bindings = self._block_entries
            self._block_entries = None
            loose, self._stored = self._stored, dict(zip(files, bindings, strict=True))
            self._stored.update(loose)
        return self._stored


def _read_names(
    connection: sqlite3.Connection, key: bytes | None, formats: tuple[str, ...] = (_FORMAT,)
) -> tuple[list[str], str] | None:
    """The index's measure names and its format, when the format is one of ``formats`` and
    the names are authentic; None otherwise."""
    meta = dict(
        connection.execute(
            "SELECT key, value FROM meta WHERE key IN ('format', 'measure_names',"
            " 'measure_names_mac')"
        ).fetchall()
    )
    stored_format, names_blob = meta.get("format"), meta.get("measure_names")
    if (
        stored_format not in formats
        or not isinstance(names_blob, bytes)
        or not _authentic(key, b"names\0" + names_blob, meta.get("measure_names_mac"))
    ):
        return None
    names = json.loads(names_blob)
    if not isinstance(names, list) or not all(isinstance(n, str) for n in names):
        return None
    return names, str(stored_format)


def _read_index(
    root: Path, *, block: bool = True, block_limit: int | None = None, narrow: bool = False
) -> _Index:
    """The stored entries (the block verified, loose rows not yet verified one by one), or none
    when the index is missing, unreadable, of another format, or its measure names are not
    authentic. A bad index is never an error: it is a cache, and the snapshot files are the
    truth. A block larger than ``block_limit`` bytes is not read (not even hashed). ``narrow``:
    the block's rows are decoded up to their ``RANKING_FIELDS`` only, where it keeps the rest
    apart (``base_rest`` is then None; ``_read_rest`` reads it when it is needed)."""
    found = _Index()
    found.source = (root, block_limit)
    connection = _connect(root, write=False)
    if connection is None:
        return found
    key = _key(create=False)
    try:
        read = _read_names(connection, key, (_FORMAT, _LEGACY_FORMAT))
        if read is None:
            return found
        names, stored_format = read
        legacy = stored_format == _LEGACY_FORMAT
        found.authentic = True
        found.names = names
        found.positions = {name: i for i, name in enumerate(names)}
        stored = found.stored
        if legacy:
            _read_legacy(connection, key, stored)
        else:
            loose = found.loose
            for file_name, *values in connection.execute(f"SELECT {_COLUMNS} FROM entries"):
                stored[file_name] = values
                loose.append((file_name, values[-1]))
            if block:
                # After the loose rows: a fold writes its block before it deletes the loose
                # rows it folded, so whichever block is found covers those rows.
                _read_block(root, key, found, block_limit, narrow)
    except (sqlite3.Error, ValueError, RecursionError):
        return _Index()
    finally:
        connection.close()
    return found


def block_path(root: Path) -> Path:
    return Path(root) / STATE_DIR / BLOCK_FILE


_BLOCK_MAGIC = b"modelsnap-index-block"


def _base_signed(names: list[str], width: int, body: bytes | memoryview) -> bytes:
    """What the block's MAC covers: the measure names its values follow, and the block."""
    head = b"block\0" + json.dumps(names[:width]).encode("utf-8") + b"\0"
    return head + hashlib.sha256(body).digest()


def _read_block(
    root: Path, key: bytes | None, found: _Index, limit: int | None = None, narrow: bool = False
) -> None:
    """The block's rows into ``found`` when its MAC verifies (under the names it was packed
    with) and its parts line up; otherwise none of them (their files are then parsed). The
    file is mapped, not copied, when no one else may write it (``_private_mapping``): at
    100,000 rows that saves 0.15 s of copying and page faults.
    """
    if key is None:
        return
    # Only a regular file, never through a link: a stranger's folder could put a FIFO (the read
    # would wait forever), a device or a link to a huge file there. O_NONBLOCK: a FIFO opens.
    flags = os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_CLOEXEC", 0)
    try:
        fd = os.open(block_path(root), flags)
    except OSError:
        return
    try:
        info = os.fstat(fd)
        if not stat_module.S_ISREG(info.st_mode) or (limit is not None and info.st_size > limit):
            return
        try:
            if not _private_mapping(info):
                raise ValueError("others may write it: read a copy")
            mapped: Any = mmap.mmap(fd, 0, access=mmap.ACCESS_READ)
        except (OSError, ValueError):  # empty, a file system that cannot map, or not ours
            os.set_blocking(fd, True)
            with os.fdopen(os.dup(fd), "rb") as handle:
                mapped = handle.read()
    except OSError:
        return
    finally:
        os.close(fd)
    try:
        _read_mapped_block(memoryview(mapped), key, found, narrow)
    finally:
        if isinstance(mapped, mmap.mmap):
            mapped.close()


def _private_mapping(info: os.stat_result) -> bool:
    """Whether the block may be read through a mapping: a mapping shows the file's bytes as
    they are at each read, so one that another user may write in place (a shared folder's,
    or any file writable by its group or by others) could change between the check of its MAC
    and ``marshal.loads``. Such a block is read into this process's memory first (0.15 s more
    at 100,000 rows); the block this user's modelsnap writes is theirs alone (0600)."""
    getuid = getattr(os, "getuid", None)
    return (
        getuid is not None
        and info.st_uid == getuid()
        and not info.st_mode & (stat_module.S_IWGRP | stat_module.S_IWOTH)
    )


def _read_mapped_block(data: memoryview, key: bytes, found: _Index, narrow: bool) -> None:
    # header: magic, format, width and MAC, one line; then the marshal bytes
    head_end = bytes(data[:512]).find(b"\n")
    head = bytes(data[:head_end]).split(b" ") if head_end > 0 else []
    if len(head) != 4 or head[0] != _BLOCK_MAGIC or head[1] != _FORMAT.encode():
        return
    width_text, mac = head[2].decode("ascii", "replace"), head[3].decode("ascii", "replace")
    width = int(width_text) if width_text.isdigit() and len(width_text) < 9 else -1
    body = data[head_end + 1 :]
    try:
        if not (
            0 <= width <= len(found.names)
            and hmac.compare_digest(
                hmac.digest(key, _base_signed(found.names, width, body), "sha256").hex(), mac
            )
        ):
            return
        try:
            parts = marshal.loads(body)  # only bytes this user's key signed
        except (ValueError, EOFError, TypeError):
            return
        if type(parts) is not tuple or len(parts) not in (10, 11):
            return
        files, sizes, mtimes, ctimes, inos, bounds, digests, rows, validation, test = parts[:10]
        count = len(files) if type(files) is list else -1
        if not (
            all(type(part) is list and len(part) == count for part in parts[:8])
            and type(validation) is bytes
            and type(test) is bytes
            and len(validation) == len(test) == 8 * width * count
        ):
            return
        rest: list[tuple[Any, ...]] | None
        if len(parts) == 10:  # the layout before the parting: whole rows, parted here
            if not _base_rows_sound(files, rows, len(_BASE_FIELDS)):
                return
            keys = [row[:_KEY_WIDTH] for row in rows]
            rest = [row[_KEY_WIDTH:] for row in rows]
            found.old_layout = True
        else:
            # each row's leading fields, then (after this object) the rest of every row, in
            # a marshal object of parts[10] bytes that ends the body
            rest_size = parts[10]
            if not (
                type(rest_size) is int
                and 0 < rest_size < len(body)
                and _base_rows_sound(files, rows, _KEY_WIDTH)
            ):
                return
            keys, rest = rows, None
            if not narrow:
                with body[len(body) - rest_size :] as tail:
                    rest = _rest_of(tail, count)
                if rest is None:
                    return
    finally:
        body.release()
    found.base_keys = keys
    found.base_rest = rest
    found.block_mac = mac
    found.base_measures = (validation, test)
    found.base_words = (_doubles(validation), _doubles(test))  # one view each, for every row
    found.base_width = width
    found.base_count = count
    found.base_bindings = (files, sizes, mtimes, ctimes, inos, bounds)
    bindings = zip(sizes, mtimes, ctimes, inos, bounds, digests, range(count), strict=True)
    found._block_entries = files, bindings  # made into ``found.stored`` when it is first read


# The block keeps each row's first fields, which hold every one a ranking reads (``as_row``'s),
# apart from the others: ``rank`` decodes 12 values a row instead of 25 with their nested
# tables (reading the index at 100,000 rows: 0.17 s instead of 0.30 s, 140 MB less).
RANKING_FIELDS = _BASE_FIELDS[:12]  # id ... hardware_fingerprint
_KEY_WIDTH = len(RANKING_FIELDS)
_RANKING_KEYS = frozenset((*RANKING_FIELDS, "measures"))
_NAME, _KIND, _CONSTRAINTS = (_BASE_FIELDS.index(f) for f in ("name", "kind", "constraints"))


def _base_rows_sound(files: list[Any], rows: list[Any], width: int) -> bool:
    """The block's rows (whole, or their ``RANKING_FIELDS``: ``width`` values) have the shape
    readers cannot crash on (what ``_decode_row`` checks of a loose row), each under its own
    file's name: one pass, about 40 ms at 100,000 rows."""
    return (
        all(
            type(row) is tuple
            and len(row) == width
            and type(row[_NAME]) is str
            and row[_KIND] in _KINDS
            and (width <= _CONSTRAINTS or type(row[_CONSTRAINTS]) is dict)
            for row in rows
        )
        and [f"{row[0]}.toml" for row in rows] == files
    )


def _rest_of(data: memoryview, count: int) -> list[tuple[Any, ...]] | None:
    """The rows' other fields, from the block's last marshal object (signed with the rest), when
    there is one per row and each has the shape readers cannot crash on; None otherwise."""
    try:
        rest = marshal.loads(data)  # only bytes this user's key signed
    except (ValueError, EOFError, TypeError):
        return None
    constraints, width = _CONSTRAINTS - _KEY_WIDTH, len(_BASE_FIELDS) - _KEY_WIDTH
    if not (
        type(rest) is list
        and len(rest) == count
        and all(
            type(row) is tuple and len(row) == width and type(row[constraints]) is dict
            for row in rest
        )
    ):
        return None
    return rest


def _read_rest(index: _Index) -> bool:
    """Make sure ``index.base_rest`` holds the block's other fields (a ``narrow`` read left them
    out): the block is read again, whole, and they are taken when it is the very block read
    before (the same MAC). False when it is not (another writer compacted meanwhile)."""
    if index.base_rest is not None:
        return True
    if index.source is None or not index.block_mac:
        return False
    root, limit = index.source
    again = _read_index(root, block_limit=limit)
    if again.block_mac != index.block_mac or again.base_rest is None:
        return False
    index.base_rest = again.base_rest
    return True


class _Row:
    """Builds a row as the ``__dict__`` of an instance: a plain dict to every reader, but one
    whose keys CPython shares between all rows (a "split table"), so each row holds only its
    values. At 100,000 rows that is a third of the memory of ``dict(zip(...))`` and a quarter of
    its time. The assignments below name ``_BASE_FIELDS`` in order (tests/core/test_index.py
    checks that); a reader that adds a key simply gets its own, ordinary dict."""

    def __init__(
        self, keys: tuple[Any, ...], rest: tuple[Any, ...], measures: dict[str, Mapping[str, float]]
    ) -> None:
        (
            self.id, self.name, self.kind, self.version, self.created_at, self.criteria_revision,
            self.reprofile_of, self.task, self.primary_metric, self.dataset_sha256,
            self.split_sha256, self.hardware_fingerprint,
        ) = keys  # fmt: skip
        (
            self.python, self.sklearn, self.estimator, self.size_mb, self.latency_p95_ms,
            self.constraints, self.gain, self.edge_cases, self.fairness_max_gap,
            self.interpretability, self.overfit_gap, self.overfit_flag, self.leakage,
        ) = rest  # fmt: skip
        self.measures = measures


class _RankingRow:
    """``_Row`` with the ``RANKING_FIELDS`` alone (a ``narrow`` read), in the same order."""

    def __init__(self, keys: tuple[Any, ...], measures: dict[str, Mapping[str, float]]) -> None:
        (
            self.id, self.name, self.kind, self.version, self.created_at, self.criteria_revision,
            self.reprofile_of, self.task, self.primary_metric, self.dataset_sha256,
            self.split_sha256, self.hardware_fingerprint,
        ) = keys  # fmt: skip
        self.measures = measures


def _base_row(index: _Index, i: int, narrow: bool = False) -> IndexRow:
    """Row ``i`` of the block (checked when it was packed, authenticated with the block):
    whole, or (``narrow``) its ``RANKING_FIELDS`` alone, which is all a narrow read has."""
    step = 8 * index.base_width
    start = step * i
    end = start + step
    validation, test = index.base_measures
    validation_words, test_words = index.base_words
    positions = index.positions
    measures: dict[str, Mapping[str, float]] = {
        "validation": PackedMeasures(validation, positions, start, end, validation_words),
        "test": PackedMeasures(test, positions, start, end, test_words),
    }
    if narrow:
        return cast("IndexRow", _RankingRow(index.base_keys[i], measures).__dict__)
    rest = index.base_rest
    if rest is None:  # a narrow read's index: _read_rest first
        raise RuntimeError("the index block's other fields were not read")
    return cast("IndexRow", _Row(index.base_keys[i], rest[i], measures).__dict__)


def _read_legacy(connection: sqlite3.Connection, key: bytes | None, stored: dict[str, Any]) -> None:
    """The rows of a version-5 index, whose MACs verify under that version's scheme, as rows
    whose ctime, inode and binding time are unknown (0): none is trusted on its stat, each only
    while its file still hashes to the sha256 it was bound to, and the next ``ls`` or ``rank``
    binds them anew in this format. Upgrading a folder of 100,000 snapshots then costs one
    hash of each file (about 1.5 s) instead of parsing all of them (about two minutes)."""
    if key is None:
        return
    for file_name, size, mtime_ns, sha256, body, mac in connection.execute(
        "SELECT file, size, mtime_ns, sha256, body, mac FROM entries"
    ):
        if not (
            type(file_name) is str
            and type(size) is int
            and type(mtime_ns) is int
            and type(sha256) is str
            and type(body) is bytes
            and type(mac) is str
            and mac.isascii()
        ):
            continue
        signed = f"{file_name}\0{size}\0{mtime_ns}\0{sha256}\0".encode() + body
        if not hmac.compare_digest(hmac.digest(key, signed, "sha256").hex(), mac):
            continue
        binding = (size, mtime_ns, 0, 0, 0)
        resigned = hmac.digest(key, _signed(file_name, binding, sha256, body), "sha256").hex()
        stored[file_name] = [*binding, sha256, body, resigned]


def _decode(index: _Index, key: bytes | None, file_name: str) -> dict[str, Any] | None:
    """The entry of ``file_name`` ({size, mtime_ns, ctime_ns, ino, bound_ns, sha256, body,
    row}) when its MAC verifies and its row has a shape readers cannot crash on; None
    otherwise."""
    stored = index.stored.get(file_name)
    row: IndexRow | None
    if stored is not None and len(stored) == 7:
        row = _base_row(index, stored[6])
        stored = (*stored[:6], None)
    else:
        row = _decode_row(stored, index.positions, key, file_name)
    if row is None or stored is None:
        return None
    names = ("size", "mtime_ns", "ctime_ns", "ino", "bound_ns", "sha256", "body")
    return dict(zip(names, stored, strict=False)) | {"row": row}


_KINDS = frozenset(("baseline", "candidate"))


def _decode_row(
    stored: Any, positions: Mapping[str, int], key: bytes | None, file_name: str
) -> IndexRow | None:
    """The row of a stored entry when its MAC verifies and it has a shape readers cannot crash
    on; None otherwise. Run once per snapshot on every ``ls``, ``rank`` and review start, so it
    is written for speed (about 7 µs a row)."""
    if key is None or stored is None or len(stored) != 8:
        return None
    size, mtime_ns, ctime_ns, ino, bound_ns, sha256, body, mac = stored
    if not (
        type(size) is int
        and type(mtime_ns) is int
        and type(ctime_ns) is int
        and type(ino) is int
        and type(bound_ns) is int
        and type(sha256) is str
        and type(body) is bytes
        and type(mac) is str
        and mac.isascii()
    ):
        return None
    signed = _signed(file_name, (size, mtime_ns, ctime_ns, ino, bound_ns), sha256, body)
    if not hmac.compare_digest(hmac.digest(key, signed, "sha256").hex(), mac):
        return None  # edited by hand, written under another key, or torn: parse the file
    try:
        row = marshal.loads(body)  # only bytes this user's key signed: never foreign bytes
    except (ValueError, EOFError, TypeError):
        return None
    if type(row) is tuple and len(row) == len(_ROW_FIELDS):
        row = dict(zip(_ROW_FIELDS, row, strict=True))
    elif type(row) is not dict:
        return None
    packed = row.pop("measures_packed", None)
    if type(packed) is not tuple or len(packed) != 2:
        return None
    validation, test = packed
    if not (
        type(validation) is bytes
        and type(test) is bytes
        and len(validation) % 8 == 0
        and len(test) % 8 == 0
        and type(row.get("name")) is str
        and row.get("kind") in _KINDS
        and type(row.get("constraints")) is dict
        and f"{row.get('id')}.toml" == file_name
    ):
        return None  # a shape a reader could crash on: a cache entry to distrust
    row["measures"] = {
        "validation": PackedMeasures(validation, positions),
        "test": PackedMeasures(test, positions),
    }
    return cast("IndexRow", row)


def _read_entries(root: Path) -> dict[str, Any]:
    """Every entry of the index whose MAC verifies: file name -> ``_decode``'s entry (no file
    is looked at)."""
    index = _read_index(root)
    key = _key(create=False)
    entries = {}
    for file_name in index.stored:
        entry = _decode(index, key, file_name)
        if entry is not None:
            entries[file_name] = entry
    return entries


def _store(
    root: Path,
    fresh: Mapping[str, Mapping[str, Any]],
    *,
    drop: Iterable[str] = (),
    replace: bool = False,
) -> None:
    """Write ``fresh`` entries (and delete ``drop``) in one transaction; the caller holds the
    index lock. ``replace`` starts from an empty index. An index that cannot be opened or is
    damaged is made anew."""
    key = _key(create=True)
    if key is None:
        return  # no key, no trusted rows: nothing worth writing
    for attempt in (1, 2):
        connection = _connect(root, write=True)
        if connection is None:
            if attempt == 2 or not index_path(root).is_file():
                raise OSError(f"cannot open {index_path(root)}")
            index_path(root).unlink()  # not a database (torn, overwritten): start a new one
            continue
        try:
            _store_in(connection, key, fresh, drop, replace)
            return
        except sqlite3.DatabaseError:
            if attempt == 2:
                raise OSError(f"cannot write {index_path(root)}") from None
            replace = True  # damaged (torn, not a database): start a new one
            connection.close()
            with contextlib.suppress(FileNotFoundError):
                index_path(root).unlink()
        finally:
            connection.close()


def _store_in(
    connection: sqlite3.Connection,
    key: bytes,
    fresh: Mapping[str, Mapping[str, Any]],
    drop: Iterable[str],
    replace: bool,
) -> None:
    connection.execute("BEGIN IMMEDIATE")
    try:
        names: list[str] = []
        if not replace:
            current = _read_names(connection, key)
            if current is None:  # another format, or names not authentic: no row is readable
                replace = True
            else:
                names = current[0]
        if replace:  # another format may have other columns: the tables are made anew
            connection.execute("DROP TABLE IF EXISTS entries")
            connection.execute(_ENTRIES)
        known = set(names)
        for entry in fresh.values():
            for split in SPLITS:
                for name in entry["row"]["measures"][split]:
                    if name not in known:
                        known.add(name)
                        names.append(name)
        names_blob = json.dumps(names).encode("utf-8")
        for meta_key, value in (
            ("format", _FORMAT),
            ("measure_names", names_blob),
            ("measure_names_mac", _mac(key, b"names\0" + names_blob)),
        ):
            connection.execute("INSERT OR REPLACE INTO meta VALUES (?, ?)", (meta_key, value))
        connection.executemany("DELETE FROM entries WHERE file = ?", ((name,) for name in drop))
        rows = []
        for file_name, entry in fresh.items():
            # A row read back from the index keeps its bytes, whose packed measures follow the
            # names it was read under: only while those names are kept (not on a new table).
            body = None if replace else entry.get("body")
            if body is None:
                row = {k: v for k, v in entry["row"].items() if k != "measures"}
                row["measures_packed"] = tuple(
                    _pack(entry["row"]["measures"][split], names) for split in SPLITS
                )
                body = marshal.dumps(tuple(row.values()) if tuple(row) == _ROW_FIELDS else row)
            binding = tuple(entry[k] for k in ("size", "mtime_ns", "ctime_ns", "ino", "bound_ns"))
            sha256 = entry["sha256"]
            mac = hmac.digest(key, _signed(file_name, binding, sha256, body), "sha256")
            rows.append((file_name, *binding, sha256, body, mac.hex()))
        connection.executemany(
            f"INSERT OR REPLACE INTO entries ({_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            rows,
        )
        connection.execute("COMMIT")
    except BaseException:
        with contextlib.suppress(sqlite3.Error):
            connection.execute("ROLLBACK")
        raise


def _entry(
    stat: FileStat, row: IndexRow, sha256: str, bound_ns: int, body: bytes | None = None
) -> dict[str, Any] | None:
    """What is stored for one file: its row, bound to the file as ``stat`` saw it at
    ``bound_ns`` (taken before the stat); None when a value does not fit SQLite's integers."""
    binding = (*stat, bound_ns)
    if not all(value in _INT64 for value in binding):
        return None
    names = ("size", "mtime_ns", "ctime_ns", "ino", "bound_ns")
    return dict(zip(names, binding, strict=True)) | {"sha256": sha256, "row": row, "body": body}


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

    Runs under ``.modelsnap/index.lock`` so concurrent writers never drop each other's rows;
    one small SQLite transaction, so the cost does not grow with the folder. The file must
    already be in ``snapshots/``: its size, mtime and sha256 are what later readers compare.
    """
    record_many(root, [snapshot])


def record_many(root: Path, snapshots: Iterable[Mapping[str, Any]]) -> None:
    """``record`` for many snapshots, in one transaction (imports, benchmarks)."""
    root = Path(root)
    fresh: dict[str, dict[str, Any]] = {}
    for snapshot in snapshots:
        row = summary_row(snapshot)
        file_name = f"{row['id']}.toml"
        path = root / SNAPSHOT_DIR / file_name
        bound_ns = time.time_ns()
        stat = file_stat(path.stat())
        digest = _content_sha256(path)
        entry = _entry(stat, row, digest, bound_ns) if digest is not None else None
        if entry is not None:
            fresh[file_name] = entry
    if not fresh:
        return
    with folder_lock(root, LOCK_NAME):
        _store(root, fresh)


def _parse(path: Path) -> tuple[IndexRow, str]:
    """Read and summarise one file, with the sha256 of the very bytes summarised (what the row
    is bound to); any defect of the file's content becomes a SnapshotError."""
    refuse_link_out(path)
    snapshot, raw = read_toml_and_bytes(path, what="snapshot")
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
        return summary_row(snapshot), hashlib.sha256(raw).hexdigest()
    except (TypeError, ValueError, KeyError, AttributeError) as exc:
        # A hand-edited file can put any TOML type anywhere; report it instead of crashing.
        raise SnapshotError(f"unexpected value in the snapshot ({exc})") from None


def load_rows(
    root: Path,
    *,
    write_back: bool = False,
    progress: Callable[[int, int], None] | None = None,
    narrow: bool = False,
) -> tuple[list[IndexRow], list[SnapshotProblem]]:
    """All snapshot summary rows (sorted by id, i.e. creation time) and the files that failed.

    A row comes from the index only while its file has the indexed size and mtime, its bytes
    the indexed sha256, and the row its MAC; other files are parsed. A broken file becomes a
    ``schema.SnapshotProblem``, never an exception. With ``write_back=False`` (review) nothing
    in the folder is written, by construction (its index is opened read only); when that index
    is not this user's, the reader's own index of the folder (``private_home``) is read and
    kept up to date instead. With ``write_back=True`` the index is refreshed when anything
    changed (new rows added, stale ones replaced, rows of vanished files dropped), and a
    read-only folder is tolerated silently: it is only a cache.
    Each row's ``measures`` hold read-only mappings (``PackedMeasures`` when from the index).
    ``progress(done, total)`` hears how far the parsing of the files no row stands for is, at
    most every ``PROGRESS_SECONDS`` and once at the end (a first read of someone else's
    100,000 snapshots takes most of a minute); it is never called when nothing is parsed.
    ``narrow``: each row holds only the ``RANKING_FIELDS`` (of those it has) and ``measures``,
    all a ranking reads; the index block's rows are then read without their other fields
    (at 100,000 rows: 0.13 s and 140 MB less). The same files are checked and parsed, and
    what is written back is the same, whole.
    """
    # Hundreds of thousands of new objects and no reference cycles: the cyclic collector
    # would only walk them again and again (a third of the time at 100,000 rows).
    with collector.paused():
        return _load_rows(Path(root), write_back, progress, narrow)


def _narrowed(rows: list[IndexRow]) -> list[IndexRow]:
    """``rows`` as a ``narrow`` read gives them: the block's are already; each whole one
    (parsed, or a loose row) is cut to its ``RANKING_FIELDS`` and measures."""
    narrowed = []
    for row in rows:
        if len(row) == _KEY_WIDTH + 1 and row.keys() == _RANKING_KEYS:
            narrowed.append(row)
            continue
        kept = {field: row[field] for field in RANKING_FIELDS if field in row}  # type: ignore[literal-required]
        kept["measures"] = row["measures"]
        narrowed.append(cast("IndexRow", kept))
    return narrowed


def _load_rows(
    root: Path, write_back: bool, progress: Callable[[int, int], None] | None, narrow: bool
) -> tuple[list[IndexRow], list[SnapshotProblem]]:
    bound_ns = time.time_ns()  # before the listing's stats: see _entry
    # The files are listed and stat'ed (beside this process, in a large folder) while the
    # index is read; pending.bound: at least as many files as the listing will hold.
    pending = start_listing(root / SNAPSHOT_DIR)
    try:
        # A block holds well under 64 KiB per snapshot (about 800 bytes here): a larger one is
        # not ours, and hashing it would only cost time (a stranger's folder could hold
        # gigabytes there).
        limit = BLOCK_BYTES_PER_FILE * pending.bound + (1 << 20)
        index = _read_index(root, block_limit=limit, narrow=narrow)
        # where what this read learns is kept: the folder's index, or none (nothing is written)
        home: Path | None = root if write_back else None
        if not index.authentic and (home is None or not folder_writable(root)):
            # Not this user's index of the folder (another user's, or none), and the folder is
            # not to be written (review) or cannot be: this reader keeps its own index of it,
            # so that only its first read parses every file (see private_home).
            home = private_home(root)
            if home is not None:
                index = _read_index(home, block_limit=limit, narrow=narrow)
        files = pending.result()
    finally:
        pending.cancel()
    if _all_settled(index, files) and not _layout_to_rewrite(index, home):
        # The common start: each file is its block row, as the loop below would find one by
        # one; nothing to parse, and nothing to write back (but a block of the old layout,
        # rewritten below where it can be).
        return [_base_row(index, i, narrow) for i in range(index.base_count)], []
    directory = str(root / SNAPSHOT_DIR)
    key = _key(create=False)
    stored, positions = index.stored, index.positions
    rows: list[IndexRow] = []
    # per row: its file and what it is bound to (the stored entry, or the entry to store)
    sources: list[tuple[str, Any]] = []
    problems: list[SnapshotProblem] = []
    fresh: dict[str, dict[str, Any]] = {}
    todo: list[tuple[int, str, FileStat]] = []  # (place in rows, file, its stat) to parse
    trusted_loose = trusted_base = 0
    settled_before = bound_ns - RACY_NS
    # The common case first (a block row whose binding has settled, as below), its test
    # inlined: at 100,000 rows every call and branch saved here is felt.
    for file_name, size, mtime_ns, ctime_ns, ino in files:  # in name order
        known = stored.get(file_name)
        if (
            known is not None
            and len(known) == 7
            and known[0] == size
            and known[1] == mtime_ns
            and known[2] == ctime_ns
            and known[3] == ino
            and type(known[4]) is int
            and ctime_ns < known[4] - RACY_NS
        ):
            rows.append(_base_row(index, known[6], narrow))
            sources.append((file_name, known))
            trusted_base += 1
            continue
        digest = None
        if known is not None and known[0] == size and known[1] == mtime_ns:
            # Same size and mtime. The same ctime and inode too, bound well after the file last
            # changed: the file is the one the row was made from (a rewrite, even with its mtime
            # put back, moves the ctime, which no user can set). Otherwise its bytes decide.
            settled = (
                known[2] == ctime_ns
                and known[3] == ino
                and type(known[4]) is int  # a hand-edited row can hold any SQLite value
                and ctime_ns < known[4] - RACY_NS
            )
            if not settled:  # a text path: 100,000 Path objects would cost 1 s
                digest = _content_sha256(f"{directory}/{file_name}")
            if settled or (digest is not None and digest == known[5]):
                in_base = len(known) == 7
                if in_base:
                    cached: IndexRow | None = _base_row(index, known[6], narrow)
                    trusted_base += 1
                else:
                    cached = _decode_row(known, positions, key, file_name)
                if cached is not None:
                    rows.append(cached)
                    trusted_loose += not in_base
                    source = known
                    if not settled and home is not None and ctime_ns < settled_before:
                        # the bytes matched: bind the row again, so the next read needs none
                        stat = FileStat(size, mtime_ns, ctime_ns, ino)
                        rebound = _bound_again(index, known, cached, (stat, bound_ns), narrow)
                        if rebound is not None:
                            fresh[file_name] = source = rebound
                    sources.append((file_name, source))
                    continue
        # parsed below, all together (beside this process when there are many), in its place
        todo.append((len(rows), file_name, FileStat(size, mtime_ns, ctime_ns, ino)))
        rows.append(cast("IndexRow", None))
        sources.append((file_name, None))
    if todo:
        read = (rows, sources, fresh, problems)
        rows, sources = _parse_todo(root, todo, read, bound_ns, progress)
    if home is not None:
        found = (rows, sources, fresh, files)
        _write_back(home, root, index, found, (trusted_loose, trusted_base), narrow)
    return _narrowed(rows) if narrow else rows, problems


def _layout_to_rewrite(index: _Index, home: Path | None) -> bool:
    """Whether this read rewrites the block in the present layout: a block of the old layout,
    in a home this process may write (in a read-only folder each read would try and fail)."""
    return index.old_layout and home is not None and folder_writable(home)


def _bound_again(
    index: _Index, known: Any, row: IndexRow, now: tuple[FileStat, int], narrow: bool
) -> dict[str, Any] | None:
    """The entry that binds ``known``'s row (``row``, just trusted on its bytes) to its file's
    stat ``now``. A row is stored whole: a ``narrow`` read's row of the block is read again
    whole (None when it cannot be: ``_read_rest``)."""
    stat, bound_ns = now
    in_base = len(known) == 7
    if in_base and narrow:
        if not _read_rest(index):
            return None
        row = _base_row(index, known[6])
    return _entry(stat, row, known[5], bound_ns, None if in_base else known[6])


def _all_settled(index: _Index, files: Listing) -> bool:
    """Whether every file listed is, in order, the block's row of its name, bound to the very
    numbers ``lstat`` gives now, and bound well after the file last changed, with no loose row
    over it: the first test of ``_load_rows``' loop, for all the rows at once (whole columns
    compared in C: 0.01 s at 100,000 rows, against 0.1 s for the loop's own steps)."""
    if index.loose or not index.base_bindings or index.base_count != len(files):
        return False
    names, sizes, mtimes, ctimes, inos, bounds = index.base_bindings
    if not (
        names == files.names
        and sizes == files.sizes
        and mtimes == files.mtimes
        and ctimes == files.ctimes
        and inos == files.inos
        and all(type(bound) is int for bound in bounds)
    ):
        return False
    return all(map(operator.lt, ctimes, map(operator.sub, bounds, repeat(RACY_NS))))


# From this many files to parse (a folder whose index is missing, or came from someone else),
# a forked child parses part of them: see _parse_todo.
PARSE_BESIDE_FROM = 200
PROGRESS_SECONDS = 0.1  # how often a reading of files is told (``store.SnapshotReader`` too)


def _parse_todo(
    root: Path,
    todo: list[tuple[int, str, FileStat]],
    read: tuple[list[IndexRow], list[Any], dict[str, Any], list[SnapshotProblem]],
    bound_ns: int,
    progress: Callable[[int, int], None] | None = None,
) -> tuple[list[IndexRow], list[Any]]:
    """Parse the files ``todo`` names into their places in ``rows`` (and ``sources``); a file
    that cannot be read becomes a problem and its place goes. From ``PARSE_BESIDE_FROM`` files a
    forked child (or, in a thread, a started interpreter) parses part of them
    (``beside.map_beside``). ``progress``: see ``load_rows``."""
    rows, sources, fresh, problems = read
    known_problems = len(problems)
    paths = [root / SNAPSHOT_DIR / file_name for _, file_name, _ in todo]
    done = None
    if progress is not None:
        total = len(paths)

        def done(count: int) -> None:
            progress(count, total)

    outcomes = map_beside(
        _parsed_or_problem,
        [os.fspath(path) for path in paths],  # what a started interpreter can be sent
        beside_from=PARSE_BESIDE_FROM,
        done=done,
        done_every=PROGRESS_SECONDS,
        by_name=True,  # a thread's read (the TUI's ranking, a Jupyter kernel's) shares them
    )
    if progress is not None:
        progress(len(paths), len(paths))
    for (place, file_name, stat), path, (row, digest, message) in zip(
        todo, paths, outcomes, strict=True
    ):
        if message is not None:
            problems.append(SnapshotProblem(path, message))
            continue
        rows[place] = row
        parsed = _entry(stat, row, digest, bound_ns)
        if parsed is not None:
            fresh[file_name] = parsed
        sources[place] = (file_name, parsed)
    if len(problems) == known_problems:
        return rows, sources
    kept = [i for i, row in enumerate(rows) if row is not None]
    return [rows[i] for i in kept], [sources[i] for i in kept]


def _parsed_or_problem(path: Path | str) -> tuple[IndexRow | None, str | None, str | None]:
    """``_parse`` as (row, sha256, None), or (None, None, the problem's message)."""
    try:
        row, digest = _parse(Path(path))
    except ModelsnapError as error:
        return None, None, error.message
    return row, digest, None


def _write_back(
    home: Path,
    root: Path,
    index: _Index,
    read: tuple[list[IndexRow], list[Any], dict[str, Any], Listing],
    trusted: tuple[int, int],
    narrow: bool = False,
) -> None:
    """After a writing read of ``root``'s files: fold the rows into a new block of the index in
    ``home`` (``root`` itself, or its ``private_home``) once enough sit outside it, or when the
    block has the old layout, else store the rows parsed or bound again (and drop the loose
    rows of vanished files). A ``narrow`` read's rows of the block are folded whole, read again
    (``_whole_rows``). A failure only leaves the cache as it was: a folder with a link where its
    state should be, a cache directory that cannot be made."""
    rows, sources, fresh, files = read
    trusted_loose, trusted_base = trusted
    if home != root:
        try:
            _make_private(home)
        except OSError:
            return
    loose = len(index.loose)
    unused = index.base_count - trusted_base  # rows of vanished, changed or shadowed files
    due = loose + len(fresh) + unused >= max(COMPACT_FROM, len(rows) // 20)
    if due or _layout_to_rewrite(index, home):
        whole = _whole_rows(index, rows, sources) if narrow else rows
        with contextlib.suppress(OSError, sqlite3.Error, ModelsnapError):
            if whole is not None and _compact(home, index, whole, sources):
                return
    if fresh or loose > trusted_loose:
        with contextlib.suppress(OSError, sqlite3.Error, ModelsnapError):
            _merge_back(home, root, fresh, files.stats())


def _whole_rows(index: _Index, rows: list[IndexRow], sources: list[Any]) -> list[IndexRow] | None:
    """A ``narrow`` read's ``rows`` made whole: a row of the block from the block's other
    fields (None when they cannot be read again: ``_read_rest``), one bound again from its new
    entry (``_bound_again`` made it whole); parsed and loose rows are whole already."""
    if not _read_rest(index):
        return None
    whole = []
    for row, (_file, source) in zip(rows, sources, strict=True):
        if type(source) is tuple:  # the block's entry: (size, ..., sha256, position)
            whole.append(_base_row(index, source[6]))
        elif type(source) is dict:  # the entry to store: a parsed or bound-again row, whole
            whole.append(source["row"])
        else:
            whole.append(row)
    return whole


_BINDING = ("size", "mtime_ns", "ctime_ns", "ino", "bound_ns", "sha256")
_ROW_KEYS = frozenset((*_BASE_FIELDS, "measures"))


def _compact(root: Path, index: _Index, rows: list[IndexRow], sources: list[Any]) -> bool:
    """Under the lock, write ``rows`` (just read, each bound as ``sources`` says) as the new
    block, then delete the loose rows that were read (a loose row written since stays, and
    overrides the block). False, with the block untouched, when the index changed in a way the
    rows cannot follow (other names, another format) or a row has another shape.

    Order matters to concurrent readers, who read the names and loose rows, then the block:
    the names a block needs are committed first, the block is renamed into place next, and the
    loose rows it holds are deleted last, so a reader never misses a row (at worst it reads a
    row twice, or finds a block whose names it has not seen and parses instead)."""
    key = _key(create=True)
    if key is None:
        return False
    with folder_lock(root, LOCK_NAME):
        connection = _connect(root, write=True)
        if connection is None:
            return False
        try:
            names = _extend_names(connection, key, index.names, rows)
            if names is None:
                return False
            packed = _pack_block(names, rows, sources)
            if packed is None:
                return False
            width, body = packed
            mac = hmac.digest(key, _base_signed(names, width, body), "sha256").hex()
            head = b" ".join((_BLOCK_MAGIC, _FORMAT.encode(), str(width).encode(), mac.encode()))
            try:
                # this user's alone: see _private_mapping
                atomic_write_bytes(root, block_path(root), head + b"\n" + body, mode=0o600)
            except ModelsnapError:
                return False
            connection.execute("BEGIN IMMEDIATE")
            connection.executemany("DELETE FROM entries WHERE file = ? AND mac = ?", index.loose)
            connection.execute("COMMIT")
            # The folded rows' pages are free now: give them back when they are most of the
            # file (what is left, a few loose rows, is quick to copy).
            (free,) = connection.execute("PRAGMA freelist_count").fetchone()
            (pages,) = connection.execute("PRAGMA page_count").fetchone()
            if free > pages // 2:
                connection.execute("VACUUM")
        finally:
            connection.close()
        for legacy in LEGACY_FILES:
            with contextlib.suppress(OSError):
                (Path(root) / STATE_DIR / legacy).unlink()
    return True


def _extend_names(
    connection: sqlite3.Connection, key: bytes, read: list[str], rows: list[IndexRow]
) -> list[str] | None:
    """The index's names, extended by any measure a parsed row brings, committed; None when
    they are no longer the names ``read`` was (another format, renumbered, not authentic).

    An index with no names this reader can use (new, of another format, or not made under
    this user's key) is started anew when the reader used none of it (``read`` is empty): its
    rows could not be read by anyone, so the first writing read of a folder folds its rows
    into a block at once instead of storing each as a loose row first."""
    connection.execute("BEGIN IMMEDIATE")
    try:
        current = _read_names(connection, key)
        if current is None and not read:
            connection.execute("DROP TABLE IF EXISTS entries")
            connection.execute(_ENTRIES)
            connection.execute("INSERT OR REPLACE INTO meta VALUES ('format', ?)", (_FORMAT,))
            current = ([], _FORMAT)
            before = -1  # the names are written even when no row brings one
        elif current is None or current[0][: len(read)] != read:
            connection.execute("ROLLBACK")
            return None
        else:
            before = len(current[0])
        names = current[0]
        known = set(names)
        for row in rows:
            for split in SPLITS:
                measures = row["measures"][split]
                if type(measures) is not PackedMeasures:
                    for name in measures:
                        if name not in known:
                            known.add(name)
                            names.append(name)
        if len(names) > before:
            names_blob = json.dumps(names).encode("utf-8")
            for meta_key, value in (
                ("measure_names", names_blob),
                ("measure_names_mac", _mac(key, b"names\0" + names_blob)),
            ):
                connection.execute("INSERT OR REPLACE INTO meta VALUES (?, ?)", (meta_key, value))
        connection.execute("COMMIT")
    except BaseException:
        with contextlib.suppress(sqlite3.Error):
            connection.execute("ROLLBACK")
        raise
    return names


def _shared(value: Any, strings: dict[str, str]) -> Any:
    """``value`` with each string replaced by the first equal one seen (in nested tables and
    lists too): ``marshal`` writes an object met again as a back-reference, so a dataset hash
    or a constraint's name repeated in every row is stored, and read back, once."""
    kind = type(value)
    if kind is str:
        return strings.setdefault(value, value)
    if kind is dict:
        return {_shared(k, strings): _shared(v, strings) for k, v in value.items()}
    if kind is list:
        return [_shared(item, strings) for item in value]
    return value


def _pack_block(
    names: list[str], rows: list[IndexRow], sources: list[Any]
) -> tuple[int, bytes] | None:
    """The block's bytes: per row its file, binding, sha256 and ``RANKING_FIELDS`` values, per
    split one matrix of float64 measures, a row of ``width`` values per snapshot (``names``
    holds every measure of ``rows``), and the size of the marshal object that follows them and
    ends the block: each row's other values (``_BASE_FIELDS``), so that a ``narrow`` read need
    not decode them. A string repeated across rows (a dataset hash, a constraint's name) is
    stored once, so the block is smaller and reads back faster."""
    width = len(names)
    absent = _pack({}, names)
    columns: list[list[Any]] = [[] for _ in range(8)]
    files, sizes, mtimes, ctimes, inos, bounds, digests, keys = columns
    rest: list[tuple[Any, ...]] = []
    matrices: tuple[list[bytes], list[bytes]] = ([], [])
    shared: dict[str, str] = {}
    for row, (file_name, source) in zip(rows, sources, strict=True):
        if source is None:
            continue  # a binding SQLite cannot hold: parsed again next time
        if row.keys() != _ROW_KEYS:
            return None
        binding = tuple(source[k] for k in _BINDING) if type(source) is dict else tuple(source[:6])
        files.append(file_name)
        for column, value in zip(columns[1:7], binding, strict=True):
            column.append(value)
        values = tuple(
            _shared(row[field], shared)  # type: ignore[literal-required]
            for field in _BASE_FIELDS
        )
        keys.append(values[:_KEY_WIDTH])
        rest.append(values[_KEY_WIDTH:])
        for split, matrix in zip(SPLITS, matrices, strict=True):
            measures = row["measures"][split]
            if type(measures) is PackedMeasures:
                blob = measures._blob
                matrix.append(blob + absent[len(blob) :])
            else:
                matrix.append(_pack(measures, names))
    validation, test = (b"".join(matrix) for matrix in matrices)
    tail = marshal.dumps(rest)
    return width, marshal.dumps((*columns, validation, test, len(tail))) + tail


def _matches(entry: Any, stat: FileStat | None) -> bool:
    """The entry describes the file as it is now (any malformed entry simply does not)."""
    return (
        stat is not None
        and isinstance(entry, dict)
        and entry.get("size") == stat.size
        and entry.get("mtime_ns") == stat.mtime_ns
    )


def _plain_name(name: str) -> bool:
    """A name from the (untrusted) index that can only mean a file directly in snapshots/."""
    return (
        name.endswith(".toml")
        and not name.startswith(".")
        and not any(ch in name for ch in "/\\\x00")
    )


def _merge_back(
    home: Path, root: Path, fresh: Mapping[str, Any], files: Mapping[str, FileStat]
) -> None:
    """Under the lock of the index in ``home``: add what was parsed from ``root``'s files, drop
    entries that no longer match their file.

    An entry is kept only while it describes the file on disk, re-checked under the lock, so a
    row that a concurrent ``record`` added after our listing survives, and rows of vanished,
    edited or now-broken files go. Legacy index files (index.json and its journal) are removed.
    """
    with folder_lock(home, LOCK_NAME):
        index = _read_index(home, block=False)
        drop = []
        for name, (size, mtime_ns, *_rest) in index.stored.items():
            if name in fresh:
                continue
            entry = {"size": size, "mtime_ns": mtime_ns}
            if _matches(entry, files.get(name)):
                continue
            current = None
            if _plain_name(name):
                with contextlib.suppress(OSError):
                    current = file_stat((root / SNAPSHOT_DIR / name).stat())
            if not _matches(entry, current):
                drop.append(name)
        _store(home, fresh, drop=drop)
        for legacy in LEGACY_FILES:
            with contextlib.suppress(OSError):
                (Path(home) / STATE_DIR / legacy).unlink()
