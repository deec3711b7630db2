"""Shared fixtures: a schema-1 snapshot body and staged files, for tests that need a record on disk
without fitting a model. Keep this small; fixtures used by one test file belong in that file."""

from __future__ import annotations

import copy
import json
import os
import subprocess
import sys
import textwrap
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

DATASET_SHA = "a" * 64
SPLIT_SHA = "b" * 64

_BODY: dict[str, Any] = {
    "schema": 1,
    "name": "random_forest",
    "kind": "candidate",
    "version": "v1",
    "created_at": "2026-11-26T06:15:02.123456+00:00",
    "criteria_revision": 1,
    "notes": "",
    "model": {
        "estimator": "sklearn.ensemble.RandomForestClassifier",
        "params": {"n_estimators": 100, "max_depth": 8},
        "source": "project",
    },
    "data": {
        "source": "data.csv",
        "target": "y",
        "task": "classification",
        "dataset_sha256": DATASET_SHA,
        "split_sha256": SPLIT_SHA,
        "seed": 42,
        "n_train": 60,
        "n_validation": 20,
        "n_test": 20,
        "classes": ["no", "yes"],
        "positive_label": "yes",
    },
    "metrics": {
        "validation": {"accuracy": 0.85, "f1": 0.71},
        "test": {"accuracy": 0.84, "f1": 0.70},
        "test_ci": {"accuracy": [0.81, 0.87], "f1": [0.6, 0.8]},
    },
    "resources": {"fit_seconds": 1.23, "size_mb": 0.5, "latency_p95_ms": 6.1},
    "constraints": {"latency_p95_ms": {"value": 6.1, "limit": 50.0, "ok": True, "over": 0.0}},
    "environment": {
        "python": "3.11.7",
        "platform": "Linux",
        "packages": {"numpy": "2.4.6"},
        "git_dirty": False,
    },
    "hardware": {
        "cpu": "test cpu",
        "cores": 2,
        "memory_gb": 8.0,
        "fingerprint": "0123456789abcdef",
    },
}


def pytest_xdist_auto_num_workers(config: pytest.Config) -> int:
    """``-n auto``: one worker more than the cores this process may use. Many tests wait on
    a subprocess (a model that hangs until its timeout, a writer killed at a random moment, a
    worker's start), so a third worker on 2 cores keeps both busy: the whole suite took 8 min
    47 s with 3 workers against 9 min 52 s with 2, back to back on the same machine."""
    affinity = getattr(os, "sched_getaffinity", None)
    cores = len(affinity(0)) if affinity is not None else (os.cpu_count() or 1)
    return cores + 1


@pytest.fixture(autouse=True, scope="session")
def _readers_cache(tmp_path_factory: pytest.TempPathFactory) -> None:
    """The index a reader keeps of a folder it must not write (``index.private_home``) goes to
    a temporary cache, never the user's own, in this process and every process it starts."""
    os.environ["XDG_CACHE_HOME"] = str(tmp_path_factory.mktemp("xdg-cache"))


@pytest.fixture
def make_body() -> Callable[..., dict[str, Any]]:
    """A fresh valid snapshot body (no id, no file paths); keywords replace top-level keys."""

    def make(**overrides: Any) -> dict[str, Any]:
        body = copy.deepcopy(_BODY)
        body.update(overrides)
        return body

    return make


@pytest.fixture
def make_staged() -> Callable[..., dict[str, Path]]:
    """Stage an artifact and a predictions file in ``.modelsnap/tmp/.tmp-<pid>-...`` like the
    worker does (the runner removes that folder after the write)."""
    counter = iter(range(10**6))

    def make(root: Path, content: bytes = b"model bytes") -> dict[str, Path]:
        staging = Path(root) / ".modelsnap" / "tmp" / f".tmp-{os.getpid()}-staged{next(counter)}"
        staging.mkdir(parents=True, exist_ok=True)
        artifact = staging / "model.skops"
        artifact.write_bytes(content)
        predictions = staging / "predictions.npz"
        predictions.write_bytes(b"predictions " + content)
        return {"artifact": artifact, "predictions": predictions}

    return make


_FRESH_PREAMBLE = """
import importlib.util, json, os, sys, time
from pathlib import Path
_spec = importlib.util.spec_from_file_location("make_snapshots", {bench!r})
make_snapshots = importlib.util.module_from_spec(_spec)
sys.modules["make_snapshots"] = make_snapshots
_spec.loader.exec_module(make_snapshots)
forks = []
os.register_at_fork(after_in_parent=lambda: forks.append(1))

def reaped(pid):
    try:
        os.waitpid(pid, os.WNOHANG)
    except ChildProcessError:
        return True
    return False
"""


@pytest.fixture(scope="session")
def write_folder() -> Callable[[Path, int], Any]:
    """``make_snapshots.write_folder(root, count)`` (benchmarks/): a project folder with
    ``count`` snapshots written through the public writer."""
    import importlib.util

    bench = Path(__file__).resolve().parents[1] / "benchmarks" / "make_snapshots.py"
    spec = importlib.util.spec_from_file_location("make_snapshots_for_tests", bench)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.write_folder


@pytest.fixture
def parsed_here(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The names of the snapshot files ``store`` parses in this process, with its reads
    shared from 10 files on (a started interpreter parses the rest, in a thread)."""
    from modelsnap.core import beside
    from modelsnap.core.records import store

    monkeypatch.setattr(store, "PARSE_BESIDE_FROM", 1)
    monkeypatch.setattr(beside, "SPAWN_FROM", 5)
    names: list[str] = []
    real = store._load
    monkeypatch.setattr(
        store, "_load", lambda path, memo=None: names.append(path.name) or real(path, memo)
    )
    return names


@pytest.fixture
def fresh_interpreter() -> Callable[..., dict[str, Any]]:
    """Run a script in a fresh interpreter, with one thread: what a command is, and what
    ``core.beside`` needs to fork a child (pytest-xdist's workers run threads). The script
    finds ``make_snapshots`` (benchmarks/), ``forks`` (the forks it made), ``reaped(pid)`` and
    its arguments in ``sys.argv[1:]``; it prints one JSON object, which is returned."""
    bench = Path(__file__).resolve().parents[1] / "benchmarks" / "make_snapshots.py"

    def run(body: str, *args: str) -> dict[str, Any]:
        script = _FRESH_PREAMBLE.format(bench=str(bench)) + textwrap.dedent(body)
        done = subprocess.run(
            [sys.executable, "-c", script, *args], capture_output=True, text=True, timeout=300
        )
        assert done.returncode == 0, done.stderr
        return json.loads(done.stdout)

    return run


# The model modules the test suites copy into project folders are trusted by name, as a user
# would with ``modelsnap run --trust-code``. Set for the whole session (fixtures of every scope
# and the subprocesses they start inherit it); tests of the refusal remove it with monkeypatch.
os.environ["MODELSNAP_TRUST_CODE"] = "hostile_models,bad_models"

# The suite starts hundreds of interpreters (commands, workers, templates). Where the
# environment says not to write bytecode (PYTHONDONTWRITEBYTECODE, set on some CI images), each
# of them compiled the modelsnap modules it imports again: ``modelsnap ls`` took 0.22 s instead
# of 0.11 s (medians of 8 interleaved runs). The suite writes bytecode, as an installed package
# does; __pycache__ is ignored by git.
os.environ.pop("PYTHONDONTWRITEBYTECODE", None)
sys.dont_write_bytecode = False
