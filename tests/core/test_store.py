"""The snapshot store: ids, schema, write order, concurrency, tolerant listing, prefix lookup."""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
import textwrap
import tomllib
from datetime import UTC, datetime
from pathlib import Path

import pytest
import tomli_w
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from modelsnap.core.errors import IntegrityError, PathError, SnapshotError
from modelsnap.core.files import sha256_file
from modelsnap.core.records import schema, store


def _write(root: Path, make_body, make_staged, **overrides) -> str:
    return store.write_snapshot(root, make_body(**overrides), staged_files=make_staged(root))


# --------------------------------------------------------------------------- ids


def test_id_format_sorts_by_time_and_slugs_the_name() -> None:
    first = store.new_snapshot_id(
        "Random Forest (v2)!", now=datetime(2026, 11, 26, 6, 15, 2, tzinfo=UTC)
    )
    assert first.startswith("20261126T061502-random_forest_v2-")
    assert len(first.rsplit("-", 1)[1]) == 4
    later = store.new_snapshot_id("a", now=datetime(2026, 11, 26, 6, 15, 3, tzinfo=UTC))
    assert later > first
    assert store.slug("../..") == "model"
    assert store.slug("x" * 100) == "x" * 40


# --------------------------------------------------------------------------- write + read


def test_write_links_files_in_writes_toml_and_reads_back(
    tmp_path: Path, make_body, make_staged
) -> None:
    staged = make_staged(tmp_path, b"the fitted pipeline")
    body = make_body()
    snapshot_id = store.write_snapshot(tmp_path, body, staged_files=staged)

    artifact = tmp_path / "models" / f"{snapshot_id}.skops"
    predictions = tmp_path / "predictions" / f"{snapshot_id}.npz"
    assert artifact.read_bytes() == b"the fitted pipeline"
    assert not staged["artifact"].exists() and not staged["predictions"].exists()
    snapshot = store.read_snapshot(tmp_path, snapshot_id)
    assert snapshot["id"] == snapshot_id
    assert snapshot["model"]["artifact"] == f"models/{snapshot_id}.skops"
    assert snapshot["model"]["artifact_sha256"] == sha256_file(artifact)
    assert snapshot["model"]["size_bytes"] == len(b"the fitted pipeline")
    assert snapshot["predictions"] == {
        "path": f"predictions/{snapshot_id}.npz",
        "sha256": sha256_file(predictions),
    }
    assert snapshot["metrics"] == body["metrics"]
    assert "id" not in body, "the caller's dict is not modified"


def test_none_values_are_dropped_not_written(tmp_path: Path, make_body, make_staged) -> None:
    body = make_body(reprofile_of=None)
    body["hardware"]["gpu"] = None
    snapshot = store.read_snapshot(
        tmp_path, store.write_snapshot(tmp_path, body, staged_files=make_staged(tmp_path))
    )
    assert "reprofile_of" not in snapshot and "gpu" not in snapshot["hardware"]


def test_invalid_snapshot_is_refused_and_nothing_is_written(
    tmp_path: Path, make_body, make_staged
) -> None:
    staged = make_staged(tmp_path)
    body = make_body(kind="champion")
    del body["metrics"]["test"]
    with pytest.raises(SnapshotError) as info:
        store.write_snapshot(tmp_path, body, staged_files=staged)
    text = str(info.value)
    assert "kind: found 'champion', expected one of baseline, candidate" in text
    assert "metrics.test: missing table" in text
    assert not (tmp_path / "snapshots").exists() or not list((tmp_path / "snapshots").iterdir())
    assert not (tmp_path / "models").exists()
    assert staged["artifact"].exists(), "staged files stay for the caller to clean up"


def test_staged_file_changed_after_hashing_is_refused(
    tmp_path: Path, make_body, make_staged
) -> None:
    body = make_body()
    body["model"]["artifact_sha256"] = "0" * 64
    with pytest.raises(IntegrityError, match="staged artifact changed"):
        store.write_snapshot(tmp_path, body, staged_files=make_staged(tmp_path))
    assert not (tmp_path / "snapshots").exists()


def test_unknown_staged_kind_and_missing_staged_file(tmp_path: Path, make_body) -> None:
    with pytest.raises(SnapshotError, match="unknown staged file kind"):
        store.write_snapshot(tmp_path, make_body(), staged_files={"weights": tmp_path / "w"})
    with pytest.raises(SnapshotError, match="staged artifact file not found"):
        store.write_snapshot(tmp_path, make_body(), staged_files={"artifact": tmp_path / "nope"})


def test_a_clash_draws_a_new_id_and_the_files_follow_it(
    tmp_path: Path, make_body, make_staged
) -> None:
    first = _write(tmp_path, make_body, make_staged)
    original = (tmp_path / "snapshots" / f"{first}.toml").read_bytes()
    second = store.write_snapshot(
        tmp_path, make_body(id=first), staged_files=make_staged(tmp_path, b"other")
    )
    assert second != first
    assert (tmp_path / "snapshots" / f"{first}.toml").read_bytes() == original, "never overwritten"
    snapshot = store.read_snapshot(tmp_path, second)
    assert (tmp_path / snapshot["model"]["artifact"]).read_bytes() == b"other"
    assert (tmp_path / "models" / f"{first}.skops").read_bytes() == b"model bytes"
    assert store.orphan_files(tmp_path) == []


