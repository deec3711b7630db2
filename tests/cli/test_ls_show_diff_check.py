"""``ls``, ``show``, ``diff`` and ``check`` on a real project folder (real CSV, frozen split, locked
criteria) holding snapshots written through the store. No model is fitted here: the end-to-end
run lives in tests/core/test_api.py."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from modelsnap.cli import main
from modelsnap.cli.ls_cmd import JSON_KEYS
from modelsnap.core.records import store


def _csv(path: Path, rows: int = 60) -> None:
    lines = ["age,income,region,y"]
    for i in range(rows):
        region = ("north", "south", "east")[i % 3]
        income = "" if i % 11 == 0 else str(1000 + 37 * i)
        lines.append(f"{20 + i % 40},{income},{region},{'yes' if i % 3 == 0 else 'no'}")
    path.write_text("\n".join(lines) + "\n")


@pytest.fixture
def project(tmp_path: Path):
    """A locked project with its split drawn; returns (root, dataset_sha256, split_sha256)."""
    from modelsnap.core.evaluation.data import ensure_split, load_dataset
    from modelsnap.core.project.parse import load_project
    from modelsnap.core.selection.criteria import lock_criteria

    root = tmp_path / "proj"
    root.mkdir()
    _csv(root / "data.csv")
    assert main(["init", str(root), "--data", str(root / "data.csv"), "--target", "y"]) == 0
    config = load_project(root)
    dataset = load_dataset(config)
    split = ensure_split(config, dataset)
    lock_criteria(config, reason="test")
    return root, dataset.dataset_sha256, split.split_sha256


@pytest.fixture
def add(project, make_body, make_staged):
    """Write a snapshot on the project's real data/split hashes; keywords patch the body."""
    root, dataset_sha, split_sha = project

    def write(
        name: str = "forest",
        *,
        f1: float = 0.7,
        content: bytes | None = None,
        real_predictions: bool = False,
        **data,
    ):
        body = make_body(name=name)
        body["data"].update({"dataset_sha256": dataset_sha, "split_sha256": split_sha, **data})
        body["metrics"]["validation"]["f1"] = f1
        staged = make_staged(root, content or name.encode() + os.urandom(4))
        if real_predictions:  # a perfect model: stored predictions and the metrics they give
            staged["predictions"].write_bytes(_perfect_predictions(root, body))
        snapshot_id = store.write_snapshot(root, body, staged_files=staged)
        shutil.rmtree(staged["artifact"].parent)  # as the runner does
        return snapshot_id

    return write


def _perfect_predictions(root: Path, body: dict) -> bytes:
    """An .npz predicting the truth on the frozen split; ``body``'s metrics set to match."""
    import io

    import numpy as np

    from modelsnap.core.evaluation.data import ensure_split, load_dataset
    from modelsnap.core.evaluation.metrics import compute_metrics
    from modelsnap.core.project.parse import load_project

    config = load_project(root)
    dataset = load_dataset(config)
    split = ensure_split(config, dataset)
    arrays = {}
    for part in ("validation", "test"):
        truth = dataset.target.iloc[getattr(split, part)].to_numpy().astype(str)
        arrays[f"{part}_pred"] = truth
        body["metrics"][part] = compute_metrics(
            dataset.task, truth, truth, None, dataset.classes, dataset.positive_label
        )
    buffer = io.BytesIO()
    np.savez_compressed(buffer, **arrays)
    return buffer.getvalue()


