"""Step 5's decision form: recorded only under the locked criteria, after a confirmation that
shows what will be appended; keys typed in a text field stay there. Real files, no model fits."""

from __future__ import annotations

import os
from functools import partial
from pathlib import Path

import pytest
import tui_fixtures

from modelsnap.core.files import sha256_file
from modelsnap.core.project.parse import load_project
from modelsnap.core.records.decision_log import read_decisions
from modelsnap.core.records.store import write_snapshot
from modelsnap.core.selection.criteria import lock_criteria
from modelsnap.tui.app import ModelsnapApp
from modelsnap.tui.screens.confirm import ConfirmAppend

PROJECT = """
[project]
name = "decide"
[data]
source = "data.csv"
target = "y"
task = "classification"
positive_label = "yes"
[selection]
profile = "custom"
primary_metric = "f1"
[[criteria]]
metric = "f1"
weight = 0.7
[[criteria]]
metric = "latency_p95_ms"
weight = 0.3
[constraints]
max_latency_p95_ms = 50.0
"""

RATIONALE = "best f1 within the latency budget"


@pytest.fixture
def root(tmp_path: Path, make_body, make_staged) -> Path:
    root = tmp_path / "p"
    root.mkdir()
    (root / "data.csv").write_text("a,y\n1,yes\n2,no\n")
    (root / "modelsnap.toml").write_text(PROJECT)
    lock_criteria(load_project(root))
    for minute, (name, kind, f1, latency) in enumerate(
        [("logistic", "baseline", 0.70, 1.0), ("forest", "candidate", 0.80, 8.0)]
    ):
        body = make_body(
            name=name,
            kind=kind,
            created_at=f"2026-11-26T07:0{minute}:00+00:00",
            metrics={"validation": {"f1": f1}, "test": {"f1": f1}},
            resources={"fit_seconds": 0.1, "size_mb": 0.5, "latency_p95_ms": latency},
        )
        body["data"]["dataset_sha256"] = sha256_file(root / "data.csv")
        write_snapshot(root, body, staged_files=make_staged(root, name.encode()))
    return root


settle = partial(tui_fixtures.settle, rounds=4)  # 4 rounds, as this file's flows always had


async def fill_rationale(app, pilot, text: str) -> None:
    area = app.screen.query_one("#decision-rationale")
    area.focus()
    await pilot.pause()
    area.text = text


def error_text(app) -> str:
    return str(app.screen.query_one("#decision-error").content)


async def test_a_decision_is_confirmed_first_and_back_writes_nothing(root):
    os.environ.setdefault("MODELSNAP_USER", "tester")
    app = ModelsnapApp(root)
    async with app.run_test(size=(100, 40)) as pilot:
        await settle(app, pilot)
        await pilot.press("5")
        await settle(app, pilot)
        ranking = app.screen
        assert [e.name for e in ranking.result.ranked][0] == "forest"
        await fill_rationale(app, pilot, RATIONALE)
        await pilot.press("ctrl+s")
        await settle(app, pilot)
        assert isinstance(app.screen, ConfirmAppend)
        shown = " ".join(str(s.content) for s in app.screen.query(".confirm-value"))
        assert "forest" in shown and RATIONALE in shown and "revision 1" in shown
        await pilot.press("n")
        await settle(app, pilot)
        assert app.screen is ranking and read_decisions(root) == []
        assert "nothing was written" in error_text(app)

        # Recording parses every snapshot file (most of a minute at 100,000): counted.
        label = app.screen.query_one("#decision-error")
        shown: list[str] = []
        update = label.update
        label.update = lambda text="": (shown.append(str(text)), update(text))[1]
        await pilot.press("ctrl+s")
        await settle(app, pilot)
        await pilot.press("y")
        await settle(app, pilot)
        decisions = read_decisions(root)
        assert len(decisions) == 1, error_text(app)
        assert "recording: read 2 of 2 snapshot files ..." in shown
        assert shown[-1].startswith("✓ recorded")
        assert decisions[0]["rationale"] == RATIONALE
        assert decisions[0]["criteria_revision"] == 1
        assert decisions[0]["constraints"] == {"max_latency_p95_ms": 50.0}


async def test_saved_but_unlocked_edits_cannot_be_decided_on(root):
    app = ModelsnapApp(root)
    async with app.run_test(size=(100, 40)) as pilot:
        await settle(app, pilot)
        await pilot.press("1")
        await settle(app, pilot)
        field = app.screen.query_one("#limit-max_latency_p95_ms")
        field.focus()
        await pilot.pause()
        field.value = "5"  # would reject the forest (8 ms)
        await pilot.press("ctrl+s")
        await settle(app, pilot)
        assert "max_latency_p95_ms = 5" in (root / "modelsnap.toml").read_text()
        await pilot.press("escape", "5")
        await settle(app, pilot)
        ranking = app.screen
        # Ranked under revision 1 still: the forest is not rejected by the saved edit.
        assert [e.name for e in ranking.result.ranked][0] == "forest"
        warnings = str(ranking.query_one("#ranking-warnings").content)
        assert "criteria changed since revision 1" in warnings
        await fill_rationale(app, pilot, RATIONALE)
        await pilot.press("ctrl+s")
        await settle(app, pilot)
        assert not isinstance(app.screen, ConfirmAppend)
        assert "lock" in error_text(app).lower()
        assert read_decisions(root) == []


