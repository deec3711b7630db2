"""The ranking, checked against a small independent implementation written here from the spec."""

from __future__ import annotations

import dataclasses
import json
import math
import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from modelsnap.cli.output import json_bytes
from modelsnap.core.errors import CriteriaError
from modelsnap.core.selection.pareto import pareto_flags
from modelsnap.core.selection.ranking import (
    RankedEntry,
    RankingSpec,
    _in_order,
    _newest,
    _order,
    _order_key,
    make_criteria,
    parse_weights,
    rank,
    with_weights,
)

D, S = "d" * 64, "s" * 64


def snap(
    sid,
    kind="candidate",
    *,
    f1,
    p95,
    size,
    interp=0.5,
    test_f1=None,
    dataset=D,
    split=S,
    hw="hw-1",
    revision=2,
    **extra,
):
    body = {
        "schema": 1,
        "id": sid,
        "name": sid.split("-")[1],
        "kind": kind,
        "created_at": f"2026-11-26T06:{sid[:2]}:00+00:00",
        "criteria_revision": revision,
        "data": {"dataset_sha256": dataset, "split_sha256": split},
        "metrics": {"validation": {"f1": f1}, "test": {"f1": test_f1 if test_f1 else f1 - 0.01}},
        "resources": {"latency_p95_ms": p95, "size_mb": size},
        "hardware": {"fingerprint": hw},
    }
    if interp is not None:
        body["interpretability"] = {"score": interp}
    body.update(extra)
    return body


CRITERIA = [
    {"metric": "f1", "weight": 0.5},
    {"metric": "latency_p95_ms", "weight": 0.3},
    {"metric": "size_mb", "weight": 0.1},
    {"metric": "interpretability", "weight": 0.1},
]


def spec(**kw):
    base = dict(
        criteria=make_criteria(CRITERIA),
        primary_metric="f1",
        constraints={"max_latency_p95_ms": 50.0, "min_gain_over_baseline": 0.05},
        dataset_sha256=D,
        split_sha256=S,
        criteria_revision=2,
    )
    base.update(kw)
    return RankingSpec(**base)


SNAPSHOTS = [
    snap("01-logistic", "baseline", f1=0.70, p95=1.0, size=0.1, interp=0.9),
    snap("02-forest", f1=0.82, p95=9.0, size=20.0, interp=0.3),
    snap("03-boost", f1=0.84, p95=30.0, size=5.0, interp=0.2),
    snap("04-tree", f1=0.78, p95=0.5, size=0.2, interp=0.8),
    snap("05-huge", f1=0.90, p95=80.0, size=300.0, interp=0.1),  # too slow: rejected
    snap("06-meh", f1=0.71, p95=2.0, size=0.1, interp=0.9),  # gain 1.4 % < 5 %
    snap("07-blind", f1=0.83, p95=3.0, size=1.0, interp=None),  # no interpretability
    snap("08-olddata", f1=0.95, p95=1.0, size=0.1, split="x" * 64),  # other split
    snap("09-laptop", f1=0.77, p95=4.0, size=1.0, interp=0.4, hw="hw-2", revision=1),
]


def independent_weighted(rows, criteria):
    """The documented method, written out plainly: min-max, normalised weights, weighted sum."""
    total = sum(c["weight"] for c in criteria)
    scores = {}
    for row in rows:
        score = 0.0
        for c in criteria:
            name = c["metric"]
            column = [r[name] for r in rows]
            lo, hi = min(column), max(column)
            lower_is_better = name in ("latency_p95_ms", "size_mb")
            if hi == lo:
                norm = 1.0
            elif lower_is_better:
                norm = (hi - row[name]) / (hi - lo)
            else:
                norm = (row[name] - lo) / (hi - lo)
            score += c["weight"] / total * norm
        scores[row["id"]] = score
    return sorted(scores.items(), key=lambda kv: -kv[1])


