"""A metric added as one registry entry plus its computation: matthews_corrcoef end to end.

Fit for real in the worker, the recorded value is scikit-learn's on the stored predictions; the
metric is a criterion, a ``min_metric`` limit and the primary metric, and the card and ``show``
print it.
"""

from __future__ import annotations

import json
import subprocess
import sys
import tomllib
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from rich.console import Console
from sklearn.metrics import matthews_corrcoef

from modelsnap.core.measures import MEASURE_DIRECTIONS, why_unavailable
from modelsnap.core.project.parse import load_project
from modelsnap.core.selection import constraints
from modelsnap.core.selection.ranking import RankingSpec, make_criteria, rank
from modelsnap.tui.widgets.snapshot_card import render_snapshot

PROJECT = """\
[data]
source = "data.csv"
target = "label"
seed = 3

[selection]
primary_metric = "matthews_corrcoef"

[[criteria]]
metric = "matthews_corrcoef"
weight = 0.7

[[criteria]]
metric = "latency_p95_ms"
weight = 0.3

[constraints]
min_metric = { matthews_corrcoef = 0.2 }

[run]
latency_trials = 10
latency_warmup = 2
batch_size = 16
timeout_seconds = 120

[baseline]
name = "logistic"
estimator = "sklearn.linear_model.LogisticRegression"

[[candidates]]
name = "stump"
estimator = "sklearn.tree.DecisionTreeClassifier"
params = { max_depth = 1, random_state = 0 }
"""


def modelsnap(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "modelsnap", *args], capture_output=True, text=True, timeout=300
    )


@pytest.fixture
def project(tmp_path: Path) -> Path:
    rng = np.random.default_rng(4)
    n = 240
    x = rng.normal(size=(n, 3))
    noisy = x[:, 0] + 0.8 * x[:, 1] * x[:, 2] + rng.normal(0, 0.4, n) > 0
    frame = pd.DataFrame(
        {"a": x[:, 0], "b": x[:, 1], "c": x[:, 2], "label": np.where(noisy, "yes", "no")}
    )
    root = tmp_path / "proj"
    root.mkdir()
    frame.to_csv(root / "data.csv", index=False)
    (root / "modelsnap.toml").write_text(PROJECT)
    return root


def row(snapshot_id: str, mcc: float, p95: float) -> dict:
    values = {"matthews_corrcoef": mcc, "latency_p95_ms": p95}
    return {
        "id": snapshot_id,
        "name": snapshot_id,
        "kind": "candidate",
        "created_at": snapshot_id,
        "dataset_sha256": "d",
        "split_sha256": "s",
        "measures": {"validation": values, "test": values},
    }


def test_a_criterion_and_a_limit_of_a_classification_task_only(project: Path) -> None:
    config = load_project(project)
    assert [c.metric for c in config.criteria] == ["matthews_corrcoef", "latency_p95_ms"]
    assert config.criteria[0].direction == MEASURE_DIRECTIONS["matthews_corrcoef"] == "max"
    assert config.constraints["min_metric"] == {"matthews_corrcoef": 0.2}
    assert why_unavailable("matthews_corrcoef", task="classification") is None
    assert "classification metric" in str(why_unavailable("matthews_corrcoef", task="regression"))


def test_ranked_by_it_and_rejected_under_its_minimum() -> None:
    spec = RankingSpec(
        criteria=make_criteria([{"metric": "matthews_corrcoef", "weight": 1.0}]),
        constraints={"min_metric": {"matthews_corrcoef": 0.2}},
        primary_metric="matthews_corrcoef",
    )
    result = rank([row("a", 0.3, 5.0), row("b", 0.6, 9.0), row("c", 0.1, 1.0)], spec)
    assert [e.id for e in result.ranked] == ["b", "a"]
    [rejected] = result.rejected
    assert rejected["id"] == "c" and "matthews_corrcoef" in " ".join(rejected["reasons"])
    judged = constraints.evaluate(
        {"matthews_corrcoef": 0.1},
        constraints.parse_constraints({"min_metric": {"matthews_corrcoef": 0.2}}),
        primary_metric="matthews_corrcoef",
    )
    assert judged["constraints"]["matthews_corrcoef"]["ok"] is False


def test_the_card_shows_it_as_the_primary_metric(make_body) -> None:
    body = make_body(
        metrics={
            "validation": {
                "accuracy": 0.8,
                "balanced_accuracy": 0.75,
                "f1": 0.7,
                "matthews_corrcoef": 0.512,
            },
            "test": {"accuracy": 0.8, "f1": 0.7, "matthews_corrcoef": 0.498},
            "test_ci": {"matthews_corrcoef": [0.41, 0.58]},
        }
    )
    console = Console(width=100, record=True)
    console.print(render_snapshot(body, primary="matthews_corrcoef"))
    text = console.export_text()
    assert "matthews_corrcoef 0.512" in text and "test 0.498" in text
    # Not the primary metric: it comes after the usual three (the registry's card order).
    console = Console(width=100, record=True)
    console.print(render_snapshot(body, primary="f1"))
    assert "matthews_corrcoef" not in console.export_text()


@pytest.mark.slow
def test_a_real_fit_records_sklearns_value_and_ranks_by_it(project: Path) -> None:
    baseline = modelsnap("run", str(project), "--baseline", "--format", "json")
    assert baseline.returncode == 0, baseline.stderr
    assert modelsnap("lock", str(project)).returncode == 0
    run = modelsnap("run", str(project), "--candidate", "stump", "--format", "json")
    assert run.returncode == 0, run.stderr
    ids = [json.loads(baseline.stdout)["runs"][0]["snapshot_id"]]
    ids.append(json.loads(run.stdout)["runs"][0]["snapshot_id"])

    frame = pd.read_csv(project / "data.csv")
    with np.load(project / "split.npz") as split:
        rows = {part: split[part] for part in ("validation", "test")}
    for snapshot_id in ids:
        snapshot = tomllib.loads((project / "snapshots" / f"{snapshot_id}.toml").read_text())
        with np.load(project / "predictions" / f"{snapshot_id}.npz") as stored:
            for part in ("validation", "test"):
                truth = frame["label"].to_numpy()[rows[part]]
                expected = matthews_corrcoef(truth, stored[f"{part}_pred"])
                recorded = snapshot["metrics"][part]["matthews_corrcoef"]
                assert recorded == pytest.approx(expected, abs=1e-12)
        low, high = snapshot["metrics"]["test_ci"]["matthews_corrcoef"]
        assert low <= snapshot["metrics"]["test"]["matthews_corrcoef"] <= high
        assert snapshot["constraints"]["matthews_corrcoef"]["limit"] == 0.2

    shown = modelsnap("show", str(project), ids[1])
    assert shown.returncode == 0, shown.stderr
    assert "matthews_corrcoef" in shown.stdout

    ranked = modelsnap("rank", str(project), "--format", "json")
    assert ranked.returncode == 0, ranked.stderr
    result = json.loads(ranked.stdout)
    assert result["primary_metric"] == "matthews_corrcoef"
    assert result["weights"] == {"matthews_corrcoef": 0.7, "latency_p95_ms": 0.3}
    placed = result["ranked"] + result["rejected"]
    assert {entry["id"] for entry in placed} == set(ids)