def _run(capsys, *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, " ".join(err.split())  # rich wraps stderr at 80 columns when captured


# --------------------------------------------------------------------------- ls


def test_ls_table_shows_quality_constraints_and_comparability(project, add, capsys) -> None:
    root = project[0]
    good = add("forest", f1=0.71)
    stale = add("old_logistic", dataset_sha256="c" * 64)
    code, out, err = _run(capsys, "ls", str(root))
    assert code == 0, err
    lines = out.splitlines()
    assert lines[0].split()[:6] == ["id", "name", "kind", "version", "created", "f1"]
    forest = next(line for line in lines if line.startswith(good))
    old = next(line for line in lines if line.startswith(stale))
    assert "0.710/0.700" in forest and forest.split()[-1] == "yes"
    assert old.split()[-1] == "NO"
    assert lines[-1] == "2 snapshots"


def test_ls_json_is_a_stable_list_and_filters(project, add, capsys) -> None:
    root = project[0]
    add("forest")
    baseline = add("logistic")
    code, out, _ = _run(capsys, "ls", str(root), "--format", "json")
    rows = json.loads(out)
    assert code == 0 and len(rows) == 2
    assert all(sorted(row) == sorted(JSON_KEYS) for row in rows)
    assert rows[0]["id"] < rows[1]["id"]
    assert {row["comparable"] for row in rows} == {True}
    assert rows[0]["primary_metric"] == "f1" and rows[0]["constraints_ok"] is True
    _, out, _ = _run(capsys, "ls", str(root), "--format", "json", "--name", "log*")
    assert [row["id"] for row in json.loads(out)] == [baseline]
    _, out, _ = _run(capsys, "ls", str(root), "--format", "json", "--kind", "baseline")
    assert json.loads(out) == []


def test_ls_names_broken_files_on_stderr_and_exits_1(project, add, capsys) -> None:
    root = project[0]
    good = add("forest")
    (root / "snapshots" / "20261126T000000-torn-0000.toml").write_text('schema = 1\nid = "x')
    code, out, err = _run(capsys, "ls", str(root), "--format", "json")
    assert code == 1
    assert [row["id"] for row in json.loads(out)] == [good]
    assert "20261126T000000-torn-0000.toml" in err


def test_ls_without_a_usable_project_file_still_lists(project, add, capsys) -> None:
    root = project[0]
    add("forest")
    (root / "modelsnap.toml").write_text("[data\n")
    code, out, err = _run(capsys, "ls", str(root), "--format", "json")
    rows = json.loads(out)
    assert code == 0 and len(rows) == 1 and rows[0]["comparable"] is None
    assert "listing without the project's settings" in err
    (root / "modelsnap.toml").unlink()
    code, out, err = _run(capsys, "ls", str(root), "--format", "json")
    assert code == 0 and len(json.loads(out)) == 1 and "modelsnap.toml not found" in err


def test_ls_empty_project_and_missing_folder(project, tmp_path: Path, capsys) -> None:
    code, out, _ = _run(capsys, "ls", str(project[0]))
    assert (code, out) == (0, "no snapshots\n")
    code, out, err = _run(capsys, "ls", str(tmp_path / "nowhere"))
    assert code == 2 and "no such project folder" in err and out == ""


def test_ls_show_and_diff_stay_on_the_fast_path(project, add) -> None:
    """They must answer without pandas/scikit-learn/scipy (docs/internals.md, fast path)."""
    first, second = add("forest"), add("logistic")
    root = str(project[0])
    code = (
        "import contextlib, io, json, sys\n"
        "from modelsnap.cli import main\n"
        "codes = []\n"
        f"for argv in (['ls', {root!r}], ['show', {root!r}, {first!r}],\n"
        f"             ['diff', {root!r}, {first!r}, {second!r}]):\n"
        "    with contextlib.redirect_stdout(io.StringIO()):\n"
        "        codes.append(main(argv))\n"
        "heavy = sorted(m for m in sys.modules\n"
        "               if m.split('.')[0] in ('pandas', 'sklearn', 'scipy'))\n"
        "print(json.dumps({'codes': codes, 'heavy': heavy}))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout) == {"codes": [0, 0, 0], "heavy": []}


# --------------------------------------------------------------------------- show


def test_show_by_prefix_in_every_format(project, add, capsys) -> None:
    root = project[0]
    snapshot_id = add("forest")
    prefix = snapshot_id[:-2]
    code, out, _ = _run(capsys, "show", str(root), prefix)
    assert code == 0
    for expected in (
        snapshot_id,
        "[model]",
        "[metrics]",
        "test 95% CI",
        "[hardware]",
        "sklearn.ensemble.RandomForestClassifier",
        "[constraints]",
        "limit",
    ):
        assert expected in out
    code, out, _ = _run(capsys, "show", str(root), prefix, "--format", "json")
    assert json.loads(out) == store.read_snapshot(root, snapshot_id)
    code, out, _ = _run(capsys, "show", str(root), prefix, "--format", "toml")
    assert out == (root / "snapshots" / f"{snapshot_id}.toml").read_text()
    assert tomllib.loads(out)["id"] == snapshot_id


def test_show_diff_and_profile_take_the_name_hex_form_shown_in_tables(project, add, capsys) -> None:
    root = project[0]
    a = add("forest", f1=0.70)
    b = add("tree", f1=0.75)
    short_a, short_b = a.split("-", 1)[1], b.split("-", 1)[1]  # "forest-3f9a": as ls shows it
    code, out, _ = _run(capsys, "show", str(root), short_a, "--format", "json")
    assert code == 0 and json.loads(out)["id"] == a
    code, out, _ = _run(capsys, "diff", str(root), short_a, short_b, "--format", "json")
    assert code == 0 and json.loads(out)["a"] == a and json.loads(out)["b"] == b
    code, _, err = _run(capsys, "profile", str(root), "tree-zzzz")
    assert code == 1 and "no snapshot id starts with 'tree-zzzz'" in err


SAMPLE = Path(__file__).resolve().parents[2] / "sample_project"
SAMPLE_PICK = "20261126T073016-gradient_boosting-7fd3"
SAMPLE_BASELINE = "20261126T072954-logistic-72d7"


@pytest.fixture
def sample(tmp_path: Path) -> Path:
    root = tmp_path / "sample"
    shutil.copytree(SAMPLE, root, ignore=shutil.ignore_patterns(".modelsnap"))
    return root


def _no_reprs(text: str) -> None:
    for repr_start in ("{'", "[{", '{"', "['", '["'):
        assert repr_start not in text, f"a Python/JSON repr ({repr_start}) in the table output"


def test_show_puts_metrics_first_and_provenance_last_with_no_reprs(sample, capsys) -> None:
    code, out, _ = _run(capsys, "show", str(sample), SAMPLE_PICK)
    assert code == 0
    order = [
        "[metrics]",
        "[resources]",
        "[constraints]",
        "[gain]",
        "[fairness]",
        "[interpretability]",
        "[edge_cases]",
        "[checks]",
        "[model]",
        "[data]",
        "[environment]",
        "[hardware]",
    ]
    positions = [out.index(section) for section in order]
    assert positions == sorted(positions), "sections out of order"
    _no_reprs(out)
    # the long feature list is cut to five with a count of the rest
    assert "top 5 of 10 features" in out and "… 5 more" in out
    assert "income" in out and "open_loans" not in out
    # constraints are a table: one row per constraint with its value and limit
    constraints = out[out.index("[constraints]") : out.index("[gain]")]
    row = next(line for line in constraints.splitlines() if line.startswith("recall "))
    assert "0.7134" in row and "0.5" in row and "✓" in row
    # lists read as words
    assert "no, yes" in out and "suspect_hits  branch_code" in out
    code, out, _ = _run(capsys, "show", str(sample), SAMPLE_PICK, "--format", "json")
    assert json.loads(out) == store.read_snapshot(sample, SAMPLE_PICK), "json keeps the data"


def test_diff_renders_lists_as_words_metrics_first(sample, capsys) -> None:
    code, out, _ = _run(capsys, "diff", str(sample), SAMPLE_BASELINE, SAMPLE_PICK)
    assert code == 0
    _no_reprs(out)
    assert out.index("validation.f1") < out.index("intrinsic") < out.index("size_bytes")
    assert "income 0.1803" in out and "… 5 more" in out
    code, out, _ = _run(
        capsys, "diff", str(sample), SAMPLE_BASELINE, SAMPLE_PICK, "--format", "json"
    )
    rows = {(r["section"], r["key"]): r for r in json.loads(out)["rows"]}
    features = rows[("interpretability", "top_features")]["b"]
    assert len(features) == 10 and features[0] == {
        "name": "income",
        "importance": 0.180321,
        "std": 0.022014,
    }


def test_show_unknown_and_ambiguous_ids_are_clear_errors(project, add, capsys) -> None:
    root = project[0]
    add("forest")
    add("forest")
    code, _, err = _run(capsys, "show", str(root), "2")
    assert code == 1 and "matches 2 snapshots" in err
    code, _, err = _run(capsys, "show", str(root), "nope")
    assert code == 1 and "no snapshot id starts with 'nope'" in err
    code, _, err = _run(capsys, "show", str(root), "../modelsnap")
    assert code == 2 and "not allowed" in err
    (root / "snapshots" / "20261126T000000-torn-0000.toml").write_text("schema = 1\n[model\n")
    code, out, err = _run(capsys, "show", str(root), "20261126T000000-torn")
    assert code == 1 and out == "" and "not valid TOML" in err


# --------------------------------------------------------------------------- diff


def test_diff_shows_only_differences_with_deltas(project, add, capsys) -> None:
    root = project[0]
    a = add("forest", f1=0.70, content=b"x" * 10)
    b = add("forest", f1=0.75, content=b"y" * 25)
    code, out, _ = _run(capsys, "diff", str(root), a, b, "--format", "json")
    report = json.loads(out)
    assert code == 0 and report["comparable"] is True and report["warnings"] == []
    by_key = {(row["section"], row["key"]): row for row in report["rows"]}
    f1 = by_key[("metrics", "validation.f1")]
    assert f1["a"] == 0.70 and f1["b"] == 0.75 and f1["better"] == "b"
    assert f1["delta"] == pytest.approx(0.05) and f1["relative"] == pytest.approx(0.05 / 0.70)
    assert ("environment", "python") not in by_key, "equal values are hidden"
    assert ("snapshot", "id") not in by_key, "ids always differ: hidden unless --all"
    assert by_key[("model", "size_bytes")]["delta"] == 15
    _, out, _ = _run(capsys, "diff", str(root), a, b, "--all", "--format", "json")
    every = {(r["section"], r["key"]) for r in json.loads(out)["rows"]}
    assert {("environment", "python"), ("snapshot", "id"), ("params", "max_depth")} <= every
    code, out, _ = _run(capsys, "diff", str(root), a, b)
    assert code == 0 and "validation.f1" in out and "+0.05 (+7.1%)" in out


def test_diff_warns_when_snapshots_are_not_comparable(project, add, capsys) -> None:
    root = project[0]
    a = add("forest")
    b = add("forest", split_sha256="d" * 64)
    code, out, _ = _run(capsys, "diff", str(root), a, b, "--format", "json")
    report = json.loads(out)
    assert report["comparable"] is False
    assert "not comparable: the split differs (split_sha256)" in report["warnings"]
    code, out, _ = _run(capsys, "diff", str(root), a, a)
    assert "no differences" in out


# --------------------------------------------------------------------------- check


def _check(capsys, root: Path) -> tuple[int, dict]:
    code, out, _ = _run(capsys, "check", str(root), "--format", "json")
    return code, json.loads(out)


def test_check_passes_on_a_clean_project(project, add, capsys) -> None:
    root = project[0]
    add("forest", real_predictions=True)
    add("logistic", real_predictions=True)
    code, report = _check(capsys, root)
    head = report.pop("ledger_head")
    assert report == {"ok": True, "snapshots": 2, "removed": [], "findings": []}
    assert len(head) == 64  # the last seal of ledger.toml, for a commit message
    assert code == 0
    code, out, _ = _run(capsys, "check", str(root))
    assert code == 0 and "2 snapshots checked: no problems" in out
    assert f"ledger head {head}" in out


def test_check_finds_every_kind_of_damage(project, add, capsys) -> None:
    root = project[0]
    tampered = add("tampered")
    missing = add("missing_predictions")
    other_data = add("other_data", dataset_sha256="c" * 64)
    add("fine")
    bad_revision = add("bad_revision")

    (root / "models" / f"{tampered}.skops").write_bytes(b"swapped model")
    (root / "predictions" / f"{missing}.npz").unlink()
    path = root / "snapshots" / f"{bad_revision}.toml"
    path.write_text(path.read_text().replace("criteria_revision = 1", "criteria_revision = 7"))
    (root / "snapshots" / "20261126T000000-torn-0000.toml").write_text("schema = 1\n[model\n")
    (root / "models" / "20261126T000000-ghost-0000.skops").write_bytes(b"orphan")
    revisions = root / "criteria_revisions.toml"
    revisions.write_text(revisions.read_text().replace("weight = 0.4", "weight = 0.9", 1))
    dead = root / ".modelsnap" / "tmp" / ".tmp-999999999-abc"
    dead.mkdir(parents=True)
    (root / "decisions.toml").write_text(
        "schema = 1\n[[decision]]\nid = 'D0001'\nsnapshot_id = 'gone'\nsha256 = 'x'\n"
    )

    code, report = _check(capsys, root)
    assert code == 1 and report["ok"] is False and report["snapshots"] == 5
    found = {(f["kind"], f["where"]) for f in report["findings"]}
    assert ("files", f"snapshots/{tampered}.toml") in found
    assert ("files", f"snapshots/{missing}.toml") in found
    assert ("data", f"snapshots/{other_data}.toml") in found
    assert ("criteria", f"snapshots/{bad_revision}.toml") in found
    assert ("schema", "snapshots/20261126T000000-torn-0000.toml") in found
    assert ("orphan", "models/20261126T000000-ghost-0000.skops") in found
    assert ("temp", ".modelsnap/tmp/.tmp-999999999-abc") in found
    assert any(kind == "decisions" for kind, _ in found)
    messages = " | ".join(f["message"] for f in report["findings"])
    assert "does not match its recorded sha256" in messages
    assert f"predictions predictions/{missing}.npz is missing" in messages
    assert "gone, which does not exist" in messages
    assert "revision 1 was edited after it was locked" in messages

    # As text: one line per finding, in the JSON's order, each whole (never wrapped, so it can
    # be grepped), info lines marked as such, then the summary.
    code, out, _ = _run(capsys, "check", str(root))
    lines = out.splitlines()
    findings = report["findings"]
    assert code == 1 and len(lines) == len(findings) + 2  # + ledger head, summary
    assert any(len(line) > 100 for line in lines)  # long ones stay whole
    for line, finding in zip(lines, findings, strict=False):
        label = "info" if finding["severity"] == "info" else finding["kind"]
        assert line == f"{label:<10}{finding['where']}: {finding['message']}"
    errors = sum(f["severity"] != "info" for f in findings)
    assert lines[-1].startswith(f"5 snapshots checked: {errors} finding(s)")


def test_check_notices_that_the_data_changed(project, add, capsys) -> None:
    root = project[0]
    snapshot_id = add("forest")
    _csv(root / "data.csv", rows=61)
    code, report = _check(capsys, root)
    assert code == 1
    kinds = [(f["kind"], f["where"]) for f in report["findings"]]
    assert ("data", f"snapshots/{snapshot_id}.toml") in kinds
    assert any(f["kind"] == "data" and "changed" in f["message"] for f in report["findings"])


def test_check_with_a_broken_project_file_still_checks_the_rest(project, add, capsys) -> None:
    root = project[0]
    add("forest")
    (root / "modelsnap.toml").write_text("[data\n")
    code, report = _check(capsys, root)
    assert code == 1 and report["snapshots"] == 1
    assert [f["kind"] for f in report["findings"]] == ["project"]


def test_check_clean_removes_dead_staging_and_old_orphans_only(tmp_path) -> None:
    import os
    import subprocess
    import sys
    import time

    root = tmp_path / "p"
    (root / "models").mkdir(parents=True)
    (root / "predictions").mkdir()
    staging = root / ".modelsnap" / "tmp"
    staging.mkdir(parents=True)
    dead = staging / ".tmp-999999999-abc"
    dead.mkdir()
    live = staging / f".tmp-{os.getpid()}-abc"
    live.write_text("")
    old = root / "models" / "20200101T000000-old-0000.skops"
    young = root / "predictions" / "20261126T000000-young-0000.npz"
    old.write_bytes(b"x")
    young.write_bytes(b"y")
    an_hour_ago = time.time() - 3600
    os.utime(old, (an_hour_ago, an_hour_ago))
    proc = subprocess.run(
        [sys.executable, "-m", "modelsnap", "check", str(root), "--clean", "--format", "json"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    import json

    report = json.loads(proc.stdout)
    assert sorted(report["removed"]) == sorted(
        [".modelsnap/tmp/.tmp-999999999-abc", "models/20200101T000000-old-0000.skops"]
    )
    assert not dead.exists() and not old.exists()
    assert live.exists() and young.exists()  # a live writer's staging and a young orphan stay
    assert any(f["kind"] == "orphan" for f in report["findings"])


def test_show_says_when_the_interval_came_from_little_bags(project, make_body, make_staged, capsys):
    root = project[0]
    body = make_body(name="big")
    body["metrics"]["test_ci_method"] = "little-bags"
    body["metrics"]["test_ci_resamples"] = 1000
    snapshot_id = store.write_snapshot(root, body, staged_files=make_staged(root, b"big"))
    code, out, _ = _run(capsys, "show", str(root), snapshot_id)
    assert code == 0 and "bag of little bootstraps, 1000 resamples" in " ".join(out.split())
    body = make_body(name="small")
    small = store.write_snapshot(root, body, staged_files=make_staged(root, b"small"))
    code, out, _ = _run(capsys, "show", str(root), small)
    assert code == 0 and "little" not in out


def test_ls_and_rank_in_process_leave_the_garbage_collector_as_they_found_it(project, add, capsys):
    """They pause the cyclic collector for their own run only (a caller in the same process,
    such as a notebook or this test run, keeps its collector)."""
    import gc

    root = project[0]
    add("forest")
    assert gc.isenabled()
    for command in ("ls", "rank"):
        _run(capsys, command, str(root), "--format", "json")
        assert gc.isenabled(), command
    gc.disable()
    try:
        _run(capsys, "ls", str(root))
        assert not gc.isenabled()
    finally:
        gc.enable()


@settings(max_examples=200, deadline=None)
@given(
    names=st.lists(
        st.text(max_size=12) | st.sampled_from(['}, {"', '},{"', '"},{"id": 1', "\n", 'é},{"x']),
        min_size=1,
        max_size=5,
    ),
    numbers=st.lists(
        st.none() | st.booleans() | st.floats() | st.integers(min_value=-(2**70), max_value=2**70),
        min_size=5,
        max_size=5,
    ),
)
def test_ls_json_puts_each_object_on_its_own_line_whatever_the_values(names, numbers) -> None:
    """write_json encodes the objects in chunks and splits them between objects: each line is
    one object, compact, keys sorted, whatever text a value holds (quotes, braces, lines),
    and a number that is not finite is written as null (valid JSON), also past 64 bits."""
    import contextlib
    import io
    import math

    from modelsnap.cli import ls_cmd
    from modelsnap.cli.ls_cmd import write_json

    numeric = ("criteria_revision", "latency_p95_ms", "primary_test", "size_mb", "comparable")
    saved, ls_cmd._JSON_CHUNK = ls_cmd._JSON_CHUNK, 2  # the joins between chunks too
    try:
        rows = [
            dict(
                sorted(
                    (
                        {key: None for key in JSON_KEYS}
                        | dict(zip(numeric, numbers, strict=True))
                        | {"name": name, "id": str(i)}
                    ).items()
                )
            )
            for i, name in enumerate(names)
        ]
        out = io.StringIO()
        with contextlib.redirect_stdout(out):
            write_json(rows)
        finite = [
            {
                k: None if isinstance(v, float) and not math.isfinite(v) else v
                for k, v in row.items()
            }
            for row in rows
        ]
        lines = out.getvalue().split("\n")
        assert lines[0] == "[" and lines[-2:] == ["]", ""]
        body = lines[1:-2]
        objects = [json.loads(line.removesuffix(",")) for line in body]
        assert objects == finite and all(list(o) == sorted(o) for o in objects)
        assert all(line.startswith('  {"comparable":') for line in body)
        assert all(line.endswith(",") for line in body[:-1]) and not body[-1].endswith(",")
        assert json.loads(out.getvalue()) == finite
    finally:
        ls_cmd._JSON_CHUNK = saved


def test_ls_json_objects_come_with_sorted_keys(project, add, capsys) -> None:
    """write_json writes keys in the order build_rows puts them: it must be sorted."""
    root = project[0]
    add("forest")
    _code, out, _ = _run(capsys, "ls", str(root), "--format", "json")
    [line] = [line for line in out.splitlines() if line.startswith("  {")]
    assert list(json.loads(line.rstrip(","))) == sorted(JSON_KEYS)


def test_ls_table_in_colour_marks_only_the_alarms_and_keeps_the_columns() -> None:
    """On a terminal ``ls`` paints a violated constraint and a mismatched data set red. The
    escape codes take no room: without them each line is the plain table's line. A model
    that happens to be named NO is not an alarm."""
    import re

    from modelsnap.cli.ls_cmd import format_table

    def listed(snapshot_id: str, name: str, ok: bool | None, comparable: bool | None):
        return {key: None for key in JSON_KEYS} | {
            "id": snapshot_id,
            "name": name,
            "kind": "candidate",
            "version": "",
            "created_at": "2026-12-01T03:00:00Z",
            "primary_metric": "f1",
            "primary_validation": 0.8125,
            "constraints_ok": ok,
            "comparable": comparable,
        }

    rows = [
        listed("a1", "NO", True, True),
        listed("b22", "forest", False, False),
        listed("c333", "lr", None, None),
    ]
    plain = format_table([dict(row) for row in rows])
    painted = format_table([dict(row) for row in rows], color=True)
    unpainted = re.sub(r"\x1b\[[0-9;]*m", "", painted)
    assert [line.rstrip() for line in unpainted.splitlines()] == plain.splitlines()
    red = re.findall(r"\x1b\[31m([^\x1b]*)\x1b\[0m", painted)
    assert [cell.strip() for cell in red] == ["VIOLATED", "NO"]
    assert painted.splitlines()[1].startswith("a1    NO ")  # the model's name: not painted
    assert painted.startswith("\x1b[1mid ")
    header = plain.splitlines()[0]
    assert header.endswith("comparable")
    assert max(len(line) for line in plain.splitlines()) == len(header)
