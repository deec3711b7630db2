"""modelsnap.toml: every key validated with one clear message; writing and comment-keeping edits."""

from __future__ import annotations

import contextlib
import tomllib
from pathlib import Path

import pytest
import tomli_w
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from modelsnap.core.errors import ProjectFileError
from modelsnap.core.project.edit import update_project, write_new_project
from modelsnap.core.project.parse import load_project, parse_project
from modelsnap.core.project.schema import PROJECT_FILE

SAMPLE = Path(__file__).resolve().parents[2] / "sample_project"


def minimal() -> dict:
    return {
        "data": {"source": "data.csv", "target": "y"},
        "criteria": [{"metric": "f1", "weight": 1.0}],
        "baseline": {"name": "logistic", "estimator": "sklearn.linear_model.LogisticRegression"},
        "candidates": [
            {
                "name": "rf",
                "estimator": "sklearn.ensemble.RandomForestClassifier",
                "params": {"n_estimators": 10},
            }
        ],
    }


def write(root: Path, doc: dict) -> Path:
    (root / PROJECT_FILE).write_text(tomli_w.dumps(doc), encoding="utf-8")
    return root


def error_for(tmp_path: Path, doc: dict) -> str:
    with pytest.raises(ProjectFileError) as info:
        load_project(write(tmp_path, doc))
    assert info.value.exit_code == 2
    return str(info.value)


def test_minimal_file_gets_documented_defaults(tmp_path: Path) -> None:
    config = load_project(write(tmp_path, minimal()))
    assert config.name == tmp_path.name
    assert config.data.seed == 42 and config.data.validation_fraction == 0.2
    assert config.data.stratify is True and config.data.task is None
    assert config.preprocess.numeric_impute == "median"
    assert config.selection.profile == "balanced" and config.selection.rank_split == "validation"
    assert config.criteria[0].direction == "max"
    assert config.run.threads == 1 and config.run.latency_trials == 300
    assert [m.name for m in config.models] == ["logistic", "rf"]
    assert config.baseline.kind == "baseline" and config.candidates[0].kind == "candidate"
    assert config.candidates[0].version == "v1" and config.candidates[0].params == {
        "n_estimators": 10
    }
    assert config.primary_metric == "f1"
    assert config.model("rf").estimator.endswith("RandomForestClassifier")


def test_sample_project_loads() -> None:
    config = load_project(SAMPLE)
    assert config.data.sensitive == ["sex", "age_band"]
    assert config.data.edge_cases == "edge_cases.csv"
    assert len(config.candidates) >= 3
    assert config.constraints["min_metric"] == {"recall": 0.5}


def test_error_message_names_file_key_found_and_expected(tmp_path: Path) -> None:
    doc = minimal()
    doc["constraints"] = {"max_size_mb": "big"}
    assert (
        error_for(tmp_path, doc)
        == 'modelsnap.toml: [constraints].max_size_mb: expected a number > 0, found "big"'
    )


@pytest.mark.parametrize(
    ("section", "change", "fragment"),
    [
        ("data", {"shoe_size": 3}, "unknown key shoe_size"),
        (
            "data",
            {"validation_fraction": 0},
            "[data].validation_fraction: expected a fraction in (0, 1), found 0",
        ),
        ("data", {"test_fraction": 1.5}, "[data].test_fraction"),
        ("data", {"validation_fraction": 0.5, "test_fraction": 0.5}, "a sum < 1"),
        (
            "data",
            {"task": "clustering"},
            '[data].task: expected one of "classification", "regression"',
        ),
        ("data", {"source": "../outside.csv"}, "outside the project folder"),
        ("data", {"source": "/etc/passwd"}, "is absolute"),
        ("data", {"source": "sklearn:mnist"}, "[data].source"),
        ("data", {"drop": ["y"]}, "not the target"),
        ("data", {"drop": "id"}, "[data].drop: expected an array of column names"),
        ("data", {"seed": -1}, "[data].seed"),
        ("data", {"seed": 1.5}, "[data].seed: expected an integer"),
        ("data", {"stratify": "yes"}, "[data].stratify: expected true or false"),
        ("preprocess", {"numeric_scale": "log"}, "[preprocess].numeric_scale"),
        ("selection", {"primary_metric": "speed"}, "[selection].primary_metric"),
        ("selection", {"rank_split": "train"}, "[selection].rank_split"),
        ("constraints", {"max_latency_p99_ms": 5.0}, "unknown key max_latency_p99_ms"),
        (
            "constraints",
            {"max_latency_p95_ms": -1},
            "[constraints].max_latency_p95_ms: expected a number > 0, found -1",
        ),
        ("constraints", {"min_interpretability": 2}, "[constraints].min_interpretability"),
        ("constraints", {"min_metric": {"latency": 0.5}}, "[constraints].min_metric.latency"),
        ("run", {"threads": 0}, "[run].threads"),
        ("run", {"timeout_seconds": True}, "[run].timeout_seconds"),
    ],
)
def test_bad_values_are_named(tmp_path: Path, section: str, change: dict, fragment: str) -> None:
    doc = minimal()
    doc.setdefault(section, {}).update(change)
    message = error_for(tmp_path, doc)
    assert message.startswith("modelsnap.toml")
    assert fragment in message


