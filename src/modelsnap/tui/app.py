"""The guided five-step app: ``modelsnap DIR`` opens it on the first unfinished step.

The App owns three things only: the project state (read by a worker, never on the UI thread),
navigation between the step screens (one Textual mode per step, so each keeps its own widgets),
and the two kinds of background job (short tasks and model runs). The state and the jobs are
``tui.project_app.ProjectApp``, the part the screens see; this module adds the modes, the keys,
the help panel and the palette. Everything a screen shows comes from core functions; the
screens add no rules of their own.
"""

from __future__ import annotations

import functools
import importlib
from pathlib import Path
from typing import TYPE_CHECKING, ClassVar, cast

from textual import work
from textual._context import active_app
from textual.app import App, ComposeResult
from textual.binding import Binding
from textual.widgets import Footer, Label

from modelsnap.tui.commands import ModelsnapCommands
from modelsnap.tui.messages import ReadingProgress, StateLoaded
from modelsnap.tui.project_app import ProjectApp
from modelsnap.tui.screens.base import StepScreen
from modelsnap.tui.screens.help import HelpPanel
from modelsnap.tui.steps import SETUP, STEP_BY_MODE, STEPS, step_for_number

if TYPE_CHECKING:
    from textual.screen import Screen

# The screen of the setup and of each step (in the order of tui.steps.STEPS; each screen names
# its entry, STEP = ...), as module and class: a screen's module is imported when the screen is
# first shown, so the first paint pays only for its own (the others, about 30 ms, load in the
# background after it: ModelsnapApp.import_run_modules).
SCREENS: dict[str, tuple[str, str]] = {
    SETUP.mode: ("modelsnap.tui.screens.setup", "SetupScreen"),
    **{
        step.mode: (f"modelsnap.tui.screens.{module}", name)
        for step, (module, name) in zip(
            STEPS,
            (
                ("criteria", "CriteriaScreen"),
                ("baseline", "BaselineScreen"),
                ("candidates", "CandidatesScreen"),
                ("edge_cases", "EdgeCasesScreen"),
                ("ranking", "RankingScreen"),
            ),
            strict=True,
        )
    },
}


def screen_class(mode: str) -> type[Screen]:
    module, name = SCREENS[mode]
    return cast("type[Screen]", getattr(importlib.import_module(module), name))


def new_screen(mode: str) -> Screen:
    """A fresh screen for a mode (Textual calls this when the mode is first entered)."""
    screen = screen_class(mode)()
    _styled_as_current(screen)
    return screen


def _styled_as_current(screen: Screen) -> None:
    """Mark a screen made just now as styled with the stylesheet as it is.

    Textual re-parses every stylesheet source when it first enters a mode whose screen it has
    not refreshed yet, twice for one ``switch_mode`` (about 15 ms each here, on the way to the
    first screen). A screen made now has no styles to refresh: its widgets are styled from the
    current stylesheet when they mount, and a later change of theme or variables still
    refreshes it. ``_css_update_count`` is Textual's own (8.x, pinned); where it is absent this
    does nothing."""
    app = active_app.get(None)
    if app is not None and isinstance(getattr(app, "_css_update_count", None), int):
        screen._css_update_count = app._css_update_count


def step_screens() -> tuple[type[StepScreen], ...]:
    """Every step's screen class, in step order (imports them all)."""
    return tuple(cast("type[StepScreen]", screen_class(step.mode)) for step in STEPS)


RUN_MODULES_AFTER = 1.0  # seconds after the first screen: its paint comes first
# From this many snapshot files the first read takes seconds (about half a millisecond each):
# the loading line then names review, which opens any folder from its index in about a second.
REVIEW_HINT_FROM = 5_000


