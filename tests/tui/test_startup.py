"""Start-up stays light, and the command line opens the TUI or says what is wrong."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from tui_fixtures import settle, write_fixed_project

from modelsnap.tui.state import load_state

FIRST_SCREEN = textwrap.dedent("""
    import asyncio, sys
    from pathlib import Path
    from modelsnap.tui.app import ModelsnapApp

    async def main():
        app = ModelsnapApp(Path(sys.argv[1]))
        async with app.run_test(size=(80, 24)) as pilot:
            for _ in range(4):
                await app.workers.wait_for_complete()
                await pilot.pause(0.05)
            print(app.current_mode)
            print(",".join(m for m in ("pandas", "sklearn", "scipy") if m in sys.modules))

    asyncio.run(main())
""")


def test_first_screen_needs_no_pandas_sklearn_or_scipy(tmp_path):
    root = tmp_path / "project"
    write_fixed_project(root)
    done = subprocess.run(
        [sys.executable, "-c", FIRST_SCREEN, str(root)], capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    mode, heavy = done.stdout.splitlines()[-2:]
    assert mode == "ranking"  # everything but the decision is done
    assert heavy == ""


def test_state_opens_at_the_first_unfinished_step(tmp_path):
    root = tmp_path / "project"
    ids = write_fixed_project(root)
    state = load_state(root)
    assert state.locked and state.baseline["id"] == ids[0]
    assert state.done() == {1: True, 2: True, 3: True, 4: True, 5: False}
    assert state.first_unfinished() == 5
    (root / "criteria_revisions.toml").unlink()
    state = load_state(root)
    assert not state.locked and state.lock_problem == "criteria are not locked"
    assert state.first_unfinished() == 1


def test_what_the_screens_derive_from_the_snapshots_is_worked_out_by_the_reader(
    tmp_path, monkeypatch
):
    """load_state runs in a worker: the baseline, the candidates and the done map (each a pass
    over every snapshot) are found there, so applying the state on the UI thread reads them."""
    from modelsnap.tui import steps

    root = tmp_path / "project"
    ids = write_fixed_project(root)
    state = load_state(root)
    monkeypatch.setattr(steps, "progress", lambda _state: pytest.fail("done map made again"))
    assert {"baseline", "candidates", "_progress"} <= set(vars(state))
    assert state.baseline["id"] == ids[0]
    assert state.done() == {1: True, 2: True, 3: True, 4: True, 5: False}
    assert [s["id"] for s in state.candidates] == ids[1:]


def test_state_of_an_empty_folder_and_of_a_broken_project_file(tmp_path):
    assert not load_state(tmp_path).has_project
    (tmp_path / "modelsnap.toml").write_text("[data\n")
    state = load_state(tmp_path)
    assert state.has_project and state.config is None
    assert "not valid TOML" in state.config_error.message
    assert state.first_unfinished() == 1


def run_cli(*args: str) -> subprocess.CompletedProcess:
    done = subprocess.run(
        [sys.executable, "-m", "modelsnap", *args], capture_output=True, text=True, timeout=60
    )
    done.stderr = " ".join(done.stderr.split())  # rich wraps long messages
    return done


def test_cli_refuses_a_missing_folder_or_a_file(tmp_path):
    done = run_cli(str(tmp_path / "absent"))
    assert done.returncode == 2
    assert "does not exist" in done.stderr and "Traceback" not in done.stderr
    (tmp_path / "data.csv").write_text("a\n1\n")
    done = run_cli("tui", str(tmp_path / "data.csv"))
    assert done.returncode == 2
    assert "is not a folder" in done.stderr


def test_cli_help_lists_the_step_option():
    done = run_cli("tui", "--help")
    assert done.returncode == 0
    assert "--step N" in done.stdout
    assert Path(__file__).exists()


async def test_a_state_arriving_before_the_new_screen_is_mounted_waits_for_it(tmp_path):
    """A reload's answer can come in between a switch of step and that screen's mounting (a
    run's end and a key press close together): the screen takes the state when it mounts,
    instead of the app crashing on a screen with nothing in it yet."""
    from modelsnap.tui.app import ModelsnapApp
    from modelsnap.tui.messages import StateLoaded
    from modelsnap.tui.screens.base import StepScreen
    from modelsnap.tui.steps import step_for_number
    from modelsnap.tui.widgets.step_bar import StepBar

    root = tmp_path / "project"
    write_fixed_project(root)
    app = ModelsnapApp(root)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(app, pilot)
        assert app.current_mode == "ranking"
        app.switch_mode(step_for_number(2).mode)  # not awaited: the screen mounts later
        app.on_state_loaded(StateLoaded(app.state))
        await pilot.pause(0.1)
        assert isinstance(app.screen, StepScreen) and app.screen.STEP.number == 2
        assert app.screen.query_one(StepBar).done  # it shows the state


async def test_a_step_first_opened_after_a_theme_change_wears_that_theme(tmp_path):
    """A new step's screen skips Textual's re-parse of the stylesheet (it is styled when it
    mounts): opened after a change of theme it must look as one opened before the change and
    then refreshed by Textual."""
    from modelsnap.tui.app import ModelsnapApp
    from modelsnap.tui.widgets.step_bar import StepBar

    root = tmp_path / "project"
    write_fixed_project(root)

    async def colours(open_before_change: bool) -> tuple:
        app = ModelsnapApp(root)
        async with app.run_test(size=(80, 24)) as pilot:
            await settle(app, pilot)
            if open_before_change:
                app.action_goto_step(2)
                await pilot.pause(0.05)
            app.theme = "textual-light"
            await pilot.pause(0.05)
            app.action_goto_step(2)
            await pilot.pause(0.1)
            bar = app.screen.query_one(StepBar)
            return (app.screen.styles.background, bar.styles.background, bar.styles.color)

    assert await colours(open_before_change=False) == await colours(open_before_change=True)


QUIT_AT_FIRST_FRAME = textwrap.dedent("""
    import sys
    from pathlib import Path
    from modelsnap.tui.app import ModelsnapApp
    from modelsnap.tui.screens.base import StepScreen

    class Quick(ModelsnapApp):
        asked = False

        def _display(self, screen, renderable):
            super()._display(screen, renderable)
            if renderable is not None and not self.asked and isinstance(screen, StepScreen):
                self.asked = True
                self.call_later(self.action_quit)  # q as soon as the step shows

    Quick(Path(sys.argv[1])).run(headless=True, size=(80, 24))
""")


async def test_the_first_read_of_a_large_folder_is_counted_on_screen(tmp_path, monkeypatch):
    """While a large folder is read the first time, the loading line counts the snapshot files
    (10,000 take seconds); the step then replaces it as before."""
    from textual.widgets import Label

    from modelsnap.core.records import store
    from modelsnap.tui.app import ModelsnapApp

    root = tmp_path / "project"
    write_fixed_project(root)
    monkeypatch.setattr(store, "PROGRESS_SECONDS", 0.0)
    monkeypatch.setattr(store, "PROGRESS_FROM", 1)
    shown: list[str] = []

    class Counting(ModelsnapApp):
        def on_reading_progress(self, message):
            super().on_reading_progress(message)
            shown.append(str(self.query_one("#loading", Label).content))

    app = Counting(root)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(app, pilot)
        assert app.screen.query("#step-title")
    assert shown[-1] == "reading project ... 6 of 6 snapshots"
    assert shown[0] == "reading project ... 0 of 6 snapshots"

    # a folder large enough to take seconds: the line also names review
    from modelsnap.tui import app as app_module

    monkeypatch.setattr(app_module, "REVIEW_HINT_FROM", 6)
    shown.clear()
    app = Counting(root)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(app, pilot)
    assert shown[-1].splitlines() == [
        "reading project ... 6 of 6 snapshots",
        "large folder: 'modelsnap review DIR' browses it from the index in a second",
    ]


async def test_the_lower_part_mounting_after_a_quit_does_not_mount_into_the_closing_app(
    tmp_path,
):
    """The order a clean-clone CI run hit once: q is pressed, then the step's lower part
    finishes mounting and asks the screen to show the state. The screen must not mount its
    weights editor into an app that is ending (MountError, a traceback on the way out)."""
    from modelsnap.tui.app import ModelsnapApp
    from modelsnap.tui.screens.base import Deferred
    from modelsnap.tui.screens.ranking import RankingScreen
    from modelsnap.tui.widgets.weights_editor import WeightsEditor

    root = tmp_path / "project"
    write_fixed_project(root)
    app = ModelsnapApp(root)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(app, pilot)
        screen = app.screen
        assert isinstance(screen, RankingScreen)
        lower = screen.query_one("#ranking-lower", Deferred)
        assert screen.query(WeightsEditor)  # the editor is there before the quit
        screen._editor_key = None  # the state asks for a new editor, as on the first mount
        app.exit()
        lower.on_mount()  # raised MountError before the fix


def test_quitting_as_soon_as_the_step_shows_leaves_no_traceback(tmp_path):
    """The part of a step below the fold mounts after the first frame: a quit before that
    must simply end the app (it printed a MountError traceback)."""
    root = tmp_path / "project"
    write_fixed_project(root)
    done = subprocess.run(
        [sys.executable, "-c", QUIT_AT_FIRST_FRAME, str(root)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    assert "Traceback" not in done.stdout + done.stderr
    assert "Error" not in done.stdout + done.stderr


@pytest.mark.parametrize("freeze_from", [1, 10**9])
async def test_a_large_folders_snapshots_are_frozen_out_of_the_collectors_view(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, freeze_from: int
) -> None:
    """Once the guided TUI has read a large folder (``collector.FREEZE_FROM`` snapshots), its
    later collections no longer walk them; a small folder's are left as they are, and a
    reload (after a run) freezes nothing more."""
    import gc

    from modelsnap.core import collector
    from modelsnap.tui.app import ModelsnapApp

    root = tmp_path / "project"
    write_fixed_project(root)
    monkeypatch.setattr(collector, "FREEZE_FROM", freeze_from)
    gc.unfreeze()  # what an earlier test in this process froze (a run, a review)
    assert gc.get_freeze_count() == 0
    try:
        app = ModelsnapApp(root)
        async with app.run_test(size=(100, 30)) as pilot:
            await settle(app, pilot)
            assert app.state is not None and len(app.state.snapshots) == 6
            assert (gc.get_freeze_count() > 0) == (freeze_from == 1)
            gc.unfreeze()
            app.reload_state()  # as after a run: the same snapshots, frozen once already
            await settle(app, pilot)
            assert gc.get_freeze_count() == 0
    finally:
        gc.unfreeze()


async def test_the_apps_first_read_shares_a_large_folder_with_a_started_interpreter(
    tmp_path: Path, parsed_here: list[str]
) -> None:
    """The app reads the folder in a worker thread, which may not fork: from
    ``beside.SPAWN_FROM`` files a started interpreter parses part of them (100,000 snapshots:
    46 s, against 105 s parsed alone), and the app has every snapshot, in order."""
    from modelsnap.tui.app import ModelsnapApp

    root = tmp_path / "project"
    ids = write_fixed_project(root, count=24)
    app = ModelsnapApp(root)
    async with app.run_test(size=(100, 30)) as pilot:
        await settle(app, pilot)
        assert app.state is not None
        assert [s["id"] for s in app.state.snapshots] == ids
    assert 0 < len(parsed_here) < len(ids)  # the rest came from the started interpreter
