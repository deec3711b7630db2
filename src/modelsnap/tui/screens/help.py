"""The ``?`` panel: why the current step exists and what goes wrong without it."""

from __future__ import annotations

from typing import ClassVar

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Label, Static

from modelsnap.tui.steps import STEPS, Step


class HelpPanel(ModalScreen[None]):
    """A short modal; Escape or ? closes it."""

    BINDINGS: ClassVar = [Binding("escape", "dismiss", "Close", id="help-close")]

    def __init__(self, step: Step) -> None:
        super().__init__()
        self.step = step

    def compose(self) -> ComposeResult:
        prefix = f"Step {self.step.number}: " if self.step.number else ""
        with Vertical(id="help-panel"):
            yield Label(f"{prefix}{self.step.title}", id="help-title", markup=False)
            yield Static("Why this step", classes="help-heading")
            yield Static(self.step.why, markup=False, classes="help-text")
            yield Static("Without it", classes="help-heading")
            yield Static(self.step.without, markup=False, classes="help-text")
            yield Static(
                f"Keys: 1-{len(STEPS)} go to a step · tab / shift+tab move · enter activates · "
                "Esc leaves a text field (then single keys are commands again) · "
                "e: the last error on a step, in full · ctrl+r re-reads the folder "
                "(a CSV copied in, an edited modelsnap.toml) · ctrl+p commands · "
                "ctrl+q quits. Esc or ? closes this.",
                classes="help-keys",
                markup=False,
            )
