"""``report -o`` never replaces a record or data file; another file only with --force."""

from __future__ import annotations

from pathlib import Path

import pytest

from modelsnap.core.errors import ModelsnapError
from modelsnap.core.reporting.report import protected_output

from .conftest import assert_clean_failure, cli, snapshot_id_of


def _records(root: Path) -> list[str]:
    tree = snapshot_id_of(root, "tree")
    [model] = [p.name for p in (root / "models").iterdir() if tree in p.name]
    [predictions] = [p.name for p in (root / "predictions").iterdir() if tree in p.name]
    return [
        "modelsnap.toml",
        "criteria_revisions.toml",
        "decisions.toml",
        "ledger.toml",
        "split.npz",
        "data.csv",
        "edge_cases.csv",
        "MODELSNAP.TOML",
        f"snapshots/{tree}.toml",
        f"snapshots/new-{tree}.toml",
        f"models/{model}",
        f"predictions/{predictions}",
        "edge_runs/20260101T000000-edge-0000.toml",
        ".modelsnap/index.sqlite",
        ".modelsnap/index.block",
    ]


def test_report_never_replaces_a_record_or_data_file(ranked_project: Path) -> None:
    root = ranked_project
    (root / "decisions.toml").write_text("schema = 1\n")
    (root / "edge_runs").mkdir()
    before = {p: p.read_bytes() for p in root.rglob("*") if p.is_file()}
    for relative in _records(root):
        for extra in ((), ("--force",)):
            proc = cli("report", str(root), "-o", str(root / relative), "--no-significance", *extra)
            assert_clean_failure(proc)
            assert "refusing to write the report there" in proc.stderr, (relative, proc.stderr)
    after = {p: p.read_bytes() for p in root.rglob("*") if p.is_file()}
    assert after == before


def test_a_symlink_or_relative_path_to_a_record_is_refused(
    ranked_project: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = ranked_project
    link = tmp_path / "innocent.html"
    link.symlink_to(root / "modelsnap.toml")
    assert protected_output(root, link) is not None
    monkeypatch.chdir(root / "snapshots")
    assert protected_output(root, Path("../modelsnap.toml")) is not None
    assert protected_output(root, tmp_path / "report.html") is None
    assert protected_output(root, root / "report.html") is None


def test_an_existing_file_is_replaced_only_with_force(ranked_project: Path, tmp_path: Path) -> None:
    root = ranked_project
    target = tmp_path / "notes.md"
    target.write_text("my own notes\n")
    proc = cli("report", str(root), "-o", str(target), "--no-significance")
    assert_clean_failure(proc)
    assert "already exists" in proc.stderr and "--force" in proc.stderr
    assert target.read_text() == "my own notes\n"
    proc = cli("report", str(root), "-o", str(target), "--no-significance", "--force")
    assert proc.returncode == 0, proc.stderr
    assert target.read_text().startswith("#")
    fresh = tmp_path / "fresh.html"
    assert cli("report", str(root), "-o", str(fresh), "--no-significance").returncode == 0
    assert fresh.read_text().lstrip().lower().startswith("<!doctype html")


def test_write_report_refuses_in_process(ranked_project: Path) -> None:
    from modelsnap.core.reporting.report import write_report

    with pytest.raises(ModelsnapError, match="refusing"):
        write_report(ranked_project, ranked_project / "decisions.toml", force=True)
