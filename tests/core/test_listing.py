"""Listing snapshots/: the same names and numbers whether the files are stat'ed here or in a
forked child (core.beside, tested in test_beside.py), and the child never changes an answer.

A fork happens only in a process with one thread; pytest-xdist's workers run threads, so each
test that needs the child runs a fresh interpreter (``fresh_interpreter``, in conftest.py)."""

from __future__ import annotations

import os
import sys
import textwrap
from pathlib import Path

import pytest

from modelsnap.core.errors import SnapshotError
from modelsnap.core.records import listing

needs_fork = pytest.mark.skipif(sys.platform != "linux", reason="the child is Linux-only")


def make_folder(directory: Path, count: int = 40) -> Path:
    """Files a listing keeps, and the kinds it must skip or list for reading to refuse."""
    directory.mkdir(parents=True)
    for i in range(count):
        (directory / f"2026-{i:04d}.toml").write_text("x" * i)
    (directory / ".hidden.toml").write_text("")
    (directory / "notes.txt").write_text("")
    (directory / "folder.toml").mkdir()
    (directory / "link.toml").symlink_to(directory / "2026-0001.toml")
    (directory / "folder-link.toml").symlink_to(directory / "folder.toml")  # a folder too
    (directory / "broken.toml").symlink_to(directory / "nowhere")  # listed: reading refuses
    os.mkfifo(directory / "pipe.toml")
    return directory


def as_plain(found: listing.Listing) -> list[list[object]]:
    return [list(row) for row in found]


def with_child(fresh_interpreter, body: str, *args: str) -> dict:
    """``fresh_interpreter`` running ``body`` with ``listing`` imported and its child allowed
    from one file."""
    preamble = "from modelsnap.core.records import listing\nlisting.STAT_BESIDE_FROM = 1\n"
    return fresh_interpreter(preamble + _BEFORE_EACH_STAT + textwrap.dedent(body), *args)


# ``before_each_stat(in_reader, in_child)``: each ``lstat`` the listing makes (``_numbers_at``)
# first calls ``in_reader(name)`` in the reader's process, ``in_child(name)`` in the child's.
_BEFORE_EACH_STAT = """
def before_each_stat(in_reader=None, in_child=None):
    reader, numbers_at = os.getpid(), listing._numbers_at

    def stating(fd):
        numbers = numbers_at(fd)

        def stat(name):
            call = in_reader if os.getpid() == reader else in_child
            if call is not None:
                call(name)
            return numbers(name)

        return stat

    listing._numbers_at = stating
"""


def in_a_child(fresh_interpreter, tmp_path: Path, body: str) -> dict:
    """``with_child`` running ``body`` with a ``make_folder`` in ``tmp_path`` as ``directory``."""
    directory = make_folder(tmp_path / "snapshots")
    return with_child(
        fresh_interpreter, "directory = Path(sys.argv[1])\n" + textwrap.dedent(body), str(directory)
    )


def test_names_are_sorted_snapshot_candidates(tmp_path: Path) -> None:
    directory = make_folder(tmp_path / "snapshots", count=5)
    names = listing.list_names(directory)
    assert names == [
        *(f"2026-{i:04d}.toml" for i in range(5)),
        "broken.toml",
        "link.toml",
        "pipe.toml",
    ]


def test_numbers_are_what_lstat_says(tmp_path: Path) -> None:
    directory = make_folder(tmp_path / "snapshots", count=5)
    found = listing.list_files(directory)
    for name, size, mtime_ns, ctime_ns, ino in found:
        info = os.lstat(directory / name)  # the link's own numbers, not its target's
        assert (size, mtime_ns, ctime_ns, ino) == (
            info.st_size,
            info.st_mtime_ns,
            info.st_ctime_ns,
            info.st_ino & listing.INO_MASK,
        )
    assert found.stats()["link.toml"] == listing.file_stat(os.lstat(directory / "link.toml"))


def test_a_missing_folder_has_no_files_and_an_unlistable_one_is_named(tmp_path: Path) -> None:
    assert len(listing.list_files(tmp_path / "absent")) == 0
    assert listing.entry_count(tmp_path / "absent") == 0
    (tmp_path / "file").write_text("")
    for reading in (listing.list_files, listing.entry_count):  # counted first, with a child
        with pytest.raises(SnapshotError) as raised:
            reading(tmp_path / "file")
        assert "cannot list snapshots" in raised.value.message