def test_unknown_top_level_table(tmp_path: Path) -> None:
    doc = minimal() | {"criterion": [{"metric": "f1"}]}
    assert "unknown table criterion" in error_for(tmp_path, doc)


@pytest.mark.parametrize(
    ("criteria", "fragment"),
    [
        ([{"metric": "speed", "weight": 1}], "#1.metric: expected a measure name"),
        ([{"metric": "f1", "weight": -1}], "#1.weight: expected a number >= 0"),
        ([{"metric": "f1"}], "#1.weight"),
        (
            [{"metric": "f1", "weight": 0}, {"metric": "size_mb", "weight": 0}],
            "at least one weight > 0",
        ),
        ([{"metric": "f1", "weight": 1, "direction": "up"}], "#1.direction"),
        ([{"metric": "f1", "weight": 1}, {"metric": "f1", "weight": 2}], "each measure once"),
        ([{"metric": "f1", "weight": 1, "colour": "red"}], "unknown key colour"),
    ],
)
def test_bad_criteria(tmp_path: Path, criteria: list, fragment: str) -> None:
    doc = minimal() | {"criteria": criteria}
    assert fragment in error_for(tmp_path, doc)


def test_regression_metric_refused_for_classification(tmp_path: Path) -> None:
    doc = minimal()
    doc["data"]["task"] = "classification"
    doc["criteria"] = [{"metric": "rmse", "weight": 1}]
    assert "expected a measure name" in error_for(tmp_path, doc)


def test_criterion_direction_defaults_from_measure(tmp_path: Path) -> None:
    doc = minimal() | {
        "criteria": [{"metric": "latency_p95_ms", "weight": 1}, {"metric": "f1", "weight": 1}]
    }
    config = load_project(write(tmp_path, doc))
    assert [c.direction for c in config.criteria] == ["min", "max"]


@pytest.mark.parametrize(
    ("model", "fragment"),
    [
        ({"name": "../evil", "estimator": "sklearn.svm.SVC"}, "[[candidates]] #1.name"),
        ({"name": ".hidden", "estimator": "sklearn.svm.SVC"}, "is not allowed"),
        ({"name": "svm", "estimator": "SVC"}, "expected a dotted import path"),
        ({"name": "svm", "estimator": "sklearn.svm.SVC()"}, "expected a dotted import path"),
        ({"name": "svm"}, "#1.estimator: expected a non-empty string, found nothing"),
        ({"name": "svm", "estimator": "sklearn.svm.SVC", "params": [1]}, "#1.params"),
        ({"name": "svm", "estimator": "sklearn.svm.SVC", "grid": {"C": 1}}, "#1.grid.C"),
        (
            {"name": "svm", "estimator": "sklearn.svm.SVC", "grid": {"C": list(range(100))}},
            "grid points",
        ),
        (
            {
                "name": "svm",
                "estimator": "sklearn.svm.SVC",
                "params": {"C": 1},
                "grid": {"C": [1, 2]},
            },
            "not also fixed in params",
        ),
        (
            {"name": "svm", "estimator": "sklearn.svm.SVC", "timeout_seconds": 0},
            "#1.timeout_seconds",
        ),
        ({"name": "svm", "estimator": "sklearn.svm.SVC", "speed": "fast"}, "unknown key speed"),
        ({"name": "logistic", "estimator": "sklearn.svm.SVC"}, "a name not used by another model"),
    ],
)
def test_bad_models(tmp_path: Path, model: dict, fragment: str) -> None:
    doc = minimal() | {"candidates": [model]}
    assert fragment in error_for(tmp_path, doc)


def test_missing_file_and_bad_toml(tmp_path: Path) -> None:
    with pytest.raises(ProjectFileError, match="no modelsnap.toml") as info:
        load_project(tmp_path)
    assert "modelsnap init" in str(info.value)
    (tmp_path / PROJECT_FILE).write_text("[data\nsource = 1", encoding="utf-8")
    with pytest.raises(ProjectFileError, match="not valid TOML"):
        load_project(tmp_path)
    (tmp_path / PROJECT_FILE).write_bytes(b"\xff\xfe[data]")
    with pytest.raises(ProjectFileError, match="UTF-8"):
        load_project(tmp_path)