def test_write_records_the_row_in_the_index(tmp_path: Path, make_body, make_staged) -> None:
    pytest.importorskip("modelsnap.core.records.index")
    snapshot_id = _write(tmp_path, make_body, make_staged)
    from modelsnap.core.records import index

    assert index._read_entries(tmp_path)[f"{snapshot_id}.toml"]["row"]["id"] == snapshot_id


_WRITER = textwrap.dedent("""
    import os, random, sys
    from pathlib import Path
    from modelsnap.core.records import store
    root, tag, count = Path(sys.argv[1]), sys.argv[2], int(sys.argv[3])
    # One frozen second and 128 suffixes for 2 x count ids: clashes are all but certain, so the
    # retry path runs; every draw is counted on stdout.
    draws = 0
    def frozen_id(name):
        global draws
        draws += 1
        return f"20261126T000000-{{store.slug(name)}}-{{random.randrange(128):04x}}"
    store.new_snapshot_id = frozen_id
    body = {body!r}
    for i in range(count):
        # named as the worker names its staging (.tmp-<pid>-...): the other writer's first
        # write sweeps staging entries whose process is gone, and a name without a live pid
        # reads as one (it did: a CI run failed when p1 swept p2's folder before p2 linked it)
        stage = root / ".modelsnap" / "tmp" / f".tmp-{{os.getpid()}}-{{tag}}-{{i}}"
        stage.mkdir(parents=True)
        (stage / "a").write_bytes(f"{{tag}}-{{i}}".encode())
        (stage / "p").write_bytes(f"p-{{tag}}-{{i}}".encode())
        store.write_snapshot(root, dict(body, notes=f"{{tag}}-{{i}}"),
                             staged_files={{"artifact": stage / "a", "predictions": stage / "p"}})
    print(draws)
""")


def test_two_processes_writing_at_once_get_unique_ids(tmp_path: Path, make_body) -> None:
    script = _WRITER.format(body=make_body())
    count = 25
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", script, str(tmp_path), tag, str(count)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for tag in ("p1", "p2")
    ]
    draws = 0
    for proc in procs:
        out, err = proc.communicate(timeout=120)
        assert proc.returncode == 0, err
        draws += int(out)
    assert draws > 2 * count, "no clash happened: the retry path was not exercised"
    snapshots, problems = store.list_snapshots(tmp_path)
    assert problems == []
    assert len(snapshots) == 2 * count
    assert len({s["id"] for s in snapshots}) == 2 * count
    assert sorted(s["notes"] for s in snapshots) == sorted(
        f"{tag}-{i}" for tag in ("p1", "p2") for i in range(count)
    )
    for snapshot in snapshots:  # each snapshot's files are its own, byte for byte
        assert (tmp_path / snapshot["model"]["artifact"]).read_bytes() == snapshot["notes"].encode()
        assert (
            sha256_file(tmp_path / snapshot["predictions"]["path"])
            == snapshot["predictions"]["sha256"]
        )
    assert store.orphan_files(tmp_path) == []


# --------------------------------------------------------------------------- list, find, orphans


def test_list_tolerates_broken_files_and_ignores_temp_files(
    tmp_path: Path, make_body, make_staged
) -> None:
    good = _write(tmp_path, make_body, make_staged)
    folder = tmp_path / "snapshots"
    (folder / "20261126T000000-bad_toml-0000.toml").write_text("schema = 1\nid = [\n")
    (folder / "20261126T000000-binary-0000.toml").write_bytes(b"\xff\xfe\x00\x01")
    (folder / "20261126T000000-old_schema-0000.toml").write_text("schema = 0\n")
    renamed = tomllib.loads((folder / f"{good}.toml").read_text())
    (folder / "20261126T000000-renamed-0000.toml").write_text(tomli_w.dumps(renamed))
    (folder / ".tmp-123-abc").write_text("half written")
    (folder / ".hidden.toml").write_text("junk")
    (folder / "README.txt").write_text("not a snapshot")

    snapshots, problems = store.list_snapshots(tmp_path)
    assert [s["id"] for s in snapshots] == [good]
    messages = {p.path.name: p.message for p in problems}
    assert set(messages) == {
        "20261126T000000-bad_toml-0000.toml",
        "20261126T000000-binary-0000.toml",
        "20261126T000000-old_schema-0000.toml",
        "20261126T000000-renamed-0000.toml",
    }
    assert "not valid TOML" in messages["20261126T000000-bad_toml-0000.toml"]
    assert "not UTF-8" in messages["20261126T000000-binary-0000.toml"]
    assert "expected 1" in messages["20261126T000000-old_schema-0000.toml"]
    assert "does not match the file name" in messages["20261126T000000-renamed-0000.toml"]
    assert str(problems[0]).startswith(str(folder))


