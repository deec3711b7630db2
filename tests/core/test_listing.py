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
    os.mkfifo(directory / "pipe.toml")
    return directory


def as_plain(found: listing.Listing) -> list[list[object]]:
    return [list(row) for row in found]


def with_child(fresh_interpreter, body: str, *args: str) -> dict:
    """``fresh_interpreter`` running ``body`` with ``listing`` imported and its child allowed
    from one file."""
    preamble = "from modelsnap.core.records import listing\nlisting.STAT_BESIDE_FROM = 1\n"
    return fresh_interpreter(preamble + textwrap.dedent(body), *args)


def test_names_are_sorted_snapshot_candidates(tmp_path: Path) -> None:
    directory = make_folder(tmp_path / "snapshots", count=5)
    names = listing.list_names(directory)
    assert names == [*(f"2026-{i:04d}.toml" for i in range(5)), "link.toml", "pipe.toml"]


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


def test_a_file_gone_since_the_listing_is_left_out(tmp_path: Path) -> None:
    directory = make_folder(tmp_path / "snapshots", count=3)
    names = [*listing.list_names(directory), "zz-gone.toml"]
    assert listing.stat_names(directory, names).names == names[:-1]


@needs_fork
def test_the_child_gives_what_stating_here_gives(tmp_path: Path, fresh_interpreter) -> None:
    directory = make_folder(tmp_path / "snapshots")
    answer = with_child(
        fresh_interpreter,
        """
        directory = Path(sys.argv[1])
        list_names = listing.list_names
        parent, listed_here = os.getpid(), []

        def one_gone(directory):
            # one name gone since the listing, in the middle: positions, not order, place
            # numbers (the child lists with this too: it is a fork)
            if os.getpid() == parent:
                listed_here.append(directory)
            names = list_names(directory)
            names.insert(3, "2026-0002a.toml")
            return names

        listing.list_names = one_gone
        pending = listing.start_listing(directory)
        forked = pending.beside is not None and pending.names is None
        found = pending.result()
        here = listing.stat_names(directory, one_gone(directory))
        print(json.dumps({"forked": forked, "forks": len(forks), "bound": pending.bound,
                          "listed_here": len(listed_here),
                          "child": [list(r) for r in found], "here": [list(r) for r in here]}))
        """,
        str(directory),
    )
    assert answer["forked"] and answer["forks"] == 1
    assert answer["child"] == answer["here"]
    assert len(answer["child"]) == 42  # 40 files, the link and the FIFO
    assert answer["bound"] == 45  # every entry: with the hidden file, notes.txt, the folder
    assert answer["listed_here"] == 1  # only for "here": the listing came from the child


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
    directory = make_folder(tmp_path / "snapshots")
    answer = with_child(
        fresh_interpreter,
        """
        directory = Path(sys.argv[1])
        parent = os.getpid()
        stat_at = listing._stat_at

        def failing_in_the_child(fd):
            stat = stat_at(fd)

            def numbers(name):
                if os.getpid() != parent:
                    raise OSError("the child cannot stat")
                return stat(name)

            return numbers

        listing._stat_at = failing_in_the_child
        pending = listing.start_listing(directory)
        forked = pending.beside is not None
        found = pending.result()
        here = listing.stat_names(directory, listing.list_names(directory))
        print(json.dumps({"forked": forked, "forks": len(forks),
                          "same": [list(r) for r in found] == [list(r) for r in here],
                          "files": len(found)}))
        """,
        str(directory),
    )
    assert answer == {"forked": True, "forks": 1, "same": True, "files": 42}


@pytest.mark.parametrize(
    ("answer", "sound"),
    [
        ((["a.toml", "b.toml"], ([], [1, 2], [3, 4], [5, 6], [7, 8])), True),
        ((["a.toml", "b.toml"], ([1], [2], [4], [6], [8])), True),  # one gone
        ((["a.toml", "b.toml"], ([], [1], [3], [5], [7])), False),  # a number short
        ((["a.toml", 2], ([], [1, 2], [3, 4], [5, 6], [7, 8])), False),
        (("a.toml", ([], [1], [3], [5], [7])), False),
        ((["a.toml"], ([], [1], [3], [5])), False),
        ((["a.toml"], [[], [1], [3], [5], [7]]), False),
        (object(), False),  # NOT_DONE: the child could not
        (None, False),
    ],
)
def test_only_an_answer_of_the_childs_shape_is_taken(answer, sound) -> None:
    assert listing._sound(answer) is sound
