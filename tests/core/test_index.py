"""The snapshot index stays correct when files change behind its back, and never breaks a reader."""

from __future__ import annotations

import hashlib
import hmac
import importlib.util
import json
import marshal
import os
import random
import shutil
import sqlite3
import stat
import sys
import threading
from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import Path

import pytest
import tomli_w
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from modelsnap.core.files import read_toml
from modelsnap.core.records import index

BENCH = Path(__file__).resolve().parents[2] / "benchmarks" / "make_snapshots.py"
_spec = importlib.util.spec_from_file_location("make_snapshots", BENCH)
make_snapshots = importlib.util.module_from_spec(_spec)
sys.modules.setdefault("make_snapshots", make_snapshots)
_spec.loader.exec_module(make_snapshots)


def tree_hash(root: Path) -> str:
    """Names, sizes, mtimes and bytes of everything under root: any write changes it."""
    digest = hashlib.sha256()
    for path in sorted(root.rglob("*")):
        info = path.lstat()
        digest.update(f"{path.relative_to(root)}|{info.st_size}|{info.st_mtime_ns}".encode())
        if path.is_file():
            digest.update(path.read_bytes())
    return digest.hexdigest()


def write_file(root: Path, snapshot: dict) -> Path:
    path = root / "snapshots" / f"{snapshot['id']}.toml"
    path.write_bytes(tomli_w.dumps(snapshot).encode())
    return path


def stored_files(root: Path) -> set[str]:
    with sqlite3.connect(index.index_path(root)) as connection:
        return {name for (name,) in connection.execute("SELECT file FROM entries")}


def edit_row(root: Path, file_name: str, change: dict, *, sign: bool = False) -> None:
    """Rewrite one stored row; with ``sign`` its MAC is made anew with the user's key (a row
    written by a faulty writer), else the old MAC stays (a row edited by hand)."""
    connection = sqlite3.connect(index.index_path(root))
    *binding, sha256, body = connection.execute(
        "SELECT size, mtime_ns, ctime_ns, ino, bound_ns, sha256, body FROM entries WHERE file = ?",
        (file_name,),
    ).fetchone()
    row = marshal.loads(body)
    if isinstance(row, tuple):
        row = dict(zip(index._ROW_FIELDS, row, strict=True))
    row.update(change)
    body = marshal.dumps(row)
    values: tuple = (body, file_name)
    query = "UPDATE entries SET body = ? WHERE file = ?"
    if sign:
        signed = index._signed(file_name, tuple(binding), sha256, body)
        values = (body, index._mac(index._key(create=False), signed), file_name)
        query = "UPDATE entries SET body = ?, mac = ? WHERE file = ?"
    connection.execute(query, values)
    connection.commit()
    connection.close()


def extra_snapshot(n: int) -> dict:
    rng = random.Random(n)
    return make_snapshots.make_snapshot(1000 + n, rng, datetime(2026, 11, 20, tzinfo=UTC), None)


@pytest.fixture
def folder(tmp_path: Path) -> tuple[Path, list[str]]:
    ids = make_snapshots.write_folder(tmp_path / "p", 12)
    return tmp_path / "p", ids


def test_rows_match_summary_rows_and_come_in_id_order(folder):
    root, ids = folder
    rows, problems = index.load_rows(root)
    assert problems == []
    assert [r["id"] for r in rows] == sorted(ids)
    snapshot = read_toml(root / "snapshots" / f"{ids[3]}.toml")
    assert rows[3] == json.loads(json.dumps(index.summary_row(snapshot)))
    assert rows[3]["measures"]["validation"]["f1"] == snapshot["metrics"]["validation"]["f1"]
    assert rows[3]["measures"]["test"]["f1"] == snapshot["metrics"]["test"]["f1"]


def test_summary_row_names_violated_constraints():
    snapshot = extra_snapshot(1)
    snapshot["constraints"] = {
        "latency_p95_ms": {"value": 80.0, "limit": 50.0, "ok": False, "over": 0.6},
        "size_mb": {"value": 1.0, "limit": 100.0, "ok": True, "over": 0.0},
    }
    row = index.summary_row(snapshot)
    assert row["constraints"]["ok"] is False
    assert row["constraints"]["reasons"] == ["latency_p95_ms 80 > 50"]
    assert row["constraints"]["flags"] == {"latency_p95_ms": False, "size_mb": True}
    del snapshot["constraints"]
    assert index.summary_row(snapshot)["constraints"]["ok"] is None


def test_matching_entries_are_trusted_without_parsing(folder, monkeypatch):
    root, ids = folder

    def no_parse(path):
        raise AssertionError(f"parsed {path}")

    monkeypatch.setattr(index, "_parse", no_parse)
    rows, problems = index.load_rows(root)
    assert [row["id"] for row in rows] == ids and problems == []


def test_rows_are_trusted_from_a_relative_folder_name(folder, monkeypatch):
    root, ids = folder
    monkeypatch.chdir(root.parent)

    def no_parse(path):
        raise AssertionError(f"parsed {path}")

    monkeypatch.setattr(index, "_parse", no_parse)
    rows, problems = index.load_rows(Path(root.name))
    assert [row["id"] for row in rows] == ids and problems == []


def test_an_index_edited_by_hand_is_not_trusted(folder):
    root, ids = folder
    edit_row(root, f"{ids[2]}.toml", {"name": "from-the-index"})
    rows, _ = index.load_rows(root)
    assert rows[2]["name"] != "from-the-index"
    assert f"{ids[2]}.toml" not in index._read_entries(root)
    assert len(index._read_entries(root)) == len(ids) - 1


def test_reordered_measure_names_make_no_row_trusted(folder):
    """The names say which packed value is which measure: they are authenticated too."""
    root, ids = folder
    with sqlite3.connect(index.index_path(root)) as connection:
        (blob,) = connection.execute(
            "SELECT value FROM meta WHERE key = 'measure_names'"
        ).fetchone()
        names = json.loads(blob)
        names[0], names[1] = names[1], names[0]
        connection.execute(
            "UPDATE meta SET value = ? WHERE key = 'measure_names'",
            (json.dumps(names).encode(),),
        )
    assert index._read_entries(root) == {}
    rows, problems = index.load_rows(root)
    snapshot = read_toml(root / "snapshots" / f"{ids[2]}.toml")
    assert problems == [] and rows[2] == index.summary_row(snapshot)


def test_edited_file_is_parsed_again(folder):
    root, ids = folder
    path = root / "snapshots" / f"{ids[4]}.toml"
    snapshot = read_toml(path)
    snapshot["metrics"]["validation"]["f1"] = 0.123
    path.write_bytes(tomli_w.dumps(snapshot).encode())
    os.utime(path, ns=(path.stat().st_atime_ns, path.stat().st_mtime_ns + 1_000_000))
    rows, problems = index.load_rows(root)
    assert problems == []
    assert rows[4]["measures"]["validation"]["f1"] == 0.123


def test_added_and_removed_files_are_seen_and_write_back_prunes(folder):
    root, ids = folder
    new = extra_snapshot(1)
    write_file(root, new)
    (root / "snapshots" / f"{ids[0]}.toml").unlink()
    rows, problems = index.load_rows(root)
    listed = {r["id"] for r in rows}
    assert new["id"] in listed and ids[0] not in listed and problems == []
    rows, _ = index.load_rows(root, write_back=True)
    entries = stored_files(root)
    assert f"{new['id']}.toml" in entries
    assert f"{ids[0]}.toml" not in entries
    assert len(entries) == len(rows) == 12


@pytest.mark.parametrize("damage", ["not toml", "wrong id", "schema 2", "bad kind", "binary"])
def test_broken_files_become_problems_and_the_rest_still_loads(folder, damage):
    root, ids = folder
    path = root / "snapshots" / f"{ids[5]}.toml"
    snapshot = read_toml(path)
    if damage == "not toml":
        path.write_text("schema = 1\nid = [unclosed\n")
    elif damage == "binary":
        path.write_bytes(b"\xff\xfe\x00garbage")
    else:
        if damage == "wrong id":
            snapshot["id"] = ids[6]
        elif damage == "schema 2":
            snapshot["schema"] = 2
        else:
            snapshot["kind"] = "champion"
        path.write_bytes(tomli_w.dumps(snapshot).encode())
    os.utime(path, ns=(1, 1))
    rows, problems = index.load_rows(root, write_back=True)
    assert len(rows) == 11
    assert [p.path.name for p in problems] == [path.name]
    assert problems[0].message
    # the broken file is not cached as a good row
    assert path.name not in stored_files(root)


def test_review_load_never_writes(folder):
    root, _ = folder
    write_file(root, extra_snapshot(2))
    index.index_path(root).unlink()
    before = tree_hash(root)
    rows, _ = index.load_rows(root, write_back=False)
    assert len(rows) == 13
    assert tree_hash(root) == before


