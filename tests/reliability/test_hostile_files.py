"""Hostile files: whatever a stranger's folder holds, readers answer with a ModelsnapError that
names the file (or list the broken file and go on), never with another exception.

Property-based over the four files a folder brings: the project file, snapshot files, the
edge-case CSV and the decision log. Inputs are both raw bytes and *mutations* of real, valid
files (a key deleted, a value swapped for any TOML value of another type, unknown keys added),
because random bytes rarely get past the TOML parser while a hand-edited file does. Each
snapshot mutation is pushed through the whole read path a folder goes through: listing, the
index rows, measures, the ranking and the diff. Then the CLI, as a user meets a broken folder.
"""

from __future__ import annotations

import copy
import datetime as dt
import json
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path
from typing import Any

import pytest
import tomli_w
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from modelsnap.core.errors import ModelsnapError
from modelsnap.core.evaluation.edgecases import load_edge_cases
from modelsnap.core.measures import measures
from modelsnap.core.project.parse import load_project
from modelsnap.core.records.decision_log import read_decisions, verify_chain
from modelsnap.core.records.index import load_rows
from modelsnap.core.records.store import list_snapshots, read_snapshot
from modelsnap.core.reporting.snapshot_diff import comparability_notes, diff_snapshots
from modelsnap.core.selection.context import rank_project

from .conftest import PROJECT_TOML, assert_clean_failure, cli, snapshot_id_of

pytestmark = pytest.mark.slow

# Figures for docs/reliability.md come from these settings (examples per property).
EXAMPLES = 250
FUZZ = settings(
    max_examples=EXAMPLES,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)

scalars = st.one_of(
    st.booleans(),
    st.integers(min_value=-(2**63), max_value=2**63 - 1),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=30),
    st.datetimes(timezones=st.none() | st.just(dt.UTC)),
    st.dates(),
    st.times(),
)
toml_values = st.recursive(
    scalars,
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=12), inner, max_size=4)
    ),
    max_leaves=12,
)


@st.composite
def mutations(draw: st.DrawFn, document: dict[str, Any]) -> dict[str, Any]:
    """``document`` with 1-4 random edits anywhere in its tree (replace, delete, add a key)."""
    doc = copy.deepcopy(document)
    for _ in range(draw(st.integers(1, 4))):
        node: Any = doc
        while True:
            keys = list(node) if isinstance(node, dict) else list(range(len(node)))
            if not keys:
                break
            key = draw(st.sampled_from(keys))
            child = node[key]
            if isinstance(child, (dict, list)) and child and draw(st.booleans()):
                node = child
                continue
            action = draw(st.sampled_from(["replace", "delete", "add"]))
            if action == "replace":
                node[key] = draw(toml_values)
            elif action == "delete":
                del node[key]
            elif isinstance(node, dict):
                node[draw(st.text(min_size=1, max_size=12))] = draw(toml_values)
            else:
                node.append(draw(toml_values))
            break
    return doc


def write_doc(path: Path, doc: dict[str, Any]) -> None:
    path.write_text(tomli_w.dumps(doc))


# ------------------------------------------------------------------------------ project file


def _project_doc() -> dict[str, Any]:
    doc = tomllib.loads(PROJECT_TOML)
    doc["data"].update(
        sensitive=["b"], drop=[], suspect_features=["a"], edge_cases="edge_cases.csv"
    )
    doc["constraints"] = {
        "max_latency_p95_ms": 50.0,
        "min_metric": {"recall": 0.5},
        "min_gain_over_baseline": 0.01,
    }
    doc["candidates"][0]["grid"] = {"max_depth": [2, 3]}
    return doc


@FUZZ
@given(data=st.data())
def test_project_file_mutations(ranked_project: Path, data: st.DataObject) -> None:
    root = ranked_project
    doc = data.draw(mutations(_project_doc()))
    write_doc(root / "modelsnap.toml", doc)
    try:
        load_project(root)
    except ModelsnapError as error:
        assert error.message and "modelsnap.toml" in str(error)