def flat(s):
    return {
        "id": s["id"],
        "f1": s["metrics"]["validation"]["f1"],
        "latency_p95_ms": s["resources"]["latency_p95_ms"],
        "size_mb": s["resources"]["size_mb"],
        "interpretability": s["interpretability"]["score"],
    }


def test_ranking_matches_an_independent_recomputation():
    result = rank(SNAPSHOTS, spec())
    survivors = [
        flat(s)
        for s in SNAPSHOTS
        if s["id"] in {"01-logistic", "02-forest", "03-boost", "04-tree", "09-laptop"}
    ]
    expected = independent_weighted(survivors, CRITERIA)
    assert [(e.id, round(e.score, 12)) for e in result.ranked] == [
        (i, round(v, 12)) for i, v in expected
    ]
    assert [e.rank for e in result.ranked] == [1, 2, 3, 4, 5]


def test_rejections_incomplete_and_exclusions_carry_reasons():
    result = rank(SNAPSHOTS, spec())
    rejected = {r["id"]: r["reasons"] for r in result.rejected}
    assert rejected["05-huge"] == ["latency_p95_ms 80 > 50"]
    assert rejected["06-meh"][0].startswith("gain_over_baseline 0.0142")
    assert [(i["id"], i["missing"]) for i in result.incomplete] == [
        ("07-blind", ["interpretability (criterion)"])
    ]
    assert [e["id"] for e in result.excluded] == ["08-olddata"]
    assert "split differs" in result.excluded[0]["reasons"][0]
    assert result.baseline_id == "01-logistic"
    assert result.status("05-huge") == "rejected" and result.status("nope") is None


def test_allow_mixed_ranks_them_with_a_warning_on_the_line():
    result = rank(SNAPSHOTS, spec(allow_mixed=True))
    line = next(e for e in result.ranked if e.id == "08-olddata")
    assert line.mixed and any("not comparable" in w for w in line.warnings)
    assert any("--allow-mixed" in w for w in result.warnings)
    assert result.excluded == []


def test_hardware_and_revision_marks():
    result = rank(SNAPSHOTS, spec())
    laptop = next(e for e in result.ranked if e.id == "09-laptop")
    assert laptop.hardware_flags == ["latency_p95_ms"]
    assert laptop.older_revision
    others = [e for e in result.ranked if e.id != "09-laptop"]
    assert all(not e.hardware_flags and not e.older_revision for e in others)
    assert any("profiled on another machine than" in w for w in result.warnings)
    assert not any(str(result.hardware_fingerprint) in w for w in result.warnings)


def test_test_metric_is_shown_beside_and_test_split_warns():
    result = rank(SNAPSHOTS, spec())
    assert all(e.test_primary == pytest.approx(e.primary - 0.01) for e in result.ranked)
    on_test = rank(SNAPSHOTS, spec(split="test"))
    assert any("test split" in w for w in on_test.warnings)
    assert on_test.ranked[0].values["f1"] == on_test.ranked[0].test_primary


def test_ties_go_to_better_primary_then_earlier_snapshot():
    criteria = make_criteria([{"metric": "latency_p95_ms", "weight": 1.0}])
    rows = [
        snap("03-c", f1=0.7, p95=5.0, size=1),
        snap("02-b", f1=0.8, p95=5.0, size=1),
        snap("01-a", f1=0.8, p95=5.0, size=1),
    ]
    result = rank(rows, spec(criteria=criteria, constraints={}))
    assert [e.id for e in result.ranked] == ["01-a", "02-b", "03-c"]
    assert all(e.score == 1.0 for e in result.ranked)  # max == min -> 1.0
    assert any("tie" in w for w in result.warnings)


