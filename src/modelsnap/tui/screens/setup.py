"""Set-up for a folder without modelsnap.toml: data file, target column, a preview, a profile,
and the sensitive columns fairness is measured on.

The CSV is read by a worker with the csv module (no pandas in the UI process); nothing is
written until a file, a target and a profile are chosen and the project is created. Columns whose
names suggest a sensitive attribute (``profiles.suggest_sensitive``) are listed first and marked,
but never ticked for the user: without a ticked column the profile leaves fairness out.
"""

from __future__ import annotations

from typing import ClassVar

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, VerticalScroll
from textual.screen import Screen
from textual.widgets import Button, DataTable, Footer, Label, Select, SelectionList, Static

from modelsnap.core.profiles import PROFILES, suggest_sensitive
from modelsnap.tui.csv_preview import CsvPreview, list_csv_files, read_preview
from modelsnap.tui.messages import PreviewReady, TaskDone
from modelsnap.tui.state import ProjectState
from modelsnap.tui.steps import SETUP
from modelsnap.tui.widgets.formatting import fill_table, printable
from modelsnap.tui.widgets.step_bar import StepBar


class SetupScreen(Screen[None]):
    """Creates the project file; the app then moves to step 1."""

    BINDINGS: ClassVar = [Binding("ctrl+s", "create", "Create project", id="setup-create")]

    def __init__(self) -> None:
        super().__init__()
        self.preview: CsvPreview | None = None

    def compose(self) -> ComposeResult:
        yield StepBar(id="step-bar")  # nothing done, no step current: set-up comes first
        yield Label(f"{SETUP.title} · then the five steps above", id="step-title", markup=False)
        with VerticalScroll(id="step-body"):
            yield Static(
                "This folder has no modelsnap.toml yet. Pick the data file, the column "
                "to predict and a starting profile.",
                classes="note",
                markup=False,
            )
            with Horizontal(classes="form-row"):
                yield Label("Data file", classes="form-label")
                yield Select(
                    [],
                    prompt="CSV files in this folder",
                    id="setup-file",
                    allow_blank=True,
                    compact=True,
                )
            with Horizontal(classes="form-row"):
                yield Label("Target column", classes="form-label")
                yield Select([], prompt="choose a data file first", id="setup-target", compact=True)
            with Horizontal(classes="form-row"):
                yield Label("Profile", classes="form-label")
                yield Select(
                    [(name, name) for name in PROFILES],
                    value="balanced",
                    id="setup-profile",
                    allow_blank=False,
                    compact=True,
                )
            with Horizontal(classes="form-row"):
                yield Label("Task", classes="form-label")
                yield Select(
                    [("classification", "classification"), ("regression", "regression")],
                    id="setup-task",
                    prompt="guessed from the target",
                    compact=True,
                )
            yield Label("Sensitive columns (fairness is measured per group of each)", markup=False)
            yield SelectionList[str](id="setup-sensitive", compact=True)
            yield Static("", id="setup-sensitive-note", classes="note", markup=False)
            yield Label("", id="setup-error", classes="error", markup=False)
            yield Static("", id="setup-balance", markup=False)
            yield DataTable(id="setup-preview", show_cursor=False, zebra_stripes=True)
            yield Button("Create project", id="setup-create", variant="primary", compact=True)
        yield Footer()

    def on_mount(self) -> None:
        self.app.start_task(self, "list-csv", list_csv_files, self.app.root)

    def show_state(self, state: ProjectState) -> None:
        """Set-up only cares that the project does not exist yet; the app moves on once it does."""

    def _error(self, text: str) -> None:
        self.query_one("#setup-error", Label).update(
            printable(f"✗ {text}", newlines=True) if text else ""
        )

    def on_task_done(self, message: TaskDone) -> None:
        if message.what == "list-csv":
            files = message.result or []
            select = self.query_one("#setup-file", Select)
            select.set_options([(name, name) for name in files])
            if not files:
                self._error("no CSV file in this folder: copy your data here, then ctrl+r")
            elif len(files) == 1:
                select.value = files[0]
        elif message.what == "create":
            if message.error:
                self._error(message.error)
            else:
                self.app.reload_state()

    def on_select_changed(self, event: Select.Changed) -> None:
        if event.select.id == "setup-file":
            self.preview = None
            self.query_one("#setup-target", Select).set_options([])
            self.query_one("#setup-balance", Static).update("")
            self.query_one("#setup-preview", DataTable).clear(columns=True)
            self.query_one("#setup-sensitive", SelectionList).clear_options()
            self.query_one("#setup-sensitive-note", Static).update("")
            if event.value != Select.NULL:
                self._error("")
                self._read(str(event.value))
        elif event.select.id == "setup-target":
            self._show_balance()
            self._offer_sensitive()
            if self.preview is not None and event.value != Select.NULL:
                self.query_one("#setup-task", Select).value = self.preview.guess_task(
                    str(event.value)
                )

    def _read(self, name: str) -> None:
        self.app.start_task(self, "preview", self._preview_job, name)

    def _preview_job(self, name: str) -> None:
        from modelsnap.core.errors import ModelsnapError
        from modelsnap.core.files import inside

        try:
            preview = read_preview(inside(self.app.root, name, what="data file"))
        except ModelsnapError as error:
            self.post_message(PreviewReady(error=str(error)))
        else:
            self.post_message(PreviewReady(preview))

    def on_preview_ready(self, message: PreviewReady) -> None:
        if message.error:
            self._error(message.error)
            return
        preview: CsvPreview = message.preview
        self.preview = preview
        fill_table(
            self.query_one("#setup-preview", DataTable),
            preview.columns,
            [(row, None) for row in preview.rows],
        )
        target = self.query_one("#setup-target", Select)
        target.set_options([(column, column) for column in preview.columns])
        target.value = preview.columns[-1]

    def _offer_sensitive(self) -> None:
        """Every column but the target, the ones named like a sensitive attribute first and
        marked; ticks the user already made are kept, nothing is ticked for them."""
        choices = self.query_one("#setup-sensitive", SelectionList)
        note = self.query_one("#setup-sensitive-note", Static)
        target = self.query_one("#setup-target", Select).value
        ticked = set(choices.selected)
        choices.clear_options()
        if self.preview is None or target == Select.NULL:
            note.update("")
            return
        columns = [c for c in self.preview.columns if c != target]
        suggested = suggest_sensitive(columns, str(target))
        others = [c for c in columns if c not in suggested]
        choices.add_options(
            [(f"{c}  (suggested by its name)", c, c in ticked) for c in suggested]
            + [(c, c, c in ticked) for c in others]
        )
        if suggested:
            note.update(
                f"suggested: {', '.join(suggested)}. Tick (space) the ones to measure fairness "
                "on; with none ticked the criteria leave fairness out."
            )
        else:
            note.update(
                "No column looks sensitive by its name. Tick one to measure fairness on it; "
                "with none ticked the criteria leave fairness out."
            )

    def _show_balance(self) -> None:
        balance_widget = self.query_one("#setup-balance", Static)
        target = self.query_one("#setup-target", Select).value
        if self.preview is None or target == Select.NULL:
            balance_widget.update("")
            return
        balance = self.preview.balance(str(target))
        text = Text(f"{self.preview.n_rows} rows. ")
        if balance is None:
            text.append(f"'{target}' has many distinct values: a regression target.")
        else:
            text.append(f"class balance of '{target}': ")
            text.append(
                "  ".join(
                    f"{value or '(empty)'} {count} ({share:.0%})"
                    for value, count, share in balance[:6]
                )
            )
            if len(balance) > 6:
                text.append(f"  ... {len(balance) - 6} more")
            smallest = balance[-1][2]
            if smallest < 0.1:
                text.append(
                    f"\n! the rarest class is {smallest:.0%} of rows: accuracy will "
                    "flatter every model; the profiles rank by f1",
                    style="bold",
                )
        balance_widget.update(text)

    def on_button_pressed(self, event: Button.Pressed) -> None:
        if event.button.id == "setup-create":
            self.action_create()

    def action_create(self) -> None:
        from modelsnap.core.project import write_new_project

        source = self.query_one("#setup-file", Select).value
        target = self.query_one("#setup-target", Select).value
        profile = self.query_one("#setup-profile", Select).value
        task = self.query_one("#setup-task", Select).value
        if source == Select.NULL:
            self._error("choose a data file")
            return
        if target == Select.NULL:
            self._error("choose the target column")
            return
        if task == Select.NULL:
            self._error("choose the task")
            return
        self._error("")
        ticked = set(self.query_one("#setup-sensitive", SelectionList).selected)
        columns = self.preview.columns if self.preview is not None else sorted(ticked)
        self.app.start_task(
            self,
            "create",
            write_new_project,
            self.app.root,
            data_source=str(source),
            target=str(target),
            profile=str(profile),
            task=str(task),
            sensitive=[c for c in columns if c in ticked],
        )
