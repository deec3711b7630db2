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
import os
import secrets
import tomllib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import tomli_w

from modelsnap.core.errors import PathError, SnapshotError

STATE_DIR = ".modelsnap"
TMP_PREFIX = ".tmp-"


def sha256_bytes(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def tmp_dir(root: Path) -> Path:
    path = Path(root) / STATE_DIR / "tmp"
    path.mkdir(parents=True, exist_ok=True)
    inside_dir(root, path)
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
            f"{what} {directory} leads outside the project folder {root_resolved} "
            f"(to {resolved})",
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


def _write_tmp(root: Path, data: bytes) -> Path:
    tmp = tmp_dir(root) / f"{TMP_PREFIX}{os.getpid()}-{secrets.token_hex(6)}"
    with open(tmp, "wb") as handle:
        handle.write(data)
        handle.flush()
        os.fsync(handle.fileno())
    return tmp


def atomic_write_bytes(root: Path, target: Path, data: bytes) -> None:
    """Replace ``target`` with ``data`` atomically (temp file on the same filesystem, fsync,
    rename)."""
    target.parent.mkdir(parents=True, exist_ok=True)
    inside_dir(root, target.parent)
    tmp = _write_tmp(root, data)
    try:
        os.replace(tmp, target)
    except BaseException:
        with contextlib.suppress(OSError):
            tmp.unlink()
        raise
    _fsync_dir(target.parent)


def create_exclusive_bytes(root: Path, target: Path, data: bytes) -> bool:
    """Write ``data`` to ``target`` only if it does not exist yet, atomically.

    Returns False when ``target`` already exists (the caller picks another name). Uses a hard
    link from a fully written temp file, so the record appears complete or not at all and an
    existing record is never overwritten, even with several processes racing.
    """
    target.parent.mkdir(parents=True, exist_ok=True)
    inside_dir(root, target.parent)
    tmp = _write_tmp(root, data)
    try:
        os.link(tmp, target)
    except FileExistsError:
        return False
    finally:
        with contextlib.suppress(OSError):
            tmp.unlink()
    _fsync_dir(target.parent)
    return True


def dumps_toml(data: dict[str, Any]) -> bytes:
    return tomli_w.dumps(data).encode("utf-8")


def read_toml(path: Path, *, what: str = "file") -> dict[str, Any]:
    """Parse a TOML file, turning every failure into a SnapshotError that names the file."""
    try:
        raw = Path(path).read_bytes()
    except FileNotFoundError:
        raise SnapshotError(f"{what} not found", where=str(path)) from None
    except OSError as exc:
        raise SnapshotError(f"cannot read {what}: {exc.strerror}", where=str(path)) from None
    try:
        return tomllib.loads(raw.decode("utf-8"))
    except UnicodeDecodeError:
        raise SnapshotError(f"{what} is not UTF-8 text", where=str(path)) from None
    except tomllib.TOMLDecodeError as exc:
        raise SnapshotError(f"{what} is not valid TOML ({exc})", where=str(path)) from None


@contextlib.contextmanager
def folder_lock(root: Path, name: str = "lock") -> Iterator[None]:
    """An exclusive advisory lock (flock) on ``.modelsnap/<name>``; released even on a crash."""
    state = Path(root) / STATE_DIR
    state.mkdir(parents=True, exist_ok=True)
    inside_dir(root, state)
    fd = os.open(state / name, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        fcntl.flock(fd, fcntl.LOCK_UN)
        os.close(fd)


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
            f"{what} {value!r} is not allowed",
            hint="use letters, digits, '-', '_' and '.' only, not starting with '.'",
        )
    return value


def inside(root: Path, relative: str, *, what: str = "path") -> Path:
    """Resolve ``relative`` against ``root`` and refuse anything that ends up outside it.

    Symlinks are resolved first, so a link pointing out of the folder is refused too.
    """
    root_resolved = Path(root).resolve()
    candidate = Path(relative)
    if candidate.is_absolute():
        raise PathError(f"{what} {relative!r} is absolute",
                        hint="give a path relative to the project folder")
    resolved = (root_resolved / candidate).resolve()
    try:
        resolved.relative_to(root_resolved)
    except ValueError:
        raise PathError(
            f"{what} {relative!r} points outside the project folder {root_resolved}",
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
        pid_text = entry.name[len(TMP_PREFIX):].split("-", 1)[0]
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
