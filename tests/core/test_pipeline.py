"""The shared preprocessing and estimators imported by dotted path."""

from __future__ import annotations

import sys
import tomllib
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import tomli_w
from hypothesis import given
from hypothesis import strategies as st
from sklearn.ensemble import RandomForestClassifier
from sklearn.linear_model import LogisticRegression

from modelsnap.core.errors import ProjectFileError
from modelsnap.core.evaluation.pipeline import (
    build_estimator,
    build_preprocessor,
    check_model,
    column_kinds,
    import_estimator,
    make_pipeline,
    set_params_checked,
    toml_params,
)
from modelsnap.core.project.parse import parse_project
from modelsnap.core.project.schema import ModelSpec


def config_for(tmp_path: Path, **preprocess):
    return parse_project(
        {"data": {"source": "d.csv", "target": "y"}, "preprocess": preprocess}, tmp_path
    )


def frame(n: int = 60) -> pd.DataFrame:
    rng = np.random.default_rng(1)
    data = pd.DataFrame(
        {
            "age": rng.integers(18, 80, n).astype(float),
            "income": rng.normal(50, 10, n),
            "city": rng.choice(["a", "b", "c"], n).astype(object),
            "member": rng.choice([True, False], n),
        }
    )
    data.loc[::7, "income"] = np.nan
    data.loc[::9, "city"] = None
    return data


def test_column_kinds() -> None:
    assert column_kinds(frame()) == (["age", "income"], ["city", "member"])


@pytest.mark.parametrize(
    "settings",
    [
        {},
        {"numeric_impute": "mean", "numeric_scale": "minmax", "categorical_encode": "ordinal"},
        {"numeric_scale": "robust", "categorical_impute": "constant"},
        {"numeric_impute": "most_frequent", "numeric_scale": "none", "max_categories": 2},
    ],
)
def test_preprocessor_handles_missing_values_and_unseen_categories(
    tmp_path: Path, settings
) -> None:
    config = config_for(tmp_path, **settings)
    data = frame()
    y = (data["age"] > 45).map({True: "old", False: "young"})
    pipeline = make_pipeline(config, data, LogisticRegression(max_iter=500))
    pipeline.fit(data, y)
    unseen = data.head(3).copy()
    unseen["city"] = ["zzz", None, "a"]
    assert len(pipeline.predict(unseen)) == 3
    assert not np.isnan(pipeline.named_steps["preprocess"].transform(data)).any()
    assert list(pipeline.named_steps) == ["preprocess", "model"]


def test_onehot_groups_rare_categories(tmp_path: Path) -> None:
    data = pd.DataFrame({"c": [f"k{i % 30}" for i in range(300)], "x": np.arange(300.0)})
    transformer = build_preprocessor(config_for(tmp_path, max_categories=5), data)
    assert transformer.fit_transform(data).shape[1] == 1 + 5


def test_import_installed_estimator(tmp_path: Path) -> None:
    assert (
        import_estimator("sklearn.ensemble.RandomForestClassifier", tmp_path)
        is RandomForestClassifier
    )


