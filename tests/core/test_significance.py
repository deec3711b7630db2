"""Significance tests with known answers, and the snapshot plumbing on real scikit-learn models."""

from __future__ import annotations

import numpy as np
import pytest

from modelsnap.core.errors import IntegrityError, SnapshotError
from modelsnap.core.evaluation.significance import (
    compare_accuracy,
    compare_snapshots,
    mcnemar_exact,
    paired_bootstrap,
)
from modelsnap.core.files import sha256_file


def test_mcnemar_exact_known_values():
    # b=10, c=2: 2 * P(X <= 2), X ~ Binomial(12, 1/2) = 2 * (1 + 12 + 66) / 4096
    assert mcnemar_exact(10, 2) == pytest.approx(158 / 4096)
    assert mcnemar_exact(2, 10) == mcnemar_exact(10, 2)
    assert mcnemar_exact(0, 0) == 1.0
    assert mcnemar_exact(5, 5) == 1.0
    scipy_stats = pytest.importorskip("scipy.stats")
    for b, c in ((7, 1), (20, 9), (3, 0), (40, 25)):
        assert mcnemar_exact(b, c) == pytest.approx(scipy_stats.binomtest(b, b + c).pvalue)


def test_compare_accuracy_counts_discordant_pairs():
    truth = np.array(["y"] * 40)
    a = truth.copy()
    b = truth.copy()
    a[:2] = "n"  # only B right on 2 rows
    b[2:12] = "n"  # only A right on 10 rows
    a[12:15] = "n"
    b[12:15] = "n"  # both wrong on 3 rows: not discordant
    out = compare_accuracy(truth, a, b)
    assert (out["only_a_right"], out["only_b_right"]) == (10, 2)
    assert out["p_value"] == pytest.approx(158 / 4096) and out["verdict"] == "significant"
    assert out["difference"] == pytest.approx((35 - 27) / 40)


def test_identical_models_are_not_significant():
    rng = np.random.default_rng(1)
    truth = rng.choice(["n", "y"], size=200)
    pred = np.where(rng.random(200) < 0.8, truth, np.where(truth == "y", "n", "y"))
    out = paired_bootstrap(
        "classification",
        "f1",
        truth,
        pred,
        pred.copy(),
        classes=["n", "y"],
        positive_label="y",
        n=500,
    )
    assert out["difference"] == 0.0 and out["p_value"] == 1.0
    assert out["verdict"] == "not significant"


def test_a_clearly_better_model_is_significant_and_seeded():
    rng = np.random.default_rng(2)
    truth = rng.normal(size=300)
    good = truth + rng.normal(scale=0.1, size=300)
    bad = truth + rng.normal(scale=1.0, size=300)
    out = paired_bootstrap("regression", "rmse", truth, good, bad, n=500, seed=3)
    assert out["difference"] > 0.5  # positive: A (good) is better on a lower-is-better metric
    assert out["p_value"] < 0.01 and out["verdict"] == "significant"
    assert out["ci"][0] > 0
    again = paired_bootstrap("regression", "rmse", truth, good, bad, n=500, seed=3)
    assert again == out
    reverse = paired_bootstrap("regression", "rmse", truth, bad, good, n=500, seed=3)
    assert reverse["difference"] == pytest.approx(-out["difference"])


def test_a_tiny_difference_on_few_rows_is_not_significant():
    truth = np.array(["n", "y"] * 20)
    a = truth.copy()
    b = truth.copy()
    a[[0, 3]] = ["y", "n"]
    b[[5]] = ["n"]
    out = paired_bootstrap(
        "classification", "f1", truth, b, a, classes=["n", "y"], positive_label="y", n=1000
    )
    assert out["verdict"] == "not significant"


@pytest.fixture
def fitted(tmp_path):
    from sklearn.datasets import make_classification
    from sklearn.dummy import DummyClassifier
    from sklearn.linear_model import LogisticRegression

    x, y = make_classification(n_samples=400, n_features=6, random_state=0)
    labels = np.where(y == 1, "yes", "no")
    train, test = slice(0, 250), slice(250, 400)
    (tmp_path / "predictions").mkdir()
    snapshots = {}
    for name, model in (
        ("logit", LogisticRegression()),
        ("dummy", DummyClassifier(strategy="stratified", random_state=0)),
    ):
        model.fit(x[train], labels[train])
        path = tmp_path / "predictions" / f"{name}.npz"
        np.savez(
            path,
            test_pred=model.predict(x[test]).astype(str),
            test_proba=model.predict_proba(x[test]),
            test_true=labels[test],
        )
        snapshots[name] = {
            "id": name,
            "data": {"task": "classification", "classes": ["no", "yes"], "positive_label": "yes"},
            "predictions": {"path": f"predictions/{name}.npz", "sha256": sha256_file(path)},
        }
    return tmp_path, snapshots


def test_compare_real_models_from_stored_predictions(fitted):
    root, snaps = fitted
    out = compare_snapshots(root, None, snaps["logit"], snaps["dummy"], "roc_auc", n=300)
    assert out["a"] == "logit" and out["method"] == "paired-bootstrap"
    assert out["difference"] > 0.2 and out["verdict"] == "significant"
    acc = compare_snapshots(root, None, snaps["logit"], snaps["dummy"], "accuracy")
    assert acc["method"] == "mcnemar-exact" and acc["verdict"] == "significant"


def test_tampered_or_missing_predictions_are_refused(fitted):
    root, snaps = fitted
    with open(root / "predictions" / "dummy.npz", "ab") as handle:
        handle.write(b"x")
    with pytest.raises(IntegrityError, match="sha256"):
        compare_snapshots(root, None, snaps["logit"], snaps["dummy"], "f1")
    del snaps["dummy"]["predictions"]
    with pytest.raises(SnapshotError, match="no stored predictions"):
        compare_snapshots(root, None, snaps["logit"], snaps["dummy"], "f1")


@pytest.mark.parametrize("content", [b"not an npz", None])
def test_unreadable_or_pickled_predictions_are_clear_errors(fitted, content):
    root, snaps = fitted
    path = root / "predictions" / "dummy.npz"
    if content is None:
        np.savez(path, test_pred=np.array([{"a": 1}], dtype=object))  # needs pickle to load
    else:
        path.write_bytes(content)
    snaps["dummy"]["predictions"]["sha256"] = sha256_file(path)
    with pytest.raises(SnapshotError, match="predictions cannot be read"):
        compare_snapshots(root, None, snaps["logit"], snaps["dummy"], "f1")