def test_must_pass_edge_failure_rejects_and_a_missing_run_is_incomplete():
    rows = [
        snap(
            "01-base",
            "baseline",
            f1=0.5,
            p95=1,
            size=1,
            edge_cases={"n_cases": 2, "n_passed": 2, "must_pass_failed": 0},
        ),
        snap(
            "02-bad",
            f1=0.9,
            p95=1,
            size=1,
            edge_cases={"n_cases": 2, "n_passed": 1, "must_pass_failed": 1},
        ),
        snap("03-unrun", f1=0.9, p95=1, size=1),
    ]
    result = rank(rows, spec(constraints={}, edge_cases_required=True))
    assert result.rejected[0]["reasons"] == ["edge_cases_must_pass 1 > 0"]
    assert result.incomplete[0]["missing"] == ["edge_cases_must_pass (constraint)"]
    assert [e.id for e in result.ranked] == ["01-base"]


def test_topsis_worked_example_from_the_docs():
    # docs/ranking.md: A(f1 0.9, p95 20), B(0.8, 10), C(0.7, 5); weights 0.6 / 0.4.
    rows = [
        snap("01-A", f1=0.9, p95=20.0, size=1),
        snap("02-B", f1=0.8, p95=10.0, size=1),
        snap("03-C", f1=0.7, p95=5.0, size=1),
    ]
    criteria = make_criteria(
        [{"metric": "f1", "weight": 0.6}, {"metric": "latency_p95_ms", "weight": 0.4}]
    )
    result = rank(rows, spec(criteria=criteria, constraints={}, method="topsis"))
    norm_f1 = math.sqrt(0.81 + 0.64 + 0.49)
    norm_lat = math.sqrt(400 + 100 + 25)
    v = {
        k: (0.6 * f / norm_f1, 0.4 * p / norm_lat)
        for k, f, p in (("01-A", 0.9, 20), ("02-B", 0.8, 10), ("03-C", 0.7, 5))
    }
    ideal = (v["01-A"][0], v["03-C"][1])
    anti = (v["03-C"][0], v["01-A"][1])
    expected = {
        k: math.dist(x, anti) / (math.dist(x, ideal) + math.dist(x, anti)) for k, x in v.items()
    }
    assert {e.id: e.score for e in result.ranked} == pytest.approx(expected)
    assert [e.id for e in result.ranked] == sorted(expected, key=lambda k: -expected[k])
    # The figures printed in the worked example:
    assert [round(expected[k], 4) for k in ("01-A", "02-B", "03-C")] == [0.2476, 0.6488, 0.7524]


def test_sensitivity_known_flip():
    # A is best on f1, B on latency; weights 0.52 / 0.48 put A first by a hair.
    rows = [snap("01-A", f1=0.9, p95=10.0, size=1), snap("02-B", f1=0.8, p95=5.0, size=1)]
    criteria = make_criteria(
        [{"metric": "f1", "weight": 0.52}, {"metric": "latency_p95_ms", "weight": 0.48}]
    )
    result = rank(rows, spec(criteria=criteria, constraints={}), sensitivity=True)
    sens = result.sensitivity
    assert result.top.id == "01-A" and sens["top"] == "01-A"
    assert sens["n"] == 8 and sens["stays_first"] == 4 and sens["share"] == 0.5
    assert sens["winners"] == {"02-B": 4}
    flips = {(c["criterion"], c["change"]) for c in sens["cases"] if not c["stays_first"]}
    assert flips == {
        ("f1", -0.25),
        ("f1", -0.10),
        ("latency_p95_ms", 0.10),
        ("latency_p95_ms", 0.25),
    }


def test_sensitivity_of_a_clear_winner_is_one():
    rows = [snap("01-A", f1=0.9, p95=1.0, size=1), snap("02-B", f1=0.8, p95=5.0, size=1)]
    result = rank(rows, spec(constraints={}), sensitivity=True)
    assert result.sensitivity["share"] == 1.0 and result.sensitivity["winners"] == {}


def naive_pareto(values, directions):
    signed = [[v if d == "max" else -v for v, d in zip(r, directions, strict=True)] for r in values]
    return [
        not any(
            all(o >= x for o, x in zip(other, row, strict=True)) and other != row
            for other in signed
        )
        for row in signed
    ]