@needs_fork
def test_a_child_listing_a_folder_that_went_away_finds_it_empty(
    tmp_path: Path, fresh_interpreter
) -> None:
    directory = make_folder(tmp_path / "snapshots", count=3)
    answer = with_child(
        fresh_interpreter,
        """
        import shutil
        directory = Path(sys.argv[1])
        start_beside = listing.start_beside

        def removed_first(*args, **kwargs):  # gone after it was counted, before the child
            shutil.rmtree(directory)
            return start_beside(*args, **kwargs)

        listing.start_beside = removed_first
        pending = listing.start_listing(directory)
        print(json.dumps({"forks": len(forks), "files": len(pending.result())}))
        """,
        str(directory),
    )
    assert answer == {"forks": 1, "files": 0}


@needs_fork
def test_without_shared_memory_the_folder_is_listed_here(tmp_path: Path, fresh_interpreter) -> None:
    answer = in_a_child(
        fresh_interpreter,
        tmp_path,
        """
        def no_memory(*args):
            raise OSError(12, "Cannot allocate memory")

        listing.mmap.mmap = no_memory
        pending = listing.start_listing(directory)
        found = pending.result()
        here = listing.stat_names(directory, listing.list_names(directory))
        print(json.dumps({"forks": len(forks), "same": [list(r) for r in found] ==
                          [list(r) for r in here], "files": len(found)}))
        """,
    )
    assert answer == {"forks": 0, "same": True, "files": 43}


@needs_fork
def test_a_reader_interrupted_while_it_stats_ends_the_child(tmp_path: Path, fresh_interpreter):
    answer = in_a_child(
        fresh_interpreter,
        tmp_path,
        """
        def interrupted(name):
            raise KeyboardInterrupt

        before_each_stat(interrupted, lambda name: time.sleep(0.05))  # the child still at it
        pending = listing.start_listing(directory)
        pid = pending.beside._pid
        try:
            pending.result()
        except KeyboardInterrupt:
            pass
        print(json.dumps({"forks": len(forks), "reaped": reaped(pid)}))
        """,
    )
    assert answer == {"forks": 1, "reaped": True}


def test_a_file_gone_since_the_listing_is_left_out(tmp_path: Path) -> None:
    directory = make_folder(tmp_path / "snapshots", count=3)
    names = [*listing.list_names(directory), "zz-gone.toml"]
    assert listing.stat_names(directory, names).names == names[:-1]


@needs_fork
def test_the_child_gives_what_stating_here_gives(tmp_path: Path, fresh_interpreter) -> None:
    answer = in_a_child(
        fresh_interpreter,
        tmp_path,
        """
        entries, list_names = listing._entries, listing.list_names
        listed = []

        def one_gone(directory):
            # one name gone since the folder was counted, in the middle: positions, not
            # order, place numbers
            return [*entries(directory), "2026-0002a.toml"]

        def listing_names(directory):
            listed.append(directory)
            return list_names(directory)

        listing._entries, listing.list_names = one_gone, listing_names
        pending = listing.start_listing(directory)
        forked = pending.beside is not None and pending.names is None
        found = pending.result()
        here = listing.stat_names(directory, sorted([*list_names(directory), "2026-0002a.toml"]))
        print(json.dumps({"forked": forked, "forks": len(forks), "bound": pending.bound,
                          "listed": len(listed),
                          "child": [list(r) for r in found], "here": [list(r) for r in here]}))
        """,
    )
    assert answer["forked"] and answer["forks"] == 1
    assert answer["child"] == answer["here"]
    # 40 files, the links to a file and to nowhere, and the FIFO; not the link to a folder
    assert len(answer["child"]) == 43
    # every entry: with the hidden file, notes.txt, the folder, the one gone
    assert answer["bound"] == 48
    assert answer["listed"] == 0  # the names came from the count, not from listing again