def test_read_only_folder_is_fine_even_with_write_back(folder):
    root, _ = folder
    write_file(root, extra_snapshot(3))
    modes = {}
    for path in [root, *root.rglob("*")]:
        modes[path] = path.stat().st_mode
        path.chmod(stat.S_IMODE(modes[path]) & ~0o222)
    try:
        if os.access(root / "snapshots", os.W_OK):
            pytest.skip("running as a user that ignores permissions (root)")
        rows, problems = index.load_rows(root, write_back=True)
        assert len(rows) == 13 and problems == []
    finally:
        for path, mode in modes.items():
            path.chmod(stat.S_IMODE(mode))


def test_read_only_check_by_tree_hash_with_index_stale(folder):
    """Even with work to write back, write_back=False leaves the folder byte-identical."""
    root, ids = folder
    (root / "snapshots" / f"{ids[1]}.toml").unlink()
    write_file(root, extra_snapshot(4))
    before = tree_hash(root)
    index.load_rows(root)
    assert tree_hash(root) == before


def test_concurrent_records_keep_every_row(tmp_path):
    root = tmp_path / "p"
    make_snapshots.write_folder(root, 1)
    snapshots = [extra_snapshot(n) for n in range(16)]
    for snapshot in snapshots:
        write_file(root, snapshot)

    def worker(part: list[dict]) -> None:
        for snapshot in part:
            index.record(root, snapshot)

    threads = [threading.Thread(target=worker, args=(snapshots[i::4],)) for i in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(index._read_entries(root)) == 17
    rows, problems = index.load_rows(root)
    assert len(rows) == 17 and problems == []


def test_measures_round_trip_exactly_through_the_packed_index(tmp_path):
    root = tmp_path / "p"
    make_snapshots.write_folder(root, 5, full_precision=True)
    assert index._read_index(root).names  # stored packed, under names kept once
    for row in index.load_rows(root)[0]:
        snapshot = read_toml(root / "snapshots" / f"{row['id']}.toml")
        assert row == json.loads(json.dumps(index.summary_row(snapshot)))


def test_index_of_another_row_version_is_ignored(folder):
    root, ids = folder
    edit_row(root, f"{ids[0]}.toml", {"name": "stale"}, sign=True)
    with sqlite3.connect(index.index_path(root)) as connection:
        connection.execute("UPDATE meta SET value = 'other' WHERE key = 'format'")
    rows, _ = index.load_rows(root, write_back=True)
    assert rows[0]["name"] != "stale"
    assert len(index._read_entries(root)) == len(ids)  # rewritten in this format


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    st.one_of(
        st.binary(max_size=300),
        st.recursive(
            st.none()
            | st.booleans()
            | st.integers()
            | st.floats(allow_nan=False)
            | st.text(max_size=8),
            lambda children: (
                st.lists(children, max_size=4)
                | st.dictionaries(st.text(max_size=12), children, max_size=4)
            ),
            max_leaves=20,
        ).map(lambda value: json.dumps(value).encode()),
        st.fixed_dictionaries(
            {
                "row_version": st.just(index.ROW_VERSION),
                "entries": st.dictionaries(
                    st.text(max_size=30),
                    st.fixed_dictionaries(
                        {
                            "size": st.integers(),
                            "mtime_ns": st.integers(),
                            "row": st.dictionaries(st.text(max_size=5), st.integers()),
                        }
                    ),
                    max_size=3,
                ),
            }
        ).map(lambda value: json.dumps(value).encode()),
    )
)
def test_any_index_content_gives_the_true_rows(tmp_path_factory, content):
    root = tmp_path_factory.mktemp("h") / "p"
    ids = make_snapshots.write_folder(root, 3)
    index.index_path(root).write_bytes(content)
    rows, problems = index.load_rows(root)
    assert problems == []
    assert [r["id"] for r in rows] == ids
    assert all(r["kind"] in ("baseline", "candidate") for r in rows)


def test_unwritable_cache_is_tolerated_with_write_back(folder):
    """A cache that cannot be written (here .modelsnap is a plain file) never fails a reader."""
    root, _ = folder
    import shutil

    shutil.rmtree(root / ".modelsnap")
    (root / ".modelsnap").write_text("not a directory")
    rows, problems = index.load_rows(root, write_back=True)
    assert len(rows) == 12 and problems == []
    assert (root / ".modelsnap").read_text() == "not a directory"


def test_store_write_records_a_trusted_row(tmp_path, make_body, make_staged):
    """The real write path: store.write_snapshot leaves a matching entry, so no parse is needed."""
    from modelsnap.core.records import store

    root = tmp_path / "p"
    root.mkdir()
    snapshot_id = store.write_snapshot(root, make_body(), staged_files=make_staged(root))
    entry = index._read_entries(root)[f"{snapshot_id}.toml"]
    info = (root / "snapshots" / f"{snapshot_id}.toml").stat()
    assert (entry["size"], entry["mtime_ns"]) == (info.st_size, info.st_mtime_ns)
    assert entry["row"] == json.loads(
        json.dumps(index.summary_row(store.read_snapshot(root, snapshot_id)))
    )
    before = tree_hash(root / ".modelsnap")
    rows, problems = index.load_rows(root, write_back=True)
    assert [r["id"] for r in rows] == [snapshot_id] and problems == []
    assert tree_hash(root / ".modelsnap") == before  # nothing stale: nothing rewritten


def test_a_torn_index_database_is_rebuilt(folder):
    root, ids = folder
    path = index.index_path(root)
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])  # a crash mid-copy
    rows, problems = index.load_rows(root, write_back=True)
    assert problems == [] and [r["id"] for r in rows] == ids
    assert len(index._read_entries(root)) == len(ids)


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    st.tuples(
        st.integers(-(2**63), 2**63 - 1) | st.text(max_size=3),
        st.integers(-(2**63), 2**63 - 1) | st.binary(max_size=3),
        st.text(max_size=70) | st.integers(-(2**63), 2**63 - 1),
        st.binary(max_size=200) | st.text(max_size=20),
        st.text(max_size=70) | st.binary(max_size=40),
    )
)
def test_any_stored_row_gives_the_true_rows(tmp_path_factory, values):
    root = tmp_path_factory.mktemp("j") / "p"
    ids = make_snapshots.write_folder(root, 3)
    with sqlite3.connect(index.index_path(root)) as connection:
        connection.execute(
            "UPDATE entries SET size = ?, mtime_ns = ?, sha256 = ?, body = ?, mac = ? "
            "WHERE file = ?",
            (*values, f"{ids[1]}.toml"),
        )
    rows, problems = index.load_rows(root, write_back=True)
    assert problems == [] and [r["id"] for r in rows] == ids
    snapshot = read_toml(root / "snapshots" / f"{ids[1]}.toml")
    assert rows[1] == index.summary_row(snapshot)


@pytest.mark.parametrize(
    "damage",
    [
        {"measures_packed": "x"},
        {"measures_packed": (b"AAAA", b"AAAA")},
        {"measures_packed": (b"", b"", b"")},
        {"id": "someone-else"},
        {"kind": 3},
        {"constraints": None},
    ],
)
def test_matching_entry_with_a_malformed_row_is_not_trusted(folder, damage):
    root, ids = folder
    edit_row(root, f"{ids[2]}.toml", damage, sign=True)  # a row a faulty writer left
    rows, problems = index.load_rows(root, write_back=True)
    assert problems == [] and rows[2]["id"] == ids[2]
    assert isinstance(rows[2]["measures"]["test"], Mapping)
    assert index._read_entries(root)[f"{ids[2]}.toml"]["row"] == rows[2]


def test_summary_rows_take_the_compact_stored_form():
    """Rows with exactly summary_row's fields are stored as tuples (the fast path at 100,000)."""
    row = index.summary_row(extra_snapshot(5))
    stored = tuple(key for key in row if key != "measures") + ("measures_packed",)
    assert stored == index._ROW_FIELDS


def no_hashing(path):
    raise AssertionError(f"hashed {path}")


def test_a_row_bound_well_after_its_file_changed_is_trusted_on_its_stat(folder, monkeypatch):
    """Size, mtime, ctime and inode as bound, the binding well after the file's last change:
    the row is used without reading the file."""
    root, ids = folder
    later = index.time.time_ns() + index.RACY_NS + 1_000_000_000
    monkeypatch.setattr(index.time, "time_ns", lambda: later)  # a read 3 s after the writes
    index.load_rows(root, write_back=True)  # binds every row again (their bytes match)
    monkeypatch.undo()
    monkeypatch.setattr(index, "_content_sha256", no_hashing)
    monkeypatch.setattr(index, "_parse", lambda path: pytest.fail(f"parsed {path}"))
    rows, problems = index.load_rows(root)
    assert [r["id"] for r in rows] == ids and problems == []


