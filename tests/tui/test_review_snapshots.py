"""SVG snapshots of review mode at 80x24 and 120x40 (regenerate with --snapshot-update).

The folder is generated from a fixed seed with fixed timestamps, so the pictures only change
when the UI does.
"""

from __future__ import annotations

import importlib.util
import sys
from datetime import UTC, datetime
from pathlib import Path

import pytest

from modelsnap.core.project.parse import load_project
from modelsnap.core.records import decisions
from modelsnap.core.records.index import load_rows
from modelsnap.core.selection import ranking
from modelsnap.tui.review_app import ReviewApp

BENCH = Path(__file__).resolve().parents[2] / "benchmarks" / "make_snapshots.py"
_spec = importlib.util.spec_from_file_location("make_snapshots", BENCH)
make_snapshots = importlib.util.module_from_spec(_spec)
sys.modules.setdefault("make_snapshots", make_snapshots)
_spec.loader.exec_module(make_snapshots)


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    root = tmp_path / "project"
    make_snapshots.write_folder(root, 24)
    result = ranking.rank(load_rows(root)[0], ranking.spec_from_config(load_project(root)))
    decisions.append_decision(
        root,
        snapshot_id=result.ranked[0].id,
        rationale="best f1 within the latency budget",
        ranking=result,
        criteria_revision=1,
        caveats=["validation split of 114 rows"],
        decided_by="ana",
        now=datetime(2026, 11, 2, 10, 0, tzinfo=UTC),
    )
    return root


def press_then_detail(*keys: str):
    """Press ``keys``, then wait until the detail pane (which follows the resting cursor on a
    short timer) shows the highlighted snapshot, so a loaded machine cannot change the picture."""

    async def run_before(pilot) -> None:
        await pilot.press(*keys)
        screen = pilot.app.screen
        for _ in range(100):
            row = screen.table.current_row
            if row is not None and row["id"] in str(
                screen.query_one("#review-detail-body").render()
            ):
                break
            await pilot.pause(0.05)

    return run_before


@pytest.mark.parametrize("size", [(80, 24), (120, 40)])
def test_table_and_detail(snap_compare, folder, size):
    assert snap_compare(
        ReviewApp(folder), terminal_size=size, run_before=press_then_detail("down", "down")
    )


def test_sorted_and_filtered(snap_compare, folder):
    assert snap_compare(
        ReviewApp(folder),
        terminal_size=(120, 40),
        run_before=press_then_detail("s", "s", "s", "r", "slash", *"cand", "escape"),
    )


def test_diff_view(snap_compare, folder):
    assert snap_compare(
        ReviewApp(folder), terminal_size=(100, 30), press=["down", "space", "down", "d"]
    )


def test_history_view(snap_compare, folder):
    assert snap_compare(ReviewApp(folder), terminal_size=(120, 30), press=["h"])


def test_decision_log_view(snap_compare, folder):
    assert snap_compare(ReviewApp(folder), terminal_size=(100, 30), press=["l"])


def test_help_panel(snap_compare, folder):
    assert snap_compare(ReviewApp(folder), terminal_size=(80, 24), press=["question_mark"])


def test_filter_language_and_its_error(snap_compare, folder):
    assert snap_compare(
        ReviewApp(folder),
        terminal_size=(80, 24),
        run_before=press_then_detail("slash", *"f1>0.7 kind:cand p95<x"),
    )
