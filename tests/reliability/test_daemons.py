"""A model whose fit starts a real daemon (fork, setsid, fork, the middle exits) leaves nothing
running once its run is recorded, and the daemon's memory counts against the run's ceiling
while it lasts. Without a subreaper the daemon is adopted by init and sleeps on."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import psutil
import pytest

from .conftest import assert_folder_sound, cli, write_project

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(not sys.platform.startswith("linux"), reason="child subreaper is Linux"),
]

DAEMONS = """
[[candidates]]
name = "daemon"
estimator = "hostile_models.Daemonizer"
params = { pid_file = "daemon.pid", seconds = 60 }

[[candidates]]
name = "hungry_daemon"
estimator = "hostile_models.Daemonizer"
params = { pid_file = "hungry.pid", seconds = 60, hog_mb = 600, hold = 30.0 }
memory_limit_mb = 400

[[candidates]]
name = "held_daemon"
estimator = "hostile_models.Daemonizer"
params = { pid_file = "held.pid", seconds = 60, hold = 60.0 }
"""


def alive(pid: int) -> bool:
    try:
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


def test_a_double_forked_daemon_does_not_outlive_the_run(tmp_path: Path) -> None:
    root = write_project(tmp_path / "proj", DAEMONS)
    assert cli("lock", str(root)).returncode == 0
    proc = cli("run", str(root), "--candidate", "daemon", "--format", "json")
    try:
        assert proc.returncode == 0, proc.stderr
        assert "Traceback" not in proc.stderr
        [run] = json.loads(proc.stdout)["runs"]
        assert run["ok"], run
        pid = int((root / "daemon.pid").read_text())
        assert not alive(pid), f"daemon {pid} outlived the recorded run"
    finally:
        if (root / "daemon.pid").exists():
            _kill((root / "daemon.pid").read_text())
    assert [p.name.split("-")[1] for p in (root / "snapshots").glob("*.toml")] == ["daemon"]
    report = assert_folder_sound(root)
    assert report["ok"], report["findings"]


def test_a_daemons_memory_counts_against_the_ceiling(tmp_path: Path) -> None:
    root = write_project(tmp_path / "proj", DAEMONS)
    assert cli("lock", str(root)).returncode == 0
    started = time.monotonic()
    proc = cli("run", str(root), "--candidate", "hungry_daemon", "--format", "json")
    try:
        assert "Traceback" not in proc.stderr, proc.stderr
        [run] = json.loads(proc.stdout)["runs"]
        assert run["reason"] == "memory", run
        assert time.monotonic() - started < 30, "the daemon's memory was not counted"
        pid = int((root / "hungry.pid").read_text())
        assert not alive(pid), f"daemon {pid} outlived the stopped run"
    finally:
        if (root / "hungry.pid").exists():
            _kill((root / "hungry.pid").read_text())
    assert not list((root / "snapshots").glob("*.toml"))


def test_a_daemon_dies_with_a_killed_run(tmp_path: Path) -> None:
    """SIGKILL to ``modelsnap run`` itself (no cleanup possible there): the worker template, the
    model's reaper and worker notice their parent is gone and kill everything under them, the
    escaped daemon included."""
    root = write_project(tmp_path / "proj", DAEMONS)
    assert cli("lock", str(root)).returncode == 0
    run = subprocess.Popen(
        [sys.executable, "-m", "modelsnap", "run", str(root), "--candidate", "held_daemon"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    pid_file = root / "held.pid"
    try:
        deadline = time.monotonic() + 120
        while not pid_file.exists():
            assert time.monotonic() < deadline and run.poll() is None, "the daemon never started"
            time.sleep(0.05)
        pid = int(pid_file.read_text())
        assert alive(pid)
        under_run = psutil.Process(run.pid).children(recursive=True)
        templates = [
            p.pid
            for p in under_run
            if p.ppid() == run.pid and "modelsnap.profiler.warm" in " ".join(p.cmdline())
        ]
        assert len(templates) == 1, [p.cmdline() for p in under_run]
        everything = [pid, *(p.pid for p in under_run)]
        os.kill(run.pid, signal.SIGKILL)
        run.wait(timeout=10)
        deadline = time.monotonic() + 10
        while any(alive(p) for p in everything) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert not alive(pid), f"daemon {pid} outlived the killed run"
        assert [p for p in everything if alive(p)] == [], "the run's processes outlived it"
    finally:
        if run.poll() is None:
            run.kill()
        if pid_file.exists():
            _kill(pid_file.read_text())


def _kill(text: str) -> None:
    with contextlib.suppress(psutil.Error, ValueError):
        psutil.Process(int(text)).kill()
