"""How bootstrap resamples are drawn: exact multinomial up to ``EXACT_ROWS`` rows (the same
draws, byte for byte, as before the bag of little bootstraps existed), little bags above,
within the documented precision of the exact method, seeded, and sane on edge cases."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import numpy as np
import pytest

from modelsnap.core.evaluation import metrics
from modelsnap.core.evaluation.metrics import (
    EXACT_ROWS,
    bootstrap_ci,
    bootstrap_method,
    compute_metrics,
)
from modelsnap.core.evaluation.significance import paired_bootstrap

# ---------------------------------------------------------------------------------------------
# The implementation every recorded interval up to now was made with, kept as the oracle.


def _old_weights(rows: int, n: int, seed: int, chunk: int = 250) -> Iterator[np.ndarray]:
    rng = np.random.default_rng(seed)
    done = 0
    while done < n:
        size = min(chunk, n - done)
        draws = rng.integers(0, rows, size=(size, rows))
        offsets = draws + (np.arange(size) * rows)[:, None]
        weights = np.bincount(offsets.ravel(), minlength=size * rows).reshape(size, rows)
        yield weights.astype(np.float64)
        done += size


def _old_bootstrap_ci(
    task: str, y_true: Any, y_pred: Any, proba: Any, classes: Any, positive_label: Any,
    *, n: int = 1000, seed: int = 0, confidence: float = 0.95,
) -> dict[str, list[float]]:  # fmt: skip
    y_true, y_pred, proba, labels, positive = metrics.prepare(
        task, y_true, y_pred, proba, classes, positive_label
    )
    collected: dict[str, list[np.ndarray]] = {}
    for weights in _old_weights(len(y_true), n, seed):
        for name, value in metrics.evaluate_weighted(
            task, weights, y_true, y_pred, proba, labels, positive
        ).items():
            collected.setdefault(name, []).append(value)
    alpha = (1.0 - confidence) / 2.0
    intervals: dict[str, list[float]] = {}
    for name, parts in collected.items():
        values = np.concatenate(parts)
        values = values[np.isfinite(values)]
        if len(values):
            low, high = np.quantile(values, [alpha, 1.0 - alpha])
            intervals[name] = [float(low), float(high)]
    return {name: intervals[name] for name in metrics.metrics_of(task) if name in intervals}


def _old_paired(
    task: str, metric: str, truth: Any, a: Any, b: Any, pa: Any, pb: Any, classes: Any,
    positive: Any, *, n: int = 2000, seed: int = 0,
) -> tuple[float, list[float]]:  # fmt: skip
    t, a, pa, labels, pos = metrics.prepare(task, truth, a, pa, classes, positive)
    _, b, pb, _, _ = metrics.prepare(task, truth, b, pb, classes, positive)
    sign = 1.0 if metrics.METRIC_DIRECTIONS[metric] == "max" else -1.0
    parts = [
        sign
        * (
            metrics.evaluate_weighted(task, w, t, a, pa, labels, pos)[metric]
            - metrics.evaluate_weighted(task, w, t, b, pb, labels, pos)[metric]
        )
        for w in _old_weights(len(t), n, seed)
    ]
    diffs = np.concatenate(parts)
    diffs = diffs[np.isfinite(diffs)]
    p_value = float(min(1.0, 2.0 * min(np.mean(diffs <= 0), np.mean(diffs >= 0))))
    low, high = np.quantile(diffs, [0.025, 0.975])
    return p_value, [float(low), float(high)]


# ---------------------------------------------------------------------------------------------
# Data


def binary(rows: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    y = np.where(rng.random(rows) < 0.3, "yes", "no")
    p = np.clip(rng.random(rows) * 0.6 + (y == "yes") * 0.35, 0, 1).round(3)
    return y, np.where(p > 0.5, "yes", "no"), np.c_[1 - p, p]


def multiclass(rows: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 3, rows)
    p = rng.dirichlet(np.ones(3), rows)
    p[np.arange(rows), y] += 0.6
    p /= p.sum(axis=1, keepdims=True)
    labels = np.array(["a", "b", "c"])
    return labels[y], labels[p.argmax(axis=1)], p


def regression(rows: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    y = rng.normal(size=rows)
    return y, y + rng.normal(0, 0.5, rows)


# ---------------------------------------------------------------------------------------------
# Small data: unchanged


def test_the_rule_names_the_method_by_size() -> None:
    assert bootstrap_method(1) == bootstrap_method(EXACT_ROWS) == "multinomial"
    assert bootstrap_method(EXACT_ROWS + 1) == "little-bags"


@pytest.mark.parametrize("seed", [0, 42])
def test_small_data_intervals_are_the_old_ones_byte_for_byte(seed: int) -> None:
    y, pred, proba = binary(600)
    args = ("classification", y, pred, proba, ["no", "yes"], "yes")
    assert bootstrap_ci(*args, seed=seed) == _old_bootstrap_ci(*args, seed=seed)
    y, pred, proba = multiclass(500)
    args = ("classification", y, pred, proba, ["a", "b", "c"], None)
    assert bootstrap_ci(*args, seed=seed) == _old_bootstrap_ci(*args, seed=seed)
    yr, pr = regression(700)
    assert bootstrap_ci("regression", yr, pr, seed=seed) == _old_bootstrap_ci(
        "regression", yr, pr, None, None, None, seed=seed
    )


def test_small_data_paired_bootstrap_is_the_old_one() -> None:
    y, a, pa = binary(400, seed=1)
    _, b, pb = binary(400, seed=2)
    b[:200], pb[:200] = y[:200], pa[:200]  # related models, as in practice
    for metric in ("f1", "roc_auc", "log_loss"):
        out = paired_bootstrap(
            "classification", metric, y, a, b, pa, pb, classes=["no", "yes"], positive_label="yes",
            seed=3,
        )  # fmt: skip
        p_value, ci = _old_paired(
            "classification", metric, y, a, b, pa, pb, ["no", "yes"], "yes", seed=3
        )
        assert (out["p_value"], out["ci"], out["draw"]) == (p_value, ci, "multinomial")


# ---------------------------------------------------------------------------------------------
# Large data: little bags, within the documented precision of the exact method

ROWS = EXACT_ROWS + 2_000
TOLERANCE = 0.15  # of the exact interval's width, per end (docs/profiler.md)


def _within(fast: dict[str, list[float]], exact: dict[str, list[float]]) -> None:
    assert list(fast) == list(exact)
    for name, (low, high) in exact.items():
        width = high - low
        assert abs(fast[name][0] - low) <= TOLERANCE * width, name
        assert abs(fast[name][1] - high) <= TOLERANCE * width, name


def test_large_binary_interval_is_within_precision_of_the_exact_one() -> None:
    y, pred, proba = binary(ROWS)
    args = ("classification", y, pred, proba, ["no", "yes"], "yes")
    fast = bootstrap_ci(*args, seed=5)
    _within(fast, bootstrap_ci(*args, seed=5, method="multinomial"))
    point = compute_metrics(*args)
    for name, (low, high) in fast.items():
        assert low < point[name] < high, name


def test_large_regression_interval_is_within_precision_of_the_exact_one() -> None:
    y, pred = regression(ROWS, seed=3)
    _within(
        bootstrap_ci("regression", y, pred, seed=1),
        bootstrap_ci("regression", y, pred, seed=1, method="multinomial"),
    )


def test_multiclass_little_bags_within_precision(monkeypatch: pytest.MonkeyPatch) -> None:
    # Smaller bags on smaller data keep the exact reference quick; the rule is the same.
    monkeypatch.setattr(metrics, "EXACT_ROWS", 2_000)
    monkeypatch.setattr(metrics, "BAG_ROWS", 1_000)
    y, pred, proba = multiclass(6_000, seed=4)
    args = ("classification", y, pred, proba, ["a", "b", "c"], None)
    assert metrics.bootstrap_method(6_000) == "little-bags"
    _within(bootstrap_ci(*args, seed=2), bootstrap_ci(*args, seed=2, method="multinomial"))


def test_little_bags_are_seeded() -> None:
    y, pred = regression(ROWS, seed=8)
    first = bootstrap_ci("regression", y, pred, n=200, seed=7)
    assert first == bootstrap_ci("regression", y, pred, n=200, seed=7)
    assert first != bootstrap_ci("regression", y, pred, n=200, seed=8)


def test_paired_decision_is_deterministic_and_agrees_with_exact(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(metrics, "EXACT_ROWS", 2_000)
    monkeypatch.setattr(metrics, "BAG_ROWS", 1_000)
    rows = 5_000
    y, a, pa = binary(rows, seed=1)
    rng = np.random.default_rng(9)
    noisy = np.clip(pa[:, 1] + rng.normal(0, 0.25, rows), 0, 1)  # a clearly worse model
    pb = np.c_[1 - noisy, noisy]
    b = np.where(noisy > 0.5, "yes", "no")
    common = {"classes": ["no", "yes"], "positive_label": "yes", "n": 1000, "seed": 4}
    for metric in ("roc_auc", "log_loss", "f1"):
        fast = paired_bootstrap("classification", metric, y, a, b, pa, pb, **common)
        again = paired_bootstrap("classification", metric, y, a, b, pa, pb, **common)
        exact = paired_bootstrap(
            "classification", metric, y, a, b, pa, pb, method="multinomial", **common
        )
        assert fast == again and fast["draw"] == "little-bags"
        assert fast["verdict"] == exact["verdict"] == "significant", metric
        assert fast["difference"] == exact["difference"] > 0
        width = exact["ci"][1] - exact["ci"][0]
        assert abs(fast["ci"][0] - exact["ci"][0]) <= TOLERANCE * width, metric
    same = paired_bootstrap("classification", "f1", y, a, a.copy(), pa, pa.copy(), **common)
    assert same["p_value"] == 1.0 and same["verdict"] == "not significant"


# ---------------------------------------------------------------------------------------------
# Edge cases, both methods


@pytest.mark.parametrize("method", ["multinomial", "little-bags"])
def test_one_row(method: str) -> None:
    ci = bootstrap_ci(
        "classification", ["yes"], ["yes"], [[0.2, 0.8]], ["no", "yes"], "yes",
        n=50, method=method,
    )  # fmt: skip
    assert "roc_auc" not in ci  # undefined with one class present
    assert ci["accuracy"] == [1.0, 1.0] and ci["log_loss"][0] == ci["log_loss"][1]
    assert bootstrap_ci("regression", [1.0], [1.5], n=50, method=method)["mae"] == [0.5, 0.5]


@pytest.mark.parametrize("method", ["multinomial", "little-bags"])
def test_all_one_class_leaves_roc_auc_out(method: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(metrics, "BAG_ROWS", 500)
    rows = 3_000
    rng = np.random.default_rng(0)
    y = np.full(rows, "no")
    pred = np.where(rng.random(rows) < 0.9, "no", "yes")
    p = rng.random(rows)
    ci = bootstrap_ci(
        "classification", y, pred, np.c_[1 - p, p], ["no", "yes"], "yes", n=200, method=method
    )
    assert "roc_auc" not in ci
    low, high = ci["accuracy"]
    assert 0.85 < low < 0.9 < high < 0.95


@pytest.mark.parametrize("method", ["multinomial", "little-bags"])
def test_intervals_are_finite_and_bracket_the_estimate(
    method: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(metrics, "BAG_ROWS", 500)
    y, pred, proba = multiclass(2_000, seed=6)
    args = ("classification", y, pred, proba, ["a", "b", "c"], None)
    ci = bootstrap_ci(*args, n=300, method=method)
    point = compute_metrics(*args)
    assert list(ci) == list(point)
    for name, (low, high) in ci.items():
        assert np.isfinite([low, high]).all() and low <= point[name] <= high, name


def test_unknown_method_is_a_clear_error() -> None:
    with pytest.raises(metrics.ModelsnapError, match="unknown bootstrap method"):
        bootstrap_ci("regression", [1.0, 2.0], [1.0, 2.0], n=10, method="jackknife")


# ---------------------------------------------------------------------------------------------
# The snapshot says how its interval was drawn (optional keys; old snapshots stay valid)


def test_snapshot_keys_for_the_draw_are_optional_and_checked(make_body: Any) -> None:
    from modelsnap.core.records import schema

    body = make_body(kind="baseline", criteria_revision=0, id="20261126T061502-logistic-3f9a")
    body["model"].update(artifact="models/x.skops", artifact_sha256="c" * 64, size_bytes=1)
    body["predictions"] = {"path": "predictions/x.npz", "sha256": "c" * 64}
    assert "test_ci_method" not in body["metrics"] and schema.validate_snapshot(body) == []
    body["metrics"].update(test_ci_method="little-bags", test_ci_resamples=1000)
    assert schema.validate_snapshot(body) == []
    body["metrics"].update(test_ci_method="jackknife", test_ci_resamples=-5)
    assert schema.validate_snapshot(body, "s.toml") == [
        "s.toml: metrics.test_ci_method: found 'jackknife', expected one of "
        "multinomial, little-bags",
        "s.toml: metrics.test_ci_resamples: found -5, expected count",
    ]


def test_a_figure_on_the_edge_keeps_its_interval_inside_the_range() -> None:
    rows = EXACT_ROWS + 2_000
    y = np.where(np.arange(rows) % 2 == 0, "yes", "no")
    pred = y.copy()
    pred[:3] = np.where(pred[:3] == "yes", "no", "yes")  # 3 errors in 12,000 rows
    ci = bootstrap_ci("classification", y, pred, None, ["no", "yes"], "yes", seed=1)
    for name in ("accuracy", "balanced_accuracy", "precision", "recall", "f1"):
        low, high = ci[name]
        assert 0.999 < low <= high <= 1.0, name
    assert -1.0 <= ci["matthews_corrcoef"][0] <= ci["matthews_corrcoef"][1] <= 1.0


def test_interval_limits_come_from_the_measure_registry() -> None:
    """Errors in the target's units are not clipped to [0, 1]; rates are."""
    from modelsnap.core.measures import QUALITY_METRICS, REGISTRY

    rng = np.random.default_rng(5)
    y = rng.normal(300.0, 50.0, 400)
    intervals = metrics.bootstrap_ci("regression", y, y + rng.normal(0, 20.0, 400), n=200)
    assert intervals["rmse"][0] > 10 and intervals["mae"][0] > 10
    assert {REGISTRY[m].limits for m in ("accuracy", "f1", "brier")} == {(0.0, 1.0)}
    assert REGISTRY["r2"].limits[1] == 1.0 and REGISTRY["matthews_corrcoef"].limits == (-1.0, 1.0)
    assert all(REGISTRY[m].limits[0] < REGISTRY[m].limits[1] for m in QUALITY_METRICS)
    assert REGISTRY["latency_p95_ms"].limits[1] == float("inf")