def test_import_from_project_folder_without_leaving_it_on_sys_path(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MODELSNAP_TRUST_CODE", "my_models_ab12")  # trusted by name
    (tmp_path / "my_models_ab12.py").write_text(
        "from sklearn.base import BaseEstimator, ClassifierMixin\n"
        "import numpy as np\n"
        "class Majority(ClassifierMixin, BaseEstimator):\n"
        "    def __init__(self, smoothing=0.0):\n"
        "        self.smoothing = smoothing\n"
        "    def fit(self, X, y):\n"
        "        values, counts = np.unique(y, return_counts=True)\n"
        "        self.classes_ = values; self.label_ = values[counts.argmax()]; return self\n"
        "    def predict(self, X):\n"
        "        return np.full(len(X), self.label_)\n",
        encoding="utf-8",
    )
    cls = import_estimator("my_models_ab12.Majority", tmp_path)
    assert cls.__name__ == "Majority"
    assert str(tmp_path.resolve()) not in sys.path
    spec = ModelSpec(name="m", estimator="my_models_ab12.Majority", params={"smoothing": 0.5})
    assert build_estimator(spec, tmp_path).smoothing == 0.5


@pytest.mark.parametrize(
    ("path", "fragment"),
    [
        ("sklearn.ensemble.RandomForest", "has no attribute 'RandomForest'"),
        ("nosuchpkg_xyz.Model", "no module named 'nosuchpkg_xyz'"),
        ("os.path", "not a scikit-learn-compatible estimator"),
        ("sklearn.preprocessing.StandardScaler", "not a scikit-learn-compatible estimator"),
        ("broken_mod_q9.Model", "SyntaxError"),
        ("Model", "not a dotted path"),
    ],
)
def test_import_errors_are_clear(
    tmp_path: Path, path: str, fragment: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MODELSNAP_TRUST_CODE", "broken_mod_q9")  # trusted, and broken
    (tmp_path / "broken_mod_q9.py").write_text("def (:\n", encoding="utf-8")
    with pytest.raises(ProjectFileError) as info:
        import_estimator(path, tmp_path, where="modelsnap.toml: [[candidates]] x.estimator")
    assert fragment in str(info.value)
    assert "[[candidates]] x.estimator" in str(info.value)


def test_unknown_param_lists_valid_ones(tmp_path: Path) -> None:
    spec = ModelSpec(
        name="rf", estimator="sklearn.ensemble.RandomForestClassifier", params={"n_trees": 10}
    )
    with pytest.raises(ProjectFileError) as info:
        build_estimator(spec, tmp_path)
    message = str(info.value)
    assert "RandomForestClassifier has no parameter n_trees" in message
    assert "n_estimators" in message and "[[candidates]] rf.params" in message


def test_build_estimator_grid_point_and_threads(tmp_path: Path) -> None:
    spec = ModelSpec(
        name="rf", estimator="sklearn.ensemble.RandomForestClassifier", params={"n_estimators": 7}
    )
    estimator = build_estimator(spec, tmp_path, params={"max_depth": 3}, n_jobs=1)
    assert (estimator.n_estimators, estimator.max_depth, estimator.n_jobs) == (7, 3, 1)
    user_jobs = ModelSpec(name="rf", estimator=spec.estimator, params={"n_jobs": 2})
    assert build_estimator(user_jobs, tmp_path, n_jobs=1).n_jobs == 2
    no_jobs = ModelSpec(name="lr", estimator="sklearn.linear_model.LinearRegression")
    assert build_estimator(no_jobs, tmp_path, n_jobs=1).n_jobs == 1  # LinearRegression has n_jobs
    svc = ModelSpec(name="svc", estimator="sklearn.svm.SVC")
    assert "n_jobs" not in build_estimator(svc, tmp_path, n_jobs=1).get_params()


def test_set_params_checked_wraps_value_errors() -> None:
    with pytest.raises(ProjectFileError, match="no parameter"):
        set_params_checked(LogisticRegression(), {"colour": 1})


def test_check_model_runs_the_estimators_own_validation(tmp_path: Path) -> None:
    path = "sklearn.neighbors.KNeighborsClassifier"
    with pytest.raises(ProjectFileError) as caught:
        check_model(path, {"n_neighbors": -3}, tmp_path, where="candidate 'knn'")
    text = str(caught.value)
    expected = "InvalidParameterError: The 'n_neighbors' parameter of KNeighborsClassifier must be"
    assert expected in text
    assert "Got -3 instead." in text and text.startswith("candidate 'knn': ")
    with pytest.raises(ProjectFileError, match="no parameter"):
        check_model(path, {"k": 3}, tmp_path)
    assert check_model(path, {"n_neighbors": 3}, tmp_path).n_neighbors == 3


class _NoValidation:
    def __init__(self, size=1):
        self.size = size

    def get_params(self, deep=False):
        return {"size": self.size}

    def set_params(self, **params):
        self.__dict__.update(params)
        return self

    def fit(self, x, y):
        return self

    def predict(self, x):
        return x


def test_check_model_accepts_estimators_without_validation(tmp_path: Path, monkeypatch) -> None:
    module = type(sys)("plain_models")
    module.NoValidation = _NoValidation
    monkeypatch.setitem(sys.modules, "plain_models", module)
    assert check_model("plain_models.NoValidation", {"size": -1}, tmp_path).size == -1


def test_toml_params_are_toml_able() -> None:
    from sklearn.calibration import CalibratedClassifierCV
    from sklearn.neural_network import MLPClassifier
    from sklearn.svm import LinearSVC

    mlp = MLPClassifier(hidden_layer_sizes=(8, 4), random_state=np.int64(3))
    params = toml_params(mlp)
    assert params["hidden_layer_sizes"] == [8, 4] and params["random_state"] == 3
    assert "max_fun" in params
    calibrated = toml_params(CalibratedClassifierCV(LinearSVC(C=0.5)))
    assert calibrated["estimator"] == "LinearSVC(C=0.5)"
    rf = toml_params(RandomForestClassifier(max_depth=None, class_weight={"a": 1, "b": 2}))
    assert "max_depth" not in rf and rf["class_weight"] == {"a": 1, "b": 2}
    for value in (params, calibrated, rf):
        assert tomllib.loads(tomli_w.dumps({"p": value}))["p"] == value


def test_one_rule_for_recorded_values_none_and_non_finite_are_left_out() -> None:
    from sklearn.impute import SimpleImputer

    from modelsnap.core.records.canonical import toml_value

    assert toml_value(float("nan")) is None and toml_value(np.float64("inf")) is None
    assert toml_value([1.0, float("nan"), None, np.int64(2)]) == [1.0, 2]
    assert toml_value({"a": None, "b": float("-inf"), 3: np.bool_(True)}) == {"3": True}
    assert toml_value(np.array([[1, 2], [3, 4]])) == [[1, 2], [3, 4]]
    assert toml_value((RandomForestClassifier, len)) == [
        "sklearn.ensemble._forest.RandomForestClassifier",
        "builtins.len",
    ]
    # The estimator's params follow the same rule: a NaN default is absent, as documented.
    assert "missing_values" not in toml_params(SimpleImputer())
    assert toml_params(SimpleImputer(fill_value=0))["fill_value"] == 0


_values = st.recursive(
    st.one_of(
        st.none(),
        st.booleans(),
        st.text(max_size=5),
        st.integers(-(2**63), 2**63 - 1),
        st.floats(),
        st.floats(width=32).map(np.float32),
        st.integers(-5, 5).map(np.int16),
    ),
    lambda inner: st.one_of(
        st.lists(inner, max_size=3),
        st.lists(inner, max_size=3).map(tuple),
        st.dictionaries(st.text(max_size=3), inner, max_size=3),
    ),
    max_leaves=12,
)


@given(_values)
def test_every_recorded_value_survives_toml_and_strict_json(value) -> None:
    import json

    from modelsnap.core.records.canonical import toml_value

    held = toml_value(value)
    if held is None:
        return
    assert tomllib.loads(tomli_w.dumps({"v": held}))["v"] == held
    json.dumps(held, allow_nan=False)
    assert toml_value(held) == held  # once is enough