def test_a_snapshot_reader_parses_again_only_what_may_have_changed(
    tmp_path: Path, make_body, make_staged, monkeypatch
) -> None:
    """The TUI's reader: a second read parses no settled file; a file rewritten in place (even
    with its size and mtime put back), added, broken, deleted or swapped for a link is seen
    exactly as a fresh read sees it; a file parsed within the racy window is parsed again."""
    from modelsnap.core.records import index

    first = _write(tmp_path, make_body, make_staged)
    second = _write(tmp_path, make_body, make_staged, name="forest")
    folder = tmp_path / "snapshots"
    parsed: list[str] = []
    real = store._load
    monkeypatch.setattr(
        store, "_load", lambda path, memo=None: parsed.append(path.stem) or real(path, memo)
    )

    def read(reader: store.SnapshotReader) -> tuple[list[str], list[str]]:
        """The ids the reader returns and the files it parsed to do so."""
        parsed.clear()
        snapshots, problems = reader.read(tmp_path)
        parsed_now = list(parsed)
        fresh = store.SnapshotReader().read(tmp_path)  # what a fresh read says
        assert (snapshots, [str(p) for p in problems]) == (fresh[0], [str(p) for p in fresh[1]])
        return [s["id"] for s in snapshots], parsed_now

    both = sorted([first, second])
    reader = store.SnapshotReader()
    # just written: within the racy window, so the next read parses them again
    assert read(reader) == (both, both)
    assert read(reader) == (both, both)
    monkeypatch.setattr(index, "RACY_NS", 0)  # as if two seconds had passed
    read(reader)
    assert read(reader) == (both, [])

    # rewritten in place with the same size, its mtime put back: the ctime moved
    path = folder / f"{second}.toml"
    info = path.stat()
    path.write_text(path.read_text().replace('name = "forest"', 'name = "forezt"'))
    os.utime(path, ns=(info.st_atime_ns, info.st_mtime_ns))
    assert path.stat().st_size == info.st_size
    assert read(reader) == (both, [second])
    assert {s["name"] for s in reader.read(tmp_path)[0]} == {"random_forest", "forezt"}

    # a broken file, a new one and a deleted one; a problem is never remembered
    bad = "20261126T000000-bad_toml-0000"
    (folder / f"{bad}.toml").write_text("schema = 1\nid = [\n")
    third = _write(tmp_path, make_body, make_staged, name="third")
    path.unlink()
    assert read(reader) == (sorted([first, third]), [bad, third])
    assert read(reader) == (sorted([first, third]), [bad])

    # a file swapped for a link: judged as a fresh read judges it, and never remembered
    target = tmp_path / "elsewhere.toml"
    target.write_text((folder / f"{first}.toml").read_text())
    (folder / f"{first}.toml").unlink()
    (folder / f"{first}.toml").symlink_to(target)
    assert read(reader)[1] == [bad, first]
    assert read(reader)[1] == [bad, first]


def test_a_snapshot_reader_reports_how_far_it_has_read(
    tmp_path: Path, make_body, make_staged, monkeypatch
) -> None:
    """``progress(done, total)`` counts up over the files (a broken one included) and ends at
    the total; the throttle is its only limit (0 here: every file)."""
    for name in ("forest", "tree", "boost"):
        _write(tmp_path, make_body, make_staged, name=name)
    (tmp_path / "snapshots" / "20261126T000000-bad_toml-0000.toml").write_text("id = [\n")
    monkeypatch.setattr(store, "PROGRESS_SECONDS", 0.0)
    heard: list[tuple[int, int]] = []
    snapshots, problems = store.SnapshotReader().read(tmp_path, lambda *p: heard.append(p))
    assert len(snapshots) == 3 and len(problems) == 1
    assert heard == [(0, 4), (1, 4), (2, 4), (3, 4), (4, 4)]
    monkeypatch.setattr(store, "PROGRESS_SECONDS", 3600.0)
    heard.clear()
    store.SnapshotReader().read(tmp_path, lambda *p: heard.append(p))
    assert heard == [(4, 4)]  # throttled: only the end


def test_a_reader_keeps_each_string_of_its_files_once(
    tmp_path: Path, make_body, make_staged
) -> None:
    """Snapshots read together share their equal strings (keys, hashes, versions): each is
    kept once. What they hold is what each file says, and no dict or list is shared."""
    for name in ("forest", "tree", "forest"):
        _write(tmp_path, make_body, make_staged, name=name)
    snapshots, problems = store.list_snapshots(tmp_path)
    assert len(snapshots) == 3 and not problems
    for snapshot in snapshots:
        path = tmp_path / "snapshots" / f"{snapshot['id']}.toml"
        assert snapshot == tomllib.loads(path.read_text(encoding="utf-8"))
    first, second = (s for s in snapshots if s["name"] == "forest")
    other = next(s for s in snapshots if s["name"] == "tree")
    assert first["name"] is second["name"]
    assert first["data"]["dataset_sha256"] is other["data"]["dataset_sha256"]
    assert next(iter(first["metrics"])) is next(iter(other["metrics"]))  # a key
    assert first["data"] is not second["data"]
    alone = store.read_snapshot(tmp_path, first["id"])  # one file: nothing to share
    assert alone == first


