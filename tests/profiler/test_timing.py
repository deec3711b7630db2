"""Latency statistics and the timing loops, on real models and on controlled fake work."""

from __future__ import annotations

import gc
import time

import numpy as np
import pandas as pd
import pytest
from hypothesis import given
from hypothesis import strategies as st

from modelsnap.profiler.timing import (
    default_batch_size,
    measure_batch,
    measure_latency,
    single_rows,
    summarize_ns,
    timer_overhead_ns,
)


@given(st.lists(st.integers(1, 10**10), min_size=1, max_size=400))
def test_summary_matches_numpy(samples: list[int]) -> None:
    stats = summarize_ns(samples, warmup=3)
    arr = np.array(samples, dtype=float) / 1e6
    assert stats.p50_ms == pytest.approx(np.percentile(arr, 50))
    assert stats.p95_ms == pytest.approx(np.percentile(arr, 95))
    assert stats.p99_ms == pytest.approx(np.percentile(arr, 99))
    assert stats.iqr_ms == pytest.approx(np.percentile(arr, 75) - np.percentile(arr, 25), abs=1e-9)
    assert stats.mean_ms == pytest.approx(arr.mean())
    assert stats.min_ms == pytest.approx(arr.min())
    assert stats.min_ms <= stats.p50_ms <= stats.p95_ms <= stats.p99_ms
    assert stats.trials == len(samples) and stats.warmup == 3


def test_single_rows_are_one_row_frames_cycling() -> None:
    frame = pd.DataFrame({"a": [1, 2, 3]})
    rows = single_rows(frame, 7)
    assert [len(r) for r in rows] == [1] * 7
    assert [int(r["a"].iloc[0]) for r in rows] == [1, 2, 3, 1, 2, 3, 1]


def test_measure_latency_counts_calls_and_pauses_gc() -> None:
    calls = []
    gc_states = []

    def predict(row):
        calls.append(row)
        gc_states.append(gc.isenabled())

    progress = []
    stats = measure_latency(predict, [1, 2, 3], trials=50, warmup=5, on_progress=progress.append)
    assert len(calls) == 55
    assert stats.trials == 50 and stats.warmup == 5
    assert gc_states[5:] == [False] * 50  # timed calls run with gc paused
    assert gc.isenabled()
    assert progress[-1] == 1.0


def test_measure_latency_sees_a_known_delay() -> None:
    stats = measure_latency(lambda _row: time.sleep(0.002), [0], trials=20, warmup=1)
    assert stats.min_ms >= 2.0
    assert stats.p50_ms < 200.0


def test_measure_latency_on_a_real_model() -> None:
    from sklearn.linear_model import LogisticRegression

    rng = np.random.default_rng(0)
    frame = pd.DataFrame(rng.normal(size=(100, 4)), columns=list("abcd"))
    model = LogisticRegression().fit(frame, (frame["a"] > 0).astype(int))
    stats = measure_latency(model.predict, single_rows(frame, 30), trials=30, warmup=5)
    assert 0 < stats.min_ms <= stats.p50_ms <= stats.p99_ms
    batch = measure_batch(model.predict, frame, repeats=5)
    assert batch.batch_size == 100
    assert batch.throughput_rows_per_s == pytest.approx(100 / (batch.batch_latency_ms / 1000))


@pytest.mark.parametrize("kwargs", [{"trials": 0}, {"warmup": -1}])
def test_measure_latency_refuses_bad_settings(kwargs) -> None:
    with pytest.raises(ValueError):
        measure_latency(lambda r: r, [1], **kwargs)


def test_default_batch_size() -> None:
    assert default_batch_size(1000) == 256
    assert default_batch_size(40) == 40
    assert default_batch_size(1000, 64) == 64
    with pytest.raises(ValueError):
        default_batch_size(10, 0)


def test_timer_overhead_is_positive_and_small() -> None:
    overhead = timer_overhead_ns(10_000)
    assert 0 < overhead < 1e6
