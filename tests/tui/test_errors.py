"""Every error is readable at 80x24: it wraps where it is shown, and ``e`` opens it whole.

A parameter the estimator refuses (``n_neighbors = -3``) is caught before modelsnap.toml is
written, with scikit-learn's own message; a run that fails in the worker keeps the model's
exception message whole in the log pane, on the card and in the panel.
"""

from __future__ import annotations

from functools import partial
from pathlib import Path

import pytest
import tomlkit
import tui_fixtures
from textual.geometry import Region
from tui_fixtures import write_credit_csv

from modelsnap.core.project.edit import write_new_project
from modelsnap.core.project.parse import load_project
from modelsnap.core.selection.criteria import lock_criteria
from modelsnap.tui.app import ModelsnapApp
from modelsnap.tui.screens.error_panel import ErrorPanel

SKLEARN_SAYS = (
    "InvalidParameterError: The 'n_neighbors' parameter of KNeighborsClassifier must be an "
    "int in the range [1, inf) or None. Got -3 instead."
)


def project(root: Path) -> None:
    root.mkdir()
    write_credit_csv(root / "credit.csv", rows=120)
    write_new_project(root, data_source="credit.csv", target="default", task="classification")
    lock_criteria(load_project(root), reason="test")


settle = partial(tui_fixtures.settle, rounds=4)  # 4 rounds, as this file's flows always had


def shown(widget) -> str:
    """The text a widget puts on screen, line by line, joined with spaces: what a person can
    read without scrolling sideways."""
    width, height = widget.size
    lines = [strip.text.rstrip() for strip in widget.render_lines(Region(0, 0, width, height))]
    return " ".join(line.strip() for line in lines if line.strip())


def on_screen(app, widget) -> bool:
    region = widget.region
    return region.width > 0 and app.screen.region.contains_region(region)


async def test_a_refused_parameter_is_shown_whole_inline_and_nothing_is_written(tmp_path):
    root = tmp_path / "p"
    project(root)
    before = (root / "modelsnap.toml").read_bytes()
    app = ModelsnapApp(root, open_step=3)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(app, pilot)
        screen = app.screen
        screen.query_one("#candidate-name").value = "knn"
        screen.query_one("#candidate-estimator").value = "sklearn.neighbors.KNeighborsClassifier"
        screen.query_one("#candidate-params").value = "n_neighbors = -3"
        await pilot.pause()
        await pilot.press("escape", "ctrl+s")
        await settle(app, pilot)
        check = screen.query_one("#candidate-check")
        check.scroll_visible(animate=False)
        await pilot.pause(0.1)
        assert on_screen(app, check)
        assert check.size.height > 1  # wrapped, not cut at the edge
        assert SKLEARN_SAYS in shown(check)
        assert screen.last_error and SKLEARN_SAYS in screen.last_error
        await pilot.press("e")
        await pilot.pause(0.1)
        assert isinstance(app.screen, ErrorPanel)
        text = app.screen.query_one("#error-text")
        assert on_screen(app, text) and SKLEARN_SAYS in shown(text)
        await pilot.press("escape")
        await pilot.pause(0.05)
        assert app.screen is screen
    assert (root / "modelsnap.toml").read_bytes() == before


@pytest.mark.slow
async def test_a_model_exception_from_a_run_reads_whole_at_80_columns(tmp_path):
    root = tmp_path / "p"
    project(root)
    doc = tomlkit.parse((root / "modelsnap.toml").read_text())
    doc["run"]["latency_trials"] = 5
    doc["run"]["latency_warmup"] = 1
    while len(doc["candidates"]) > 1:
        del doc["candidates"][-1]
    knn = doc["candidates"][0]
    knn["name"] = "knn"
    knn["estimator"] = "sklearn.neighbors.KNeighborsClassifier"
    knn["params"] = {"n_neighbors": -3}  # written by hand: the form would refuse it
    (root / "modelsnap.toml").write_text(tomlkit.dumps(doc))
    app = ModelsnapApp(root, open_step=3)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(app, pilot)
        await pilot.press("r")
        await settle(app, pilot, rounds=10)
        screen = app.screen
        assert screen.failures["knn"][0] == "error"
        status = str(screen.query_one("#run-status").content)
        assert "1 of 1 finished" in status and "press e" in status
        assert any(SKLEARN_SAYS in line for line in screen.query_one("RunPanel").lines)
        await pilot.press("e")
        await pilot.pause(0.1)
        text = app.screen.query_one("#error-text")
        assert on_screen(app, text) and SKLEARN_SAYS in shown(text)
