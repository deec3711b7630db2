"""Single-row latency and batch throughput, measured so a second look gives the same answer.

Noise is the guide's pitfall 3: one timing of one call says little. So: a warm-up first (caches,
lazy imports, first-call allocations), then many timed calls on *different* real rows from the
validation split, each row already a 1-row DataFrame built before timing starts, the clock read
with ``perf_counter_ns`` right around ``predict`` and nothing else, and the garbage collector
paused so a collection triggered by earlier allocations does not land in a random sample. We
report the distribution (p50/p95/p99/mean/IQR/min), not one number.
"""

from __future__ import annotations

import gc
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

DEFAULT_TRIALS = 300
DEFAULT_WARMUP = 20
DEFAULT_BATCH_SIZE = 256
DEFAULT_BATCH_REPEATS = 15


@dataclass(frozen=True)
class LatencyStats:
    """Single-row latency in milliseconds over ``trials`` timed calls after ``warmup`` calls."""

    p50_ms: float
    p95_ms: float
    p99_ms: float
    mean_ms: float
    iqr_ms: float
    min_ms: float
    trials: int
    warmup: int

    def as_resources(self) -> dict[str, float | int]:
        """The ``[resources]`` keys of the snapshot format."""
        return {
            "latency_p50_ms": self.p50_ms,
            "latency_p95_ms": self.p95_ms,
            "latency_p99_ms": self.p99_ms,
            "latency_mean_ms": self.mean_ms,
            "latency_iqr_ms": self.iqr_ms,
            "latency_min_ms": self.min_ms,
            "latency_trials": self.trials,
            "latency_warmup": self.warmup,
        }


@dataclass(frozen=True)
class BatchStats:
    """Median wall time of predicting one batch, and the rows per second that implies."""

    batch_size: int
    batch_latency_ms: float
    throughput_rows_per_s: float
    repeats: int

    def as_resources(self) -> dict[str, float | int]:
        return {
            "batch_size": self.batch_size,
            "batch_latency_ms": self.batch_latency_ms,
            "throughput_rows_per_s": self.throughput_rows_per_s,
        }


def _percentile(sorted_values: Sequence[int], q: float) -> float:
    """Linear-interpolated percentile (numpy's default method) of already sorted values."""
    n = len(sorted_values)
    position = (n - 1) * q / 100.0
    low = int(position)
    high = min(low + 1, n - 1)
    weight = position - low
    return sorted_values[low] * (1.0 - weight) + sorted_values[high] * weight


def summarize_ns(samples_ns: Sequence[int], *, warmup: int = 0) -> LatencyStats:
    """Turn raw nanosecond samples into the reported statistics (milliseconds)."""
    if not samples_ns:
        raise ValueError("no latency samples to summarise")
    ordered = sorted(samples_ns)
    ms = 1e-6
    q1, q3 = _percentile(ordered, 25), _percentile(ordered, 75)
    return LatencyStats(
        p50_ms=_percentile(ordered, 50) * ms,
        p95_ms=_percentile(ordered, 95) * ms,
        p99_ms=_percentile(ordered, 99) * ms,
        mean_ms=sum(ordered) / len(ordered) * ms,
        iqr_ms=(q3 - q1) * ms,
        min_ms=ordered[0] * ms,
        trials=len(ordered),
        warmup=warmup,
    )


def single_rows(frame: Any, count: int) -> list[Any]:
    """``count`` one-row DataFrames cycling through ``frame``'s rows, built before any timing.

    Slicing a DataFrame costs tens of microseconds, as much as a fast model's predict; doing it
    inside the timed region would measure pandas, not the model.
    """
    n = len(frame)
    if n == 0:
        raise ValueError("no rows to time predictions on")
    return [frame.iloc[i % n : i % n + 1] for i in range(count)]


