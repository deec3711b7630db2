"""Shared by the baseline and candidates steps: start runs, follow them, cancel with Escape.

Runs go through ``App.start_runs`` (a thread worker around ``profiler.jobs.run_project``); the
messages it posts land here and drive the run panel. A failed run is remembered by model name
so its card can say why, until the next run of that model.
"""

from __future__ import annotations

from typing import ClassVar

from textual.binding import Binding

from modelsnap.tui.messages import RunFinished, RunProgress, RunStarted, TaskDone
from modelsnap.tui.screens.base import StepScreen
from modelsnap.tui.widgets.run_panel import RunPanel


class RunningStepScreen(StepScreen):
    BINDINGS: ClassVar = [
        Binding(
            "escape",
            "cancel_run",
            "Cancel run",
            id="cancel-run",
            tooltip="Stop the running model; nothing is written",
        ),
    ]

    def __init__(self) -> None:
        super().__init__()
        self.failures: dict[str, tuple[str, str]] = {}  # model name -> (reason, message)

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "cancel_run":
            return self.app.running
        return True

    def action_cancel_run(self) -> None:
        if self.app.cancel_runs():
            self.query_one(RunPanel).log_line("cancelling: stopping the worker process ...")

    def start(self, names: list[str] | None, *, baseline: bool = False) -> None:
        if self.app.start_runs(self, names, baseline=baseline):
            panel = self.query_one(RunPanel)
            panel.display = True
            panel.reset("starting ... (Escape cancels)")
            self.refresh_bindings()

    def on_run_started(self, message: RunStarted) -> None:
        self.failures.pop(message.name, None)
        self.query_one(RunPanel).begin(f"running {message.name} (Escape cancels)")

    def on_run_progress(self, message: RunProgress) -> None:
        panel = self.query_one(RunPanel)
        if message.stage == "warning":
            panel.log_line(f"! {message.text}")
        else:
            panel.advance(message.stage, message.fraction, message.text)

    def on_run_finished(self, message: RunFinished) -> None:
        panel = self.query_one(RunPanel)
        if message.ok:
            panel.log_line(f"✓ {message.name}: snapshot {message.snapshot_id}")
        else:
            self.failures[message.name] = (message.reason, message.error)
            panel.log_line(f"✗ {message.name} failed ({message.reason}): {message.error}")
        self.refresh_bindings()

    # The model form (choose an estimator, edit its params) saves the same way on both screens:
    # fields checked here, the estimator imported and the file written in a worker.
    def save_model_form(self, kind: str, task: str) -> None:
        from modelsnap.tui.jobs import check_and_save_model
        from modelsnap.tui.widgets.model_form import ModelForm

        forms = self.query(ModelForm)
        if not forms:
            return  # the form is still being mounted
        form = forms.last()
        spec = form.spec()
        if spec is None:
            form.show_check("✗ fix the fields marked ✗: nothing was saved")
            return
        form.show_check("checking the estimator and its parameters ...")
        self.app.start_task(self, task, check_and_save_model, self.app.root, spec, kind=kind)

    def model_form_saved(self, message: TaskDone, success: str) -> None:
        from modelsnap.tui.widgets.model_form import ModelForm

        form = self.query(ModelForm).last()
        if message.error:
            form.show_check(f"✗ {message.error}")
        else:
            form.show_check(success)
            self.app.reload_state()
