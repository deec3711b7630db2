"""Concurrent writers on one folder: snapshot writers (forced into id clashes) and decision
appenders, all released at the same moment. Nothing lost, ids unique, the chain valid, the
index holding one trusted row per snapshot file."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from modelsnap.core.records.decision_log import read_decisions, verify_chain
from modelsnap.core.records.index import _read_entries, load_rows
from modelsnap.core.records.store import list_snapshots

from .conftest import assert_folder_sound, snapshot_id_of

pytestmark = pytest.mark.slow

SNAPSHOT_WRITERS = 4
WRITES_EACH = 15
DECISION_WRITERS = 3
DECISIONS_EACH = 5
CLASHING_ID = "20261126T000000-tree-0000"

# Every other write asks for the same id as every other process, so the exclusive-link clash
# path (draw a new id, move the files with it) runs under real contention.
SNAPSHOT_WRITER = """
import os, secrets, shutil, sys, time
from pathlib import Path
from modelsnap.core.records.store import read_snapshot, write_snapshot

root, template_id, tag, go = Path(sys.argv[1]), sys.argv[2], sys.argv[3], Path(sys.argv[5])
count = int(sys.argv[4])
template = read_snapshot(root, template_id)
artifact = (root / template["model"]["artifact"]).read_bytes()
predictions = (root / template["predictions"]["path"]).read_bytes()
while not go.exists():
    time.sleep(0.001)
for number in range(count):
    body = {key: value for key, value in template.items() if key != "id"}
    body["model"] = {k: v for k, v in template["model"].items() if k != "artifact_sha256"}
    if number % 2 == 0:
        body["id"] = sys.argv[6]
    body["notes"] = f"{tag}-{number}"
    staging = root / ".modelsnap" / "tmp" / f".tmp-{os.getpid()}-{secrets.token_hex(6)}"
    staging.mkdir(parents=True)
    (staging / "model.skops").write_bytes(artifact + tag.encode())
    (staging / "predictions.npz").write_bytes(predictions)
    snapshot_id = write_snapshot(root, body, staged_files={
        "artifact": staging / "model.skops", "predictions": staging / "predictions.npz"})
    shutil.rmtree(staging)
    print(snapshot_id, body["notes"], flush=True)
"""

DECISION_WRITER = """
import sys, time
from pathlib import Path
from modelsnap.core.records.decisions import append_decision
from modelsnap.core.selection.context import rank_project

root, chosen, tag, go = Path(sys.argv[1]), sys.argv[2], sys.argv[3], Path(sys.argv[5])
count = int(sys.argv[4])
project = rank_project(root)
while not go.exists():
    time.sleep(0.001)
for number in range(count):
    entry = append_decision(root, snapshot_id=chosen,
                            rationale=f"concurrent decision {tag}-{number}",
                            ranking=project.result, criteria_revision=project.criteria_revision,
                            override="any status will do for this test")
    print(entry["id"], entry["rationale"].split()[-1], flush=True)
"""


def test_concurrent_snapshot_and_decision_writers(ranked_project: Path, tmp_path: Path) -> None:
    root = ranked_project
    tree = snapshot_id_of(root, "tree")
    before = {p.stem for p in (root / "snapshots").glob("*.toml")}
    go = tmp_path / "go"
    procs = [
        subprocess.Popen(
            [
                sys.executable,
                "-c",
                SNAPSHOT_WRITER,
                str(root),
                tree,
                f"s{n}",
                str(WRITES_EACH),
                str(go),
                CLASHING_ID,
            ],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for n in range(SNAPSHOT_WRITERS)
    ] + [
        subprocess.Popen(
            [
                sys.executable,
                "-c",
                DECISION_WRITER,
                str(root),
                tree,
                f"d{n}",
                str(DECISIONS_EACH),
                str(go),
            ],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for n in range(DECISION_WRITERS)
    ]
    time.sleep(1.0)  # let every process import and wait at the barrier (not a verdict)
    go.touch()
    outputs = [proc.communicate(timeout=300) for proc in procs]
    for proc, (_, err) in zip(procs, outputs, strict=True):
        assert proc.returncode == 0, err

    reported = [line.split() for out, _ in outputs for line in out.splitlines()]
    written = {ident: tag for ident, tag in reported if not ident.startswith("D")}
    decided = [(ident, tag) for ident, tag in reported if ident.startswith("D")]
    assert len(written) == SNAPSHOT_WRITERS * WRITES_EACH  # unique ids, none reused
    assert len(decided) == DECISION_WRITERS * DECISIONS_EACH

    snapshots, problems = list_snapshots(root)
    assert problems == []
    new = {s["id"]: s for s in snapshots if s["id"] not in before}
    assert set(new) == set(written)  # nothing lost, nothing extra
    assert {ident: s["notes"] for ident, s in new.items()} == written
    assert CLASHING_ID in new
    for ident, snapshot in new.items():  # each id's files are its own writer's bytes
        tag = snapshot["notes"].split("-")[0]
        assert (root / snapshot["model"]["artifact"]).read_bytes().endswith(tag.encode()), ident

    entries = read_decisions(root)
    assert verify_chain(root) == []
    assert sorted((e["id"], e["rationale"].split()[-1]) for e in entries) == sorted(decided)
    assert [e["id"] for e in entries] == [f"D{n:04d}" for n in range(1, len(entries) + 1)]

    index = _read_entries(root)  # the index rows readers will trust
    assert set(index) == {f"{s['id']}.toml" for s in snapshots}
    for name, entry in index.items():  # every row still trusted: size and mtime match
        stat = (root / "snapshots" / name).stat()
        assert (entry["size"], entry["mtime_ns"]) == (stat.st_size, stat.st_mtime_ns), name
    rows, _ = load_rows(root)
    assert [r["id"] for r in rows] == [s["id"] for s in snapshots]
    report = assert_folder_sound(root)
    assert report["ok"], report["findings"]
    assert not os.listdir(root / ".modelsnap" / "tmp")
