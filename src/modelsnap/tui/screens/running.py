"""Shared by the baseline and candidates steps: start runs, follow them, cancel with Escape.

Runs go through ``App.start_runs`` (a thread worker around ``profiler.jobs.run_project``); the
messages it posts land here and drive the run panel. A failed run is remembered by model name
so its card can say why, until the next run of that model.
"""

from __future__ import annotations

from typing import ClassVar

from textual.binding import Binding
from textual.timer import Timer

from modelsnap.tui.messages import ModelSaved, RunFinished, RunProgress, RunStarted
from modelsnap.tui.screens.base import StepScreen, typing_in
from modelsnap.tui.widgets.run_panel import RunPanel

# Seconds on the baseline or candidates step before the session's worker template is started
# (``ProjectApp.warm_up_runs``): a user reading the step pays its imports now, not after r.
# Passing through the step on the way elsewhere starts nothing.
WARM_UP_AFTER = 2.0


class RunningStepScreen(StepScreen):
    BINDINGS: ClassVar = [
        Binding(
            "escape",
            "cancel_run",
            "Cancel",
            id="cancel-run",
            tooltip="Stop the running model; nothing is written",
        ),
    ]

    def __init__(self) -> None:
        super().__init__()
        self.failures: dict[str, tuple[str, str]] = {}  # model name -> (reason, message)
        self.cancelled: set[str] = set()  # runs cancelled: their previous snapshot still stands
        self.batch_names: list[str] = []  # the models of the batch in progress, in run order
        self.batch_status: dict[str, str] = {}  # name -> queued / running / done / failed
        self.current: tuple[str, str, float] | None = None  # (name, stage, fraction) running now
        self._warm_up_timer: Timer | None = None

    def on_screen_resume(self) -> None:
        self._warm_up_timer = self.set_timer(WARM_UP_AFTER, self._warm_up)

    def on_screen_suspend(self) -> None:
        if self._warm_up_timer is not None:
            self._warm_up_timer.stop()
            self._warm_up_timer = None

    def _warm_up(self) -> None:
        self._warm_up_timer = None
        if self.is_current:
            self.app.warm_up_runs()

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "cancel_run":
            # Escape leaves a text field first (the app's binding); it cancels from anywhere else.
            return self.app.running and typing_in(self) is None
        return super().check_action(action, parameters)

    def action_cancel_run(self) -> None:
        if self.app.cancel_runs():
            self.query_one(RunPanel).log_line("cancelling: stopping the worker process ...")

    def start(self, names: list[str] | None, *, baseline: bool = False) -> None:
        if self.app.start_runs(self, names, baseline=baseline):
            self.batch_names = list(names or [])
            self.batch_status = {name: "queued" for name in self.batch_names}
            self.current = None
            panel = self.query_one(RunPanel)
            panel.display = True
            panel.reset("starting ... (Escape cancels)")
            panel.set_status(self.progress_line())
            self.refresh_bindings()
            self.batch_changed()

    def progress_line(self) -> str:
        """'2 of 3 · random_forest · latency 40 %': where the batch is, in one line."""
        total = len(self.batch_names) or 1
        if self.current is None:
            return f"0 of {total} · starting the worker ..."
        name, stage, fraction = self.current
        position = self.batch_names.index(name) + 1 if name in self.batch_names else 1
        where = f"{stage} {fraction:.0%}".replace("%", " %") if stage else "starting"
        return f"{position} of {total} · {name} · {where} · Escape cancels"

    def batch_changed(self) -> None:
        """A model of the batch started or finished; screens with a list update its rows."""

    def on_run_started(self, message: RunStarted) -> None:
        self.failures.pop(message.name, None)
        self.cancelled.discard(message.name)
        if message.name not in self.batch_names:
            self.batch_names.append(message.name)
        self.batch_status[message.name] = "running"
        self.current = (message.name, "", 0.0)
        panel = self.query_one(RunPanel)
        panel.begin(f"running {message.name} (Escape cancels)")
        panel.set_status(self.progress_line())
        self.batch_changed()

    def on_run_progress(self, message: RunProgress) -> None:
        panel = self.query_one(RunPanel)
        if message.stage == "warning":
            from modelsnap.tui.wording import tui_words

            panel.log_line(f"! {tui_words(message.text)}")
            return
        panel.advance(message.stage, message.fraction, message.text)
        self.current = (message.name, message.stage, message.fraction)
        panel.set_status(self.progress_line())

    def on_run_finished(self, message: RunFinished) -> None:
        from modelsnap.tui.wording import tui_words

        message.error = tui_words(message.error)
        panel = self.query_one(RunPanel)
        if message.ok:
            self.batch_status[message.name] = "done"
            panel.log_line(f"✓ {message.name}: snapshot {message.snapshot_id}")
        elif message.reason == "cancelled":
            # Nothing was written: the model's previous snapshot, if any, is still its latest.
            self.batch_status[message.name] = "cancelled"
            self.cancelled.add(message.name)
            panel.log_line(f"- {message.name}: cancelled, nothing was written")
        else:
            self.batch_status[message.name] = "failed"
            self.failures[message.name] = (message.reason, message.error)
            panel.log_line(f"✗ {message.name} failed ({message.reason}): {message.error}")
            self.last_error = f"{message.name} failed ({message.reason}): {message.error}"
        finished = sum(status not in {"queued", "running"} for status in self.batch_status.values())
        total = len(self.batch_names) or 1
        counts = [
            f"{n} {word}"
            for word in ("failed", "cancelled")
            if (n := sum(status == word for status in self.batch_status.values()))
        ]
        panel.set_status(
            " · ".join([f"{finished} of {total} finished", *counts])
            + (
                " · press e for the full error"
                if self.last_error and not message.ok and message.reason != "cancelled"
                else ""
            )
        )
        self.current = None
        self.refresh_bindings()
        self.batch_changed()
        # Show the new snapshot now, not when the whole batch is over.
        self.app.reload_state()

    # The model form (choose an estimator, edit its params) saves the same way on both screens:
    # fields checked here, the estimator imported and the file written in a worker.
    def save_model_form(self, kind: str) -> None:
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
        self.app.run_task(self, ModelSaved, check_and_save_model, self.app.root, spec, kind=kind)

    def model_form_saved(self, message: ModelSaved, success: str) -> None:
        from modelsnap.tui.widgets.model_form import ModelForm

        form = self.query(ModelForm).last()
        if message.error:
            from modelsnap.tui.wording import tui_words

            self.last_error = tui_words(message.error)
            form.show_check(f"✗ {self.last_error}")
            self.refresh_bindings()
        else:
            self.clear_error()
            form.show_check(success)
            self.app.reload_state()
