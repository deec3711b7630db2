"""Review mode driven like a user: table, sort, filter, detail, diff, history, what-if, decisions.

And the promise that makes it safe on someone else's folder: it writes nothing and imports no
model-loading code (checked in a fresh interpreter, since this test process may have them).
"""

from __future__ import annotations

import hashlib
import importlib.util
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from modelsnap.core.project.parse import load_project
from modelsnap.core.records import decisions
from modelsnap.core.selection import ranking
from modelsnap.tui.review_app import ReviewApp
from modelsnap.tui.screens.review import ReviewScreen
from modelsnap.tui.screens.review_views import (
    DecisionsScreen,
    DiffScreen,
    HistoryScreen,
    WhatIfScreen,
)
from modelsnap.tui.widgets.review_table import SnapshotTable

BENCH = Path(__file__).resolve().parents[2] / "benchmarks" / "make_snapshots.py"
_spec = importlib.util.spec_from_file_location("make_snapshots", BENCH)
make_snapshots = importlib.util.module_from_spec(_spec)
sys.modules.setdefault("make_snapshots", make_snapshots)
_spec.loader.exec_module(make_snapshots)


def tree_hash(root: Path) -> str:
    digest = hashlib.sha256()
    for path in sorted(root.rglob("*")):
        info = path.lstat()
        digest.update(f"{path.relative_to(root)}|{info.st_size}|{info.st_mtime_ns}".encode())
        if path.is_file():
            digest.update(path.read_bytes())
    return digest.hexdigest()


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    root = tmp_path / "p"
    make_snapshots.write_folder(root, 24)
    config = load_project(root)
    result = ranking.rank(ranking_rows(root), ranking.spec_from_config(config))
    decisions.append_decision(
        root,
        snapshot_id=result.ranked[0].id,
        rationale="best trade-off of score and speed",
        ranking=result,
        criteria_revision=1,
        caveats=["small data"],
        decided_by="ana",
    )
    return root


def ranking_rows(root: Path) -> list[dict]:
    from modelsnap.core.records.index import load_rows

    return load_rows(root)[0]


def text_of(screen, selector: str) -> str:
    return str(screen.query_one(selector).render())


async def detail_settles(pilot, screen, expected: str) -> str:
    """The detail pane follows the cursor once it rests (a short timer): poll until it shows
    ``expected`` or the app has had ample turns, so a loaded machine cannot fail the test."""
    for _ in range(100):
        shown = text_of(screen, "#review-detail-body")
        if expected in shown:
            break
        await pilot.pause(0.05)
    return shown


async def test_opens_with_table_and_detail_at_80x24(folder):
    app = ReviewApp(folder)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        screen = app.screen
        assert isinstance(screen, ReviewScreen)
        table = screen.query_one(SnapshotTable)
        assert len(table.view) == 24 and table.has_focus
        assert table.current_row["id"] in await detail_settles(
            pilot, screen, table.current_row["id"]
        )
        assert "24 snapshots (read-only)" in text_of(screen, "#review-status")
        await pilot.press("down", "down")
        assert table.cursor == 2
        assert table.view[2]["id"] in await detail_settles(pilot, screen, table.view[2]["id"])


async def test_sort_and_reverse_and_filter(folder):
    app = ReviewApp(folder)
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.pause()
        table = app.screen.query_one(SnapshotTable)
        await pilot.press("s")
        assert table.sort_column == "name"
        names = [r["name"] for r in table.view]
        assert names == sorted(names)
        await pilot.press("r")
        assert [r["name"] for r in table.view] == sorted(names, reverse=True)
        await pilot.press("s", "s", "s")  # kind, version, primary metric
        values = [r["measures"]["validation"]["f1"] for r in table.view]
        assert table.sort_column == "f1" and values == sorted(values)
        await pilot.press("slash")
        await pilot.press(*"forest")
        assert {r["name"] for r in table.view} == {"random_forest"}
        assert "3 shown" in text_of(app.screen, "#review-status")
        await pilot.press("escape")
        assert table.has_focus


async def test_filter_finds_constraint_failures(folder):
    app = ReviewApp(folder)
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.pause()
        table = app.screen.query_one(SnapshotTable)
        failing = [r for r in table.all_rows if r["constraints"]["ok"] is False]
        assert failing, "the generated folder should hold constraint failures"
        app.screen.query_one("#review-filter").value = "fail"
        await pilot.pause()
        assert {r["id"] for r in table.view} == {r["id"] for r in failing}