@needs_fork
def test_rows_read_through_the_child_see_every_change(tmp_path: Path, fresh_interpreter) -> None:
    """The index's freshness check on the child's numbers: a file edited in place with its
    mtime put back is parsed again and a removed one is gone, as without the child; the rows
    of unchanged files come from the index (no file parsed once the edit is bound)."""
    root = tmp_path / "project"
    answer = with_child(
        fresh_interpreter,
        """
        root = Path(sys.argv[1])
        from modelsnap.core.records import index
        make_snapshots.write_folder(root, 30)
        index.RACY_NS = 0  # every binding settled at once: the stat test alone decides
        index.COMPACT_FROM = 1  # rows in the block, whose test is inlined
        parsed = []
        parse = index._parse
        index._parse = lambda path: parsed.append(path.name) or parse(path)

        def ids(rows):
            return [(r["id"], r["name"]) for r in rows]

        first, _ = index.load_rows(root, write_back=True)
        snapshots = sorted((root / "snapshots").glob("*.toml"))
        edited = snapshots[4]
        info = edited.stat()
        name = first[4]["name"]
        text = edited.read_text()
        edited.write_text(text.replace(f'"{name}"', f'"{name[:-1]}Z"'))
        os.utime(edited, ns=(info.st_atime_ns, info.st_mtime_ns))
        snapshots[7].unlink()
        parsed.clear()
        rows, problems = index.load_rows(root, write_back=True)
        parsed_after_edit = list(parsed)
        parsed.clear()
        again, _ = index.load_rows(root, write_back=True)
        parsed_again = list(parsed)
        listing.STAT_BESIDE_FROM = 10**9
        without, _ = index.load_rows(root, write_back=False)
        print(json.dumps({"forks": len(forks), "rows": ids(rows), "again": ids(again),
                          "without": ids(without), "problems": len(problems),
                          "first": ids(first), "edited": edited.name,
                          "parsed_after_edit": parsed_after_edit, "parsed_again": parsed_again}))
        """,
        str(root),
    )
    assert answer["forks"] == 3
    assert answer["rows"] == answer["again"] == answer["without"]
    assert answer["parsed_after_edit"] == [answer["edited"]]
    assert answer["parsed_again"] == []
    expected = [row for i, row in enumerate(answer["first"]) if i != 7]
    expected[4] = [expected[4][0], expected[4][1][:-1] + "Z"]
    assert answer["rows"] == expected


@needs_fork
def test_numbers_the_child_does_not_give_are_taken_here(tmp_path: Path, fresh_interpreter) -> None:
    answer = in_a_child(
        fresh_interpreter,
        tmp_path,
        """
        def failing(name):
            raise OSError("the child cannot stat")

        before_each_stat(in_child=failing)
        pending = listing.start_listing(directory)
        forked = pending.beside is not None
        found = pending.result()
        here = listing.stat_names(directory, listing.list_names(directory))
        print(json.dumps({"forked": forked, "forks": len(forks),
                          "same": [list(r) for r in found] == [list(r) for r in here],
                          "files": len(found)}))
        """,
    )
    assert answer == {"forked": True, "forks": 1, "same": True, "files": 43}


# The child and the reader stat the names from both ends (``_Meeting``): whatever the child
# does (slow, dead, or telling a count it did not reach), the answer is the one stat'ing here
# gives. ``_STEP`` is 2 so that they meet after a few names, not after 256.
_BOTH_ENDS = """
directory, record = Path(sys.argv[1]), Path(sys.argv[2])
lines, settle = int(sys.argv[3]), float(sys.argv[4])
listing._STEP = 2
by_reader = []

def recorded(name):
    child(name)
    with open(record, "a") as out:
        out.write(name + "\\n")

before_each_stat(by_reader.append, recorded)
pending = listing.start_listing(directory)
forked = pending.beside is not None
deadline = time.monotonic() + 30
while forked and time.monotonic() < deadline:  # until the child has stat'ed ``lines`` names
    if record.exists() and len(record.read_text().split()) >= lines:
        break
    time.sleep(0.001)
time.sleep(settle)
found = pending.result()
here = listing.stat_names(directory, listing.list_names(directory))
by_child = record.read_text().split() if record.exists() else []
print(json.dumps({"forked": forked, "same": [list(r) for r in found] == [list(r) for r in here],
                  "files": len(found), "by_reader": by_reader, "by_child": by_child}))
"""


def both_ends(
    fresh_interpreter, directory: Path, record: Path, child: str, lines: int = 1, settle: float = 0
) -> dict:
    """``_BOTH_ENDS`` with ``child(name)`` run in the child before each of its ``lstat``; the
    reader takes the answer once the child has stat'ed ``lines`` names, ``settle`` s later."""
    args = (str(directory), str(record), str(lines), str(settle))
    return with_child(fresh_interpreter, child + _BOTH_ENDS, *args)


