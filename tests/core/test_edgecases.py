"""Edge-case files: strict loading with messages that name the problem, scoring, latest runs."""

from __future__ import annotations

import csv
import io
import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import tomli_w
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sklearn.compose import ColumnTransformer
from sklearn.impute import SimpleImputer
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import OneHotEncoder
from sklearn.tree import DecisionTreeClassifier, DecisionTreeRegressor

from modelsnap.core.errors import DataError
from modelsnap.core.evaluation.edgecases import (
    EDGE_RUNS_DIR,
    SEVERITIES,
    default_tolerance,
    feature_kinds,
    latest_edge_results,
    load_edge_cases,
    run_cases,
)

COLUMNS = {"income": "numeric", "debt_ratio": "numeric", "housing": "categorical"}


def _write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


def _load(path: Path, task: str = "classification", **kwargs):
    kwargs.setdefault("classes", ["no", "yes"] if task == "classification" else None)
    return load_edge_cases(path, columns=COLUMNS, target="default", task=task, **kwargs)


GOOD = (
    "case,income,debt_ratio,housing,default,severity\n"
    "zero income,0,0.9,rent,yes,must-pass\n"
    ",120000,0.1,,no,\n"
    "unseen housing,50000,0.3,castle,no,HIGH\n"
)


def test_good_file_loads(tmp_path: Path) -> None:
    cases = _load(_write(tmp_path / "edge.csv", GOOD))
    assert len(cases) == 3
    assert cases.cases == ["zero income", "case 2", "unseen housing"]
    assert cases.severities == ["must-pass", "normal", "high"]
    assert cases.expected == ["yes", "no", "no"]
    frame = cases.frame()
    assert list(frame.columns) == list(COLUMNS)
    assert frame["income"].dtype == np.float64
    assert frame["housing"].isna().tolist() == [False, True, False]
    assert len(cases.sha256) == 64


@pytest.mark.parametrize(
    ("text", "needles"),
    [
        ("case,income,housing,default\nx,1,rent,yes\n", ["missing column(s) 'debt_ratio'"]),
        (
            "income,debt_ratio,housing,default,customer_id\n1,2,rent,yes,9\n",
            ["unknown column(s) 'customer_id'"],
        ),
        (
            "income,housing,default,extra\n1,rent,yes,9\n",
            ["missing column(s) 'debt_ratio'", "unknown column(s) 'extra'"],
        ),
        (
            "income,debt_ratio,housing,default,tolerance\n1,2,rent,yes,1\n",
            ["unknown column(s) 'tolerance'"],
        ),
        (
            "income,debt_ratio,housing,default\nlots,0.2,rent,yes\n",
            ["line 2, column 'income': 'lots' is not a number"],
        ),
        (
            "income,debt_ratio,housing,default\n1,inf,rent,yes\n",
            ["column 'debt_ratio': 'inf' is not a finite number"],
        ),
        (
            "income,debt_ratio,housing,default\n1,0.2,rent,maybe\n",
            ["'maybe' is not a class of the data set ('no', 'yes')"],
        ),
        ("income,debt_ratio,housing,default\n1,0.2,rent,\n", ["the expected target is empty"]),
        (
            "income,debt_ratio,housing,default,severity\n1,0.2,rent,no,urgent\n",
            ["'urgent' is not one of must-pass, high, normal"],
        ),
        ("income,debt_ratio,housing,default\n1,0.2,rent\n", ["line 2: 3 cells, the header has 4"]),
        (
            "income,income,debt_ratio,housing,default\n1,1,0.2,rent,no\n",
            ["repeats the column(s) 'income'"],
        ),
        ("income,debt_ratio,housing,default\n", ["has a header but no cases"]),
        ("", ["edge-case file is empty"]),
    ],
)
def test_bad_files_are_named(tmp_path: Path, text: str, needles: list[str]) -> None:
    path = _write(tmp_path / "edge.csv", text)
    with pytest.raises(DataError) as info:
        _load(path, display_name="edge_cases.csv")
    message = str(info.value)
    assert message.startswith("edge_cases.csv: ")
    for needle in needles:
        assert needle in message


def test_many_bad_values_are_summarised(tmp_path: Path) -> None:
    rows = "".join(f"bad{i},0.2,rent,no\n" for i in range(9))
    path = _write(tmp_path / "edge.csv", "income,debt_ratio,housing,default\n" + rows)
    with pytest.raises(DataError, match="and 4 more"):
        _load(path)


def test_missing_and_binary_files(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="edge-case file not found"):
        _load(tmp_path / "nope.csv")
    (tmp_path / "bin.csv").write_bytes(b"\xff\xfe\x00\x01")
    with pytest.raises(DataError, match="not UTF-8"):
        _load(tmp_path / "bin.csv")


def test_regression_tolerance_column(tmp_path: Path) -> None:
    path = _write(
        tmp_path / "edge.csv",
        "income,debt_ratio,housing,default,tolerance\n1,2,rent,3.5,0.5\n1,2,rent,4,\n",
    )
    cases = _load(path, task="regression")
    assert cases.expected == [3.5, 4.0]
    assert cases.tolerances == [0.5, None]
    bad = _write(tmp_path / "bad.csv", "income,debt_ratio,housing,default,tolerance\n1,2,r,3,-1\n")
    with pytest.raises(DataError, match="'-1' is not a number >= 0"):
        _load(bad, task="regression")