def test_list_of_a_folder_without_snapshots_is_empty(tmp_path: Path) -> None:
    assert store.list_snapshots(tmp_path) == ([], [])


def test_read_refuses_ids_that_leave_the_folder_and_names_missing_ones(tmp_path: Path) -> None:
    for bad in ("../modelsnap", "a/b", ".hidden", ""):
        with pytest.raises(PathError):
            store.read_snapshot(tmp_path, bad)
    with pytest.raises(SnapshotError, match="no snapshot '20261126T000000-x-0000'"):
        store.read_snapshot(tmp_path, "20261126T000000-x-0000")


def test_find_snapshot_by_unique_prefix(tmp_path: Path, make_body, make_staged) -> None:
    a = _write(tmp_path, make_body, make_staged, name="alpha")
    b = _write(tmp_path, make_body, make_staged, name="alphabet")
    assert store.find_snapshot(tmp_path, a) == a
    assert store.find_snapshot(tmp_path, b[:-2]) == b
    prefix = os.path.commonprefix([a, b])
    with pytest.raises(SnapshotError, match="matches 2 snapshots"):
        store.find_snapshot(tmp_path, prefix)
    with pytest.raises(SnapshotError, match="no snapshot id starts with 'zzz'"):
        store.find_snapshot(tmp_path, "zzz")
    with pytest.raises(PathError):
        store.find_snapshot(tmp_path, "../x")


def test_find_snapshot_by_the_name_hex_form_shown_in_tables(
    tmp_path: Path, make_body, make_staged
) -> None:
    forest = _write(tmp_path, make_body, make_staged, name="random_forest")
    other = _write(tmp_path, make_body, make_staged, name="random_forest")
    tree = _write(tmp_path, make_body, make_staged, name="tree")
    short = store.short_id(forest)
    assert short == forest.split("-", 1)[1] and short.startswith("random_forest-")
    assert store.find_snapshot(tmp_path, short) == forest
    assert store.find_snapshot(tmp_path, forest[-4:]) == forest or forest[-4:] == other[-4:]
    assert store.find_snapshot(tmp_path, "tree") == tree  # a prefix of the short form
    with pytest.raises(SnapshotError, match="'random_forest' matches 2 snapshots") as info:
        store.find_snapshot(tmp_path, "random_forest")
    assert forest in str(info.value) and other in str(info.value)
    assert "<name>-<hex>" in str(info.value)
    with pytest.raises(SnapshotError, match="no snapshot id starts with 'forest-"):
        store.find_snapshot(tmp_path, "forest-" + forest[-4:])  # not a whole name
    assert store.short_id("not-a-timestamp") == "not-a-timestamp"


def test_orphans_are_files_without_a_snapshot(tmp_path: Path, make_body, make_staged) -> None:
    _write(tmp_path, make_body, make_staged)
    (tmp_path / "models" / "20261126T000000-ghost-0000.skops").write_bytes(b"x")
    (tmp_path / "predictions" / "20261126T000000-ghost-0000.npz").write_bytes(b"x")
    assert [p.name for p in store.orphan_files(tmp_path)] == [
        "20261126T000000-ghost-0000.skops",
        "20261126T000000-ghost-0000.npz",
    ]


# --------------------------------------------------------------------------- schema


def test_validate_names_every_bad_key(make_body) -> None:
    body = make_body(criteria_revision=0, created_at="yesterday")
    body["id"] = "20261126T061502-random_forest-3f9a"
    body["model"]["artifact"] = "models/x.skops"
    body["model"]["artifact_sha256"] = "not a hash"
    body["model"]["size_bytes"] = -1
    body["predictions"] = {"path": "predictions/x.npz", "sha256": "c" * 64}
    body["metrics"]["validation"]["f1"] = "high"
    body["metrics"]["test_ci"]["f1"] = [0.1]
    body["hardware"] = "fast"
    problems = schema.validate_snapshot(body, "s.toml")
    assert problems == [
        "s.toml: created_at: found 'yesterday', expected an ISO 8601 timestamp",
        "s.toml: criteria_revision: a candidate must be judged under a locked revision (>= 1)",
        "s.toml: model.artifact_sha256: found 'not a hash', expected sha256",
        "s.toml: model.size_bytes: found -1, expected count",
        "s.toml: metrics.validation.f1: found string, expected a number",
        "s.toml: metrics.test_ci.f1: expected [low, high] numbers",
        "s.toml: hardware: found string, expected a table",
    ]


@pytest.mark.parametrize(
    ("kind", "good", "bad"),
    [
        ("string", "a", 1),
        ("integer", -3, True),
        ("count", 0, -1),
        ("number", 1.5, False),
        ("boolean", False, 0),
        ("table", {}, []),
        ("array", [], {}),
        ("sha256", "a" * 64, "A" * 64),
    ],
)
def test_each_kind_of_value_accepts_its_own_and_names_the_rest(kind, good, bad) -> None:
    checker = schema._Checker()
    assert checker.value({"k": good}, "p", "k", kind) == good and not checker.problems
    assert checker.value({"k": bad}, "p", "k", kind) is None
    assert checker.value({}, "", "k", kind) is None
    assert checker.value({}, "", "gone", kind, required=False) is None
    assert checker.problems[0].startswith("p.k: found ") and checker.problems[0].endswith(kind)
    assert checker.problems[1:] == [f"k: missing (expected {kind})"]


