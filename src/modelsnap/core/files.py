"""Safe file primitives: atomic writes, exclusive creation, a lock, paths kept inside the folder.

Every record modelsnap writes goes through here, so a crash at any moment leaves either the old
file or the new one, never half of one, and temporary files are recognisable (``.tmp-`` prefix,
inside ``.modelsnap/tmp``) and never mistaken for records.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import hashlib
import json
import os
import secrets
import stat
from collections.abc import Iterator
from pathlib import Path
from typing import Any, BinaryIO

import tomli
import tomli_w

from modelsnap.core.errors import ModelsnapError, PathError, SnapshotError, storage_error

STATE_DIR = ".modelsnap"
TMP_PREFIX = ".tmp-"


def sha256_bytes(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def sha256_file(path: Path) -> str:
    """The sha256 of a regular file; ``OSError`` ("not a regular file") for a FIFO or device,
    which is never opened in blocking mode."""
    digest = hashlib.sha256()
    fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            raise OSError(errno.EINVAL, "not a regular file", str(path))
        os.set_blocking(fd, True)
        handle = os.fdopen(fd, "rb")
    except BaseException:
        os.close(fd)
        raise
    with handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


_SWEPT: set[str] = set()


def tmp_dir(root: Path) -> Path:
    """``.modelsnap/tmp``, created if needed. The first time a process writes to a folder, the
    staging debris of killed processes there is removed (``clean_stale_tmp``)."""
    path = Path(root) / STATE_DIR / "tmp"
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise storage_error(exc, path) from None
    inside_dir(root, path)
    key = str(path)
    if key not in _SWEPT:
        _SWEPT.add(key)
        with contextlib.suppress(OSError):
            clean_stale_tmp(root)
    return path


def inside_dir(root: Path, directory: Path, *, what: str = "folder") -> Path:
    """``directory`` resolved, refused when a symlink leads it out of the project folder.

    Every write goes through a folder such as ``snapshots/`` or ``.modelsnap/tmp``; a folder
    copied from someone else may have such a folder linked elsewhere, and a record must never
    land outside the project.
    """
    root_resolved = Path(root).resolve()
    resolved = Path(directory).resolve()
    if resolved != root_resolved and root_resolved not in resolved.parents:
        raise PathError(
            f"{what} {directory} leads outside the project folder {root_resolved} (to {resolved})",
            hint="replace the symlink with a real folder inside the project",
        )
    return resolved


def _fsync_dir(directory: Path) -> None:
    with contextlib.suppress(OSError):
        fd = os.open(directory, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def _write_tmp(
    root: Path, data: bytes, target: Path | None = None, mode: int | None = None
) -> Path:
    """``data`` in a fsynced temp file (with ``mode``, when given, before any byte is in it); a
    full disk or read-only folder is a StorageError."""
    tmp = tmp_dir(root) / f"{TMP_PREFIX}{os.getpid()}-{secrets.token_hex(6)}"
    try:
        with open(tmp, "wb") as handle:
            if mode is not None and hasattr(os, "fchmod"):
                os.fchmod(handle.fileno(), mode)
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
    except OSError as exc:
        with contextlib.suppress(OSError):
            tmp.unlink()
        raise storage_error(exc, target if target is not None else tmp) from None
    return tmp


def _make_parent(target: Path) -> None:
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise storage_error(exc, target.parent) from None


def atomic_write_bytes(root: Path, target: Path, data: bytes, *, mode: int | None = None) -> None:
    """Replace ``target`` with ``data`` atomically (temp file on the same filesystem, fsync,
    rename); ``mode``: its permission bits, else the umask's."""
    _make_parent(target)
    inside_dir(root, target.parent)
    tmp = _write_tmp(root, data, target, mode)
    try:
        os.replace(tmp, target)
    except BaseException as exc:
        with contextlib.suppress(OSError):
            tmp.unlink()
        if isinstance(exc, OSError):
            raise storage_error(exc, target) from None
        raise
    _fsync_dir(target.parent)


def create_exclusive_bytes(root: Path, target: Path, data: bytes) -> bool:
    """Write ``data`` to ``target`` only if it does not exist yet, atomically.

    Returns False when ``target`` already exists (the caller picks another name). Uses a hard
    link from a fully written temp file, so the record appears complete or not at all and an
    existing record is never overwritten, even with several processes racing.
    """
    _make_parent(target)
    inside_dir(root, target.parent)
    tmp = _write_tmp(root, data, target)
    try:
        os.link(tmp, target)
    except FileExistsError:
        return False
    except OSError as exc:
        raise storage_error(exc, target) from None
    finally:
        with contextlib.suppress(OSError):
            tmp.unlink()
    _fsync_dir(target.parent)
    return True


