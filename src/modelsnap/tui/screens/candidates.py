"""Step 3: candidates. List and add models, run one or all, read their snapshot cards.

Candidates run only under locked criteria (the runner refuses otherwise and the screen says
so first). Each card shows the hard-limit checks with how far over, the gain over the baseline,
the interpretability summary and the fairness gaps, straight from the stored snapshot.
"""

from __future__ import annotations

from typing import ClassVar

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.widgets import Button, DataTable, Label, Static

from modelsnap.tui import steps
from modelsnap.tui.messages import ModelSaved, RunFinished, RunProgress
from modelsnap.tui.model_choices import CANDIDATES, format_params
from modelsnap.tui.screens.base import deferred
from modelsnap.tui.screens.running import RunningStepScreen
from modelsnap.tui.state import ProjectState
from modelsnap.tui.widgets.formatting import fill_table, short_id
from modelsnap.tui.widgets.model_form import ModelForm
from modelsnap.tui.widgets.run_panel import RunPanel
from modelsnap.tui.widgets.snapshot_card import sync_cards


def newest_by_name(snapshots: list[dict]) -> dict[str, dict]:
    """The newest snapshot of each model name (ids sort by creation time)."""
    newest: dict[str, dict] = {}
    for snapshot in sorted(snapshots, key=lambda s: s.get("id", "")):
        newest[str(snapshot.get("name", ""))] = snapshot
    return newest


