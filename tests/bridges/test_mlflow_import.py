"""``modelsnap import mlflow``: scikit-learn models logged to a real SQLite tracking store the
ordinary way (``mlflow.sklearn.log_model``) become candidates through the worker path."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from modelsnap.core.records.store import list_snapshots

from .conftest import no_telemetry_env

mlflow = pytest.importorskip("mlflow", reason="mlflow is not installed: pip install -e '.[test]'")
mlflow_sklearn = pytest.importorskip("mlflow.sklearn")

from modelsnap import Project  # noqa: E402
from modelsnap.bridges.mlflow_common import TrackingError  # noqa: E402
from modelsnap.bridges.mlflow_import import PickleNotTrusted  # noqa: E402

pytestmark = pytest.mark.slow

NUMERIC = [
    "age",
    "income",
    "debt_ratio",
    "credit_history_years",
    "open_loans",
    "late_payments_12m",
    "loan_amount",
]
CATEGORICAL = ["age_band", "sex", "employment", "purpose", "region", "branch_code"]


def modelsnap(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "modelsnap", *args],
        capture_output=True,
        text=True,
        timeout=600,
        env=no_telemetry_env(),
    )


def features(root: Path) -> tuple[pd.DataFrame, pd.Series]:
    frame = pd.read_csv(root / "credit.csv")
    return frame.drop(columns=["customer_id", "default"]), frame["default"]


def pipeline(estimator, numeric=NUMERIC, categorical=CATEGORICAL):
    from sklearn.compose import ColumnTransformer
    from sklearn.impute import SimpleImputer
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import OneHotEncoder, StandardScaler

    pre = ColumnTransformer(
        [
            ("num", make_pipeline(SimpleImputer(strategy="median"), StandardScaler()), numeric),
            (
                "cat",
                make_pipeline(
                    SimpleImputer(strategy="most_frequent"),
                    OneHotEncoder(handle_unknown="ignore"),
                ),
                categorical,
            ),
        ]
    )
    return make_pipeline(pre, estimator)


def fast(root: Path) -> Path:
    """Fewer latency trials: the import path is under test here, not the timing."""
    path = root / "modelsnap.toml"
    path.write_text(path.read_text().replace("latency_trials = 300", "latency_trials = 30"))
    return root


def log_run(uri: str, experiment: str, run_name: str, model=None, **log_options) -> str:
    # named requirements: MLflow would otherwise load the model in a subprocess to infer them
    log_options.setdefault("pip_requirements", ["scikit-learn"])
    if "serialization_format" not in log_options:
        # MLflow's default, skops, refuses to log these types unless the logger lists them
        # (MLflow's message says so); modelsnap ignores the list and applies its own.
        log_options["skops_trusted_types"] = ["numpy.dtype", "sklearn.tree._tree.Tree"]
    mlflow.set_tracking_uri(uri)
    mlflow.set_experiment(experiment)
    with mlflow.start_run(run_name=run_name) as run:
        mlflow.log_param("origin", "a notebook")
        mlflow.log_metric("f1", 0.5)
        if model is not None:
            mlflow_sklearn.log_model(model, name="model", **log_options)
    return run.info.run_id


def test_logged_models_are_imported_and_ranked_next_to_native_candidates(
    sample: Path, tracking: str
) -> None:
    from sklearn.ensemble import RandomForestClassifier
    from sklearn.linear_model import LogisticRegression
    from sklearn.metrics import accuracy_score, f1_score

    root = fast(sample)
    X, y = features(root)
    forest = pipeline(RandomForestClassifier(n_estimators=40, random_state=0)).fit(X, y)
    logit = pipeline(LogisticRegression(C=0.5, max_iter=500)).fit(X, y)
    narrow_X = X.drop(columns=["income"])
    narrow = pipeline(LogisticRegression(max_iter=500), [c for c in NUMERIC if c != "income"])
    narrow.fit(narrow_X, y)
    unfitted = pipeline(LogisticRegression())
    ids = {
        # the ordinary way: MLflow's default format (skops), and cloudpickle
        "forest": log_run(tracking, "credit", "forest", forest, input_example=X.head(3)),
        "logit": log_run(tracking, "credit", "logit", logit, serialization_format="cloudpickle"),
        "narrow": log_run(tracking, "credit", "narrow", narrow, input_example=narrow_X.head(3)),
        "unfitted": log_run(
            tracking, "credit", "unfitted", unfitted, serialization_format="cloudpickle"
        ),
        "metrics only": log_run(tracking, "credit", "metrics only"),
    }
    native = {s["id"] for s in list_snapshots(root)[0]}

    args = ["import", "mlflow", str(root), "--tracking-uri", tracking, "--experiment", "credit"]
    result = modelsnap(*args, "--trust-pickle", "--format", "json")
    assert result.returncode == 0, result.stderr
    assert "Traceback" not in result.stderr
    report = json.loads(result.stdout)
    imported = {row["run_id"]: row for row in report["imported"]}
    skipped = {row["run_id"]: row["reason"] for row in report["skipped"]}
    assert set(imported) == {ids["forest"], ids["logit"]}
    assert "income" in skipped[ids["narrow"]] and "features" in skipped[ids["narrow"]]
    assert "not fitted" in skipped[ids["unfitted"]]
    assert skipped[ids["metrics only"]] == "the run logged no model"

    snapshots = {s["id"]: s for s in list_snapshots(root)[0]}
    assert len(snapshots) == len(native) + 2
    data = pd.read_csv(root / "credit.csv")
    with np.load(root / "split.npz") as split:
        test_rows = split["test"]
    X_test, y_test = X.iloc[test_rows], data["default"].iloc[test_rows]
    for model, run_name in ((forest, "forest"), (logit, "logit")):
        row = imported[ids[run_name]]
        snap = snapshots[row["snapshot_id"]]
        assert snap["kind"] == "candidate" and snap["name"] == run_name
        assert snap["origin"] == {
            **snap["origin"],
            "tool": "mlflow",
            "tracking_uri": tracking,
            "run_id": ids[run_name],
            "model_uri": row["model_uri"],
        }
        assert snap["origin"]["format"] == ("skops" if run_name == "forest" else "cloudpickle")
        assert snap["resources"]["fit_measured"] is False  # never refitted
        predicted = model.predict(X_test)
        assert snap["metrics"]["test"]["f1"] == pytest.approx(
            f1_score(y_test, predicted, pos_label="yes"), abs=1e-12
        )
        assert snap["metrics"]["test"]["accuracy"] == pytest.approx(
            accuracy_score(y_test, predicted), abs=1e-12
        )

    ranking = Project(root).rank().result
    competing = {e.id for e in ranking.ranked} | {
        r["id"] for r in [*ranking.rejected, *ranking.incomplete]
    }
    names = {snapshots[i]["name"] for i in competing}
    assert {"forest", "logit"} <= names
    assert {"random_forest", "gradient_boosting"} & names  # beside the native candidates

    check = modelsnap("check", str(root))
    assert check.returncode == 0, check.stdout + check.stderr

    again = modelsnap(*args, "--trust-pickle")
    assert again.returncode == 0, again.stderr
    assert "already imported" in again.stdout
    assert len(list_snapshots(root)[0]) == len(snapshots)


def _marked(inner, marker: str):
    """A wrapper whose class is defined here, so cloudpickle stores it by value: loading it
    appends the loading process's pid to ``marker``, and fitting it fails."""
    from sklearn.base import BaseEstimator, ClassifierMixin

    class Marked(ClassifierMixin, BaseEstimator):
        def __init__(self, inner=None, marker=""):
            self.inner = inner
            self.marker = marker

        def __setstate__(self, state):
            super().__setstate__(state)
            with open(self.marker, "a") as handle:
                handle.write(f"{os.getpid()}\n")

        def fit(self, X, y):
            raise AssertionError("an imported model must never be refitted")

        def predict(self, X):
            return self.inner.predict(X)

        def predict_proba(self, X):
            return self.inner.predict_proba(X)

        @property
        def classes_(self):
            return self.inner.classes_

        @property
        def feature_names_in_(self):
            return self.inner.feature_names_in_

        def __sklearn_is_fitted__(self):
            return True

    return Marked(inner, marker)