@FUZZ
@given(raw=st.binary(max_size=300) | st.text(max_size=300).map(str.encode))
def test_project_file_bytes(ranked_project: Path, raw: bytes) -> None:
    (ranked_project / "modelsnap.toml").write_bytes(raw)
    try:
        load_project(ranked_project)
    except ModelsnapError as error:
        assert error.message


# ------------------------------------------------------------------------------ snapshot files


def _read_path(root: Path, victim: str) -> None:
    """Everything a reader does with a folder, with one snapshot file replaced by an attacker."""
    snapshots, problems = list_snapshots(root)
    ids = {s["id"] for s in snapshots}
    assert len(snapshots) + len(problems) == 2  # the other snapshot is always there
    if victim not in ids:
        [problem] = problems
        assert problem.path.name == f"{victim}.toml" and problem.message
        with pytest.raises(ModelsnapError):
            read_snapshot(root, victim)
    rows, row_problems = load_rows(root, write_back=False)
    assert len(rows) + len(row_problems) == 2
    for snapshot in snapshots:
        for split in ("validation", "test"):
            measures(snapshot, split)
    diff_snapshots(snapshots[0], snapshots[-1], show_all=True)
    comparability_notes(snapshots[0], snapshots[-1])
    try:
        rank_project(root, write_index=False)
    except ModelsnapError as error:  # only the project's own config may refuse, never a snapshot
        raise AssertionError(f"a hostile snapshot broke the ranking: {error}") from None


@FUZZ
@given(data=st.data())
def test_snapshot_file_mutations(
    _ranked_template: Path, ranked_project: Path, data: st.DataObject
) -> None:
    root = ranked_project
    victim = snapshot_id_of(root, "tree")
    path = root / "snapshots" / f"{victim}.toml"
    original = tomllib.loads((_ranked_template / "snapshots" / path.name).read_text())
    write_doc(path, data.draw(mutations(original)))
    _read_path(root, victim)


OPTIONAL_TABLES = (
    "constraints",
    "gain",
    "interpretability",
    "fairness",
    "edge_cases",
    "checks",
    "resources",
)


@FUZZ
@given(data=st.data())
def test_snapshot_optional_tables(
    _ranked_template: Path, ranked_project: Path, data: st.DataObject
) -> None:
    """Edits inside the optional tables mostly keep a file schema-valid, so they reach the
    deepest readers (measures, constraints, the ranking's rows); none of them may crash."""
    root = ranked_project
    victim = snapshot_id_of(root, "tree")
    path = root / "snapshots" / f"{victim}.toml"
    original = tomllib.loads((_ranked_template / "snapshots" / path.name).read_text())
    table = data.draw(st.sampled_from(OPTIONAL_TABLES))
    original.setdefault(table, {"seed": 1})
    original[table] = data.draw(mutations(original[table])) if original[table] else {}
    write_doc(path, original)
    _read_path(root, victim)


@FUZZ
@given(raw=st.binary(max_size=400))
def test_snapshot_file_bytes(_ranked_template: Path, ranked_project: Path, raw: bytes) -> None:
    root = ranked_project
    victim = snapshot_id_of(root, "tree")
    original = (_ranked_template / "snapshots" / f"{victim}.toml").read_bytes()
    cut = len(raw) % (len(original) + 1)  # also a torn prefix of the real file
    (root / "snapshots" / f"{victim}.toml").write_bytes(original[:cut] + raw)
    _read_path(root, victim)


# ------------------------------------------------------------------------------ edge-case CSV

EDGE_COLUMNS = {"a": "numeric", "b": "numeric", "colour": "categorical"}
GOOD_EDGE_CSV = "case,severity,a,b,colour,label\nzero,must-pass,0,0,red,neg\nbig,high,9.5,-1,,pos\n"


