"""The whole checklist driven by keys, from an empty folder to a recorded decision.

Real CSV, real scikit-learn fits in the profiler's worker processes, real files; few latency
trials so it stays quick.
"""

from __future__ import annotations

from functools import partial
from pathlib import Path

import pytest
import tomlkit
import tui_fixtures
from tui_fixtures import write_credit_csv, write_edge_csv

from modelsnap.core.records.decision_log import read_decisions
from modelsnap.tui.app import ModelsnapApp
from modelsnap.tui.screens.confirm import ConfirmAppend

pytestmark = pytest.mark.slow


settle = partial(tui_fixtures.settle, rounds=4)  # 4 rounds, as this file's flows always had


async def type_into(app, pilot, selector: str, text: str, *, clear: bool = True) -> None:
    widget = app.screen.query_one(selector)
    widget.focus()
    await pilot.pause()
    if clear:
        widget.value = ""
    await pilot.press(*text)


def quick_runs(root: Path) -> None:
    """What a user in a hurry edits in modelsnap.toml: fewer latency trials, two candidates."""
    doc = tomlkit.parse((root / "modelsnap.toml").read_text())
    doc["run"]["latency_trials"] = 15
    doc["run"]["latency_warmup"] = 2
    doc["run"]["batch_size"] = 32
    candidates = doc["candidates"]
    while len(candidates) > 1:
        del candidates[-1]
    candidates[0]["params"]["n_estimators"] = 20
    (root / "modelsnap.toml").write_text(tomlkit.dumps(doc))


async def test_empty_folder_to_recorded_decision(tmp_path):
    root = tmp_path / "credit"
    root.mkdir()
    write_credit_csv(root / "credit.csv")
    write_edge_csv(root / "edge_cases.csv")
    app = ModelsnapApp(root)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(app, pilot)
        # Set-up: the only CSV is picked, its last column proposed as target, task guessed.
        assert app.current_mode == "setup"
        screen = app.screen
        screen.query_one("#setup-file").focus()
        await pilot.press("enter", "down", "enter")  # the first CSV: credit.csv
        await settle(app, pilot)
        assert screen.query_one("#setup-file").value == "credit.csv"
        assert screen.query_one("#setup-target").value == "default"
        assert screen.query_one("#setup-task").value == "classification"
        assert "class balance of 'default'" in str(screen.query_one("#setup-balance").content)
        await pilot.press("ctrl+s")
        await settle(app, pilot)
        assert (root / "modelsnap.toml").is_file()
        assert app.current_mode == "criteria"
        quick_runs(root)
        app.reload_state()
        await settle(app, pilot)

        # Step 1: fairness groups and the edge-case file, then save and lock.
        await type_into(app, pilot, "#limit-max_latency_p95_ms", "1000")  # a shared, busy CPU
        await type_into(app, pilot, "#data-sensitive", "region")
        await type_into(app, pilot, "#data-edge_cases", "edge_cases.csv")
        await type_into(app, pilot, "#criteria-reason", "first lock")
        await pilot.press("ctrl+l")
        await settle(app, pilot)
        assert isinstance(app.screen, ConfirmAppend)  # what will be locked, shown first
        await pilot.press("y")
        await settle(app, pilot)
        assert app.state.locked and app.state.revision["revision"] == 1
        assert app.state.config.data.sensitive == ["region"]

        # Step 2: the baseline runs in the profiler and lands as a card.
        await pilot.press("escape")  # leave the text field so single keys are commands
        await pilot.press("2")
        await settle(app, pilot)
        assert app.current_mode == "baseline"
        await pilot.press("r")
        await settle(app, pilot, rounds=8)
        assert app.screen.failures == {}
        assert app.state.baseline is not None

        # Step 3: every candidate.
        await pilot.press("3")
        await settle(app, pilot)
        await pilot.press("a")
        await settle(app, pilot, rounds=8)
        assert app.screen.failures == {}
        assert [s["name"] for s in app.state.candidates] == ["random_forest"]
        assert "gain" in app.state.candidates[0]

        # Step 4: edge cases across the snapshots; the matrix has one row per case.
        await pilot.press("4")
        await settle(app, pilot)
        await pilot.press("r")
        await settle(app, pilot, rounds=8)
        assert app.state.done()[4]
        matrix = app.screen.query_one("#edge-matrix")
        assert matrix.row_count == 4

        # Step 5: ranked; a decision without a rationale is refused inline, then recorded.
        await pilot.press("5")
        await settle(app, pilot)
        screen = app.screen
        assert screen.result is not None
        assert [e.name for e in screen.result.ranked] == ["random_forest"], screen.result.to_dict()
        assert [r["name"] for r in screen.result.rejected] == ["logistic"]  # no edge must-pass
        await pilot.press("t")
        await settle(app, pilot)
        assert "Significance vs baseline" in str(screen.query_one("#ranking-significance").content)
        await pilot.press("ctrl+s")
        await settle(app, pilot)
        assert "needs a rationale" in str(screen.query_one("#decision-error").content)
        assert read_decisions(root) == []
        await type_into(app, pilot, "#decision-rationale", "best f1 within budget", clear=False)
        await pilot.press("ctrl+s")
        await settle(app, pilot)
        await pilot.press("y")  # the confirmation
        await settle(app, pilot)
        decisions = read_decisions(root)
        assert len(decisions) == 1, screen.query_one("#decision-error").content
        assert decisions[0]["rationale"] == "best f1 within budget"
        assert decisions[0]["criteria_revision"] == 1
        assert app.state.done() == {1: True, 2: True, 3: True, 4: True, 5: True}


