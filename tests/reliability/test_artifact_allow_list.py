"""The artifact allow-list: only classes, built from what real fitted models need.

Every estimator of the model menu (tui/model_choices.py), behind each kind of shared
preprocessing, and every committed sample-project artifact still saves and loads with the
allow-list alone; nothing on it is a function; a project file cannot widen it to a function, a
non-estimator class or a module of the project folder.
"""

from __future__ import annotations

import inspect
import types
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest
import skops.io
from sklearn.base import BaseEstimator

from modelsnap.core.errors import UnsafeArtifactError
from modelsnap.core.evaluation.artifacts import (
    DATA_TYPES,
    allowed_types,
    data_types,
    load_artifact,
    project_classes,
    resolve_class,
    save_artifact,
)
from modelsnap.core.evaluation.pipeline import PREPROCESSING_CLASSES, build_estimator, make_pipeline
from modelsnap.core.files import sha256_file
from modelsnap.core.project.parse import load_project
from modelsnap.core.project.schema import ModelSpec
from modelsnap.tui.model_choices import BASELINES, CANDIDATES

RUNNER = "sklearn.utils._testing.assert_run_python_script_without_output"
SAMPLE = Path(__file__).resolve().parents[2] / "sample_project"

PREPROCESSING = [
    dict(
        numeric_impute="median",
        numeric_scale="standard",
        categorical_impute="most_frequent",
        categorical_encode="onehot",
    ),
    dict(
        numeric_impute="mean",
        numeric_scale="minmax",
        categorical_impute="constant",
        categorical_encode="ordinal",
    ),
    dict(
        numeric_impute="most_frequent",
        numeric_scale="robust",
        categorical_impute="most_frequent",
        categorical_encode="ordinal",
    ),
]


def _frame(n: int = 90) -> pd.DataFrame:
    rng = np.random.default_rng(0)
    frame = pd.DataFrame(
        {
            "a": rng.normal(size=n),
            "b": rng.normal(size=n),
            "c": rng.choice(["x", "y", "z"], n),
        }
    )
    frame.loc[3, "a"] = np.nan
    return frame


def _menu() -> list[tuple[str, object]]:
    return [
        (task, choice)
        for group in (BASELINES, CANDIDATES)
        for task, choices in group.items()
        for choice in choices
    ]


def test_every_allowed_type_is_a_class_not_a_function() -> None:
    assert data_types() == frozenset(DATA_TYPES), "a listed data type is gone from the libraries"
    for name in allowed_types():
        cls = resolve_class(name)
        assert isinstance(cls, type), name
        assert not isinstance(cls, (types.FunctionType, types.BuiltinFunctionType)), name
    for cls in PREPROCESSING_CLASSES:
        assert inspect.isclass(cls) and issubclass(cls, BaseEstimator)


def test_the_project_file_cannot_widen_the_list_beyond_estimator_classes(tmp_path: Path) -> None:
    planted = tmp_path / "mymodels.py"
    planted.write_text(f"open({str(tmp_path / 'PWNED')!r}, 'w')\nclass Model: pass\n")
    config = SimpleNamespace(
        models=[
            ModelSpec(name="f", estimator=RUNNER),
            ModelSpec(name="g", estimator="sklearn.utils.Bunch"),  # a class, not an estimator
            ModelSpec(name="h", estimator="os.system"),
            ModelSpec(name="i", estimator="mymodels.Model"),
            ModelSpec(name="j", estimator="sklearn.svm.SVC"),
        ]
    )
    extra = project_classes(config) - project_classes()
    assert extra == {"sklearn.svm._classes.SVC"}
    assert not (tmp_path / "PWNED").exists()


@pytest.mark.slow
@pytest.mark.parametrize("preprocess", PREPROCESSING, ids=lambda p: p["numeric_scale"])
def test_every_menu_estimator_saves_and_loads(tmp_path: Path, preprocess: dict) -> None:
    frame = _frame()
    targets = {
        "classification": np.where(frame["b"] > 0, "yes", "no"),
        "regression": frame["b"].to_numpy() * 3.0,
    }
    config = SimpleNamespace(preprocess=SimpleNamespace(**preprocess, max_categories=20))
    for task, choice in _menu():
        spec = ModelSpec(name=choice.name, estimator=choice.estimator, params=dict(choice.params))
        project = SimpleNamespace(models=[spec])
        pipeline = make_pipeline(config, frame, build_estimator(spec, tmp_path))
        pipeline.fit(frame, targets[task])
        path = tmp_path / f"{task}-{choice.name}.skops"
        digest, _ = save_artifact(pipeline, path)
        loaded = load_artifact(path, digest, config=project)
        assert (loaded.predict(frame) == pipeline.predict(frame)).all(), choice.estimator


def test_the_sample_projects_artifacts_load() -> None:
    config = load_project(SAMPLE)
    paths = sorted((SAMPLE / "models").glob("*.skops"))
    assert paths
    for path in paths:
        load_artifact(path, sha256_file(path), config=config)


def test_an_estimator_class_outside_the_project_is_still_refused(tmp_path: Path) -> None:
    """Only the project's own estimators join the list: a stray class needs --trust."""
    from sklearn.utils import Bunch

    path = tmp_path / "bunch.skops"
    path.write_bytes(skops.io.dumps(Bunch(a=1)))
    with pytest.raises(UnsafeArtifactError, match="sklearn.utils._bunch.Bunch"):
        load_artifact(path, sha256_file(path))
    assert load_artifact(path, sha256_file(path), trusted=["sklearn.utils._bunch.Bunch"]).a == 1
