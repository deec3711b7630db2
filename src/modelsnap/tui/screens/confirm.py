"""A confirmation before an append-only write: what will be appended, then yes or no.

Locking criteria and recording a decision cannot be undone (the files are append-only and
chained), so the TUI shows the record first. ``y`` or Enter on "Append" confirms; ``n`` or Escape
goes back with nothing written.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import ClassVar

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Button, Footer, Label, Static

from modelsnap.core.text import printable


class ConfirmAppend(ModalScreen[bool]):
    """Dismisses with True to write, False to go back."""

    BINDINGS: ClassVar = [
        Binding("y", "confirm", "Append", id="confirm-yes"),
        Binding("n", "cancel", "Back", id="confirm-no"),
        Binding("escape", "cancel", "Back", show=False, id="confirm-escape"),
    ]

    def __init__(self, title: str, lines: Sequence[tuple[str, str]], *, target: str) -> None:
        super().__init__()
        self.title_text = title
        self.lines = list(lines)
        self.target = target

    def compose(self) -> ComposeResult:
        with Vertical(id="confirm-panel"):
            yield Label(self.title_text, id="confirm-title", markup=False)
            with VerticalScroll(id="confirm-body"):
                for key, value in self.lines:
                    with Horizontal(classes="confirm-row"):
                        yield Label(key, classes="confirm-key", markup=False)
                        yield Static(
                            printable(value, newlines=True), classes="confirm-value", markup=False
                        )
            yield Static(
                f"This is appended to {self.target} and cannot be edited later "
                "(append-only, hash-chained).",
                classes="confirm-note",
                markup=False,
            )
            with Horizontal(classes="buttons"):
                yield Button("Append (y)", id="confirm-append", variant="primary", compact=True)
                yield Button("Back (n)", id="confirm-back", compact=True)
        yield Footer()  # this dialog's own keys, over the step's footer behind it

    def on_mount(self) -> None:
        self.query_one("#confirm-back", Button).focus()

    def action_confirm(self) -> None:
        self.dismiss(True)

    def action_cancel(self) -> None:
        self.dismiss(False)

    def on_button_pressed(self, event: Button.Pressed) -> None:
        event.stop()
        self.dismiss(event.button.id == "confirm-append")
