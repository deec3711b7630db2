"""The review filter language on its own: comparisons, fields, words, and clear refusals."""

from __future__ import annotations

import operator

import pytest
from hypothesis import given
from hypothesis import strategies as st

from modelsnap.tui.screens.review_filter import (
    FilterError,
    known_measures,
    parse_filter,
    row_value,
)


def row(i: int, f1: float | None, p95: float, kind: str = "candidate", name: str = "forest"):
    validation = {"f1": f1} if f1 is not None else {}
    return {
        "id": f"2026-{name}-{i:04x}",
        "name": name,
        "kind": kind,
        "version": f"v{i}",
        "estimator": "sklearn.ensemble.RandomForestClassifier",
        "_status": "ok",
        "_comparability": "same",
        "created_at": "2026-11-02T10:00:00+00:00",
        "latency_p95_ms": p95,
        "size_mb": 1.5,
        "measures": {"validation": validation, "test": {"f1": 0.5}},
    }


ROWS = [
    row(1, 0.8, 5.0),
    row(2, 0.7, 12.0, "baseline", "logistic"),
    row(3, None, 3.0),
    row(4, 0.76, 10.0, name="random_forest"),
]
KNOWN = known_measures(ROWS)


def haystack(r):
    return " ".join(str(r.get(k)) for k in ("id", "name", "kind", "version", "_status")).lower()


def ids(text: str) -> list[str]:
    test = parse_filter(text, KNOWN, haystack)
    return [r["id"] for r in ROWS if test(r)]


def test_comparisons_fields_and_words_combine():
    assert ids("f1>0.75") == [ROWS[0]["id"], ROWS[3]["id"]]
    assert ids("f1>0.75 name:random") == [ROWS[3]["id"]]
    assert ids("kind:base") == [ROWS[1]["id"]]
    assert ids("p95<=10 kind:candidate") == [ROWS[0]["id"], ROWS[2]["id"], ROWS[3]["id"]]
    assert ids("latency_p95_ms<=10 f1>=0.76") == [ROWS[0]["id"], ROWS[3]["id"]]
    assert ids("test_f1=0.5") == [r["id"] for r in ROWS]
    assert ids("f1!=0.8") == [ROWS[1]["id"], ROWS[3]["id"]], "no f1: no match"
    assert ids("logistic") == [ROWS[1]["id"]]
    assert ids("") == [r["id"] for r in ROWS]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("f1>", "a number is missing"),
        ("f1>abc", "'abc' is not a number"),
        ("f1>nan", "finite"),
        ("recall>0.5", "no snapshot has a measure 'recall'"),
        ("colour:red", "no field 'colour'"),
        ("name:", "text is missing"),
    ],
)
def test_bad_terms_are_named(text, message):
    with pytest.raises(FilterError, match=message):
        parse_filter(text, KNOWN, haystack)


@given(st.text(max_size=40))
def test_any_text_either_filters_or_says_why(text):
    try:
        test = parse_filter(text, KNOWN, haystack)
    except FilterError as error:
        assert str(error)
        return
    for r in ROWS:
        assert test(r) in (True, False)


@given(
    st.sampled_from([">", ">=", "<", "<=", "=", "!="]),
    st.floats(min_value=-2, max_value=2, allow_nan=False),
)
def test_a_comparison_means_what_it_says(op, limit):
    compare = {
        ">": operator.gt,
        ">=": operator.ge,
        "<": operator.lt,
        "<=": operator.le,
        "=": operator.eq,
        "!=": operator.ne,
    }[op]
    expected = [
        r["id"]
        for r in ROWS
        if row_value(r, "f1") is not None and compare(row_value(r, "f1"), limit)
    ]
    assert ids(f"f1{op}{limit!r}") == expected
