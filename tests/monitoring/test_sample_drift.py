"""The sample project's new_data.csv: reproducible from make_data.py, and its documented drift
(incomes 25 % lower, debt consolidation loans from 25 % to 45 %) is what monitor finds."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from .conftest import modelsnap

SAMPLE = Path(__file__).resolve().parents[2] / "sample_project"


def test_new_data_is_reproducible_and_credit_csv_is_unchanged(tmp_path: Path) -> None:
    out = tmp_path / "new_data.csv"
    done = subprocess.run(
        [sys.executable, str(SAMPLE / "make_data.py"), "--new-data", "--out", str(out)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    assert out.read_bytes() == (SAMPLE / "new_data.csv").read_bytes()
    check = subprocess.run(
        [sys.executable, str(SAMPLE / "make_data.py"), "--check"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert check.returncode == 0, check.stdout
    new, old = pd.read_csv(SAMPLE / "new_data.csv"), pd.read_csv(SAMPLE / "credit.csv")
    assert list(new.columns) == list(old.columns) and len(new) == 1000
    assert new["income"].median() < 0.8 * old["income"].median()


@pytest.mark.slow
def test_monitor_names_the_documented_drift_on_a_copy_of_the_sample(tmp_path: Path) -> None:
    root = tmp_path / "sample"
    shutil.copytree(SAMPLE, root)
    done = modelsnap("monitor", str(root), "--data", str(root / "new_data.csv"), "--format", "json")
    assert done.returncode == 1, done.stderr
    record = json.loads(done.stdout)
    drifted = {d["feature"] for d in record["drift"] if d["status"] == "drift"}
    assert drifted == {"income", "purpose"}
    purpose = next(d for d in record["drift"] if d["feature"] == "purpose")
    assert purpose["category"] == "debt_consolidation"
    assert record["verdict"] == "degraded"
    assert {p["metric"] for p in record["performance"] if p["degraded"]} == {"log_loss", "brier"}
    assert not (SAMPLE / "monitoring").exists()  # the sample itself carries no record
