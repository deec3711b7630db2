"""Choose a model: from the menu of common estimators or by dotted path, with its parameters.

Every field validates as you type (name, path, TOML parameters), and ``check`` in the screen
then asks the core to import the estimator and apply the parameters in a worker thread, so an
unknown parameter is reported beside the field before anything is written.
"""

from __future__ import annotations

from typing import Any

from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical
from textual.widgets import Input, Label, Select

from modelsnap.tui.model_choices import (
    ModelChoice,
    format_params,
    parse_dotted_path,
    parse_model_name,
    parse_params,
)
from modelsnap.tui.widgets.field import Field


class ModelForm(Vertical):
    """Menu + name + estimator + params; ``spec()`` returns the entry or None (errors inline)."""

    DEFAULT_CSS = """
    ModelForm { height: auto; }
    ModelForm .form-row { height: 1; }
    ModelForm .form-row > Label { width: 22; padding: 0 1 0 0; }
    ModelForm .form-row > Select { width: 1fr; }
    ModelForm Field > Input { width: 1fr; }
    ModelForm Field > .field-error { width: 1fr; max-width: 40; }
    """

    def __init__(self, choices: tuple[ModelChoice, ...], *, prefix: str, **kwargs) -> None:
        super().__init__(**kwargs)
        self.choices = {choice.name: choice for choice in choices}
        self.prefix = prefix

    def compose(self) -> ComposeResult:
        with Horizontal(classes="form-row"):
            yield Label("Model", markup=False)
            yield Select(
                [
                    (f"{c.name}  ({c.estimator.rsplit('.', 1)[-1]})", c.name)
                    for c in self.choices.values()
                ],
                prompt="choose, or type a dotted path below",
                id=f"{self.prefix}-menu",
                compact=True,
            )
        yield Field(
            "name",
            parser=parse_model_name,
            field_id=f"{self.prefix}-name",
            id=f"{self.prefix}-name-field",
        )
        yield Field(
            "estimator",
            parser=parse_dotted_path,
            placeholder="sklearn.svm.SVC",
            field_id=f"{self.prefix}-estimator",
            id=f"{self.prefix}-estimator-field",
        )
        yield Field(
            "params",
            parser=parse_params,
            placeholder="max_depth = 3",
            field_id=f"{self.prefix}-params",
            id=f"{self.prefix}-params-field",
        )
        yield Label("", id=f"{self.prefix}-check", classes="error", markup=False)

    def on_select_changed(self, event: Select.Changed) -> None:
        if event.select.id != f"{self.prefix}-menu" or event.value == Select.NULL:
            return
        event.stop()
        choice = self.choices[str(event.value)]
        self.fill(choice.name, choice.estimator, choice.params)

    def fill(self, name: str, estimator: str, params: dict[str, Any]) -> None:
        self.query_one(f"#{self.prefix}-name", Input).value = name
        self.query_one(f"#{self.prefix}-estimator", Input).value = estimator
        self.query_one(f"#{self.prefix}-params", Input).value = format_params(params)

    def spec(self) -> dict[str, Any] | None:
        values = {}
        ok = True
        for key in ("name", "estimator", "params"):
            good, value = self.query_one(f"#{self.prefix}-{key}-field", Field).parse()
            ok = ok and good
            values[key] = value
        return values if ok else None

    def show_check(self, text: str) -> None:
        self.query_one(f"#{self.prefix}-check", Label).update(text)