_cell = st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=12)


FIXTURE_OK = [HealthCheck.function_scoped_fixture]


@settings(max_examples=150, deadline=None, suppress_health_check=FIXTURE_OK)
@given(
    header=st.lists(st.sampled_from([*COLUMNS, "default", "case", "severity", "zzz"]), max_size=7),
    rows=st.lists(st.lists(_cell, max_size=7), max_size=4),
)
def test_loader_never_fails_with_anything_but_a_data_error(tmp_path: Path, header, rows) -> None:
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(header)
    writer.writerows(rows)
    path = _write(tmp_path / "fuzz.csv", buffer.getvalue())
    try:
        cases = _load(path)
    except DataError as error:
        assert str(error).strip()
    else:
        assert len(cases) == len([r for r in rows if any(c.strip() for c in r)])


_number = st.floats(allow_nan=False, allow_infinity=False, width=32)
_word = st.text(alphabet="abcdefghij -_", min_size=1, max_size=8).filter(
    lambda s: s.strip() and s.strip().lower() not in {"na", "nan", "null", "none"}
)


@settings(max_examples=100, deadline=None, suppress_health_check=FIXTURE_OK)
@given(
    st.lists(
        st.tuples(
            _number, _number, _word, st.sampled_from(["no", "yes"]), st.sampled_from(SEVERITIES)
        ),
        min_size=1,
        max_size=6,
    )
)
def test_valid_rows_round_trip(tmp_path: Path, rows) -> None:
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(["default", "housing", "debt_ratio", "income", "severity"])  # any order
    for income, debt, housing, label, severity in rows:
        writer.writerow([label, housing, repr(debt), repr(income), severity])
    cases = _load(_write(tmp_path / "ok.csv", buffer.getvalue()))
    assert cases.expected == [r[3] for r in rows]
    assert cases.severities == [r[4] for r in rows]
    assert [row["income"] for row in cases.rows] == [float(r[0]) for r in rows]
    assert [row["housing"] for row in cases.rows] == [r[2].strip() for r in rows]


def _classifier() -> Pipeline:
    """Learns 'yes' exactly when income < 20,000 (housing one-hot, ignored by the tree)."""
    rng = np.random.default_rng(0)
    frame = pd.DataFrame(
        {
            "income": rng.uniform(0, 100_000, 400),
            "debt_ratio": rng.uniform(0, 1, 400),
            "housing": rng.choice(["rent", "own"], 400),
        }
    )
    y = np.where(frame["income"] < 20_000, "yes", "no")
    pre = ColumnTransformer(
        [
            ("num", SimpleImputer(strategy="median"), ["income", "debt_ratio"]),
            (
                "cat",
                Pipeline(
                    [
                        ("i", SimpleImputer(strategy="most_frequent")),
                        ("o", OneHotEncoder(handle_unknown="error")),
                    ]
                ),
                ["housing"],
            ),
        ]
    )
    return Pipeline([("pre", pre), ("model", DecisionTreeClassifier(max_depth=2))]).fit(frame, y)


def test_known_failure_is_reported(tmp_path: Path) -> None:
    text = (
        "case,income,debt_ratio,housing,default,severity\n"
        "zero income,0,0.5,rent,yes,must-pass\n"
        "rich but drowning in debt,150000,9.5,own,yes,must-pass\n"  # the model cannot know
        "rich,150000,0.1,own,no,high\n"
        "unseen housing,50000,0.3,castle,no,normal\n"  # encoder raises
        "missing housing,50000,0.3,,no,normal\n"
    )
    cases = _load(_write(tmp_path / "edge.csv", text))
    result = run_cases(_classifier(), cases, task="classification")
    assert result["n_cases"] == 5 and result["n_passed"] == 3
    assert result["must_pass_failed"] == 1
    failures = {f["case"]: f for f in result["failures"]}
    assert failures["rich but drowning in debt"] == {
        "case": "rich but drowning in debt",
        "expected": "yes",
        "predicted": "no",
        "severity": "must-pass",
    }
    assert failures["unseen housing"]["predicted"] == "(error)"
    assert "castle" in failures["unseen housing"]["error"]
    tomli_w.dumps({"edge_cases": result})


