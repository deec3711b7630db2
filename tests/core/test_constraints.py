"""Hard constraints: pass, fail with the overshoot, missing is not a pass, gain knows direction."""

from __future__ import annotations

import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from modelsnap.core.errors import ProjectFileError
from modelsnap.core.selection.constraints import (
    Rule,
    check_constraints,
    constraint_target,
    evaluate,
    missing,
    parse_constraints,
    reasons,
)


def snap(kind="candidate", *, f1=0.8, p95=10.0, size=2.0, **extra):
    body = {
        "id": f"{kind}-1",
        "kind": kind,
        "metrics": {"validation": {"f1": f1, "recall": 0.5}},
        "resources": {"latency_p95_ms": p95, "size_mb": size},
    }
    body.update(extra)
    return body


BASELINE = snap("baseline", f1=0.5, p95=2.0, size=1.0)


def test_limits_pass_and_fail_with_overshoot():
    result = check_constraints(
        snap(p95=80.0), {"max_latency_p95_ms": 50.0, "max_size_mb": 10.0}, BASELINE, "f1"
    )
    table = result["constraints"]
    assert table["latency_p95_ms"] == {
        "value": 80.0,
        "limit": 50.0,
        "ok": False,
        "over": pytest.approx(0.6),
    }
    assert table["size_mb"]["ok"] is True and table["size_mb"]["over"] == 0.0
    assert reasons(result) == ["latency_p95_ms 80 > 50"]


def test_minimums_and_min_metric():
    result = check_constraints(snap(), {"min_metric": {"recall": 0.6}}, None, "f1")
    entry = result["constraints"]["recall"]
    assert entry["ok"] is False and entry["over"] == pytest.approx(0.1 / 0.6)
    assert reasons(result) == ["recall 0.5 < 0.6"]


def test_missing_measure_is_missing_not_pass():
    result = check_constraints(
        snap(), {"max_fairness_gap": 0.1, "min_interpretability": 0.5}, BASELINE, "f1"
    )
    assert result["constraints"]["fairness_gap"] == {"limit": 0.1, "missing": True}
    assert missing(result) == ["fairness_gap", "interpretability"]
    assert reasons(result) == []


def test_gain_over_baseline_absolute_relative_per_resource():
    result = check_constraints(
        snap(f1=0.6, p95=4.0, size=3.0), {"min_gain_over_baseline": 0.25}, BASELINE, "f1"
    )
    gain = result["gain"]
    assert gain["baseline_id"] == "baseline-1" and gain["metric"] == "f1"
    assert gain["absolute"] == pytest.approx(0.1)
    assert gain["relative"] == pytest.approx(0.2)
    assert gain["per_ms_p95"] == pytest.approx(0.1 / 2.0)
    assert gain["per_mb"] == pytest.approx(0.1 / 2.0)
    assert reasons(result) == ["gain_over_baseline 0.2 < 0.25"]


def test_gain_for_a_loss_metric_is_positive_when_lower():
    cand = {"kind": "candidate", "metrics": {"validation": {"rmse": 8.0}}}
    base = {"id": "b", "kind": "baseline", "metrics": {"validation": {"rmse": 10.0}}}
    gain = check_constraints(cand, {}, base, "rmse")["gain"]
    assert gain["absolute"] == pytest.approx(2.0) and gain["relative"] == pytest.approx(0.2)
    assert "per_ms_p95" not in gain  # no extra latency measured


def test_gain_constraint_without_baseline_is_missing_and_skipped_for_the_baseline():
    result = check_constraints(snap(), {"min_gain_over_baseline": 0.01}, None, "f1")
    assert result["constraints"]["gain_over_baseline"]["missing"] is True
    assert result["gain"] == {}
    own = check_constraints(BASELINE, {"min_gain_over_baseline": 0.01}, None, "f1")
    assert own == {"constraints": {}, "gain": {}}


def test_must_pass_edge_cases_are_a_hard_constraint():
    failed = snap(edge_cases={"n_cases": 3, "n_passed": 2, "must_pass_failed": 1})
    result = check_constraints(failed, {}, BASELINE, "f1")
    assert reasons(result) == ["edge_cases_must_pass 1 > 0"]
    unrun = check_constraints(snap(), {}, BASELINE, "f1", edge_cases_required=True)
    assert missing(unrun) == ["edge_cases_must_pass"]
    assert check_constraints(snap(), {}, BASELINE, "f1")["constraints"] == {}


