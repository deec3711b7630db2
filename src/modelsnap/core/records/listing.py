"""Listing ``snapshots/``: every candidate snapshot file, in name order, with what ``lstat``
says of it (size, mtime, ctime, inode): what the index compares with its rows' bindings.

A large folder is listed and stat'ed beside its reader. From ``STAT_BESIDE_FROM`` entries,
``start_listing`` lists the folder's entries (``os.listdir``: what bounds the index it may
read) and keeps the candidates among them, and a forked child (``core.beside``) makes their
``lstat`` calls from the first name on while the reader goes on (it reads the index: a MAC
and a ``marshal.loads``). ``PendingListing.result`` then makes the calls from the last name
back until it meets the child (``_Meeting``), and takes the child's numbers, as columns. At
100,000 files the calls take about 0.21 s alone and a ranking's read of the index about
0.17 s; the reader's wait after the index went from 0.21 s to 0.065 s. What the child does
not give (it failed or died) is stat'ed here: the answer, errors included, is the one the
reader would find alone.

Fast path: standard library and ``modelsnap.core`` only.
"""

from __future__ import annotations

import mmap
import os
import stat as stat_module
import struct
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any, NamedTuple, cast

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
                item.name for item in iterator if _candidate(item.name) and not item.is_dir()
            )
    except FileNotFoundError:
        return []
    except OSError as exc:
        raise _cannot_list(directory, exc) from None


