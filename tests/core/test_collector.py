"""The cyclic garbage collector is paused where a reader builds many objects with no cycles
(``core.collector``), and a large folder's long-lived records are frozen out of its view."""

from __future__ import annotations

import gc
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from modelsnap.core import collector
from modelsnap.core.selection.ranking import RankingSpec, make_criteria, rank

D, S = "d" * 64, "s" * 64


@pytest.fixture
def eager_collector() -> Iterator[Callable[[Callable[[], Any]], int]]:
    """``collections(fn)``: how many collections started while ``fn`` ran, with the collector
    made to run after every 50 new container objects (it would run within any ranking)."""
    threshold = gc.get_threshold()
    was_enabled = gc.isenabled()
    gc.enable()
    gc.set_threshold(50, 1, 1)
    started: list[int] = []

    def count(phase: str, info: dict[str, Any]) -> None:
        if phase == "start":
            started.append(info["generation"])

    def collections(fn: Callable[[], Any]) -> int:
        before = len(started)
        fn()
        return len(started) - before

    gc.callbacks.append(count)
    try:
        yield collections
    finally:
        gc.callbacks.remove(count)
        gc.set_threshold(*threshold)
        (gc.enable if was_enabled else gc.disable)()  # also after a test that failed midway


def _snapshots(count: int) -> list[dict[str, Any]]:
    return [
        {
            "schema": 1,
            "id": f"20261126T06{i:04d}-m{i}-0000",
            "name": f"m{i}",
            "kind": "baseline" if i == 0 else "candidate",
            "created_at": f"2026-11-26T06:00:00.{i:06d}+00:00",
            "criteria_revision": 1,
            "data": {"dataset_sha256": D, "split_sha256": S},
            "metrics": {"validation": {"f1": 0.5 + i / 10_000}, "test": {"f1": 0.5}},
            "resources": {"latency_p95_ms": 1.0 + i % 7, "size_mb": 0.1 * (1 + i % 5)},
            "hardware": {"fingerprint": "hw"},
        }
        for i in range(count)
    ]


def _spec() -> RankingSpec:
    return RankingSpec(
        criteria=make_criteria(
            [{"metric": "f1", "weight": 0.7}, {"metric": "latency_p95_ms", "weight": 0.3}]
        ),
        primary_metric="f1",
        constraints={"max_latency_p95_ms": 6.0},
        dataset_sha256=D,
        split_sha256=S,
        criteria_revision=1,
    )


def test_a_ranking_runs_no_collection_and_leaves_the_collector_as_it_was(eager_collector):
    snapshots, spec = _snapshots(300), _spec()
    # the hook sees collections: building as many objects outside a ranking starts some
    assert eager_collector(lambda: [dict(s) for s in snapshots for _ in range(5)]) > 0
    result = None

    def ranking() -> None:
        nonlocal result
        result = rank(snapshots, spec, sensitivity=True)

    # at most the one the collector owes once it is back on (without the pause: dozens)
    assert eager_collector(ranking) <= 1
    assert result is not None and len(result.ranked) + len(result.rejected) == 300
    assert gc.isenabled()
    gc.disable()  # a caller that turned it off itself finds it off after
    rank(snapshots, spec)
    assert not gc.isenabled()
    gc.enable()


def test_overlapping_pauses_end_with_the_collector_on():
    assert gc.isenabled()
    first, second = collector.paused(), collector.paused()
    first.__enter__()
    second.__enter__()
    first.__exit__(None, None, None)  # the earlier ends first (another thread's)
    second.__exit__(None, None, None)
    assert gc.isenabled()


def test_only_a_large_read_is_frozen():
    gc.unfreeze()  # what an earlier test in this process froze (a run, a review)
    assert gc.get_freeze_count() == 0
    try:
        collector.keep_out_of_view(collector.FREEZE_FROM - 1)
        assert gc.get_freeze_count() == 0
        collector.keep_out_of_view(collector.FREEZE_FROM)
        assert gc.get_freeze_count() > 0
    finally:
        gc.unfreeze()


def test_the_guided_tuis_read_of_the_snapshots_is_paused(tmp_path: Path) -> None:
    from modelsnap.tui.state import load_state

    (tmp_path / "modelsnap.toml").write_text('[data]\nsource = "data.csv"\ntarget = "y"\n')
    (tmp_path / "data.csv").write_text("a,y\n1,0\n2,1\n")
    seen: list[bool] = []

    class Reader:
        def read(self, root: Path, progress: Any) -> tuple[list[dict], list[Any]]:
            seen.append(gc.isenabled())
            return [], []

    state = load_state(tmp_path, Reader())  # type: ignore[arg-type]
    assert seen == [False] and gc.isenabled()
    assert state.config is not None