async def test_diff_of_two_marked_snapshots_shows_only_differences(folder):
    app = ReviewApp(folder)
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.pause()
        table = app.screen.query_one(SnapshotTable)
        first, second = table.view[1]["id"], table.view[2]["id"]
        await pilot.press("down", "space", "down", "d")
        screen = app.screen
        assert isinstance(screen, DiffScreen)
        assert (screen.left["id"], screen.right["id"]) == (first, second)
        shown = text_of(screen, "#review-view-text")
        assert "only what differs" in shown and "metrics.validation.f1" in shown
        assert "data.dataset_sha256" not in shown  # equal in both: hidden
        await pilot.press("a")
        assert "data.dataset_sha256" in text_of(screen, "#review-view-text")
        await pilot.press("escape")
        assert isinstance(app.screen, ReviewScreen)


async def test_diff_needs_two_snapshots(folder):
    app = ReviewApp(folder)
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.pause()
        await pilot.press("space", "d")
        assert isinstance(app.screen, ReviewScreen)


async def test_history_lists_every_version_of_the_name(folder):
    app = ReviewApp(folder)
    async with app.run_test(size=(120, 30)) as pilot:
        await pilot.pause()
        name = app.screen.query_one(SnapshotTable).current_row["name"]
        await pilot.press("h")
        screen = app.screen
        assert isinstance(screen, HistoryScreen)
        assert all(r["name"] == name for r in screen.rows) and len(screen.rows) == 3
        shown = text_of(screen, "#review-view-text")
        assert "v1" in shown and "v3" in shown


async def test_whatif_reranks_without_writing(folder):
    before = tree_hash(folder)
    app = ReviewApp(folder)
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.pause()
        await pilot.press("w")
        screen = app.screen
        assert isinstance(screen, WhatIfScreen)
        for _ in range(100):  # the first ranking runs after the debounce, in a worker
            await app.workers.wait_for_complete()
            await pilot.pause(0.05)
            if "ranked" in text_of(screen, "#review-view-text"):
                break
        assert "ranked" in text_of(screen, "#review-view-text")
        weights = screen.query_one("#whatif-weights")
        weights.value = "latency_p95_ms=1"
        await pilot.press("enter")
        await app.workers.wait_for_complete()
        await pilot.pause()
        shown = text_of(screen, "#review-view-text")
        assert "latency_p95_ms 1.00" in shown
        weights.value = "nonsense=2"
        await pilot.press("enter")
        await app.workers.wait_for_complete()
        await pilot.pause()
        assert "unknown measure 'nonsense'" in text_of(screen, "#whatif-error")
        assert "latency_p95_ms 1.00" in text_of(screen, "#review-view-text"), (
            "the last good ranking stays under the error"
        )
    assert tree_hash(folder) == before


async def test_decision_log_shows_chain_status(folder):
    app = ReviewApp(folder)
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.pause()
        await pilot.press("l")
        assert isinstance(app.screen, DecisionsScreen)
        shown = text_of(app.screen, "#review-view-text")
        assert "chain intact: 1 decisions" in shown and "best trade-off" in shown
    path = folder / "decisions.toml"
    path.write_text(path.read_text().replace("best trade-off", "edited later"))
    app = ReviewApp(folder)
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.pause()
        await pilot.press("l")
        shown = text_of(app.screen, "#review-view-text")
        assert "chain broken" in shown and "edited after it was written" in shown


async def test_decision_log_shows_each_decisions_monitoring_history(folder):
    records = folder / "monitoring"
    records.mkdir()
    (records / "20261201T080000-aaaa.toml").write_text(
        'schema = 1\nid = "20261201T080000-aaaa"\ncreated_at = "2026-12-01T08:00:00+00:00"\n'
        'decision_id = "D0001"\nverdict = "holds"\nreasons = []\n'
        '[data]\nfile = "week48.csv"\nn_rows = 500\n'
    )
    (records / "20261208T080000-bbbb.toml").write_text(
        'schema = 1\nid = "20261208T080000-bbbb"\ncreated_at = "2026-12-08T08:00:00+00:00"\n'
        'decision_id = "D0001"\nverdict = "drifted"\n'
        'reasons = ["income drifted: PSI 0.41", "region drifted"]\n'
        '[data]\nfile = "week49.csv"\nn_rows = 480\n'
    )
    (records / "20261209T080000-cccc.toml").write_text("verdict = [\n")
    before = tree_hash(folder)
    app = ReviewApp(folder)
    async with app.run_test(size=(140, 40)) as pilot:
        await pilot.pause()
        await pilot.press("l")
        shown = text_of(app.screen, "#review-view-text")
    assert "monitored  2026-12-01 08:00  holds  on week48.csv (500 rows)" in shown
    assert "monitored  2026-12-08 08:00  drifted  on week49.csv (480 rows)" in shown
    assert "income drifted: PSI 0.41 (and 1 more)" in shown
    assert shown.index("week48.csv") < shown.index("week49.csv")
    assert "monitoring record not read: monitoring/20261209T080000-cccc.toml" in shown
    assert tree_hash(folder) == before


