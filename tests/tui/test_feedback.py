"""Runs say where they are: '2 of 3 · model · stage %', rows update as each model finishes,
a refused run says why, and edge-case runs move model by model. Real runs and real files."""

from __future__ import annotations

import shutil
from functools import partial
from pathlib import Path

import pytest
import tomlkit
import tui_fixtures
from tui_fixtures import write_credit_csv

from modelsnap.core.project.edit import write_new_project
from modelsnap.core.project.parse import load_project
from modelsnap.core.selection.criteria import lock_criteria
from modelsnap.tui.app import ModelsnapApp
from modelsnap.tui.screens.candidates import CandidatesScreen
from modelsnap.tui.screens.edge_cases import EdgeCasesScreen
from modelsnap.tui.widgets.run_panel import RunPanel

pytestmark = pytest.mark.slow

SAMPLE = Path(__file__).resolve().parents[2] / "sample_project"


settle = partial(tui_fixtures.settle, rounds=4)  # 4 rounds, as this file's flows always had


def two_quick_candidates(root: Path) -> None:
    root.mkdir()
    write_credit_csv(root / "credit.csv", rows=200)
    write_new_project(root, data_source="credit.csv", target="default", task="classification")
    doc = tomlkit.parse((root / "modelsnap.toml").read_text())
    doc["run"]["latency_trials"] = 5
    doc["run"]["latency_warmup"] = 1
    while len(doc["candidates"]) > 2:
        del doc["candidates"][-1]
    for candidate in doc["candidates"]:
        if "n_estimators" in candidate.get("params", {}):
            candidate["params"]["n_estimators"] = 10
    (root / "modelsnap.toml").write_text(tomlkit.dumps(doc))
    lock_criteria(load_project(root), reason="test")


async def test_rows_update_as_each_model_finishes_and_the_batch_says_where_it_is(
    tmp_path, monkeypatch
):
    root = tmp_path / "p"
    two_quick_candidates(root)
    names = [spec.name for spec in load_project(root).candidates]
    tables: list[dict[str, str]] = []
    statuses: list[str] = []
    fill = CandidatesScreen._fill_table
    set_status = RunPanel.set_status

    def record_table(self, state):
        fill(self, state)
        table = self.query_one("#candidates-table")
        tables.append({name: str(table.get_row(name)[1]) for name in names})

    def record_status(self, text):
        statuses.append(text)
        set_status(self, text)

    monkeypatch.setattr(CandidatesScreen, "_fill_table", record_table)
    monkeypatch.setattr(RunPanel, "set_status", record_status)
    app = ModelsnapApp(root, open_step=3)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(app, pilot)
        await pilot.press("a")
        await settle(app, pilot, rounds=12)
        assert not app.running
    first, second = names
    # While the second model ran, the first one's new snapshot was already in its row.
    assert any(
        row[first].startswith("✓") and row[second].startswith(("▶", "…")) for row in tables
    ), tables
    assert any(s.startswith(f"1 of 2 · {first} · fit") for s in statuses), statuses
    assert any(s.startswith(f"2 of 2 · {second} · ") and " %" in s for s in statuses)
    assert statuses[-1] == "2 of 2 finished"
    assert all(row.startswith("✓") for row in tables[-1].values())


async def test_a_refused_run_says_why(tmp_path):
    root = tmp_path / "p"
    two_quick_candidates(root)
    app = ModelsnapApp(root, open_step=2)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(app, pilot)
        await pilot.press("r")  # the baseline
        await pilot.pause(0.1)
        assert app.running
        await pilot.press("3")
        await pilot.pause(0.2)
        await pilot.press("a")
        await pilot.pause(0.1)
        said = [n.message for n in app._notifications]
        assert "a run is in progress (the baseline): Esc to cancel it first" in said
        await settle(app, pilot, rounds=8)


async def test_edge_cases_move_model_by_model(tmp_path, monkeypatch):
    root = tmp_path / "sample"
    shutil.copytree(SAMPLE, root)
    seen: list[tuple[float, str]] = []
    progress = EdgeCasesScreen.on_run_progress

    def record(self, message):
        progress(self, message)
        seen.append(
            (
                self.query_one("#edge-progress").progress,
                str(self.query_one("#edge-status").content),
            )
        )

    monkeypatch.setattr(EdgeCasesScreen, "on_run_progress", record)
    app = ModelsnapApp(root, open_step=4)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(app, pilot)
        await pilot.press("r")
        await settle(app, pilot, rounds=8)
    total = len(list((root / "snapshots").glob("*.toml")))
    assert [round(bar) for bar, _ in seen] == [round(100 * k / total) for k in range(1, total + 1)]
    assert seen[0][1].startswith(f"1 of {total} models · ")
    assert len(list((root / "edge_runs").glob("*.toml"))) == 2  # the committed run and this one