def dumps_toml(data: dict[str, Any]) -> bytes:
    return tomli_w.dumps(data).encode("utf-8")


# Caps on what is read from a project folder. Anyone with write access to a folder can put any
# file in it; these keep one crafted file from crashing, hanging or exhausting every command.
MAX_DEPTH = 32  # nesting of arrays/tables in a TOML or JSON value
SNAPSHOT_TOML_LIMIT = 1 << 20  # snapshots/*.toml: written ones are a few KB
PROJECT_TOML_LIMIT = 1 << 20  # modelsnap.toml
RECORD_LOG_LIMIT = 64 << 20  # decisions.toml, criteria_revisions.toml (append-only logs)
EDGE_RUN_LIMIT = 64 << 20  # edge_runs/*.toml
EDGE_CSV_LIMIT = 50 << 20  # the edge-case CSV (hand-written cases)
STATE_JSON_LIMIT = 512 << 20  # .modelsnap/index.json and its journal (a cache)

_KINDS = (
    (stat.S_ISDIR, "a folder"),
    (stat.S_ISFIFO, "a named pipe (FIFO)"),
    (stat.S_ISSOCK, "a socket"),
    (stat.S_ISCHR, "a character device"),
    (stat.S_ISBLK, "a block device"),
)


def _size_text(size: int) -> str:
    for unit, scale in (("GiB", 1 << 30), ("MiB", 1 << 20), ("KiB", 1 << 10)):
        if size >= scale:
            return f"{size / scale:.3g} {unit}"
    return f"{size} bytes"


def open_regular(
    path: Path,
    *,
    what: str = "file",
    limit: int | None = None,
    error: type[ModelsnapError] = SnapshotError,
) -> BinaryIO:
    """Open ``path`` for reading only if it is a regular file (at most ``limit`` bytes).

    The open never blocks: ``O_NONBLOCK`` makes a named pipe open at once, and the file type is
    checked on the open descriptor, so a FIFO, device or socket put in place of a record is
    refused (``error`` naming it, "not a regular file") instead of hanging the command.
    ``FileNotFoundError`` and other ``OSError`` propagate for the caller's own message.
    """
    fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            kind = next((name for test, name in _KINDS if test(info.st_mode)), "a special file")
            raise error(
                f"{what} is not a regular file (it is {kind}); it was not read",
                where=str(path),
                hint="replace it with the real file, or remove it",
            )
        if limit is not None and info.st_size > limit:
            raise error(
                f"{what} is too large ({_size_text(info.st_size)}; the limit is "
                f"{_size_text(limit)}); it was not read",
                where=str(path),
                hint="check that this is the right file; the limit keeps a crafted file from "
                "exhausting memory (docs/reliability.md)",
            )
        os.set_blocking(fd, True)
        handle = os.fdopen(fd, "rb")
    except BaseException:
        os.close(fd)
        raise
    return handle


def read_regular(
    path: Path,
    *,
    what: str = "file",
    limit: int | None = None,
    error: type[ModelsnapError] = SnapshotError,
) -> bytes:
    """The bytes of a regular file of at most ``limit`` bytes (see ``open_regular``)."""
    with open_regular(path, what=what, limit=limit, error=error) as handle:
        data = handle.read() if limit is None else handle.read(limit + 1)
    if limit is not None and len(data) > limit:  # grew while being read
        raise error(
            f"{what} is too large (over {_size_text(limit)}); it was not read", where=str(path)
        )
    return data


def read_csv_records(
    path: Path,
    *,
    what: str,
    where: str | None = None,
    limit: int | None = None,
    missing_hint: str | None = None,
) -> tuple[bytes, list[tuple[int, list[str]]]]:
    """The bytes of a small UTF-8 CSV (the edge-case file, a file of rows to try), read once
    through ``read_regular``, and (line number, cells) of each non-blank row; ``DataError``
    naming ``what`` and ``where`` for a missing, unreadable, non-UTF-8, binary or malformed
    file."""
    import csv
    import io

    from modelsnap.core.errors import DataError

    where = where or str(path)
    try:
        raw = read_regular(Path(path), what=what, limit=limit, error=DataError)
    except DataError as exc:
        raise DataError(exc.message, where=where, hint=exc.hint) from None
    except FileNotFoundError:
        raise DataError(f"{what} not found", where=where, hint=missing_hint) from None
    except OSError as exc:
        raise DataError(f"cannot read the {what}: {exc.strerror}", where=where) from None
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise DataError(
            f"{what} is not UTF-8 text", where=where, hint="save it as UTF-8 CSV"
        ) from None
    if "\x00" in text:
        raise DataError(f"{what} contains NUL bytes: it is not a CSV text file", where=where)
    try:
        reader = csv.reader(io.StringIO(text))
        return raw, [(reader.line_num, row) for row in reader if any(c.strip() for c in row)]
    except csv.Error as exc:
        raise DataError(f"{what} is not valid CSV ({exc})", where=where) from None


