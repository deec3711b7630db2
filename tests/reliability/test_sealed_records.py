"""Every edit to a record is named: the ledger (ledger.toml), recomputation, and the cache.

An attacker with write access to a folder someone else will open edits records the way a person
would: a metric by hand, a constraint's ``ok`` flipped, an artifact swapped for another valid
model with its hash and size updated in the snapshot, an edge run forged or deleted, a snapshot
deleted, the ledger's seals reordered, the decision log truncated (in a fresh clone, without
``.modelsnap/``), a row of the index cache poisoned. ``check`` must name each one, ``decide``
must refuse to append to a history that does not verify, and ``ls``/``rank`` must show what the
files say. A real run on a fresh project stays clean. The project is a real one (two fitted
models, an edge-case run and a decision, made by ``modelsnap`` subprocesses).
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest
import tomli_w

from modelsnap.cli.check_cmd import audit
from modelsnap.core.files import sha256_file
from modelsnap.core.records import ledger

from .conftest import assert_clean_failure, cli, edge_run_and_decisions, snapshot_id_of

pytestmark = pytest.mark.slow  # a real project: two fitted models, an edge run, decisions

RATIONALE = "best f1 within the latency budget"


@pytest.fixture(scope="session")
def _decided_template(_ranked_template: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    return edge_run_and_decisions(
        _ranked_template,
        tmp_path_factory.mktemp("decided") / "proj",
        [
            ("tree", RATIONALE, ("--by", "ana")),
            ("tree", "still the best trade-off after review", ("--by", "ben")),
        ],
    )


@pytest.fixture
def project(_decided_template: Path, tmp_path: Path) -> Path:
    """A copy of a real project: baseline, locked criteria, a candidate, an edge run and two
    decisions (D0001, D0002), every record sealed."""
    root = tmp_path / "proj"
    shutil.copytree(_decided_template, root, symlinks=True)
    return root


def check(root: Path) -> tuple[list[tuple[str, str]], str]:
    """(kind, where) of every error finding, and all messages joined (in process)."""
    findings = audit(root).findings
    errors = [f for f in findings if f.severity == "error"]
    return [(f.kind, f.where) for f in errors], " | ".join(f.message for f in errors)


def snapshot_file(root: Path, name: str) -> Path:
    return root / "snapshots" / f"{snapshot_id_of(root, name)}.toml"


def edit_toml(path: Path, change) -> None:
    data = tomllib.loads(path.read_text())
    change(data)
    path.write_bytes(tomli_w.dumps(data).encode())


def edge_run(root: Path) -> Path:
    [path] = sorted((root / "edge_runs").glob("*.toml"))
    return path


# --------------------------------------------------------------------------- a clean run


def test_a_fresh_run_edge_and_decisions_check_clean(project: Path) -> None:
    proc = cli("check", str(project), "--format", "json")
    report = json.loads(proc.stdout)
    assert proc.returncode == 0 and report["ok"], report["findings"]
    assert report["findings"] == []
    assert report["ledger_head"] == ledger.head(project)
    seals = ledger.read_ledger(project)
    kinds = [seal["kind"] for seal in seals]
    # baseline, revision 1, candidate, edge run, two decisions: in the order they were written
    assert kinds == [
        "snapshot",
        "criteria_revision",
        "snapshot",
        "edge_run",
        "decision",
        "decision",
    ]
    decision = tomllib.loads((project / "decisions.toml").read_text())["decision"][0]
    assert decision["snapshot_sha256"] == sha256_file(snapshot_file(project, "tree"))
    text = cli("check", str(project))
    assert f"ledger head {ledger.head(project)}" in text.stdout


# --------------------------------------------------------------------------- recomputation


def test_a_metric_changed_by_hand_is_named(project: Path) -> None:
    path = snapshot_file(project, "tree")
    edit_toml(path, lambda s: s["metrics"]["validation"].update(f1=0.99))
    findings, messages = check(project)
    where = f"snapshots/{path.name}"
    assert ("recompute", where) in findings
    assert ("ledger", where) in findings
    assert "metrics.validation.f1 is recorded as 0.99" in messages


def test_a_metric_changed_in_a_folder_resealed_is_still_named(project: Path) -> None:
    """Even with the ledger rewritten to match (the whole chain forged), the stored
    predictions still give the true metric."""
    path = snapshot_file(project, "logistic")  # not the decided one: only recompute can tell
    edit_toml(path, lambda s: s["metrics"]["test"].update(accuracy=1.0))
    (project / "ledger.toml").unlink()
    assert ledger.adopt(project)
    findings, messages = check(project)
    assert findings == [("recompute", f"snapshots/{path.name}")], messages
    assert "metrics.test.accuracy is recorded as 1.0" in messages


# --------------------------------------------------------------------------- the ledger


def test_an_artifact_swapped_with_its_hash_updated_is_named(project: Path) -> None:
    tree, logistic = snapshot_file(project, "tree"), snapshot_file(project, "logistic")
    other = tomllib.loads(logistic.read_text())["model"]
    artifact = project / tomllib.loads(tree.read_text())["model"]["artifact"]
    shutil.copyfile(project / other["artifact"], artifact)  # another valid skops model

    def swap(snapshot: dict) -> None:
        snapshot["model"]["artifact_sha256"] = sha256_file(artifact)
        snapshot["model"]["size_bytes"] = artifact.stat().st_size

    edit_toml(tree, swap)
    findings, messages = check(project)
    assert ("ledger", f"snapshots/{tree.name}") in findings
    assert not any(kind == "files" for kind, _ in findings)  # the hashes agree now
    assert "edited or replaced after it was sealed" in messages


def test_a_forged_edge_run_is_named(project: Path) -> None:
    real = edge_run(project)
    forged = real.with_name("20991231T235959-edge-ffff.toml")

    def reject(run: dict) -> None:
        run["id"] = forged.stem
        for result in run["result"]:
            result["must_pass_failed"] = 1

    shutil.copyfile(real, forged)
    edit_toml(forged, reject)
    findings, messages = check(project)
    assert findings == [("ledger", f"edge_runs/{forged.name}")], messages
    assert "present but was never sealed" in messages


def test_a_deleted_edge_run_and_a_deleted_snapshot_are_named(project: Path) -> None:
    run = edge_run(project)
    run.unlink()
    tree = snapshot_file(project, "tree")
    tree.unlink()
    findings, messages = check(project)
    assert ("ledger", f"edge_runs/{run.name}") in findings
    assert ("ledger", f"snapshots/{tree.name}") in findings
    assert messages.count("deleted after it was sealed") == 2


def test_reordered_seals_are_named_with_their_records(project: Path) -> None:
    text = (project / "ledger.toml").read_text()
    header, *blocks = text.split("\n[[seal]]\n")
    blocks[1], blocks[2] = blocks[2], blocks[1]
    (project / "ledger.toml").write_text(header + "".join("\n[[seal]]\n" + b for b in blocks))
    findings, messages = check(project)
    assert findings and all(kind == "ledger" and where == "ledger.toml" for kind, where in findings)
    assert "seals were reordered" in messages
    assert "criteria revision 1" in messages and "snapshots/" in messages


def test_a_truncated_decision_log_is_named_in_a_fresh_clone(project: Path, tmp_path: Path) -> None:
    clone = tmp_path / "clone"
    shutil.copytree(project, clone, ignore=shutil.ignore_patterns(".modelsnap"))
    text = (clone / "decisions.toml").read_text()
    (clone / "decisions.toml").write_text(text[: text.rindex("[[decision]]")])
    findings, messages = check(clone)
    assert ("ledger", "decisions.toml") in findings
    assert "decision D0002 was removed from decisions.toml" in messages


def test_decide_refuses_after_truncation_instead_of_resealing(project: Path) -> None:
    text = (project / "decisions.toml").read_text()
    truncated = text[: text.rindex("[[decision]]")]
    (project / "decisions.toml").write_text(truncated)
    proc = cli("decide", str(project), snapshot_id_of(project, "tree"), "--rationale", RATIONALE)
    assert_clean_failure(proc, code=1)
    assert "D0002 was removed" in proc.stderr and "ledger.toml" in proc.stderr
    assert (project / "decisions.toml").read_text() == truncated  # no D0002 written again
    findings, _ = check(project)
    assert ("ledger", "decisions.toml") in findings  # and check still says so


def test_decide_refuses_on_an_edited_or_forged_record(project: Path) -> None:
    forged = project / "edge_runs" / "20991231T235959-edge-ffff.toml"
    shutil.copyfile(edge_run(project), forged)
    before = (project / "decisions.toml").read_bytes()
    proc = cli("decide", str(project), snapshot_id_of(project, "tree"), "--rationale", RATIONALE)
    assert_clean_failure(proc, code=1)
    assert "never sealed" in proc.stderr and "modelsnap seal" in proc.stderr
    assert (project / "decisions.toml").read_bytes() == before


# --------------------------------------------------------------------------- crash and legacy


INTERRUPTED = """
import os, sys
from pathlib import Path
from modelsnap.core.records import ledger
from modelsnap.core.files import create_exclusive_bytes
root, data = Path(sys.argv[1]), b'schema = 1\\nid = "20991231T000000-edge-0000"\\nresult = []\\n'
with ledger.sealing(root) as sealer:
    sealer.intend("edge_run", "edge_runs/20991231T000000-edge-0000.toml",
                  __import__("hashlib").sha256(data).hexdigest())
    create_exclusive_bytes(root, root / "edge_runs" / "20991231T000000-edge-0000.toml", data)
    os._exit(0)  # killed between the record and its seal