def test_a_row_bound_right_after_a_write_is_checked_by_its_bytes(folder, monkeypatch):
    """A file that changed within RACY_NS of its binding may change again in the same clock
    tick without its ctime moving: its sha256 decides, every time, until it is bound again."""
    root, ids = folder
    hashed = []
    real = index._content_sha256
    monkeypatch.setattr(index, "_content_sha256", lambda path: hashed.append(path) or real(path))
    monkeypatch.setattr(index, "_parse", lambda path: pytest.fail(f"parsed {path}"))
    for _ in range(2):
        hashed.clear()
        rows, _ = index.load_rows(root, write_back=True)  # too soon to bind again
        assert len(hashed) == len(ids) == len(rows)


def test_a_same_size_rewrite_with_its_mtime_put_back_is_seen_at_once(folder):
    """The rewrite comes within the same clock tick as the write (so the ctime may not move):
    the row is racy and its bytes are compared."""
    root, ids = folder
    path = root / "snapshots" / f"{ids[6]}.toml"
    before = path.stat()
    text = path.read_text()
    changed = text.replace('name = "', 'name = "X', 1).replace('kind = "', 'kind ="', 1)
    assert len(changed) == len(text) and changed != text
    path.write_text(changed)
    os.utime(path, ns=(before.st_atime_ns, before.st_mtime_ns))
    rows, _ = index.load_rows(root)
    assert rows[6]["name"].startswith("X")


def test_a_settled_row_is_read_again_after_a_rewrite_that_keeps_size_and_mtime(folder, monkeypatch):
    """Once bound for good, a rewrite that keeps size and mtime still moves the ctime (which no
    user can set): the file is parsed."""
    root, ids = folder
    later = index.time.time_ns() + index.RACY_NS + 1_000_000_000
    monkeypatch.setattr(index.time, "time_ns", lambda: later)
    index.load_rows(root, write_back=True)
    monkeypatch.undo()
    path = root / "snapshots" / f"{ids[7]}.toml"
    before = path.stat()
    text = path.read_text()
    changed = text.replace('name = "', 'name = "X', 1).replace('kind = "', 'kind ="', 1)
    index.time.sleep(0.05)  # past the file system's clock tick
    path.write_text(changed)
    os.utime(path, ns=(before.st_atime_ns, before.st_mtime_ns))
    assert (path.stat().st_size, path.stat().st_mtime_ns) == (before.st_size, before.st_mtime_ns)
    rows, _ = index.load_rows(root)
    assert rows[7]["name"].startswith("X")


def test_a_copied_folder_keeps_its_rows_by_their_bytes(folder, tmp_path, monkeypatch):
    """``cp -a``: new inodes and ctimes, same size and mtime. Each row is checked by its
    sha256 (no parse), and a writing read binds it to the copy."""
    import shutil

    root, ids = folder
    copy = tmp_path / "copy"
    shutil.copytree(root, copy, copy_function=shutil.copy2)
    monkeypatch.setattr(index, "_parse", lambda path: pytest.fail(f"parsed {path}"))
    rows, problems = index.load_rows(copy, write_back=True)
    assert [r["id"] for r in rows] == ids and problems == []
    entry = index._read_entries(copy)[f"{ids[0]}.toml"]
    info = (copy / "snapshots" / f"{ids[0]}.toml").stat()
    assert (entry["ino"], entry["ctime_ns"]) != (info.st_ino, info.st_ctime_ns)  # still racy


@pytest.fixture
def strangers(folder, tmp_path, monkeypatch):
    """The folder as another user sees it: its index was made under a key that is not theirs
    (their own key and cache are elsewhere)."""
    root, ids = folder
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "reader-state"))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "reader-cache"))
    assert not index._read_index(root).authentic
    return root, ids


def test_a_reader_keeps_its_own_index_of_a_folder_whose_index_is_not_theirs(strangers, monkeypatch):
    """Review of someone else's folder: the first read parses every file (their index is not
    trusted), writes nothing in the folder, and keeps the rows in the reader's own index, in
    the user's cache and theirs alone; the next read parses nothing and gives the same rows."""
    root, ids = strangers
    before = tree_hash(root)
    parsed = parsed_files(monkeypatch)
    first, problems = index.load_rows(root)
    assert problems == [] and [r["id"] for r in first] == ids
    assert sorted(parsed) == sorted(f"{i}.toml" for i in ids)
    home = index.private_home(root)
    assert home.is_relative_to(Path(os.environ["XDG_CACHE_HOME"]))
    assert index.index_path(home).is_file()
    for level in (home.parent.parent, home.parent, home, home / ".modelsnap"):
        assert stat.S_IMODE(level.stat().st_mode) == 0o700, level
    parsed.clear()
    again, _ = index.load_rows(root)
    assert parsed == [] and plain(again) == plain(first)
    assert plain(again) == plain(index.load_rows(root, write_back=False)[0])
    assert tree_hash(root) == before  # the folder itself is never written
    assert index.private_home(root.parent / ".." / root.parent.name / root.name) == home


def test_a_writing_reader_of_a_folder_it_cannot_write_keeps_its_own_index(strangers, monkeypatch):
    """``ls`` of someone else's folder on a read-only mount: as review, the rows are kept in
    the reader's own index (the access check is faked: this suite may run as root)."""
    root, ids = strangers
    monkeypatch.setattr(index, "folder_writable", lambda folder: False)
    before = tree_hash(root)
    first, _ = index.load_rows(root, write_back=True)
    assert index.index_path(index.private_home(root)).is_file()
    parsed = parsed_files(monkeypatch)
    again, _ = index.load_rows(root, write_back=True)
    assert parsed == [] and plain(again) == plain(first) and [r["id"] for r in again] == ids
    assert tree_hash(root) == before
    monkeypatch.setattr(index, "folder_writable", lambda folder: True)  # writable again
    index.load_rows(root, write_back=True)
    assert tree_hash(root) != before  # the folder's own index is this user's now
    assert index._read_index(root).authentic


def test_readers_indexes_left_for_a_month_go_when_a_new_one_is_made(strangers, tmp_path):
    """The cache does not grow without end: another folder's index whose state has not
    changed for ``PRIVATE_KEEP_SECONDS`` is removed when a new one is made; a recent one, a
    name ``private_home`` never makes, and a link (not even followed) stay."""
    root, ids = strangers
    folders = index.private_home(root).parent
    folders.mkdir(parents=True)
    month = index.PRIVATE_KEEP_SECONDS + 3600
    made = {}
    for name in ("a" * 32, "b" * 32, "not-a-readers-index"):
        (folders / name / ".modelsnap").mkdir(parents=True)
        (folders / name / ".modelsnap" / "index.sqlite").write_bytes(b"x")
        made[name] = folders / name
    elsewhere = tmp_path / "elsewhere"
    (elsewhere / ".modelsnap").mkdir(parents=True)
    (folders / ("c" * 32)).symlink_to(elsewhere)
    old = index.time.time() - month
    for name in ("a" * 32, "not-a-readers-index"):
        os.utime(made[name] / ".modelsnap", (old, old))
    os.utime(elsewhere / ".modelsnap", (old, old))
    index.load_rows(root)  # makes this folder's index
    assert index.index_path(index.private_home(root)).is_file()
    assert not made["a" * 32].exists()
    assert made["b" * 32].exists() and made["not-a-readers-index"].exists()
    assert (folders / ("c" * 32)).is_symlink() and (elsewhere / ".modelsnap").is_dir()
    index.load_rows(root)  # an index already there: nothing is pruned again
    assert made["b" * 32].exists()


def test_a_file_changed_since_the_readers_own_index_is_read_again(strangers, monkeypatch):
    root, ids = strangers
    index.load_rows(root)
    path = root / "snapshots" / f"{ids[2]}.toml"
    snapshot = read_toml(path)
    snapshot["name"] = "renamed_model"
    path.write_bytes(tomli_w.dumps(snapshot).encode())
    (root / "snapshots" / f"{ids[4]}.toml").unlink()
    parsed = parsed_files(monkeypatch)
    rows, problems = index.load_rows(root)
    assert parsed == [path.name] and problems == []
    assert [r["id"] for r in rows] == [i for i in ids if i != ids[4]]
    assert rows[2]["name"] == "renamed_model"


def test_the_readers_own_index_edited_by_hand_is_not_trusted(strangers, monkeypatch):
    root, ids = strangers
    monkeypatch.setattr(index, "COMPACT_FROM", 10**6)  # loose rows, one MAC each
    expected = plain(index.load_rows(root)[0])
    home = index.private_home(root)
    edit_row(home, f"{ids[3]}.toml", {"name": "forged"})
    parsed = parsed_files(monkeypatch)
    rows, _ = index.load_rows(root)
    assert parsed == [f"{ids[3]}.toml"] and plain(rows) == expected


def test_a_folder_whose_index_is_this_users_gets_no_second_index(folder, tmp_path, monkeypatch):
    root, ids = folder
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "reader-cache"))
    write_file(root, extra_snapshot(5))  # even with a file its index lacks
    rows, _ = index.load_rows(root)
    assert len(rows) == len(ids) + 1
    assert not (tmp_path / "reader-cache").exists()


