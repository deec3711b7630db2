"""Runs from the TUI that do not succeed: a failed run's card says why, Escape cancels, and
neither leaves a snapshot behind."""

from __future__ import annotations

from functools import partial
from pathlib import Path

import psutil
import pytest
import tomlkit
import tui_fixtures
from rich.console import Console
from tui_fixtures import write_credit_csv

from modelsnap.core.project.edit import write_new_project
from modelsnap.core.project.parse import load_project
from modelsnap.core.records.store import list_snapshots
from modelsnap.core.selection.criteria import lock_criteria
from modelsnap.profiler.warm import warm_available
from modelsnap.tui.app import ModelsnapApp
from modelsnap.tui.widgets.run_panel import RunPanel
from modelsnap.tui.widgets.snapshot_card import SnapshotCard

pytestmark = pytest.mark.slow


def locked_project(root: Path) -> None:
    root.mkdir()
    write_credit_csv(root / "credit.csv", rows=200)
    write_new_project(
        root,
        data_source="credit.csv",
        target="default",
        task="classification",
        profile="accuracy-first",
    )
    doc = tomlkit.parse((root / "modelsnap.toml").read_text())
    doc["run"]["latency_trials"] = 10
    doc["run"]["latency_warmup"] = 1
    slow = doc["candidates"][0]
    slow["name"] = "slow_forest"
    slow["params"]["n_estimators"] = 3000
    slow["timeout_seconds"] = 1.0
    (root / "modelsnap.toml").write_text(tomlkit.dumps(doc))
    lock_criteria(load_project(root), reason="test")


settle = partial(tui_fixtures.settle, rounds=4)  # 4 rounds, as this file's flows always had


async def test_timeout_is_shown_on_the_card_and_nothing_is_written(tmp_path):
    root = tmp_path / "p"
    locked_project(root)
    app = ModelsnapApp(root, open_step=3)
    async with app.run_test(size=(100, 40)) as pilot:
        await settle(app, pilot)
        assert app.current_mode == "candidates"
        await pilot.press("r")  # the cursor is on the first candidate: slow_forest
        await settle(app, pilot, rounds=8)
        screen = app.screen
        assert screen.failures["slow_forest"][0] == "timeout"
        cards = [card for card in screen.query(SnapshotCard) if card.failure is not None]
        assert [card.failure[0] for card in cards] == ["slow_forest"]
        console = Console(width=100, record=True, color_system=None)
        console.print(cards[0].content)
        text = console.export_text()
        assert "slow_forest · run failed" in text and "✗ timeout:" in text
        assert "nothing was written" in text
        table = screen.query_one("#candidates-table")
        assert str(table.get_row("slow_forest")[1]) == "✗ timeout"
    assert list_snapshots(root)[0] == []


async def test_escape_cancels_the_run(tmp_path):
    root = tmp_path / "p"
    locked_project(root)
    doc = tomlkit.parse((root / "modelsnap.toml").read_text())
    doc["candidates"][0]["timeout_seconds"] = 300.0
    (root / "modelsnap.toml").write_text(tomlkit.dumps(doc))
    app = ModelsnapApp(root, open_step=3)
    async with app.run_test(size=(100, 40)) as pilot:
        await settle(app, pilot)
        await pilot.press("a")
        await pilot.pause(1.0)
        assert app.running
        await pilot.press("escape")
        await settle(app, pilot, rounds=8)
        assert not app.running
        # A cancel is not a failure: no red card, the row says what happened.
        assert "slow_forest" not in app.screen.failures
        assert "slow_forest" in app.screen.cancelled
        table = app.screen.query_one("#candidates-table")
        assert str(table.get_row("slow_forest")[1]) == "not run (cancelled)"
        assert not [c for c in app.screen.query(SnapshotCard) if c.failure is not None]
        panel = app.screen.query_one(RunPanel)
        assert any("cancelling" in line for line in panel.lines)
    assert list_snapshots(root)[0] == []


async def test_quitting_during_a_run_cancels_it(tmp_path):
    root = tmp_path / "p"
    locked_project(root)
    doc = tomlkit.parse((root / "modelsnap.toml").read_text())
    doc["candidates"][0]["timeout_seconds"] = 300.0
    (root / "modelsnap.toml").write_text(tomlkit.dumps(doc))
    app = ModelsnapApp(root, open_step=3)
    async with app.run_test(size=(100, 40)) as pilot:
        await settle(app, pilot)
        await pilot.press("r")
        await pilot.pause(1.0)
        cancel = app._run_cancel
        assert cancel is not None and not cancel.is_set()
        await pilot.press("ctrl+q")
        assert cancel.is_set()
    await app.workers.wait_for_complete()
    assert list_snapshots(root)[0] == []


