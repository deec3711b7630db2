"""A worker whose parent dies ends with its whole process group, however long its fit."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import psutil


def test_worker_and_its_children_end_when_the_parent_is_killed(tmp_path: Path) -> None:
    # A stand-in parent: starts the worker watchdog the way the runner does (new session),
    # then the "worker" forks a sleeping child and blocks, as a long fit would.
    pids = tmp_path / "pids"
    worker = textwrap.dedent(f"""
        import os, time
        from modelsnap.profiler.worker import _watch_parent
        _watch_parent(os.getppid(), period=0.05)
        child = os.fork()
        if child == 0:
            time.sleep(120)
            os._exit(0)
        open({str(pids)!r}, "w").write(f"{{os.getpid()}} {{child}}")
        time.sleep(120)
    """)
    parent = textwrap.dedent(f"""
        import subprocess, sys, time
        subprocess.Popen([sys.executable, "-c", {worker!r}], start_new_session=True)
        time.sleep(120)
    """)
    proc = subprocess.Popen([sys.executable, "-c", parent])
    try:
        deadline = time.monotonic() + 60
        while not (pids.exists() and pids.read_text().strip()):
            assert time.monotonic() < deadline, "the worker never started"
            time.sleep(0.05)
        worker_pid, child_pid = (int(x) for x in pids.read_text().split())
        assert psutil.pid_exists(worker_pid) and psutil.pid_exists(child_pid)
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=10)
        deadline = time.monotonic() + 20
        alive = [worker_pid, child_pid]
        while alive and time.monotonic() < deadline:
            alive = [p for p in alive if _running(p)]
            time.sleep(0.05)
        assert alive == [], f"still running after the parent died: {alive}"
    finally:
        if proc.poll() is None:
            proc.kill()


def _running(pid: int) -> bool:
    try:
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False
