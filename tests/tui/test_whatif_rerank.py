"""Step 5's what-if weights: ranked once typing pauses, and never shown out of order."""

from __future__ import annotations

import time
from functools import partial
from pathlib import Path

import pytest
import tui_fixtures
from textual.widgets import Input
from tui_fixtures import write_fixed_project

from modelsnap.tui import jobs
from modelsnap.tui.app import ModelsnapApp


@pytest.fixture
def root(tmp_path: Path) -> Path:
    root = tmp_path / "project"
    write_fixed_project(root)
    return root


settle = partial(tui_fixtures.settle, rounds=4)  # 4 rounds, as this file's flows always had


async def test_a_slow_older_ranking_never_replaces_a_newer_one(root, monkeypatch):
    real = jobs.rank_state
    started: list[dict | None] = []

    def slow_for_five(project, weights=None, progress=None):
        started.append(weights)
        result = real(project, weights)
        if weights and weights.get("latency_p95_ms") == 5.0:
            time.sleep(1.5)  # the first request is still ranking when the second one is done
        return result

    app = ModelsnapApp(root, open_step=5)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(app, pilot)
        screen = app.screen
        assert screen.result.weights["latency_p95_ms"] == pytest.approx(0.2)
        monkeypatch.setattr(jobs, "rank_state", slow_for_five)
        weight = screen.query_one("#weight-1", Input)
        weight.value = "5"
        for _ in range(100):  # until the slow ranking is under way (past the pause)
            await pilot.pause(0.05)
            if started:
                break
        assert started and started[-1]["latency_p95_ms"] == 5.0
        weight.value = "0.5"
        await settle(app, pilot)
        await pilot.pause(2.0)  # the slow answer arrives now, after the newer one
        await settle(app, pilot)
        assert [w["latency_p95_ms"] for w in started] == [5.0, 0.5]
        assert screen.result.weights["latency_p95_ms"] == pytest.approx(0.5 / 1.3)


async def test_typing_quickly_ranks_once_after_the_pause(root, monkeypatch):
    real = jobs.rank_state
    started: list[dict | None] = []

    def counting(project, weights=None, progress=None):
        started.append(weights)
        return real(project, weights)

    app = ModelsnapApp(root, open_step=5)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(app, pilot)
        screen = app.screen
        screen.DEBOUNCE = 0.5  # wide enough for a loaded test machine
        monkeypatch.setattr(jobs, "rank_state", counting)
        weight = screen.query_one("#weight-1", Input)
        for text in ("1", "1.", "1.5"):  # three keystrokes
            weight.value = text
        await settle(app, pilot)
        await pilot.pause(0.8)
        await settle(app, pilot)
        assert [w["latency_p95_ms"] for w in started] == [1.5]
        assert screen.result.weights["latency_p95_ms"] == pytest.approx(1.5 / 2.3)


async def test_the_plot_says_a_first_ranking_is_under_way_not_that_there_is_nothing(
    root, monkeypatch
):
    """At 100,000 snapshots the screen's first ranking takes seconds: until it arrives the
    plot says so, where it said "no snapshots ... yet" (false). A failed one says where to
    look; a ranking with nothing to plot still says there is nothing."""
    import threading

    from modelsnap.core.errors import ModelsnapError
    from modelsnap.tui.screens.ranking import NOT_RANKED, RANKING_PENDING
    from modelsnap.tui.widgets.tradeoff_plot import NO_POINTS, TradeoffPlot

    real = jobs.rank_state
    release = threading.Event()
    fail = {"now": False}

    def held(project, weights=None, progress=None):
        release.wait(30)
        if fail["now"]:
            raise ModelsnapError("the index cannot be read", where="test", hint="try again")
        return real(project, weights)

    monkeypatch.setattr(jobs, "rank_state", held)
    app = ModelsnapApp(root, open_step=5)
    async with app.run_test(size=(120, 40)) as pilot:
        shown = ""
        for _ in range(100):  # until step 5 is up and asking (seconds on a loaded machine)
            await pilot.pause(0.1)
            plots = app.screen.query(TradeoffPlot)
            shown = plots.first(TradeoffPlot).render().plain if plots else ""
            if shown == RANKING_PENDING:
                break
        assert shown == RANKING_PENDING  # the ranking is held: nothing has arrived
        plot = app.screen.query_one(TradeoffPlot)
        release.set()
        await settle(app, pilot)
        assert app.screen.result is not None
        assert plot.empty_text == NO_POINTS
        assert "ranking the snapshots" not in plot.render().plain

    release.clear()
    fail["now"] = True
    app = ModelsnapApp(root, open_step=5)
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.pause(0.3)
        release.set()
        await settle(app, pilot)
        plot = app.screen.query_one(TradeoffPlot)
        assert plot.render().plain == NOT_RANKED
        assert "the index cannot be read" in str(app.screen.query_one("#ranking-warnings").render())