def test_a_cache_that_cannot_be_made_only_costs_the_parse(strangers, tmp_path, monkeypatch):
    root, ids = strangers
    (tmp_path / "not-a-folder").write_text("a file where the cache would go")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "not-a-folder"))
    before = tree_hash(root)
    for _ in range(2):
        rows, problems = index.load_rows(root)
        assert [r["id"] for r in rows] == ids and problems == []
    assert tree_hash(root) == before


def test_a_relative_cache_or_state_directory_never_lands_in_the_folder(strangers, monkeypatch):
    """A relative ``$XDG_CACHE_HOME`` or ``$XDG_STATE_HOME`` is ignored (the XDG rule), the
    home directory's used instead; with no home directory either, review keeps no index and no
    key rather than write them where it runs, here the folder itself."""
    root, ids = strangers
    home = root.parent / "home"
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("XDG_CACHE_HOME", "relative-cache")
    monkeypatch.setenv("XDG_STATE_HOME", "relative-state")
    assert index.private_home(root).is_relative_to(home / ".cache" / "modelsnap")
    assert index.key_path() == home / ".local" / "state" / "modelsnap" / "index.key"
    monkeypatch.setattr(index.os.path, "expanduser", lambda path: path)  # no home directory
    monkeypatch.chdir(root)
    before = tree_hash(root)
    assert index.private_home(root) is None and index._key(create=True) is None
    for _ in range(2):
        rows, problems = index.load_rows(root)
        assert [r["id"] for r in rows] == ids and problems == []
    assert tree_hash(root) == before


def test_the_first_writing_read_of_a_folder_folds_its_rows_into_a_block(folder, monkeypatch):
    """A folder with no index, or one under another user's key: its first ``ls`` or ``rank``
    writes the block at once (the old index's rows are unreadable to anyone), and the next read
    takes every row from it."""
    root, ids = folder
    monkeypatch.setattr(index, "COMPACT_FROM", 4)
    for start in ("none", "another key"):
        if start == "none":
            shutil.rmtree(root / ".modelsnap")
        else:
            monkeypatch.setenv("XDG_STATE_HOME", str(root.parent / "other-state"))
        expected = plain(index.load_rows(root, write_back=True)[0])
        assert [r["id"] for r in expected] == ids
        assert stored_files(root) == set() and index.block_path(root).is_file()
        monkeypatch.setattr(index, "_parse", lambda path: pytest.fail(f"parsed {path}"))
        assert plain(index.load_rows(root)[0]) == expected
        monkeypatch.undo()
        monkeypatch.setattr(index, "COMPACT_FROM", 4)


def _as_version_5(root: Path) -> None:
    """Rewrite the index as row version 5 wrote it: the same rows, bound to size, mtime and
    sha256 only, under that version's MAC. Its measure names start with one no row has (as
    after a measure was dropped), so a rewrite that renumbers them must repack every row."""
    key = index._key(create=False)
    path = index.index_path(root)
    absent = index._pack({}, ["unused"])
    with sqlite3.connect(path) as connection:
        (names_blob,) = connection.execute(
            "SELECT value FROM meta WHERE key = 'measure_names'"
        ).fetchone()
        names_blob = json.dumps(["unused", *json.loads(names_blob)]).encode()
        connection.execute("UPDATE meta SET value = ? WHERE key = 'measure_names'", (names_blob,))
        connection.execute(
            "UPDATE meta SET value = ? WHERE key = 'measure_names_mac'",
            (index._mac(key, b"names\0" + names_blob),),
        )
        entries = connection.execute("SELECT file, size, mtime_ns, sha256, body FROM entries")
        rows = []
        for file_name, size, mtime_ns, sha256, stored in entries.fetchall():
            row = marshal.loads(stored)
            body = marshal.dumps((*row[:-1], tuple(absent + blob for blob in row[-1])))
            signed = f"{file_name}\0{size}\0{mtime_ns}\0{sha256}\0".encode() + body
            mac = hmac.new(key, signed, "sha256").hexdigest()
            rows.append((file_name, size, mtime_ns, sha256, body, mac))
        connection.execute("DROP TABLE entries")
        connection.execute(
            "CREATE TABLE entries (file TEXT PRIMARY KEY, size INTEGER NOT NULL, mtime_ns "
            "INTEGER NOT NULL, sha256 TEXT NOT NULL, body BLOB NOT NULL, mac TEXT NOT NULL)"
        )
        connection.executemany("INSERT INTO entries VALUES (?, ?, ?, ?, ?, ?)", rows)
        connection.execute(
            "UPDATE meta SET value = ? WHERE key = 'format'", (index._LEGACY_FORMAT,)
        )


def plain(rows: list) -> list:
    """Rows as JSON values (measures as plain dicts), so they compare by value."""
    return [
        None
        if row is None
        else json.loads(
            json.dumps(
                {
                    k: ({s: dict(m) for s, m in v.items()} if k == "measures" else v)
                    for k, v in row.items()
                }
            )
        )
        for row in rows
    ]


def test_an_index_of_the_previous_row_version_is_carried_over_by_hashing(folder, monkeypatch):
    """After an upgrade, the version-5 index is not thrown away: each row is used while its
    file hashes to the sha256 it was bound to (no parse), and the next ls rewrites the index in
    this format with the same values."""
    root, ids = folder
    expected = plain(index.load_rows(root)[0])
    _as_version_5(root)
    edited = root / "snapshots" / f"{ids[3]}.toml"
    text = edited.read_text()
    before = edited.stat()
    edited.write_text(text.replace('name = "', 'name = "X', 1).replace('kind = "', 'kind ="', 1))
    os.utime(edited, ns=(before.st_atime_ns, before.st_mtime_ns))  # size and mtime kept
    parsed = []
    real_parse = index._parse
    monkeypatch.setattr(index, "_parse", lambda path: parsed.append(path.name) or real_parse(path))
    later = index.time.time_ns() + index.RACY_NS + 1_000_000_000
    monkeypatch.setattr(index.time, "time_ns", lambda: later)
    rows, problems = index.load_rows(root, write_back=True)
    assert problems == [] and parsed == [f"{ids[3]}.toml"]  # only the edited file
    assert rows[3]["name"].startswith("X")
    rows[3] = expected[3] = None
    assert plain(rows) == expected
    with sqlite3.connect(index.index_path(root)) as connection:
        (stored_format,) = connection.execute(
            "SELECT value FROM meta WHERE key = 'format'"
        ).fetchone()
    assert stored_format == index._FORMAT
    monkeypatch.setattr(index, "_content_sha256", no_hashing)  # now bound for good
    again, _ = index.load_rows(root)
    again[3] = None
    assert plain(again) == expected
    assert parsed == [f"{ids[3]}.toml"]


# ---------------------------------------------------------------------------------------------
# The block: rows folded into one authenticated blob by a writing reader


@pytest.fixture
def compacted(folder, monkeypatch):
    """The folder after a writing read folded its rows into the block (from 4 loose rows)."""
    root, ids = folder
    monkeypatch.setattr(index, "COMPACT_FROM", 4)
    expected = plain(index.load_rows(root, write_back=True)[0])
    with sqlite3.connect(index.index_path(root)) as connection:
        assert connection.execute("SELECT count(*) FROM entries").fetchone() == (0,)
    assert index.block_path(root).is_file()
    return root, ids, expected


def no_loose_rows(*args):
    raise AssertionError("a loose row was verified")


def test_a_writing_read_folds_the_rows_into_one_block(compacted, monkeypatch):
    root, ids, expected = compacted
    monkeypatch.setattr(index, "_parse", lambda path: pytest.fail(f"parsed {path}"))
    monkeypatch.setattr(index, "_decode_row", no_loose_rows)
    rows, problems = index.load_rows(root)
    assert problems == [] and plain(rows) == expected
    assert [r["id"] for r in rows] == ids
    assert rows[0]["measures"]["test"]["f1"] == expected[0]["measures"]["test"]["f1"]
    assert len(index._read_entries(root)) == len(ids)
    # a string repeated across rows (here the data set's hash) is stored and read back once
    assert rows[0]["dataset_sha256"] == rows[1]["dataset_sha256"]
    assert rows[0]["dataset_sha256"] is rows[1]["dataset_sha256"]


