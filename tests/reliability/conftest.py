"""Shared pieces of the reliability suite: a tiny real project, the CLI as a user runs it, and the
one set of invariants every attack must leave intact ("nothing lost, nobody fooled").

The ranked project is built once per session with real ``modelsnap run`` subprocesses (a
logistic baseline and a depth-3 tree on 200 rows, 5 latency trials) and copied for each test,
so the suite pays for two real runs, not dozens.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

HERE = Path(__file__).parent

PROJECT_TOML = """\
[data]
source = "data.csv"
target = "label"
seed = 3

[selection]
primary_metric = "f1"

[[criteria]]
metric = "f1"
weight = 1.0

[run]
latency_trials = 5
latency_warmup = 1
batch_size = 16
timeout_seconds = 120
memory_limit_mb = 3000

[baseline]
name = "logistic"
estimator = "sklearn.linear_model.LogisticRegression"

[[candidates]]
name = "tree"
estimator = "sklearn.tree.DecisionTreeClassifier"
params = { max_depth = 3, random_state = 0 }
"""


def write_data(root: Path, n: int = 200) -> None:
    """A two-feature binary problem (200 rows) as data.csv."""
    rng = np.random.default_rng(1)
    x = rng.normal(size=(n, 2))
    labels = np.where(x[:, 0] + 0.5 * x[:, 1] > 0, "pos", "neg")
    lines = ["a,b,label"] + [f"{a:.6f},{b:.6f},{y}" for (a, b), y in zip(x, labels, strict=True)]
    (root / "data.csv").write_text("\n".join(lines) + "\n")


def write_project(root: Path, extra: str = "") -> Path:
    root.mkdir(parents=True, exist_ok=True)
    write_data(root)
    (root / "modelsnap.toml").write_text(PROJECT_TOML + extra)
    shutil.copy(HERE / "hostile_models.py", root / "hostile_models.py")
    return root


def cli(
    *args: str, cwd: Path | None = None, timeout: float = 300, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess:
    """``modelsnap ARGS`` in a fresh interpreter, exactly as a user would run it."""
    return subprocess.run(
        [sys.executable, "-m", "modelsnap", *args],
        capture_output=True,
        text=True,
        cwd=cwd,
        timeout=timeout,
        env={**os.environ, **(env or {})},
    )


def assert_clean_failure(proc: subprocess.CompletedProcess, *, code: int | None = None) -> None:
    """A refused command: non-zero exit, an ``error:`` line, and never a Python traceback."""
    assert proc.returncode != 0, proc.stdout + proc.stderr
    if code is not None:
        assert proc.returncode == code, proc.stderr
    assert "Traceback" not in proc.stderr, proc.stderr
    assert "Traceback" not in proc.stdout, proc.stdout


@pytest.fixture(scope="session")
def _ranked_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = write_project(tmp_path_factory.mktemp("template") / "proj")
    for args in (
        ("run", str(root), "--baseline"),
        ("lock", str(root)),
        ("run", str(root), "--candidate", "tree"),
    ):
        proc = cli(*args)
        assert proc.returncode == 0, proc.stderr
    return root


@pytest.fixture
def ranked_project(_ranked_template: Path, tmp_path: Path) -> Path:
    """A fresh copy of a real project with a baseline and a ranked candidate snapshot."""
    root = tmp_path / "proj"
    shutil.copytree(_ranked_template, root, symlinks=True)
    return root


def snapshot_id_of(root: Path, name: str) -> str:
    [path] = [p for p in (root / "snapshots").glob("*.toml") if f"-{name}-" in p.name]
    return path.stem


def tmp_entries_outside_staging(root: Path) -> list[Path]:
    """Temp-named files anywhere in the folder except ``.modelsnap/tmp`` (where they belong)."""
    staging = root / ".modelsnap" / "tmp"
    found = []
    for directory, dirs, files in os.walk(root):
        here = Path(directory)
        if here == staging or staging in here.parents:
            dirs[:] = []
            continue
        found += [here / name for name in [*dirs, *files] if name.startswith(".tmp-")]
    return found


def assert_folder_sound(root: Path) -> dict:
    """The invariants of a trustworthy folder, whatever happened to it.

    Every snapshot file is complete and valid, its artifact and predictions match their hashes,
    the decision chain verifies, every record matches its seal in ledger.toml, temp files exist
    only under ``.modelsnap/tmp``, the index rows agree with the listing, and ``ls`` opens the
    folder. Returns ``check``'s JSON so callers
    can assert on the findings that are allowed (temp/orphan leftovers of a killed process).
    """
    from modelsnap.core.records import ledger
    from modelsnap.core.records.decision_log import verify_chain
    from modelsnap.core.records.index import load_rows
    from modelsnap.core.records.store import list_snapshots, verify_files

    snapshots, problems = list_snapshots(root)
    assert problems == [], [str(p) for p in problems]
    for snapshot in snapshots:
        assert verify_files(root, snapshot) == [], snapshot["id"]
    assert verify_chain(root) == []
    # every record matches its seal; an interrupted write is information, never tampering
    assert ledger.errors(ledger.verify(root)) == []
    assert tmp_entries_outside_staging(root) == []
    rows, row_problems = load_rows(root)
    assert row_problems == []
    assert sorted(r["id"] for r in rows) == sorted(s["id"] for s in snapshots)
    listing = cli("ls", str(root), "--format", "json")
    assert listing.returncode == 0, listing.stderr
    assert "Traceback" not in listing.stderr
    listed = json.loads(listing.stdout)
    assert sorted(r["id"] for r in listed) == sorted(s["id"] for s in snapshots)
    check = cli("check", str(root), "--format", "json")
    assert "Traceback" not in check.stderr, check.stderr
    report = json.loads(check.stdout)
    assert report["snapshots"] == len(snapshots)
    return report


@pytest.fixture
def folder_sound() -> Callable[[Path], dict]:
    return assert_folder_sound


EDGE_CSV = "case,severity,a,b,label\nzero,must-pass,0,0,neg\nfar,normal,3,1,pos\n"


def edge_run_and_decisions(
    template: Path, root: Path, decisions: list[tuple[str, str, tuple[str, ...]]]
) -> Path:
    """A copy of ``template`` at ``root`` with an edge-case file, one ``modelsnap edge`` run and
    the given decisions (model name, rationale, extra CLI arguments), each made by the CLI."""
    shutil.copytree(template, root, symlinks=True)
    text = (root / "modelsnap.toml").read_text()
    (root / "modelsnap.toml").write_text(
        text.replace('target = "label"', 'target = "label"\nedge_cases = "edge_cases.csv"')
    )
    (root / "edge_cases.csv").write_text(EDGE_CSV)
    commands = [("edge", str(root))] + [
        ("decide", str(root), snapshot_id_of(root, name), "--rationale", rationale, *extra)
        for name, rationale, extra in decisions
    ]
    for args in commands:
        proc = cli(*args)
        assert proc.returncode == 0, proc.stderr
    return root
