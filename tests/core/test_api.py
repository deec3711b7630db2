"""The Python API: a notebook's model joins the comparison through ``Project.snapshot``.

The slow tests run real scikit-learn models in real worker processes and then recompute a
recorded test metric independently from the saved artifact and the stored split.
"""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.compose import ColumnTransformer
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import accuracy_score
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler
from sklearn.tree import DecisionTreeClassifier

import modelsnap
from modelsnap.cli import main
from modelsnap.core.errors import CriteriaError, ModelsnapError, PathError, RunFailed
from modelsnap.core.records import store

PROJECT_TOML = """\
[data]
source = "data.csv"
target = "label"
seed = 7

[selection]
primary_metric = "f1"

[[criteria]]
metric = "f1"
weight = 0.7
direction = "max"

[[criteria]]
metric = "latency_p95_ms"
weight = 0.3
direction = "min"

[constraints]
max_latency_p95_ms = 1000.0

[run]
latency_trials = 20
latency_warmup = 2
batch_size = 32
timeout_seconds = 120

[baseline]
name = "majority"
estimator = "sklearn.dummy.DummyClassifier"

[[candidates]]
name = "shallow_tree"
estimator = "sklearn.tree.DecisionTreeClassifier"
params = { max_depth = 2, random_state = 0 }
"""


class FitRaises(ClassifierMixin, BaseEstimator):
    """A model whose fit fails with its own message (the user must see that message)."""

    def fit(self, X, y):
        raise ValueError("solver diverged at iteration 3")

    def predict(self, X):
        return np.zeros(len(X))


class SlowFit(ClassifierMixin, BaseEstimator):
    """A model that would fit for a minute: the timeout must stop it."""

    def fit(self, X, y):
        time.sleep(60)
        return self

    def predict(self, X):
        return np.zeros(len(X))


def _frame(n: int = 240) -> pd.DataFrame:
    rng = np.random.default_rng(0)
    x1, x2 = rng.normal(size=n), rng.normal(size=n)
    colour = rng.choice(["red", "green", "blue"], size=n)
    score = 1.5 * x1 - x2 + (colour == "red") + rng.normal(scale=0.7, size=n)
    return pd.DataFrame(
        {
            "x1": x1.round(4),
            "x2": x2.round(4),
            "colour": colour,
            "label": np.where(score > 0.3, "yes", "no"),
        }
    )


@pytest.fixture
def root(tmp_path: Path) -> Path:
    folder = tmp_path / "proj"
    folder.mkdir()
    _frame().to_csv(folder / "data.csv", index=False)
    (folder / "modelsnap.toml").write_text(PROJECT_TOML)
    return folder


def _nothing_written(folder: Path) -> bool:
    for sub in ("snapshots", "models", "predictions"):
        if (folder / sub).exists() and any((folder / sub).iterdir()):
            return False
    tmp = folder / ".modelsnap" / "tmp"
    return not tmp.exists() or not any(tmp.iterdir())


# --------------------------------------------------------------------------- no worker needed


def test_project_needs_an_existing_folder(tmp_path: Path) -> None:
    with pytest.raises(PathError, match="no such project folder"):
        modelsnap.Project(tmp_path / "missing")


def test_config_is_loaded_lazily_and_reloaded(root: Path) -> None:
    (root / "modelsnap.toml").write_text("[data\n")
    project = modelsnap.Project(root)  # no error yet: nothing was read
    with pytest.raises(ModelsnapError, match="modelsnap.toml"):
        _ = project.config
    (root / "modelsnap.toml").write_text(PROJECT_TOML)
    project.reload()
    assert project.config.primary_metric == "f1"