def _load_edges(path: Path) -> None:
    try:
        cases = load_edge_cases(
            path,
            columns=EDGE_COLUMNS,
            target="label",
            task="classification",
            classes=["neg", "pos"],
            display_name="edge_cases.csv",
        )
    except ModelsnapError as error:
        assert error.message and error.where == "edge_cases.csv"
    else:
        assert len(cases.rows) == len(cases.expected) >= 1


cells = st.one_of(
    st.text(max_size=8),
    st.sampled_from(["", "nan", "inf", "-1e400", "1e400", "must-pass", "pos", "neg", "\x00", '"']),
)


@FUZZ
@given(data=st.data())
def test_edge_case_csv(tmp_path: Path, data: st.DataObject) -> None:
    path = tmp_path / "edge_cases.csv"
    choice = data.draw(st.sampled_from(["bytes", "cells", "mutated"]))
    if choice == "bytes":
        path.write_bytes(data.draw(st.binary(max_size=300)))
    elif choice == "cells":
        header = data.draw(
            st.lists(
                st.sampled_from(
                    ["case", "severity", "a", "b", "colour", "label", "tolerance", "extra", ""]
                ),
                max_size=7,
            )
        )
        rows = data.draw(st.lists(st.lists(cells, min_size=0, max_size=8), max_size=5))
        path.write_text("\n".join(",".join(r) for r in [header, *rows]))
    else:
        lines = GOOD_EDGE_CSV.splitlines()
        index = data.draw(st.integers(0, len(lines) - 1))
        lines[index] = data.draw(st.text(max_size=40))
        path.write_text("\n".join(lines))
    _load_edges(path)


def test_the_good_edge_case_csv_loads(tmp_path: Path) -> None:  # the fuzz baseline is valid
    path = tmp_path / "edge_cases.csv"
    path.write_text(GOOD_EDGE_CSV)
    cases = load_edge_cases(
        path, columns=EDGE_COLUMNS, target="label", task="classification", classes=["neg", "pos"]
    )
    assert cases.cases == ["zero", "big"]


# ------------------------------------------------------------------------------ decision log


def _decided(root: Path) -> Path:
    proc = cli(
        "decide",
        str(root),
        snapshot_id_of(root, "tree"),
        "--rationale",
        "first decision, made for the test",
    )
    assert proc.returncode == 0, proc.stderr
    proc = cli(
        "decide",
        str(root),
        snapshot_id_of(root, "tree"),
        "--rationale",
        "second decision, made for the test",
        "--caveat",
        "small data",
    )
    assert proc.returncode == 0, proc.stderr
    return root / "decisions.toml"


@pytest.fixture(scope="module")
def decided_template(tmp_path_factory: pytest.TempPathFactory, _ranked_template: Path) -> Path:
    root = tmp_path_factory.mktemp("decided") / "proj"
    shutil.copytree(_ranked_template, root)
    _decided(root)
    return root


@FUZZ
@given(data=st.data())
def test_decision_log(decided_template: Path, tmp_path: Path, data: st.DataObject) -> None:
    root = tmp_path / "log"
    (root / ".modelsnap").mkdir(parents=True, exist_ok=True)
    original = (decided_template / "decisions.toml").read_bytes()
    shutil.copy(decided_template / ".modelsnap" / "decisions.head", root / ".modelsnap")
    if data.draw(st.booleans()):
        doc = data.draw(mutations(tomllib.loads(original.decode())))
        raw = tomli_w.dumps(doc).encode()
    else:
        raw = original[: data.draw(st.integers(0, len(original)))] + data.draw(
            st.binary(max_size=60)
        )
    (root / "decisions.toml").write_bytes(raw)
    problems = verify_chain(root)  # never raises
    assert all(isinstance(p, str) and p for p in problems)
    try:
        entries = read_decisions(root)
    except ModelsnapError as error:
        assert problems and error.message
        return
    if raw != original:
        # any change to a sealed entry is found; a change that keeps every entry is harmless
        kept = entries == tomllib.loads(original.decode())["decision"]
        assert kept or problems, raw


