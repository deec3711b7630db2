"""What every step screen shares: the step bar on top, a scrolling body, the footer.

A step screen gets the project state pushed into ``show_state`` whenever the folder was re-read,
and builds its body from that state only.
"""

from __future__ import annotations

from textual.app import ComposeResult
from textual.containers import Vertical, VerticalScroll
from textual.lazy import Lazy
from textual.screen import Screen
from textual.widgets import Footer, Label

from modelsnap.tui.state import ProjectState
from modelsnap.tui.steps import Step
from modelsnap.tui.widgets.step_bar import StepBar


class Deferred(Vertical):
    """The part of a step below the fold, mounted after the first frame (``textual.lazy.Lazy``)
    so the step appears sooner; once it is there, the screen fills it from the state."""

    DEFAULT_CSS = "Deferred { height: auto; }"

    def on_mount(self) -> None:
        screen = self.screen
        if isinstance(screen, StepScreen) and screen.state is not None:
            screen.show_state(screen.state)


def deferred(section_id: str) -> Lazy:
    """Use as ``with deferred("x-lower"):`` in ``compose_body``."""
    return Lazy(Deferred(id=section_id))


class StepScreen(Screen[None]):
    """Base for the five step screens; subclasses set STEP and fill ``compose_body``."""

    STEP: Step

    def compose(self) -> ComposeResult:
        yield StepBar(id="step-bar")
        yield Label(self.STEP.title, id="step-title", markup=False)
        with VerticalScroll(id="step-body"):
            yield from self.compose_body()
        yield Footer()

    def compose_body(self) -> ComposeResult:
        yield from ()

    @property
    def state(self) -> ProjectState | None:
        return getattr(self.app, "state", None)

    def on_mount(self) -> None:
        bar = self.query_one(StepBar)
        bar.current = self.STEP.number
        if self.state is not None:
            self.show_state(self.state)

    def on_screen_resume(self) -> None:
        if self.state is not None and self.is_mounted:
            self.show_state(self.state)

    def show_state(self, state: ProjectState) -> None:
        """Refresh from a new state; subclasses extend ``refresh_body``."""
        done = state.done()
        bar = self.query_one(StepBar)
        bar.done = frozenset(number for number, ok in done.items() if ok)
        mark = "done" if done.get(self.STEP.number) else "to do"
        self.query_one("#step-title", Label).update(
            f"Step {self.STEP.number} of 5 · {self.STEP.title} · {mark} · {state.name}"
        )
        self.refresh_body(state)

    def refresh_body(self, state: ProjectState) -> None:
        """Rebuild what this screen shows from ``state``."""

    def on_step_bar_selected(self, message: StepBar.Selected) -> None:
        self.app.action_goto_step(message.number)