def test_generic_and_unknown_constraint_names():
    assert constraint_target("max_latency_p99_ms") == ("latency_p99_ms", "max")
    assert constraint_target("min_interpretability") == ("interpretability", "min")
    with pytest.raises(ProjectFileError, match="unknown constraint 'max_speed'"):
        parse_constraints({"max_speed": 1.0})
    with pytest.raises(ProjectFileError, match="finite number"):
        parse_constraints({"max_size_mb": "big"})
    with pytest.raises(ProjectFileError, match="min_metric"):
        parse_constraints({"min_metric": 0.5})


def test_parsed_rules_give_the_same_answer():
    table = {"max_latency_p95_ms": 5.0, "min_metric": {"f1": 0.9}}
    measured = {"latency_p95_ms": 6.0, "f1": 0.8}
    assert evaluate(measured, table, primary_metric="f1") == evaluate(
        measured, parse_constraints(table), primary_metric="f1"
    )


def test_index_rows_are_accepted_like_snapshots():
    from modelsnap.core.measures import measures

    def row(s):
        return {
            "id": s["id"],
            "kind": s["kind"],
            "measures": {"validation": measures(s), "test": {}},
        }

    candidate = snap(f1=0.6, p95=4.0, size=3.0)
    table = {"min_gain_over_baseline": 0.1, "max_latency_p95_ms": 3.0}
    assert check_constraints(row(candidate), table, row(BASELINE), "f1") == check_constraints(
        candidate, table, BASELINE, "f1"
    )


def test_a_failure_never_prints_as_equality():
    # f1 0.5027 against a 0.5 baseline: a relative gain of 0.0054, under a 0.01 minimum
    result = check_constraints(
        snap(f1=0.50272727), {"min_gain_over_baseline": 0.01}, BASELINE, "f1"
    )
    assert reasons(result) == ["gain_over_baseline 0.005455 < 0.01"]
    close = evaluate({"recall": 0.0099996}, {"min_metric": {"recall": 0.01}}, primary_metric="f1")
    assert reasons(close) == ["recall 0.0099996 < 0.01"]
    from modelsnap.core.selection.constraints import format_pair

    assert format_pair(-0.0, 0.0) == ("0", "0")


@given(st.floats(-1e6, 1e6, allow_nan=False), st.floats(-1e6, 1e6, allow_nan=False))
def test_format_pair_tells_different_numbers_apart(value: float, limit: float):
    from modelsnap.core.selection.constraints import format_pair

    shown_value, shown_limit = format_pair(value, limit)
    assert (shown_value == shown_limit) == (value == limit)
    assert float(shown_value) == pytest.approx(value, rel=1e-3, abs=1e-9)


def _format_pair_by_definition(value, limit, digits=4):
    """``format_pair`` as documented, without its quick path for two floats."""
    if not all(
        isinstance(v, int | float) and not isinstance(v, bool) and math.isfinite(v)
        for v in (value, limit)
    ):
        return str(value), str(limit)
    value, limit = value + 0.0, limit + 0.0
    for places in range(digits, 18):
        shown = f"{value:.{places}g}", f"{limit:.{places}g}"
        if shown[0] != shown[1] or value == limit:
            return shown
    return repr(float(value)), repr(float(limit))


_ANY_LIMIT = st.one_of(
    st.floats(allow_nan=True, allow_infinity=True),
    st.integers(-(10**20), 10**20),
    st.booleans(),
    st.none(),
    st.text(max_size=3),
)


@given(_ANY_LIMIT, _ANY_LIMIT)
def test_format_pair_quick_path_changes_nothing(value, limit):
    """Two finite floats take a quick path; every pair reads as the definition says (a NaN,
    an infinity, a bool or a text as it is)."""
    from modelsnap.core.selection.constraints import format_pair

    assert format_pair(value, limit) == _format_pair_by_definition(value, limit)
    assert format_pair(math.inf, 1.0) == ("inf", "1.0")


_VALUES = st.one_of(
    st.none(),
    st.floats(allow_nan=True, allow_infinity=True),
    st.sampled_from([0.0, -0.0, 0.5, 1.0, 50.0]),
)
_MEASURES = ("f1", "recall", "latency_p95_ms", "size_mb", "edge_must_pass_failed")


def _measured(draw_values: dict[str, float | None]) -> dict[str, float]:
    return {name: value for name, value in draw_values.items() if value is not None}


