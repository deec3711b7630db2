"""A small real project folder (CSV + modelsnap.toml + the bad models) for profiler tests."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

HERE = Path(__file__).parent

PROJECT_TOML = """\
[data]
source = "data.csv"
target = "label"
seed = 7
validation_fraction = 0.25
test_fraction = 0.25

[selection]
primary_metric = "f1"

[[criteria]]
metric = "f1"
weight = 0.6
direction = "max"

[[criteria]]
metric = "latency_p95_ms"
weight = 0.4
direction = "min"

[constraints]
max_latency_p95_ms = 1000.0

[run]
latency_trials = 30
latency_warmup = 3
batch_size = 32
timeout_seconds = 120
memory_limit_mb = 3000

[baseline]
name = "logistic"
estimator = "sklearn.linear_model.LogisticRegression"
params = { max_iter = 500 }
"""


def make_frame(n: int = 240, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    x1 = rng.normal(size=n)
    x2 = rng.normal(size=n)
    colour = rng.choice(["red", "green", "blue"], size=n)
    x2[rng.random(n) < 0.05] = np.nan
    score = 1.5 * x1 - np.nan_to_num(x2) + (colour == "red") + rng.normal(scale=0.7, size=n)
    return pd.DataFrame(
        {
            "x1": x1.round(4),
            "x2": x2.round(4),
            "colour": colour,
            "label": np.where(score > 0.3, "yes", "no"),
        }
    )


def write_project(root: Path, extra: str = "") -> Path:
    root.mkdir(parents=True, exist_ok=True)
    make_frame().to_csv(root / "data.csv", index=False)
    (root / "modelsnap.toml").write_text(PROJECT_TOML + extra)
    shutil.copy(HERE / "bad_models.py", root / "bad_models.py")
    return root


@pytest.fixture
def project(tmp_path: Path) -> Path:
    return write_project(tmp_path / "proj")