async def test_bad_limit_is_shown_beside_the_field_and_nothing_is_written(tmp_path):
    root = tmp_path / "p"
    root.mkdir()
    write_credit_csv(root / "credit.csv", rows=60)
    from modelsnap.core.project.edit import write_new_project

    write_new_project(root, data_source="credit.csv", target="default", task="classification")
    before = (root / "modelsnap.toml").read_bytes()
    app = ModelsnapApp(root)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(app, pilot)
        assert app.current_mode == "criteria"
        await type_into(app, pilot, "#limit-max_size_mb", "big")
        await type_into(app, pilot, "#weight-0", "-1")
        await pilot.press("ctrl+l")
        await settle(app, pilot)
        screen = app.screen
        assert "not a number" in str(screen.query_one("#field-max_size_mb .field-error").content)
        assert "at least 0" in str(screen.query_one("#error-0").content)
        assert "nothing was saved" in str(screen.query_one("#criteria-error").content)
    assert (root / "modelsnap.toml").read_bytes() == before
    assert not (root / "criteria_revisions.toml").exists()


async def test_command_palette_offers_the_main_actions(tmp_path):
    root = tmp_path / "p"
    root.mkdir()
    write_credit_csv(root / "credit.csv", rows=60)
    from modelsnap.core.project.edit import write_new_project

    write_new_project(root, data_source="credit.csv", target="default", task="classification")
    app = ModelsnapApp(root)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(app, pilot)
        await pilot.press("ctrl+p")
        await pilot.pause(0.2)
        await pilot.press(*"lock criteria")
        await pilot.pause(0.5)
        await pilot.press("enter")
        await settle(app, pilot)
        await pilot.press("y")  # the confirmation
        await settle(app, pilot)
        assert app.state.locked
        await pilot.press("ctrl+p")
        await pilot.pause(0.2)
        await pilot.press(*"step 4")
        await pilot.pause(0.5)
        await pilot.press("enter")
        await settle(app, pilot)
        assert app.current_mode == "edge"