def nesting_depth(value: Any) -> int:
    """How deeply lists and dicts nest in ``value`` (a scalar is 0), or ``MAX_DEPTH + 1`` as
    soon as it is deeper than that. Iterative, one level of containers at a time: never
    recurses, and every TOML file read is walked (0.022 ms for a snapshot)."""
    level = [value] if isinstance(value, dict | list) else []
    depth = 0
    while level:
        depth += 1
        if depth > MAX_DEPTH:
            return depth
        below: list[Any] = []
        for item in level:
            children = item.values() if isinstance(item, dict) else item
            below += [child for child in children if isinstance(child, dict | list)]
        level = below
    return depth


def _too_deep(what: str, where: str | None, error: type[ModelsnapError]) -> ModelsnapError:
    return error(
        f"{what} nests arrays or tables more than {MAX_DEPTH} levels deep; it was not read",
        where=where,
        hint="this is not a file modelsnap wrote; restore it from version control",
    )


# Every TOML file is read with tomli, the library Python's tomllib was taken from, in its
# compiled build: 0.28 ms against tomllib's 0.63 ms for a 4 KB snapshot, which is most of what
# check, decide and the reports spend reading 10,000 records. Below 2.4, which reads TOML 1.1:
# the records are TOML 1.0, and a file other TOML 1.0 readers refuse is refused here too.
TOMLDecodeError = tomli.TOMLDecodeError


def toml_loads(text: str) -> dict[str, Any]:
    """TOML 1.0 text as a dict (``tomllib.loads``); ``TOMLDecodeError`` when it is not TOML,
    ``RecursionError`` when it nests too deep to parse (``parse_toml`` turns both into a
    message)."""
    return tomli.loads(text)


def share_strings(value: Any, memo: dict[str, str]) -> Any:
    """``value`` (parsed TOML or JSON) with every string, key or value, replaced by the first
    equal string ``memo`` met: new dicts and lists, equal to the old ones.

    A folder's snapshots repeat the same keys, hashes, versions and names thousands of times;
    a reader that holds all of them (``check``, the guided TUI) then keeps each once: half the
    memory of 100,000 parsed snapshots. Nesting is that of a parsed file (``MAX_DEPTH``)."""
    kind = type(value)
    if kind is dict:
        share = memo.setdefault
        return {share(key, key): share_strings(item, memo) for key, item in value.items()}
    if kind is list:
        return [share_strings(item, memo) for item in value]
    if kind is str:
        return memo.setdefault(value, value)
    return value


def parse_toml(
    text: str,
    *,
    what: str = "file",
    where: str | None = None,
    error: type[ModelsnapError] = SnapshotError,
) -> dict[str, Any]:
    """Parse TOML text; invalid or too deeply nested text raises ``error`` naming ``where``.

    The parser recurses once per nested array or inline table, so a value nested a few hundred
    levels deep would end in ``RecursionError``; that, and any document nested deeper than
    ``MAX_DEPTH`` (which later readers would have to walk), is refused here.
    """
    try:
        doc = toml_loads(text)
    except TOMLDecodeError as exc:
        raise error(f"{what} is not valid TOML ({exc})", where=where) from None
    except RecursionError:
        raise _too_deep(what, where, error) from None
    if nesting_depth(doc) > MAX_DEPTH:
        raise _too_deep(what, where, error)
    return doc


def read_toml(
    path: Path,
    *,
    what: str = "file",
    limit: int = SNAPSHOT_TOML_LIMIT,
    error: type[ModelsnapError] = SnapshotError,
) -> dict[str, Any]:
    """Parse a TOML file, turning every failure into ``error`` (a SnapshotError) naming the file.

    Only a regular file of at most ``limit`` bytes is read, and nesting is capped (``MAX_DEPTH``).
    """
    return read_toml_and_bytes(path, what=what, limit=limit, error=error)[0]


def read_toml_and_bytes(
    path: Path,
    *,
    what: str = "file",
    limit: int = SNAPSHOT_TOML_LIMIT,
    error: type[ModelsnapError] = SnapshotError,
) -> tuple[dict[str, Any], bytes]:
    """``read_toml``, with the very bytes that were parsed (one read: what a hash of them
    describes is what was parsed)."""
    try:
        raw = read_regular(path, what=what, limit=limit, error=error)
    except FileNotFoundError:
        raise error(f"{what} not found", where=str(path)) from None
    except OSError as exc:
        raise error(f"cannot read {what}: {exc.strerror}", where=str(path)) from None
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise error(f"{what} is not UTF-8 text", where=str(path)) from None
    return parse_toml(text, what=what, where=str(path), error=error), raw