# ------------------------------------------------------------------------------ the CLI


def test_a_folder_with_one_broken_snapshot_opens_and_names_it(ranked_project: Path) -> None:
    root = ranked_project
    victim = snapshot_id_of(root, "tree")
    path = root / "snapshots" / f"{victim}.toml"
    path.write_bytes(path.read_bytes()[:300])  # torn in the middle
    listing = cli("ls", str(root), "--format", "json")
    assert_clean_failure(listing, code=1)
    assert [row["name"] for row in json.loads(listing.stdout)] == ["logistic"]
    assert f"snapshots/{victim}.toml" in listing.stderr
    check = cli("check", str(root), "--format", "json")
    assert check.returncode == 1
    schema = [f for f in json.loads(check.stdout)["findings"] if f["kind"] == "schema"]
    assert [f["where"] for f in schema] == [f"snapshots/{victim}.toml"]
    review = subprocess.run(
        [
            sys.executable,
            "-c",
            "import sys; from modelsnap.tui.review_data import ReviewData\n"
            "d = ReviewData.load(sys.argv[1])\n"
            "print([r['name'] for r in d.rows], [str(p) for p in d.problems])",
            str(root),
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert review.returncode == 0, review.stderr
    assert "['logistic']" in review.stdout and f"{victim}.toml" in review.stdout
    for args in (
        ("show", str(root), victim),
        ("diff", str(root), victim, "2026"),
        ("decide", str(root), victim, "--rationale", "chosen for the test: best trade-off"),
    ):
        assert_clean_failure(cli(*args))
    rank = cli("rank", str(root))
    assert "Traceback" not in rank.stderr and f"{victim}.toml" in rank.stderr + rank.stdout


@pytest.mark.parametrize(
    "file, content, finding",
    [
        ("modelsnap.toml", b"[data\nsource = 1", True),
        ("modelsnap.toml", b"\xff\xfe\x00garbage", True),
        ("modelsnap.toml", b'[data]\nsource = "../../etc/passwd"\ntarget = "label"\n', True),
        ("decisions.toml", b"schema = 1\n[[decision]]\nid = 7\n", True),
        ("decisions.toml", b"\x00\x01", True),
        ("criteria_revisions.toml", b"[[revision]]\nrevision = 'one'\n", True),
        ("split.npz", b"PK\x03\x04 not a zip", True),
        # tool state is a cache: a broken one is ignored (rebuilt), not a finding
        (".modelsnap/index.sqlite", b"SQLite format 3\x00 torn", False),
        (".modelsnap/index.block", b"modelsnap-index-block 6 1 abc\n\xe3\x00\x00", False),
        (".modelsnap/decisions.head", b"[1, 2", False),
    ],
)
def test_commands_on_hostile_files_fail_cleanly(
    ranked_project: Path, file: str, content: bytes, finding: bool
) -> None:
    root = ranked_project
    (root / file).write_bytes(content)
    tree = snapshot_id_of(root, "tree")
    commands = [
        ("ls", str(root)),
        ("show", str(root), tree),
        ("rank", str(root)),
        ("check", str(root)),
        ("decide", str(root), tree, "--rationale", "chosen for the test: best trade-off"),
    ]
    if file == "modelsnap.toml":
        commands.append(("run", str(root), "--candidate", "tree"))
    for args in commands:
        proc = cli(*args)
        assert "Traceback" not in proc.stderr + proc.stdout, (args, proc.stderr)
        if args[0] == "check":
            assert proc.returncode == (1 if finding else 0), (file, proc.stdout)
        if args[0] == "run":
            assert_clean_failure(proc, code=2)
    if not finding:
        assert cli("ls", str(root)).returncode == 0
