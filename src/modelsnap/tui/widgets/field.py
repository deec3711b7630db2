"""A labelled input with its error shown right beside it.

Bad input is reported where it was typed, as it is typed; the screen reads ``value`` only when
every field says it is valid, so nothing is written from a half-valid form.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

from textual.app import ComposeResult
from textual.containers import Horizontal
from textual.widgets import Input, Label

Parser = Callable[[str], Any]  # returns the parsed value or raises ValueError with a message


class Field(Horizontal):
    """``label`` | input | error. ``parser`` turns the text into a value or raises ValueError."""

    DEFAULT_CSS = """
    Field { height: auto; }
    Field > .field-label { width: 22; padding: 0 1 0 0; }
    Field > Input { width: 20; }
    Field > .field-error { width: 1fr; height: auto; padding: 0 0 0 1; color: $error; }
    """

    def __init__(
        self,
        label: str,
        value: str = "",
        *,
        parser: Parser = str,
        placeholder: str = "",
        field_id: str | None = None,
        **kwargs,
    ) -> None:
        super().__init__(**kwargs)
        self.label = label
        self.parser = parser
        self._initial = value
        self._placeholder = placeholder
        self._field_id = field_id

    def compose(self) -> ComposeResult:
        yield Label(self.label, classes="field-label", markup=False)
        yield Input(self._initial, placeholder=self._placeholder, id=self._field_id, compact=True)
        yield Label("", classes="field-error", markup=False)

    @property
    def input(self) -> Input:
        return self.query_one(Input)

    @property
    def text(self) -> str:
        return self.input.value

    def parse(self) -> tuple[bool, Any]:
        """(ok, value); shows or clears the error label as a side effect."""
        try:
            value = self.parser(self.input.value)
        except ValueError as exc:
            self.query_one(".field-error", Label).update(f"✗ {exc}")
            return False, None
        self.query_one(".field-error", Label).update("")
        return True, value

    def on_input_changed(self, event: Input.Changed) -> None:
        self.parse()


def parse_optional_float(*, minimum: float | None = None, maximum: float | None = None) -> Parser:
    """A parser for an optional number: empty means 'no limit' (None)."""

    def parse(text: str) -> float | None:
        text = text.strip()
        if not text:
            return None
        try:
            value = float(text)
        except ValueError:
            raise ValueError(f"{text!r} is not a number") from None
        if not math.isfinite(value):
            raise ValueError("must be a finite number")
        if minimum is not None and value < minimum:
            raise ValueError(f"must be at least {minimum:g}")
        if maximum is not None and value > maximum:
            raise ValueError(f"must be at most {maximum:g}")
        return value

    return parse


def parse_float(*, minimum: float | None = None, maximum: float | None = None) -> Parser:
    """A parser for a required number."""
    optional = parse_optional_float(minimum=minimum, maximum=maximum)

    def parse(text: str) -> float:
        value = optional(text)
        if value is None:
            raise ValueError("required")
        return value

    return parse
