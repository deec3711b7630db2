"""The sample project's committed records are sealed and check clean, and the checks that need
no fitted model: a constraint verdict flipped by hand in the sample is named by recomputation,
even when the whole ledger is forged to match. (The attacks on a real run are in
test_sealed_records.py.)"""

from __future__ import annotations

import shutil
import tomllib
from pathlib import Path

import tomli_w

from modelsnap.cli.check_cmd import audit
from modelsnap.core.records import ledger

SAMPLE = Path(__file__).resolve().parents[2] / "sample_project"


def check(root: Path) -> tuple[list[tuple[str, str]], str]:
    findings = audit(root).findings
    errors = [f for f in findings if f.severity == "error"]
    return [(f.kind, f.where) for f in errors], " | ".join(f.message for f in errors)


def edit_toml(path: Path, change) -> None:
    data = tomllib.loads(path.read_text())
    change(data)
    path.write_bytes(tomli_w.dumps(data).encode())


def test_the_sample_project_is_sealed_and_clean(tmp_path: Path) -> None:
    root = tmp_path / "sample"
    shutil.copytree(SAMPLE, root, ignore=shutil.ignore_patterns(".modelsnap"))
    findings, messages = check(root)
    assert findings == [], messages
    assert ledger.read_ledger(root)  # committed with the records


def test_a_flipped_constraint_verdict_is_named(tmp_path: Path) -> None:
    """The sample's random forest misses the gain over the baseline; ``ok = true`` by hand."""
    root = tmp_path / "sample"
    shutil.copytree(SAMPLE, root, ignore=shutil.ignore_patterns(".modelsnap"))
    [path] = (root / "snapshots").glob("*-random_forest-*.toml")
    assert tomllib.loads(path.read_text())["constraints"]["gain_over_baseline"]["ok"] is False
    edit_toml(path, lambda s: s["constraints"]["gain_over_baseline"].update(ok=True))
    findings, messages = check(root)
    assert ("recompute", f"snapshots/{path.name}") in findings
    assert ("ledger", f"snapshots/{path.name}") in findings
    (root / "ledger.toml").unlink()  # the whole chain forged: recomputation still names it
    ledger.adopt(root)
    findings, messages = check(root)
    assert findings == [("recompute", f"snapshots/{path.name}")], messages
    assert "constraints.gain_over_baseline.ok is recorded as true" in messages
    assert "gives false" in messages