def test_regression_pass_within_tolerance(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    frame = pd.DataFrame(
        {
            "income": rng.uniform(0, 10, 200),
            "debt_ratio": rng.uniform(0, 1, 200),
            "housing": ["rent"] * 200,
        }
    )
    y = np.floor(frame["income"].to_numpy())
    model = Pipeline(
        [
            ("pre", ColumnTransformer([("n", "passthrough", ["income"])])),
            ("m", DecisionTreeRegressor(random_state=0)),
        ]
    ).fit(frame, y)
    text = (
        "case,income,debt_ratio,housing,default,tolerance\n"
        "exact,3.5,0,rent,3,\n"
        "off by two,3.5,0,rent,5,\n"
        "off by two but tolerant,3.5,0,rent,5,2.5\n"
    )
    cases = _load(_write(tmp_path / "edge.csv", text), task="regression")
    result = run_cases(model, cases, task="regression", tolerance=default_tolerance(y))
    assert [f["case"] for f in result["failures"]] == ["off by two"]
    assert result["failures"][0]["predicted"] == pytest.approx(3.0)
    assert default_tolerance(y) == pytest.approx(0.1 * np.std(y))
    assert default_tolerance([2.0, 2.0]) > 0


def test_feature_kinds() -> None:
    frame = pd.DataFrame({"a": [1, 2], "b": ["x", "y"], "c": [True, False], "d": [0.5, math.nan]})
    assert feature_kinds(frame) == {
        "a": "numeric",
        "b": "categorical",
        "c": "categorical",
        "d": "numeric",
    }


def test_latest_edge_results_newest_wins_and_broken_files_are_skipped(tmp_path: Path) -> None:
    runs = tmp_path / EDGE_RUNS_DIR
    runs.mkdir()
    assert latest_edge_results(tmp_path) == {}

    def record(run_id: str, results: list[dict]) -> None:
        body = {
            "schema": 1,
            "id": run_id,
            "created_at": f"t-{run_id}",
            "file": "edge_cases.csv",
            "file_sha256": f"sha-{run_id}",
            "result": results,
        }
        (runs / f"{run_id}.toml").write_text(tomli_w.dumps(body))

    one = {"snapshot_id": "s1", "n_cases": 3, "n_passed": 1, "must_pass_failed": 1, "failures": []}
    record("20261126T070000-edge-aaaa", [one, {**one, "snapshot_id": "s2"}])
    record("20261126T080000-edge-bbbb", [{**one, "n_passed": 3}])
    (runs / "20261126T090000-edge-cccc.toml").write_text("this is [not toml")
    latest = latest_edge_results(tmp_path)
    assert latest["s1"]["n_passed"] == 3 and latest["s1"]["run_id"] == "20261126T080000-edge-bbbb"
    assert latest["s1"]["file_sha256"] == "sha-20261126T080000-edge-bbbb"
    assert latest["s2"]["n_passed"] == 1


def test_sample_project_edge_cases_fit_its_data() -> None:
    from modelsnap.core.evaluation.data import load_dataset
    from modelsnap.core.evaluation.edgecases import edge_cases_for_dataset
    from modelsnap.core.project.parse import load_project

    root = Path(__file__).resolve().parents[2] / "sample_project"
    config = load_project(root)
    cases = edge_cases_for_dataset(root / config.data.edge_cases, load_dataset(config))
    assert len(cases) == 12
    assert cases.severities.count("must-pass") == 3
    assert set(cases.expected) == {"yes", "no"}
    assert len(set(cases.cases)) == 12


def test_reading_edge_runs_stays_on_the_fast_path() -> None:
    """ranking and the TUI's first screen import this module: no pandas, numpy or sklearn."""
    import json
    import subprocess
    import sys

    code = (
        "import json, sys, modelsnap.core.evaluation.edgecases as e\n"
        "e.latest_edge_results('.')\n"
        "print(json.dumps(sorted(sys.modules)))"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    loaded = set(json.loads(done.stdout))
    assert not {"pandas", "numpy", "sklearn", "scipy"} & loaded


def test_line_numbers_count_physical_lines(tmp_path: Path) -> None:
    text = (
        "case,income,debt_ratio,housing,default\n"
        '"two\nline name",1,0.2,rent,no\n'
        "\n"
        "bad,1,lots,rent,no\n"
    )
    with pytest.raises(DataError, match="line 5, column 'debt_ratio': 'lots' is not a number"):
        _load(_write(tmp_path / "edge.csv", text))


_toml_values = st.recursive(
    st.booleans() | st.integers(-10, 10) | st.text(max_size=5),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=4), inner, max_size=3)
    ),
    max_leaves=8,
)


@settings(max_examples=100, deadline=None, suppress_health_check=FIXTURE_OK)
@given(
    st.one_of(
        st.binary(max_size=64),
        st.fixed_dictionaries(
            {
                "result": st.lists(
                    st.fixed_dictionaries(
                        {"snapshot_id": st.sampled_from(["s1", "s2"])},
                        optional={"n_cases": _toml_values},
                    ),
                    max_size=2,
                )
            },
            optional={k: _toml_values for k in ("id", "created_at", "file_sha256")},
        ).map(lambda d: tomli_w.dumps(d).encode()),
    )
)
def test_latest_edge_results_never_raises_on_odd_records(tmp_path: Path, content: bytes) -> None:
    runs = tmp_path / EDGE_RUNS_DIR
    runs.mkdir(exist_ok=True)
    (runs / "20261126T070000-edge-ffff.toml").write_bytes(content)
    latest = latest_edge_results(tmp_path)
    for snapshot_id, result in latest.items():
        assert isinstance(snapshot_id, str) and result["snapshot_id"] == snapshot_id
        assert all(isinstance(result[k], str) for k in ("run_id", "created_at", "file_sha256"))
