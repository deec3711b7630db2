"""Try rows by hand (step 5, key ``p``): every competing model's answer for one row.

The last look before deciding. The form is built from the data's columns and their types
(``core.followup.trying.row_form``): numeric columns take a number (empty = missing),
categorical ones offer the values the data holds. Fill it by hand, or pick a row of the test
split (``t``) or a case of the edge-case file (``e``), then predict (``ctrl+r``): every
competing model answers side by side (``api.trying.predict_values``, the models run in the
worker process, as ``modelsnap predict``), with the class probabilities and a mark where they
disagree. ``ctrl+s`` saves the row as a new edge case with the expected answer and severity you
enter (``core.followup.trying.append_edge_case``): appended to the edge-case file, which step 4
then shows as changed. Escape closes the panel.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, ClassVar

from textual import getters, on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Button, Input, Label, Select, Static

from modelsnap.core.text import printable
from modelsnap.tui.messages import EdgeCaseAppended, RowFormRead, RowPredicted, TaskResult
from modelsnap.tui.project_app import ProjectApp

SEVERITY_CHOICES = (("normal", "normal"), ("high", "high"), ("must-pass", "must-pass"))


def field_id(index: int) -> str:
    return f"try-field-{index}"


def answers_text(result: dict[str, Any], expected: str = "") -> str:
    """The models' answers for the first row, one line each, the expected answer when known,
    and whether they disagree."""
    if not result.get("rows"):
        return ""
    row = result["rows"][0]
    names = {m["id"]: m["name"] or m["id"] for m in result["models"]}
    width = max((len(n) for n in names.values()), default=8)
    lines = []
    for answer in row["predictions"]:
        name = names.get(answer["id"], answer["id"]).ljust(width)
        if "error" in answer:
            lines.append(f"{name}  ✗ {answer['error']}")
            continue
        value = answer["prediction"]
        if result["task"] == "regression":
            text = f"{float(value):.6g}" if isinstance(value, (int, float)) else str(value)
        else:
            text = str(value)
            proba = answer.get("proba") or {}
            if proba:
                text += "   " + "  ".join(
                    f"{cls} {p:.2f}" for cls, p in proba.items() if isinstance(p, (int, float))
                )
        lines.append(f"{name}  {text}")
    expected = expected or ("" if row["expected"] is None else str(row["expected"]))
    if expected:
        lines.append(f"expected: {expected}")
    lines.append("! the models disagree" if row["disagree"] else "✓ the models agree")
    lines += [f"! {w}" for w in result.get("warnings", [])]
    return "\n".join(lines)


class TryRowsScreen(ModalScreen[None]):
    """The try-rows panel over step 5."""

    app = getters.app(ProjectApp)

    BINDINGS: ClassVar = [
        Binding("escape", "close", "Close", id="try-close"),
        Binding("ctrl+r", "predict", "Predict", id="try-predict"),
        Binding("ctrl+s", "save", "Save as edge case", id="try-save"),
        Binding("ctrl+t", "next_test", "Test row", id="try-test"),
        Binding("ctrl+e", "next_edge", "Edge case", id="try-edge"),
    ]

    def __init__(self, root: Path) -> None:
        super().__init__()
        self.root = Path(root)
        self.form: dict[str, Any] | None = None
        self._test_at = -1
        self._edge_at = -1
        self._label = "typed row"

    def compose(self) -> ComposeResult:
        with VerticalScroll(id="try-panel"):
            yield Label("Try rows: every competing model's answer for one row", id="try-title")
            yield Static("reading the data's columns ...", id="try-source", markup=False)
            yield VerticalScroll(id="try-fields")
            with Horizontal(classes="buttons"):
                yield Button(
                    "Predict (ctrl+r)", id="try-predict-button", variant="primary", compact=True
                )
                yield Button("Test row (ctrl+t)", id="try-test-button", compact=True)
                yield Button("Edge case (ctrl+e)", id="try-edge-button", compact=True)
            yield Static("", id="try-answers", markup=False)
            yield Label("Save as edge case", classes="section")
            with Horizontal(classes="form-row"):
                yield Label("Case name", classes="form-label")
                yield Input(id="try-case", placeholder="what the row tests", compact=True)
            with Horizontal(classes="form-row"):
                yield Label("Expected", classes="form-label")
                yield Input(
                    id="try-expected", placeholder="the answer a sound model gives", compact=True
                )
            with Horizontal(classes="form-row"):
                yield Label("Severity", classes="form-label")
                yield Select(
                    SEVERITY_CHOICES,
                    value="normal",
                    allow_blank=False,
                    id="try-severity",
                    compact=True,
                )
            with Horizontal(classes="buttons"):
                yield Button("Save as edge case (ctrl+s)", id="try-save-button", compact=True)
                yield Button("Close (esc)", id="try-close-button", compact=True)
            yield Label("", id="try-error", classes="error", markup=False)

    def on_mount(self) -> None:
        from modelsnap.core.followup.trying import row_form

        self.app.run_task(self, RowFormRead, row_form, self.root)

    # -- the form ------------------------------------------------------------------------

    def build_form(self, form: dict[str, Any]) -> None:
        self.form = form
        holder = self.query_one("#try-fields", VerticalScroll)
        rows = []
        for index, (column, kind) in enumerate(form["columns"].items()):
            if kind == "numeric":
                field: Any = Input(
                    id=field_id(index), placeholder="number (empty = missing)", compact=True
                )
            else:
                options = [(printable(v, limit=40), v) for v in form["choices"].get(column, [])]
                field = Select(options, prompt="(missing)", id=field_id(index), compact=True)
            rows.append(
                Horizontal(
                    Label(printable(column, limit=24), classes="form-label"),
                    field,
                    classes="form-row",
                )
            )
        holder.mount_all(rows)
        counts = (
            f"{len(form['test_rows'])} test rows (ctrl+t) and {len(form['edge_rows'])} "
            f"edge cases (ctrl+e) to pick from, or type a row"
        )
        if form.get("edge_problem"):
            counts += f"; the edge-case file cannot be read: {form['edge_problem']}"
        self.query_one("#try-source", Static).update(counts)
        self.query_one("#try-expected", Input).placeholder = f"{form['target']}: " + (
            ", ".join(form["classes"]) if form["classes"] else "a number"
        )

    def values(self) -> dict[str, str]:
        """The form as column -> text (empty = missing)."""
        out: dict[str, str] = {}
        if self.form is None:
            return out
        for index, column in enumerate(self.form["columns"]):
            widget = self.query_one(f"#{field_id(index)}")
            if isinstance(widget, Select):
                value = widget.value
                out[column] = "" if value is Select.BLANK or value is None else str(value)
            else:
                out[column] = widget.value.strip()
        return out

    def fill(self, entry: dict[str, Any]) -> None:
        assert self.form is not None
        for index, column in enumerate(self.form["columns"]):
            widget = self.query_one(f"#{field_id(index)}")
            value = entry["values"].get(column, "")
            if isinstance(widget, Select):
                known = value in self.form["choices"].get(column, [])
                widget.value = value if known else Select.BLANK
            else:
                widget.value = value
        self._label = entry["label"]
        self.query_one("#try-expected", Input).value = entry.get("expected", "")
        self.query_one("#try-source", Static).update(f"filled from {entry['label']}")
        self.query_one("#try-answers", Static).update("")

    def _next(self, key: str, at: int) -> int:
        if self.form is None or not self.form[key]:
            self.notify(
                "nothing to pick from" if self.form else "still reading the data",
                severity="warning",
            )
            return at
        at = (at + 1) % len(self.form[key])
        self.fill(self.form[key][at])
        return at

    # -- actions -------------------------------------------------------------------------

    def action_next_test(self) -> None:
        self._test_at = self._next("test_rows", self._test_at)

    def action_next_edge(self) -> None:
        self._edge_at = self._next("edge_rows", self._edge_at)

    def action_predict(self) -> None:
        from modelsnap.api.trying import predict_values

        if self.form is None:
            return
        self.query_one("#try-error", Label).update("")
        self.query_one("#try-answers", Static).update("predicting in the worker process ...")
        self.app.run_task(
            self, RowPredicted, predict_values, self.root, self.values(), label=self._label
        )

    def action_save(self) -> None:
        from modelsnap.core.followup.trying import append_edge_case

        if self.form is None:
            return
        case = self.query_one("#try-case", Input).value
        expected = self.query_one("#try-expected", Input).value
        severity = str(self.query_one("#try-severity", Select).value)
        self.app.run_task(
            self,
            EdgeCaseAppended,
            append_edge_case,
            self.root,
            self.values(),
            expected=expected,
            severity=severity,
            case=case,
        )

    def action_close(self) -> None:
        self.dismiss(None)

    def on_input_changed(self, event: Input.Changed) -> None:
        if (event.input.id or "").startswith("try-field-"):
            self._label = "typed row"

    def on_button_pressed(self, event: Button.Pressed) -> None:
        event.stop()
        action = {
            "try-predict-button": self.action_predict,
            "try-test-button": self.action_next_test,
            "try-edge-button": self.action_next_edge,
            "try-save-button": self.action_save,
            "try-close-button": self.action_close,
        }.get(event.button.id or "")
        if action is not None:
            action()

    def _answered(self, message: TaskResult[Any]) -> bool:
        """Show a refusal under the form, or clear the last one; True when there is a result."""
        message.stop()
        error = self.query_one("#try-error", Label)
        if message.error:
            error.update(f"✗ {printable(message.error, newlines=True)}")
            error.scroll_visible()
            return False
        error.update("")
        return True

    @on(RowFormRead)
    def _form_read(self, message: RowFormRead) -> None:
        if self._answered(message):
            self.build_form(message.value)

    @on(RowPredicted)
    def _predicted(self, message: RowPredicted) -> None:
        answers = self.query_one("#try-answers", Static)
        if not self._answered(message):
            answers.update("")
            return
        expected = self.query_one("#try-expected", Input).value.strip()
        answers.update(answers_text(message.value, expected))

    @on(EdgeCaseAppended)
    def _appended(self, message: EdgeCaseAppended) -> None:
        if not self._answered(message):
            return
        saved = message.value
        error = self.query_one("#try-error", Label)
        error.update(
            f"✓ saved {printable(saved['case'])!s} to {saved['file']} "
            f"({saved['n_cases']} cases): run the edge cases again in step 4"
        )
        error.scroll_visible()
        self.app.reload_state()