class CandidatesScreen(RunningStepScreen):
    STEP = steps.CANDIDATES
    BINDINGS: ClassVar = [
        Binding("r", "run", "Run", id="candidates-run", tooltip="Run the selected candidate"),
        Binding("a", "run_all", "Run all", id="candidates-run-all"),
        Binding("ctrl+s", "add", "Add", id="candidates-add", tooltip="Add the model below"),
    ]

    def __init__(self) -> None:
        super().__init__()
        self._form_task: str | None = None

    def compose_body(self) -> ComposeResult:
        yield Static("", id="candidates-lock", classes="warning", markup=False)
        yield DataTable(id="candidates-table", cursor_type="row", zebra_stripes=True)
        with Horizontal(classes="buttons"):
            yield Button(
                "Run selected", id="candidates-run-button", variant="primary", compact=True
            )
            yield Button("Run all", id="candidates-run-all-button", compact=True)
        yield RunPanel(id="candidates-run-panel")
        with deferred("candidates-lower"):
            yield Vertical(id="candidates-cards")
            yield Label("Add a candidate", classes="section")
            yield Vertical(id="candidates-form-holder")
            with Horizontal(classes="buttons"):
                yield Button("Add candidate", id="candidates-add-button", compact=True)

    def on_mount(self) -> None:
        self.query_one(RunPanel).display = False

    def refresh_body(self, state: ProjectState) -> None:
        config = state.config
        lock = self.query_one("#candidates-lock", Static)
        if config is None:
            lock.update("✗ modelsnap.toml does not load: fix it in step 1 or in an editor")
            return
        if not state.locked:
            lock.update(
                f"! candidates cannot run: {state.lock_problem or 'criteria not locked'}"
                " (press 1 to lock the criteria)"
            )
        elif state.baseline is None:
            lock.update(
                "! no baseline snapshot yet: gains over the baseline will be missing (press 2)"
            )
        else:
            lock.update("")
        self._fill_table(state)
        task = config.data.task or "classification"
        if self._form_task != task and self.query("#candidates-form-holder"):
            self._form_task = task
            holder = self.query_one("#candidates-form-holder", Vertical)
            holder.remove_children()
            holder.mount(ModelForm(CANDIDATES[task], prefix="candidate"))
        self._show_cards(state)

    def status_of(self, name: str, newest: dict[str, dict]) -> str:
        """The table's 'latest snapshot' cell: the run in progress, else what is on disk."""
        running = self.batch_status.get(name) if self.app.running else None
        if running == "running" and self.current is not None and self.current[0] == name:
            _name, stage, fraction = self.current
            return f"▶ {stage or 'starting'} {fraction:.0%}".replace("%", " %")
        if running in ("running", "queued"):
            return "▶ starting" if running == "running" else "… queued"
        if name in self.failures:
            return f"✗ {self.failures[name][0]}"
        if name in newest:
            kept = " (run cancelled)" if name in self.cancelled else ""
            return f"✓ {short_id(newest[name]['id'])}{kept}"
        return "not run (cancelled)" if name in self.cancelled else "not run"

    def _fill_table(self, state: ProjectState) -> None:
        if state.config is None:
            return
        newest = newest_by_name(state.candidates)
        table = self.query_one("#candidates-table", DataTable)
        row = table.cursor_row
        rows = []
        for spec in state.config.candidates:
            params = format_params(spec.params) if spec.params else "defaults"
            rows.append(
                (
                    [
                        spec.name,
                        self.status_of(spec.name, newest),
                        spec.estimator.rsplit(".", 1)[-1],
                        params[:30],
                    ],
                    spec.name,
                )
            )
        # The status column keeps room for "▶ evaluate 100 %" while a run updates it in place.
        fill_table(
            table,
            ["model", "latest snapshot", "estimator", "params"],
            rows,
            min_widths={"latest snapshot": 18},
            in_place=True,
        )
        if table.row_count:
            table.move_cursor(row=min(max(row, 0), table.row_count - 1))

    def batch_changed(self) -> None:
        if self.state is not None and self.is_mounted:
            self._fill_table(self.state)

    def on_run_progress(self, message: RunProgress) -> None:
        # Only the running row changes: its cell follows the stage without rebuilding the table.
        table = self.query_one("#candidates-table", DataTable)
        if message.stage == "warning" or message.name not in table.rows:
            return
        text = f"▶ {message.stage} {message.fraction:.0%}".replace("%", " %")
        if table.get_cell(message.name, "latest snapshot") != text:  # each update redraws it all
            table.update_cell(message.name, "latest snapshot", text)

    def _show_cards(self, state: ProjectState) -> None:
        holders = self.query("#candidates-cards")
        if not holders:
            return  # the cards arrive after the first frame
        newest = newest_by_name(state.candidates)
        names = [spec.name for spec in state.config.candidates] if state.config else []
        names += [name for name in newest if name not in names]
        wanted: list[dict | str] = []
        for name in names:
            if name in self.failures:
                wanted.append({"failure": (name, *self.failures[name])})
            if name in newest:
                snapshot = newest[name]
                wanted.append(
                    {
                        "snapshot": snapshot,
                        "primary": state.primary_metric,
                        "edge": state.edge_result(snapshot),
                        "machine": state.machine_words(snapshot),
                    }
                )
        # Cards already shown are reused: after a run only the new snapshot's card changes.
        sync_cards(holders.first(Vertical), wanted)

    def _selected(self) -> str | None:
        table = self.query_one("#candidates-table", DataTable)
        if not table.row_count:
            return None
        return str(table.coordinate_to_cell_key(table.cursor_coordinate).row_key.value)

    def action_run(self) -> None:
        name = self._selected()
        if name is None:
            self.notify("no candidate declared: add one below", severity="warning")
            return
        self.start([name])

    def action_run_all(self) -> None:
        state = self.state
        if state is None or state.config is None or not state.config.candidates:
            self.notify("no candidate declared: add one below", severity="warning")
            return
        self.start([spec.name for spec in state.config.candidates])

    def action_add(self) -> None:
        self.save_model_form("candidate")

    @on(ModelSaved)
    def _model_saved(self, message: ModelSaved) -> None:
        self.model_form_saved(message, "✓ added to modelsnap.toml: select it and press r to run it")

    def on_button_pressed(self, event: Button.Pressed) -> None:
        actions = {
            "candidates-run-button": self.action_run,
            "candidates-run-all-button": self.action_run_all,
            "candidates-add-button": self.action_add,
        }
        action = actions.get(event.button.id or "")
        if action is not None:
            action()

    def on_run_finished(self, message: RunFinished) -> None:
        if self.state is not None:
            self._show_cards(self.state)
