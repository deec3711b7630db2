"""Listing ``snapshots/``: every candidate snapshot file, in name order, with what ``lstat``
says of it (size, mtime, ctime, inode): what the index compares with its rows' bindings.

A large folder is stat'ed beside its reader. ``start_listing`` lists the names, then, from
``STAT_BESIDE_FROM`` files, has a forked child (``core.beside``) make the ``lstat`` calls
while the reader goes on (it reads the index: a MAC and a ``marshal.loads``);
``PendingListing.result`` then takes the child's numbers, as columns. At 100,000 files the
calls take about 0.19 s and the index about 0.33 s, so the reader pays only for taking the
numbers. When they do not come back (the child failed or died), the names are stat'ed here:
the answer, errors included, is the one the reader would find alone.

Fast path: standard library and ``modelsnap.core`` only.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any, NamedTuple

from modelsnap.core.beside import Beside, start_beside
from modelsnap.core.errors import SnapshotError
from modelsnap.core.files import is_tmp_name

# Below this many files the fork costs about what it saves (2,000 ``lstat`` calls take 4 ms).
STAT_BESIDE_FROM = 10_000
INO_MASK = 2**63 - 1  # an inode number as SQLite holds it (a signed 64-bit integer)


class FileStat(NamedTuple):
    """What ``lstat`` said of one file, as the index binds a row to it."""

    size: int
    mtime_ns: int
    ctime_ns: int
    ino: int  # masked by INO_MASK


def file_stat(stat: os.stat_result) -> FileStat:
    return FileStat(stat.st_size, stat.st_mtime_ns, stat.st_ctime_ns, stat.st_ino & INO_MASK)


@dataclass
class Listing:
    """The files found, in name order, as parallel columns (one list per number)."""

    names: list[str] = field(default_factory=list)
    sizes: list[int] = field(default_factory=list)
    mtimes: list[int] = field(default_factory=list)
    ctimes: list[int] = field(default_factory=list)
    inos: list[int] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.names)

    def __iter__(self) -> Iterator[tuple[str, int, int, int, int]]:
        """(name, size, mtime_ns, ctime_ns, inode) per file, in name order."""
        return zip(self.names, self.sizes, self.mtimes, self.ctimes, self.inos, strict=True)

    def stats(self) -> dict[str, FileStat]:
        """Each file's ``FileStat`` by name."""
        columns = zip(self.sizes, self.mtimes, self.ctimes, self.inos, strict=True)
        return dict(zip(self.names, map(FileStat._make, columns), strict=True))


def _cannot_list(directory: Path, error: OSError) -> SnapshotError:
    return SnapshotError(f"cannot list snapshots: {error.strerror}", where=str(directory))


def list_names(directory: Path) -> list[str]:
    """The candidate snapshot files' names, sorted: ``.toml``, not hidden, not a writer's
    temporary file, not a folder. A symlink, FIFO, socket or device is listed too, so that
    reading refuses and names it. A missing folder has none."""
    try:
        with os.scandir(directory) as iterator:
            return sorted(
                item.name
                for item in iterator
                if item.name.endswith(".toml")
                and item.name[0] != "."
                and not is_tmp_name(item.name)
                and not item.is_dir()
            )
    except FileNotFoundError:
        return []
    except OSError as exc:
        raise _cannot_list(directory, exc) from None


