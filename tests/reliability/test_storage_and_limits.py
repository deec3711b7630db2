"""A read-only file system or a full disk during a write, debris of killed runs, and values no
machine should be asked to handle: each gets a clear message, and no record is touched."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from modelsnap.core.errors import DataError, ProjectFileError
from modelsnap.core.evaluation.data import load_dataset
from modelsnap.core.project.parse import load_project

from .conftest import PROJECT_TOML, cli, edge_run_and_decisions, snapshot_id_of

HERE = Path(__file__).parent


def _records(root: Path) -> dict[str, str]:
    """sha256 of every file outside .modelsnap (tool state and staging may change)."""
    return {
        str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(root.rglob("*"))
        if p.is_file() and ".modelsnap" not in p.relative_to(root).parts
    }


@pytest.fixture(scope="module")
def edge_template(tmp_path_factory: pytest.TempPathFactory, _ranked_template: Path) -> Path:
    return edge_run_and_decisions(
        _ranked_template,
        tmp_path_factory.mktemp("disk") / "proj",
        [("logistic", "the baseline sets the floor", ())],
    )


@pytest.mark.parametrize("fault", ["EROFS", "ENOSPC"])
@pytest.mark.parametrize("command", ["edge", "decide", "lock", "run", "profile"])
def test_a_failing_disk_gives_a_clear_message_and_keeps_every_record(
    edge_template: Path, tmp_path: Path, fault: str, command: str
) -> None:
    root = tmp_path / "proj"
    shutil.copytree(edge_template, root)
    tree = snapshot_id_of(root, "tree")
    if command == "lock":  # a changed weight, so that lock has a revision to write
        text = (root / "modelsnap.toml").read_text()
        (root / "modelsnap.toml").write_text(
            text.replace(
                "weight = 1.0", 'weight = 1.0\n\n[[criteria]]\nmetric = "accuracy"\nweight = 0.5', 1
            )
        )
    args = {
        "edge": ["edge", str(root)],
        "decide": ["decide", str(root), tree, "--rationale", "best model for the test"],
        "lock": ["lock", str(root), "--reason", "add accuracy"],
        "run": ["run", str(root), "--candidate", "tree", "--latency-trials", "2"],
        "profile": ["profile", str(root), tree, "--latency-trials", "2"],
    }[command]
    before = _records(root)
    proc = subprocess.run(
        [sys.executable, str(HERE / "faulty_disk.py"), fault, *args],
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, "PYTHONPATH": os.environ.get("PYTHONPATH", "")},
    )
    assert proc.returncode != 0, (proc.stdout, proc.stderr)
    assert "Traceback" not in proc.stderr + proc.stdout, proc.stderr
    assert "cannot write" in proc.stderr and "existing records are unchanged" in proc.stderr
    hint = "read-only" if fault == "EROFS" else "disk is full"
    assert hint in proc.stderr, proc.stderr
    assert _records(root) == before
    check = cli("check", str(root), "--format", "json")
    report = json.loads(check.stdout)
    assert report["ok"], report["findings"]  # debris, if any, is information only


def test_readers_work_on_a_read_only_folder(edge_template: Path, tmp_path: Path) -> None:
    """Reading never needs to write: the index is a cache, skipped when it cannot be written."""
    root = tmp_path / "proj"
    shutil.copytree(edge_template, root)
    shutil.rmtree(root / ".modelsnap")
    for args in (
        ["ls", str(root)],
        ["rank", str(root)],
        ["check", str(root)],
        ["show", str(root), snapshot_id_of(root, "tree")],
    ):
        proc = subprocess.run(
            [sys.executable, str(HERE / "faulty_disk.py"), "EROFS", *args],
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert proc.returncode == 0, (args, proc.stderr)
        assert "Traceback" not in proc.stderr, proc.stderr
    assert not (root / ".modelsnap").exists()


def test_debris_of_a_killed_run_is_information_and_the_next_write_removes_it(
    ranked_project: Path,
) -> None:
    root = ranked_project
    staging = root / ".modelsnap" / "tmp"
    staging.mkdir(parents=True, exist_ok=True)
    dead_dir = staging / ".tmp-999999999-abc"
    dead_dir.mkdir()
    (dead_dir / "model.skops").write_bytes(b"half a model")
    (staging / ".tmp-999999998-def").write_bytes(b"half a record")
    check = cli("check", str(root), "--format", "json")
    assert check.returncode == 0, check.stdout
    report = json.loads(check.stdout)
    assert report["ok"] is True
    temps = [f for f in report["findings"] if f["kind"] == "temp"]
    assert {f["where"] for f in temps} == {
        ".modelsnap/tmp/.tmp-999999999-abc",
        ".modelsnap/tmp/.tmp-999999998-def",
    }
    assert {f["severity"] for f in temps} == {"info"}
    table = cli("check", str(root))
    assert table.returncode == 0 and "info" in table.stdout and ".tmp-999999999-abc" in table.stdout
    # a real finding still fails
    (root / "models" / "20260101T000000-ghost-0000.skops").write_bytes(b"orphan")
    assert cli("check", str(root)).returncode == 1
    (root / "models" / "20260101T000000-ghost-0000.skops").unlink()
    decide = cli(
        "decide",
        str(root),
        snapshot_id_of(root, "logistic"),
        "--rationale",
        "the baseline sets the floor",
    )
    assert decide.returncode == 0, decide.stderr
    assert not dead_dir.exists() and not (staging / ".tmp-999999998-def").exists()
    report = json.loads(cli("check", str(root), "--format", "json").stdout)
    assert report["findings"] == []


def test_threads_beyond_the_cap_are_refused(tmp_path: Path) -> None:
    from .conftest import write_project

    root = write_project(tmp_path / "p", "")
    text = (root / "modelsnap.toml").read_text()
    (root / "modelsnap.toml").write_text(
        text.replace("batch_size = 16", "batch_size = 16\nthreads = 100000")
    )
    with pytest.raises(ProjectFileError, match=r"\[run\]\.threads.*\[1, 256\]"):
        load_project(root)
    proc = cli("run", str(root), "--baseline")
    assert proc.returncode == 2 and "threads" in proc.stderr and "Traceback" not in proc.stderr
    (root / "modelsnap.toml").write_text(
        text.replace("batch_size = 16", "batch_size = 16\nthreads = 256")
    )
    assert load_project(root).run.threads == 256


def _project_with_target(tmp_path: Path, values: list[str]) -> Path:
    root = tmp_path / "t"
    root.mkdir(parents=True)
    rows = ["a,b,label"] + [f"{i % 7},{i % 3},{values[i % len(values)]}" for i in range(60)]
    (root / "data.csv").write_text("\n".join(rows) + "\n")
    (root / "modelsnap.toml").write_text(PROJECT_TOML.split("[selection]")[0])
    return root


def test_a_huge_classification_target_keeps_its_classes(tmp_path: Path) -> None:
    root = _project_with_target(tmp_path, ["1e308", "-1e308"])
    dataset = load_dataset(load_project(root))
    assert dataset.task == "classification"
    assert sorted(dataset.classes) == ["-1e+308", "1e+308"]
    assert "-9223372036854775808" not in dataset.classes


def test_a_huge_regression_target_is_refused(tmp_path: Path) -> None:
    root = _project_with_target(tmp_path, ["1e308", "-1e308", "0.5"])
    with pytest.raises(DataError, match="overflow"):
        load_dataset(load_project(root))
    root2 = _project_with_target(tmp_path / "x", ["inf", "1.5", "0.5"])
    with pytest.raises(DataError, match="infinite"):
        load_dataset(load_project(root2))
