"""Hashes of the project's data file and split, remembered between commands.

``ls``, ``rank`` and review ask whether each snapshot was made on the project's *current* data
and split, so they need the data file's sha256 (about 1 s per GB) and the split's hash (numpy
reads ``split.npz``). Neither changes between most commands, so each value is kept in
``.modelsnap/hashes.json`` together with what identifies the file it came from:

* its size, ``mtime_ns``, inode and device, and its ``ctime_ns``;
* the sha256 of a sample of its bytes (the first and last 64 KiB and 16 blocks of 4 KiB spread
  between them: at most about 200 KiB read, whatever the file's size).

The value is reused only while all of these match the file as it is now; anything else hashes
the whole file again (and, where the caller may write, remembers the new value).

What the re-check catches: any rewrite through the operating system, even one that keeps the
size and puts the old mtime back (``touch -r``, ``cp -a``, ``rsync -a``, ``os.utime``): setting
the mtime is itself a change of the inode, so the kernel moves ``ctime`` to the present, and
``ctime`` cannot be set from user space. A file replaced by another (``mv``, a checkout) has
another inode. A change inside the sampled bytes is caught even when every stat field was
forged. What it cannot catch: a change outside the sampled bytes made without moving ``ctime``
(writing to the block device directly, setting the system clock back around the write, or a
file system that does not keep ``ctime``, such as some network and FUSE mounts). ``modelsnap
check`` never uses this cache: it hashes every file whole.

A cache only: the file is authenticated with the index key (``index.key_path``, outside any
project) like the snapshot index, so a hand-edited or copied-in hashes.json is ignored as a
whole; nothing is recorded from it (snapshots take their hashes from the data the worker
loaded). A reader that must not write the folder (review) whose hashes.json does not hold the
file as it is now keeps the value in its own hashes.json, beside its own index of the folder
(``index.private_home``). Standard library only.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeGuard

from modelsnap.core.errors import ModelsnapError
from modelsnap.core.files import STATE_DIR, atomic_write_bytes, read_regular
from modelsnap.core.records.index import (
    _authentic,
    _key,
    _mac,
    _make_private,
    folder_writable,
    private_home,
)

CACHE_FILE = "hashes.json"
CACHE_LIMIT = 1 << 20
VERSION = 1
EDGE_BYTES = 64 * 1024
SAMPLE_BLOCKS = 16
BLOCK_BYTES = 4096


def cache_path(root: Path) -> Path:
    return Path(root) / STATE_DIR / CACHE_FILE


def identity(stat: os.stat_result) -> dict[str, int]:
    """What the stat says about the file: all must match for a remembered value to be used."""
    return {
        "size": stat.st_size,
        "mtime_ns": stat.st_mtime_ns,
        "ctime_ns": stat.st_ctime_ns,
        "ino": stat.st_ino,
        "dev": stat.st_dev,
    }


def sample_sha256(handle: Any, size: int) -> str:
    """The sha256 of the sampled bytes of an open binary file of ``size`` bytes (the whole
    file when it is small)."""
    digest = hashlib.sha256()
    if size <= 2 * EDGE_BYTES + SAMPLE_BLOCKS * BLOCK_BYTES:
        handle.seek(0)
        digest.update(handle.read())
        return digest.hexdigest()
    offsets = [0]
    middle = size - 2 * EDGE_BYTES
    step = middle // (SAMPLE_BLOCKS + 1)
    offsets += [EDGE_BYTES + step * (i + 1) for i in range(SAMPLE_BLOCKS)]
    for offset in offsets:
        handle.seek(offset)
        digest.update(handle.read(EDGE_BYTES if offset == 0 else BLOCK_BYTES))
    handle.seek(size - EDGE_BYTES)
    digest.update(handle.read(EDGE_BYTES))
    return digest.hexdigest()


def _read(root: Path) -> dict[str, Any]:
    """The remembered entries, or {} when the file is missing, not authentic or foreign."""
    try:
        raw = read_regular(cache_path(root), what="state file", limit=CACHE_LIMIT)
    except (OSError, ValueError, ModelsnapError):
        return {}
    mac, _, body = raw.partition(b"\n")
    if not _authentic(_key(create=False), body, mac.decode("ascii", "replace")):
        return {}
    try:
        data = json.loads(body)
    except (ValueError, RecursionError):
        return {}
    if not isinstance(data, dict) or data.get("version") != VERSION:
        return {}
    entries = data.get("entries")
    return entries if isinstance(entries, dict) else {}


def _write(root: Path, entries: dict[str, Any]) -> None:
    key = _key(create=True)
    if key is None:
        return
    body = json.dumps({"version": VERSION, "entries": entries}, sort_keys=True).encode("utf-8")
    atomic_write_bytes(
        root, cache_path(root), (_mac(key, body) or "").encode("ascii") + b"\n" + body
    )


def remembered(
    root: Path,
    path: Path,
    what: str,
    compute: Callable[[Path], Any],
    *,
    write: bool,
) -> Any:
    """``compute(path)`` (a JSON-safe value derived from the file's bytes), reused from
    ``.modelsnap/hashes.json`` while the file's identity and sampled bytes still match.

    ``what`` names the kind of value (one file can hold several). With ``write=False``
    (review) nothing is written in the folder: a value the folder's cache lacks is looked up,
    and kept, in the reader's own cache of the folder (``index.private_home``), as it is for a
    folder this process cannot write. Errors of ``compute`` propagate; a cache that cannot be
    written is ignored.
    """
    root = Path(root)
    try:
        with open(path, "rb") as handle:
            stat = os.fstat(handle.fileno())
            sample = sample_sha256(handle, stat.st_size)
    except OSError:
        return compute(path)
    name = f"{what}:{os.path.relpath(path, root)}"
    now = {**identity(stat), "sample_sha256": sample}
    home: Path | None = root
    entries = _read(root)
    if not _holds(entries.get(name), now) and not (write and folder_writable(root)):
        home = private_home(root)  # this reader's own, where it may write; None: nowhere
        entries = _read(home) if home is not None else {}
    entry = entries.get(name)
    if _holds(entry, now):
        return entry["value"]
    value = compute(path)
    if home is not None:
        entries[name] = {**now, "value": value}
        with contextlib.suppress(OSError, ModelsnapError):
            if home != root:
                _make_private(home)
            _write(home, entries)
    return value


def _holds(entry: Any, now: dict[str, Any]) -> TypeGuard[dict[str, Any]]:
    """Whether a remembered entry is of the file as it is now (and has its value)."""
    return (
        isinstance(entry, dict)
        and all(entry.get(k) == v for k, v in now.items())
        and "value" in entry
    )
