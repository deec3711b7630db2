"""The Pareto front beside a large ranking (core.selection.pareto): the helper's answer is the
front the caller would compute, and every way the helper can fail leaves that same answer."""

from __future__ import annotations

import os
import random
import subprocess
import sys
import time

import psutil
import pytest

from modelsnap.cli.output import json_bytes
from modelsnap.core.selection import pareto, ranking
from modelsnap.core.selection.pareto import PendingFront, pareto_flags, start_helper
from modelsnap.core.selection.ranking import RankingSpec, make_criteria, rank

DIRECTIONS = ["max", "min", "min"]


def random_values(n: int, seed: int = 3) -> list[list[float]]:
    rng = random.Random(seed)
    # few distinct values: ties, duplicates and signed zeros, as real measures have
    choices = [0.0, -0.0, 0.25, 0.5, 1.0]
    return [[rng.choice(choices + [rng.random()]) for _ in DIRECTIONS] for _ in range(n)]


@pytest.fixture
def small_helper_threshold(monkeypatch):
    monkeypatch.setattr(pareto, "HELPER_FROM", 10)


@pytest.fixture
def helper_only(monkeypatch):
    """The caller cannot compute the front: a right answer can only be the helper's."""
    expected = {}

    def refuse(values, directions):
        raise AssertionError("computed by the caller, not the helper")

    def use(values):
        expected["flags"] = pareto_flags(values, DIRECTIONS)
        monkeypatch.setattr(pareto, "pareto_flags", refuse)
        return expected["flags"]

    return use


def no_children_left() -> bool:
    return not psutil.Process().children(recursive=True)


def test_the_helper_answers_with_the_callers_front(small_helper_threshold, helper_only):
    values = random_values(400)
    front = start_helper(len(values))
    assert front.beside
    expected = helper_only(values)
    front.send(values, DIRECTIONS)
    assert front.flags() == expected
    assert no_children_left()


def test_below_the_threshold_no_helper_is_started():
    front = start_helper(pareto.HELPER_FROM - 1)
    assert not front.beside
    values = random_values(50)
    front.send(values, DIRECTIONS)
    assert front.flags() == pareto_flags(values, DIRECTIONS)


def test_fewer_values_than_the_threshold_are_computed_here(small_helper_threshold):
    front = start_helper(100)  # rows before judging: most may be set aside after
    values = random_values(5)
    front.send(values, DIRECTIONS)
    assert not front.beside  # ended at once, and reaped
    assert no_children_left()
    assert front.flags() == pareto_flags(values, DIRECTIONS)


def test_a_helper_that_cannot_start_leaves_the_work_here(small_helper_threshold, monkeypatch):
    monkeypatch.setattr(sys, "executable", "/nonexistent/python")
    front = start_helper(400)
    assert not front.beside
    values = random_values(400)
    front.send(values, DIRECTIONS)
    assert front.flags() == pareto_flags(values, DIRECTIONS)


