"""End to end, as a user: init, lock, run (subprocesses), then recompute a recorded test metric
independently from the saved artifact and split.npz — the snapshot must survive a second look."""

from __future__ import annotations

import subprocess
import sys
import tomllib
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import accuracy_score, f1_score

from modelsnap.core.evaluation.artifacts import load_artifact

pytestmark = pytest.mark.slow


def modelsnap(*args: str) -> subprocess.CompletedProcess:
    result = subprocess.run(
        [sys.executable, "-m", "modelsnap", *args], capture_output=True, text=True, timeout=600
    )
    assert result.returncode == 0, f"modelsnap {' '.join(args)}\n{result.stdout}\n{result.stderr}"
    return result


def small_csv(path: Path, n: int = 600) -> None:
    rng = np.random.default_rng(11)
    x1, x2 = rng.normal(size=n), rng.normal(size=n)
    colour = rng.choice(["red", "green", "blue"], size=n)
    x2[rng.random(n) < 0.05] = np.nan
    score = 1.2 * x1 - np.nan_to_num(x2) + 0.8 * (colour == "red") + rng.normal(scale=0.8, size=n)
    pd.DataFrame(
        {
            "x1": x1.round(4),
            "x2": x2.round(4),
            "colour": colour,
            "churn": np.where(score > 0.2, "yes", "no"),
        }
    ).to_csv(path, index=False)


def test_init_lock_run_then_recompute_from_artifact_and_split(tmp_path: Path) -> None:
    csv = tmp_path / "churn.csv"
    small_csv(csv)
    root = tmp_path / "project"
    modelsnap("init", str(root), "--data", str(csv), "--target", "churn", "--sensitive", "colour")
    toml = root / "modelsnap.toml"
    text = toml.read_text()
    for old, new in (
        ("latency_trials = 300", "latency_trials = 20"),
        ("latency_warmup = 20", "latency_warmup = 2"),
        ("batch_size = 256", "batch_size = 32"),
    ):
        assert old in text
        text = text.replace(old, new)
    toml.write_text(text)
    modelsnap("lock", str(root))
    run = modelsnap("run", str(root))
    assert "snapshot" in run.stdout

    snapshots = [tomllib.loads(p.read_text()) for p in sorted((root / "snapshots").glob("*.toml"))]
    assert [s["kind"] for s in snapshots].count("baseline") == 1
    assert len(snapshots) == 4  # the baseline and init's three candidates
    baseline_id = next(s["id"] for s in snapshots if s["kind"] == "baseline")
    for snapshot in snapshots:
        assert snapshot["resources"]["latency_trials"] == 20
        assert snapshot["criteria_revision"] == 1
        if snapshot["kind"] == "candidate":
            assert snapshot["gain"]["baseline_id"] == baseline_id

    split = np.load(root / "split.npz")
    frame = pd.read_csv(root / snapshots[0]["data"]["source"])
    features, target = frame.drop(columns=["churn"]), frame["churn"].astype(str)
    test_rows = split["test"]
    for snapshot in snapshots:
        model = load_artifact(
            root / snapshot["model"]["artifact"], snapshot["model"]["artifact_sha256"]
        )
        predicted = np.asarray(model.predict(features.iloc[test_rows])).astype(str)
        truth = target.iloc[test_rows].to_numpy()
        recorded = snapshot["metrics"]["test"]
        assert f1_score(truth, predicted, pos_label="yes") == pytest.approx(
            recorded["f1"], abs=1e-12
        )
        assert accuracy_score(truth, predicted) == pytest.approx(recorded["accuracy"], abs=1e-12)
        stored = np.load(root / snapshot["predictions"]["path"])
        assert (stored["test_pred"] == predicted).all()
        assert snapshot["data"]["n_test"] == len(test_rows)

    # the folder as a run leaves it checks clean: every record sealed, every metric recomputed
    checked = modelsnap("check", str(root), "--format", "json")
    assert '"ok": true' in checked.stdout