def test_block_rows_are_plain_dicts_with_summary_rows_keys(compacted):
    """A block row is built by ``_Row`` (its fields named one by one, for speed): it must be a
    dict with exactly summary_row's keys, each holding its own value, and a reader may add to
    it or copy it like any dict."""
    root, ids, expected = compacted
    rows, _ = index.load_rows(root)
    snapshot = read_toml(root / "snapshots" / f"{ids[5]}.toml")
    summary = index.summary_row(snapshot)
    assert type(rows[5]) is dict
    assert sorted(rows[5]) == sorted(summary)
    assert plain([rows[5]]) == plain([summary])
    values = tuple(f"value {i}" for i in range(len(index._BASE_FIELDS)))
    keys, rest = values[: len(index.RANKING_FIELDS)], values[len(index.RANKING_FIELDS) :]
    built = index._Row(keys, rest, {}).__dict__
    assert list(built.items()) == [*zip(index._BASE_FIELDS, values, strict=True), ("measures", {})]
    narrow = index._RankingRow(keys, {}).__dict__
    assert list(narrow.items()) == [*zip(index.RANKING_FIELDS, keys, strict=True), ("measures", {})]
    rows[5]["extra"] = 1  # a reader's own key: that row alone gets it
    assert "extra" not in rows[6] and dict(rows[5])["extra"] == 1
    assert json.loads(json.dumps(rows[6], default=dict))["id"] == ids[6]


def block_of(root: Path) -> tuple[int, bytes, str]:
    """The block file's width, marshal bytes and MAC."""
    head, body = index.block_path(root).read_bytes().split(b"\n", 1)
    magic, stored_format, width, mac = head.split(b" ")
    assert (magic, stored_format) == (index._BLOCK_MAGIC, index._FORMAT.encode())
    return int(width), body, mac.decode()


def put_block(root: Path, width: int, body: bytes, mac: str) -> None:
    head = b" ".join(
        (index._BLOCK_MAGIC, index._FORMAT.encode(), str(width).encode(), mac.encode())
    )
    index.block_path(root).write_bytes(head + b"\n" + body)


def parsed_files(monkeypatch) -> list[str]:
    parsed: list[str] = []
    real = index._parse
    monkeypatch.setattr(index, "_parse", lambda path: parsed.append(path.name) or real(path))
    return parsed


def test_a_block_edited_by_hand_is_not_trusted(compacted, monkeypatch):
    root, ids, expected = compacted
    width, body, mac = block_of(root)
    parts = list(marshal.loads(body))
    parts[7][2] = parts[7][2][:1] + ("renamed",) + parts[7][2][2:]  # one row's name
    put_block(root, width, marshal.dumps(tuple(parts)), mac)  # the MAC no longer covers it
    parsed = parsed_files(monkeypatch)
    rows, problems = index.load_rows(root)
    assert problems == [] and plain(rows) == expected
    assert sorted(parsed) == sorted(f"{i}.toml" for i in ids)  # every file read instead


def signed_block(root: Path, parts: list, width: int | None = None) -> None:
    """The block rewritten and signed with the user's key: what a faulty writer could leave."""
    names = index._read_index(root).names
    width = len(names) if width is None else width
    body = marshal.dumps(tuple(parts))
    key = index._key(create=False)
    put_block(root, width, body, index._mac(key, index._base_signed(names, width, body)))


@pytest.mark.parametrize(
    "damage",
    [
        lambda parts: parts[7].__setitem__(1, parts[7][1][:-1]),  # a row one value short
        lambda parts: parts[7].__setitem__(1, parts[7][2]),  # a row under another file's name
        lambda parts: parts[7].__setitem__(1, parts[7][1][:2] + (3,) + parts[7][1][3:]),  # kind
        lambda parts: parts[0].pop(),  # one file short
        lambda parts: parts.__setitem__(8, parts[8][:-8]),  # one measure short
        lambda parts: parts.pop(),  # a part missing
    ],
)
def test_a_signed_block_of_a_shape_readers_cannot_use_is_not_trusted(compacted, damage):
    root, ids, expected = compacted
    _width, body, _mac = block_of(root)
    parts = list(marshal.loads(body))
    damage(parts)
    signed_block(root, parts)
    rows, problems = index.load_rows(root)
    assert problems == [] and plain(rows) == expected


def test_a_block_read_under_other_measure_names_is_not_trusted(compacted, monkeypatch):
    """The block's MAC covers the names its values follow: with the names reordered (and
    signed again), the values would land under the wrong measures, so no row is trusted."""
    root, ids, expected = compacted
    names = index._read_index(root).names
    names_blob = json.dumps(list(reversed(names))).encode()
    key = index._key(create=False)
    with sqlite3.connect(index.index_path(root)) as connection:
        connection.execute("UPDATE meta SET value = ? WHERE key = 'measure_names'", (names_blob,))
        connection.execute(
            "UPDATE meta SET value = ? WHERE key = 'measure_names_mac'",
            (index._mac(key, b"names\0" + names_blob),),
        )
    parsed = parsed_files(monkeypatch)
    rows, problems = index.load_rows(root)
    assert problems == [] and plain(rows) == expected and len(parsed) == len(ids)


def test_a_row_recorded_after_the_block_overrides_it(compacted, monkeypatch):
    root, ids, expected = compacted
    path = root / "snapshots" / f"{ids[4]}.toml"
    snapshot = read_toml(path)
    snapshot["name"] = "renamed-later"
    path.write_bytes(tomli_w.dumps(snapshot).encode())
    index.record(root, snapshot)  # what store.write_snapshot does after a write
    monkeypatch.setattr(index, "_parse", lambda path: pytest.fail(f"parsed {path}"))
    rows, problems = index.load_rows(root)
    assert problems == [] and rows[4]["name"] == "renamed-later"
    rows[4] = expected[4] = None
    assert plain(rows) == expected


def test_record_reads_no_row_of_the_folder(compacted, monkeypatch):
    """A snapshot write adds one row in one small transaction whatever the folder's size:
    it reads the measure names, not the rows."""
    root, _ids, _expected = compacted
    monkeypatch.setattr(index, "_read_index", lambda *a: pytest.fail("read every row"))
    extra = extra_snapshot(7)
    write_file(root, extra)
    index.record(root, extra)
    assert stored_files(root) == {f"{extra['id']}.toml"}


def test_a_row_recorded_while_a_reader_folds_the_block_is_kept(compacted, monkeypatch):
    """A writer that records between a reader's read and its fold: its loose row stays (the
    fold deletes only the loose rows it read) and is trusted next time."""
    root, ids, _expected = compacted
    extras = [extra_snapshot(n) for n in range(5)]
    for extra in extras[:4]:
        write_file(root, extra)
        index.record(root, extra)
    late = extras[4]
    real = index._compact

    def racing(*args):
        write_file(root, late)
        index.record(root, late)
        return real(*args)

    monkeypatch.setattr(index, "_compact", racing)
    rows, problems = index.load_rows(root, write_back=True)  # 4 loose rows: folded
    assert problems == [] and len(rows) == len(ids) + 4
    assert stored_files(root) == {f"{late['id']}.toml"}
    monkeypatch.setattr(index, "_parse", lambda path: pytest.fail(f"parsed {path}"))
    rows, problems = index.load_rows(root)
    assert problems == [] and len(rows) == len(ids) + 5


def test_the_block_follows_deleted_and_edited_files(compacted, monkeypatch):
    root, ids, expected = compacted
    for gone in ids[:4]:
        (root / "snapshots" / f"{gone}.toml").unlink()
    edited = root / "snapshots" / f"{ids[6]}.toml"
    edited.write_text(edited.read_text().replace('name = "', 'name = "Y', 1))
    rows, problems = index.load_rows(root, write_back=True)  # 4 unused + 1 parsed: folded
    assert problems == [] and [r["id"] for r in rows] == ids[4:]
    assert rows[2]["name"].startswith("Y")
    _width, body, _mac = block_of(root)
    assert marshal.loads(body)[0] == [f"{i}.toml" for i in ids[4:]]
    monkeypatch.setattr(index, "_parse", lambda path: pytest.fail(f"parsed {path}"))
    again, _ = index.load_rows(root)
    assert plain(again) == plain(rows)


@pytest.mark.parametrize(
    "damage",
    [
        lambda data: data[: len(data) // 2],  # torn: a crash mid-write
        lambda data: b"",
        lambda data: b"\n" + data,
        lambda data: data.replace(b" ", b"  ", 1),
        lambda data: data.replace(index._FORMAT.encode(), b"5/4/3.11", 1),  # another format
    ],
)
def test_a_damaged_block_file_is_not_trusted(compacted, damage, monkeypatch):
    root, ids, expected = compacted
    path = index.block_path(root)
    path.write_bytes(damage(path.read_bytes()))
    parsed = parsed_files(monkeypatch)
    rows, problems = index.load_rows(root, write_back=True)
    assert problems == [] and plain(rows) == expected and len(parsed) == len(ids)
    monkeypatch.undo()
    rows, problems = index.load_rows(root)  # the reading above folded them again
    assert problems == [] and plain(rows) == expected


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    head=st.lists(st.binary(max_size=12) | st.sampled_from([b"modelsnap-index-block"]), max_size=5),
    body=st.binary(max_size=300),
)
def test_any_block_file_content_gives_the_true_rows(tmp_path_factory, head, body):
    """Whatever the block file holds (the parser of a file the tool reads), a reader gets the
    snapshot files' true rows and never an exception."""
    root = tmp_path_factory.mktemp("b") / "p"
    ids = make_snapshots.write_folder(root, 3)
    index.block_path(root).write_bytes(b" ".join(head) + b"\n" + body)
    rows, problems = index.load_rows(root)
    assert problems == [] and [r["id"] for r in rows] == ids


