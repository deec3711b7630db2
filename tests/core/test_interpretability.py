"""Interpretability: permutation importance on validation, the model's own importances, score."""

from __future__ import annotations

import numpy as np
import pandas as pd
import tomli_w
from sklearn.compose import ColumnTransformer
from sklearn.ensemble import RandomForestClassifier
from sklearn.linear_model import LogisticRegression, Ridge
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler
from sklearn.svm import SVC
from sklearn.tree import DecisionTreeClassifier

from modelsnap.core.evaluation.interpretability import (
    interpretability_report,
    interpretability_score,
    model_family,
)


def _data(n: int = 900, seed: int = 0) -> tuple[pd.DataFrame, np.ndarray]:
    """Six informative columns, a noise column and a categorical one; the target is 'yes'/'no'."""
    rng = np.random.default_rng(seed)
    informative = rng.normal(size=(n, 6))
    frame = pd.DataFrame(informative, columns=[f"f{i}" for i in range(6)])
    frame["noise"] = rng.normal(size=n)
    frame["region"] = rng.choice(["n", "s"], n)
    score = informative @ np.array([3.0, -2.5, 2.0, -1.5, 1.5, 1.0]) + rng.normal(0, 0.5, n)
    return frame, np.where(score > 0, "yes", "no")


def _pipeline(estimator, frame: pd.DataFrame) -> Pipeline:
    numeric = [c for c in frame.columns if c != "region"]
    pre = ColumnTransformer(
        [
            ("num", StandardScaler(), numeric),
            ("cat", OneHotEncoder(handle_unknown="ignore"), ["region"]),
        ]
    )
    return Pipeline([("pre", pre), ("model", estimator)])


def _report(model, frame, y, **kwargs):
    kwargs.setdefault("primary_metric", "f1")
    return interpretability_report(
        model,
        frame,
        y,
        task="classification",
        classes=["no", "yes"],
        positive_label="yes",
        **kwargs,
    )


def test_planted_spurious_feature_is_flagged() -> None:
    frame, y = _data()
    rng = np.random.default_rng(1)
    # A branch code that happens to track the outcome in this sample: the model leans on it.
    frame["branch_code"] = np.where(y == "yes", 7, 3) + rng.normal(0, 0.3, len(y))
    model = _pipeline(RandomForestClassifier(n_estimators=30, random_state=0), frame)
    model.fit(frame.iloc[:600], y[:600])
    report = _report(model, frame.iloc[600:], y[600:], suspect_features=["branch_code", "noise"])
    assert report["top_features"][0]["name"] == "branch_code"
    assert report["suspect_hits"] == ["branch_code"]
    assert report["family"] == "post_hoc" and report["intrinsic"] is False
    assert report["model_importance_kind"] == "feature_importances"
    assert report["model_importances"][0]["name"] == "num__branch_code"
    tomli_w.dumps({"interpretability": report})


def test_linear_model_explains_itself_and_ignores_noise() -> None:
    frame, y = _data()
    model = _pipeline(LogisticRegression(max_iter=1000), frame).fit(frame.iloc[:600], y[:600])
    report = _report(model, frame.iloc[600:], y[600:], suspect_features=["noise"])
    assert report["family"] == "linear" and report["intrinsic"] is True
    assert report["suspect_hits"] == []
    assert [f["name"] for f in report["top_features"][:3]] == ["f0", "f1", "f2"]
    assert all(f["importance"] >= 0 and f["std"] >= 0 for f in report["top_features"][:6])
    assert 4 <= report["n_nonzero"] <= 7
    assert report["n_features"] == 8
    assert report["score"] == interpretability_score(True, report["n_nonzero"])
    assert report["model_importance_kind"] == "coef"
    assert report["model_importances"][0]["name"] == "num__f0"


def test_small_and_deep_trees() -> None:
    frame, y = _data()
    small = _pipeline(DecisionTreeClassifier(max_depth=3, random_state=0), frame)
    deep = _pipeline(DecisionTreeClassifier(random_state=0), frame)
    assert model_family(small.fit(frame, y)) == (True, "small_tree")
    assert model_family(deep.fit(frame, y)) == (False, "post_hoc")
    assert model_family(SVC().fit(frame[["f0", "f1"]], y)) == (False, "post_hoc")


def test_score_formula() -> None:
    assert interpretability_score(True, 1) == 1.0
    assert interpretability_score(True, 0) == 1.0
    assert interpretability_score(False, 5) == 0.5
    assert interpretability_score(False, 10) == 0.25
    assert interpretability_score(True, 20) == 0.625


