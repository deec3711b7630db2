"""The pure snapshot diff used by review: dotted keys, only differences by default."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from modelsnap.core.reporting.snapshot_diff import (
    MISSING,
    comparability_notes,
    diff_snapshots,
    flatten,
)

LEFT = {
    "id": "a",
    "name": "rf",
    "created_at": "t1",
    "model": {"params": {"max_depth": 4, "n_estimators": 100}, "artifact_sha256": "1" * 64},
    "metrics": {"validation": {"f1": 0.8, "accuracy": 0.9}},
    "data": {"dataset_sha256": "d", "split_sha256": "s"},
    "hardware": {"fingerprint": "h1"},
    "interpretability": {"top_features": [{"name": "x", "importance": 0.1}]},
}


def right(**changes):
    snapshot = {
        **LEFT,
        "id": "b",
        "created_at": "t2",
        "model": {"params": {"max_depth": 8, "n_estimators": 100}, "artifact_sha256": "2" * 64},
    }
    snapshot.update(changes)
    return snapshot


def test_only_differences_without_identity_keys():
    lines = diff_snapshots(LEFT, right())
    assert [(line.key, line.left, line.right) for line in lines] == [
        ("model.params.max_depth", 4, 8)
    ]
    assert lines[0].relative_change == 1.0


def test_show_all_keeps_equal_keys_and_absent_ones_are_marked():
    other = right(metrics={"validation": {"f1": 0.8}})
    lines = {line.key: line for line in diff_snapshots(LEFT, other, show_all=True)}
    assert lines["metrics.validation.f1"].same
    assert lines["metrics.validation.accuracy"].right is MISSING
    assert lines["id"].left == "a" and not lines["id"].same
    assert lines["interpretability.top_features"].same  # arrays of tables compare whole


def test_int_and_float_of_equal_value_are_equal():
    assert diff_snapshots({"a": 1}, {"a": 1.0}) == []


def test_comparability_notes_name_the_pitfalls():
    other = right(
        data={"dataset_sha256": "d", "split_sha256": "other"}, hardware={"fingerprint": "h2"}
    )
    notes = comparability_notes(LEFT, other)
    assert any("split differs" in n for n in notes)
    assert any("different hardware" in n for n in notes)
    assert not any("data set" in n for n in notes)


tables = st.recursive(
    st.integers() | st.text(max_size=5) | st.booleans(),
    lambda children: st.dictionaries(
        st.text("abc", min_size=1, max_size=3), children, min_size=1, max_size=3
    ),
    max_leaves=12,
).filter(lambda value: isinstance(value, dict))


@given(tables, tables)
def test_properties(left, right_):
    assert diff_snapshots(left, left) == []
    every = diff_snapshots(left, right_, show_all=True)
    assert {line.key for line in every} == set(flatten(left)) | set(flatten(right_))
    assert {line.key for line in diff_snapshots(left, right_)} == {
        line.key for line in every if not line.same
    }