@needs_fork
def test_a_slow_child_meets_the_reader_and_every_name_is_stated(
    tmp_path: Path, fresh_interpreter
) -> None:
    directory = make_folder(tmp_path / "snapshots")
    answer = both_ends(
        fresh_interpreter,
        directory,
        tmp_path / "by-child",
        "def child(name):\n    time.sleep(0.02)\n",
    )
    assert answer["forked"] and answer["same"] and answer["files"] == 43
    by_reader, by_child = answer["by_reader"], answer["by_child"]
    names = sorted({*by_reader, *by_child})
    assert len(names) == 45  # the 43 files, the folder and the link to it: each stat'ed
    assert by_child and by_reader  # both took part: the child from the first name on,
    assert by_child[0] == names[0] and names[-1] in by_reader[:2]  # the reader from the last
    assert len(by_reader) > len(by_child)  # the child sleeps at each name
    assert len(set(by_child) & set(by_reader)) <= 2  # at most one step done by both


_DIES = """
n = [0]
def child(name):  # after one step (2 names, told to the reader), in the next
    n[0] += 1
    if n[0] == 3:
        os._exit(1)
"""
_CLAIMS_TOO_MUCH = """
def child(name):  # says it did every name, and stops after one step
    get, set_ = listing._Meeting.get, listing._Meeting.set
    listing._Meeting.get = lambda self, at: 0 if at == listing._TAKEN else get(self, at)
    listing._Meeting.set = lambda self, at, value: set_(self, at, 10**9)
"""


@needs_fork
@pytest.mark.parametrize(
    ("child", "by_reader"),
    [
        (_DIES, 45),  # from the last name back to the child's step, then that step: its
        (_CLAIMS_TOO_MUCH, 43),  # numbers were lost; none from the back, then all but the step
    ],
    ids=["dies", "claims-too-much"],
)
def test_names_the_child_did_not_state_are_stated_here(
    tmp_path: Path, fresh_interpreter, child: str, by_reader: int
) -> None:
    directory = make_folder(tmp_path / "snapshots")
    record = tmp_path / "by-child"
    answer = both_ends(fresh_interpreter, directory, record, child, lines=2, settle=0.3)
    assert answer["forked"] and answer["same"] and answer["files"] == 43
    assert len(answer["by_child"]) == 2
    assert len(answer["by_reader"]) == by_reader
    assert len({*answer["by_reader"], *answer["by_child"]}) == 45  # every name stat'ed


@pytest.mark.parametrize("offset", [0, 1, 3])
def test_joined_columns_place_each_part_after_the_other(offset: int) -> None:
    front = (
        [1],
        [10] * (offset - 1),
        [11] * (offset - 1),
        [12] * (offset - 1),
        [13] * (offset - 1),
    )
    if offset == 0:
        front = ([], [], [], [], [])
    back = ([0, 2], [20], [21], [22], [23])
    gone, sizes, *_ = listing._joined(front, back, offset)
    assert gone == [*front[0], offset, offset + 2]
    assert sizes == [*front[1], 20]


@pytest.mark.parametrize(
    ("answer", "sound"),
    [
        ((2, ([], [1, 2], [3, 4], [5, 6], [7, 8])), True),
        ((2, ([1], [2], [4], [6], [8])), True),  # one gone
        ((1, ([], [2], [4], [6], [8])), True),  # stopped after one name
        ((0, ([], [], [], [], [])), True),
        ((2, ([], [1], [3], [5], [7])), False),  # a number short
        ((3, ([], [1, 2, 3], [3, 4, 5], [5, 6, 7], [7, 8, 9])), False),  # more than the names
        ((-1, ([], [], [], [], [])), False),
        ((2, ([2], [2], [4], [6], [8])), False),  # a position past the names done
        ((2.0, ([], [1, 2], [3, 4], [5, 6], [7, 8])), False),
        ((2, ([], [1, 2], [3, 4], [5, 6])), False),
        ((2, [[], [1, 2], [3, 4], [5, 6], [7, 8]]), False),
        (object(), False),  # NOT_DONE: the child could not
        (None, False),
    ],
)
def test_only_an_answer_of_the_childs_shape_is_taken(answer, sound) -> None:
    assert listing._sound(answer, 2) is sound
