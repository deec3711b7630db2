"""Folders for the TUI tests: a tiny CSV project (real runs) and a fixed, generated one (SVGs)."""

from __future__ import annotations

import csv
import importlib.util
import random
import sys
from pathlib import Path

import tomli_w

BENCH = Path(__file__).resolve().parents[2] / "benchmarks" / "make_snapshots.py"


def write_credit_csv(path: Path, rows: int = 500, seed: int = 3) -> None:
    """A small, learnable binary problem with a categorical column (for fairness groups)."""
    rng = random.Random(seed)
    with open(path, "w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["income", "age", "debt", "region", "default"])
        for _ in range(rows):
            income = round(rng.uniform(10, 100), 1)
            age = rng.randint(18, 80)
            debt = round(rng.uniform(0, 50), 1)
            region = rng.choice(["north", "south"])  # 20+ test rows per group
            # an interaction a linear baseline cannot draw, so a forest gains over it
            positive = (debt > 25) != (income < 50)
            if rng.random() < 0.05:
                positive = not positive
            label = "yes" if positive else "no"
            writer.writerow([income, age, debt, region, label])


def write_edge_csv(path: Path) -> None:
    rows = [
        ["income", "age", "debt", "region", "default", "case", "severity"],
        ["95", "40", "1", "north", "no", "rich, no debt", "must-pass"],
        ["12", "30", "5", "south", "yes", "poor, little debt", "must-pass"],
        ["70", "18", "10", "south", "no", "youngest applicant", "normal"],
        ["", "80", "10", "north", "no", "missing income", "high"],
    ]
    with open(path, "w", newline="", encoding="utf-8") as handle:
        csv.writer(handle).writerows(rows)


def make_snapshots_module():
    """benchmarks/make_snapshots.py: fixed-seed, fixed-time snapshot folders."""
    if "make_snapshots" in sys.modules:
        return sys.modules["make_snapshots"]
    spec = importlib.util.spec_from_file_location("make_snapshots", BENCH)
    module = importlib.util.module_from_spec(spec)
    sys.modules["make_snapshots"] = module
    spec.loader.exec_module(module)
    return module


def write_fixed_project(root: Path, count: int = 6) -> list[str]:
    """A locked project with ``count`` generated snapshots and one fixed edge-case run."""
    ids = make_snapshots_module().write_folder(root, count)
    cases = [
        {"case": "rich, no debt", "expected": "0", "severity": "must-pass"},
        {"case": "poor, heavy debt", "expected": "1", "severity": "must-pass"},
        {"case": "youngest applicant", "expected": "0", "severity": "normal"},
    ]
    results = []
    for index, snapshot_id in enumerate(ids):
        failures = []
        if index % 3 == 1:
            failures.append(
                {
                    "case": "poor, heavy debt",
                    "expected": "1",
                    "predicted": "0",
                    "severity": "must-pass",
                }
            )
        if index % 2 == 1:
            failures.append(
                {
                    "case": "youngest applicant",
                    "expected": "0",
                    "predicted": "1",
                    "severity": "normal",
                }
            )
        results.append(
            {
                "snapshot_id": snapshot_id,
                "n_cases": 3,
                "n_passed": 3 - len(failures),
                "must_pass_failed": sum(f["severity"] == "must-pass" for f in failures),
                "failures": failures,
            }
        )
    record = {
        "schema": 1,
        "id": "20261101T100000-edge-0001",
        "created_at": "2026-11-01T10:00:00+00:00",
        "file": "edge_cases.csv",
        "file_sha256": "c" * 64,
        "cases": cases,
        "result": results,
    }
    (root / "edge_runs").mkdir()
    (root / "edge_runs" / "20261101T100000-edge-0001.toml").write_bytes(
        tomli_w.dumps(record).encode("utf-8")
    )
    return ids


async def settle(app, pilot, rounds: int = 3) -> None:
    """Let the app's workers (the folder's read, a reload) finish and the screen catch up."""
    for _ in range(rounds):
        await app.workers.wait_for_complete()
        await pilot.pause(0.05)
