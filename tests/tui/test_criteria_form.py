"""Step 1 shows and edits every key of modelsnap.toml that affects judging: the min_metric
limits (checked by the project file's own rule), stratify and the split, the primary metric."""

from __future__ import annotations

import dataclasses
import tomllib
from functools import partial

import tui_fixtures
from textual.widgets import Checkbox, Input, Select
from tui_fixtures import write_credit_csv

from modelsnap.core.project.edit import write_new_project
from modelsnap.core.project.schema import CONSTRAINT_KEYS, DataConfig
from modelsnap.core.selection.criteria import current_revision
from modelsnap.tui.app import ModelsnapApp
from modelsnap.tui.screens.confirm import ConfirmAppend

settle = partial(tui_fixtures.settle, rounds=5)  # 5 rounds, as this file's flows always had


async def type_into(app, pilot, selector: str, text: str) -> None:
    widget = app.screen.query_one(selector)
    widget.focus()
    await pilot.pause()
    widget.value = ""
    await pilot.press(*text)
    await pilot.press("escape")


def new_project(tmp_path):
    root = tmp_path / "p"
    root.mkdir()
    write_credit_csv(root / "credit.csv", rows=60)
    write_new_project(root, data_source="credit.csv", target="default", task="classification")
    text = (root / "modelsnap.toml").read_text(encoding="utf-8")
    (root / "modelsnap.toml").write_text("# my notes on this project\n" + text, encoding="utf-8")
    return root


async def test_min_metric_edited_in_step_one_is_written_and_locked(tmp_path):
    root = new_project(tmp_path)
    app = ModelsnapApp(root)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(app, pilot)
        assert app.current_mode == "criteria"
        await type_into(app, pilot, "#limit-min_metric", "recall >= 0.5, precision >= 0.4")
        await type_into(app, pilot, "#criteria-reason", "recall matters")
        await pilot.press("ctrl+l")
        await settle(app, pilot)
        assert isinstance(app.screen, ConfirmAppend)
        shown = " ".join(str(v) for _k, v in app.screen.lines)
        assert "recall >= 0.5, precision >= 0.4" in shown  # not a Python dict
        await pilot.press("y")
        await settle(app, pilot)
        assert app.state.locked
        assert app.screen.query_one("#limit-min_metric", Input).value == (
            "recall >= 0.5, precision >= 0.4"
        )
    text = (root / "modelsnap.toml").read_text(encoding="utf-8")
    assert text.startswith("# my notes on this project\n")  # comments kept
    doc = tomllib.loads(text)
    assert doc["constraints"]["min_metric"] == {"recall": 0.5, "precision": 0.4}
    locked = current_revision(root)
    assert locked["constraints"]["min_metric"] == {"recall": 0.5, "precision": 0.4}


async def test_a_bad_min_metric_is_refused_inline_with_the_file_rule(tmp_path):
    root = new_project(tmp_path)
    before = (root / "modelsnap.toml").read_bytes()
    app = ModelsnapApp(root)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(app, pilot)
        await type_into(app, pilot, "#limit-min_metric", "r2 >= 0.5")
        error = str(app.screen.query_one("#field-min_metric .field-error").content)
        assert "[constraints].min_metric.r2" in error and "a quality metric (accuracy" in error
        await type_into(app, pilot, "#limit-min_metric", "recall >> 0.5")
        error = str(app.screen.query_one("#field-min_metric .field-error").content)
        assert "write metric >= minimum" in error
        await pilot.press("ctrl+s")
        await settle(app, pilot)
        assert "nothing was saved" in str(app.screen.query_one("#criteria-error").content)
    assert (root / "modelsnap.toml").read_bytes() == before


async def test_stratify_and_primary_metric_are_saved_and_the_split_is_fixed_once_drawn(tmp_path):
    root = new_project(tmp_path)
    app = ModelsnapApp(root)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(app, pilot)
        stratify = app.screen.query_one("#data-stratify", Checkbox)
        assert stratify.value is True and not stratify.disabled
        stratify.value = False
        app.screen.query_one("#criteria-primary", Select).value = "recall"
        await pilot.pause()
        await pilot.press("ctrl+s")
        await settle(app, pilot)
        doc = tomllib.loads((root / "modelsnap.toml").read_text(encoding="utf-8"))
        assert doc["data"]["stratify"] is False
        assert doc["selection"]["primary_metric"] == "recall"
        assert doc["data"]["seed"] == 42  # unchanged keys as they were

        (root / "split.npz").write_bytes(b"drawn")  # the first run drew the split
        await pilot.press("ctrl+r")
        await settle(app, pilot)
        assert app.screen.query_one("#data-stratify", Checkbox).disabled
        assert app.screen.query_one("#data-seed", Input).disabled
        assert "fixed for this project" in str(app.screen.query_one("#criteria-split-note").content)