def measure_latency(
    predict: Callable[[Any], Any],
    rows: Sequence[Any],
    *,
    trials: int = DEFAULT_TRIALS,
    warmup: int = DEFAULT_WARMUP,
    on_progress: Callable[[float], None] | None = None,
) -> LatencyStats:
    """Time ``predict(row)`` for ``trials`` rows after ``warmup`` untimed calls.

    ``rows`` are reused cyclically (warm-up rows first, then the timed ones continue the cycle).
    The timed region holds only the two clock reads and the call; ``on_progress`` is called
    between calls, outside the timed region, at most ~20 times.
    """
    if trials < 1:
        raise ValueError("latency trials must be at least 1")
    if warmup < 0:
        raise ValueError("latency warm-up must be 0 or more")
    if not rows:
        raise ValueError("no rows to time predictions on")
    n_rows = len(rows)
    for i in range(warmup):
        predict(rows[i % n_rows])
    samples = [0] * trials
    every = max(1, trials // 20)
    clock = time.perf_counter_ns
    was_enabled = gc.isenabled()
    gc.collect()
    gc.disable()
    try:
        for i in range(trials):
            row = rows[(warmup + i) % n_rows]
            start = clock()
            predict(row)
            samples[i] = clock() - start
            if on_progress is not None and i % every == every - 1:
                on_progress((i + 1) / trials)
    finally:
        if was_enabled:
            gc.enable()
    return summarize_ns(samples, warmup=warmup)


# The latency split: the estimator alone on rows that are already preprocessed, timed like the
# pipeline (same rows, trials, warm-up and clock discipline), so a reader can tell what the model
# costs from what the shared preprocessing costs (docs/profiler.md, "Latency split").
MODEL_LATENCY_KEYS = ("latency_model_p50_ms", "latency_model_p95_ms", "latency_model_p99_ms")
PREPROCESS_SHARE_KEY = "preprocess_share"


@dataclass(frozen=True)
class LatencySplit:
    """The pipeline's single-row latency, the final estimator's own, and what preprocessing takes.

    ``model`` is None when the estimator could not be timed on its own (``reason`` says why).
    ``preprocess_share`` is ``1 - model p50 / pipeline p50``, clamped to [0, 1]: the two are
    timed one after the other, so on a model with next to no preprocessing noise can make the
    model alone read slower than the whole, which is a share of 0, not a negative one.
    """

    pipeline: LatencyStats
    model: LatencyStats | None
    preprocess_share: float | None
    separate: bool = True
    reason: str = ""

    def as_resources(self) -> dict[str, float | int]:
        out = self.pipeline.as_resources()
        if self.model is not None and self.preprocess_share is not None:
            out.update(
                zip(
                    MODEL_LATENCY_KEYS,
                    (self.model.p50_ms, self.model.p95_ms, self.model.p99_ms),
                    strict=True,
                )
            )
            out[PREPROCESS_SHARE_KEY] = self.preprocess_share
        return out


def preprocess_share(pipeline_p50_ms: float, model_p50_ms: float) -> float:
    """The part of the pipeline's p50 that is not the estimator's own p50, in [0, 1]."""
    if pipeline_p50_ms <= 0:
        return 0.0
    return min(1.0, max(0.0, 1.0 - model_p50_ms / pipeline_p50_ms))


def split_pipeline(model: Any) -> tuple[Any, Any] | None:
    """``(preprocessing, final estimator)`` of a pipeline with steps before its estimator.

    Duck-typed on scikit-learn's ``Pipeline`` (``steps`` and slicing), so this module imports no
    scikit-learn. None for anything else: a bare estimator, or a one-step pipeline, has no
    preprocessing modelsnap can tell apart from it.
    """
    steps = getattr(model, "steps", None)
    if not isinstance(steps, list) or len(steps) < 2:
        return None
    return model[:-1], steps[-1][1]


def _row_slices(data: Any, count: int) -> list[Any]:
    """``count`` one-row slices of ``data`` (a DataFrame, an array, a sparse matrix), cycling."""
    if hasattr(data, "iloc"):
        return single_rows(data, count)
    n = data.shape[0]
    if n == 0:
        raise ValueError("no rows to time predictions on")
    rows = [data[i % n : i % n + 1] for i in range(min(n, count))]
    rows = [row.copy() if hasattr(row, "copy") else row for row in rows]
    return [rows[i % len(rows)] for i in range(count)]


def measure_latency_split(
    model: Any,
    frame: Any,
    *,
    trials: int = DEFAULT_TRIALS,
    warmup: int = DEFAULT_WARMUP,
    on_progress: Callable[[float], None] | None = None,
) -> LatencySplit:
    """Single-row latency of ``model`` (the whole pipeline) and of its final estimator alone.

    Both are timed by ``measure_latency`` on the same rows of ``frame`` in the same order (the
    first ``trials + warmup`` rows, cycling when there are fewer), with the same trials and
    warm-up. For the estimator alone the rows are preprocessed beforehand, all at once by the
    pipeline's own fitted steps, then cut into one-row inputs before any timing: the input a
    service gets when features arrive precomputed. A model without preprocessing steps
    (``split_pipeline`` is None) is its own estimator: the model figures are the pipeline's and
    the share is 0. If the preprocessed rows cannot be made or predicted, only the pipeline is
    recorded and ``reason`` says why. ``on_progress`` runs 0..0.5 for the pipeline, 0.5..1 for
    the estimator.
    """
    count = min(len(frame), trials + warmup)
    rows = single_rows(frame, count)

    def part(low: float) -> Callable[[float], None] | None:
        if on_progress is None:
            return None
        return lambda fraction: on_progress(low + fraction / 2)

    pipeline = measure_latency(
        model.predict, rows, trials=trials, warmup=warmup, on_progress=part(0.0)
    )
    parts = split_pipeline(model)
    if parts is None:
        if on_progress is not None:
            on_progress(1.0)
        return LatencySplit(pipeline, pipeline, 0.0, separate=False)
    preprocess, estimator = parts
    try:
        prepared = _row_slices(preprocess.transform(frame.iloc[:count]), count)
        alone = measure_latency(
            estimator.predict, prepared, trials=trials, warmup=warmup, on_progress=part(0.5)
        )
    except MemoryError:
        raise  # the run's memory failure, not the split's
    except Exception as exc:  # the model's own code: a failure here loses only the split
        reason = f"{type(exc).__name__}: {exc}".strip()
        if on_progress is not None:
            on_progress(1.0)
        return LatencySplit(pipeline, None, None, reason=reason[:300])
    return LatencySplit(pipeline, alone, preprocess_share(pipeline.p50_ms, alone.p50_ms))


def measure_batch(
    predict: Callable[[Any], Any],
    batch: Any,
    *,
    repeats: int = DEFAULT_BATCH_REPEATS,
    on_progress: Callable[[float], None] | None = None,
) -> BatchStats:
    """Median time to predict ``batch`` over ``repeats`` calls (after one warm-up call)."""
    size = len(batch)
    if size == 0:
        raise ValueError("empty batch")
    if repeats < 1:
        raise ValueError("batch repeats must be at least 1")
    predict(batch)
    samples = []
    clock = time.perf_counter_ns
    was_enabled = gc.isenabled()
    gc.collect()
    gc.disable()
    try:
        for i in range(repeats):
            start = clock()
            predict(batch)
            samples.append(clock() - start)
            if on_progress is not None:
                on_progress((i + 1) / repeats)
    finally:
        if was_enabled:
            gc.enable()
    median_ns = max(_percentile(sorted(samples), 50), 1.0)
    return BatchStats(
        batch_size=size,
        batch_latency_ms=median_ns * 1e-6,
        throughput_rows_per_s=size / (median_ns * 1e-9),
        repeats=repeats,
    )


def default_batch_size(n_validation: int, requested: int | None = None) -> int:
    """The user's batch size, capped by the validation rows; by default min(256, n_validation)."""
    size = DEFAULT_BATCH_SIZE if requested is None else int(requested)
    if size < 1:
        raise ValueError("batch size must be at least 1")
    return max(1, min(size, n_validation))


def timer_overhead_ns(calls: int = 100_000) -> float:
    """The profiler's own cost per trial: the timed loop around a no-op, in nanoseconds.

    Used by the benchmark to show the measurement adds well under a microsecond per call.
    """

    def noop(_row: Any) -> None:
        return None

    rows = [None]
    clock = time.perf_counter_ns
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        start = clock()
        for i in range(calls):
            row = rows[i % 1]
            t0 = clock()
            noop(row)
            _ = clock() - t0
        total = clock() - start
    finally:
        if was_enabled:
            gc.enable()
    return total / calls