def test_snapshots_filter_and_problems(root: Path, make_body, make_staged) -> None:
    for name, kind in (("logit", "baseline"), ("tree", "candidate"), ("tree", "candidate")):
        store.write_snapshot(root, make_body(name=name, kind=kind), staged_files=make_staged(root))
    (root / "snapshots" / "20261126T000000-bad-0000.toml").write_text("nope")
    project = modelsnap.Project(root)
    assert [s["name"] for s in project.snapshots()] == ["logit", "tree", "tree"]
    assert [s["name"] for s in project.snapshots(kind="baseline")] == ["logit"]
    assert len(project.snapshots(name="tree")) == 2
    assert len(project.problems()) == 1 and "20261126T000000-bad-0000.toml" in project.problems()[0]
    first = project.snapshots()[0]["id"]
    assert project.get(first[:-1])["id"] == first
    with pytest.raises(ModelsnapError, match="kind 'champion'"):
        project.snapshots(kind="champion")


def test_lock_criteria_is_idempotent(root: Path) -> None:
    project = modelsnap.Project(root)
    assert project.lock_criteria(reason="first") == 1
    assert project.lock_criteria() == 1
    text = (root / "modelsnap.toml").read_text().replace("weight = 0.7", "weight = 0.8")
    (root / "modelsnap.toml").write_text(text)
    assert project.lock_criteria(reason="f1 matters more") == 2


def test_lock_criteria_refuses_what_no_snapshot_can_fill(root: Path) -> None:
    text = (root / "modelsnap.toml").read_text()
    (root / "modelsnap.toml").write_text(
        text.replace(
            "max_latency_p95_ms = 1000.0",
            "max_latency_p95_ms = 1000.0\nmax_fairness_gap = 0.1\nmin_metric = { r2 = 0.5 }",
        )
    )
    with pytest.raises(CriteriaError) as info:
        modelsnap.Project(root).lock_criteria()
    message = str(info.value)
    assert "max_fairness_gap: fairness_gap needs a sensitive column" in message
    assert "min_metric.r2: r2 is a regression metric, but the task is classification" in message
    assert not (root / "criteria_revisions.toml").exists()


def test_a_candidate_needs_locked_criteria_and_nothing_is_written(root: Path) -> None:
    with pytest.raises(CriteriaError):
        modelsnap.Project(root).snapshot(LogisticRegression(), name="logit")
    assert _nothing_written(root)


def test_bad_arguments_are_refused_before_any_run(root: Path) -> None:
    project = modelsnap.Project(root)
    with pytest.raises(ModelsnapError, match="kind 'best'"):
        project.snapshot(LogisticRegression(), name="x", kind="best")
    with pytest.raises(ModelsnapError, match="has no predict method"):
        project.snapshot(object(), name="x", kind="baseline")
    with pytest.raises(PathError):
        project.snapshot(LogisticRegression(), name="../x", kind="baseline")
    assert _nothing_written(root)


def test_run_refuses_an_unknown_candidate_before_any_run(root: Path) -> None:
    with pytest.raises(ModelsnapError, match="no candidate named 'nope'"):
        modelsnap.Project(root).run(candidates=["nope"])
    assert _nothing_written(root)


# --------------------------------------------------------------------------- real runs


@pytest.mark.slow
def test_run_models_declared_in_the_project_file(root: Path) -> None:
    project = modelsnap.Project(root)
    seen: list[str] = []
    outcomes = project.run(baseline=True, on_event=lambda name, event: seen.append(name))
    assert [(o.name, o.ok) for o in outcomes] == [("majority", True)]
    assert set(seen) == {"majority"}
    assert outcomes[0].snapshot["model"]["source"] == "project"
    outcomes = project.run(candidates=["shallow_tree"])  # criteria not locked yet
    assert outcomes[0].ok is False and isinstance(outcomes[0].error, CriteriaError)
    assert [s["name"] for s in project.snapshots()] == ["majority"]


def _recompute_test_accuracy(folder: Path, snapshot: dict) -> float:
    """From the saved artifact, split.npz and the CSV only: no modelsnap evaluation code."""
    from modelsnap.core.evaluation.artifacts import load_artifact

    model = load_artifact(
        folder / snapshot["model"]["artifact"], snapshot["model"]["artifact_sha256"]
    )
    frame = pd.read_csv(folder / "data.csv")
    with np.load(folder / "split.npz") as split:
        test_rows = split["test"]
    features = frame.drop(columns=["label"]).iloc[test_rows]
    truth = frame["label"].astype(str).iloc[test_rows]
    return accuracy_score(truth, np.asarray(model.predict(features)).astype(str))