def fake_helper(code: str) -> PendingFront:
    """A helper that reads what it is sent, then runs ``code`` instead of answering."""
    process = subprocess.Popen(
        [sys.executable, "-c", f"import sys, os, time; sys.stdin.buffer.read(); {code}"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
    )
    return PendingFront(process)


@pytest.mark.parametrize(
    "code",
    [
        "sys.stdout.buffer.write(bytes([2]) * 400)",  # not a flag
        "sys.stdout.buffer.write(bytes([1]) * 399)",  # one flag short
        "sys.stdout.buffer.write(bytes([0]) * 401)",  # one flag too many
        "os._exit(1)",  # died without a word
        "sys.stdout.buffer.write(bytes([1]) * 100); sys.stdout.flush(); os._exit(9)",  # midway
    ],
)
def test_a_wrong_answer_is_not_taken(small_helper_threshold, code):
    values = random_values(400)
    front = fake_helper(code)
    front.send(values, DIRECTIONS)
    assert front.flags() == pareto_flags(values, DIRECTIONS)
    assert no_children_left()


def test_a_silent_helper_is_ended_after_its_patience(small_helper_threshold, monkeypatch):
    monkeypatch.setattr(pareto, "HELPER_PATIENCE_S", 0.3)
    values = random_values(400)
    front = fake_helper("time.sleep(60)")
    front.send(values, DIRECTIONS)
    assert front.flags() == pareto_flags(values, DIRECTIONS)
    assert no_children_left()


def test_a_helper_never_sent_anything_is_ended_and_reaped(small_helper_threshold):
    front = start_helper(400)
    process = front._helper
    assert process is not None
    front.cancel()
    assert process.returncode is not None and no_children_left()
    front.cancel()  # twice is harmless


def test_flags_before_send_is_a_programming_error():
    with pytest.raises(RuntimeError):
        PendingFront(None).flags()


def test_the_helper_runs_nothing_from_the_current_folder(
    small_helper_threshold, helper_only, tmp_path, monkeypatch
):
    """A project folder is someone else's: a ``marshal.py``, an ``operator.py`` or a
    ``modelsnap`` package planted there must not run in the helper (it starts with ``-I`` and
    the package's own folder first)."""
    marker = tmp_path / "ran"
    plant = f"open({str(marker)!r}, 'w').write('planted')\n"
    for name in ("marshal.py", "operator.py", "selectors.py"):
        (tmp_path / name).write_text(plant)
    package = tmp_path / "modelsnap" / "core" / "selection"
    package.mkdir(parents=True)
    for folder in (package.parent.parent, package.parent, package):
        (folder / "__init__.py").write_text(plant)
    (package / "pareto.py").write_text(plant)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("PYTHONPATH", str(tmp_path))
    monkeypatch.setenv("PYTHONSTARTUP", str(tmp_path / "operator.py"))
    values = random_values(400)
    front = start_helper(len(values))
    expected = helper_only(values)
    front.send(values, DIRECTIONS)
    assert front.flags() == expected
    assert not marker.exists()


def rows(n: int, seed: int) -> list[dict]:
    rng = random.Random(seed)
    out = []
    for i in range(n):
        out.append(
            {
                "schema": 1,
                "id": f"{i:05d}-m{i % 37}",
                "name": f"m{i % 37}",
                "kind": "baseline" if i == 0 else "candidate",
                "created_at": f"2026-11-26T06:{i % 60:02d}:{i % 59:02d}+00:00",
                "criteria_revision": 1 + (i % 3 == 0),
                "data": {"dataset_sha256": "d" * 64, "split_sha256": "s" * 64},
                "metrics": {
                    "validation": {"f1": rng.choice([0.5, 0.7, rng.random()])},
                    "test": {"f1": rng.random()},
                },
                "resources": {
                    "latency_p95_ms": rng.choice([1.0, 2.0, 60 * rng.random()]),
                    "size_mb": rng.choice([1.0, 10 * rng.random()]),
                },
                "hardware": {"fingerprint": rng.choice(["hw-1", "hw-1", "hw-2"])},
            }
        )
    return out


def test_a_ranking_with_the_helper_is_the_ranking_without(monkeypatch):
    items = rows(600, seed=11)
    spec = RankingSpec(
        criteria=make_criteria(
            [
                {"metric": "f1", "weight": 0.6},
                {"metric": "latency_p95_ms", "weight": 0.3},
                {"metric": "size_mb", "weight": 0.1},
            ]
        ),
        primary_metric="f1",
        constraints={"max_latency_p95_ms": 50.0},
        criteria_revision=2,
        all_versions=True,
    )
    alone = json_bytes(rank(items, spec, sensitivity=True).to_dict())
    started = []
    real_start = ranking.start_helper

    def spy(count):
        front = real_start(count)
        started.append(front.beside)
        return front

    monkeypatch.setattr(pareto, "HELPER_FROM", 10)
    monkeypatch.setattr(ranking, "start_helper", spy)
    beside = json_bytes(rank(items, spec, sensitivity=True).to_dict())
    assert started == [True]
    assert beside == alone
    assert b'"pareto":true' in beside and b'"pareto":false' in beside
    assert no_children_left()


def test_an_interrupted_ranking_leaves_no_helper(monkeypatch):
    monkeypatch.setattr(pareto, "HELPER_FROM", 10)

    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(ranking, "_entries", interrupted)
    spec = RankingSpec(
        criteria=make_criteria([{"metric": "f1", "weight": 1.0}]),
        primary_metric="f1",
        constraints={},
        all_versions=True,
    )
    with pytest.raises(KeyboardInterrupt):
        rank(rows(200, seed=5), spec)
    assert no_children_left()


@pytest.mark.skipif(not hasattr(os, "getpgid"), reason="POSIX process check")
def test_the_helper_is_a_plain_child_of_the_caller(small_helper_threshold):
    """Started in the caller's process group: a Ctrl-C at the terminal reaches it too."""
    front = start_helper(400)
    process = front._helper
    assert process is not None
    try:
        assert os.getpgid(process.pid) == os.getpgid(0)
    finally:
        front.cancel()


@pytest.mark.skipif(not hasattr(os, "getpgid"), reason="POSIX signals")
def test_a_caller_that_ignores_sigchld_still_gets_the_helpers_answer(
    small_helper_threshold, helper_only
):
    """The kernel then reaps the helper itself: the wait must not fail, nor the answer."""
    import signal

    previous = signal.signal(signal.SIGCHLD, signal.SIG_IGN)
    try:
        values = random_values(400)
        front = start_helper(len(values))
        expected = helper_only(values)
        front.send(values, DIRECTIONS)
        assert front.flags() == expected
    finally:
        signal.signal(signal.SIGCHLD, previous)
    assert no_children_left()


def test_a_system_whose_selectors_refuse_pipes_computes_the_front_itself(
    small_helper_threshold, monkeypatch
):
    class NoPipes:
        def __enter__(self):
            return self

        def __exit__(self, *exc):
            return False

        def register(self, *args):
            raise OSError("not a socket")  # what Windows' select says of a pipe

    monkeypatch.setattr(pareto.selectors, "DefaultSelector", NoPipes)
    values = random_values(400)
    front = start_helper(len(values))
    front.send(values, DIRECTIONS)
    assert front.flags() == pareto_flags(values, DIRECTIONS)
    assert no_children_left()


def test_a_helper_that_takes_nothing_in_does_not_hang_the_ranking(
    small_helper_threshold, monkeypatch
):
    """One stuck before reading (a hung start): the values wait no longer than its patience,
    and the caller computes the front."""
    monkeypatch.setattr(pareto, "HELPER_PATIENCE_S", 0.3)
    values = random_values(20_000)  # far more than a pipe holds
    process = subprocess.Popen(
        [sys.executable, "-c", "import time; time.sleep(60)"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
    )
    front = PendingFront(process)
    started = time.monotonic()
    front.send(values, DIRECTIONS)
    assert time.monotonic() - started < 10
    assert not front.beside and no_children_left()
    assert front.flags() == pareto_flags(values, DIRECTIONS)