async def test_broken_snapshot_is_named_and_the_rest_shown(folder):
    broken = sorted((folder / "snapshots").iterdir())[3]
    broken.write_text("schema = 1\nid = [\n")
    app = ReviewApp(folder)
    async with app.run_test(size=(120, 30)) as pilot:
        await pilot.pause()
        assert len(app.screen.query_one(SnapshotTable).view) == 23
        assert "1 unreadable" in text_of(app.screen, "#review-status")
        assert broken.name in text_of(app.screen, "#review-status")


async def test_table_scrolls_and_sorts_10000_rows(tmp_path):
    """Scale: 10,000 rows go in, page down and a sort keep the cursor on a real row.

    Rows are built in memory (summary rows of generated snapshots): this tests the table, the
    index's speed has its own benchmark.
    """
    import random
    from datetime import UTC, datetime

    from modelsnap.core.records.index import summary_row
    from modelsnap.tui.review_data import ReviewData, annotate, comparability_reference

    rng = random.Random(3)
    start = datetime(2026, 11, 1, tzinfo=UTC)
    rows = [summary_row(make_snapshots.make_snapshot(i, rng, start, None)) for i in range(10_000)]
    reference = comparability_reference(rows)
    data = ReviewData(tmp_path, [annotate(r, reference) for r in rows], [], reference=reference)
    app = ReviewApp(tmp_path, data=data)
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.pause()
        table = app.screen.query_one(SnapshotTable)
        assert len(table.view) == 10_000
        await pilot.press("end")
        assert table.cursor == 9_999 and table.scroll_y > 9_900
        await pilot.press("pageup")
        assert table.cursor < 9_999
        await pilot.press("s")
        assert table.sort_column == "name" and table.current_row is not None
        assert table.view[0]["name"] <= table.view[-1]["name"]


def test_review_writes_nothing_and_loads_no_model_code(folder):
    """Every view opened in a fresh interpreter: no sklearn/skops/pandas import, no byte changed."""
    (folder / ".modelsnap" / "index.sqlite").unlink()  # stale cache: tempting to rewrite it
    before = tree_hash(folder)
    script = textwrap.dedent(f"""
        import asyncio, sys
        from pathlib import Path
        from modelsnap.tui.review_app import ReviewApp

        async def main():
            app = ReviewApp(Path({str(folder)!r}))
            async with app.run_test(size=(100, 30)) as pilot:
                await pilot.pause()
                for keys in (["space", "down", "d"], ["h"], ["l"], ["w"]):
                    await pilot.press(*keys)
                    await app.workers.wait_for_complete()
                    await pilot.pause()
                    await pilot.press("escape")
        asyncio.run(main())
        heavy = sorted(m for m in ("sklearn", "skops", "pandas", "scipy") if m in sys.modules)
        print("HEAVY", heavy)
    """)
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    assert "HEAVY []" in done.stdout
    assert tree_hash(folder) == before


