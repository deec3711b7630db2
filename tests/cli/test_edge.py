"""``modelsnap edge DIR`` in a real subprocess over real skops artifacts."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
import tomllib
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from sklearn.linear_model import LogisticRegression
from sklearn.tree import DecisionTreeClassifier

from modelsnap.core.evaluation.artifacts import save_artifact
from modelsnap.core.evaluation.data import load_dataset
from modelsnap.core.evaluation.edgecases import latest_edge_results
from modelsnap.core.evaluation.pipeline import make_pipeline
from modelsnap.core.project.parse import load_project
from modelsnap.core.records.store import write_snapshot

EDGE = (
    "case,income,debt,housing,default,severity\n"
    "broke,2,0.9,rent,yes,must-pass\n"
    "wealthy,150,0.05,own,no,must-pass\n"
    "wealthy in debt,150,0.95,own,yes,high\n"
    "missing housing,60,0.2,,no,normal\n"
)


def _modelsnap(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "modelsnap", *args],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "COLUMNS": "200"},
    )


@pytest.fixture
def project(tmp_path: Path, make_body, make_staged) -> Path:
    """A folder with data, an edge-case file and two snapshots whose artifacts are real."""
    rng = np.random.default_rng(0)
    n = 300
    frame = pd.DataFrame(
        {
            "income": rng.uniform(0, 120, n).round(1),
            "debt": rng.uniform(0, 1, n).round(3),
            "housing": rng.choice(["rent", "own"], n),
        }
    )
    frame["default"] = np.where(frame["income"] < 30, "yes", "no")
    frame.to_csv(tmp_path / "data.csv", index=False)
    (tmp_path / "modelsnap.toml").write_text(
        '[data]\nsource = "data.csv"\ntarget = "default"\nedge_cases = "edge_cases.csv"\n'
    )
    (tmp_path / "edge_cases.csv").write_text(EDGE)
    config = load_project(tmp_path)
    dataset = load_dataset(config)
    for name, estimator in (
        ("logistic", LogisticRegression(max_iter=1000)),
        ("tree", DecisionTreeClassifier(max_depth=2, random_state=0)),
    ):
        model = make_pipeline(config, dataset.frame, estimator).fit(dataset.frame, dataset.target)
        staged = make_staged(tmp_path)
        save_artifact(model, staged["artifact"])
        write_snapshot(tmp_path, make_body(name=name), staged_files=staged)
    return tmp_path


def _snapshot_hashes(root: Path) -> dict[str, str]:
    return {
        p.name: hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted((root / "snapshots").glob("*.toml"))
    }


def test_edge_prints_a_matrix_and_records_one_run(project: Path) -> None:
    before = _snapshot_hashes(project)
    done = _modelsnap("edge", str(project))
    assert done.returncode == 0, done.stderr
    out = done.stdout
    for needle in ("broke", "wealthy in debt", "logistic", "tree", "passed", "edge_runs/"):
        assert needle in out
    runs = list((project / "edge_runs").glob("*.toml"))
    assert len(runs) == 1
    record = tomllib.loads(runs[0].read_text())
    assert record["schema"] == 1 and record["file"] == "edge_cases.csv"
    assert record["file_sha256"] == hashlib.sha256(EDGE.encode()).hexdigest()
    assert record["id"] == runs[0].stem and record["created_at"]
    by_name = {r["name"]: r for r in record["result"]}
    # The depth-2 tree learnt "income < 30 -> yes": it cannot know debt matters.
    assert by_name["tree"]["n_cases"] == 4
    assert [f["case"] for f in by_name["tree"]["failures"]] == ["wealthy in debt"]
    assert by_name["tree"]["failures"][0] == {
        "case": "wealthy in debt",
        "expected": "yes",
        "predicted": "no",
        "severity": "high",
    }
    assert _snapshot_hashes(project) == before  # snapshots are never altered
    latest = latest_edge_results(project)
    assert {r["snapshot_id"] for r in record["result"]} == set(latest)


def test_edge_json_and_a_tampered_artifact(project: Path) -> None:
    artifact = sorted((project / "models").glob("*tree*.skops"))[0]
    artifact.write_bytes(artifact.read_bytes() + b"tampered")
    done = _modelsnap("edge", str(project), "--format", "json")
    assert done.returncode == 1
    assert "does not match the recorded" in done.stderr
    data = json.loads(done.stdout)
    assert {"id", "created_at", "file", "file_sha256", "cases", "result", "path"} <= set(data)
    broken = next(r for r in data["result"] if r["name"] == "tree")
    assert "error" in broken and "n_cases" not in broken
    fine = next(r for r in data["result"] if r["name"] == "logistic")
    assert fine["n_cases"] == 4
    assert (project / data["path"]).is_file()


def test_bad_edge_file_is_named_and_nothing_is_written(project: Path) -> None:
    (project / "edge_cases.csv").write_text("income,debt,default,zip\n1,0.5,yes,9000\n")
    done = _modelsnap("edge", str(project))
    assert done.returncode == 2
    assert "edge_cases.csv" in done.stderr
    assert "missing column(s) 'housing'" in done.stderr and "'zip'" in done.stderr
    assert "Traceback" not in done.stderr
    assert not (project / "edge_runs").exists()


def test_no_edge_file_configured(project: Path) -> None:
    (project / "modelsnap.toml").write_text('[data]\nsource = "data.csv"\ntarget = "default"\n')
    done = _modelsnap("edge", str(project))
    assert done.returncode == 2
    assert "no edge-case file is set" in done.stderr and "[data].edge_cases" in done.stderr


def test_missing_folder() -> None:
    done = _modelsnap("edge", "/nonexistent/project")
    assert done.returncode == 2 and "no such project folder" in done.stderr


def test_no_snapshots_yet(project: Path) -> None:
    for path in (project / "snapshots").glob("*.toml"):
        path.unlink()
    done = _modelsnap("edge", str(project))
    assert done.returncode == 1
    assert "is valid (4 cases) but there are no snapshots" in done.stderr
    assert not (project / "edge_runs").exists()