def test_the_pickle_is_loaded_only_in_the_worker_process(
    sample: Path, tracking: str, tmp_path: Path
) -> None:
    from sklearn.linear_model import LogisticRegression

    root = fast(sample)
    X, y = features(root)
    marker = tmp_path / "loaded-by.txt"
    model = _marked(pipeline(LogisticRegression(max_iter=500)).fit(X, y), str(marker))
    run_id = log_run(tracking, "marked", "marked", model, serialization_format="cloudpickle")
    marker.unlink(missing_ok=True)  # MLflow may load the model back while logging it

    result = Project(root).import_mlflow(tracking, run_ids=[run_id], trust_pickle=True)
    assert [row["run_id"] for row in result["imported"]] == [run_id], result["skipped"]
    pids = {int(line) for line in marker.read_text().split()}
    assert pids and os.getpid() not in pids


def test_import_refuses_without_trust_pickle_and_says_why(sample: Path, tracking: str) -> None:
    from sklearn.linear_model import LogisticRegression

    X, y = features(sample)
    run_id = log_run(tracking, "credit", "logit", pipeline(LogisticRegression()).fit(X, y))
    before = sorted(p.name for p in (sample / "snapshots").iterdir())
    result = modelsnap(
        "import", "mlflow", str(sample), "--tracking-uri", tracking, "--run-id", run_id
    )
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    text = " ".join(result.stderr.split())
    assert "--trust-pickle" in text and "pickle" in text and "run any code" in text
    assert "worker process" in text
    assert sorted(p.name for p in (sample / "snapshots").iterdir()) == before
    with pytest.raises(PickleNotTrusted):
        Project(sample).import_mlflow(tracking, run_ids=[run_id])
    help_text = modelsnap("import", "mlflow", "--help").stdout
    assert "--trust-pickle" in help_text and "run code" in " ".join(help_text.split())