toml_scalars = st.one_of(
    st.integers(-(10**6), 10**6),
    st.floats(allow_nan=False, allow_infinity=False),
    st.text(max_size=8),
    st.booleans(),
)
toml_values = st.recursive(
    toml_scalars,
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner, max_size=3)
    ),
    max_leaves=6,
)
sections = st.sampled_from(
    ["project", "data", "preprocess", "selection", "constraints", "run", "baseline"]
)


@settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(section=sections, key=st.text(min_size=1, max_size=12), value=toml_values)
def test_fuzzed_files_load_or_raise_project_file_error(
    tmp_path: Path, section: str, key: str, value
) -> None:
    doc = minimal()
    doc.setdefault(section, {})[key] = value
    try:
        parse_project(doc, tmp_path)
    except ProjectFileError as error:
        assert str(error).startswith("modelsnap.toml")


@settings(max_examples=100, deadline=None)
@given(text=st.text(max_size=200))
def test_arbitrary_text_never_escapes_as_another_exception(text: str) -> None:
    try:
        doc = tomllib.loads(text)
    except tomllib.TOMLDecodeError:
        return
    with contextlib.suppress(ProjectFileError):
        parse_project(doc, Path("."))


def test_write_new_project_round_trips_and_refuses_overwrite(tmp_path: Path) -> None:
    config = write_new_project(
        tmp_path,
        data_source="credit.csv",
        target="default",
        task="classification",
        profile="speed-first",
        drop=["id"],
        sensitive=["sex"],
        positive_label="yes",
    )
    text = (tmp_path / PROJECT_FILE).read_text(encoding="utf-8")
    assert "# " in text  # short comments for the user
    loaded = load_project(tmp_path)
    assert loaded == config
    assert loaded.criteria[0].metric == "latency_p95_ms" and loaded.criteria[0].weight >= 0.6
    assert loaded.baseline.estimator == "sklearn.linear_model.LogisticRegression"
    assert [spec.estimator.rsplit(".", 1)[1] for spec in loaded.candidates] == [
        "RandomForestClassifier",
        "HistGradientBoostingClassifier",
        "MLPClassifier",
    ]
    with pytest.raises(ProjectFileError, match="already exists"):
        write_new_project(tmp_path, data_source="x.csv", target="t", task="classification")
    assert (tmp_path / PROJECT_FILE).read_text(encoding="utf-8") == text
    forced = write_new_project(
        tmp_path, data_source="x.csv", target="t", task="regression", force=True
    )
    assert forced.baseline.estimator == "sklearn.linear_model.LinearRegression"
    assert forced.primary_metric == "r2"


def test_write_new_project_validates_before_writing(tmp_path: Path) -> None:
    with pytest.raises(ProjectFileError):
        write_new_project(tmp_path, data_source="../x.csv", target="t", task="classification")
    assert not (tmp_path / PROJECT_FILE).exists()


def test_update_project_keeps_comments_and_validates(tmp_path: Path) -> None:
    write_new_project(tmp_path, data_source="credit.csv", target="default", task="classification")
    path = tmp_path / PROJECT_FILE
    path.write_text(
        path.read_text(encoding="utf-8").replace(
            "[constraints]", "# my own note about limits\n[constraints]"
        ),
        encoding="utf-8",
    )
    config = update_project(
        tmp_path,
        {
            "criteria": [{"metric": "f1", "weight": 0.7}, {"metric": "size_mb", "weight": 0.3}],
            "constraints": {
                "max_size_mb": 5.0,
                "max_fairness_gap": None,
                "min_metric": {"recall": 0.6},
            },
            "selection": {"profile": "custom"},
            "data": {"sensitive": ["sex", "age_band"]},
        },
    )
    text = path.read_text(encoding="utf-8")
    assert "# my own note about limits" in text
    assert "# BLAS/OpenMP threads" in text
    assert [(c.metric, c.weight) for c in config.criteria] == [("f1", 0.7), ("size_mb", 0.3)]
    assert config.constraints["max_size_mb"] == 5.0 and "max_fairness_gap" not in config.constraints
    assert config.constraints["min_metric"] == {"recall": 0.6}
    assert config.selection.profile == "custom"
    assert load_project(tmp_path) == config

    before = path.read_bytes()
    with pytest.raises(ProjectFileError, match=r"\[constraints\].max_size_mb"):
        update_project(tmp_path, {"constraints": {"max_size_mb": "big"}})
    with pytest.raises(ProjectFileError, match="cannot edit"):
        update_project(tmp_path, {"candidates": []})
    assert path.read_bytes() == before
