"""The decision log: refusals, the chain against edits, removals and reorders, a robust parser."""

from __future__ import annotations

import datetime as dt
import tomllib
from pathlib import Path

import pytest
import tomli_w
from hypothesis import given, settings
from hypothesis import strategies as st

from modelsnap.core.errors import DecisionError, IntegrityError, ModelsnapError
from modelsnap.core.records.decision_log import (
    check_chain,
    entry_hash,
    parse_decisions,
    read_decisions,
    verify_chain,
)
from modelsnap.core.records.decisions import append_decision, default_user
from modelsnap.core.selection.ranking import RankingSpec, make_criteria, rank

D, S = "d" * 64, "s" * 64


def snap(sid, kind="candidate", *, f1, p95):
    return {
        "id": sid,
        "name": sid,
        "kind": kind,
        "created_at": sid,
        "data": {"dataset_sha256": D, "split_sha256": S},
        "metrics": {"validation": {"f1": f1}, "test": {"f1": f1}},
        "resources": {"latency_p95_ms": p95},
    }


@pytest.fixture
def ranking():
    rows = [
        snap("01-base", "baseline", f1=0.6, p95=1.0),
        snap("02-good", f1=0.8, p95=2.0),
        snap("03-slow", f1=0.9, p95=99.0),
        snap("04-other", f1=0.7, p95=1.5),
    ]
    rows[3]["data"]["split_sha256"] = "x"
    spec = RankingSpec(
        criteria=make_criteria(
            [{"metric": "f1", "weight": 0.7}, {"metric": "latency_p95_ms", "weight": 0.3}]
        ),
        constraints={"max_latency_p95_ms": 50.0},
        primary_metric="f1",
        dataset_sha256=D,
        split_sha256=S,
    )
    return rank(rows, spec)


def decide(root, ranking, sid="02-good", **kw):
    kw.setdefault("rationale", "best f1 within the latency budget")
    return append_decision(
        root,
        snapshot_id=sid,
        ranking=ranking,
        criteria_revision=1,
        now=dt.datetime(2026, 11, 26, 7, 0, tzinfo=dt.UTC),
        **kw,
    )


def test_append_records_everything_and_chains(tmp_path, ranking, monkeypatch):
    monkeypatch.setenv("MODELSNAP_USER", "ana")
    first = decide(tmp_path, ranking, caveats=["small test set", " "], monitoring="weekly f1")
    second = decide(tmp_path, ranking, rationale="again, with more thought", decided_by="ben")
    entries = read_decisions(tmp_path)
    assert entries == [first, second]
    assert first["id"] == "D0001" and second["id"] == "D0002"
    assert first["decided_by"] == "ana" and second["decided_by"] == "ben"
    assert first["previous_sha256"] == "" and second["previous_sha256"] == first["sha256"]
    assert first["sha256"] == entry_hash(first)
    assert first["caveats"] == ["small test set"] and first["monitoring"] == "weekly f1"
    assert first["weights"] == {"f1": 0.7, "latency_p95_ms": 0.3}
    assert first["method"] == "weighted-sum" and first["criteria_revision"] == 1
    assert [r["id"] for r in first["ranking"]] == ["02-good", "01-base"]
    assert first["rejected"] == [{"id": "03-slow", "reasons": ["latency_p95_ms 99 > 50"]}]
    assert first["excluded"][0]["id"] == "04-other"
    data = tomllib.loads((tmp_path / "decisions.toml").read_text())
    assert data["schema"] == 1
    assert verify_chain(tmp_path) == []


def test_earlier_bytes_are_kept_exactly(tmp_path, ranking):
    decide(tmp_path, ranking)
    before = (tmp_path / "decisions.toml").read_bytes()
    decide(tmp_path, ranking)
    assert (tmp_path / "decisions.toml").read_bytes().startswith(before)


@pytest.mark.parametrize(
    "kwargs, sid, match",
    [
        ({"rationale": "  "}, "02-good", "needs a rationale"),
        ({}, "99-nope", "unknown snapshot"),
        ({}, "03-slow", "was rejected: latency_p95_ms 99 > 50"),
        ({}, "04-other", "was excluded"),
        ({"override": " "}, "03-slow", "was rejected"),
    ],
)
def test_refusals(tmp_path, ranking, kwargs, sid, match):
    with pytest.raises(DecisionError, match=match):
        decide(tmp_path, ranking, sid=sid, **kwargs)
    assert not (tmp_path / "decisions.toml").exists()


def test_override_is_recorded(tmp_path, ranking):
    entry = decide(tmp_path, ranking, sid="03-slow", override="batch use only, latency moot")
    assert entry["override"] == "batch use only, latency moot" and entry["status"] == "rejected"
    assert verify_chain(tmp_path) == []


def three(tmp_path, ranking):
    for text in ("first decision of three", "second decision of three", "third decision of three"):
        decide(tmp_path, ranking, rationale=text)
    return tmp_path / "decisions.toml"


def rewrite(path: Path, entries):
    path.write_text(tomli_w.dumps({"schema": 1, "decision": entries}))


def test_chain_detects_an_edited_entry(tmp_path, ranking):
    path = three(tmp_path, ranking)
    entries = read_decisions(tmp_path)
    entries[1]["rationale"] = "rewritten later"
    rewrite(path, entries)
    problems = verify_chain(tmp_path)
    assert len(problems) == 1 and "decision D0002 (entry 2) was edited" in problems[0]


