"""Step 2: the baseline. Choose a simple model, run it, see its snapshot card.

The run is the same as ``modelsnap run --baseline``: the profiler's worker process fits,
evaluates and profiles it while this screen shows a bar per stage and the log.
"""

from __future__ import annotations

from typing import ClassVar

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.widgets import Button, Label, Static

from modelsnap.tui.messages import ModelSaved, RunFinished
from modelsnap.tui.model_choices import BASELINES, format_params
from modelsnap.tui.screens.base import deferred
from modelsnap.tui.screens.running import RunningStepScreen
from modelsnap.tui.state import ProjectState
from modelsnap.tui.steps import BASELINE
from modelsnap.tui.widgets.model_form import ModelForm
from modelsnap.tui.widgets.run_panel import RunPanel
from modelsnap.tui.widgets.snapshot_card import sync_cards


class BaselineScreen(RunningStepScreen):
    STEP = BASELINE
    BINDINGS: ClassVar = [
        Binding("r", "run", "Run", id="baseline-run", tooltip="Run the baseline"),
        Binding(
            "ctrl+s",
            "use",
            "Use model",
            id="baseline-use",
            tooltip="Save the model chosen below as the baseline",
        ),
    ]

    def __init__(self) -> None:
        super().__init__()
        self._form_task: str | None = None

    def compose_body(self) -> ComposeResult:
        yield Static("", id="baseline-current", markup=False)
        yield Button("Run baseline", id="baseline-run-button", variant="primary", compact=True)
        yield RunPanel(id="baseline-run-panel")
        yield Vertical(id="baseline-cards")
        with deferred("baseline-lower"):
            yield Label("Change the baseline: a simple model sets the floor", classes="section")
            yield Vertical(id="baseline-form-holder")
            with Horizontal(classes="buttons"):
                yield Button("Use this model", id="baseline-use-button", compact=True)

    def on_mount(self) -> None:
        self.query_one(RunPanel).display = False

    def refresh_body(self, state: ProjectState) -> None:
        config = state.config
        current = self.query_one("#baseline-current", Static)
        if config is None:
            current.update("✗ modelsnap.toml does not load: fix it in step 1 or in an editor")
            return
        if config.baseline is None:
            current.update("No baseline declared yet: choose one below.")
        else:
            spec = config.baseline
            params = format_params(spec.params) if spec.params else "defaults"
            current.update(f"Baseline: {spec.name} = {spec.estimator} ({params})")
        task = config.data.task or "classification"
        if self._form_task != task and self.query("#baseline-form-holder"):
            self._form_task = task
            holder = self.query_one("#baseline-form-holder", Vertical)
            holder.remove_children()
            holder.mount(ModelForm(BASELINES[task], prefix="baseline"))
        self._show_cards(state)

    def _show_cards(self, state: ProjectState) -> None:
        name = state.config.baseline.name if state.config and state.config.baseline else None
        wanted: list[dict | str] = []
        if name and name in self.failures:
            reason, error = self.failures[name]
            wanted.append({"failure": (name, reason, error)})
        baseline = state.baseline
        if baseline is not None:
            wanted.append(
                {
                    "snapshot": baseline,
                    "primary": state.primary_metric,
                    "edge": state.edge_result(baseline),
                    "machine": state.machine_words(baseline),
                }
            )
        elif not (name and name in self.failures):
            wanted.append("No baseline snapshot yet: press r to run it.")
        # The card already shown is reused: only a new snapshot is drawn again.
        sync_cards(self.query_one("#baseline-cards", Vertical), wanted)

    def action_run(self) -> None:
        state = self.state
        if state is None or state.config is None or state.config.baseline is None:
            self.notify("declare a baseline first (choose one below)", severity="warning")
            return
        self.start(None, baseline=True)

    def action_use(self) -> None:
        self.save_model_form("baseline")

    @on(ModelSaved)
    def _model_saved(self, message: ModelSaved) -> None:
        self.model_form_saved(message, "✓ saved as [baseline] in modelsnap.toml: press r to run it")

    def on_button_pressed(self, event: Button.Pressed) -> None:
        if event.button.id == "baseline-run-button":
            self.action_run()
        elif event.button.id == "baseline-use-button":
            self.action_use()

    def on_run_finished(self, message: RunFinished) -> None:
        if self.state is not None:
            self._show_cards(self.state)
