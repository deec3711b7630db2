"""The selection context: the criteria in force, the baseline rule, latest-per-name, and one
"rank, then record" for every front end. Real files in tmp_path, the CLI as a subprocess."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
import tomli_w
import tomlkit
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from modelsnap.api import Project
from modelsnap.core.errors import CriteriaError, DecisionError
from modelsnap.core.files import sha256_file
from modelsnap.core.project.parse import load_project
from modelsnap.core.records.decision_log import entry_hash, read_decisions
from modelsnap.core.records.decisions import append_decision
from modelsnap.core.records.store import write_snapshot
from modelsnap.core.selection.context import decide, load_context, rank_project
from modelsnap.core.selection.criteria import lock_criteria
from modelsnap.core.selection.ranking import current_baseline

PROJECT = """
[project]
name = "context"
[data]
source = "data.csv"
target = "y"
task = "classification"
positive_label = "yes"
[selection]
profile = "custom"
primary_metric = "f1"
[[criteria]]
metric = "f1"
weight = 0.6
[[criteria]]
metric = "latency_p95_ms"
weight = 0.4
[constraints]
max_latency_p95_ms = 50.0
min_gain_over_baseline = 0.01
"""

RATIONALE = "best f1 within the latency budget"


def cli(*args: object) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ, MODELSNAP_USER="tester", COLUMNS="200")
    return subprocess.run(
        [sys.executable, "-m", "modelsnap", *map(str, args)],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )


class Folder:
    """A locked project whose snapshots are written through the public store."""

    def __init__(self, root: Path, make_body, make_staged) -> None:
        self.root = root
        self.make_body = make_body
        self.make_staged = make_staged
        root.mkdir(parents=True, exist_ok=True)
        (root / "data.csv").write_text("a,y\n1,yes\n2,no\n")
        (root / "modelsnap.toml").write_text(PROJECT)
        self.data_sha = sha256_file(root / "data.csv")
        self.clock = 0
        lock_criteria(load_project(root))

    def add(
        self,
        name: str,
        *,
        kind: str = "candidate",
        f1: float = 0.8,
        latency: float = 5.0,
        data_sha: str | None = None,
    ) -> str:
        self.clock += 1
        body = self.make_body(
            name=name,
            kind=kind,
            created_at=f"2026-11-26T07:{self.clock:02d}:00+00:00",
            metrics={
                "validation": {"accuracy": f1, "f1": f1},
                "test": {"accuracy": f1, "f1": f1},
                "test_ci": {"f1": [f1 - 0.05, f1 + 0.05]},
            },
            resources={"fit_seconds": 0.1, "size_mb": 0.5, "latency_p95_ms": latency},
            constraints={
                "latency_p95_ms": {
                    "value": latency,
                    "limit": 50.0,
                    "ok": latency <= 50.0,
                    "over": 0.0,
                }
            },
        )
        body["data"]["dataset_sha256"] = data_sha or self.data_sha
        return write_snapshot(
            self.root, body, staged_files=self.make_staged(self.root, name.encode())
        )

    def edit(self, **changes) -> None:
        doc = tomlkit.parse((self.root / "modelsnap.toml").read_text())
        for key, value in changes.items():
            if key == "f1_weight":
                doc["criteria"][0]["weight"] = value
            else:
                doc["constraints"][key] = value
        (self.root / "modelsnap.toml").write_text(tomlkit.dumps(doc))


@pytest.fixture
def folder(tmp_path, make_body, make_staged) -> Folder:
    project = Folder(tmp_path / "p", make_body, make_staged)
    project.base = project.add("logistic", kind="baseline", f1=0.70, latency=1.0)
    project.good = project.add("forest", f1=0.80, latency=8.0)
    project.weak = project.add("knn", f1=0.702, latency=2.0)  # gain 0.3 %: under 1 %
    return project


# ------------------------------------------------------------------ the criteria in force


def test_edits_after_lock_are_pending_and_never_rank_or_decide(folder):
    before = rank_project(folder.root).result
    folder.edit(min_gain_over_baseline=-1.0, f1_weight=0.9)

    result = rank_project(folder.root).result
    assert result.basis == "locked" and result.criteria_revision == 1
    assert [(e.id, e.score) for e in result.ranked] == [(e.id, e.score) for e in before.ranked]
    assert result.status(folder.weak) == "rejected"
    assert result.pending and "min_gain_over_baseline" in " ".join(result.pending)
    assert "not locked" in result.warnings[0]

    what_if = rank_project(folder.root, pending=True).result
    assert what_if.basis == "pending" and what_if.status(folder.weak) == "ranked"
    assert what_if.weights["f1"] == pytest.approx(0.9 / 1.3)

    with pytest.raises(CriteriaError, match="edits not locked since revision 1"):
        decide(folder.root, folder.weak, rationale=RATIONALE)
    with pytest.raises(CriteriaError, match="lock them as a new revision"):
        Project(folder.root).decide(folder.good, rationale=RATIONALE)
    assert read_decisions(folder.root) == []


def test_cli_labels_pending_edits_and_decide_refuses_with_the_fix(folder):
    folder.edit(f1_weight=0.9)
    ranked = cli("rank", folder.root, "--format", "json")
    body = json.loads(ranked.stdout)
    assert body["basis"] == "locked" and body["criteria_revision"] == 1
    assert body["pending"] == ["criterion f1 weight 0.6 -> 0.9"]
    assert body["weights"]["f1"] == pytest.approx(0.6)
    table = cli("rank", folder.root)
    assert "criteria revision 1" in table.stdout and "not locked" in table.stdout
    pending = json.loads(cli("rank", folder.root, "--pending", "--format", "json").stdout)
    assert pending["basis"] == "pending" and pending["weights"]["f1"] == pytest.approx(0.9 / 1.3)

    refused = cli("decide", folder.root, folder.good, "--rationale", RATIONALE)
    assert refused.returncode == 2, refused.stderr
    assert "Traceback" not in refused.stderr
    assert "modelsnap lock" in refused.stderr and "revert" in refused.stderr
    assert not (folder.root / "decisions.toml").exists()

    assert cli("lock", folder.root, "--reason", "f1 matters more").returncode == 0
    recorded = cli("decide", folder.root, folder.good, "--rationale", RATIONALE, "--format", "json")
    assert recorded.returncode == 0, recorded.stderr
    entry = json.loads(recorded.stdout)
    assert entry["criteria_revision"] == 2
    assert entry["weights"]["f1"] == pytest.approx(0.9 / 1.3)
    assert entry["constraints"] == {"max_latency_p95_ms": 50.0, "min_gain_over_baseline": 0.01}
    assert len(entry["criteria_sha256"]) == 64
    findings = json.loads(cli("check", folder.root, "--format", "json").stdout)["findings"]
    assert [f for f in findings if f["kind"] == "decisions"] == []


def test_never_locked_ranks_as_a_preview_and_cannot_decide(tmp_path, make_body, make_staged):
    project = Folder(tmp_path / "p", make_body, make_staged)
    (project.root / "criteria_revisions.toml").unlink()
    project.add("logistic", kind="baseline", f1=0.7)
    result = rank_project(project.root).result
    assert result.basis == "unlocked" and result.criteria_revision is None
    assert "not locked" in result.warnings[0]
    with pytest.raises(CriteriaError, match="not locked"):
        decide(project.root, "logistic", rationale=RATIONALE)


def test_check_flags_a_decision_whose_weights_or_limits_are_not_its_revisions(folder):
    result = rank_project(folder.root).result
    locked = load_context(folder.root).criteria.record
    forged = dict(locked, constraints={**locked["constraints"], "min_gain_over_baseline": -1.0})
    append_decision(
        folder.root,
        snapshot_id=folder.weak,
        rationale=RATIONALE,
        ranking=result,
        criteria=forged,
        override="forged for the test",
    )
    proc = cli("check", folder.root)
    assert proc.returncode == 1
    assert "D0001: its limits" in proc.stdout and "revision 1" in proc.stdout


def test_check_flags_a_resealed_entry_that_claims_other_weights(folder):
    entry = decide(folder.root, folder.good, rationale=RATIONALE)
    assert entry["weights"] == pytest.approx({"f1": 0.6, "latency_p95_ms": 0.4})
    path = folder.root / "decisions.toml"
    doc = tomlkit.parse(path.read_text())
    doc["decision"][0]["weights"]["f1"] = 0.9
    doc["decision"][0]["sha256"] = entry_hash(doc["decision"][0].unwrap())
    path.write_text(tomlkit.dumps(doc))
    proc = cli("check", folder.root)
    assert proc.returncode == 1 and "D0001: its weights" in proc.stdout, proc.stdout


def test_the_decision_records_what_it_was_judged_under(folder):
    entry = decide(folder.root, folder.good, rationale=RATIONALE, caveats=["tiny data"])
    assert entry["criteria_revision"] == 1 and entry["status"] == "ranked"
    assert entry["constraints"] == {"max_latency_p95_ms": 50.0, "min_gain_over_baseline": 0.01}
    assert entry["criteria_sha256"] == load_context(folder.root).criteria.record["sha256"]
    assert [r["id"] for r in entry["rejected"]] == [folder.weak]


@pytest.mark.parametrize("text", ["", "ok", "x" * 40, "fast model"])
def test_a_rationale_must_be_a_sentence(folder, text):
    with pytest.raises(DecisionError, match="rationale"):
        decide(folder.root, folder.good, rationale=text)
    assert read_decisions(folder.root) == []


# ------------------------------------------------------------------ who competes, which baseline


def test_reruns_compete_once_and_history_stays(folder):
    reruns = [folder.add("forest", f1=0.80, latency=8.0 - i) for i in range(3)]
    result = rank_project(folder.root).result
    names = [e.name for e in result.ranked]
    assert names.count("forest") == 1 and names.count("logistic") == 1
    assert next(e for e in result.ranked if e.name == "forest").id == reruns[-1]
    superseded = {item["id"]: item["by"] for item in result.superseded}
    assert superseded == {folder.good: reruns[-1], reruns[0]: reruns[-1], reruns[1]: reruns[-1]}
    assert result.status(folder.good) == "superseded"
    every = rank_project(folder.root, all_versions=True).result
    assert [e.name for e in every.ranked].count("forest") == 4 and not every.superseded

    refused = cli("decide", folder.root, folder.good, "--rationale", RATIONALE)
    assert refused.returncode == 1 and "superseded" in refused.stderr
    text = cli("rank", folder.root).stdout
    assert "3 older snapshot(s)" in text


def test_the_baseline_is_the_latest_on_the_current_data(folder):
    newer_elsewhere = folder.add("logistic", kind="baseline", f1=0.1, data_sha="c" * 64)
    context = load_context(folder.root)
    assert context.baseline["id"] == folder.base
    assert current_baseline(context.rows)["id"] == newer_elsewhere  # no data filter: newest
    result = context.rank()
    assert result.baseline_id == folder.base
    assert result.status(newer_elsewhere) == "excluded"
    again = folder.add("logistic", kind="baseline", f1=0.71)
    assert load_context(folder.root).rank().baseline_id == again


def test_every_front_end_uses_the_same_baseline_rule(folder):
    from modelsnap.profiler.job_specs import latest_baseline
    from modelsnap.tui.state import load_state

    folder.add("logistic", kind="baseline", f1=0.1, data_sha="c" * 64)
    assert latest_baseline(folder.root, "data.csv")["id"] == folder.base
    assert load_state(folder.root).baseline["id"] == folder.base


# ------------------------------------------------------------------ one answer everywhere


def _top_from_card(text: str) -> tuple[str | None, float | None]:
    if "No snapshot could be ranked" in text:
        return None, None
    ident = re.search(r"- Snapshot: `([^`]+)`", text).group(1)
    score = re.search(r"- Ranking: #1 of \d+, score ([0-9.]+)", text)
    return ident, float(score.group(1)) if score else None


@settings(
    max_examples=8, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    models=st.lists(
        st.tuples(
            st.sampled_from(["forest", "knn", "tree", "logistic"]),
            st.floats(0.5, 0.95),
            st.floats(0.5, 80.0),
        ),
        min_size=1,
        max_size=7,
    ),
    f1_weight=st.floats(0.05, 5.0),
    latency_weight=st.floats(0.0, 5.0),
)
def test_cli_api_review_and_report_name_the_same_top_pick(
    tmp_path_factory, make_body, make_staged, models, f1_weight, latency_weight
):
    from modelsnap.tui.review_data import ReviewData
    from modelsnap.tui.screens.review_views import whatif_rank, whatif_text

    root = tmp_path_factory.mktemp("prop") / "p"
    project = Folder(root, make_body, make_staged)
    project.add("logistic", kind="baseline", f1=0.7, latency=1.0)
    for name, f1, latency in models:
        project.add(
            name, kind="baseline" if name == "logistic" else "candidate", f1=f1, latency=latency
        )
    project.edit(f1_weight=f1_weight)
    doc = tomlkit.parse((root / "modelsnap.toml").read_text())
    doc["criteria"][1]["weight"] = latency_weight
    (root / "modelsnap.toml").write_text(tomlkit.dumps(doc))
    lock_criteria(load_project(root))

    body = json.loads(cli("rank", root, "--format", "json").stdout)
    from_cli = [(e["id"], e["score"]) for e in body["ranked"]]
    from_api = [(e.id, e.score) for e in Project(root).rank().result.ranked]
    data = ReviewData.load(root)
    from_review = [(e.id, e.score) for e in whatif_rank(data, whatif_text(data)).ranked]
    assert from_cli == from_api == from_review
    card = root / "card.md"
    proc = cli("report", root, "-o", card, "--format", "md", "--no-significance")
    assert proc.returncode == 0, proc.stderr
    top, score = _top_from_card(card.read_text())
    assert top == (from_cli[0][0] if from_cli else None)
    if from_cli:
        assert score == pytest.approx(from_cli[0][1], abs=5e-5)


def test_a_decision_is_judged_on_hashes_of_the_bytes_not_the_hash_cache(folder, monkeypatch):
    """The rows a decision is made on are compared with the data's own hashes: a hash cache
    that says otherwise (a change its cheap re-check could not see) is not consulted."""
    from modelsnap.core.records import hash_cache
    from modelsnap.core.selection.context import load_context

    fast = load_context(folder.root).hashes
    monkeypatch.setattr(hash_cache, "remembered", lambda *args, **kwargs: None)
    assert load_context(folder.root, from_records=True).hashes == fast
    assert load_context(folder.root).hashes != fast  # the fast path does read the cache


def test_edge_runs_replace_only_their_own_rows_edge_measures():
    """``with_edge_results``: without a later run every row is passed through as it is (in a
    new list); with one, that row alone is a new dict with the run's edge measures, and the
    caller's rows are never modified."""
    from modelsnap.core.selection.context import with_edge_results

    rows = [
        {
            "id": f"s{i}",
            "measures": {
                "validation": {"f1": 0.5 + i / 10, "edge_pass_rate": 1.0},
                "test": {"f1": 0.4, "edge_pass_rate": 1.0},
            },
        }
        for i in range(3)
    ]
    before = json.dumps(rows, sort_keys=True)
    passed = with_edge_results(rows, {})
    assert passed == rows and passed is not rows
    assert all(a is b for a, b in zip(passed, rows, strict=True))
    run = {"n_cases": 4, "n_passed": 3, "must_pass_failed": 1}
    updated = with_edge_results(rows, {"s1": run})
    assert updated[0] is rows[0] and updated[2] is rows[2] and updated[1] is not rows[1]
    for split in ("validation", "test"):
        assert updated[1]["measures"][split]["edge_pass_rate"] == 0.75
        assert updated[1]["measures"][split]["edge_must_pass_failed"] == 1.0
        assert updated[1]["measures"][split]["f1"] == rows[1]["measures"][split]["f1"]
    assert json.dumps(rows, sort_keys=True) == before