def test_baseline_may_be_recorded_before_the_lock(make_body) -> None:
    body = make_body(kind="baseline", criteria_revision=0, id="20261126T061502-logistic-3f9a")
    body["model"].update(artifact="models/x.skops", artifact_sha256="c" * 64, size_bytes=1)
    body["predictions"] = {"path": "predictions/x.npz", "sha256": "c" * 64}
    assert schema.validate_snapshot(body) == []


_toml_scalars = st.one_of(
    st.booleans(),
    st.integers(-(2**63), 2**63 - 1),
    st.floats(allow_nan=True),
    st.text(max_size=20),
)
_toml_values = st.recursive(
    _toml_scalars,
    lambda children: st.one_of(
        st.lists(children, max_size=4),
        st.dictionaries(st.text(min_size=1, max_size=10), children, max_size=4),
    ),
    max_leaves=20,
)
_keys = st.sampled_from(
    [
        "schema",
        "id",
        "name",
        "kind",
        "version",
        "created_at",
        "criteria_revision",
        "notes",
        "model",
        "data",
        "metrics",
        "predictions",
        "resources",
        "constraints",
        "environment",
        "hardware",
        "gain",
        "x",
    ]
)
_documents = st.dictionaries(_keys, _toml_values, max_size=12)

_NAME = "20261126T061502-fuzz-0000"


def _place(root: Path, raw: bytes) -> None:
    folder = root / "snapshots"
    folder.mkdir(parents=True, exist_ok=True)
    (folder / f"{_NAME}.toml").write_bytes(raw)


def _assert_tolerated(root: Path) -> None:
    with contextlib.suppress(SnapshotError):
        store.read_snapshot(root, _NAME)
    snapshots, problems = store.list_snapshots(root)
    assert len(snapshots) + len(problems) == 1


@settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(raw=st.binary(max_size=300))
def test_arbitrary_bytes_never_raise_anything_but_snapshot_error(
    tmp_path: Path, raw: bytes
) -> None:
    _place(tmp_path, raw)
    _assert_tolerated(tmp_path)


@settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(document=_documents, schema_one=st.booleans())
def test_arbitrary_toml_documents_are_problems_not_crashes(
    tmp_path: Path, document: dict, schema_one: bool
) -> None:
    if schema_one:
        document = dict(document, schema=1, id=_NAME)
    _place(tmp_path, tomli_w.dumps(document).encode())
    _assert_tolerated(tmp_path)
    assert isinstance(schema.validate_snapshot(document), list)


@settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    table=st.sampled_from(
        [
            "model",
            "data",
            "metrics",
            "resources",
            "environment",
            "hardware",
            "predictions",
            "constraints",
        ]
    ),
    key=st.text(min_size=1, max_size=12),
    value=_toml_values,
)
def test_a_valid_snapshot_with_one_value_replaced_is_judged_not_crashed(
    make_body, table: str, key: str, value
) -> None:
    body = make_body(id=_NAME)
    body["model"].update(artifact="models/x.skops", artifact_sha256="c" * 64, size_bytes=1)
    body["predictions"] = {"path": "predictions/x.npz", "sha256": "c" * 64}
    body[table] = dict(body.get(table, {}), **{key: value})
    assert isinstance(schema.validate_snapshot(body), list)
    body[table] = value
    assert isinstance(schema.validate_snapshot(body), list)


def test_numpy_values_are_stored_as_plain_numbers(tmp_path: Path, make_body, make_staged) -> None:
    np = pytest.importorskip("numpy")
    body = make_body()
    body["metrics"]["validation"]["f1"] = np.float64(0.5)
    body["model"]["params"]["classes"] = np.array([1, 2])
    snapshot = store.read_snapshot(
        tmp_path, store.write_snapshot(tmp_path, body, staged_files=make_staged(tmp_path))
    )
    assert snapshot["metrics"]["validation"]["f1"] == 0.5
    assert snapshot["model"]["params"]["classes"] == [1, 2]


def test_a_value_toml_cannot_hold_is_a_clear_error(tmp_path: Path, make_body, make_staged) -> None:
    body = make_body()
    body["model"]["params"]["callback"] = object()
    with pytest.raises(SnapshotError, match="TOML cannot store"):
        store.write_snapshot(tmp_path, body, staged_files=make_staged(tmp_path))
    assert not (tmp_path / "models").exists()


# --------------------------------------------------------------------------- comparability


