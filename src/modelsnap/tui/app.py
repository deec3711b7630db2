"""The guided five-step app: ``modelsnap DIR`` opens it on the first unfinished step.

The App owns three things only: the project state (read by a worker, never on the UI thread),
navigation between the step screens (one Textual mode per step, so each keeps its own widgets),
and the two kinds of background job (short tasks and model runs). Everything a screen shows
comes from core functions; the screens add no rules of their own.
"""

from __future__ import annotations

import contextlib
import gc
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any, ClassVar

from textual import work
from textual.app import App, ComposeResult
from textual.binding import Binding
from textual.message_pump import MessagePump
from textual.widgets import Footer, Label
from textual.worker import Worker, WorkerState

from modelsnap.core.errors import ModelsnapError
from modelsnap.tui.commands import ModelsnapCommands
from modelsnap.tui.messages import RunFinished, RunProgress, RunStarted, StateLoaded, TaskDone
from modelsnap.tui.screens.baseline import BaselineScreen
from modelsnap.tui.screens.candidates import CandidatesScreen
from modelsnap.tui.screens.criteria import CriteriaScreen
from modelsnap.tui.screens.edge_cases import EdgeCasesScreen
from modelsnap.tui.screens.help import HelpPanel
from modelsnap.tui.screens.ranking import RankingScreen
from modelsnap.tui.screens.setup import SetupScreen
from modelsnap.tui.state import ProjectState, load_state
from modelsnap.tui.steps import SETUP, STEP_BY_MODE, step_for_number

RUN_MODULES_AFTER = 1.0  # seconds after the first screen: its paint comes first


