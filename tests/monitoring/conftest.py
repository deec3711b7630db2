"""A decided project built once per session (init, lock, baseline + one candidate with few
latency trials, decide), and data made from the same generator for trying rows and monitoring.

Each test gets its own copy of the folder, so records a test writes never reach another."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

PROJECT = """\
[data]
source = "data.csv"
target = "approved"
seed = 7
positive_label = "yes"

[selection]
primary_metric = "f1"

[[criteria]]
metric = "f1"
weight = 1.0

[constraints]
max_latency_p95_ms = 1000.0

[run]
latency_trials = 10
latency_warmup = 2
batch_size = 32
timeout_seconds = 120

[baseline]
name = "logistic"
estimator = "sklearn.linear_model.LogisticRegression"

[[candidates]]
name = "tree"
estimator = "sklearn.tree.DecisionTreeClassifier"
params = { max_depth = 4, random_state = 0 }
"""

REGIONS = ("north", "south", "east", "west")
REGION_SHARES = (0.4, 0.3, 0.2, 0.1)


def make_rows(
    n: int, seed: int, *, region_shares: tuple[float, ...] = REGION_SHARES
) -> pd.DataFrame:
    """Applicants: age and income (positive numbers), region (a category), approved yes/no."""
    rng = np.random.default_rng(seed)
    age = rng.uniform(20, 70, size=n).round(1)
    income = np.exp(rng.normal(10.5, 0.4, size=n)).round(0)
    region = rng.choice(REGIONS, size=n, p=region_shares)
    score = 0.06 * (age - 45) + 2.0 * (np.log(income) - 10.5) + np.where(region == "west", 0.8, 0.0)
    approved = np.where(score + rng.logistic(scale=0.5, size=n) > 0, "yes", "no")
    return pd.DataFrame({"age": age, "income": income, "region": region, "approved": approved})


def modelsnap(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "modelsnap", *args], capture_output=True, text=True, timeout=300
    )


def flat(text: str) -> str:
    return " ".join(text.split())


@pytest.fixture(scope="session")
def decided_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("decided") / "proj"
    root.mkdir()
    make_rows(2000, seed=1).to_csv(root / "data.csv", index=False)
    (root / "modelsnap.toml").write_text(PROJECT)
    for args in (("lock", str(root)), ("run", str(root), "--format", "json")):
        done = modelsnap(*args)
        assert done.returncode == 0, done.stderr
    ranked = json.loads(modelsnap("rank", str(root), "--format", "json").stdout)
    chosen = ranked["ranked"][0]["id"]
    done = modelsnap(
        "decide",
        str(root),
        chosen,
        "--rationale",
        "The best f1 on validation, and fast enough for the online check.",
    )
    assert done.returncode == 0, done.stderr
    return root


@pytest.fixture
def decided_project(decided_template: Path, tmp_path: Path) -> Path:
    root = tmp_path / "proj"
    shutil.copytree(decided_template, root, symlinks=True)
    shutil.rmtree(root / ".modelsnap" / "tmp", ignore_errors=True)
    return root


@pytest.fixture
def write_csv(tmp_path: Path) -> Callable[[pd.DataFrame, str], Path]:
    def write(frame: pd.DataFrame, name: str) -> Path:
        path = tmp_path / name
        frame.to_csv(path, index=False)
        return path

    return write