def test_a_block_needing_names_a_reader_has_not_seen_is_not_trusted(compacted, monkeypatch):
    """A reader that read the names before a fold added some finds a block wider than its
    names: it parses instead of guessing what the extra values are."""
    root, ids, expected = compacted
    width, body, _mac = block_of(root)
    names = index._read_index(root).names
    key = index._key(create=False)
    wider = [*names, "made_up_measure"]
    mac = index._mac(key, index._base_signed(wider, width + 1, body))
    put_block(root, width + 1, body, mac)
    parsed = parsed_files(monkeypatch)
    rows, problems = index.load_rows(root)
    assert problems == [] and plain(rows) == expected and len(parsed) == len(ids)


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    bound=st.text(max_size=5)
    | st.binary(max_size=5)
    | st.floats(allow_nan=False)  # SQLite stores NaN as NULL, which the column refuses
    | st.integers(-(2**63), 2**63 - 1)
)
def test_any_binding_time_in_a_stored_row_gives_the_true_rows(tmp_path_factory, bound):
    """A row whose file still has its size, mtime, ctime and inode, but whose binding time was
    edited to any value SQLite can hold: never an exception, always the file's values."""
    root = tmp_path_factory.mktemp("k") / "p"
    ids = make_snapshots.write_folder(root, 3)
    with sqlite3.connect(index.index_path(root)) as connection:
        connection.execute(
            "UPDATE entries SET bound_ns = ? WHERE file = ?", (bound, f"{ids[1]}.toml")
        )
    for write_back in (False, True):
        rows, problems = index.load_rows(root, write_back=write_back)
        assert problems == [] and [r["id"] for r in rows] == ids
        snapshot = read_toml(root / "snapshots" / f"{ids[1]}.toml")
        assert plain([rows[1]]) == plain([index.summary_row(snapshot)])


@pytest.mark.parametrize("kind", ["fifo", "link to a device", "link to a real block", "directory"])
def test_a_block_that_is_not_a_regular_file_is_ignored_at_once(compacted, kind, tmp_path):
    """A stranger's folder can hold anything at .modelsnap/index.block: a FIFO (a read would
    wait forever), a link to /dev/zero (a read would never end), a link to a block signed
    elsewhere. None is read; the files are parsed instead."""
    root, ids, expected = compacted
    path = index.block_path(root)
    if kind == "link to a real block":
        elsewhere = tmp_path / "elsewhere.block"
        path.rename(elsewhere)
        path.symlink_to(elsewhere)
    else:
        path.unlink()
        if kind == "fifo":
            os.mkfifo(path)
        elif kind == "directory":
            path.mkdir()
        else:
            path.symlink_to("/dev/zero")
    outcome: list = []
    reader = threading.Thread(target=lambda: outcome.append(index.load_rows(root)), daemon=True)
    reader.start()
    reader.join(timeout=30)
    assert outcome, "the read hung"
    rows, problems = outcome[0]
    assert problems == [] and plain(rows) == expected


def test_a_block_far_larger_than_the_folder_needs_is_not_even_hashed(compacted, monkeypatch):
    """A block can hold at most BLOCK_BYTES_PER_FILE per snapshot file (plus 1 MiB): a larger
    file there (a stranger's folder could hold gigabytes) is left unread, and the files are
    parsed."""
    root, ids, expected = compacted
    monkeypatch.setattr(index, "BLOCK_BYTES_PER_FILE", 1)
    with index.block_path(root).open("ab") as handle:
        handle.write(b"\0" * ((1 << 20) + 1))  # now over 1 MiB + 1 byte per file
    monkeypatch.setattr(index, "_base_signed", lambda *a: pytest.fail("hashed the block"))
    parsed = parsed_files(monkeypatch)
    rows, problems = index.load_rows(root)
    assert problems == [] and plain(rows) == expected and len(parsed) == len(ids)


@given(
    values=st.lists(
        st.one_of(st.none(), st.floats(allow_nan=False), st.integers(-(2**53), 2**53)),
        min_size=0,
        max_size=8,
    ),
    rows=st.integers(1, 3),
    width=st.integers(0, 9),
)
def test_packed_measures_read_the_same_as_doubles_and_through_struct(values, rows, width):
    """A row's measures read through the shared view of doubles (little-endian machines) and
    through ``struct`` (elsewhere) give the same mapping: absent measures stay absent, a name
    past the block's width is absent, and every value comes back as the float written."""
    names = [f"m{i}" for i in range(len(values))] + ["later"]
    positions = {name: i for i, name in enumerate(names)}
    width = min(width, len(values))
    row = index._pack(dict(zip(names, values, strict=False)), names[:width])
    data = row * rows  # the same row at every position of a little matrix
    step = 8 * width
    for i in range(rows):
        viewed = index.PackedMeasures(data, positions, step * i, step * i + step)
        plain = index.PackedMeasures(data, positions, step * i, step * i + step)
        plain._words = None  # what a big-endian machine does
        expected = {
            name: float(value)
            for name, value in zip(names[:width], values, strict=False)
            if value is not None
        }
        for measures in (viewed, plain):
            assert dict(measures) == expected
            assert [measures.get(name) for name in names] == [expected.get(n) for n in names]
            assert all((name in measures) == (name in expected) for name in names)
            assert "later" not in measures and measures.get("later", "no") == "no"


@pytest.mark.skipif(sys.platform != "linux", reason="the child (core.beside) is Linux-only")
def test_files_parsed_beside_give_the_rows_one_process_gives(
    tmp_path: Path, fresh_interpreter
) -> None:
    """A folder without a trusted index (someone else's) is parsed in part by a forked child:
    the rows, the problems (in file order) and the index written back are those of one process
    alone, and the next read parses nothing. A fresh interpreter: xdist's workers run
    threads, which rule the child out."""
    answer = fresh_interpreter(
        """
        import shutil
        from modelsnap.core import beside
        from modelsnap.core.records import index

        root = Path(sys.argv[1])
        make_snapshots.write_folder(root, 50, with_index=False)
        folder = root / "snapshots"
        names = sorted(p.name for p in folder.glob("*.toml"))
        (folder / "20261101T090001-bad_toml-0000.toml").write_text("id = [\\n")
        (folder / "20261201T000000-wrong_id-0000.toml").write_text((folder / names[7]).read_text())
        index.PARSE_BESIDE_FROM = 1
        index.RACY_NS = 0
        rows, problems = index.load_rows(root, write_back=True)
        child_forks = len(forks)
        index.PARSE_BESIDE_FROM = 10**9  # what is parsed next is parsed here, and counted
        parsed = []
        parse = index._parse
        index._parse = lambda path: parsed.append(path.name) or parse(path)
        again, _ = index.load_rows(root, write_back=False)
        index._parse = parse
        beside.FORK_UNDER_BYTES = 0  # alone from here on
        shutil.rmtree(root / ".modelsnap")
        alone, alone_problems = index.load_rows(root, write_back=False)

        def plain(rows):
            return [{k: (dict(v) if k != "measures" else {s: dict(m) for s, m in v.items()})
                     if isinstance(v, dict) else v for k, v in row.items()} for row in rows]

        print(json.dumps({
            "forks": child_forks,
            "same": plain(rows) == plain(alone),
            "again_same": plain(again) == plain(alone),
            "count": len(rows),
            "problems": [[Path(p.path).name, p.message] for p in problems],
            "alone_problems": [[Path(p.path).name, p.message] for p in alone_problems],
            "parsed_again": parsed,
        }, default=str))
        """,
        str(tmp_path / "p"),
    )
    assert answer["forks"] == 1  # the parse (the listing forks from 10,000 files only)
    assert answer["same"] and answer["again_same"] and answer["count"] == 50
    assert answer["problems"] == answer["alone_problems"]
    assert [name for name, _ in answer["problems"]] == [
        "20261101T090001-bad_toml-0000.toml",
        "20261201T000000-wrong_id-0000.toml",
    ]
    assert answer["parsed_again"] == [name for name, _ in answer["problems"]]