def test_chain_detects_a_removed_entry(tmp_path, ranking):
    path = three(tmp_path, ranking)
    entries = read_decisions(tmp_path)
    rewrite(path, [entries[0], entries[2]])
    problems = verify_chain(tmp_path)
    assert problems and all("D0003 (entry 2)" in p for p in problems)
    assert any("removed" in p for p in problems)


def test_chain_detects_reordered_entries(tmp_path, ranking):
    path = three(tmp_path, ranking)
    entries = read_decisions(tmp_path)
    rewrite(path, [entries[0], entries[2], entries[1]])
    problems = verify_chain(tmp_path)
    assert problems and "entry 2" in problems[0] and "reordered" in problems[0]


def test_chain_detects_a_recomputed_hash_and_a_cut_tail(tmp_path, ranking):
    path = three(tmp_path, ranking)
    entries = read_decisions(tmp_path)
    rewrite(path, entries[:2])
    assert "the last 1 entry was removed" in verify_chain(tmp_path)[0]
    forged = dict(entries[2], rationale="forged after the fact")
    forged["sha256"] = entry_hash(forged)
    rewrite(path, [*entries[:2], forged])
    assert check_chain(read_decisions(tmp_path)) == []  # a consistent forgery ...
    assert "was replaced" in verify_chain(tmp_path)[0]  # ... still differs from the head


def test_appending_to_a_broken_chain_is_refused(tmp_path, ranking):
    path = three(tmp_path, ranking)
    entries = read_decisions(tmp_path)
    entries[0]["decided_by"] = "mallory"
    rewrite(path, entries)
    before = path.read_bytes()
    with pytest.raises(IntegrityError, match="broken"):
        decide(tmp_path, ranking)
    assert path.read_bytes() == before


def test_bad_files_are_reported_not_raised(tmp_path):
    (tmp_path / "decisions.toml").write_text("decision = [")
    assert "not valid TOML" in verify_chain(tmp_path)[0]
    (tmp_path / "decisions.toml").write_text("schema = 2\n")
    assert "schema" in verify_chain(tmp_path)[0]
    (tmp_path / "decisions.toml").write_bytes(b"\xff\xfe")
    assert "UTF-8" in verify_chain(tmp_path)[0]
    assert verify_chain(tmp_path / "empty") == []


def test_default_user(monkeypatch):
    monkeypatch.setenv("MODELSNAP_USER", "zoe")
    assert default_user() == "zoe"
    monkeypatch.delenv("MODELSNAP_USER")
    assert default_user()


toml_values = st.recursive(
    st.one_of(st.text(max_size=5), st.integers(), st.floats(allow_nan=False), st.booleans()),
    lambda inner: st.one_of(
        st.lists(inner, max_size=3),
        st.dictionaries(
            st.sampled_from(["id", "sha256", "previous_sha256", "x"]), inner, max_size=3
        ),
    ),
    max_leaves=8,
)


@settings(max_examples=200, deadline=None)
@given(
    st.one_of(
        st.text(max_size=200),
        st.dictionaries(
            st.sampled_from(["schema", "decision", "other"]),
            st.one_of(
                toml_values,
                st.lists(
                    st.dictionaries(
                        st.sampled_from(["id", "sha256", "previous_sha256", "rationale"]),
                        toml_values,
                        max_size=4,
                    ),
                    max_size=3,
                ),
            ),
        ).map(tomli_w.dumps),
    )
)
def test_parser_and_chain_never_crash(text):
    try:
        entries = parse_decisions(text)
    except ModelsnapError as error:
        assert error.where == "decisions.toml"
        return
    assert all(isinstance(e, dict) for e in entries)
    problems = check_chain(entries)
    assert isinstance(problems, list)
    if entries:
        assert problems or all("sha256" in e for e in entries)


APPEND_SCRIPT = """
import sys
from modelsnap.core.records.decisions import append_decision
from modelsnap.core.selection.ranking import RankingSpec, make_criteria, rank
rows = [{"id": "01-a", "kind": "candidate", "created_at": "1",
         "measures": {"validation": {"f1": 0.8}, "test": {"f1": 0.8}}}]
spec = RankingSpec(criteria=make_criteria([{"metric": "f1", "weight": 1}]), constraints={},
                   primary_metric="f1")
result = rank(rows, spec)
for i in range(5):
    append_decision(sys.argv[1], snapshot_id="01-a", rationale=f"parallel writer {sys.argv[2]}-{i}",
                    ranking=result, criteria_revision=1)
"""


def test_concurrent_appends_from_several_processes_keep_one_chain(tmp_path):
    import subprocess
    import sys

    procs = [
        subprocess.Popen([sys.executable, "-c", APPEND_SCRIPT, str(tmp_path), f"p{n}"])
        for n in range(4)
    ]
    assert all(p.wait(timeout=120) == 0 for p in procs)
    entries = read_decisions(tmp_path)
    assert len(entries) == 20
    assert sorted(e["rationale"] for e in entries) == sorted(
        f"parallel writer p{n}-{i}" for n in range(4) for i in range(5)
    )
    assert verify_chain(tmp_path) == []
