"""Runaway models inside one ``modelsnap run``: a memory hog, a sleeper, a forker (plain and one
whose child leaves the session). Each is stopped with its reason, nothing it started outlives
the run, the good candidate of the same run is recorded, and the folder stays sound."""

from __future__ import annotations

import json
import time
from pathlib import Path

import psutil
import pytest

from .conftest import assert_folder_sound, cli, write_project

pytestmark = pytest.mark.slow

RUNAWAYS = """
[[candidates]]
name = "hog"
estimator = "hostile_models.MemoryHog"
params = { total_mb = 1500, step_mb = 50 }
memory_limit_mb = 400

[[candidates]]
name = "sleeper"
estimator = "hostile_models.Sleeper"
timeout_seconds = 4

[[candidates]]
name = "forker"
estimator = "hostile_models.Forker"
params = { pid_file = "forker.pid", hang = true }
timeout_seconds = 4

[[candidates]]
name = "daemon"
estimator = "hostile_models.Forker"
params = { pid_file = "daemon.pid", escape = true }
"""


def alive(pid: int) -> bool:
    try:
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


def test_runaway_models_are_stopped_and_the_others_recorded(tmp_path: Path) -> None:
    root = write_project(tmp_path / "proj", RUNAWAYS)
    assert cli("lock", str(root)).returncode == 0
    proc = cli(
        "run",
        str(root),
        "--candidate",
        "hog",
        "--candidate",
        "sleeper",
        "--candidate",
        "forker",
        "--candidate",
        "tree",
        "--candidate",
        "daemon",
        "--format",
        "json",
    )
    assert "Traceback" not in proc.stderr, proc.stderr
    assert proc.returncode == 1, proc.stderr
    runs = {run["name"]: run for run in json.loads(proc.stdout)["runs"]}
    assert runs["hog"]["reason"] == "memory", runs["hog"]
    assert runs["sleeper"]["reason"] == "timeout", runs["sleeper"]
    assert runs["forker"]["reason"] == "timeout", runs["forker"]
    assert runs["tree"]["ok"] and runs["daemon"]["ok"], (runs["tree"], runs["daemon"])

    # The forked children: one in the worker's group, one that escaped it with setsid.
    for pid_file in ("forker.pid", "daemon.pid"):
        pid = int((root / pid_file).read_text())
        deadline = time.monotonic() + 10  # killed already; allow the kernel to reap
        while alive(pid) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert not alive(pid), f"{pid_file}: process {pid} outlived the run"

    names = sorted(p.name.split("-")[1] for p in (root / "snapshots").glob("*.toml"))
    assert names == ["daemon", "tree"]
    assert not any((root / ".modelsnap" / "tmp").iterdir()), "staging left behind"
    report = assert_folder_sound(root)
    assert report["ok"], report["findings"]
