"""SVG snapshots of every screen at 80x24 and 120x40 (regenerate with --snapshot-update).

The project is generated from a fixed seed with fixed timestamps and a fixed edge-case run,
so nothing in the frames depends on the clock or the machine.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import tui_fixtures
from tui_fixtures import write_credit_csv, write_fixed_project

from modelsnap.tui.app import ModelsnapApp

SIZES = [(80, 24), (120, 40)]


@pytest.fixture
def fixed(tmp_path: Path) -> Path:
    root = tmp_path / "project"
    write_fixed_project(root)
    return root


async def settle(pilot) -> None:
    await tui_fixtures.settle(pilot.app, pilot, rounds=4)


def go(*keys: str):
    async def run_before(pilot) -> None:
        await settle(pilot)
        for key in keys:
            await pilot.press(key)
            await settle(pilot)

    return run_before


@pytest.mark.parametrize("size", SIZES)
@pytest.mark.parametrize("step", ["1", "2", "3", "4", "5"])
def test_step_screens(snap_compare, fixed, step, size):
    assert snap_compare(ModelsnapApp(fixed), terminal_size=size, run_before=go(step))


@pytest.mark.parametrize("size", SIZES)
def test_help_panel(snap_compare, fixed, size):
    assert snap_compare(
        ModelsnapApp(fixed), terminal_size=size, run_before=go("1", "question_mark")
    )


@pytest.mark.parametrize("size", SIZES)
def test_setup_screen(snap_compare, tmp_path, size):
    root = tmp_path / "new"
    root.mkdir()
    write_credit_csv(root / "credit.csv", rows=60)
    assert snap_compare(ModelsnapApp(root), terminal_size=size, run_before=go())


def test_ranking_scrolled_to_decision_form(snap_compare, fixed):
    assert snap_compare(ModelsnapApp(fixed), terminal_size=(120, 40), run_before=go("5", "end"))


def test_typing_in_a_field_replaces_the_footer(snap_compare, fixed):
    async def run_before(pilot) -> None:
        await go("5")(pilot)
        pilot.app.screen.query_one("#decision-rationale").focus()
        await settle(pilot)

    assert snap_compare(ModelsnapApp(fixed), terminal_size=(80, 24), run_before=run_before)


@pytest.mark.parametrize("size", SIZES)
def test_the_full_error_panel(snap_compare, fixed, size):
    assert snap_compare(ModelsnapApp(fixed), terminal_size=size, run_before=go("5", "ctrl+s", "e"))


def test_lock_confirmation_with_its_own_keys(snap_compare, fixed):
    assert snap_compare(ModelsnapApp(fixed), terminal_size=(80, 24), run_before=go("1", "ctrl+l"))
