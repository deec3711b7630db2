"""The whole of an error, in a panel that wraps and scrolls: ``e`` on any step opens it.

Inline errors wrap too, but a model's own exception (a scikit-learn parameter message, a
traceback's last line) can be longer than a narrow terminal shows beside a form; here nothing
is cut.
"""

from __future__ import annotations

from typing import ClassVar

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Label, Static


class ErrorPanel(ModalScreen[None]):
    """Escape, e or q closes it."""

    BINDINGS: ClassVar = [Binding("escape,e,q", "dismiss", "Close", id="error-close")]

    def __init__(self, text: str, *, title: str = "The last error, in full") -> None:
        super().__init__()
        self.text = text
        self.title_text = title

    def compose(self) -> ComposeResult:
        with Vertical(id="error-panel"):
            yield Label(self.title_text, id="error-title", markup=False)
            with VerticalScroll(id="error-body"):
                yield Static(self.text, id="error-text", markup=False)
            yield Static("Escape closes this.", classes="help-keys", markup=False)