@settings(max_examples=500)
@given(
    mine=st.fixed_dictionaries({name: _VALUES for name in _MEASURES}),
    theirs=st.one_of(st.none(), st.fixed_dictionaries({name: _VALUES for name in _MEASURES})),
    limits=st.fixed_dictionaries(
        {},
        optional={
            "max_latency_p95_ms": st.sampled_from([0.0, 5.0, 50.0]),
            "max_size_mb": st.sampled_from([0.0, 1.0, 100.0]),
            "min_gain_over_baseline": st.sampled_from([-1.0, 0.0, 0.01]),
            "min_f1": st.sampled_from([0.0, 0.5]),  # the rule min_metric.f1 is named too
            "min_metric": st.fixed_dictionaries(
                {}, optional={"recall": st.sampled_from([0.0, 0.5]), "f1": st.just(0.9)}
            ),
        },
    ),
    kind=st.sampled_from(["candidate", "baseline"]),
    required=st.booleans(),
)
def test_passes_and_findings_agree_with_the_table_they_stand_in_for(
    mine: dict, theirs: dict | None, limits: dict, kind: str, required: bool
):
    """The ranking's quick test and its words never disagree with the table they stand in for:
    NaN, infinity, -0.0, a missing measure, a missing baseline, a baseline judged on the gain
    and two rules of one name (min_f1 and min_metric.f1, which no project file can hold: its
    [constraints] keys are fixed, and min_metric names quality metrics only) included."""
    from modelsnap.core.selection.constraints import findings, gain_over, passes

    measured = _measured(mine)
    baseline = _measured(theirs) if theirs is not None else None
    rules = parse_constraints(limits)
    judged = evaluate(
        measured,
        rules,
        primary_metric="f1",
        kind=kind,
        baseline=baseline if kind != "baseline" else None,
        baseline_id="b",
        edge_cases_required=required,
    )
    gain = (
        gain_over(measured, baseline, "b", "f1")
        if kind != "baseline" and baseline is not None
        else {}
    )
    assert repr(gain) == repr(judged["gain"])  # repr: NaN (inf - inf) equals itself there
    quick = passes(measured, rules, kind=kind, gain=gain, edge_cases_required=required)
    if len({rule.name for rule in rules}) == len(rules):  # as every project file gives them
        assert quick == (not reasons(judged) and not missing(judged))
    else:  # two limits on one measure: passes holds both, the table (and findings) the last
        assert not quick or (not reasons(judged) and not missing(judged))
    words = findings(measured, rules, kind=kind, gain=gain, edge_cases_required=required)
    assert words == (reasons(judged), missing(judged))


_NAMES = ("f1", "size_mb", "edge_cases_must_pass", "gain_over_baseline")  # hand-made clashes
_RULES = st.lists(
    st.builds(
        Rule,
        name=st.sampled_from(_NAMES),
        measure=st.sampled_from(("f1", "size_mb", "gain_over_baseline")),
        limit=st.sampled_from([-1.0, 0.0, 0.5, 50.0]),
        kind=st.sampled_from(["max", "min"]),
    ),
    max_size=5,
).map(tuple)


@settings(max_examples=500)
@given(
    rows=st.lists(
        st.tuples(
            st.fixed_dictionaries({name: _VALUES for name in _MEASURES}),
            st.sampled_from(["candidate", "baseline"]),
            st.one_of(st.just({}), st.fixed_dictionaries({"relative": _VALUES})),
        ),
        min_size=1,
        max_size=4,
    ),
    rules=_RULES,
    required=st.booleans(),
)
def test_findings_worked_out_once_give_each_rows_words_as_the_table(rows, rules, required):
    """``findings_of`` works out the rules once, then judges row after row: each row's words
    are still those of ``evaluate``'s table, for any hand-made rule table (names repeated,
    one named as the edge-case or the gain constraint, gain rules for a baseline)."""
    from modelsnap.core.selection.constraints import findings_of, judged_table

    words = findings_of(rules, edge_cases_required=required)
    for mine, kind, drawn_gain in rows:
        measured = _measured(mine)
        gain = {k: v for k, v in drawn_gain.items() if v is not None}
        table = judged_table(measured, rules, kind=kind, gain=gain, edge_cases_required=required)
        assert words(measured, kind, gain) == (
            reasons({"constraints": table}),
            missing({"constraints": table}),
        )
