"""Edit criterion weights and see them normalised as you type.

Weights are relative: the ranking divides each by their sum. Showing the normalised share
beside every input makes that visible (0.5 and 5 mean the same thing once alone).
"""

from __future__ import annotations

from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical
from textual.message import Message
from textual.widgets import Input, Label

from modelsnap.tui.widgets.field import parse_float


class WeightsEditor(Vertical):
    """One row per criterion: metric, direction, weight input, normalised share, error."""

    DEFAULT_CSS = """
    WeightsEditor { height: auto; }
    WeightsEditor .weight-row { height: 1; }
    WeightsEditor .weight-metric { width: 22; padding: 0 1 0 0; }
    WeightsEditor Input { width: 10; }
    WeightsEditor .weight-share { width: 6; padding: 0 0 0 1; }
    WeightsEditor .weight-error { width: 1fr; padding: 0 0 0 1; color: $error; }
    WeightsEditor #weights-total { height: 1; }
    """

    class Changed(Message):
        """New weights (metric -> raw weight), or None while some input is invalid."""

        def __init__(self, editor: WeightsEditor, weights: dict[str, float] | None) -> None:
            self.editor = editor
            self.weights = weights
            super().__init__()

        @property
        def control(self) -> WeightsEditor:
            return self.editor

    def __init__(self, criteria: list[tuple[str, float, str]], **kwargs) -> None:
        """``criteria``: (metric, weight, direction) in display order."""
        super().__init__(**kwargs)
        self.criteria = list(criteria)
        self._parse = parse_float(minimum=0.0)

    def compose(self) -> ComposeResult:
        for index, (metric, weight, direction) in enumerate(self.criteria):
            with Horizontal(classes="weight-row"):
                arrow = "↑" if direction == "max" else "↓"
                yield Label(f"{metric} {arrow}", classes="weight-metric", markup=False)
                yield Input(
                    f"{weight:g}", id=f"weight-{index}", classes="weight-input", compact=True
                )
                yield Label("", id=f"share-{index}", classes="weight-share")
                yield Label("", id=f"error-{index}", classes="weight-error", markup=False)
        yield Label("", id="weights-total", markup=False)

    def on_mount(self) -> None:
        self.weights()

    def weights(self) -> dict[str, float] | None:
        """Current raw weights, or None if any is invalid (errors shown inline)."""
        values: dict[str, float] = {}
        ok = True
        for index, (metric, _weight, _direction) in enumerate(self.criteria):
            text = self.query_one(f"#weight-{index}", Input).value
            error = self.query_one(f"#error-{index}", Label)
            try:
                values[metric] = self._parse(text)
                error.update("")
            except ValueError as exc:
                error.update(f"✗ {exc}")
                ok = False
        from modelsnap.core.selection.ranking import normalise_weights

        total = sum(values.values())
        shares = normalise_weights(values) if ok else {}
        for index, (metric, _weight, _direction) in enumerate(self.criteria):
            share = self.query_one(f"#share-{index}", Label)
            if ok and shares:
                share.update(f"{shares.get(metric, 0.0):.0%}")
            else:
                share.update("")
        summary = self.query_one("#weights-total", Label)
        if ok and not shares:
            summary.update("✗ at least one weight must be above 0")
            ok = False
        elif ok:
            summary.update(f"sum {total:g}: shares are each weight / sum")
        else:
            summary.update("")
        return values if ok else None

    def on_input_changed(self, event: Input.Changed) -> None:
        if event.input.has_class("weight-input"):
            event.stop()
            self.post_message(self.Changed(self, self.weights()))
