"""The bar across the top of every step screen: the five steps, which are done, where you are.

Done and current are shown with characters (a check mark, brackets), not only colour, so the
bar reads the same under ``NO_COLOR`` and on a monochrome SSH session.
"""

from __future__ import annotations

from textual.app import ComposeResult
from textual.containers import Horizontal
from textual.message import Message
from textual.reactive import reactive
from textual.widgets import Static

from modelsnap.tui.steps import STEPS


class StepLabel(Static):
    """One step in the bar; a click asks to go there."""

    def __init__(self, number: int, **kwargs) -> None:
        super().__init__(markup=False, **kwargs)
        self.number = number

    def on_click(self) -> None:
        self.post_message(StepBar.Selected(self.number))


class StepBar(Horizontal):
    """Shows steps 1-5 with done marks; ``current`` and ``done`` are set by the screen."""

    class Selected(Message):
        """The user clicked a step."""

        def __init__(self, number: int) -> None:
            self.number = number
            super().__init__()

    current: reactive[int] = reactive(0)
    done: reactive[frozenset[int]] = reactive(frozenset())

    def compose(self) -> ComposeResult:
        for step in STEPS:
            yield StepLabel(step.number, id=f"step-{step.number}", classes="step-label")

    _ready = False  # set once the labels exist; watchers may fire before that

    def on_mount(self) -> None:
        self._ready = True
        self._paint()

    def watch_current(self) -> None:
        self._paint()

    def watch_done(self) -> None:
        self._paint()

    def _paint(self) -> None:
        if not self._ready:
            return
        for step in STEPS:
            label = self.query_one(f"#step-{step.number}", StepLabel)
            mark = "✓" if step.number in self.done else " "
            text = f"{step.number}{mark}{step.short}"
            text = f"[{text}]" if step.number == self.current else f" {text} "
            label.update(text)
            label.set_class(step.number == self.current, "-current")
            label.set_class(step.number in self.done, "-done")