def loads_json_state(raw: bytes | str, *, check_depth: bool = True) -> Any:
    """JSON tool state (index, journal line, head, caches), or None when it cannot be used.

    Tool state is never an error: a broken, deeply nested or oversized value is ignored.
    ``check_depth=False`` skips the walk that caps nesting at ``MAX_DEPTH`` (the index of
    10,000 snapshots: the walk would cost half as much as parsing; its rows are checked field
    by field instead), keeping only the parser's own recursion guard.
    """
    try:
        value = json.loads(raw)
    except (ValueError, RecursionError):
        return None
    if check_depth and nesting_depth(value) > MAX_DEPTH:
        return None
    return value


def read_json_state(path: Path, *, limit: int = STATE_JSON_LIMIT, check_depth: bool = True) -> Any:
    """The JSON value of a tool-state file, or None when missing, not regular, too big or bad."""
    try:
        raw = read_regular(path, what="state file", limit=limit)
    except (OSError, ModelsnapError):
        return None
    return loads_json_state(raw, check_depth=check_depth)


@contextlib.contextmanager
def folder_lock(root: Path, name: str = "lock") -> Iterator[None]:
    """An exclusive advisory lock (flock) on ``.modelsnap/<name>``; released even on a crash."""
    state = Path(root) / STATE_DIR
    try:
        state.mkdir(parents=True, exist_ok=True)
        inside_dir(root, state)
        fd = os.open(state / name, os.O_RDWR | os.O_CREAT, 0o644)
    except OSError as exc:
        raise storage_error(exc, state / name) from None
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        fcntl.flock(fd, fcntl.LOCK_UN)
        os.close(fd)


def shown_value(value: object, limit: int = 80) -> str:
    """``repr`` of a value for a message, cut to ``limit`` characters (a crafted 100,000-character
    name is not echoed whole)."""
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def safe_name(value: str, *, what: str = "name") -> str:
    """Accept a name or id only if it is a plain file-name component (no separators, no '..')."""
    if (
        not value
        or value in (".", "..")
        or "/" in value
        or "\\" in value
        or "\x00" in value
        or value.startswith(".")
        or len(value) > 200
        or any(ord(ch) < 32 for ch in value)
    ):
        raise PathError(
            f"{what} {shown_value(value)} is not allowed",
            hint="use letters, digits, '-', '_' and '.' only, not starting with '.'",
        )
    return value


def inside(root: Path, relative: str, *, what: str = "path", resolved_root: bool = False) -> Path:
    """Resolve ``relative`` against ``root`` and refuse anything that ends up outside it.

    Symlinks are resolved first, so a link pointing out of the folder is refused too.
    ``resolved_root``: ``root`` is already ``Path.resolve()``'s answer (a caller checking the
    paths of thousands of records resolves the folder once: one ``lstat`` per part of it).
    """
    root_resolved = Path(root) if resolved_root else Path(root).resolve()
    candidate = Path(relative)
    if candidate.is_absolute():
        raise PathError(
            f"{what} {shown_value(relative)} is absolute",
            hint="give a path relative to the project folder",
        )
    resolved = (root_resolved / candidate).resolve()
    try:
        resolved.relative_to(root_resolved)
    except ValueError:
        raise PathError(
            f"{what} {shown_value(relative)} points outside the project folder {root_resolved}",
            hint="keep data, models and records inside the project folder",
        ) from None
    return resolved


def is_tmp_name(name: str) -> bool:
    return name.startswith(TMP_PREFIX)


def clean_stale_tmp(root: Path) -> int:
    """Remove temp files left by processes that no longer run. Returns how many were removed."""
    directory = Path(root) / STATE_DIR / "tmp"
    if not directory.is_dir():
        return 0
    removed = 0
    for entry in directory.iterdir():
        if not is_tmp_name(entry.name):
            continue
        pid_text = entry.name[len(TMP_PREFIX) :].split("-", 1)[0]
        if pid_text.isdigit() and _pid_alive(int(pid_text)):
            continue
        with contextlib.suppress(OSError):
            if entry.is_dir():
                import shutil

                shutil.rmtree(entry)
            else:
                entry.unlink()
            removed += 1
    return removed


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except OSError as exc:
        return exc.errno == errno.EPERM
    return True


def refuse_link_out(path: Path) -> None:
    """A snapshot file that is a symlink out of its project folder is not read (SnapshotError):
    a copied folder must not make modelsnap read, and then show, files from elsewhere."""
    if path.is_symlink():
        try:
            inside_dir(path.parent.parent, path.resolve().parent, what="snapshot file")
        except ModelsnapError as exc:
            raise SnapshotError(exc.message, where=str(path), hint=exc.hint) from None