async def test_one_ranking_runs_at_a_time_and_the_newest_request_is_the_one_shown(
    root, monkeypatch
):
    """Requests made while a ranking runs (each state the screen is shown, each edit) start
    none beside it: when it ends, the newest one runs, under the weights in force then, and
    the ones in between never run. Side by side they shared the GIL: at 100,000 snapshots the
    first answer came 11.6 s after the screen instead of 3.4 s."""
    import threading

    real = jobs.rank_state
    lock = threading.Lock()
    running = {"now": 0, "most": 0}
    started: list[dict | None] = []

    def slow(project, weights=None, progress=None):
        with lock:
            running["now"] += 1
            running["most"] = max(running["most"], running["now"])
            started.append(weights)
        try:
            time.sleep(0.4)
            return real(project, weights)
        finally:
            with lock:
                running["now"] -= 1

    app = ModelsnapApp(root, open_step=5)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(app, pilot)
        screen = app.screen
        monkeypatch.setattr(jobs, "rank_state", slow)
        started.clear()
        for _ in range(4):  # four reloads of the state, in quick succession
            screen.rerank()
            await pilot.pause(0.05)
        weight = screen.query_one("#weight-1", Input)
        weight.value = "0.5"  # then an edit: the newest request
        for _ in range(100):
            await pilot.pause(0.1)
            if running["now"] == 0 and screen._ranking is False and len(started) >= 2:
                break
        await settle(app, pilot)
        assert running["most"] == 1
        assert len(started) == 2  # the first request, then only the newest
        assert started[-1] is not None and started[-1]["latency_p95_ms"] == 0.5
        assert screen.result.weights["latency_p95_ms"] == pytest.approx(0.5 / 1.3)


async def test_a_first_ranking_that_parses_every_file_counts_them(root, monkeypatch):
    """A folder without a trusted index (a fresh copy, a clone): step 5's first ranking parses
    every snapshot file, most of a minute at 100,000; the plot counts them meanwhile."""
    from modelsnap.tui.widgets.tradeoff_plot import NO_POINTS, TradeoffPlot

    for path in (root / ".modelsnap").glob("index*"):
        path.unlink()  # the index is only a cache: the ranking rebuilds it from the files
    shown: list[str] = []
    monkeypatch.setattr(
        TradeoffPlot, "watch_empty_text", lambda plot, text: shown.append(text), raising=False
    )
    app = ModelsnapApp(root, open_step=5)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(app, pilot)
        for _ in range(100):  # until the first ranking has arrived (seconds on a loaded machine)
            if app.screen.result is not None:
                break
            await pilot.pause(0.1)
        assert app.screen.result is not None
        assert "ranking the snapshots: read 6 of 6 files ..." in shown
        assert shown[-1] == NO_POINTS  # the ranking's own points replace the count
    assert sorted(p.name for p in (root / ".modelsnap").glob("index*"))  # rebuilt