def test_pareto_front_matches_the_definition_on_random_sets():
    rng = random.Random(7)
    for _ in range(30):
        n, k = rng.randint(1, 60), rng.randint(1, 4)
        values = [[rng.choice([0.0, 0.5, 1.0, rng.random()]) for _ in range(k)] for _ in range(n)]
        directions = [rng.choice(["max", "min"]) for _ in range(k)]
        assert pareto_flags(values, directions) == naive_pareto(values, directions)


def test_pareto_flag_in_the_ranking():
    result = rank(SNAPSHOTS, spec())
    flags = {e.id: e.pareto for e in result.ranked}
    # logistic: best size/latency-ish and interpretability; boost best f1 among survivors.
    assert flags["01-logistic"] and flags["03-boost"] and flags["04-tree"]
    assert not flags["09-laptop"]  # tree beats it on every criterion


def test_weights_parsing_and_what_if():
    assert parse_weights("f1=0.5, latency_p95_ms=0.3") == {"f1": 0.5, "latency_p95_ms": 0.3}
    for bad in ("f1", "f1=x", "f1=-1", "speed=1", ""):
        with pytest.raises(CriteriaError):
            parse_weights(bad)
    criteria = with_weights(
        make_criteria([{"metric": "fairness_gap", "weight": 1, "direction": "min"}]),
        {"f1": 2, "size_mb": 2},
    )
    assert [(c.metric, c.weight, c.direction) for c in criteria] == [
        ("f1", 2.0, "max"),
        ("size_mb", 2.0, "min"),
    ]
    assert spec(criteria=criteria).weights() == {"f1": 0.5, "size_mb": 0.5}


def test_weights_are_given_once_finite_and_not_all_zero():
    with pytest.raises(CriteriaError, match="f1 is given twice") as info:
        parse_weights("f1=1,f1=2")
    assert "give each measure once" in str(info.value)
    for bad in ("f1=inf", "f1=nan", "f1=1e309", "f1=0,size_mb=0"):
        with pytest.raises(CriteriaError):
            parse_weights(bad)
    with pytest.raises(CriteriaError, match="must be a number >= 0"):
        make_criteria([{"metric": "f1", "weight": math.inf}])


def test_huge_weights_do_not_overflow_to_zero_scores():
    huge = make_criteria(
        [{"metric": "f1", "weight": 1e308}, {"metric": "latency_p95_ms", "weight": 1e308}]
    )
    assert spec(criteria=huge).weights() == {"f1": 0.5, "latency_p95_ms": 0.5}
    small = make_criteria(
        [{"metric": "f1", "weight": 1}, {"metric": "latency_p95_ms", "weight": 1}]
    )
    a, b = rank(SNAPSHOTS, spec(criteria=huge)), rank(SNAPSHOTS, spec(criteria=small))
    assert [e.score for e in a.ranked] == [e.score for e in b.ranked]
    assert a.ranked[0].score > 0
    tiny = make_criteria([{"metric": "f1", "weight": 5e-324}, {"metric": "size_mb", "weight": 0}])
    assert spec(criteria=tiny).weights() == {"f1": 1.0}


def test_bad_criteria_are_refused():
    with pytest.raises(CriteriaError, match="unknown measure"):
        make_criteria([{"metric": "speed", "weight": 1}])
    with pytest.raises(CriteriaError, match="no positive weight"):
        make_criteria([{"metric": "f1", "weight": 0}])
    with pytest.raises(CriteriaError, match="twice"):
        make_criteria([{"metric": "f1", "weight": 1}, {"metric": "f1", "weight": 1}])


