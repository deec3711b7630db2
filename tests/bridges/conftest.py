"""Fixtures for the MLflow bridge: a real SQLite tracking store in tmp_path (no server, no
network) and a copy of the sample project. MLflow is in the test extra; where it is not
installed (a bare environment), these tests are skipped with the reason."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

SAMPLE = Path(__file__).resolve().parents[2] / "sample_project"


@pytest.fixture
def tracking(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    """A SQLite tracking URI in tmp_path; the working directory is tmp_path too, so MLflow's
    default artifact root (./mlruns) lands there and nothing leaves the test's folder."""
    monkeypatch.chdir(tmp_path)
    for name, value in (("MLFLOW_DISABLE_TELEMETRY", "true"), ("DO_NOT_TRACK", "true")):
        monkeypatch.setenv(name, value)
    return f"sqlite:///{tmp_path / 'mlflow.db'}"


@pytest.fixture
def sample(tmp_path: Path) -> Path:
    """A copy of the sample project (locked criteria, baseline, four candidates, a decision)."""
    root = tmp_path / "sample"
    shutil.copytree(SAMPLE, root)
    return root


def no_telemetry_env() -> dict[str, str]:
    env = dict(os.environ)
    env["MLFLOW_DISABLE_TELEMETRY"] = "true"
    env["DO_NOT_TRACK"] = "true"
    return env
