"""Fairness by group on the test split: a planted group gap must be found; quirks are warnings."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import tomli_w
from sklearn.metrics import f1_score, roc_auc_score

from modelsnap.core.evaluation.data import Dataset, Split
from modelsnap.core.evaluation.fairness import MIN_GROUP_ROWS, fairness_report, metric_value


def _setup(n: int = 800, seed: int = 0, group_b_share: float = 0.5):
    """Test rows where predictions are right for group A and a coin flip for group B."""
    rng = np.random.default_rng(seed)
    group = np.where(rng.uniform(size=n) < group_b_share, "B", "A")
    y = rng.choice(["no", "yes"], n)
    pred = y.copy()
    flip = (group == "B") & (rng.uniform(size=n) < 0.5)
    pred[flip] = np.where(y[flip] == "yes", "no", "yes")
    frame = pd.DataFrame({"group": group, "x": rng.normal(size=n), "age": rng.integers(18, 90, n)})
    dataset = Dataset(
        frame=frame,
        target=pd.Series(y, name="y", dtype=object),
        task="classification",
        classes=["no", "yes"],
        positive_label="yes",
        dataset_sha256="d" * 64,
        target_name="y",
    )
    split = Split(
        train=np.arange(0, 0),
        validation=np.arange(0, 0),
        test=np.arange(n, dtype=np.int64),
        split_sha256="s" * 64,
    )
    return dataset, split, pred


def test_planted_group_gap_is_found() -> None:
    dataset, split, pred = _setup()
    report = fairness_report(
        dataset, split, sensitive=["group"], primary_metric="accuracy", test_pred=pred
    )
    column = report["columns"]["group"]
    by_group = {g["group"]: g for g in column["groups"]}
    assert by_group["A"]["metric"] == 1.0
    assert by_group["B"]["metric"] == pytest.approx(0.5, abs=0.08)
    assert column["gap"] == pytest.approx(1.0 - by_group["B"]["metric"])
    assert report["max_gap"] == column["gap"]
    assert by_group["A"]["count"] + by_group["B"]["count"] == 800
    assert column["warnings"] == []
    tomli_w.dumps(report)


def test_positive_rate_and_its_gap() -> None:
    dataset, split, _ = _setup()
    group = dataset.frame["group"].to_numpy()
    pred = np.where(group == "A", "yes", "no")  # everyone in A predicted positive
    column = fairness_report(
        dataset, split, sensitive=["group"], primary_metric="f1", test_pred=pred
    )["columns"]["group"]
    rates = {g["group"]: g["positive_rate"] for g in column["groups"]}
    assert rates == {"A": 1.0, "B": 0.0}
    assert column["positive_rate_gap"] == 1.0


def test_tiny_group_is_listed_but_not_in_the_gap() -> None:
    dataset, split, pred = _setup()
    group = dataset.frame["group"].to_numpy().copy()
    group[:5] = "C"
    dataset.frame["group"] = group
    column = fairness_report(
        dataset, split, sensitive=["group"], primary_metric="accuracy", test_pred=pred
    )["columns"]["group"]
    tiny = next(g for g in column["groups"] if g["group"] == "C")
    assert tiny["count"] == 5 and "metric" not in tiny
    assert any("'C' has 5 test rows" in w and str(MIN_GROUP_ROWS) in w for w in column["warnings"])
    metrics = [g["metric"] for g in column["groups"] if "metric" in g]
    assert column["gap"] == pytest.approx(max(metrics) - min(metrics))


def test_one_group_and_unknown_column_are_warnings() -> None:
    dataset, split, pred = _setup()
    dataset.frame["country"] = "NZ"
    report = fairness_report(
        dataset, split, sensitive=["country", "nope"], primary_metric="accuracy", test_pred=pred
    )
    assert "max_gap" not in report
    assert any("one group" in w for w in report["columns"]["country"]["warnings"])
    assert "gap" not in report["columns"]["country"]
    assert report["columns"]["nope"]["warnings"] == [
        "column 'nope' is not in the data set: no fairness figures"
    ]


def test_dropped_sensitive_column_is_still_used() -> None:
    dataset, split, pred = _setup()
    dataset.sensitive = dataset.frame[["group"]].copy()
    dataset.frame = dataset.frame.drop(columns=["group"])
    report = fairness_report(
        dataset, split, sensitive=["group"], primary_metric="accuracy", test_pred=pred
    )
    assert report["columns"]["group"]["gap"] > 0.3


def test_many_valued_numeric_column_becomes_quantile_bands() -> None:
    dataset, split, pred = _setup()
    dataset.frame.loc[:9, "age"] = np.nan
    column = fairness_report(
        dataset, split, sensitive=["age"], primary_metric="accuracy", test_pred=pred
    )["columns"]["age"]
    names = [g["group"] for g in column["groups"]]
    assert "(missing)" in names and len(names) == 5
    assert sum(g["count"] for g in column["groups"]) == 800
    assert any("quantile bands" in w for w in column["warnings"])


def test_no_sensitive_columns_gives_none() -> None:
    dataset, split, pred = _setup()
    assert (
        fairness_report(dataset, split, sensitive=[], primary_metric="f1", test_pred=pred) is None
    )


def test_undefined_group_metric_is_a_warning() -> None:
    dataset, split, pred = _setup()
    y = dataset.target.to_numpy().copy()
    y[dataset.frame["group"].to_numpy() == "A"] = "yes"  # one class in group A: no roc_auc
    dataset.target = pd.Series(y, name="y", dtype=object)
    proba = np.tile([0.3, 0.7], (800, 1))
    column = fairness_report(
        dataset,
        split,
        sensitive=["group"],
        primary_metric="roc_auc",
        test_pred=pred,
        test_proba=proba,
    )["columns"]["group"]
    assert any(
        "'A' has 0 test rows of class 'no': too few for roc_auc" in w for w in column["warnings"]
    )
    assert "gap" not in column


def test_metric_value_matches_sklearn() -> None:
    rng = np.random.default_rng(5)
    y = rng.choice(["a", "b"], 200)
    pred = rng.choice(["a", "b"], 200)
    p = rng.uniform(size=200)
    proba = np.column_stack([1 - p, p])
    assert metric_value(
        "f1", "classification", y, pred, classes=["a", "b"], positive_label="a"
    ) == pytest.approx(f1_score(y, pred, pos_label="a"))
    assert metric_value(
        "roc_auc", "classification", y, pred, proba=proba, classes=["a", "b"], positive_label="b"
    ) == pytest.approx(roc_auc_score(y == "b", p))
    assert metric_value("roc_auc", "classification", y, pred, classes=["a", "b"]) is None
    assert metric_value("rmse", "regression", [1.0, 2.0], [1.0, 4.0]) == pytest.approx(2**0.5)
    assert metric_value("nonsense", "regression", [1.0], [1.0]) is None


def test_regression_groups_have_no_positive_rate() -> None:
    rng = np.random.default_rng(4)
    n = 300
    group = rng.choice(["x", "y"], n)
    y = rng.normal(size=n)
    pred = np.where(group == "x", y, y + rng.normal(0, 1.0, n))  # group y predicted badly
    dataset = Dataset(
        frame=pd.DataFrame({"group": group}),
        target=pd.Series(y, name="t"),
        task="regression",
        classes=None,
        positive_label=None,
        dataset_sha256="d" * 64,
        target_name="t",
    )
    split = Split(
        train=np.arange(0), validation=np.arange(0), test=np.arange(n), split_sha256="s" * 64
    )
    column = fairness_report(
        dataset, split, sensitive=["group"], primary_metric="mae", test_pred=pred
    )["columns"]["group"]
    by_group = {g["group"]: g for g in column["groups"]}
    assert by_group["x"]["metric"] == 0.0 and by_group["y"]["metric"] > 0.5
    assert "positive_rate" not in by_group["x"] and "positive_rate_gap" not in column
    assert column["gap"] == by_group["y"]["metric"]


def test_multiclass_uses_macro_averages() -> None:
    y = np.array(["a", "b", "c"] * 20)
    pred = np.array(["a", "b", "b"] * 20)
    value = metric_value("f1", "classification", y, pred, classes=["a", "b", "c"])
    assert value == pytest.approx(f1_score(y, pred, average="macro"))


def test_group_with_few_positives_is_left_out_of_an_f1_gap() -> None:
    dataset, split, pred = _setup()
    group = dataset.frame["group"].to_numpy().copy()
    y = dataset.target.to_numpy()
    # Group "old": 40 rows, only 3 of them positive -> f1 there would be noise.
    old = np.flatnonzero(y == "no")[:37].tolist() + np.flatnonzero(y == "yes")[:3].tolist()
    group[old] = "old"
    dataset.frame["group"] = group
    column = fairness_report(
        dataset, split, sensitive=["group"], primary_metric="f1", test_pred=pred
    )["columns"]["group"]
    old_entry = next(g for g in column["groups"] if g["group"] == "old")
    assert old_entry["count"] == 40 and "metric" not in old_entry and "positive_rate" in old_entry
    assert any(
        "'old' has 3 test rows of class 'yes': too few for f1" in w for w in column["warnings"]
    )
    rates = [g["positive_rate"] for g in column["groups"]]  # every group has 20+ rows here
    assert column["positive_rate_gap"] == pytest.approx(max(rates) - min(rates))
    accuracy = fairness_report(
        dataset, split, sensitive=["group"], primary_metric="accuracy", test_pred=pred
    )["columns"]["group"]
    assert "metric" in next(g for g in accuracy["groups"] if g["group"] == "old")