async def test_keys_typed_in_the_rationale_stay_there(root):
    app = ModelsnapApp(root)
    async with app.run_test(size=(100, 40)) as pilot:
        await settle(app, pilot)
        await pilot.press("5")
        await settle(app, pilot)
        ranking = app.screen
        await fill_rationale(app, pilot, "")
        await pilot.press("2", "r")
        await settle(app, pilot)
        assert app.screen is ranking
        assert ranking.query_one("#decision-rationale").text == "2r"
        await pilot.press("ctrl+s")
        await settle(app, pilot)
        assert "rationale" in error_text(app) and read_decisions(root) == []


async def test_the_footer_says_where_keys_go_and_escape_gives_the_keys_back(root):
    app = ModelsnapApp(root)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(app, pilot)
        await pilot.press("5")
        await settle(app, pilot)
        ranking = app.screen
        hint = ranking.query_one("#typing-hint")
        assert not hint.display and ranking.query_one("Footer").display
        await fill_rationale(app, pilot, "")
        assert hint.display and not ranking.query_one("Footer").display
        assert "typing in Rationale — Esc to leave" in str(hint.content)
        assert "Esc to leave" in ranking.query_one("#decision-rationale").border_subtitle
        await pilot.press("2", "r")
        await settle(app, pilot)
        assert ranking.query_one("#decision-rationale").text == "2r"
        assert read_decisions(root) == []
        await pilot.press("escape")
        await pilot.pause(0.05)
        assert ranking.focused is None
        assert not hint.display and ranking.query_one("Footer").display
        assert not ranking.query_one("#decision-rationale").border_subtitle
        await pilot.press("2")
        await settle(app, pilot)
        assert app.current_mode == "baseline"
        assert read_decisions(root) == []


async def typing_hint(app, pilot, expected: str) -> str:
    """The typing hint once it names ``expected`` (it follows the focus a message later: under
    a loaded machine, later than one 50 ms pause), or as it stands after two seconds."""
    for _ in range(40):
        await pilot.pause(0.05)
        hint = str(app.screen.query_one("#typing-hint").content)
        if expected in hint:
            break
    return hint


async def test_a_field_in_a_row_is_named_by_its_label(root):
    app = ModelsnapApp(root)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(app, pilot)
        await pilot.press("5")
        await settle(app, pilot)
        app.screen.query_one("#decision-caveats").focus()
        expected = "typing in Caveats — Esc"
        assert expected in await typing_hint(app, pilot, expected)
        app.screen.query_one("#weight-0").focus()
        expected = "typing in f1 weight — Esc"
        assert expected in await typing_hint(app, pilot, expected)


async def test_reset_clears_what_was_computed_under_the_what_if_weights(root):
    app = ModelsnapApp(root)
    async with app.run_test(size=(100, 40)) as pilot:
        await settle(app, pilot)
        await pilot.press("5")
        await settle(app, pilot)
        ranking = app.screen
        weight = ranking.query_one("#weight-1")
        weight.focus()
        await pilot.pause()
        weight.value = "0.9"
        await settle(app, pilot)
        assert "what-if" in str(ranking.query_one("#ranking-warnings").content)
        await fill_rationale(app, pilot, RATIONALE)
        await pilot.press("escape", "ctrl+s")
        await settle(app, pilot)
        assert "what-if weights" in error_text(app)
        await pilot.press("t")
        await settle(app, pilot)
        significance = ranking.query_one("#ranking-significance")
        assert "press t" not in str(significance.content)
        ranking.query_one("#ranking-reset-button").press()
        await settle(app, pilot)
        assert "what-if" not in str(ranking.query_one("#ranking-warnings").content)
        assert error_text(app) == ""
        assert "press t" in str(significance.content)
        assert read_decisions(root) == []


async def test_a_rejected_model_asks_for_the_override_field_in_tui_words(root, monkeypatch):
    app = ModelsnapApp(root)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(app, pilot)
        await pilot.press("5")
        await settle(app, pilot)
        ranking = app.screen
        rejected_id = ranking.result.ranked[0].id
        monkeypatch.setattr(ranking.result, "status", lambda _id: "rejected")
        ranking.result.rejected.append({"id": rejected_id, "reasons": ["latency_p95_ms 8 > 5"]})
        ranking.query_one("#decision-model").value = rejected_id
        await fill_rationale(app, pilot, RATIONALE)
        await pilot.press("escape", "ctrl+s")
        await settle(app, pilot)
        text = error_text(app)
        assert "was rejected (latency_p95_ms 8 > 5)" in text
        assert "fill in Override" in text and "--override" not in text
        assert not isinstance(app.screen, ConfirmAppend)
        assert read_decisions(root) == []
