"""What every step screen shares: the step bar on top, a scrolling body, the footer.

A step screen gets the project state pushed into ``show_state`` whenever the folder was re-read,
and builds its body from that state only.

Where keys go is always visible: while a text field has focus, the footer is replaced by
"typing in Rationale — Esc to leave" and the field is marked; everywhere else single keys are
commands (1-5 steps, r run, ...). Escape always leaves the field. The last error a screen showed
is one key away (``e``) in full, however narrow the terminal.
"""

from __future__ import annotations

from typing import ClassVar

from textual import events, getters
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical, VerticalScroll
from textual.lazy import Lazy
from textual.screen import Screen
from textual.widget import Widget
from textual.widgets import Footer, Input, Label, Static, TextArea

from modelsnap.tui.project_app import ProjectApp
from modelsnap.tui.state import ProjectState
from modelsnap.tui.steps import STEPS, Step
from modelsnap.tui.widgets.step_bar import StepBar


class Deferred(Vertical):
    """The part of a step below the fold, mounted after the first frame (``textual.lazy.Lazy``)
    so the step appears sooner; once it is there, the screen fills it from the state."""

    DEFAULT_CSS = "Deferred { height: auto; }"

    def on_mount(self) -> None:
        screen = self.screen
        if isinstance(screen, StepScreen) and screen.state is not None:
            screen.show_state(screen.state)


class _AfterFirstFrame(Lazy):
    """``textual.lazy.Lazy`` that lets go when its screen is gone before the next refresh: a
    quit right after the first frame made Lazy mount into a removed screen (MountError, a
    traceback on the way out)."""

    async def mount_composed_widgets(self, widgets: list[Widget]) -> None:
        parent = self.parent
        if not isinstance(parent, Widget):
            return

        async def mount() -> None:
            if not parent.is_attached or not self.is_attached:
                return  # the screen was closed meanwhile
            await parent.mount(self._replace_widget, after=self)
            await self.remove()

        self.call_after_refresh(mount)


def deferred(section_id: str) -> Lazy:
    """Use as ``with deferred("x-lower"):`` in ``compose_body``."""
    return _AfterFirstFrame(Deferred(id=section_id))


TEXT_FIELDS = (Input, TextArea)


def field_name(widget: Widget) -> str:
    """What a person calls a text field: its own label, the label before it in its row, or
    the label of the ``Field`` around it ("Rationale", "params", "f1 weight")."""
    explicit = getattr(widget, "field_name", None)
    if explicit:
        return str(explicit)
    parent = widget.parent
    label = getattr(parent, "label", None)
    if isinstance(label, str) and label:
        return label
    text = ""
    if parent is not None:
        siblings = list(parent.children)
        before = siblings[: siblings.index(widget)] if widget in siblings else siblings
        for sibling in reversed(before):
            if isinstance(sibling, Label):
                text = str(sibling.content)
                break
    for stop in (" (", ":"):
        text = text.split(stop, 1)[0]
    text = text.strip().rstrip("↑↓").strip()
    if text and parent is not None and parent.has_class("weight-row"):
        text = text + " weight"
    return text or "a text field"


def typing_in(screen: Screen) -> Widget | None:
    """The text field that has focus on ``screen``, if any (keys then type, not command)."""
    focused = screen.focused
    return focused if isinstance(focused, TEXT_FIELDS) else None


class StepScreen(Screen[None]):
    """Base for the step screens; subclasses set STEP (their ``tui.steps`` entry) and fill
    ``compose_body``."""

    STEP: Step
    app = getters.app(ProjectApp)  # typed: the calls a screen may make on the app
    BINDINGS: ClassVar = [
        Binding(
            "e",
            "show_error",
            "Full error",
            id="show-error",
            tooltip="The last error on this screen, whole, in a panel",
        ),
    ]

    def __init__(self) -> None:
        super().__init__()
        self.last_error = ""

    def compose(self) -> ComposeResult:
        yield StepBar(id="step-bar")
        yield Label(self.STEP.title, id="step-title", markup=False)
        with VerticalScroll(id="step-body"):
            yield from self.compose_body()
        yield Static("", id="typing-hint", markup=False)
        yield Footer()

    # -- where keys go ------------------------------------------------------------------

    def on_descendant_focus(self, event: events.DescendantFocus) -> None:
        self._show_typing()

    def on_descendant_blur(self, event: events.DescendantBlur) -> None:
        self.call_later(self._show_typing)

    def _show_typing(self) -> None:
        if not self.is_mounted:
            return
        field = typing_in(self)
        hints = self.query("#typing-hint")
        footers = self.query(Footer)
        if not hints or not footers:
            return
        hint, footer = hints.first(Static), footers.first(Footer)
        for area in self.query(TextArea):
            area.border_subtitle = "typing · Esc to leave" if area is field else ""
        if field is not None:
            hint.update(f"✎ typing in {field_name(field)} — Esc to leave (then keys are commands)")
        hint.display = field is not None
        footer.display = field is None
        self.set_class(field is not None, "-typing")
        self.refresh_bindings()

    # -- errors -------------------------------------------------------------------------

    def show_error(self, target: Widget, text: str) -> None:
        """Put an error on ``target`` (a label that wraps) and keep it whole for ``e``."""
        from modelsnap.core.text import printable
        from modelsnap.tui.wording import tui_words

        text = printable(tui_words(text), newlines=True)
        target.update(f"✗ {text}")  # type: ignore[attr-defined]
        self.last_error = text
        self.refresh_bindings()

    def clear_error(self) -> None:
        """The action the error was about succeeded: ``e`` has nothing to show any more."""
        if self.last_error:
            self.last_error = ""
            self.refresh_bindings()

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "show_error":
            return bool(self.last_error)
        return True

    def action_show_error(self) -> None:
        from modelsnap.tui.screens.error_panel import ErrorPanel

        if self.last_error:
            self.app.push_screen(ErrorPanel(self.last_error))

    def compose_body(self) -> ComposeResult:
        yield from ()

    @property
    def state(self) -> ProjectState | None:
        return self.app.state

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
        if not self.is_attached:
            # The app is ending (or this screen was removed): a refresh that arrives now, such
            # as the lower part of a step mounting just after a quit, has nowhere to mount.
            return
        done = state.done()
        bar = self.query_one(StepBar)
        bar.done = frozenset(number for number, ok in done.items() if ok)
        mark = "done" if done.get(self.STEP.number) else "to do"
        self.query_one("#step-title", Label).update(
            f"Step {self.STEP.number} of {len(STEPS)} · {self.STEP.title} · {mark} · {state.name}"
        )
        self.refresh_body(state)

    def refresh_body(self, state: ProjectState) -> None:
        """Rebuild what this screen shows from ``state``."""

    def on_step_bar_selected(self, message: StepBar.Selected) -> None:
        self.app.action_goto_step(message.number)
