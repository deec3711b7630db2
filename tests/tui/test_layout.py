"""The width is used at 120 columns (step 5: ranking beside the plot; step 4: the per-model
summary beside the case detail under the full-width matrix) and 80x24 stays one column."""

from __future__ import annotations

from functools import partial
from pathlib import Path

import pytest
import tui_fixtures
from tui_fixtures import write_fixed_project

from modelsnap.tui.app import ModelsnapApp


@pytest.fixture
def fixed(tmp_path: Path) -> Path:
    root = tmp_path / "project"
    write_fixed_project(root)
    return root


settle = partial(tui_fixtures.settle, rounds=4)  # 4 rounds, as this file's flows always had


async def regions(root: Path, size: tuple[int, int], step: str, *ids: str):
    app = ModelsnapApp(root)
    async with app.run_test(size=size) as pilot:
        await settle(app, pilot)
        await pilot.press(step)
        await settle(app, pilot)
        wide = app.screen.has_class("-wide")
        return wide, [app.screen.query_one(f"#{i}").region for i in ids]


async def test_ranking_beside_the_plot_when_wide(fixed):
    wide, (table, plot) = await regions(fixed, (120, 40), "5", "ranking-table", "ranking-plot")
    assert wide
    assert plot.x >= table.right and plot.y <= table.y + 1
    assert plot.right <= 120 and plot.width >= 40
    narrow, (table, plot) = await regions(fixed, (80, 24), "5", "ranking-table", "ranking-plot")
    assert not narrow
    assert plot.y >= table.bottom and plot.width >= 70


async def test_edge_detail_beside_the_summary_when_wide(fixed):
    wide, (matrix, status, detail) = await regions(
        fixed, (120, 40), "4", "edge-matrix", "edge-status", "edge-detail"
    )
    assert wide and detail.x >= status.right and detail.y == status.y
    assert status.y >= matrix.bottom
    narrow, (_matrix, status, detail) = await regions(
        fixed, (80, 24), "4", "edge-matrix", "edge-status", "edge-detail"
    )
    assert not narrow and detail.y >= status.bottom


@pytest.mark.parametrize("keys", [["1"], ["2"], ["3"], ["4"], ["5"], ["5", "ctrl+s"]])
async def test_no_footer_key_is_clipped_at_80_columns(fixed, keys):
    from textual.widgets._footer import FooterKey

    app = ModelsnapApp(fixed)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(app, pilot)
        for key in keys:
            await pilot.press(key)
            await settle(app, pilot)
        keys_shown = [k for k in app.screen.query(FooterKey) if k.display]
        palette = [k for k in keys_shown if k.has_class("-command-palette")]
        shown = [k for k in keys_shown if k not in palette]
        assert palette and palette[0].region.right <= 80
        assert shown and all(k.region.right <= palette[0].region.x for k in shown)
        descriptions = [k.description for k in shown]
        assert "Help" in descriptions
        if "ctrl+s" in keys:
            assert "Full error" in descriptions