async def test_a_finished_run_reaches_the_screen_through_a_worker_and_keeps_other_cards(
    tmp_path, monkeypatch
):
    """After a run the folder is re-read off the UI thread, and the screen shows the new
    snapshot by changing what changed: the other model's card and the table are the same
    widgets as before, the new snapshot's card and its row say the new id."""
    import threading

    from modelsnap.core.records.store import short_id
    from modelsnap.tui import project_app

    root = tmp_path / "p"
    locked_project(root)
    doc = tomlkit.parse((root / "modelsnap.toml").read_text())
    while len(doc["candidates"]) > 1:
        del doc["candidates"][-1]
    first = doc["candidates"][0]
    first["name"], first["timeout_seconds"] = "forest_a", 300.0
    first["params"]["n_estimators"] = 5
    second = tomlkit.parse(tomlkit.dumps(doc))["candidates"][0]
    second["name"] = "forest_b"
    doc["candidates"].append(second)
    (root / "modelsnap.toml").write_text(tomlkit.dumps(doc))
    lock_criteria(load_project(root), reason="test")

    reads: list[bool] = []  # one per state read: True when it ran off the UI thread
    real_load = project_app.load_state

    def load_state(folder, *more):
        reads.append(threading.current_thread() is not threading.main_thread())
        return real_load(folder, *more)

    monkeypatch.setattr(project_app, "load_state", load_state)
    app = ModelsnapApp(root, open_step=3)
    async with app.run_test(size=(100, 40)) as pilot:
        await settle(app, pilot)
        screen = app.screen
        assert app.start_runs(screen, ["forest_a"])
        await settle(app, pilot, rounds=8)
        assert not app.running
        assert not screen.failures, screen.failures
        workers = app._worker_pool
        templates = workers.pids if workers is not None else []
        card_a = next(c for c in screen.query(SnapshotCard) if c.snapshot)
        table = screen.query_one("#candidates-table")
        id_a = card_a.snapshot["id"]
        reads.clear()

        table.focus()
        await pilot.press("down")  # the second row: forest_b
        assert table.cursor_row == 1
        await pilot.press("r")
        await settle(app, pilot, rounds=8)
        assert not app.running
        assert reads and all(reads)  # the reload after the run ran in a worker thread
        id_b = next(s["id"] for s in app.state.candidates if s["name"] == "forest_b")
        cards = [c for c in screen.query(SnapshotCard) if not c.has_class("-leaving")]
        assert [c.snapshot["id"] for c in cards] == [id_a, id_b]
        assert cards[0] is card_a  # not removed and mounted again
        assert screen.query_one("#candidates-table") is table
        assert str(table.get_row("forest_a")[1]) == f"✓ {short_id(id_a)}"
        assert str(table.get_row("forest_b")[1]) == f"✓ {short_id(id_b)}"
        assert table.cursor_row == 1  # the row the user ran stays selected
        if warm_available():
            # the second run forked from the template the first one started: no new imports
            assert len(templates) == 1 and app._worker_pool is workers
            assert workers.pids == templates
    if warm_available():  # the template ended with the app, and nothing it forked is left
        assert workers.pids == [] and not psutil.pid_exists(templates[0])


@pytest.mark.skipif(not warm_available(), reason="warm workers need Linux")
async def test_a_moment_on_the_baseline_step_starts_the_template_the_run_then_forks_from(
    tmp_path, monkeypatch
):
    """The session's template is started while the user reads the step, not after r: the run
    then forks from that template (no second one), and it ends with the app. A step without
    runs starts nothing."""
    from modelsnap.tui.screens import running

    monkeypatch.setattr(running, "WARM_UP_AFTER", 0.3)
    root = tmp_path / "p"
    locked_project(root)
    app = ModelsnapApp(root, open_step=1)
    async with app.run_test(size=(100, 40)) as pilot:
        await settle(app, pilot)
        await pilot.pause(0.6)
        assert app._worker_pool is None  # the criteria step runs nothing: no template

        await pilot.press("2")
        await settle(app, pilot)
        assert app.current_mode == "baseline"
        for _ in range(100):  # the warm-up's thread starts the template within a moment
            await pilot.pause(0.05)
            if app._worker_pool is not None and app._worker_pool.pids:
                break
        workers = app._worker_pool
        assert workers is not None and len(workers.pids) == 1
        template = workers.pids[0]
        assert not list_snapshots(root)[0]  # nothing was run or written by it

        await pilot.press("r")
        await settle(app, pilot, rounds=8)
        assert not app.running and not app.screen.failures, app.screen.failures
        assert [s["kind"] for s in list_snapshots(root)[0]] == ["baseline"]
        assert app._worker_pool is workers and workers.pids == [template]
    assert workers.pids == [] and not psutil.pid_exists(template)


async def test_no_template_is_started_for_a_step_with_no_model_declared(tmp_path, monkeypatch):
    """A folder whose modelsnap.toml declares no model yet has nothing to run: reading the
    baseline step starts no template (it would only hold memory)."""
    from modelsnap.tui.screens import running

    monkeypatch.setattr(running, "WARM_UP_AFTER", 0.1)
    root = tmp_path / "p"
    locked_project(root)
    doc = tomlkit.parse((root / "modelsnap.toml").read_text())
    del doc["baseline"]
    del doc["candidates"]
    (root / "modelsnap.toml").write_text(tomlkit.dumps(doc))
    app = ModelsnapApp(root, open_step=2)
    async with app.run_test(size=(100, 40)) as pilot:
        await settle(app, pilot)
        assert app.current_mode == "baseline"
        await pilot.pause(0.5)
        await settle(app, pilot)
        assert app._worker_pool is None