async def test_what_if_weights_rerank_at_once_and_are_saved_only_when_asked(tmp_path):
    from tui_fixtures import write_fixed_project

    root = tmp_path / "project"
    write_fixed_project(root)
    before = (root / "modelsnap.toml").read_bytes()
    app = ModelsnapApp(root, open_step=5)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(app, pilot)
        screen = app.screen
        original = [e.name for e in screen.result.ranked]
        assert screen.result.weights["f1"] == pytest.approx(0.4)
        await type_into(app, pilot, "#weight-1", "5")  # latency_p95_ms dominates now
        await settle(app, pilot)
        assert screen.result.weights["latency_p95_ms"] == pytest.approx(5 / 5.8)
        assert "what-if weights, not saved" in str(screen.query_one("#ranking-warnings").content)
        fastest = min(screen.result.ranked, key=lambda e: e.values["latency_p95_ms"])
        assert screen.result.ranked[0].id == fastest.id
        assert [e.name for e in screen.result.ranked] != original
        assert (root / "modelsnap.toml").read_bytes() == before
        await pilot.press("ctrl+s")  # a decision on unsaved what-if weights is refused
        await settle(app, pilot)
        assert "what-if weights" in str(screen.query_one("#decision-error").content)
        await pilot.press("escape", "ctrl+o")
        await settle(app, pilot)
        assert (root / "modelsnap.toml").read_bytes() != before
        assert app.state.config.criteria[1].weight == 5.0
        assert not app.state.locked  # saved weights need a new lock before a decision


async def _setup_with_credit_csv(app, pilot) -> None:
    await settle(app, pilot)
    assert app.current_mode == "setup"
    app.screen.query_one("#setup-file").value = "credit.csv"
    await settle(app, pilot)
    assert app.screen.query_one("#setup-target").value == "default"


async def test_setup_suggests_sensitive_columns_without_ticking_them(tmp_path):
    import tomllib

    root = tmp_path / "p"
    root.mkdir()
    write_credit_csv(root / "credit.csv", rows=60)
    app = ModelsnapApp(root)
    async with app.run_test(size=(80, 24)) as pilot:
        await _setup_with_credit_csv(app, pilot)
        choices = app.screen.query_one("#setup-sensitive")
        values = [choices.get_option_at_index(i).value for i in range(choices.option_count)]
        assert values[:2] == ["age", "region"] and "default" not in values
        assert choices.selected == []
        note = str(app.screen.query_one("#setup-sensitive-note").content)
        assert "suggested: age, region" in note and "leave fairness out" in note
        await pilot.press("ctrl+s")
        await settle(app, pilot)
    doc = tomllib.loads((root / "modelsnap.toml").read_text(encoding="utf-8"))
    assert doc["data"]["sensitive"] == []
    assert "fairness_gap" not in [c["metric"] for c in doc["criteria"]]
    assert "max_fairness_gap" not in doc["constraints"]
    assert sum(c["weight"] for c in doc["criteria"]) == pytest.approx(1.0)


async def test_setup_writes_the_ticked_sensitive_columns_and_keeps_fairness(tmp_path):
    import tomllib

    root = tmp_path / "p"
    root.mkdir()
    write_credit_csv(root / "credit.csv", rows=60)
    app = ModelsnapApp(root)
    async with app.run_test(size=(80, 24)) as pilot:
        await _setup_with_credit_csv(app, pilot)
        choices = app.screen.query_one("#setup-sensitive")
        choices.focus()
        choices.highlighted = 1  # the second suggestion: region
        await pilot.press("space")
        await pilot.pause()
        assert choices.selected == ["region"]
        await pilot.press("ctrl+s")
        await settle(app, pilot)
    doc = tomllib.loads((root / "modelsnap.toml").read_text(encoding="utf-8"))
    assert doc["data"]["sensitive"] == ["region"]
    assert "fairness_gap" in [c["metric"] for c in doc["criteria"]]
    assert doc["constraints"]["max_fairness_gap"] == 0.15


async def test_step_one_refuses_to_lock_a_fairness_limit_without_a_sensitive_column(tmp_path):
    root = tmp_path / "p"
    root.mkdir()
    write_credit_csv(root / "credit.csv", rows=60)
    from modelsnap.core.project.edit import write_new_project

    write_new_project(root, data_source="credit.csv", target="default", task="classification")
    app = ModelsnapApp(root)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(app, pilot)
        assert app.current_mode == "criteria"
        await type_into(app, pilot, "#limit-max_fairness_gap", "0.1")
        await pilot.press("ctrl+l")
        await settle(app, pilot)
        if app.screen.query("#confirm-append"):  # a confirmation of what will be locked
            await pilot.press("y")
            await settle(app, pilot)
        error = str(app.screen.query_one("#criteria-error").content)
        assert "fairness_gap needs a sensitive column" in error, error
        assert not app.state.locked
    assert not (root / "criteria_revisions.toml").exists()
