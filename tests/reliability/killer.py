"""SIGKILL at random moments: the machinery shared by tests/reliability/test_crash.py and
benchmarks/crash_bench.py (which runs it with many more kills and prints the figures).

Each ``kill_*`` function starts a real writer process over and over, lets it run for a seeded
random delay, then SIGKILLs it (no handler, no cleanup: a power cut as far as the process
knows). Delays are drawn over the whole life of the command as measured on an unkilled run,
with extra weight near the end, where the records are written. After every kill the record
must still be whole (``check_after_kill``), not only at the end.
"""

from __future__ import annotations

import os
import random
import signal
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import psutil

# One snapshot write as the runner does it: stage the artifact and predictions in
# .modelsnap/tmp/.tmp-<pid>-<hex>/, store.write_snapshot, remove the staging folder.
# Prints each id once it is written, so the test knows which writes were reported as done.
WRITER_SCRIPT = """
import os, secrets, shutil, sys
from pathlib import Path
from modelsnap.core.records.store import read_snapshot, write_snapshot

root, template_id, count = Path(sys.argv[1]), sys.argv[2], int(sys.argv[3])
template = read_snapshot(root, template_id)
artifact = (root / template["model"]["artifact"]).read_bytes()
predictions = (root / template["predictions"]["path"]).read_bytes()
body = {key: value for key, value in template.items() if key != "id"}
for number in range(count):
    staging = root / ".modelsnap" / "tmp" / f".tmp-{os.getpid()}-{secrets.token_hex(6)}"
    staging.mkdir(parents=True)
    (staging / "model.skops").write_bytes(artifact)
    (staging / "predictions.npz").write_bytes(predictions)
    body["notes"] = f"write {number}"
    snapshot_id = write_snapshot(root, body, staged_files={
        "artifact": staging / "model.skops", "predictions": staging / "predictions.npz"})
    shutil.rmtree(staging)
    print(snapshot_id, flush=True)
"""


@dataclass
class KillStats:
    """What happened over a series of kills of one command."""

    command: str
    kills: int = 0  # processes SIGKILLed while running
    finished: int = 0  # runs that completed before their kill moment
    reported: list[str] = field(default_factory=list)  # ids/entries the process said it wrote
    durations: list[float] = field(default_factory=list)


def _modelsnap(*args: str) -> list[str]:
    return [sys.executable, "-m", "modelsnap", *args]


def _delays(rng: random.Random, stats: KillStats) -> Iterator[float]:
    """Kill moments: alternately uniform over the command's life and around its end, where
    it writes (75-110 % of its median run so far, so the moments follow the command as the
    folder grows). A command that ends before its moment counts as finished."""
    while True:
        duration = statistics.median(stats.durations)
        yield rng.uniform(0.0, duration)
        yield rng.uniform(duration * 0.75, duration * 1.1)


def _until(stats: KillStats, kills: int) -> Iterator[int]:
    """Attempts until ``kills`` processes were killed (at most 4x as many attempts)."""
    for attempt in range(4 * kills):
        if stats.kills >= kills:
            return
        yield attempt


def _descendants(pid: int) -> list[psutil.Process]:
    try:
        return psutil.Process(pid).children(recursive=True)
    except psutil.Error:
        return []


def _kill_at(
    argv: list[str], delay: float, *, track_children: bool = False
) -> tuple[subprocess.CompletedProcess | None, list[psutil.Process]]:
    """Run ``argv``; SIGKILL it after ``delay`` s unless it ended. Returns (finished result or
    None when killed, the descendants it had at the kill moment)."""
    proc = subprocess.Popen(
        argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True
    )
    deadline = time.monotonic() + delay
    children: list[psutil.Process] = []
    while proc.poll() is None and time.monotonic() < deadline:
        if track_children:
            children = _descendants(proc.pid) or children
        time.sleep(min(0.005, max(0.0, deadline - time.monotonic())))
    if proc.poll() is None:
        if track_children:
            children = _descendants(proc.pid) or children
        os.kill(proc.pid, signal.SIGKILL)
        out, err = proc.communicate()
        return None, children
    out, err = proc.communicate()
    return subprocess.CompletedProcess(argv, proc.returncode, out, err), children


def _timed(argv: list[str]) -> tuple[subprocess.CompletedProcess, float]:
    started = time.monotonic()
    done = subprocess.run(argv, capture_output=True, text=True, timeout=600)
    return done, time.monotonic() - started