def test_the_project_files_criteria_are_ranked_as_parsed_not_checked_again(tmp_path):
    # One Criterion class: what project.parse made is what the ranking uses, object for object.
    from modelsnap.core.project.parse import parse_project
    from modelsnap.core.project.schema import Criterion
    from modelsnap.core.selection.ranking import spec_from_config

    config = parse_project(
        {
            "data": {"source": "sklearn:iris", "target": "target", "task": "classification"},
            "criteria": [
                {"metric": "f1", "weight": 2},
                {"metric": "latency_p95_ms", "weight": 1, "direction": "min"},
            ],
        },
        tmp_path,
    )
    assert all(type(c) is Criterion for c in config.criteria)
    spec = spec_from_config(config)
    assert all(a is b for a, b in zip(spec.criteria, config.criteria, strict=True))
    assert make_criteria(config.criteria)[0] is config.criteria[0]
    # A table (a locked revision's) is checked, once, into the same class.
    assert make_criteria([{"metric": "f1", "weight": 1}]) == [Criterion("f1", 1.0, "max")]


def test_index_rows_and_snapshots_rank_the_same():
    from modelsnap.core.records.index import summary_row

    rows = [summary_row(s) for s in SNAPSHOTS]
    a, b = rank(rows, spec()), rank(SNAPSHOTS, spec())
    assert a.to_dict() == b.to_dict()


def test_weighted_worked_example_from_the_docs():
    rows = [
        snap("01-A", f1=0.9, p95=20.0, size=1),
        snap("02-B", f1=0.8, p95=10.0, size=1),
        snap("03-C", f1=0.7, p95=5.0, size=1),
    ]
    criteria = make_criteria(
        [{"metric": "f1", "weight": 0.5}, {"metric": "latency_p95_ms", "weight": 0.5}]
    )
    result = rank(rows, spec(criteria=criteria, constraints={}))
    assert [(e.id, round(e.score, 3)) for e in result.ranked] == [
        ("02-B", 0.583),
        ("01-A", 0.5),
        ("03-C", 0.5),
    ]
    assert result.ranked[0].normalised == pytest.approx({"f1": 0.5, "latency_p95_ms": 2 / 3})


def test_must_pass_cases_exist_reads_the_severity_column(tmp_path):
    from modelsnap.core.selection.context import must_pass_cases_exist

    (tmp_path / "edge.csv").write_text("x,y,severity\n1,a,normal\n2,b, must-pass\n")
    (tmp_path / "soft.csv").write_text("x,y,severity\n1,a,high\n")
    assert must_pass_cases_exist(tmp_path, "edge.csv")
    assert not must_pass_cases_exist(tmp_path, "soft.csv")
    assert not must_pass_cases_exist(tmp_path, "missing.csv")
    assert not must_pass_cases_exist(tmp_path, None)


@settings(max_examples=200, deadline=None)
@given(
    st.lists(
        st.tuples(
            st.floats(0.5, 0.99),  # f1
            st.sampled_from([1.0, 2.5, 4.0, 9.0]),  # p95 (ties on purpose)
            st.floats(0.1, 30.0),  # size
            st.sampled_from(["hw-1", "hw-2"]),
            st.sampled_from([1, 2]),  # criteria revision
            st.booleans(),  # on another split (ranked with allow_mixed)
        ),
        min_size=1,
        max_size=40,
    )
)
def test_each_ranked_entry_carries_its_own_rows_values_in_rank_order(drawn):
    """Entries are made in the rows' order and then put best first (ranking._entries): each
    must still carry its own row's values, flags and test metric, be numbered 1..n, and be in
    the documented order (score, then the better primary metric, then the earlier snapshot)."""
    rows = [snap("00-logistic", "baseline", f1=0.5, p95=1.0, size=0.1)]
    for n, (f1, p95, size, hw, revision, other_split) in enumerate(drawn, start=1):
        rows.append(
            snap(
                f"{n:02d}-m{n}",
                f1=f1,
                p95=p95,
                size=size,
                interp=0.5,
                test_f1=f1 / 2,
                hw=hw,
                revision=revision,
                split="x" * 64 if other_split else S,
            )
        )
    by_id = {row["id"]: row for row in rows}
    result = rank(rows, spec(allow_mixed=True, constraints={}))
    assert [e.rank for e in result.ranked] == list(range(1, len(rows) + 1))
    for entry in result.ranked:
        row = by_id[entry.id]
        assert entry.name == row["name"] and entry.kind == row["kind"]
        assert entry.values == {k: v for k, v in flat(row).items() if k != "id"}
        assert entry.primary == row["metrics"]["validation"]["f1"]
        assert entry.test_primary == row["metrics"]["test"]["f1"]
        other_machine = row["hardware"]["fingerprint"] == "hw-2"
        assert entry.hardware_flags == (["latency_p95_ms"] if other_machine else [])
        assert entry.older_revision == (row["criteria_revision"] == 1)
        assert entry.mixed == (row["data"]["split_sha256"] != S)
    keys = [
        (-round(e.score, 12), -e.primary, by_id[e.id]["created_at"], e.id) for e in result.ranked
    ]
    assert keys == sorted(keys)


