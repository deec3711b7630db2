"""Listing ``snapshots/``: every candidate snapshot file, in name order, with what ``lstat``
says of it (size, mtime, ctime, inode): what the index compares with its rows' bindings.

A large folder is listed and stat'ed beside its reader. From ``STAT_BESIDE_FROM`` entries,
``start_listing`` has a forked child (``core.beside``) list the names and make the ``lstat``
calls while the reader goes on (it reads the index: a MAC and a ``marshal.loads``);
``PendingListing.result`` then takes the child's names and numbers, as columns. At 100,000
files the child takes about 0.28 s and the index about 0.33 s, so the reader pays only for
counting the entries (what bounds the index it may read) and taking the answer. When the
answer does not come back (the child failed or died), the folder is listed and stat'ed here:
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

from modelsnap.core.beside import Beside, fork_allowed, start_beside
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


def entry_count(directory: Path) -> int:
    """How many entries ``directory`` holds, of any kind: at least as many as ``list_names``
    gives, counted without its per-entry steps (a third of its time at 100,000 files). A
    missing folder has none; one that cannot be listed raises as ``list_names`` does."""
    try:
        return len(os.listdir(directory))
    except FileNotFoundError:
        return 0
    except OSError as exc:
        raise _cannot_list(directory, exc) from None


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
    """A listing under way: its names and their ``lstat`` numbers in a child (``beside``),
    or the names listed here (``names``) and their numbers not yet taken. ``bound``: at
    least as many files as the listing will hold."""

    def __init__(self, directory: Path, names: list[str] | None, bound: int) -> None:
        self.directory = directory
        self.names = names
        self.bound = bound
        self.beside: Beside | None = None
        self._fd: int | None = None
        self._stat: Callable[[str], tuple[int, int, int, int] | None] | None = None

    def _start_beside(self) -> None:
        """The child, listing and stat'ing the folder; none when the folder is gone or no
        child may be forked."""
        self._fd = _open_folder(self.directory)
        if self._fd is not None:
            # One item: the child sends its names and numbers, as columns, all at once, taken
            # when the reader has read the index (a pipe holds only part of them, and the
            # reader does not look before); a list of 100,000 tuples took twice as long to
            # pass and to turn into columns here.
            self._stat = _stat_at(self._fd)
            self.beside = start_beside(
                partial(_listed_and_stated, self._stat), [self.directory], chunk=1
            )
        if self.beside is None:
            self._close()

    def result(self) -> Listing:
        """The listing: the child's, or one made here when it gave none."""
        beside, self.beside = self.beside, None
        try:
            if beside is not None:
                (answer,) = beside.results()
                if _sound(answer):  # not NOT_DONE: the child could
                    names, columns = answer
                    return _listing(names, columns)
            names = self.names if self.names is not None else list_names(self.directory)
            return stat_names(self.directory, names)
        finally:
            self._close()

    def cancel(self) -> None:
        """End the child, if any, without waiting for its answer."""
        beside, self.beside = self.beside, None
        if beside is not None:
            beside.cancel()
        self._close()

    def _close(self) -> None:
        self._stat = None
        fd, self._fd = self._fd, None
        if fd is not None:
            os.close(fd)


def _listed_and_stated(
    stat: Callable[[str], tuple[int, int, int, int] | None], directory: Path
) -> tuple[list[str], Columns]:
    """The child's work: the folder's names, and their ``_stat_columns``."""
    names = list_names(directory)
    return names, _stat_columns(stat, names)


def _sound(answer: Any) -> bool:
    """Whether the child's answer has the shape ``_listed_and_stated`` gives."""
    if type(answer) is not tuple or len(answer) != 2:
        return False
    names, columns = answer
    if type(names) is not list or not all(type(name) is str for name in names):
        return False
    if type(columns) is not tuple or len(columns) != 5:
        return False
    gone, *numbers = columns
    return all(type(column) is list for column in columns) and all(
        len(column) == len(names) - len(gone) for column in numbers
    )


def start_listing(directory: Path) -> PendingListing:
    """Start listing ``directory`` and stat'ing its files: beside the caller, from
    ``STAT_BESIDE_FROM`` entries where a child may be forked; otherwise the names are listed
    now (a ``SnapshotError`` when the folder cannot be listed, here or from ``result``)."""
    directory = Path(directory)
    if fork_allowed():
        bound = entry_count(directory)
        if bound >= STAT_BESIDE_FROM:
            pending = PendingListing(directory, None, bound)
            pending._start_beside()
            if pending.beside is not None:
                return pending
    names = list_names(directory)
    return PendingListing(directory, names, len(names))
