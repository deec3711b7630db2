"""The try-rows panel of step 5, driven with the pilot on a decided project with real models:
pick a test row, predict with every model (in the worker process), type a row, save it as an
edge case."""

from __future__ import annotations

import csv
import io
from pathlib import Path

import pytest

from modelsnap.core.project.parse import load_project
from modelsnap.tui.app import ModelsnapApp
from modelsnap.tui.screens.try_rows import TryRowsScreen, field_id

pytestmark = pytest.mark.slow


async def settle(app, pilot, rounds: int = 6) -> None:
    for _ in range(rounds):
        await app.workers.wait_for_complete()
        await pilot.pause(0.05)


def shown(screen, selector: str) -> str:
    return str(screen.query_one(selector).render())


async def open_panel(app, pilot) -> TryRowsScreen:
    await settle(app, pilot)
    await pilot.press("5")
    await settle(app, pilot)
    await pilot.press("p")
    await settle(app, pilot)
    panel = app.screen
    assert isinstance(panel, TryRowsScreen)
    assert panel.form is not None, shown(panel, "#try-error")
    return panel


async def test_a_test_row_is_predicted_by_every_model_side_by_side(decided_project: Path):
    app = ModelsnapApp(decided_project)
    async with app.run_test(size=(110, 45)) as pilot:
        panel = await open_panel(app, pilot)
        assert "test rows (ctrl+t)" in shown(panel, "#try-source")
        await pilot.press("ctrl+t")
        await pilot.pause()
        assert "filled from test row" in shown(panel, "#try-source")
        assert panel.values()["region"] in ("north", "south", "east", "west")
        await pilot.press("ctrl+r")
        await settle(app, pilot)
        answers = shown(panel, "#try-answers")
        assert "logistic" in answers and "tree" in answers, shown(panel, "#try-error")
        assert "yes 0." in answers and "no 0." in answers
        assert "expected: " in answers
        assert ("the models disagree" in answers) != ("the models agree" in answers)
        await pilot.press("escape")
        await pilot.pause()
        assert not isinstance(app.screen, TryRowsScreen)


async def test_a_typed_row_is_saved_as_an_edge_case(decided_project: Path):
    assert load_project(decided_project).data.edge_cases is None
    app = ModelsnapApp(decided_project)
    async with app.run_test(size=(110, 45)) as pilot:
        panel = await open_panel(app, pilot)
        panel.query_one(f"#{field_id(0)}").value = "70"
        panel.query_one(f"#{field_id(1)}").value = "10000"
        panel.query_one(f"#{field_id(2)}").value = "north"
        await pilot.press("ctrl+r")
        await settle(app, pilot)
        assert "logistic" in shown(panel, "#try-answers"), shown(panel, "#try-error")

        panel.query_one("#try-case").value = "old applicant, low income"
        panel.query_one("#try-expected").value = "maybe"
        await pilot.press("ctrl+s")
        await settle(app, pilot)
        assert "'maybe' is not a class of the data set" in shown(panel, "#try-error")
        assert not (decided_project / "edge_cases.csv").exists()

        panel.query_one("#try-expected").value = "no"
        panel.query_one("#try-severity").value = "high"
        await pilot.press("ctrl+s")
        await settle(app, pilot)
        assert "✓ saved old applicant, low income to edge_cases.csv (1 cases)" in shown(
            panel, "#try-error"
        )
    rows = list(csv.DictReader(io.StringIO((decided_project / "edge_cases.csv").read_text())))
    assert rows == [
        {
            "case": "old applicant, low income",
            "age": "70",
            "income": "10000",
            "region": "north",
            "approved": "no",
            "severity": "high",
        }
    ]
    assert load_project(decided_project).data.edge_cases == "edge_cases.csv"
