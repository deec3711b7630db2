"""Code that came with a project folder runs only when the user trusts it by name.

A modelsnap.toml can name an estimator from a module beside it (``mymodels.MyModel``). Opening a
stranger's folder and running it must not execute that module unless the user says so, and a
file in the folder must never shadow an installed package."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from modelsnap.core.errors import ProjectFileError
from modelsnap.core.evaluation.pipeline import import_estimator

from .conftest import cli, write_project

PLANTED = """
from pathlib import Path
Path({marker!r}).write_text("ran")
from sklearn.linear_model import LogisticRegression as Planted
"""

EXTRA = """
[baseline]
name = "planted"
estimator = "planted_models.Planted"
"""


def _plant(root: Path, marker: Path, name: str = "planted_models") -> None:
    (root / f"{name}.py").write_text(PLANTED.format(marker=str(marker)))


def test_a_project_module_is_refused_unless_trusted_by_name(tmp_path, monkeypatch):
    monkeypatch.delenv("MODELSNAP_TRUST_CODE", raising=False)
    root = write_project(tmp_path / "p")
    marker = tmp_path / "marker"
    _plant(root, marker)
    with pytest.raises(ProjectFileError, match="trust it by name") as caught:
        import_estimator("planted_models.Planted", root)
    assert "--trust-code planted_models" in str(caught.value)
    assert not marker.exists() and "planted_models" not in sys.modules

    monkeypatch.setenv("MODELSNAP_TRUST_CODE", "planted_models")
    assert import_estimator("planted_models.Planted", root).__name__ == "LogisticRegression"
    assert marker.read_text() == "ran"
    sys.modules.pop("planted_models", None)


def test_run_refuses_the_folders_code_and_runs_it_with_trust_code(tmp_path, monkeypatch):
    monkeypatch.delenv("MODELSNAP_TRUST_CODE", raising=False)
    root = write_project(tmp_path / "p")
    text = (root / "modelsnap.toml").read_text()
    start = text.index("[baseline]")
    end = text.find("\n[", start + 1)
    rest = text[end:] if end != -1 else ""
    (root / "modelsnap.toml").write_text(text[:start] + EXTRA.lstrip() + rest)
    marker = tmp_path / "marker"
    _plant(root, marker)

    refused = cli("run", str(root), "--baseline", "--latency-trials", "5")
    assert refused.returncode != 0 and "Traceback" not in refused.stderr
    assert "--trust-code planted_models" in " ".join(refused.stderr.split())
    assert not marker.exists()
    assert not list(root.glob("snapshots/*.toml"))

    trusted = cli(
        "run", str(root), "--baseline", "--latency-trials", "5", "--trust-code", "planted_models"
    )
    assert trusted.returncode == 0, trusted.stderr
    assert marker.read_text() == "ran"


def test_a_file_in_the_folder_never_shadows_an_installed_package(tmp_path, monkeypatch):
    monkeypatch.setenv("MODELSNAP_TRUST_CODE", "json")
    root = tmp_path / "p"
    root.mkdir()
    marker = tmp_path / "marker"
    (root / "json.py").write_text(f"open({str(marker)!r}, 'w').write('ran')\n")
    with pytest.raises(ProjectFileError):
        import_estimator("json.JSONDecoder", root)  # the real json: not an estimator
    assert not marker.exists()
