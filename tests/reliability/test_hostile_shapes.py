"""Hostile shapes: a value nested hundreds of levels deep, a named pipe or a 10 GB sparse file in
place of a record. Every command answers (no traceback, no hang, no MemoryError), names the file,
and the other snapshots still load and list.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from modelsnap.core.errors import DataError, ModelsnapError, SnapshotError
from modelsnap.core.files import MAX_DEPTH, nesting_depth, parse_toml, read_toml

from .conftest import cli, edge_run_and_decisions, snapshot_id_of

DEEP = "\nzz_deep = " + "[" * 500 + "]" * 500 + "\n"
REVIEW = (
    "import sys; from modelsnap.tui.review_data import ReviewData\n"
    "d = ReviewData.load(sys.argv[1])\n"
    "print(sorted(r['name'] for r in d.rows), [str(p) for p in d.problems], d.config_error)"
)


@pytest.fixture(scope="module")
def full_template(tmp_path_factory: pytest.TempPathFactory, _ranked_template: Path) -> Path:
    """The ranked project with edge cases, one edge run and one decision."""
    return edge_run_and_decisions(
        _ranked_template,
        tmp_path_factory.mktemp("full") / "proj",
        [("tree", "first decision for the test", ())],
    )


@pytest.fixture
def full_project(full_template: Path, tmp_path: Path) -> Path:
    root = tmp_path / "proj"
    shutil.copytree(full_template, root)
    return root


def _commands(root: Path) -> list[tuple[str, ...]]:
    tree = snapshot_id_of(root, "tree") if list(root.glob("snapshots/*-tree-*.toml")) else "x"
    return [
        ("ls", str(root)),
        ("check", str(root)),
        ("rank", str(root)),
        ("decide", str(root), tree, "--rationale", "again, after the file changed"),
        ("report", str(root), "-o", str(root.parent / "report.html"), "--force"),
        ("edge", str(root)),
    ]


def _run_all(root: Path) -> dict[str, subprocess.CompletedProcess]:
    """Every command and the review loader; none may hang, crash or print a traceback."""
    results = {}
    for args in _commands(root):
        proc = cli(*args, timeout=90)
        text = proc.stdout + proc.stderr
        assert "Traceback" not in text and "RecursionError" not in text, (args, text)
        assert "MemoryError" not in text, (args, text)
        results[args[0]] = proc
    review = subprocess.run(
        [sys.executable, "-c", REVIEW, str(root)], capture_output=True, text=True, timeout=90
    )
    assert review.returncode == 0, review.stderr
    results["review"] = review
    return results


def _named(proc: subprocess.CompletedProcess, name: str) -> bool:
    # rich wraps long lines, inside a long path too: compare without any whitespace
    return "".join(name.split()) in "".join((proc.stdout + proc.stderr).split())


@pytest.mark.parametrize("victim", ["modelsnap.toml", "criteria_revisions.toml", "decisions.toml"])
def test_a_deeply_nested_record_file_is_named_not_a_recursion_error(
    full_project: Path, victim: str
) -> None:
    root = full_project
    with open(root / victim, "a") as handle:
        handle.write(DEEP)
    results = _run_all(root)
    assert results["check"].returncode == 1
    assert _named(results["check"], victim) and _named(results["check"], "levels deep")
    readers = {
        "modelsnap.toml": ("rank", "decide", "report", "edge"),
        "criteria_revisions.toml": ("rank", "decide", "report"),
        "decisions.toml": ("decide",),
    }[victim]
    for command in readers:
        proc = results[command]
        assert proc.returncode != 0 and _named(proc, victim), (command, proc.stderr)
        assert _named(proc, f"more than {MAX_DEPTH} levels deep"), (command, proc.stderr)
    listing = cli("ls", str(root), "--format", "json")
    assert sorted(r["name"] for r in json.loads(listing.stdout)) == ["logistic", "tree"]


def test_a_deeply_nested_snapshot_is_named_and_the_others_still_load(full_project: Path) -> None:
    root = full_project
    victim = snapshot_id_of(root, "tree")
    with open(root / "snapshots" / f"{victim}.toml", "a") as handle:
        handle.write(DEEP)
    results = _run_all(root)
    for command in ("ls", "check", "rank", "edge", "review"):
        assert _named(results[command], f"{victim}.toml"), (command, results[command].stderr)
    assert "['logistic']" in results["review"].stdout
    listing = cli("ls", str(root), "--format", "json")
    assert listing.returncode == 1
    assert [r["name"] for r in json.loads(listing.stdout)] == ["logistic"]
    decide = cli(
        "decide",
        str(root),
        snapshot_id_of(root, "logistic"),
        "--rationale",
        "the floor is good enough",
    )
    assert "Traceback" not in decide.stderr


def test_a_deeply_nested_edge_run_is_skipped(full_project: Path) -> None:
    root = full_project
    [run] = (root / "edge_runs").glob("*.toml")
    with open(run, "a") as handle:
        handle.write(DEEP)
    results = _run_all(root)
    for command in ("ls", "rank", "report", "edge"):
        assert results[command].returncode == 0, (command, results[command].stderr)
    # without its edge run the tree misses its must-pass cases: refused, not crashed
    assert "edge_cases_must_pass" in results["decide"].stderr
    # the ranking names the run it could not read, on screen and in the report
    assert _named(results["rank"], f"edge_runs/{run.name}"), results["rank"].stderr
    assert f"edge_runs/{run.name}" in (root.parent / "report.html").read_text()


@pytest.mark.parametrize(
    "victim", ["decisions.toml", "edge_cases.csv", "snapshots/x.toml", "data.csv", "modelsnap.toml"]
)
def test_a_named_pipe_never_blocks_a_command(full_project: Path, victim: str) -> None:
    root = full_project
    (root / victim).unlink(missing_ok=True)
    os.mkfifo(root / victim)
    results = _run_all(root)  # each with a timeout: a blocked open fails the test
    named = {
        "decisions.toml": ("check", "decide"),
        "edge_cases.csv": ("edge",),
        "snapshots/x.toml": ("ls", "check", "rank", "edge", "review"),
        "data.csv": ("check", "edge"),
        "modelsnap.toml": ("check", "rank", "decide", "report", "edge"),
    }[victim]
    for command in named:
        proc = results[command]
        assert _named(proc, Path(victim).name), (command, proc.stdout, proc.stderr)
        assert _named(proc, "not a regular file"), (command, proc.stdout, proc.stderr)


def test_a_sparse_10_gb_edge_case_file_is_refused_by_size(full_project: Path) -> None:
    root = full_project
    with open(root / "edge_cases.csv", "wb") as handle:
        handle.truncate(10 << 30)  # sparse: takes no disk space
    results = _run_all(root)
    edge = results["edge"]
    assert edge.returncode != 0 and _named(edge, "edge_cases.csv") and _named(edge, "too large")
    for command in ("ls", "rank", "decide", "report"):
        assert results[command].returncode == 0, (command, results[command].stderr)


# --------------------------------------------------------------------------- the reader itself


def test_brackets_inside_strings_are_not_nesting(tmp_path: Path) -> None:
    text = 'a = "' + "[" * 600 + "\"\nb = '" + "{" * 600 + "'\nc = [[1], [2]]\n"
    assert parse_toml(text)["a"] == "[" * 600


def test_depth_cap_is_exact() -> None:
    ok = "x = " + "[" * (MAX_DEPTH - 1) + "]" * (MAX_DEPTH - 1)  # plus the document table
    assert nesting_depth(parse_toml(ok)) == MAX_DEPTH
    with pytest.raises(SnapshotError, match="levels deep"):
        parse_toml("x = " + "[" * MAX_DEPTH + "]" * MAX_DEPTH)
    with pytest.raises(SnapshotError, match="levels deep"):  # tables nest through dotted keys too
        parse_toml("[" + ".".join(["t"] * 40) + "]\nv = 1\n")
    with pytest.raises(SnapshotError, match="levels deep"):  # deep enough to overflow tomllib
        parse_toml("x = " + "{a = " * 5000 + "1" + "}" * 5000)


nested = st.recursive(
    st.integers(0, 9), lambda inner: st.lists(inner, min_size=1, max_size=2), max_leaves=60
)


@settings(max_examples=200, deadline=None)
@given(value=nested)
def test_any_nesting_parses_or_is_refused_by_depth(value: object) -> None:
    text = "x = " + json.dumps(value)
    depth = nesting_depth({"x": value})
    try:
        doc = parse_toml(text)
    except ModelsnapError as error:
        assert depth > MAX_DEPTH and "levels deep" in error.message
    else:
        assert depth <= MAX_DEPTH and doc == {"x": value}


def _depth(value: object) -> int:
    """The definition, recursively: a list or dict is one level more than its deepest child."""
    if isinstance(value, dict):
        value = list(value.values())
    if isinstance(value, list):
        return 1 + max((_depth(child) for child in value), default=0)
    return 0


deep_mixed = st.recursive(
    st.one_of(st.integers(0, 9), st.text(max_size=2)),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=2), inner),
    max_leaves=80,
)


@settings(max_examples=300, deadline=None)
@given(value=deep_mixed)
def test_nesting_depth_is_the_depth_or_past_the_cap(value: object) -> None:
    depth = _depth(value)
    assert nesting_depth(value) == (depth if depth <= MAX_DEPTH else MAX_DEPTH + 1)
    chain: object = value
    for _ in range(MAX_DEPTH + 1):  # the same value, past the cap
        chain = [chain]
    assert nesting_depth(chain) == MAX_DEPTH + 1


def test_special_and_oversized_files_are_refused_with_the_callers_error(tmp_path: Path) -> None:
    fifo = tmp_path / "pipe.toml"
    os.mkfifo(fifo)
    with pytest.raises(DataError, match="not a regular file"):
        read_toml(fifo, what="edge run", error=DataError)
    big = tmp_path / "big.toml"
    with open(big, "wb") as handle:
        handle.truncate(2 << 20)
    with pytest.raises(SnapshotError, match="too large"):
        read_toml(big, what="snapshot")


def test_a_named_pipe_as_an_artifact_never_blocks_edge_or_profile(full_project: Path) -> None:
    root = full_project
    tree = snapshot_id_of(root, "tree")
    [artifact] = [p for p in (root / "models").iterdir() if tree in p.name]
    artifact.unlink()
    os.mkfifo(artifact)
    for args in (
        ("edge", str(root)),
        ("profile", str(root), tree, "--latency-trials", "2"),
        ("check", str(root)),
    ):
        proc = cli(*args, timeout=120)
        text = proc.stdout + proc.stderr
        assert "Traceback" not in text and proc.returncode != 0, (args, text)
        assert artifact.name in " ".join(text.split()), (args, text)