def test_current_hashes_agree_with_the_data_module(tmp_path: Path) -> None:
    """The fast path's hashes must be the very ones a run records (core.evaluation.data computes
    those)."""
    pytest.importorskip("pandas")
    from modelsnap.core.evaluation.data import ensure_split, load_dataset
    from modelsnap.core.project.parse import load_project

    (tmp_path / "data.csv").write_text(
        "a,b,y\n" + "".join(f"{i},{i % 7},{'yes' if i % 3 else 'no'}\n" for i in range(60))
    )
    (tmp_path / "modelsnap.toml").write_text('[data]\nsource = "data.csv"\ntarget = "y"\n')
    assert store.current_data_hashes(tmp_path, "data.csv") == store.DataHashes(
        sha256_file(tmp_path / "data.csv"), None
    )
    config = load_project(tmp_path)
    dataset = load_dataset(config)
    split = ensure_split(config, dataset)
    hashes = store.current_data_hashes(tmp_path, "data.csv")
    assert hashes == store.DataHashes(dataset.dataset_sha256, split.split_sha256)
    # a bundled data set is hashed from arrays: the hash frozen into split.npz stands in for it
    assert store.current_data_hashes(tmp_path, "sklearn:iris") == hashes


def test_comparable_needs_both_hashes_to_match(make_body) -> None:
    body = make_body()
    same = store.DataHashes("a" * 64, "b" * 64)
    assert store.comparable(body, same) is True
    assert store.comparable(body["data"], same) is True  # an index row carries the hashes flat
    assert store.comparable(body, store.DataHashes("a" * 64, "c" * 64)) is False
    assert store.comparable(body, store.DataHashes("c" * 64, None)) is False
    assert store.comparable(body, store.DataHashes(None, None)) is None


def test_verify_files_names_missing_changed_and_escaping_files(
    tmp_path: Path, make_body, make_staged
) -> None:
    snapshot = store.read_snapshot(
        tmp_path, store.write_snapshot(tmp_path, make_body(), staged_files=make_staged(tmp_path))
    )
    assert store.verify_files(tmp_path, snapshot) == []
    (tmp_path / snapshot["model"]["artifact"]).write_bytes(b"other")
    (tmp_path / snapshot["predictions"]["path"]).unlink()
    problems = store.verify_files(tmp_path, snapshot)
    assert "does not match its recorded sha256" in problems[0]
    assert problems[1].endswith("is missing")
    snapshot["model"]["artifact"] = "../outside.skops"
    assert "outside the project folder" in store.verify_files(tmp_path, snapshot)[0]


def test_a_constraint_that_could_not_be_judged_is_valid_but_a_judged_one_needs_ok(
    make_body,
) -> None:
    """check_constraints writes {limit, missing = true} when the measure was not taken."""
    body = make_body(id="20261126T061502-logistic-3f9a")
    body["model"].update(artifact="models/x.skops", artifact_sha256="c" * 64, size_bytes=1)
    body["predictions"] = {"path": "predictions/x.npz", "sha256": "c" * 64}
    body["constraints"] = {"fairness_gap": {"limit": 0.1, "missing": True}}
    assert schema.validate_snapshot(body) == []
    body["constraints"] = {"fairness_gap": {"limit": 0.1, "value": 0.2}}
    assert any("constraints.fairness_gap.ok" in p for p in schema.validate_snapshot(body))


# --------------------------------------------------------------------------- remembered data hashes


def _count_hashing(monkeypatch) -> list[Path]:
    calls: list[Path] = []

    def counting(path: Path) -> str:
        calls.append(Path(path))
        return sha256_file(path)

    monkeypatch.setattr(store, "sha256_file", counting)
    return calls


def test_the_data_file_is_hashed_once_while_it_is_unchanged(tmp_path: Path, monkeypatch) -> None:
    data = tmp_path / "data.csv"
    data.write_bytes(b"a,b\n" + b"1,2\n" * 50_000)
    calls = _count_hashing(monkeypatch)
    first = store.current_data_hashes(tmp_path, "data.csv")
    assert first.dataset_sha256 == sha256_file(data)
    assert store.current_data_hashes(tmp_path, "data.csv") == first
    assert store.current_data_hashes(tmp_path, "data.csv", write_cache=False) == first
    assert len(calls) == 1


def test_a_same_size_rewrite_with_the_mtime_put_back_is_hashed_again(
    tmp_path: Path, monkeypatch
) -> None:
    """touch -r / cp -a: size and mtime as before, ctime moved by the kernel."""
    data = tmp_path / "data.csv"
    data.write_bytes(b"a,b\n" + b"1,2\n" * 50_000)
    before = store.current_data_hashes(tmp_path, "data.csv").dataset_sha256
    stat = data.stat()
    with open(data, "r+b") as handle:  # same inode, same size, one byte in the middle
        handle.seek(100_001)
        handle.write(b"9")
    os.utime(data, ns=(stat.st_atime_ns, stat.st_mtime_ns))
    assert (data.stat().st_size, data.stat().st_mtime_ns) == (stat.st_size, stat.st_mtime_ns)
    after = store.current_data_hashes(tmp_path, "data.csv").dataset_sha256
    assert after == sha256_file(data) != before


def test_a_replaced_data_file_is_hashed_again(tmp_path: Path) -> None:
    data = tmp_path / "data.csv"
    data.write_bytes(b"a,b\n1,2\n")
    before = store.current_data_hashes(tmp_path, "data.csv").dataset_sha256
    other = tmp_path / "other.csv"
    other.write_bytes(b"a,b\n3,4\n")
    os.replace(other, data)
    assert store.current_data_hashes(tmp_path, "data.csv").dataset_sha256 == sha256_file(data)
    assert sha256_file(data) != before