def test_entry_fields_are_declared_in_the_order_of_their_names():
    """orjson writes a dataclass's fields in declaration order, not sorted: a field added out
    of order would change the JSON (this fails before any ranking is needed)."""
    names = [f.name for f in dataclasses.fields(RankedEntry)]
    assert names == sorted(names)
    entry = RankedEntry(id="a", name="a", kind="candidate", rank=1, score=1.0, values={},
                        normalised={})  # fmt: skip
    assert sorted(entry.to_dict()) == names  # the same keys; JSON sorts them


@settings(max_examples=150, deadline=None)
@given(
    st.lists(
        st.tuples(
            st.floats(0.3, 0.99),  # f1
            st.sampled_from([1.0, 2.5, 60.0]),  # p95: 60 breaks the 50 ms limit
            st.floats(0.1, 30.0) | st.none(),  # size (None: incomplete)
            st.sampled_from(["hw-1", "hw-2"]),
            st.sampled_from([1, 2]),
            st.booleans(),  # another split
            st.text(min_size=1, max_size=12),  # name, any characters
        ),
        min_size=0,
        max_size=25,
    ),
    st.booleans(),
)
def test_entries_as_objects_encode_to_the_bytes_of_their_dicts(drawn, huge):
    """``rank --format json`` hands the ranked entries to orjson as objects (no dict per
    entry): the bytes must be those of ``to_dict()``, whatever the entries hold."""
    rows = [snap("00-logistic", "baseline", f1=0.5, p95=1.0, size=0.1)]
    for n, (f1, p95, size, hw, revision, other_split, name) in enumerate(drawn, start=1):
        row = snap(
            f"{n:02d}-m{n}",
            f1=f1,
            p95=p95,
            size=size,
            hw=hw,
            revision=revision,
            split="x" * 64 if other_split else S,
        )
        row["name"] = name
        rows.append(row)
    result = rank(rows, spec(allow_mixed=True), sensitivity=True)
    as_dicts = result.to_dict()
    as_objects = result.to_dict(entries_as_objects=True)
    assert all(isinstance(e, RankedEntry) for e in as_objects["ranked"])
    if huge:  # an integer orjson refuses: the standard library's path must agree too
        as_dicts["problems"] = as_objects["problems"] = [2**70]
    encoded = json_bytes(as_objects)
    assert encoded == json_bytes(as_dicts)
    assert json.loads(encoded)["ranked"] == json.loads(json.dumps(as_dicts["ranked"]))


def test_a_row_scored_after_all_keeps_its_own_values():
    """Two limits on one measure (only a hand-made rule table holds them): ``passes`` holds
    both and clears no row under the higher one, ``findings`` keeps the last, as
    ``evaluate`` does, so such a row is scored after all, with its own criteria values."""
    rows = [
        snap("01-A", f1=0.95, p95=1.0, size=1.0, interp=0.5),
        snap("02-B", f1=0.70, p95=2.0, size=3.0, interp=0.9),  # under 0.9, over 0.5
        snap("03-C", f1=0.40, p95=3.0, size=2.0, interp=0.1),  # under both
    ]
    constraints = {"min_f1": 0.9, "min_metric": {"f1": 0.5}}
    result = rank(rows, spec(constraints=constraints, all_versions=True))
    by_id = {e.id: e for e in result.ranked}
    assert sorted(by_id) == ["01-A", "02-B"]
    assert [r["id"] for r in result.rejected] == ["03-C"]
    assert by_id["02-B"].values == {
        "f1": 0.70,
        "latency_p95_ms": 2.0,
        "size_mb": 3.0,
        "interpretability": 0.9,
    }
    assert by_id["01-A"].values["size_mb"] == 1.0 and by_id["01-A"].primary == 0.95


