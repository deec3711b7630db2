"""predict and monitor on a regression project: values instead of classes, errors that are
worse above their interval, the target's PSI as label shift."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from .conftest import modelsnap

pytestmark = pytest.mark.slow

PROJECT = """\
[data]
source = "data.csv"
target = "price"
seed = 5
task = "regression"

[selection]
primary_metric = "r2"

[[criteria]]
metric = "r2"
weight = 1.0

[run]
latency_trials = 5
latency_warmup = 1
timeout_seconds = 120

[baseline]
name = "linear"
estimator = "sklearn.linear_model.LinearRegression"

[[candidates]]
name = "tree"
estimator = "sklearn.tree.DecisionTreeRegressor"
params = { max_depth = 5, random_state = 0 }
"""


def houses(n: int, seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    size = rng.uniform(40, 200, n).round(1)
    rooms = rng.integers(1, 7, n)
    town = rng.choice(["a", "b", "c"], n, p=[0.5, 0.3, 0.2])
    price = 2.0 * size + 15 * rooms + np.where(town == "a", 60, 0) + rng.normal(0, 20, n)
    return pd.DataFrame({"size": size, "rooms": rooms, "town": town, "price": price.round(2)})


@pytest.fixture(scope="module")
def regression_project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("regression") / "proj"
    root.mkdir()
    houses(1500, 1).to_csv(root / "data.csv", index=False)
    (root / "modelsnap.toml").write_text(PROJECT)
    for args in (("lock", str(root)), ("run", str(root))):
        done = modelsnap(*args)
        assert done.returncode == 0, done.stderr
    ranked = json.loads(modelsnap("rank", str(root), "--format", "json").stdout)
    done = modelsnap(
        "decide",
        str(root),
        ranked["ranked"][0]["id"],
        "--rationale",
        "The best r2 on validation by a clear margin over the baseline.",
    )
    assert done.returncode == 0, done.stderr
    return root


def test_monitor_holds_then_names_the_shift(regression_project: Path, tmp_path: Path) -> None:
    same = tmp_path / "same.csv"
    houses(1000, 2).to_csv(same, index=False)
    done = modelsnap("monitor", str(regression_project), "--data", str(same), "--format", "json")
    assert done.returncode == 0, done.stderr
    record = json.loads(done.stdout)
    assert record["verdict"] == "holds"
    assert {p["metric"] for p in record["performance"]} == {"r2", "mae", "rmse"}
    assert record["label_shift"]["kind"] == "target psi"

    bigger = houses(1000, 3)
    bigger["size"] = bigger["size"] * 1.3
    shifted = tmp_path / "bigger.csv"
    bigger.to_csv(shifted, index=False)
    done = modelsnap("monitor", str(regression_project), "--data", str(shifted), "--format", "json")
    assert done.returncode == 1
    record = json.loads(done.stdout)
    drift = {d["feature"]: d["status"] for d in record["drift"]}
    assert drift == {"size": "drift", "rooms": "stable", "town": "stable"}
    # The sizes grew after the prices were drawn: the model now overprices every house.
    assert record["label_shift"]["status"] == "stable"
    errors = {p["metric"]: p for p in record["performance"]}
    assert errors["mae"]["direction"] == "min" and errors["mae"]["status"] == "above"
    assert errors["mae"]["degraded"] and errors["r2"]["status"] == "below"
    assert record["verdict"] == "degraded"


def test_predict_gives_values(regression_project: Path) -> None:
    done = modelsnap(
        "predict", str(regression_project), "--row", "size=100,rooms=3,town=a", "--format", "json"
    )
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    assert result["task"] == "regression"
    values = [a["prediction"] for a in result["rows"][0]["predictions"]]
    assert len(values) == 2 and all(isinstance(v, float) for v in values)
    assert all(250 < v < 350 for v in values)  # 2*100 + 15*3 + 60 = 305
    assert "proba" not in result["rows"][0]["predictions"][0]