@pytest.mark.slow
def test_unfitted_estimator_end_to_end_rank_decide_check(root: Path, capsys) -> None:
    project = modelsnap.Project(root)
    events = []
    baseline = project.snapshot(
        LogisticRegression(max_iter=500), name="logit", kind="baseline", on_event=events.append
    )
    assert baseline["kind"] == "baseline" and baseline["criteria_revision"] == 0
    assert baseline["model"]["source"] == "python"
    estimator = baseline["model"]["estimator"]
    assert estimator.startswith("sklearn.linear_model.")
    assert estimator.endswith(".LogisticRegression")
    assert events and events[-1].fraction <= 1.0
    recorded = baseline["metrics"]["test"]["accuracy"]
    assert _recompute_test_accuracy(root, baseline) == pytest.approx(recorded, abs=1e-12)

    assert project.lock_criteria(reason="before candidates") == 1
    tree = project.snapshot(
        DecisionTreeClassifier(max_depth=3, random_state=0),
        name="tree",
        version="v2",
        notes="from a notebook",
    )
    assert tree["criteria_revision"] == 1 and tree["version"] == "v2"
    assert tree["gain"]["baseline_id"] == baseline["id"]
    assert [s["id"] for s in project.snapshots()] == [baseline["id"], tree["id"]]

    ranking = project.rank()
    assert ranking.result.status(tree["id"]) == "ranked", ranking.result.to_dict()
    entry = project.decide(
        tree["id"][:-1], rationale="shallow tree: explainable and fast", decided_by="tester"
    )
    assert entry["snapshot_id"] == tree["id"] and entry["decided_by"] == "tester"

    assert main(["check", str(root)]) == 0, capsys.readouterr().out


@pytest.mark.slow
def test_a_fitted_pipeline_is_scored_as_is(root: Path) -> None:
    frame = _frame()
    features, target = frame.drop(columns=["label"]), frame["label"]
    pipeline = make_pipeline(
        ColumnTransformer(
            [
                ("num", StandardScaler(), ["x1", "x2"]),
                ("cat", OneHotEncoder(handle_unknown="ignore"), ["colour"]),
            ]
        ),
        LogisticRegression(C=0.5),
    ).fit(features.iloc[:100], target.iloc[:100])  # trained elsewhere, on other rows
    project = modelsnap.Project(root)
    snapshot = project.snapshot(pipeline, name="trained_elsewhere", kind="baseline")
    assert snapshot["model"]["source"] == "python"
    with np.load(root / "split.npz") as split:
        test_rows = split["test"]
    expected = accuracy_score(target.iloc[test_rows], pipeline.predict(features.iloc[test_rows]))
    assert snapshot["metrics"]["test"]["accuracy"] == pytest.approx(expected, abs=1e-12)


@pytest.mark.slow
def test_a_failing_fit_raises_run_failed_with_its_own_message(root: Path) -> None:
    with pytest.raises(RunFailed) as info:
        modelsnap.Project(root).snapshot(FitRaises(), name="broken", kind="baseline")
    assert info.value.reason == "error"
    assert "solver diverged at iteration 3" in str(info.value)
    assert not (root / "snapshots").exists() or not any((root / "snapshots").iterdir())
    assert not (root / "models").exists() or not any((root / "models").iterdir())


@pytest.mark.slow
def test_a_timeout_stops_the_run_and_writes_nothing(root: Path) -> None:
    with pytest.raises(RunFailed) as info:
        modelsnap.Project(root).snapshot(SlowFit(), name="slow", kind="baseline", timeout=2)
    assert info.value.reason == "timeout"
    assert not (root / "snapshots").exists() or not any((root / "snapshots").iterdir())