@pytest.mark.skipif(sys.platform == "win32", reason="the helper (core.beside) is POSIX-only")
def test_files_parsed_in_a_thread_are_shared_with_a_started_interpreter(
    tmp_path: Path, monkeypatch
) -> None:
    """A thread may not fork (the TUI's ranking, a Jupyter kernel): from ``beside.SPAWN_FROM``
    files a started interpreter parses part of them, and the rows and problems are those of a
    read alone."""
    import threading

    from modelsnap.core import beside

    root = tmp_path / "p"
    make_snapshots.write_folder(root, 40, with_index=False)
    (root / "snapshots" / "20261101T090001-bad_toml-0000.toml").write_text("id = [\n")
    alone, alone_problems = index.load_rows(root, write_back=False)
    home = index.private_home(root)
    assert home is not None
    shutil.rmtree(home)  # the reader's own index of the folder: every file is parsed again
    monkeypatch.setattr(index, "PARSE_BESIDE_FROM", 1)
    monkeypatch.setattr(beside, "SPAWN_FROM", 10)
    parsed_here: list[str] = []
    parse = index._parse
    monkeypatch.setattr(index, "_parse", lambda path: parsed_here.append(path.name) or parse(path))
    out: dict = {}
    thread = threading.Thread(
        target=lambda: out.update(read=index.load_rows(root, write_back=False))
    )
    thread.start()
    thread.join(120)
    rows, problems = out["read"]

    def plain(rows):
        return [
            {**row, "measures": {s: dict(m) for s, m in row["measures"].items()}} for row in rows
        ]

    assert plain(rows) == plain(alone) and len(rows) == 40
    assert [(p.path, p.message) for p in problems] == [(p.path, p.message) for p in alone_problems]
    assert 0 < len(parsed_here) < 41  # the helper parsed the rest


# ---------------------------------------------------------------------------------------------
# The common start: every file its settled block row, taken whole (_all_settled)


@pytest.fixture
def settled(folder, monkeypatch):
    """A folder whose rows were folded into the block 3 s after the files were written."""
    root, ids = folder
    monkeypatch.setattr(index, "COMPACT_FROM", 4)
    later = index.time.time_ns() + index.RACY_NS + 1_000_000_000
    with monkeypatch.context() as patch:
        patch.setattr(index.time, "time_ns", lambda: later)
        index.load_rows(root, write_back=True)
    with sqlite3.connect(index.index_path(root)) as connection:
        assert connection.execute("SELECT count(*) FROM entries").fetchone() == (0,)
    assert index.block_path(root).is_file()
    return root, ids


def taking_all(monkeypatch) -> list[bool]:
    """What each ``_all_settled`` call answered."""
    answers: list[bool] = []
    real = index._all_settled
    monkeypatch.setattr(index, "_all_settled", lambda *a: answers.append(real(*a)) or answers[-1])
    return answers


def test_settled_block_rows_are_taken_whole_as_the_loop_takes_them(settled, monkeypatch):
    root, ids = settled
    answers = taking_all(monkeypatch)
    monkeypatch.setattr(index, "_content_sha256", no_hashing)
    monkeypatch.setattr(index, "_parse", lambda path: pytest.fail(f"parsed {path}"))
    before = tree_hash(root)
    rows, problems = index.load_rows(root, write_back=True)
    assert answers == [True] and problems == [] and [r["id"] for r in rows] == ids
    assert tree_hash(root) == before  # nothing to write back
    monkeypatch.setattr(index, "_all_settled", lambda *a: False)  # the loop, row by row
    one_by_one, _ = index.load_rows(root, write_back=True)
    assert plain(rows) == plain(one_by_one) and tree_hash(root) == before


def test_a_settled_start_never_makes_the_blocks_entries(settled, monkeypatch):
    """The block's per-file entries are made only when asked for (``_Index.stored``): a
    folder whose files are all the block's rows is read without them."""
    root, ids = settled
    found = index._read_index(root)
    assert found._block_entries is not None  # not made yet
    entries = found.stored
    assert sorted(entries) == [f"{i}.toml" for i in ids]
    assert [entry[6] for entry in entries.values()] == list(range(len(ids)))  # block rows
    assert found._block_entries is None and found.stored is entries
    made: list[bool] = []
    real = index._Index.stored.fget

    def watched(self):
        made.append(self._block_entries is not None)
        return real(self)

    monkeypatch.setattr(index._Index, "stored", property(watched))
    rows, problems = index.load_rows(root)
    assert problems == [] and [r["id"] for r in rows] == ids
    assert True not in made
    _recorded_again(root / "snapshots" / f"{ids[2]}.toml")  # the loop needs the entries
    rows, problems = index.load_rows(root)
    assert problems == [] and [r["id"] for r in rows] == ids and True in made


def _recorded_again(path: Path) -> None:
    """A loose row over the file's block row (what a writer leaves until the next fold)."""
    index.record(path.parent.parent, read_toml(path))


def _touch(path: Path) -> None:
    info = path.stat()
    os.utime(path, ns=(info.st_atime_ns, info.st_mtime_ns + 1_000_000))


@pytest.mark.parametrize(
    "change",
    [
        pytest.param(lambda p: p.write_text(p.read_text() + "\n"), id="edited"),
        pytest.param(_touch, id="mtime moved"),
        pytest.param(lambda p: p.chmod(0o600), id="ctime moved only"),
        pytest.param(lambda p: p.unlink(), id="deleted"),
        pytest.param(lambda p: p.rename(p.with_name("zz-" + p.name)), id="renamed"),
        pytest.param(lambda p: write_file(p.parent.parent, extra_snapshot(1)), id="a file added"),
        pytest.param(_recorded_again, id="a loose row over it"),
    ],
)
def test_any_change_sends_the_start_back_to_the_row_by_row_loop(settled, change, monkeypatch):
    root, ids = settled
    index.time.sleep(0.02)  # past the file system's clock tick
    change(root / "snapshots" / f"{ids[5]}.toml")
    answers = taking_all(monkeypatch)
    rows, problems = index.load_rows(root)
    assert answers == [False]
    monkeypatch.setattr(index, "_all_settled", lambda *a: False)
    again, problems_again = index.load_rows(root)
    assert plain(rows) == plain(again) and problems == problems_again


def test_a_block_bound_right_after_the_writes_is_not_taken_whole(compacted, monkeypatch):
    root, ids, expected = compacted  # bound within RACY_NS of the files' last change
    answers = taking_all(monkeypatch)
    rows, _ = index.load_rows(root)
    assert answers == [False] and plain(rows) == expected


def mapping_module(seen):
    """A stand-in for the ``mmap`` module whose mappings call ``seen()`` first."""
    import mmap as real

    class Mapping(real.mmap):
        def __new__(cls, *args, **kwargs):
            seen()
            return super().__new__(cls, *args, **kwargs)

    return type("MappingModule", (), {"mmap": Mapping, "ACCESS_READ": real.ACCESS_READ})


def test_a_new_block_is_its_users_alone(compacted):
    root, _ids, _expected = compacted
    assert stat.S_IMODE(index.block_path(root).stat().st_mode) == 0o600


@pytest.mark.parametrize(
    "share",
    [
        pytest.param(lambda path: path.chmod(0o620), id="group-writable"),
        pytest.param(lambda path: path.chmod(0o602), id="writable by others"),
        pytest.param(
            lambda path: (
                os.chown(path, 65534, -1)
                if os.geteuid() == 0
                else pytest.skip("only root can give a file away")
            ),
            id="another user's",
        ),
    ],
)
def test_a_block_others_may_write_is_read_as_a_copy_never_mapped(compacted, share, monkeypatch):
    """A mapping shows each byte as it is when read: a block another user may write in place
    could change between its MAC's check and its loading. Such a block is read into memory
    first, and its rows are still used."""
    root, ids, expected = compacted
    share(index.block_path(root))
    monkeypatch.setattr(index, "mmap", mapping_module(lambda: pytest.fail("mapped")))
    monkeypatch.setattr(index, "_parse", lambda path: pytest.fail(f"parsed {path}"))
    monkeypatch.setattr(index, "_decode_row", no_loose_rows)
    rows, problems = index.load_rows(root)
    assert problems == [] and plain(rows) == expected


def test_this_users_own_block_is_mapped(compacted, monkeypatch):
    root, _ids, expected = compacted
    mapped: list[int] = []
    monkeypatch.setattr(index, "mmap", mapping_module(lambda: mapped.append(1)))
    rows, _ = index.load_rows(root)
    assert mapped == [1] and plain(rows) == expected


# A narrow read (``load_rows(narrow=True)``: what ``rank`` reads) gives each row's
# RANKING_FIELDS and measures; the index block keeps the other fields apart, so such a read
# does not decode them. It checks the same files and writes back the same, whole rows.


def narrowed(rows: list) -> list:
    """Whole rows as a narrow read gives them (plain values)."""
    keep = (*index.RANKING_FIELDS, "measures")
    return [{k: v for k, v in row.items() if k in keep} for row in plain(rows)]


def test_the_ranking_fields_hold_every_field_a_ranking_reads(folder):
    """``as_row`` reduces a whole snapshot to the fields the ranking reads: a narrow row has
    each of them (a ranking of narrow rows is checked equal to one of whole rows in
    tests/core/test_context.py)."""
    from modelsnap.core.selection.ranking import as_row

    root, ids = folder
    snapshot = read_toml(root / "snapshots" / f"{ids[0]}.toml")
    assert set(as_row(snapshot)) <= {*index.RANKING_FIELDS, "measures"}