async def test_every_key_that_affects_judging_is_on_screen(tmp_path):
    root = new_project(tmp_path)
    app = ModelsnapApp(root)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(app, pilot)
        screen = app.screen
        for key in CONSTRAINT_KEYS:
            assert screen.query(f"#limit-{key}"), key
        for field in dataclasses.fields(DataConfig):
            if field.name in ("source", "target", "task"):
                continue
            assert screen.query(f"#data-{field.name}"), field.name
        line = str(screen.query_one("#criteria-data-line").content)
        assert "credit.csv" in line and "'default'" in line and "classification" in line
        for selector in ("#criteria-profile", "#criteria-primary", "#criteria-rank-split"):
            assert screen.query(selector)


def test_the_min_metric_parser_reads_pairs_and_uses_the_file_rule():
    import pytest

    from modelsnap.tui.screens.criteria import parse_min_metric, show_min_metric

    assert parse_min_metric("", "classification") is None
    assert parse_min_metric("recall ≥ 0.5; f1: 0.6", "classification") == {
        "recall": 0.5,
        "f1": 0.6,
    }
    assert show_min_metric({"recall": 0.5, "f1": 0.6}) == "recall >= 0.5, f1 >= 0.6"
    assert parse_min_metric("r2 = 0.3", "regression") == {"r2": 0.3}
    for text, words in (
        ("r2 >= 0.3", "a quality metric"),
        ("recall >= 0.5, recall >= 0.6", "given twice"),
        ("recall >= nan", "finite"),
        ("recall >= x", "not a number"),
        ("recall, f1", "write metric >= minimum"),
        ("recall >= 0.5,", "empty pair"),
    ):
        with pytest.raises(ValueError, match=words):
            parse_min_metric(text, "classification")


async def test_the_confirmation_shows_its_own_keys_and_help_names_e_and_esc(tmp_path):
    from textual.widgets import Footer
    from textual.widgets._footer import FooterKey

    from modelsnap.tui.screens.help import HelpPanel

    root = new_project(tmp_path)
    app = ModelsnapApp(root)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(app, pilot)
        await pilot.press("ctrl+l")
        await settle(app, pilot)
        assert isinstance(app.screen, ConfirmAppend)
        footer = app.screen.query_one(Footer)
        keys = {(key.key_display, key.description) for key in footer.query(FooterKey)}
        assert ("y", "Append") in keys and ("n", "Back") in keys, keys
        assert not any(description.startswith("Save") for _key, description in keys), keys
        await pilot.press("n")
        await settle(app, pilot)
        assert not isinstance(app.screen, ConfirmAppend)
        assert current_revision(root) is None

        await pilot.press("question_mark")
        await settle(app, pilot)
        assert isinstance(app.screen, HelpPanel)
        keys_text = " ".join(str(app.screen.query_one(".help-keys").content).split())
        assert "e: the last error on a step, in full" in keys_text
        assert "Esc leaves a text field" in keys_text


def test_min_metric_text_round_trips_every_value():
    from hypothesis import given
    from hypothesis import strategies as st

    from modelsnap.core.measures import CLASSIFICATION_METRICS
    from modelsnap.tui.screens.criteria import parse_min_metric, show_min_metric, show_number

    limits = st.dictionaries(
        st.sampled_from(CLASSIFICATION_METRICS),
        st.floats(allow_nan=False, allow_infinity=False, width=64),
        max_size=4,
    )

    @given(limits)
    def round_trip(value):
        text = show_min_metric(value)
        assert parse_min_metric(text, "classification") == (value or None)

    round_trip()
    assert show_number(0.5) == "0.5" and show_number(0.123456789) == "0.123456789"


async def test_a_criterion_is_added_in_step_one_and_saved_with_its_weight(tmp_path):
    root = new_project(tmp_path)
    app = ModelsnapApp(root)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(app, pilot)
        adder = app.screen.query_one("#criteria-add", Select)
        offered = [value for _label, value in adder._options if value != adder.NULL]
        assert "accuracy" in offered and "f1" not in offered  # f1 is weighed already
        assert "r2" not in offered  # a regression metric on a classification project
        await type_into(app, pilot, "#weight-0", "0.5")  # typed before adding: kept
        adder.value = "accuracy"
        await settle(app, pilot, rounds=2)
        assert app.screen.query_one("#weight-0", Input).value == "0.5"
        await type_into(app, pilot, "#weight-4", "0.25")
        assert "accuracy" not in [value for _label, value in adder._options if value != adder.NULL]
        await pilot.press("ctrl+s")
        await settle(app, pilot)
    text = (root / "modelsnap.toml").read_text(encoding="utf-8")
    assert text.startswith("# my notes on this project\n")
    weights = {c["metric"]: c["weight"] for c in tomllib.loads(text)["criteria"]}
    assert weights["accuracy"] == 0.25 and weights["f1"] == 0.5
