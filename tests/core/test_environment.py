"""[environment] and [hardware]: versions, git state of the project folder, machine fingerprint."""

from __future__ import annotations

import platform
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from modelsnap.core.evaluation.environment import (
    distribution_of,
    environment_table,
    git_state,
    hardware_fingerprint,
    hardware_table,
)


def test_environment_table_records_versions(tmp_path: Path) -> None:
    table = environment_table(tmp_path, estimator="sklearn.ensemble.RandomForestClassifier")
    assert table["python"] == platform.python_version()
    for name in ("scikit-learn", "numpy", "pandas", "skops", "modelsnap"):
        assert table["packages"][name]
    assert "git_commit" not in table  # tmp_path is not a repository


def test_estimator_package_is_added() -> None:
    assert distribution_of("sklearn.ensemble") == "scikit-learn"
    table = environment_table(None, estimator="hypothesis.SomeModel")
    assert "hypothesis" in table["packages"]
    assert distribution_of("my_local_module") is None


@pytest.mark.skipif(shutil.which("git") is None, reason="git is not installed")
def test_git_commit_and_dirty(tmp_path: Path) -> None:
    def git(*args: str) -> None:
        subprocess.run(["git", "-C", str(tmp_path), *args], check=True, capture_output=True)

    git("init", "-q")
    git("config", "user.email", "t@example.com")
    git("config", "user.name", "t")
    (tmp_path / "modelsnap.toml").write_text("x = 1\n", encoding="utf-8")
    git("add", "modelsnap.toml")
    git("commit", "-qm", "init")
    state = git_state(tmp_path)
    assert len(state["git_commit"]) == 40 and state["git_dirty"] is False
    (tmp_path / "snapshots").mkdir()
    (tmp_path / "snapshots" / "a.toml").write_text("", encoding="utf-8")
    assert git_state(tmp_path)["git_dirty"] is False  # untracked records do not count
    (tmp_path / "modelsnap.toml").write_text("x = 2\n", encoding="utf-8")
    assert git_state(tmp_path)["git_dirty"] is True
    assert environment_table(tmp_path)["git_dirty"] is True


def test_hardware_table() -> None:
    table = hardware_table()
    assert table["cpu"] and table["cores"] >= 1 and table["memory_gb"] > 0
    assert table["fingerprint"] == hardware_fingerprint(
        table["cpu"], table["cores"], table["memory_gb"], table.get("gpu")
    )
    assert len(table["fingerprint"]) == 16
    assert hardware_fingerprint("x", 2, 8.0, None) != hardware_fingerprint("x", 4, 8.0, None)


def test_environment_module_does_not_import_sklearn() -> None:
    code = (
        "import sys; "
        "from modelsnap.core.evaluation.environment import environment_table, hardware_table; "
        "environment_table('.'); hardware_table(); "
        "print('sklearn' in sys.modules, 'pandas' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["False", "False"]


def test_machines_are_described_in_words_not_hashes():
    from modelsnap.core.evaluation.environment import describe_machine, short_cpu

    assert short_cpu("Intel(R) Xeon(R) CPU @ 2.20GHz") == "Intel Xeon"
    assert short_cpu("AMD EPYC 7B13 64-Core Processor") == "AMD EPYC 7B13"
    assert short_cpu("") == "unknown CPU"
    table = {"cpu": "Intel(R) Xeon(R) CPU @ 2.20GHz", "cores": 2, "fingerprint": "d665"}
    assert describe_machine(table, here="d665") == "this machine"
    assert describe_machine(table, here="other") == "another machine (Intel Xeon, 2 cores)"
    assert describe_machine(None) == "another machine"