def _candidate(name: str) -> bool:
    """A name ``list_names`` keeps, folders aside."""
    return name.endswith(".toml") and name[0] != "." and not is_tmp_name(name)


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
    gives. A missing folder has none; one that cannot be listed raises as ``list_names``
    does."""
    return len(_entries(directory))


def _entries(directory: Path) -> list[str]:
    """Every name in ``directory``, of any kind, unsorted (``os.listdir``: without
    ``list_names``' per-entry steps, a third of its time at 100,000 files)."""
    try:
        return os.listdir(directory)
    except FileNotFoundError:
        return []
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
    return _columns(list(map(stat, names)))


def _columns(found: list[tuple[int, int, int, int] | None]) -> Columns:
    """``_stat_columns`` of the names' ``lstat`` numbers (None: gone)."""
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
        self._kept: list[str] = []  # the names the child and this reader stat
        self._meeting: _Meeting | None = None

    def _start_beside(self, entries: list[str]) -> None:
        """The child, stat'ing the candidates among ``entries`` (the folder's names, any kind,
        as it was counted) from the first on; none when the folder is gone or no child may be
        forked."""
        self._fd = _open_folder(self.directory)
        if self._fd is not None:
            # The child sends its numbers, as columns, all at once, taken when the reader has
            # read the index (a pipe holds only part of them, and the reader does not look
            # before); a list of 100,000 tuples took twice as long to pass and to turn into
            # columns here. The names it needs not send: the fork gives them.
            self._kept = sorted(filter(_candidate, entries))
            try:
                self._meeting = _Meeting(len(self._kept))
            except OSError:  # no shared memory to be had: no child, the names listed here
                self._close()
                return
            work = partial(_stated_from_front, self._fd, self._kept, self._meeting)
            self.beside = start_beside(work, [self.directory], chunk=1)
        if self.beside is None:
            self._close()

    def result(self) -> Listing:
        """The listing: the child's, with the names this reader stat'ed from the last one
        back until it met the child; or one made here when no child started."""
        beside, self.beside = self.beside, None
        try:
            if beside is None:
                names = self.names if self.names is not None else list_names(self.directory)
                return stat_names(self.directory, names)
            numbers = _numbers_at(cast(int, self._fd))
            try:
                kept, taken, back = self._stated_from_back(numbers)
            except BaseException:  # interrupted: the child is ended and reaped, not left
                beside.cancel()
                raise
            (answer,) = beside.results()
            if _sound(answer, len(kept)):  # not NOT_DONE: the child could
                done, front = answer
            else:
                done, front = 0, _columns([])
            if done < taken:  # the child stopped short (or died): the names between, here
                back[:0] = map(numbers, kept[done:taken])
            else:  # both stat'ed the names from ``taken`` to ``done``: the child's are kept
                del back[: done - taken]
            return _listing(kept, _joined(front, _columns(back), done))
        finally:
            self._close()

    def _stated_from_back(
        self, numbers: Callable[[str], tuple[int, int, int, int] | None]
    ) -> tuple[list[str], int, list[tuple[int, int, int, int] | None]]:
        """The kept names; from which one on this reader stat'ed them, from the last one back,
        ``_STEP`` at a time, until it reached those the child has done; and their numbers."""
        kept, meeting = self._kept, cast(_Meeting, self._meeting)
        taken, parts = len(kept), []
        while taken > (done := meeting.get(_DONE)):
            start = max(done, taken - _STEP)
            meeting.set(_TAKEN, start)  # before the calls: the child stops short of them
            parts.append(list(map(numbers, kept[start:taken])))
            taken = start
        return kept, taken, [found for part in reversed(parts) for found in part]

    def cancel(self) -> None:
        """End the child, if any, without waiting for its answer."""
        beside, self.beside = self.beside, None
        if beside is not None:
            beside.cancel()
        self._close()

    def _close(self) -> None:
        fd, self._fd = self._fd, None
        if fd is not None:
            os.close(fd)
        meeting, self._meeting = self._meeting, None
        if meeting is not None:
            meeting.memory.close()


# The child stats the kept names from the first on, and the reader, once it has read the index,
# from the last one back: each tells the other how far it got through two integers in memory
# they share (an anonymous shared mapping stays shared across a fork). Each looks at the
# other's every ``_STEP`` names; they may both stat a few names (the child's numbers are kept),
# never leave one out (``result`` stats any the child stopped short of).
_DONE, _TAKEN = 0, 8  # the child's count of names done; the first name the reader has taken
_STEP = 256
_INT64 = struct.Struct("<q")


class _Meeting:
    def __init__(self, count: int) -> None:
        self.memory = mmap.mmap(-1, 16)
        self.set(_TAKEN, count)  # the reader has taken none yet

    def get(self, at: int) -> int:
        return int(_INT64.unpack_from(self.memory, at)[0])

    def set(self, at: int, value: int) -> None:
        _INT64.pack_into(self.memory, at, value)


def _numbers_at(fd: int) -> Callable[[str], tuple[int, int, int, int] | None]:
    """``_stat_at``, where a folder (or a link to one, followed as ``DirEntry.is_dir`` does)
    is None too: ``list_names`` leaves folders out, and the kept names are told from them by
    the ``lstat`` each gets anyway (not by listing the folder again: 0.05 s at 100,000)."""
    stat = os.stat
    is_folder, is_link = stat_module.S_ISDIR, stat_module.S_ISLNK

    def numbers(name: str) -> tuple[int, int, int, int] | None:
        try:
            found = stat(name, dir_fd=fd, follow_symlinks=False)
        except OSError:
            return None
        mode = found.st_mode
        if is_folder(mode) or (is_link(mode) and _links_to_folder(fd, name)):
            return None
        return (found.st_size, found.st_mtime_ns, found.st_ctime_ns, found.st_ino & INO_MASK)

    return numbers


def _links_to_folder(fd: int, name: str) -> bool:
    try:
        return stat_module.S_ISDIR(os.stat(name, dir_fd=fd).st_mode)
    except OSError:  # a broken link, or gone
        return False


def _stated_from_front(
    fd: int, names: list[str], meeting: _Meeting, directory: Path
) -> tuple[int, Columns]:
    """The child's work: how many of ``names`` it stat'ed from the first on, until it reached
    those the reader took; and their ``_stat_columns``."""
    numbers = _numbers_at(fd)
    found: list[tuple[int, int, int, int] | None] = []
    for start in range(0, len(names), _STEP):
        if start >= meeting.get(_TAKEN):
            break
        found += map(numbers, names[start : start + _STEP])
        meeting.set(_DONE, len(found))
    return len(found), _columns(found)


def _joined(front: Columns, back: Columns, offset: int) -> Columns:
    """The columns of names ``[0, offset)`` then of the names after them."""
    gone = front[0] + [offset + i for i in back[0]]
    return (gone, *(a + b for a, b in zip(front[1:], back[1:], strict=True)))  # type: ignore[return-value]


def _sound(answer: Any, count: int) -> bool:
    """Whether the child's answer has the shape ``_stated_from_front`` gives, for ``count``
    names."""
    if type(answer) is not tuple or len(answer) != 2:
        return False
    done, columns = answer
    if type(done) is not int or not 0 <= done <= count:
        return False
    if type(columns) is not tuple or len(columns) != 5:
        return False
    gone, *numbers = columns
    return (
        all(type(column) is list for column in columns)
        and all(type(i) is int and 0 <= i < done for i in gone)
        and all(len(column) == done - len(gone) for column in numbers)
    )


def start_listing(directory: Path) -> PendingListing:
    """Start listing ``directory`` and stat'ing its files: beside the caller, from
    ``STAT_BESIDE_FROM`` entries where a child may be forked; otherwise the names are listed
    now (a ``SnapshotError`` when the folder cannot be listed, here or from ``result``)."""
    directory = Path(directory)
    if fork_allowed():
        entries = _entries(directory)
        if len(entries) >= STAT_BESIDE_FROM:
            pending = PendingListing(directory, None, len(entries))
            pending._start_beside(entries)
            if pending.beside is not None:
                return pending
    names = list_names(directory)
    return PendingListing(directory, names, len(names))