def test_cli_refuses_a_folder_that_is_not_a_project(tmp_path):
    done = subprocess.run(
        [sys.executable, "-m", "modelsnap", "review", str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 2
    assert "neither snapshots/ nor modelsnap.toml" in done.stderr
    assert "Traceback" not in done.stderr


async def test_folder_without_project_file_still_reviews(folder):
    (folder / "modelsnap.toml").unlink()
    app = ReviewApp(folder)
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.pause()
        assert len(app.screen.query_one(SnapshotTable).view) == 24
        assert "what-if disabled" in text_of(app.screen, "#review-status")
        await pilot.press("w")
        assert isinstance(app.screen, ReviewScreen)


async def test_empty_folder(tmp_path):
    (tmp_path / "snapshots").mkdir()
    app = ReviewApp(tmp_path)
    async with app.run_test(size=(80, 24)) as pilot:
        expected = "no snapshots in this folder yet"
        assert expected in await detail_settles(pilot, app.screen, expected)
        await pilot.press("down", "s", "h", "d", "space")
        assert isinstance(app.screen, ReviewScreen)


# --------------------------------------------------------------------------- keys and help


async def test_question_mark_opens_help_and_escape_closes_every_panel(folder):
    from modelsnap.tui.screens.review_views import ReviewHelp

    app = ReviewApp(folder)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        await pilot.press("question_mark")
        assert isinstance(app.screen, ReviewHelp)
        shown = text_of(app.screen, "#review-view-text")
        for expected in (
            "copy the highlighted snapshot id",
            "reverse the sort",
            "f1>0.75 kind:candidate name:forest latency_p95_ms<=10 fail",
        ):
            assert expected in shown
        await pilot.press("escape")
        assert isinstance(app.screen, ReviewScreen)
        app.action_show_help_panel()  # Textual's keys panel, from the palette's "Keys"
        await pilot.pause()
        assert app.screen.query("HelpPanel")
        await pilot.press("escape")
        await pilot.pause()
        assert not app.screen.query("HelpPanel")
        for key, view in (("w", WhatIfScreen), ("l", DecisionsScreen), ("h", HistoryScreen)):
            await pilot.press(key)
            await app.workers.wait_for_complete()
            assert isinstance(app.screen, view)
            await pilot.press("escape")
            assert isinstance(app.screen, ReviewScreen)


async def test_footer_fits_80_columns(folder):
    from textual.widgets._footer import FooterKey

    app = ReviewApp(folder)
    async with app.run_test(size=(80, 24)) as pilot:
        for _ in range(40):  # the footer lays out after the first frame on a loaded machine
            await pilot.pause(0.05)
            keys = list(app.screen.query(FooterKey))
            if keys and all(key.region.width for key in keys):
                break
        shown = {key.description for key in keys}
        assert {"Filter", "Sort", "Diff", "What-if", "Help", "Quit"} <= shown
        for key in keys:
            assert key.region.width > 0 and key.region.right <= 80, key.description


async def test_y_copies_the_highlighted_id(folder):
    app = ReviewApp(folder)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        await pilot.press("down", "y")
        await pilot.pause()
        row = app.screen.query_one(SnapshotTable).current_row
        assert app.clipboard == row["id"]
        assert any(row["id"] in str(n.message) for n in app._notifications)


async def test_sort_any_column_both_ways_and_from_the_palette(folder):
    app = ReviewApp(folder)
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.pause()
        table = app.screen.query_one(SnapshotTable)
        await pilot.press("s")
        assert "sort name ↑" in text_of(app.screen, "#review-status")
        await pilot.press("S")
        names = [r["name"] for r in table.view]
        assert names == sorted(names, reverse=True)
        assert "sort name ↓" in text_of(app.screen, "#review-status")
        commands = {c.title: c for c in app.get_system_commands(app.screen)}
        commands["Sort by latency_p95_ms"].callback()
        await pilot.pause()
        values = [r["latency_p95_ms"] for r in table.view]
        assert table.sort_column == "latency_p95_ms" and values == sorted(values)
        assert "sort p95 ms ↑" in text_of(app.screen, "#review-status")
        for title in (
            "Decision log",
            "Copy the highlighted snapshot id",
            "History of the highlighted model",
            "Reverse the sort",
        ):
            assert title in commands


# --------------------------------------------------------------------------- filter language


async def test_filter_language_with_comparisons(folder):
    app = ReviewApp(folder)
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.pause()
        table = app.screen.query_one(SnapshotTable)
        rows = table.all_rows

        def f1(row):
            return row["measures"]["validation"].get("f1")

        field = app.screen.query_one("#review-filter")
        field.value = "f1>0.75 kind:candidate"
        await pilot.pause()
        expected = {
            r["id"] for r in rows if f1(r) is not None and f1(r) > 0.75 and r["kind"] == "candidate"
        }
        assert expected and {r["id"] for r in table.view} == expected
        field.value = "p95<=10 name:forest"
        await pilot.pause()
        expected = {r["id"] for r in rows if r["latency_p95_ms"] <= 10 and "forest" in r["name"]}
        assert {r["id"] for r in table.view} == expected
        field.value = "fail test_f1>=0"
        await pilot.pause()
        assert {r["id"] for r in table.view} == {r["id"] for r in rows if r["_status"] == "fail"}
        field.value = "kind:candidate f1>abc"
        await pilot.pause()
        error = text_of(app.screen, "#review-filter-error")
        assert "'abc' is not a number" in error
        assert {r["id"] for r in table.view} == {
            r["id"] for r in rows if r["kind"] == "candidate"
        }, "the terms that read still apply"
        field.value = "nosuch>1"
        await pilot.pause()
        assert "no snapshot has a measure 'nosuch'" in text_of(app.screen, "#review-filter-error")
        field.value = "colour:red"
        await pilot.pause()
        assert "no field 'colour'" in text_of(app.screen, "#review-filter-error")
        field.value = ""
        await pilot.pause()
        assert not app.screen.query_one("#review-filter-error").display
        assert len(table.view) == len(rows)


# --------------------------------------------------------------------------- live what-if


async def test_whatif_reranks_as_you_type_and_old_results_never_win(folder, monkeypatch):
    import time

    from modelsnap.tui.screens import review_views

    real = review_views.whatif_rank

    def slow_for_latency(data, text):
        if text == "latency_p95_ms=1":
            time.sleep(0.6)  # an older, slower ranking finishing after the newer one
        return real(data, text)

    monkeypatch.setattr(review_views, "whatif_rank", slow_for_latency)
    app = ReviewApp(folder)
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.pause()
        await pilot.press("w")
        screen = app.screen
        await app.workers.wait_for_complete()
        weights = screen.query_one("#whatif-weights")
        weights.value = ""
        await pilot.press(*"latency_p95_ms=1")  # typed, no enter
        await pilot.pause(0.3)  # past the debounce: the slow ranking has started
        weights.value = "f1=1"
        for _ in range(60):
            await pilot.pause(0.05)
            if "weights (normalised): f1 1.00" in text_of(screen, "#review-view-text"):
                break
        await app.workers.wait_for_complete()
        await pilot.pause(0.7)
        await app.workers.wait_for_complete()
        await pilot.pause()
        assert "weights (normalised): f1 1.00" in text_of(screen, "#review-view-text")


async def test_status_names_the_folder_when_opened_as_dot(folder, monkeypatch):
    monkeypatch.chdir(folder)
    app = ReviewApp(Path("."))
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        assert text_of(app.screen, "#review-status").startswith(f"{folder.name}: 24 snapshots")


async def test_prepared_sort_orders_and_filter_texts_match_the_ones_made_on_a_key(
    folder, monkeypatch
):
    """Large folders get their filter texts and sort orders made in a thread after the first
    paint: every column sorts and filters exactly as when they are made on the key press."""
    seen: dict[str, list[list[str]]] = {}
    for prepare_from in (1, 10**9):  # prepared in the thread / made on each key
        monkeypatch.setattr(SnapshotTable, "PREPARE_FROM", prepare_from)
        app = ReviewApp(folder)
        async with app.run_test(size=(100, 30)) as pilot:
            await pilot.pause()
            await app.workers.wait_for_complete()
            table = app.screen.query_one(SnapshotTable)
            prepared = {key for key in table._sort_cache if "\0" in key}
            columns = [c.key for c in table.columns]
            assert prepared == ({f"{k}\0False" for k in columns} if prepare_from == 1 else set())
            views = []
            for key in columns:
                for reverse in (False, True):
                    table.sort_by(key, reverse=reverse)
                    views.append([r["id"] for r in table.view])
            for text in ("forest v3", "cand FAIL", "zzz-nothing", ""):
                table.set_filter(text)
                views.append([r["id"] for r in table.view])
            seen[str(prepare_from)] = views
    assert seen["1"] == seen[str(10**9)]
    assert any(len(v) < 24 for v in seen["1"][-4:-1]) and len(seen["1"][-1]) == 24


async def test_a_late_preparation_for_older_rows_is_dropped(folder):
    app = ReviewApp(folder)
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.pause()
        await app.workers.wait_for_complete()
        table = app.screen.query_one(SnapshotTable)
        old_generation = table._generation
        table.set_rows(table.all_rows[:3], lambda row: row["id"].lower())
        table._prepared(old_generation, ["x"] * 24, {"name\0False": list(range(24))})
        assert table._texts is None and "name\0False" not in table._sort_cache
        table.set_filter(table.all_rows[1]["id"])
        assert [r["id"] for r in table.view] == [table.all_rows[1]["id"]]