class ModelsnapApp(ProjectApp):
    """The checklist TUI for one project folder."""

    TITLE = "modelsnap"
    CSS_PATH = Path(__file__).with_name("modelsnap.tcss")  # absolute: subclasses live elsewhere
    COMMANDS: ClassVar = App.COMMANDS | {ModelsnapCommands}
    # Screens get -narrow below 110 columns and -wide from there: step 4 puts the matrix beside
    # the case detail, step 5 the ranking beside the trade-off plot (modelsnap.tcss).
    HORIZONTAL_BREAKPOINTS: ClassVar = [(0, "-narrow"), (110, "-wide")]
    MODES: ClassVar = {mode: functools.partial(new_screen, mode) for mode in SCREENS}
    BINDINGS: ClassVar = [
        *(
            Binding(
                step.key,
                f"goto_step({step.number})",
                step.key_label,
                show=False,
                id=f"step-{step.number}",
            )
            for step in STEPS
        ),
        Binding(
            "question_mark",
            "help",
            "Help",
            key_display="?",
            id="help",
            tooltip="Why this step exists and what goes wrong without it",
        ),
        Binding("ctrl+r", "reload", "Reload", show=False, id="reload"),
        Binding(
            "escape",
            "leave_field",
            "Leave field",
            show=False,
            id="leave-field",
            tooltip="Move focus out of a text field so single keys work again",
        ),
    ]

    def __init__(self, root: Path, *, open_step: int | None = None) -> None:
        super().__init__(root)
        self.open_step = open_step
        self._placed = False

    def compose(self) -> ComposeResult:
        yield Label(f"reading {self._folder_words()} ...", id="loading", markup=False)
        yield Footer()

    def on_mount(self) -> None:
        self.title = f"modelsnap: {self.root.resolve().name}"
        self.reload_state()

    # -- project state ------------------------------------------------------------------

    def on_reading_progress(self, message: ReadingProgress) -> None:
        """The first read of a large folder, counted while the user waits."""
        text = f"reading {self._folder_words()} ... {message.done:,} of {message.total:,} snapshots"
        if message.total >= REVIEW_HINT_FROM:
            text += "\nlarge folder: 'modelsnap review DIR' browses it from the index in a second"
        for label in self.query("#loading").results(Label):
            label.update(text)

    def _folder_words(self) -> str:
        from modelsnap.core.text import printable

        return printable(self.root.name or self.root, limit=60)

    def on_state_loaded(self, message: StateLoaded) -> None:
        self.state = message.state
        if not self._placed:
            self._placed = True
            self.set_timer(RUN_MODULES_AFTER, self.import_run_modules)
            self.set_timer(RUN_MODULES_AFTER, self._import_screens)
            if not self.state.has_project:
                self.switch_mode(SETUP.mode)
            else:
                number = self.open_step or self.state.first_unfinished()
                self.switch_mode(step_for_number(number).mode)
            return
        if self.current_mode == SETUP.mode and self.state.has_project:
            self.switch_mode(step_for_number(self.state.first_unfinished()).mode)
            return
        if not self.screen.is_mounted:
            return  # a screen still mounting shows app.state when it mounts (its on_mount)
        if isinstance(self.screen, StepScreen) or self.current_mode == SETUP.mode:
            with self.batch_update():  # one repaint for the whole screen's changes
                self.screen.show_state(self.state)

    @work(thread=True, group="warm-up", exit_on_error=False)
    def _import_screens(self) -> None:
        """The screens not shown yet, imported while nobody waits (about 30 ms)."""
        for module, _ in SCREENS.values():
            importlib.import_module(module)

    # -- navigation ---------------------------------------------------------------------

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "goto_step":
            return self.state is not None and self.state.has_project
        return True

    def action_help(self) -> None:
        if isinstance(self.screen, HelpPanel):
            self.screen.dismiss()
            return
        step = STEP_BY_MODE.get(self.current_mode, SETUP)
        self.push_screen(HelpPanel(step))

    async def action_quit(self) -> None:
        """Quit; a model still running is cancelled first (its worker process group is killed),
        so nothing half-made is left and the process does not wait for the fit."""
        self.cancel_runs()
        await super().action_quit()

    def action_leave_field(self) -> None:
        self.screen.set_focus(None)

    def action_reload(self) -> None:
        self.reload_state()