"""


def test_a_write_interrupted_before_its_seal_is_information_then_sealed(project: Path) -> None:
    proc = subprocess.run(
        [sys.executable, "-c", INTERRUPTED, str(project)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 0, proc.stderr
    report = json.loads(cli("check", str(project), "--format", "json").stdout)
    assert report["ok"], report["findings"]
    [info] = report["findings"]
    assert info["severity"] == "info" and "interrupted before its seal" in info["message"]
    assert info["where"] == "edge_runs/20991231T000000-edge-0000.toml"
    # the next sealed write (here the criteria lock, unchanged: nothing new) seals it first
    with ledger.sealing(project):
        pass
    assert check(project) == ([], "")
    assert audit(project).findings == []
    assert ledger.read_ledger(project)[-1]["path"] == "edge_runs/20991231T000000-edge-0000.toml"


def test_a_folder_made_before_sealing_is_sealed_by_the_seal_command(project: Path) -> None:
    (project / "ledger.toml").unlink()
    findings, messages = check(project)
    assert findings == [("ledger", "ledger.toml")]
    assert "records not sealed: 6 record(s) made before sealing" in messages
    assert "modelsnap seal DIR" in messages
    refused = cli("decide", str(project), snapshot_id_of(project, "tree"), "--rationale", RATIONALE)
    assert_clean_failure(refused, code=1)
    assert "modelsnap seal" in refused.stderr

    first = cli("seal", str(project), "--format", "json")
    assert first.returncode == 0, first.stderr
    assert len(json.loads(first.stdout)["sealed"]) == 6
    assert check(project) == ([], "")
    again = cli("seal", str(project))
    assert again.returncode == 0 and "nothing to seal" in again.stdout

    edit_toml(snapshot_file(project, "logistic"), lambda s: s.update(notes="edited"))
    refused = cli("seal", str(project))
    assert_clean_failure(refused, code=1)
    assert "nothing sealed" in refused.stderr


# --------------------------------------------------------------------------- the cache


def test_a_poisoned_index_row_is_not_shown(project: Path) -> None:
    """A row of .modelsnap/index.sqlite rewritten (f1 0.99, limits ok), the snapshot file's
    size and mtime untouched: ls and rank show the file's values, as check does."""
    import marshal
    import sqlite3

    from modelsnap.core.records import index

    tree = snapshot_id_of(project, "tree")
    index.load_rows(project, write_back=True)
    path = project / "snapshots" / f"{tree}.toml"
    stat = path.stat()
    real_f1 = tomllib.loads(path.read_text())["metrics"]["validation"]["f1"]
    with sqlite3.connect(index.index_path(project)) as connection:
        (body,) = connection.execute(
            "SELECT body FROM entries WHERE file = ?", (f"{tree}.toml",)
        ).fetchone()
        row = dict(zip(index._ROW_FIELDS, marshal.loads(body), strict=True))
        row["constraints"] = {"ok": True, "flags": {}, "reasons": []}
        names = index._read_index(project).names
        values = {name: 0.0 for name in names} | {"f1": 0.99}
        row["measures_packed"] = (index._pack(values, names), index._pack(values, names))
        connection.execute(
            "UPDATE entries SET body = ? WHERE file = ?", (marshal.dumps(row), f"{tree}.toml")
        )
    assert (path.stat().st_size, path.stat().st_mtime_ns) == (stat.st_size, stat.st_mtime_ns)

    listed = json.loads(cli("ls", str(project), "--format", "json").stdout)
    [shown] = [r for r in listed if r["id"] == tree]
    assert shown["primary_validation"] == real_f1 != 0.99
    assert shown["constraints_ok"] is None  # the real file checked no limits
    ranked = json.loads(cli("rank", str(project), "--format", "json").stdout)
    assert "0.99" not in json.dumps(ranked)


