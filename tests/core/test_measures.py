"""The measure namespace: absent stays absent, splits are honoured, bad values never count."""

from __future__ import annotations

import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from modelsnap.core.measures import (
    MEASURE_DIRECTIONS,
    is_resource_measure,
    measures,
)

SNAPSHOT = {
    "metrics": {
        "validation": {"f1": 0.7, "accuracy": 0.8, "log_loss": 0.4, "unknown_metric": 3.0},
        "test": {"f1": 0.65},
    },
    "resources": {
        "latency_p95_ms": 6.0,
        "size_mb": 1.5,
        "throughput_rows_per_s": 900.0,
        "peak_memory_mb": 80.0,
        "fit_seconds": 2.0,
        "memory_method": "vmhwm-reset",
    },
    "interpretability": {"score": 0.6},
    "fairness": {"max_gap": 0.08},
    "checks": {"overfit_gap": -0.07},
    "edge_cases": {"n_cases": 8, "n_passed": 6, "must_pass_failed": 1},
}


def test_validation_split_by_default_and_test_on_request():
    m = measures(SNAPSHOT)
    assert m["f1"] == 0.7 and m["accuracy"] == 0.8 and m["log_loss"] == 0.4
    assert "unknown_metric" not in m
    t = measures(SNAPSHOT, "test")
    assert t["f1"] == 0.65 and "accuracy" not in t
    assert t["latency_p95_ms"] == 6.0  # resources do not depend on the split


def test_every_table_is_flattened():
    m = measures(SNAPSHOT)
    assert m["interpretability"] == 0.6
    assert m["fairness_gap"] == 0.08
    assert m["overfit_gap"] == 0.0  # better on test than on validation: no overfitting
    assert measures({"checks": {"overfit_gap": 0.07}})["overfit_gap"] == pytest.approx(0.07)
    assert m["edge_pass_rate"] == pytest.approx(0.75)
    assert m["edge_must_pass_failed"] == 1.0
    assert m["size_mb"] == 1.5 and m["fit_seconds"] == 2.0


def test_missing_is_absent_not_zero():
    m = measures({"metrics": {"validation": {"f1": 0.5}}})
    assert m == {"f1": 0.5}


def test_newer_edge_run_replaces_the_snapshot_own_result():
    m = measures(SNAPSHOT, edge_result={"n_cases": 10, "n_passed": 10, "must_pass_failed": 0})
    assert m["edge_pass_rate"] == 1.0 and m["edge_must_pass_failed"] == 0.0


def test_unknown_split_is_refused():
    with pytest.raises(ValueError):
        measures(SNAPSHOT, "train")


def test_resource_measures_are_the_hardware_dependent_ones():
    assert is_resource_measure("latency_p95_ms") and is_resource_measure("peak_memory_mb")
    assert is_resource_measure("throughput_rows_per_s") and is_resource_measure("fit_seconds")
    assert not is_resource_measure("size_mb")  # same artifact, same size on any machine
    assert not is_resource_measure("f1")
    assert MEASURE_DIRECTIONS["latency_p95_ms"] == "min" and MEASURE_DIRECTIONS["f1"] == "max"


values = st.one_of(
    st.none(),
    st.booleans(),
    st.text(max_size=3),
    st.integers(-10, 10),
    st.floats(allow_nan=True, allow_infinity=True),
    st.lists(st.integers(), max_size=2),
)


@given(
    st.dictionaries(
        st.sampled_from(
            ["metrics", "resources", "fairness", "edge_cases", "interpretability", "checks", "x"]
        ),
        st.one_of(
            values,
            st.dictionaries(
                st.sampled_from(
                    [
                        "validation",
                        "f1",
                        "size_mb",
                        "max_gap",
                        "score",
                        "n_cases",
                        "n_passed",
                        "overfit_gap",
                    ]
                ),
                st.one_of(values, st.dictionaries(st.sampled_from(["f1", "r2"]), values)),
            ),
        ),
    )
)
def test_any_shape_gives_finite_floats_only(snapshot):
    result = measures(snapshot)
    assert all(isinstance(v, float) and math.isfinite(v) for v in result.values())
    assert set(result) <= set(MEASURE_DIRECTIONS)


def test_the_registry_is_the_one_list_every_other_is_drawn_from():
    from modelsnap.core import measures as m

    kinds = {"quality", "resource", "interpretability", "fairness", "edge", "check"}
    for name, measure in m.REGISTRY.items():
        assert measure.name == name and measure.direction in ("max", "min")
        assert measure.kind in kinds and measure.where
        assert m.MEASURE_DIRECTIONS[name] == measure.direction
    assert set(m.MEASURE_DIRECTIONS) == set(m.REGISTRY)
    assert set(m.CLASSIFICATION_METRICS) | set(m.REGRESSION_METRICS) == set(m.QUALITY_METRICS)
    assert not set(m.CLASSIFICATION_METRICS) & set(m.REGRESSION_METRICS)
    assert set(m.CARD_QUALITY) == set(m.QUALITY_METRICS)
    assert set(m.PROBABILITY_METRICS) <= set(m.CLASSIFICATION_METRICS)
    assert m.task_of("rmse") == "regression" and m.task_of("f1") == "classification"
    assert m.task_of("latency_p95_ms") is None and m.task_of("nonsense") is None
    # Each table measure is read from where the registry says it lives.
    for table, entries in m._TABLE_MEASURES.items():
        for name, key in entries:
            assert m.measures({table: {key: 0.5}})[name] == 0.5
            assert m.REGISTRY[name].where == f"{table}.{key}"
