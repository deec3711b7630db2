"""Leakage checks at data set-up and the overfitting check: planted problems must be found."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from modelsnap.core.evaluation.data import Dataset, Split
from modelsnap.core.evaluation.leakage import (
    cached_leakage_checks,
    leakage_checks,
    overfit_check,
)
from modelsnap.core.measures import OVERFIT_THRESHOLD


def _split(n: int, seed: int = 0) -> Split:
    order = np.random.default_rng(seed).permutation(n).astype(np.int64)
    a, b = int(n * 0.6), int(n * 0.8)
    return Split(train=order[:a], validation=order[a:b], test=order[b:], split_sha256="s" * 64)


def _classification(n: int = 600, seed: int = 0) -> tuple[pd.DataFrame, pd.Series]:
    rng = np.random.default_rng(seed)
    income = rng.normal(50, 15, n)
    debt = rng.uniform(0, 1, n)
    region = rng.choice(["north", "south", "east"], n)
    label = np.where(income / 50 - debt + rng.normal(0, 0.4, n) < 0.5, "yes", "no")
    frame = pd.DataFrame({"income": income, "debt": debt, "region": region})
    return frame, pd.Series(label, name="default", dtype=object)


def _dataset(frame: pd.DataFrame, target: pd.Series, task: str = "classification") -> Dataset:
    classes = sorted(target.unique().tolist()) if task == "classification" else None
    return Dataset(
        frame=frame,
        target=target,
        task=task,
        classes=classes,
        positive_label="yes" if task == "classification" else None,
        dataset_sha256="d" * 64,
        target_name=str(target.name),
    )


def test_clean_data_gives_no_warnings() -> None:
    frame, target = _classification()
    assert leakage_checks(_dataset(frame, target), _split(len(frame))) == []


def test_planted_numeric_leak_is_found() -> None:
    frame, target = _classification()
    rng = np.random.default_rng(1)
    # Known only after the outcome: "days in collections" is 0 for every good payer.
    frame["days_in_collections"] = np.where(target == "yes", rng.uniform(30, 90, len(frame)), 0.0)
    warnings = leakage_checks(_dataset(frame, target), _split(len(frame)))
    assert len(warnings) == 1
    assert "'days_in_collections' alone predicts the target" in warnings[0]


def test_planted_categorical_leak_is_found() -> None:
    frame, target = _classification()
    frame["status"] = np.where(target == "yes", "in_arrears", "current")
    # A near copy (labels differ) is caught by the single-feature lookup, not the copy check.
    warnings = leakage_checks(_dataset(frame, target), _split(len(frame)))
    assert any("'status' alone predicts" in w for w in warnings)


def test_column_equal_to_target_is_named_once() -> None:
    frame, target = _classification()
    frame["outcome"] = target.to_numpy()
    warnings = leakage_checks(_dataset(frame, target), _split(len(frame)))
    assert warnings == [w for w in warnings if "'outcome'" in w]
    assert len(warnings) == 1 and "equals the target" in warnings[0]


def test_regression_copy_and_single_feature() -> None:
    rng = np.random.default_rng(3)
    n = 500
    x = rng.normal(size=n)
    y = 3 * x + rng.normal(0, 1, n)
    frame = pd.DataFrame(
        {"x": x, "noise": rng.normal(size=n), "y_in_cents": y * 100 + rng.normal(0, 0.01, n)}
    )
    warnings = leakage_checks(_dataset(frame, pd.Series(y, name="y"), "regression"), _split(n))
    assert len(warnings) == 1
    assert "'y_in_cents' is almost a copy of the target" in warnings[0]


def test_duplicates_across_splits_are_counted() -> None:
    frame, target = _classification(n=500)
    split = _split(len(frame))
    # Copy 10 training rows over 10 test rows: the same applicant in both splits.
    for source, dest in zip(split.train[:10], split.test[:10], strict=True):
        frame.iloc[dest] = frame.iloc[source]
    warnings = leakage_checks(_dataset(frame, target), split)
    assert len(warnings) == 1
    assert warnings[0].startswith(f"10 of {len(split.test)} test rows")


def test_a_column_that_cannot_be_scored_is_skipped() -> None:
    frame, target = _classification()
    frame["empty"] = np.nan
    assert leakage_checks(_dataset(frame, target), _split(len(frame))) == []


def test_cached_checks_reuse_and_refresh(tmp_path: Path) -> None:
    frame, target = _classification()
    frame["leak"] = (target == "yes").astype(float)
    dataset = _dataset(frame, target)
    split = _split(len(frame))
    first = cached_leakage_checks(tmp_path, dataset, split)
    files = list((tmp_path / ".modelsnap").glob("leakage-*.json"))
    assert len(files) == 1 and json.loads(files[0].read_text()) == first
    files[0].write_text(json.dumps(["from the cache"]))
    assert cached_leakage_checks(tmp_path, dataset, split) == ["from the cache"]
    files[0].write_text("{not json")
    assert cached_leakage_checks(tmp_path, dataset, split) == first
    dataset.dataset_sha256 = "e" * 64
    assert cached_leakage_checks(tmp_path, dataset, split) == first
    assert len(list((tmp_path / ".modelsnap").glob("leakage-*.json"))) == 2


@pytest.mark.parametrize(
    ("metric", "val", "test", "gap", "flag"),
    [
        ("f1", 0.90, 0.80, 0.10, True),  # worse on test: positive
        ("f1", 0.80, 0.83, -0.03, False),  # better on test: negative, small
        ("f1", 0.80, 0.865, -0.065, False),  # better on test by more than the threshold
        ("mae", 10.0, 8.0, -0.20, False),  # lower error on test: not overfitting either
        ("accuracy", 0.80, 0.80 - OVERFIT_THRESHOLD + 0.001, OVERFIT_THRESHOLD - 0.001, False),
        ("brier", 0.10, 0.20, 0.10, True),  # error metric: test minus validation
        ("rmse", 10.0, 10.4, 0.04, False),  # unbounded: relative to validation
        ("mae", 10.0, 12.0, 0.20, True),
    ],
)
def test_overfit_gap_sign_and_flag(
    metric: str, val: float, test: float, gap: float, flag: bool
) -> None:
    result = overfit_check({metric: val}, {metric: test}, metric)
    assert result["overfit_gap"] == pytest.approx(gap, abs=1e-6)
    assert result["overfit_flag"] is flag


def test_overfit_missing_metric_gives_nothing() -> None:
    assert overfit_check({"f1": 0.9}, {}, "f1") == {}
    assert overfit_check({"f1": float("nan")}, {"f1": 0.8}, "f1") == {}


def test_is_overfit_reads_the_signed_gap_not_an_old_two_sided_flag() -> None:
    from modelsnap.core.measures import is_overfit

    assert is_overfit({"overfit_gap": 0.10, "overfit_flag": True})
    # written by the two-sided check: test was better, which is not overfitting
    assert not is_overfit({"overfit_gap": -0.065, "overfit_flag": True})
    assert not is_overfit({"overfit_gap": OVERFIT_THRESHOLD, "overfit_flag": False})
    assert not is_overfit({}) and not is_overfit({"overfit_gap": "x"})