def _wait_gone(processes: list[psutil.Process], timeout: float) -> list[int]:
    """Pids still running after ``timeout`` s (orphaned workers must end on their own)."""
    deadline = time.monotonic() + timeout
    remaining = list(processes)
    while remaining and time.monotonic() < deadline:
        remaining = [p for p in remaining if _running(p)]
        if remaining:
            time.sleep(0.05)
    return [p.pid for p in remaining]


def _running(process: psutil.Process) -> bool:
    try:
        return process.is_running() and process.status() != psutil.STATUS_ZOMBIE
    except psutil.Error:
        return False


def kill_decide(
    root: Path,
    snapshot_id: str,
    kills: int,
    rng: random.Random,
    check_after_kill: Callable[[Path], None],
) -> KillStats:
    """``modelsnap decide`` killed ``kills`` times; each finished decide must have appended."""
    stats = KillStats("decide")
    argv = _modelsnap(
        "decide",
        str(root),
        snapshot_id,
        "--rationale",
        "crash test of the decision log",
        "--by",
        "killer",
    )
    runs = [_timed(argv) for _ in range(3)]  # the fastest of 3: most kill moments land in time
    for done, _ in runs:
        if done.returncode != 0:
            raise AssertionError(f"decide failed before any kill: {done.stderr}")
    stats.finished += len(runs)
    stats.durations += [seconds for _, seconds in runs]
    stats.reported += [done.stdout.split()[1] for done, _ in runs]  # "decision D0001 recorded"
    for _, delay in zip(_until(stats, kills), _delays(rng, stats), strict=False):
        began = time.monotonic()
        result, _ = _kill_at(argv, delay)
        if result is None:
            stats.kills += 1
        else:
            stats.durations.append(time.monotonic() - began)
            if result.returncode != 0 or "Traceback" in result.stderr:
                raise AssertionError(f"decide failed after a kill: {result.stderr}")
            stats.finished += 1
            stats.reported.append(result.stdout.split()[1])
        check_after_kill(root)
    return stats


def kill_snapshot_writer(
    root: Path,
    template_id: str,
    kills: int,
    rng: random.Random,
    check_after_kill: Callable[[Path], None],
    *,
    writes_per_process: int = 8,
) -> KillStats:
    """A process writing snapshots in a loop (store.write_snapshot), killed mid-loop."""
    stats = KillStats("write_snapshot loop")
    argv = [sys.executable, "-c", WRITER_SCRIPT, str(root), template_id, str(writes_per_process)]
    done, duration = _timed(argv)
    if done.returncode != 0:
        raise AssertionError(f"the writer failed before any kill: {done.stderr}")
    stats.durations.append(duration)
    stats.reported += done.stdout.split()
    stats.finished += 1
    for _, delay in zip(_until(stats, kills), _delays(rng, stats), strict=False):
        began = time.monotonic()
        proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        time.sleep(delay)
        if proc.poll() is None:
            os.kill(proc.pid, signal.SIGKILL)
            stats.kills += 1
        else:
            stats.finished += 1
            stats.durations.append(time.monotonic() - began)
        out, err = proc.communicate()
        if proc.returncode not in (0, -signal.SIGKILL) or "Traceback" in err:
            raise AssertionError(f"the writer failed: {err}")
        stats.reported += out.split()
        check_after_kill(root)
    return stats


def kill_run(
    root: Path,
    candidate: str,
    kills: int,
    rng: random.Random,
    check_after_kill: Callable[[Path], None],
    *,
    orphan_timeout: float = 120.0,
) -> KillStats:
    """``modelsnap run --candidate NAME`` killed at random moments, mostly near its end.

    The worker lives in its own session, so killing the parent orphans it; it must then end
    by itself (its next progress line finds the pipe closed) without writing any record.
    """
    stats = KillStats("run")
    argv = _modelsnap("run", str(root), "--candidate", candidate)
    done, duration = _timed(argv)
    if done.returncode != 0:
        raise AssertionError(f"run failed before any kill: {done.stderr}")
    stats.finished += 1
    stats.durations.append(duration)
    for _, delay in zip(_until(stats, kills), _delays(rng, stats), strict=False):
        began = time.monotonic()
        result, children = _kill_at(argv, delay, track_children=True)
        if result is None:
            stats.kills += 1
            lingering = _wait_gone(children, orphan_timeout)
            if lingering:
                raise AssertionError(f"worker(s) {lingering} outlived the killed run")
        elif result.returncode != 0:
            raise AssertionError(f"run failed after a kill: {result.stderr}")
        else:
            stats.finished += 1
            stats.durations.append(time.monotonic() - began)
        check_after_kill(root)
    return stats