def _open_folder(directory: Path) -> int | None:
    try:
        return os.open(directory, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise _cannot_list(directory, exc) from None


def _stat_at(fd: int) -> Callable[[str], tuple[int, int, int, int] | None]:
    """``lstat`` of a name relative to the open folder (two thirds of the cost of
    ``DirEntry.stat`` at 100,000 files), as (size, mtime, ctime, inode); None when it is
    gone since the listing."""
    stat = os.stat

    def numbers(name: str) -> tuple[int, int, int, int] | None:
        try:
            found = stat(name, dir_fd=fd, follow_symlinks=False)
        except OSError:
            return None
        return (found.st_size, found.st_mtime_ns, found.st_ctime_ns, found.st_ino & INO_MASK)

    return numbers


def stat_names(directory: Path, names: list[str]) -> Listing:
    """``lstat`` each of ``names``, in name order (the results then lie in memory in the order
    the rows are read). A file gone since the listing is left out."""
    fd = _open_folder(directory)
    if fd is None:
        return Listing()
    try:
        return _listing(names, _stat_columns(_stat_at(fd), names))
    finally:
        os.close(fd)


# What stat'ing a list of names gives: the positions of the names gone since the listing, then
# the size, mtime, ctime and inode columns of the others (lists of ints: quick to pass between
# processes, and the listing's own form)
Columns = tuple[list[int], list[int], list[int], list[int], list[int]]


def _stat_columns(
    stat: Callable[[str], tuple[int, int, int, int] | None], names: list[str]
) -> Columns:
    found = list(map(stat, names))
    gone = [i for i, numbers in enumerate(found) if numbers is None] if None in found else []
    if gone:
        found = [numbers for numbers in found if numbers is not None]
    if not found:
        return gone, [], [], [], []
    sizes, mtimes, ctimes, inos = map(list, zip(*found, strict=True))
    return gone, sizes, mtimes, ctimes, inos


def _listing(names: list[str], columns: Columns) -> Listing:
    """The listing of ``names`` from their ``_stat_columns``."""
    gone, sizes, mtimes, ctimes, inos = columns
    if gone:
        left_out = set(gone)
        names = [name for i, name in enumerate(names) if i not in left_out]
    if not names:
        return Listing()
    return Listing(list(names), sizes, mtimes, ctimes, inos)


def list_files(directory: Path) -> Listing:
    """Every candidate snapshot file in ``directory`` with its ``lstat``, in name order."""
    return start_listing(directory).result()


class PendingListing:
    """The names, listed; their ``lstat`` numbers in a child (``beside``), or not yet taken."""

    def __init__(self, directory: Path, names: list[str]) -> None:
        self.directory = directory
        self.names = names
        self.beside: Beside | None = None
        self._fd: int | None = None
        self._stat: Callable[[str], tuple[int, int, int, int] | None] | None = None

    def _start_beside(self) -> None:
        self._fd = _open_folder(self.directory)
        if self._fd is not None:
            # One item, all the names: the child sends its numbers as columns, all at once,
            # taken while the reader reads the index (a pipe holds only part of them, and the
            # reader does not look before); a list of 100,000 tuples took twice as long to
            # pass and to turn into columns here.
            self._stat = _stat_at(self._fd)
            self.beside = start_beside(partial(_stat_columns, self._stat), [self.names], chunk=1)

    def result(self) -> Listing:
        """The listing: the child's numbers, or numbers taken here when it gave none."""
        beside, self.beside = self.beside, None
        stat = self._stat  # set with the child, on the folder opened for it
        if beside is None or stat is None:
            self._close()
            return stat_names(self.directory, self.names)
        try:
            (columns,) = beside.results()
            if not _sound(columns, len(self.names)):  # NOT_DONE: the child could not
                columns = _stat_columns(stat, self.names)
            return _listing(self.names, columns)
        finally:
            self._close()

    def cancel(self) -> None:
        """End the child, if any, without waiting for its numbers."""
        beside, self.beside = self.beside, None
        if beside is not None:
            beside.cancel()
        self._close()

    def _close(self) -> None:
        self._stat = None
        fd, self._fd = self._fd, None
        if fd is not None:
            os.close(fd)


def _sound(columns: Any, count: int) -> bool:
    """Whether the child's answer has the shape ``_stat_columns`` gives for ``count`` names."""
    if type(columns) is not tuple or len(columns) != 5:
        return False
    gone, *numbers = columns
    return all(type(column) is list for column in columns) and all(
        len(column) == count - len(gone) for column in numbers
    )


def start_listing(directory: Path) -> PendingListing:
    """List ``directory``'s names now (a ``SnapshotError`` when it cannot be listed) and start
    stat'ing them, beside the caller when there are many and a child may be forked."""
    pending = PendingListing(Path(directory), list_names(directory))
    if len(pending.names) >= STAT_BESIDE_FROM:
        pending._start_beside()
    return pending
