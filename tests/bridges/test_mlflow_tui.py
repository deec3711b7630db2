"""The palette's MLflow dialogs: the same core calls as the commands, run in a worker thread,
with the outcome (or the error) shown inline."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from modelsnap.core.records.store import list_snapshots
from modelsnap.tui.app import ModelsnapApp

mlflow = pytest.importorskip("mlflow", reason="mlflow is not installed: pip install -e '.[test]'")


async def wait_for(pilot, condition, seconds: float = 120.0) -> None:
    for _ in range(int(seconds / 0.2)):
        if condition():
            return
        await pilot.pause(0.2)
    raise AssertionError("the dialog did not finish in time")


async def open_from_palette(app, pilot, title: str) -> None:
    await pilot.press("ctrl+p")
    await pilot.pause(0.3)
    await pilot.press(*title.lower())
    await pilot.pause(0.6)
    await pilot.press("enter")
    await pilot.pause(0.3)


async def test_export_and_a_refused_import_from_the_palette(sample: Path, tracking: str) -> None:
    from textual.widgets import Input, Static

    from modelsnap.tui.screens.mlflow_bridge import MlflowDialog

    before = [s["id"] for s in list_snapshots(sample)[0]]
    app = ModelsnapApp(sample)
    async with app.run_test(size=(100, 40)) as pilot:
        await pilot.pause(0.5)
        await open_from_palette(app, pilot, "Export to MLflow")
        dialog = app.screen
        assert isinstance(dialog, MlflowDialog) and dialog.mode == "export"
        dialog.query_one("#mlflow-uri", Input).value = tracking
        await pilot.click("#mlflow-start")
        status = dialog.query_one("#mlflow-status", Static)
        await wait_for(pilot, lambda: "added 5 run(s)" in str(status.content))
        assert "added 5 run(s) and 1 decision(s), skipped 0" in str(status.content)
        await pilot.press("escape")
        await pilot.pause(0.3)

        await open_from_palette(app, pilot, "Import runs from MLflow")
        dialog = app.screen
        assert isinstance(dialog, MlflowDialog) and dialog.mode == "import"
        dialog.query_one("#mlflow-uri", Input).value = tracking
        dialog.query_one("#mlflow-experiment", Input).value = "Credit default"
        await pilot.click("#mlflow-start")
        error = dialog.query_one("#mlflow-error", Static)
        await wait_for(pilot, lambda: bool(str(error.content)))
        assert "--trust-pickle" in str(error.content)
        assert "nothing was written" in str(dialog.query_one("#mlflow-status", Static).content)
        await asyncio.sleep(0)
    mlflow.set_tracking_uri(tracking)
    frame = mlflow.search_runs(experiment_names=["Credit default"])
    assert len(frame) == 5
    assert [s["id"] for s in list_snapshots(sample)[0]] == before