@pytest.mark.parametrize(
    "what_ifs",
    [
        {},
        {"all_versions": True},
        {"all_versions": True, "allow_mixed": True, "method": "topsis"},
        {"split": "test", "weights": {"f1": 1.0, "size_mb": 0.5}},
    ],
)
def test_a_ranking_of_narrow_rows_is_the_ranking_of_whole_rows(
    write_folder, tmp_path, monkeypatch, what_ifs
):
    """``rank_project`` reads the index narrow (each row's ``RANKING_FIELDS`` alone): its
    answer is the one the whole rows give, from the index's block, with a row recorded over
    the block, and with a file changed since (parsed again)."""
    from modelsnap.core.files import read_toml
    from modelsnap.core.records import index

    root = tmp_path / "p"
    ids = write_folder(root, 240)
    monkeypatch.setattr(index, "COMPACT_FROM", 1)  # the first writing read folds every row

    def ranked_alike() -> None:
        narrow = rank_project(root, sensitivity=True, **what_ifs)
        whole = load_context(root).rank(sensitivity=True, **what_ifs)
        assert narrow.result.to_dict() == whole.to_dict()
        assert narrow.result.ranked and narrow.result.rejected

    ranked_alike()
    assert index._read_index(root).base_count == len(ids)  # every row in the block now
    ranked_alike()
    path = root / "snapshots" / f"{ids[7]}.toml"
    snapshot = read_toml(path)
    snapshot["name"] = "renamed"
    path.write_bytes(tomli_w.dumps(snapshot).encode())
    index.record(root, snapshot)  # a loose row over the block's row of that file
    ranked_alike()
    edited = root / "snapshots" / f"{ids[5]}.toml"
    text = edited.read_text()
    assert 'fingerprint = "' in text
    edited.write_text(text.replace('fingerprint = "', 'fingerprint = "Z', 1))  # other hardware
    ranked_alike()