def test_the_sampled_bytes_catch_a_change_the_stat_does_not_show(
    tmp_path: Path, monkeypatch
) -> None:
    """On a file system that keeps no ctime (or a forged stat), a change in the sampled bytes
    (the first and last 64 KiB, blocks between) is still seen."""
    from modelsnap.core.records import hash_cache

    monkeypatch.setattr(hash_cache, "identity", lambda stat: {"size": stat.st_size})
    data = tmp_path / "data.csv"
    data.write_bytes(b"x" * 1_000_000)
    before = store.current_data_hashes(tmp_path, "data.csv").dataset_sha256
    with open(data, "r+b") as handle:
        handle.seek(10)  # inside the first 64 KiB
        handle.write(b"y")
    assert store.current_data_hashes(tmp_path, "data.csv").dataset_sha256 == sha256_file(data)
    assert sha256_file(data) != before


def test_a_tampered_hash_cache_is_ignored(tmp_path: Path, monkeypatch) -> None:
    from modelsnap.core.records import hash_cache

    data = tmp_path / "data.csv"
    data.write_bytes(b"a,b\n1,2\n")
    truth = store.current_data_hashes(tmp_path, "data.csv").dataset_sha256
    cache = hash_cache.cache_path(tmp_path)
    mac, _, body = cache.read_bytes().partition(b"\n")
    forged = body.replace(truth.encode(), b"0" * 64)
    assert forged != body
    cache.write_bytes(mac + b"\n" + forged)  # the old MAC no longer fits
    calls = _count_hashing(monkeypatch)
    assert store.current_data_hashes(tmp_path, "data.csv").dataset_sha256 == truth
    assert len(calls) == 1


def test_review_reads_the_hash_cache_but_never_writes_it(tmp_path: Path) -> None:
    from modelsnap.core.records import hash_cache

    (tmp_path / "data.csv").write_bytes(b"a,b\n1,2\n")
    store.current_data_hashes(tmp_path, "data.csv", write_cache=False)
    assert not hash_cache.cache_path(tmp_path).exists()


def test_review_keeps_a_hash_the_folders_cache_lacks_in_its_own(
    tmp_path: Path, monkeypatch
) -> None:
    """Review of a folder it must not write: the data file is hashed once, the value kept in
    the reader's own cache of the folder (never in the folder), and a changed file is hashed
    again. A value the folder's own cache holds is taken from there."""
    from modelsnap.core.records import hash_cache
    from modelsnap.core.records.index import private_home

    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    root = tmp_path / "project"
    root.mkdir()
    data = root / "data.csv"
    data.write_bytes(b"a,b\n" + b"1,2\n" * 1000)
    calls = _count_hashing(monkeypatch)
    first = store.current_data_hashes(root, "data.csv", write_cache=False)
    assert store.current_data_hashes(root, "data.csv", write_cache=False) == first
    assert len(calls) == 1 and first.dataset_sha256 == sha256_file(data)
    assert not (root / ".modelsnap").exists()
    assert hash_cache.cache_path(private_home(root)).is_file()
    data.write_bytes(b"a,b\n" + b"3,4\n" * 1000)
    changed = store.current_data_hashes(root, "data.csv", write_cache=False)
    assert changed.dataset_sha256 == sha256_file(data) != first.dataset_sha256
    assert len(calls) == 2
    store.current_data_hashes(root, "data.csv")  # a writing reader fills the folder's cache
    hash_cache.cache_path(private_home(root)).unlink()
    assert store.current_data_hashes(root, "data.csv", write_cache=False) == changed
    assert len(calls) == 3 and not hash_cache.cache_path(private_home(root)).exists()


def test_a_folder_that_cannot_be_written_keeps_its_hashes_in_the_readers_cache(
    tmp_path: Path, monkeypatch
) -> None:
    from modelsnap.core.records import hash_cache, index
    from modelsnap.core.records.index import private_home

    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    monkeypatch.setattr(index, "folder_writable", lambda folder: False)
    monkeypatch.setattr(hash_cache, "folder_writable", lambda folder: False)
    root = tmp_path / "project"
    root.mkdir()
    (root / "data.csv").write_bytes(b"a,b\n1,2\n")
    calls = _count_hashing(monkeypatch)
    first = store.current_data_hashes(root, "data.csv")
    assert store.current_data_hashes(root, "data.csv") == first and len(calls) == 1
    assert not (root / ".modelsnap").exists()
    assert hash_cache.cache_path(private_home(root)).is_file()