def test_unknown_runs_experiments_and_filters_are_clear_messages(
    sample: Path, tracking: str
) -> None:
    log_run(tracking, "credit", "metrics only")
    project = Project(sample)
    cases = [
        ({"run_ids": ["0123456789abcdef"]}, "no run '0123456789abcdef'"),
        ({"experiment": "nope"}, "no experiment named 'nope'"),
        ({"experiment": "credit", "filter": "metrics.f1 >> 1"}, "search the runs"),
        ({"experiment": "credit", "filter": "metrics.f1 > 2"}, "no run of experiment"),
        ({}, "say which runs"),
        ({"run_ids": ["x"], "experiment": "credit"}, "not both"),
    ]
    for options, expected in cases:
        with pytest.raises(TrackingError) as caught:
            project.import_mlflow(tracking, trust_pickle=True, **options)
        assert expected in str(caught.value), options
        assert caught.value.exit_code == 2


def test_a_run_whose_model_file_is_missing_is_skipped_with_the_reason(
    sample: Path, tracking: str, tmp_path: Path
) -> None:
    from sklearn.linear_model import LogisticRegression

    X, y = features(sample)
    run_id = log_run(
        tracking,
        "credit",
        "gone",
        pipeline(LogisticRegression()).fit(X, y),
        serialization_format="cloudpickle",
    )
    (found,) = list((tmp_path / "mlruns").rglob("model.pkl"))
    found.unlink()
    result = Project(sample).import_mlflow(tracking, run_ids=[run_id], trust_pickle=True)
    assert result["imported"] == []
    (row,) = result["skipped"]
    assert "model.pkl is missing" in row["reason"]