def test_a_narrow_read_gives_the_ranking_fields_of_every_row(compacted, monkeypatch):
    root, ids, expected = compacted
    extra = extra_snapshot(3)  # a loose row over the block
    write_file(root, extra)
    index.record(root, extra)
    edited = root / "snapshots" / f"{ids[6]}.toml"  # parsed again
    edited.write_text(edited.read_text().replace('name = "', 'name = "Y', 1))
    whole, problems = index.load_rows(root)
    assert problems == [] and len(whole) == len(ids) + 1
    rows, problems = index.load_rows(root, narrow=True)
    assert problems == []
    assert plain(rows) == narrowed(whole)
    assert [list(row) for row in rows] == [[*index.RANKING_FIELDS, "measures"]] * len(rows)
    # settled rows (every file its block row: the common start) come narrow from the block
    later = index.time.time_ns() + index.RACY_NS + 1_000_000_000
    monkeypatch.setattr(index, "COMPACT_FROM", 1)
    monkeypatch.setattr(index.time, "time_ns", lambda: later)
    index.load_rows(root, write_back=True)
    monkeypatch.undo()
    monkeypatch.setattr(index, "_parse", lambda path: pytest.fail(f"parsed {path}"))
    monkeypatch.setattr(index, "_content_sha256", no_hashing)
    rows, _ = index.load_rows(root, narrow=True)
    assert plain(rows) == narrowed(index.load_rows(root)[0])
    assert index._read_index(root, narrow=True).base_rest is None  # not decoded


@pytest.mark.parametrize("fold", [True, False])
def test_a_narrow_read_stores_whole_rows_when_it_binds_them_again(compacted, monkeypatch, fold):
    """Block rows whose files were touched (same bytes, new ctime) are bound again by a writing
    read, whole though the read is narrow: folded into a new block when that is due, else
    stored as loose rows."""
    root, ids, expected = compacted
    monkeypatch.setattr(index, "COMPACT_FROM", 4 if fold else 10**6)
    for name in ids:
        path = root / "snapshots" / f"{name}.toml"
        os.utime(path, ns=(path.stat().st_atime_ns, path.stat().st_mtime_ns))  # moves ctime
    later = index.time.time_ns() + index.RACY_NS + 1_000_000_000
    monkeypatch.setattr(index.time, "time_ns", lambda: later)
    rows, problems = index.load_rows(root, write_back=True, narrow=True)
    assert problems == [] and plain(rows) == narrowed(expected)
    assert stored_files(root) == (set() if fold else {f"{name}.toml" for name in ids})
    monkeypatch.setattr(index, "_parse", lambda path: pytest.fail(f"parsed {path}"))
    monkeypatch.setattr(index, "_content_sha256", no_hashing)  # bound: trusted on their stat
    assert plain(index.load_rows(root)[0]) == expected


def test_a_narrow_read_folds_whole_rows_into_the_block(compacted, monkeypatch):
    root, ids, expected = compacted
    extras = [extra_snapshot(n) for n in range(4)]
    for extra in extras:
        write_file(root, extra)
        index.record(root, extra)
    rows, problems = index.load_rows(root, write_back=True, narrow=True)  # 4 loose: folded
    assert problems == [] and len(rows) == len(ids) + 4
    assert stored_files(root) == set()  # every row in the block now
    monkeypatch.setattr(index, "_parse", lambda path: pytest.fail(f"parsed {path}"))
    whole, problems = index.load_rows(root)
    assert problems == [] and plain(whole)[: len(ids)] == expected
    assert plain(rows) == narrowed(whole)


def test_a_narrow_read_folds_nothing_when_the_block_changed_since(compacted, monkeypatch):
    """The block's other fields are read again for a fold: from the very block the narrow read
    verified (its MAC), else there is no fold (the rows stay loose; nothing is lost)."""
    root, ids, expected = compacted
    for extra in (extra_snapshot(n) for n in range(4)):
        write_file(root, extra)
        index.record(root, extra)
    real = index._read_index

    def block_replaced(*args, **kwargs):
        found = real(*args, **kwargs)
        if not kwargs.get("narrow"):
            found.block_mac = "another block"
        return found

    monkeypatch.setattr(index, "_read_index", block_replaced)
    rows, problems = index.load_rows(root, write_back=True, narrow=True)
    assert problems == [] and len(rows) == len(ids) + 4
    assert len(stored_files(root)) == 4  # not folded
    monkeypatch.undo()
    whole, _ = index.load_rows(root)
    assert plain(whole)[: len(ids)] == expected


def old_layout(root: Path) -> None:
    """The block rewritten as modelsnap wrote it before the split: whole rows, no tail."""
    width, body, _mac = block_of(root)
    parts = list(marshal.loads(body))
    rest = marshal.loads(body[len(body) - parts[10] :])
    parts[7] = [keys + more for keys, more in zip(parts[7], rest, strict=True)]
    signed_block(root, parts[:10], width)


def test_a_block_of_the_old_layout_is_read_and_rewritten_by_a_writing_read(compacted, monkeypatch):
    """Its rows are trusted as before (the folder is not parsed again after an upgrade), and
    the first writing read rewrites it, even one that finds every row settled."""
    root, ids, expected = compacted
    later = index.time.time_ns() + index.RACY_NS + 1_000_000_000
    monkeypatch.setattr(index.time, "time_ns", lambda: later)
    index.load_rows(root, write_back=True)  # every row bound again, settled, and folded
    old_layout(root)
    monkeypatch.setattr(index, "_parse", lambda path: pytest.fail(f"parsed {path}"))
    monkeypatch.setattr(index, "_content_sha256", no_hashing)
    assert index._read_index(root).old_layout
    assert plain(index.load_rows(root)[0]) == expected
    assert plain(index.load_rows(root, narrow=True)[0]) == narrowed(expected)
    assert len(marshal.loads(block_of(root)[1])) == 10  # a read that writes nothing
    rows, _ = index.load_rows(root, write_back=True, narrow=True)
    assert plain(rows) == narrowed(expected)
    _width, body, _mac = block_of(root)
    assert len(marshal.loads(body)) == 11 and not index._read_index(root).old_layout
    assert plain(index.load_rows(root)[0]) == expected


def test_a_block_of_the_old_layout_in_a_folder_that_cannot_be_written_is_read_as_it_is(
    compacted, monkeypatch
):
    """No rewrite is tried there (it would fail on every read): settled rows come from it at
    once, hashing and parsing nothing."""
    root, ids, expected = compacted
    later = index.time.time_ns() + index.RACY_NS + 1_000_000_000
    monkeypatch.setattr(index.time, "time_ns", lambda: later)
    index.load_rows(root, write_back=True)  # every row bound again, settled, and folded
    old_layout(root)
    monkeypatch.setattr(index, "folder_writable", lambda path: False)
    monkeypatch.setattr(index, "_compact", lambda *args: pytest.fail("a rewrite was tried"))
    monkeypatch.setattr(index, "_parse", lambda path: pytest.fail(f"parsed {path}"))
    monkeypatch.setattr(index, "_content_sha256", no_hashing)
    for narrow in (False, True):
        rows, problems = index.load_rows(root, write_back=True, narrow=narrow)
        assert problems == [] and plain(rows) == (narrowed(expected) if narrow else expected)
    assert index._read_index(root).old_layout


@pytest.mark.parametrize(
    "damage",
    [
        lambda rest: rest.__setitem__(1, rest[1][:-1]),  # a row's other fields one value short
        lambda rest: rest.__setitem__(1, rest[1][:5] + ("not a table",) + rest[1][6:]),
        lambda rest: rest.pop(),  # one row's other fields missing
    ],
)
def test_a_signed_block_whose_other_fields_readers_cannot_use_is_not_trusted(
    compacted, monkeypatch, damage
):
    """A whole read checks the other fields as both check the ranking fields; a narrow read,
    which does not decode them, trusts the block's ranking fields still."""
    root, ids, expected = compacted
    width, body, _mac = block_of(root)
    parts = list(marshal.loads(body))
    rest = marshal.loads(body[len(body) - parts[10] :])
    damage(rest)
    tail = marshal.dumps(rest)
    names = index._read_index(root).names
    body = marshal.dumps((*parts[:10], len(tail))) + tail
    key = index._key(create=False)
    put_block(root, width, body, index._mac(key, index._base_signed(names, width, body)))
    parsed = parsed_files(monkeypatch)
    rows, problems = index.load_rows(root)
    assert problems == [] and plain(rows) == expected and len(parsed) == len(ids)
    parsed.clear()
    rows, problems = index.load_rows(root, narrow=True)
    assert problems == [] and plain(rows) == narrowed(expected) and parsed == []