@settings(max_examples=300, deadline=None)
@given(
    st.lists(
        st.tuples(
            # ties on purpose, some only after rounding to 12 decimals; -0.0, inf and NaN
            st.sampled_from([0.0, -0.0, 0.25, 0.5, 0.5 + 1e-13, 0.75, math.inf, math.nan]),
            st.sampled_from([(-0.9, "a"), (-0.9, "b"), (-0.8, "a"), (math.inf, "a")]),
        ),
        max_size=30,
    )
)
def test_the_order_is_the_sort_by_score_then_tie_break_key(drawn):
    """``_order`` sorts by the score alone, then each run of equal scores by its keys: the
    order of ``sorted`` by the pair (-score to 12 decimals, key), NaN scores included."""
    scores = [score for score, _ in drawn]
    keys = [key for _, key in drawn]
    by_pair = sorted(range(len(scores)), key=lambda i: (-round(scores[i], 12), keys[i]))
    assert _order(scores, keys.__getitem__) == by_pair


def test_only_the_rows_that_tie_get_a_tie_break_key():
    asked: list[int] = []

    def key_of(i):
        asked.append(i)
        return (0.0, "2026", f"{i:02d}")

    scores = [0.9, 0.4, 0.7, 0.4, 0.1, 0.4, 0.7 + 1e-14]
    assert _order(scores, key_of) == [0, 2, 6, 1, 3, 5, 4]
    assert sorted(asked) == [1, 2, 3, 5, 6]
    asked.clear()
    assert _order([0.3, 0.1, 0.2], key_of) == [0, 2, 1]
    assert asked == []


_KEY_PARTS = st.one_of(
    st.sampled_from(["", "2026-11-01", "2026-11-02", "a", "b"]),  # ties on purpose
    st.none(),
    st.integers(0, 3),  # a hand-edited file: _order_key's str() of it
    st.just(...),  # the key left out of the row
)


def _keyed_row(created_at, sid, n):
    row = {"measures": {"validation": {}, "test": {}}, "n": n}  # as_row keeps it as it is
    if created_at is not ...:
        row["created_at"] = created_at
    if sid is not ...:
        row["id"] = sid
    return row


@settings(max_examples=300)
@given(st.lists(st.tuples(_KEY_PARTS, _KEY_PARTS), max_size=30), st.booleans())
def test_rows_are_put_in_the_order_of_their_key(drawn, plain):
    """``_in_order`` (its keys taken as they are when every one is a string) is the stable
    sort by ``_order_key``, and ``_newest`` of its rows is the row ``max`` gives: the first
    of the last run of equal keys."""
    if plain:  # only strings: the quick path
        drawn = [
            (c if isinstance(c, str) else "x", i if isinstance(i, str) else "y") for c, i in drawn
        ]
    rows = [_keyed_row(created_at, sid, n) for n, (created_at, sid) in enumerate(drawn)]
    expected = sorted(rows, key=_order_key)
    ordered = _in_order(rows)
    assert [row["n"] for row in ordered] == [row["n"] for row in expected]
    if ordered:
        assert _newest(ordered) is max(ordered, key=_order_key)


def test_the_newest_row_of_equal_keys_is_the_first_of_them():
    rows = [
        {"created_at": "2026-11-01", "id": "a", "split_sha256": "old"},
        {"created_at": "2026-11-02", "id": "b", "split_sha256": "first"},
        {"created_at": "2026-11-02", "id": "b", "split_sha256": "second"},
    ]
    assert _newest(rows)["split_sha256"] == "first"
