"""Set-up for a folder without modelsnap.toml: data file, target column, a preview, a profile,
and the sensitive columns fairness is measured on.

The CSV is read by a worker with the csv module (no pandas in the UI process) for the preview,
the column summary (kind of values, missing values) and the class balance. The target is guessed
from conventional names (``core.project.edit.guess_target``), with the reason shown. Nothing is
written until a file, a target and a profile are chosen and the project is created, and then
only after the same checks ``modelsnap init`` makes (``core.new_project.check_new_project``, run in
a worker). Columns whose names suggest a sensitive attribute (``profiles.suggest_sensitive``)
are listed first and marked, but never ticked for the user: without a ticked column the profile
leaves fairness out. ctrl+r re-reads the folder, so a CSV copied in afterwards is listed.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, ClassVar

from rich.text import Text
from textual import getters, on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, VerticalScroll
from textual.screen import Screen
from textual.widgets import (
    Button,
    Checkbox,
    DataTable,
    Footer,
    Label,
    Select,
    SelectionList,
    Static,
)

from modelsnap.core.profiles import PROFILES, describe_profile, suggest_sensitive
from modelsnap.core.project.edit import guess_target
from modelsnap.tui.csv_preview import CsvPreview, list_csv_files, read_preview
from modelsnap.tui.messages import CsvFilesListed, PreviewReady, ProjectCreated
from modelsnap.tui.project_app import ProjectApp
from modelsnap.tui.state import ProjectState
from modelsnap.tui.steps import SETUP, count_in_words
from modelsnap.tui.widgets.formatting import fill_table, printable
from modelsnap.tui.widgets.step_bar import StepBar


class SetupScreen(Screen[None]):
    """Creates the project file; the app then moves to step 1."""

    app = getters.app(ProjectApp)
    BINDINGS: ClassVar = [Binding("ctrl+s", "create", "Create project", id="setup-create")]

    def __init__(self) -> None:
        super().__init__()
        self.preview: CsvPreview | None = None
        self.files: list[str] | None = None  # the CSV files listed
        self.guess: tuple[str, str] | None = None  # (column, why) for the file shown
        self.class_problem = ""  # a class too small to stratify, as init words it

    def compose(self) -> ComposeResult:
        yield StepBar(id="step-bar")  # nothing done, no step current: set-up comes first
        yield Label(
            f"{SETUP.title} · then the {count_in_words()} steps above",
            id="step-title",
            markup=False,
        )
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
            yield Static("", id="setup-target-why", classes="note setup-why", markup=False)
            with Horizontal(classes="form-row"):
                yield Label("Profile", classes="form-label")
                yield Select(
                    [(name, name) for name in PROFILES],
                    value="balanced",
                    id="setup-profile",
                    allow_blank=False,
                    compact=True,
                )
            yield Static(
                describe_profile("balanced"),
                id="setup-profile-note",
                classes="note setup-why",
                markup=False,
            )
            with Horizontal(classes="form-row"):
                yield Label("Task", classes="form-label")
                yield Select(
                    [("classification", "classification"), ("regression", "regression")],
                    id="setup-task",
                    prompt="guessed from the target",
                    compact=True,
                )
            with Horizontal(classes="form-row"):
                yield Label("Stratify", classes="form-label")
                yield Checkbox(
                    "keep the class balance in each split",
                    value=True,
                    id="setup-stratify",
                    compact=True,
                )
            yield Label("", id="setup-error", classes="error", markup=False)
            yield Static("", id="setup-balance", markup=False)
            yield Label("Sensitive columns (fairness is measured per group of each)", markup=False)
            yield SelectionList[str](id="setup-sensitive", compact=True)
            yield Static("", id="setup-sensitive-note", classes="note", markup=False)
            yield Label("Columns", classes="section", markup=False)
            yield DataTable(id="setup-columns", show_cursor=False, zebra_stripes=True)
            yield Label("First rows", classes="section", markup=False)
            yield DataTable(id="setup-preview", show_cursor=False, zebra_stripes=True)
            yield Button("Create project", id="setup-create", variant="primary", compact=True)
        yield Footer()

    def on_mount(self) -> None:
        self.app.run_task(self, CsvFilesListed, list_csv_files, self.app.root)

    def show_state(self, state: ProjectState) -> None:
        """The folder was re-read (ctrl+r): list its CSV files again, so one copied in since
        appears; the file already chosen stays chosen. The app moves on once a project exists."""
        if self.is_mounted and not state.has_project:
            self.app.run_task(self, CsvFilesListed, list_csv_files, self.app.root)

    def _error(self, text: str, *, mark: str = "✗ ") -> None:
        label = self.query_one("#setup-error", Label)
        label.update(printable(f"{mark}{text}", newlines=True) if text else "")
        label.display = bool(text)

    @on(CsvFilesListed)
    def _files_listed(self, message: CsvFilesListed) -> None:
        files = message.result or []
        select = self.query_one("#setup-file", Select)
        chosen = select.value
        if files == self.files:
            return  # nothing new in the folder: keep everything as it is
        self.files = list(files)
        options = [(name, name) for name in files]
        if chosen in files:
            with select.prevent(Select.Changed):  # the file shown stays, and its preview
                select.set_options(options)
                select.value = chosen
        else:
            select.set_options(options)  # a chosen file that is gone clears its preview
        if not files:
            self._error("no CSV file in this folder: copy your data here, then ctrl+r")
        elif chosen not in files and len(files) == 1:
            self._error("")
            select.value = files[0]
        elif chosen not in files:
            self._error(f"{len(files)} CSV files: choose the data file")

    @on(ProjectCreated)
    def _created(self, message: ProjectCreated) -> None:
        if message.error:
            self._error(message.error)
        else:
            self.app.reload_state()

    def on_select_changed(self, event: Select.Changed) -> None:
        if event.select.id == "setup-file":
            self.preview = None
            self.guess = None
            self.query_one("#setup-target", Select).set_options([])
            self.query_one("#setup-target-why", Static).update("")
            self.query_one("#setup-balance", Static).update("")
            self.query_one("#setup-preview", DataTable).clear(columns=True)
            self.query_one("#setup-columns", DataTable).clear(columns=True)
            self.query_one("#setup-sensitive", SelectionList).clear_options()
            self.query_one("#setup-sensitive-note", Static).update("")
            if event.value != Select.NULL:
                self._error("")
                self._read(str(event.value))
        elif event.select.id == "setup-target":
            why = self.query_one("#setup-target-why", Static)
            if self.guess is not None and event.value == self.guess[0]:
                why.update(self.guess[1])
            else:
                why.update("chosen by you" if event.value != Select.NULL else "")
            self._show_balance()
            self._offer_sensitive()
            self._show_columns()
            if self.preview is not None and event.value != Select.NULL:
                self.query_one("#setup-task", Select).value = self.preview.guess_task(
                    str(event.value)
                )
            self._check_classes()
        elif event.select.id == "setup-profile":
            self.query_one("#setup-profile-note", Static).update(
                describe_profile(str(event.value)) if event.value != Select.NULL else ""
            )
        elif event.select.id == "setup-task":
            self._check_classes()

    def on_checkbox_changed(self, event: Checkbox.Changed) -> None:
        if event.checkbox.id == "setup-stratify":
            self._check_classes()

    def _check_classes(self) -> None:
        """The rule ``init`` applies (``core.project.parse.check_class_sizes``), on the counts the
        preview already has: a class too small to stratify is refused here, in init's words."""
        from modelsnap.core.errors import ModelsnapError
        from modelsnap.core.project.parse import check_class_sizes

        target = self.query_one("#setup-target", Select).value
        task = self.query_one("#setup-task", Select).value
        stratify = self.query_one("#setup-stratify", Checkbox).value
        problem = ""
        if (
            self.preview is not None
            and target != Select.NULL
            and task == "classification"
            and stratify
        ):
            counts = self.preview.class_counts(str(target))
            try:
                check_class_sizes(counts or {}, where=self.preview.path.name, turn_off=TURN_OFF)
            except ModelsnapError as error:
                problem = str(error)
        if problem != self.class_problem or problem:
            self._error(problem)
        self.class_problem = problem

    def _read(self, name: str) -> None:
        self.app.run_task(self, PreviewReady, preview_in, self.app.root, name)

    @on(PreviewReady)
    def _preview_ready(self, message: PreviewReady) -> None:
        if message.error or message.result is None:
            self._error(message.error)
            return
        preview = message.result
        self.preview = preview
        fill_table(
            self.query_one("#setup-preview", DataTable),
            preview.columns,
            [(row, None) for row in preview.rows],
        )
        self.guess = guess_target(preview.columns)
        target = self.query_one("#setup-target", Select)
        target.set_options([(column, column) for column in preview.columns])
        if self.guess is not None:
            target.value = self.guess[0]

    def _show_columns(self) -> None:
        """One row per column: its kind of values, missing values and distinct values."""
        table = self.query_one("#setup-columns", DataTable)
        if self.preview is None:
            table.clear(columns=True)
            return
        target = self.query_one("#setup-target", Select).value
        rows = []
        for summary in self.preview.summaries:
            share = summary.missing / self.preview.n_rows if self.preview.n_rows else 0.0
            missing = f"{summary.missing} ({share:.0%})" if summary.missing else "0"
            distinct = "> 50" if summary.distinct is None else str(summary.distinct)
            role = "target" if summary.name == target else ""
            rows.append(([summary.name, summary.kind, missing, distinct, role], None))
        fill_table(table, ["column", "values", "missing", "distinct", ""], rows)

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
        self._check_classes()
        if self.class_problem:
            return  # shown by _check_classes: nothing is written
        self._error("checking the data as modelsnap init does ...", mark="")
        ticked = set(self.query_one("#setup-sensitive", SelectionList).selected)
        columns = self.preview.columns if self.preview is not None else sorted(ticked)
        self.app.run_task(
            self,
            ProjectCreated,
            create_project,
            self.app.root,
            data_source=str(source),
            target=str(target),
            profile=str(profile),
            task=str(task),
            stratify=self.query_one("#setup-stratify", Checkbox).value,
            sensitive=[c for c in columns if c in ticked],
        )


def preview_in(root: Path, name: str) -> CsvPreview:
    """The preview of a data file named inside the project folder (``files.inside``)."""
    from modelsnap.core.files import inside

    return read_preview(inside(root, name, what="data file"))


# How the set-up screen stops stratifying, for the hint of a class too small to stratify.
TURN_OFF = "untick Stratify"


def create_project(
    root: Any, *, data_source: str, target: str, profile: str, task: str, **options: Any
) -> Any:
    """The checks ``modelsnap init`` makes, then the file (``core.project``): a CSV init would
    refuse is refused here with the same message. Loads the data with pandas: a worker's job."""
    from modelsnap.core.new_project import check_new_project
    from modelsnap.core.project.edit import write_new_project

    dataset = check_new_project(
        root,
        data_source=data_source,
        target=target,
        profile=profile,
        task=task,
        turn_off=TURN_OFF,
        **options,
    )
    return write_new_project(
        root,
        data_source=data_source,
        target=target,
        profile=profile,
        task=dataset.task,
        positive_label=dataset.positive_label,
        **options,
    )
