"""Metrics agree with scikit-learn's; bootstrap intervals are seeded and sensible."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn import metrics as sk

from modelsnap.core.errors import ModelsnapError
from modelsnap.core.evaluation.metrics import METRIC_DIRECTIONS, bootstrap_ci, compute_metrics


def binary(n: int = 300, seed: int = 0):
    rng = np.random.default_rng(seed)
    y = np.where(rng.random(n) < 0.3, "yes", "no")
    p = np.clip(rng.random(n) * 0.6 + (y == "yes") * 0.35, 0, 1).round(2)  # ties on purpose
    pred = np.where(p > 0.5, "yes", "no")
    return y, pred, np.c_[1 - p, p]


def test_binary_matches_sklearn() -> None:
    y, pred, proba = binary()
    got = compute_metrics("classification", y, pred, proba, ["no", "yes"], "yes")
    assert list(got) == [
        "accuracy",
        "balanced_accuracy",
        "precision",
        "recall",
        "f1",
        "roc_auc",
        "log_loss",
        "brier",
        "matthews_corrcoef",
    ]
    assert got["accuracy"] == pytest.approx(sk.accuracy_score(y, pred))
    assert got["balanced_accuracy"] == pytest.approx(sk.balanced_accuracy_score(y, pred))
    assert got["precision"] == pytest.approx(sk.precision_score(y, pred, pos_label="yes"))
    assert got["recall"] == pytest.approx(sk.recall_score(y, pred, pos_label="yes"))
    assert got["f1"] == pytest.approx(sk.f1_score(y, pred, pos_label="yes"))
    assert got["roc_auc"] == pytest.approx(sk.roc_auc_score(y == "yes", proba[:, 1]))
    assert got["log_loss"] == pytest.approx(sk.log_loss(y, proba, labels=["no", "yes"]))
    assert got["brier"] == pytest.approx(sk.brier_score_loss(y == "yes", proba[:, 1]))
    assert got["matthews_corrcoef"] == pytest.approx(sk.matthews_corrcoef(y, pred))


def test_positive_label_changes_f1() -> None:
    y, pred, proba = binary()
    as_no = compute_metrics("classification", y, pred, proba, ["no", "yes"], "no")
    assert as_no["f1"] == pytest.approx(sk.f1_score(y, pred, pos_label="no"))
    assert as_no["roc_auc"] == pytest.approx(sk.roc_auc_score(y == "no", proba[:, 0]))


def test_multiclass_matches_sklearn_macro() -> None:
    rng = np.random.default_rng(3)
    classes = ["a", "b", "c"]
    y = rng.choice(classes, 400)
    raw = rng.random((400, 3)) + np.eye(3)[np.searchsorted(classes, y)] * 0.8
    proba = raw / raw.sum(axis=1, keepdims=True)
    pred = np.asarray(classes)[proba.argmax(axis=1)]
    got = compute_metrics("classification", y, pred, proba, classes)
    assert got["f1"] == pytest.approx(sk.f1_score(y, pred, average="macro"))
    assert got["precision"] == pytest.approx(sk.precision_score(y, pred, average="macro"))
    assert got["recall"] == pytest.approx(sk.recall_score(y, pred, average="macro"))
    assert got["roc_auc"] == pytest.approx(
        sk.roc_auc_score(y, proba, multi_class="ovr", labels=classes)
    )
    assert got["log_loss"] == pytest.approx(sk.log_loss(y, proba, labels=classes))
    assert got["matthews_corrcoef"] == pytest.approx(sk.matthews_corrcoef(y, pred))
    assert "brier" not in got


def test_without_probabilities_only_label_metrics() -> None:
    y, pred, _ = binary()
    assert set(compute_metrics("classification", y, pred, None, ["no", "yes"], "yes")) == {
        "accuracy",
        "balanced_accuracy",
        "precision",
        "recall",
        "f1",
        "matthews_corrcoef",
    }


def test_regression_matches_sklearn() -> None:
    rng = np.random.default_rng(5)
    y = rng.normal(10, 3, 250)
    pred = y + rng.normal(0, 1, 250)
    got = compute_metrics("regression", y, pred)
    assert got["r2"] == pytest.approx(sk.r2_score(y, pred))
    assert got["mae"] == pytest.approx(sk.mean_absolute_error(y, pred))
    assert got["rmse"] == pytest.approx(sk.root_mean_squared_error(y, pred))


labels = st.lists(st.sampled_from(["a", "b", "c"]), min_size=2, max_size=40)


@pytest.mark.filterwarnings("ignore:A single label was found")
@settings(max_examples=80, deadline=None)
@given(y=labels, data=st.data())
def test_label_metrics_match_sklearn_on_arbitrary_labels(y, data) -> None:
    pred = data.draw(st.lists(st.sampled_from(["a", "b", "c"]), min_size=len(y), max_size=len(y)))
    got = compute_metrics("classification", y, pred, classes=["a", "b", "c"])
    assert got["accuracy"] == pytest.approx(sk.accuracy_score(y, pred))
    assert got["f1"] == pytest.approx(sk.f1_score(y, pred, average="macro", zero_division=0))
    assert got["precision"] == pytest.approx(
        sk.precision_score(y, pred, average="macro", zero_division=0)
    )
    # One class only among the targets or the predictions: 0, as scikit-learn says.
    assert got["matthews_corrcoef"] == pytest.approx(sk.matthews_corrcoef(y, pred))


def test_undefined_auc_is_left_out_not_nan() -> None:
    got = compute_metrics(
        "classification",
        ["yes"] * 5,
        ["yes"] * 5,
        np.tile([0.2, 0.8], (5, 1)),
        ["no", "yes"],
        "yes",
    )
    assert "roc_auc" not in got and got["accuracy"] == 1.0


def test_bootstrap_is_seeded_and_brackets_the_estimate() -> None:
    y, pred, proba = binary(n=500)
    point = compute_metrics("classification", y, pred, proba, ["no", "yes"], "yes")
    first = bootstrap_ci("classification", y, pred, proba, ["no", "yes"], "yes", n=400, seed=7)
    assert first == bootstrap_ci(
        "classification", y, pred, proba, ["no", "yes"], "yes", n=400, seed=7
    )
    assert first != bootstrap_ci(
        "classification", y, pred, proba, ["no", "yes"], "yes", n=400, seed=8
    )
    assert set(first) == set(point)
    for name, (low, high) in first.items():
        assert low <= point[name] <= high, name
        assert high - low < 0.2, name


def test_bootstrap_width_matches_normal_theory_for_accuracy() -> None:
    rng = np.random.default_rng(11)
    y = rng.choice(["a", "b"], 2000)
    pred = np.where(rng.random(2000) < 0.8, y, np.where(y == "a", "b", "a"))
    low, high = bootstrap_ci("classification", y, pred, None, ["a", "b"], "b", n=1000, seed=1)[
        "accuracy"
    ]
    accuracy = (y == pred).mean()
    expected = 2 * 1.96 * np.sqrt(accuracy * (1 - accuracy) / 2000)
    assert (high - low) == pytest.approx(expected, rel=0.15)


def test_bootstrap_regression() -> None:
    rng = np.random.default_rng(2)
    y = rng.normal(size=300)
    ci = bootstrap_ci("regression", y, y + rng.normal(0, 0.5, 300), n=200, seed=0)
    assert list(ci) == ["r2", "mae", "rmse"] and ci["mae"][0] < ci["mae"][1]


def test_bad_shapes_are_clear_errors() -> None:
    with pytest.raises(ModelsnapError, match="predictions do not match"):
        compute_metrics("classification", ["a", "b"], ["a"])
    with pytest.raises(ModelsnapError, match="probabilities have shape"):
        compute_metrics("classification", ["a", "b"], ["a", "b"], np.ones((2, 3)), ["a", "b"])
    with pytest.raises(ModelsnapError, match="unknown task"):
        compute_metrics("ranking", [1], [1])


def test_directions() -> None:
    assert METRIC_DIRECTIONS["log_loss"] == "min" and METRIC_DIRECTIONS["f1"] == "max"
    assert METRIC_DIRECTIONS["rmse"] == "min" and len(METRIC_DIRECTIONS) == 12
    assert METRIC_DIRECTIONS["matthews_corrcoef"] == "max"