class ModelsnapApp(App[None]):
    """The checklist TUI for one project folder."""

    TITLE = "modelsnap"
    CSS_PATH = Path(__file__).with_name("modelsnap.tcss")  # absolute: subclasses live elsewhere
    COMMANDS: ClassVar = App.COMMANDS | {ModelsnapCommands}
    # Screens get -narrow below 110 columns and -wide from there: step 4 puts the matrix beside
    # the case detail, step 5 the ranking beside the trade-off plot (modelsnap.tcss).
    HORIZONTAL_BREAKPOINTS: ClassVar = [(0, "-narrow"), (110, "-wide")]
    MODES: ClassVar = {
        SETUP.mode: SetupScreen,
        "criteria": CriteriaScreen,
        "baseline": BaselineScreen,
        "candidates": CandidatesScreen,
        "edge": EdgeCasesScreen,
        "ranking": RankingScreen,
    }
    BINDINGS: ClassVar = [
        Binding("1", "goto_step(1)", "Criteria", show=False, id="step-1"),
        Binding("2", "goto_step(2)", "Baseline", show=False, id="step-2"),
        Binding("3", "goto_step(3)", "Candidates", show=False, id="step-3"),
        Binding("4", "goto_step(4)", "Edge", show=False, id="step-4"),
        Binding("5", "goto_step(5)", "Decide", show=False, id="step-5"),
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
        super().__init__()
        self.root = Path(root)
        self.state: ProjectState | None = None
        self.open_step = open_step
        self._placed = False
        self._run_cancel: threading.Event | None = None
        self._run_what = ""  # what the run in progress runs, to say so when another is refused

    def compose(self) -> ComposeResult:
        yield Label(f"reading {self.root.name or self.root} ...", id="loading")
        yield Footer()

    def on_mount(self) -> None:
        self.title = f"modelsnap: {self.root.resolve().name}"
        self.reload_state()

    # -- project state ------------------------------------------------------------------

    def reload_state(self) -> None:
        """Re-read the folder in a worker; StateLoaded then refreshes the visible screen."""
        self._load_state()

    @work(thread=True, exclusive=True, group="state", exit_on_error=False)
    def _load_state(self) -> None:
        self.post_message(StateLoaded(load_state(self.root)))

    def on_state_loaded(self, message: StateLoaded) -> None:
        self.state = message.state
        if not self._placed:
            self._placed = True
            self.set_timer(RUN_MODULES_AFTER, self._import_run_modules)
            if not self.state.has_project:
                self.switch_mode(SETUP.mode)
            else:
                number = self.open_step or self.state.first_unfinished()
                self.switch_mode(step_for_number(number).mode)
            return
        if self.current_mode == SETUP.mode and self.state.has_project:
            self.switch_mode(step_for_number(self.state.first_unfinished()).mode)
            return
        show = getattr(self.screen, "show_state", None)
        if show is not None:
            show(self.state)

    # -- navigation ---------------------------------------------------------------------

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "goto_step":
            return self.state is not None and self.state.has_project
        return True

    def action_goto_step(self, number: int) -> None:
        mode = step_for_number(number).mode
        if self.current_mode != mode:
            self.switch_mode(mode)

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

    def action_screen_action(self, number: int, action: str) -> None:
        """Go to a step and run one of its actions (used by the command palette)."""
        self.action_goto_step(number)
        self.call_after_refresh(self.screen.run_action, action)

    # -- background jobs ----------------------------------------------------------------

    @work(thread=True, group="task", exit_on_error=False)
    def start_task(
        self, target: MessagePump, what: str, fn: Callable[..., Any], /, *args: Any, **kwargs: Any
    ) -> None:
        """Run a short core call off the UI thread; ``target`` gets a TaskDone message.

        A ModelsnapError becomes TaskDone.error (shown inline by the screen); the core
        guarantees nothing was written in that case.
        """
        try:
            result = fn(*args, **kwargs)
        except ModelsnapError as error:
            target.post_message(TaskDone(what, error=str(error)))
            return
        target.post_message(TaskDone(what, result=result))

    @property
    def running(self) -> bool:
        return self._run_cancel is not None

    def start_runs(
        self, target: MessagePump, names: list[str] | None, *, baseline: bool = False
    ) -> bool:
        """Run the baseline (``baseline=True``) or the named candidates in the profiler.

        Returns False when a run is already going (one at a time: they share the CPU the
        latency is measured on).
        """
        if self._run_cancel is not None:
            self.notify(
                f"a run is in progress ({self._run_what}): Esc to cancel it first",
                title="not started",
                severity="warning",
            )
            return False
        self._run_what = "the baseline" if baseline else ", ".join(names or ["candidates"])
        self._run_cancel = threading.Event()
        # Everything the UI made so far leaves the collector's view: a full collection that the
        # run's thread triggers would otherwise scan it all while holding the GIL (a 90-180 ms
        # freeze of the UI, measured by benchmarks/tui_stall_bench.py). Undone when it ends.
        gc.freeze()
        self._run_models(target, names, baseline, self._run_cancel)
        return True

    def cancel_runs(self) -> bool:
        """Ask the running model to stop: the runner kills its worker process group."""
        if self._run_cancel is None:
            return False
        self._run_cancel.set()
        return True

    @work(thread=True, exclusive=True, group="run", exit_on_error=False)
    def _run_models(
        self, target: MessagePump, names: list[str] | None, baseline: bool, cancel: threading.Event
    ) -> None:
        from modelsnap.core.project import load_project
        from modelsnap.profiler.jobs import run_project

        def on_finish(outcome: Any) -> None:
            if outcome.ok:
                target.post_message(RunFinished(outcome.name, snapshot_id=outcome.snapshot["id"]))
            else:
                error = outcome.error
                text = error.message if isinstance(error, ModelsnapError) else str(error)
                if isinstance(error, ModelsnapError) and error.hint:
                    text += f" (hint: {error.hint})"
                target.post_message(RunFinished(outcome.name, reason=outcome.reason, error=text))

        try:
            config = load_project(self.root)
            run_project(
                config,
                names,
                baseline,
                cancel=cancel,
                on_finish=on_finish,
                on_start=lambda name, kind: target.post_message(RunStarted(name)),
                on_event=lambda name, event: target.post_message(
                    RunProgress(name, event.stage, event.fraction, event.message)
                ),
                on_warning=lambda name, text: target.post_message(
                    RunProgress(name, "warning", 1.0, text)
                ),
            )
        except ModelsnapError as error:
            target.post_message(
                RunFinished(", ".join(names or ["baseline"]), reason="error", error=str(error))
            )
        finally:
            # After a quit there is no UI left to update (the loop may close at any moment).
            with contextlib.suppress(RuntimeError):
                self.call_from_thread(self._runs_over)

    @work(thread=True, group="warm-up", exit_on_error=False)
    def _import_run_modules(self) -> None:
        """Import what a run needs (about 90 ms) while nobody waits: imported when the first run
        starts, it froze the UI for as long (benchmarks/tui_stall_bench.py). Nothing heavy:
        the run's libraries load in the worker processes, never here."""
        import psutil  # noqa: F401

        import modelsnap.profiler.jobs  # noqa: F401

    def _runs_over(self) -> None:
        self._run_cancel = None
        gc.unfreeze()  # frozen only for the run: the UI's garbage is collectable again
        self.reload_state()

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        """The one place unexpected worker failures surface: a notification, never a crash."""
        if event.state == WorkerState.ERROR:
            error = event.worker.error
            if event.worker.group == "run":
                self._run_cancel = None
            self.notify(
                f"{type(error).__name__}: {error}",
                title="background job failed",
                severity="error",
                timeout=10,
            )