def test_row_cap_and_seed_make_it_repeatable() -> None:
    frame, y = _data(n=1600)
    model = _pipeline(LogisticRegression(max_iter=1000), frame).fit(frame.iloc[:400], y[:400])
    first = _report(model, frame.iloc[400:], y[400:], row_cap=300, seed=3)
    again = _report(model, frame.iloc[400:], y[400:], row_cap=300, seed=3)
    assert first["rows"] == 300
    assert first == again


def test_model_that_cannot_predict_is_unavailable() -> None:
    frame, y = _data()
    model = _pipeline(LogisticRegression(max_iter=1000), frame).fit(frame, y)
    broken = frame.drop(columns=["f3"])  # the validation frame lost a column
    report = _report(model, broken, y)
    assert report["unavailable"].startswith("the model cannot be scored on the validation rows")
    assert "f3" in report["unavailable"]
    assert "top_features" not in report and "score" not in report
    assert report["family"] == "linear"


def test_probability_metric_falls_back_without_probabilities() -> None:
    frame, y = _data()
    from sklearn.svm import LinearSVC

    model = _pipeline(LinearSVC(), frame).fit(frame, y)
    report = _report(model, frame.iloc[:300], y[:300], primary_metric="roc_auc")
    assert report["metric"] == "balanced_accuracy"
    assert report["top_features"][0]["name"] == "f0"


def test_regression_with_error_metric() -> None:
    rng = np.random.default_rng(2)
    frame = pd.DataFrame(
        {
            "a": rng.normal(size=400),
            "b": rng.normal(size=400),
            "region": rng.choice(["n", "s"], 400),
        }
    )
    y = 5 * frame["a"].to_numpy() + rng.normal(0, 0.1, 400)
    model = _pipeline(Ridge(), frame).fit(frame, y)
    report = interpretability_report(model, frame, y, task="regression", primary_metric="rmse")
    assert report["metric"] == "rmse"
    assert report["top_features"][0]["name"] == "a"
    assert report["top_features"][0]["importance"] > 1.0  # rmse grows a lot when 'a' is shuffled
    assert report["n_nonzero"] == 1


def test_empty_validation_is_unavailable() -> None:
    frame, y = _data()
    model = _pipeline(LogisticRegression(max_iter=1000), frame).fit(frame, y)
    report = _report(model, frame.iloc[:0], y[:0])
    assert report["unavailable"] == "the validation split is empty"


def test_many_columns_shrink_the_sample() -> None:
    from modelsnap.core.evaluation.interpretability import CELL_BUDGET, MIN_ROWS

    rng = np.random.default_rng(0)
    wide = pd.DataFrame(rng.normal(size=(1200, 120)), columns=[f"c{i}" for i in range(120)])
    y = np.where(wide["c0"] > 0, "yes", "no")
    model = LogisticRegression(max_iter=500).fit(wide, y)
    report = _report(model, wide, y, n_repeats=1)
    assert report["rows"] == max(MIN_ROWS, CELL_BUDGET // 120)
    assert report["top_features"][0]["name"] == "c0"


def test_stacked_permutation_importance_equals_scikit_learns() -> None:
    """The oracle: the stacked copies give scikit-learn's permutation_importance figures, for a
    label metric, a probability metric and an error metric, with a stack smaller than the job
    (several predict calls) and one holding it all."""
    from sklearn.inspection import permutation_importance

    from modelsnap.core.evaluation.interpretability import (
        _block_scorer,
        stacked_permutation_importance,
    )

    frame, y = _data(n=300, seed=3)
    labels = ["no", "yes"]
    for estimator in (
        LogisticRegression(),
        RandomForestClassifier(n_estimators=15, random_state=0),
    ):
        model = _pipeline(estimator, frame).fit(frame, y)
        for metric in ("f1", "roc_auc", "log_loss"):
            score = _block_scorer(metric, "classification", labels, "yes")

            def scorer(est, X_, y_, score=score):
                return score(y_, *score.predict(est, X_))

            expected = permutation_importance(
                model, frame, y, scoring=scorer, n_repeats=4, random_state=11, n_jobs=1
            )
            for budget in (frame.size * 3, 10**9):
                got = stacked_permutation_importance(
                    model,
                    frame,
                    y,
                    baseline=scorer(model, frame, y),
                    score=score,
                    n_repeats=4,
                    seed=11,
                    cell_budget=budget,
                )
                np.testing.assert_allclose(got, expected.importances, rtol=0, atol=1e-9)