def test_what_a_record_depends_on_never_comes_from_the_hash_cache(
    tmp_path: Path, monkeypatch
) -> None:
    """A cache is only a cache: the baseline a run compares with (its recorded gain) and the
    rows a decision is made on use hashes of the bytes, even when the cache says otherwise (a
    change the cache's cheap re-check cannot see)."""
    from modelsnap.core.records import hash_cache
    from modelsnap.profiler.job_specs import latest_baseline

    data = tmp_path / "data.csv"
    data.write_bytes(b"a,b\n1,2\n")
    truth = sha256_file(data)
    monkeypatch.setattr(hash_cache, "remembered", lambda *args, **kwargs: "0" * 64)
    assert store.current_data_hashes(tmp_path, "data.csv").dataset_sha256 == "0" * 64
    assert store.current_data_hashes(tmp_path, "data.csv", cached=False).dataset_sha256 == truth

    seen: list[bool] = []
    real = store.current_data_hashes

    def watching(root, source, **options):
        seen.append(options.get("cached", True))
        return real(root, source, **options)

    monkeypatch.setattr(store, "current_data_hashes", watching)
    latest_baseline(tmp_path, "data.csv")
    assert seen == [False]


@pytest.mark.skipif(sys.platform != "linux", reason="the child (core.beside) is Linux-only")
def test_a_reader_with_a_child_reads_what_one_process_reads(
    tmp_path: Path, fresh_interpreter
) -> None:
    """From PARSE_BESIDE_FROM files a forked child parses part of them: the snapshots, the
    problems (in file order), the shared strings and the next read's reuse are those of one
    process reading alone. Run in a fresh interpreter: xdist's workers have threads, which
    rule the child out."""
    answer = fresh_interpreter(
        """
        from modelsnap.core import beside
        from modelsnap.core.records import index, store

        root = Path(sys.argv[1])
        make_snapshots.write_folder(root, 60)
        folder = root / "snapshots"
        names = sorted(p.name for p in folder.glob("*.toml"))
        # broken files among them, in both halves: bad TOML, off-schema, a link
        (folder / "20261101T090001-bad_toml-0000.toml").write_text("id = [\\n")
        text = (folder / names[-3]).read_text()
        (folder / "20261201T000000-wrong_id-0000.toml").write_text(text)
        (folder / "20261201T000001-link-0000.toml").symlink_to(folder / names[5])
        store.PARSE_BESIDE_FROM = 1
        heard = []
        reader = store.SnapshotReader()
        snapshots, problems = reader.read(root, lambda *p: heard.append(p))
        beside.FORK_UNDER_BYTES = 0  # alone: no child from here on
        alone, alone_problems = store.SnapshotReader().read(root)
        first, last = snapshots[0], snapshots[-1]
        parsed = []
        real = store._load
        store._load = lambda path, memo=None: parsed.append(path.name) or real(path, memo)
        index.RACY_NS = 0
        reader.read(root)
        parsed.clear()
        again, _ = reader.read(root)
        print(json.dumps({
            "forks": len(forks),
            "same": snapshots == alone,
            "problems": [[str(p.path), p.message] for p in problems],
            "alone_problems": [[str(p.path), p.message] for p in alone_problems],
            "count": len(snapshots),
            "shared": first["data"]["dataset_sha256"] is last["data"]["dataset_sha256"],
            "parsed_again": parsed,
            "again_same": again == alone,
            "heard_end": heard[-1],
        }))
        """,
        str(tmp_path / "p"),
    )
    assert answer["forks"] == 1
    assert answer["same"] and answer["count"] == 60
    assert answer["problems"] == answer["alone_problems"]
    assert [Path(path).name for path, _ in answer["problems"]] == [
        "20261101T090001-bad_toml-0000.toml",
        "20261201T000000-wrong_id-0000.toml",
        "20261201T000001-link-0000.toml",
    ]
    assert answer["shared"]  # the child's snapshots share the strings of the parent's
    # only the broken files are parsed again (a problem is never remembered)
    assert answer["parsed_again"] == [Path(path).name for path, _ in answer["problems"]]
    assert answer["again_same"]
    assert answer["heard_end"] == [63, 63]


@pytest.mark.skipif(sys.platform == "win32", reason="the helper (core.beside) is POSIX-only")
def test_a_reader_in_a_thread_shares_the_files_with_a_started_interpreter(
    tmp_path: Path, monkeypatch, write_folder, parsed_here: list[str]
) -> None:
    """A thread may not fork (the TUI's reads, a decision's): from ``beside.SPAWN_FROM`` files
    a started interpreter parses part of them, and the read is the one of a process alone,
    broken files included."""
    import threading

    root = tmp_path / "p"
    write_folder(root, 40)
    folder = root / "snapshots"
    (folder / "20261101T090001-bad_toml-0000.toml").write_text("id = [\n")
    (folder / "20261201T000000-wrong_id-0000.toml").write_text(
        next(folder.glob("*.toml")).read_text()
    )
    monkeypatch.setattr(store, "PARSE_BESIDE_FROM", 10**9)
    alone, alone_problems = store.SnapshotReader().read(root)  # alone: no child, no helper
    monkeypatch.setattr(store, "PARSE_BESIDE_FROM", 1)
    parsed_here.clear()
    out: dict[str, object] = {}
    thread = threading.Thread(target=lambda: out.update(read=store.SnapshotReader().read(root)))
    thread.start()
    thread.join(120)
    snapshots, problems = out["read"]
    assert snapshots == alone and len(snapshots) == 40
    assert [(p.path, p.message) for p in problems] == [(p.path, p.message) for p in alone_problems]
    assert len(problems) == 2
    assert 0 < len(parsed_here) < 42  # the helper parsed the rest