def test_a_snapshot_edited_with_size_and_mtime_kept_is_read_again(project: Path) -> None:
    import os

    from modelsnap.core.records import index

    tree = snapshot_id_of(project, "tree")
    index.load_rows(project, write_back=True)
    path = project / "snapshots" / f"{tree}.toml"
    stat = path.stat()
    text = path.read_text()
    real = tomllib.loads(text)["metrics"]["validation"]["f1"]
    digits = repr(real)
    fake = digits[:-1] + ("1" if digits[-1] != "1" else "2")  # same length
    path.write_text(text.replace(f"f1 = {digits}", f"f1 = {fake}", 1))
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns))
    assert path.stat().st_size == stat.st_size
    rows, _ = index.load_rows(project)
    [row] = [r for r in rows if r["id"] == tree]
    assert row["measures"]["validation"]["f1"] == float(fake)


def test_review_and_the_report_show_a_truncated_log_in_a_fresh_clone(
    project: Path, tmp_path: Path
) -> None:
    from modelsnap.core.reporting.report import collect
    from modelsnap.tui.review_data import ReviewData
    from modelsnap.tui.screens.review_views import DecisionsScreen

    clone = tmp_path / "clone"
    shutil.copytree(project, clone, ignore=shutil.ignore_patterns(".modelsnap"))
    text = (clone / "decisions.toml").read_text()
    (clone / "decisions.toml").write_text(text[: text.rindex("[[decision]]")])
    shown = str(DecisionsScreen(ReviewData.load(clone)).body())
    assert "chain broken" in shown and "D0002 was removed" in shown
    assert any("D0002 was removed" in p for p in collect(clone, significance=False).chain_problems)
