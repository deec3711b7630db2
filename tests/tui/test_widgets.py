"""Widgets and small pieces on their own: plot, weights editor, fields, cards, params parser."""

from __future__ import annotations

import contextlib

import pytest
from hypothesis import given
from hypothesis import strategies as st
from rich.console import Console
from textual.app import App, ComposeResult
from textual.containers import Vertical
from textual.widgets import DataTable, Input, ProgressBar, Static

from modelsnap.core.evaluation.environment import describe_machine
from modelsnap.tui.model_choices import (
    format_params,
    parse_dotted_path,
    parse_model_name,
    parse_params,
)
from modelsnap.tui.screens.criteria import parse_name_list, parse_optional_path
from modelsnap.tui.screens.edge_cases import case_matrix
from modelsnap.tui.widgets.field import parse_float, parse_optional_float
from modelsnap.tui.widgets.formatting import fill_table
from modelsnap.tui.widgets.run_panel import RunPanel, StageRow
from modelsnap.tui.widgets.snapshot_card import (
    SnapshotCard,
    render_failure,
    render_snapshot,
    sync_cards,
)
from modelsnap.tui.widgets.tradeoff_plot import PlotPoint, draw
from modelsnap.tui.widgets.weights_editor import WeightsEditor


def plain(renderable, width: int = 100) -> str:
    console = Console(width=width, record=True, color_system=None)
    console.print(renderable)
    return console.export_text()


def test_plot_puts_the_best_top_left_and_marks_the_front():
    points = [
        PlotPoint("fast", 1.0, 0.70, on_front=True),
        PlotPoint("slow_good", 9.0, 0.90, on_front=True),
        PlotPoint("dominated", 9.0, 0.60),
        PlotPoint("over_limit", 5.0, 0.80, rejected=True),
    ]
    lines = draw(points, 60, 16, "f1").plain.splitlines()
    assert lines[0].startswith(" 0.900│") and lines[0].endswith("B")  # best metric, slowest
    assert lines[10].startswith(" 0.600│") and lines[10].endswith("c")  # worst, slowest
    assert any(line.startswith("      │A") for line in lines)  # fastest at the left edge
    assert any("d" in line[7:] for line in lines[:10])
    assert "1.00 ms" in lines[12] and "9.00 ms p95" in lines[12]
    assert "A* fast" in lines[-2] and "B* slow_good" in lines[-2]
    assert "d  over_limit (rejected)" in lines[-1]


def test_plot_without_points_says_so():
    assert "no snapshots" in draw([], 40, 10, "f1").plain


def test_card_shows_how_far_over_and_the_gain():
    snapshot = {
        "id": "20261126T061502-forest-3f9a",
        "name": "forest",
        "kind": "candidate",
        "version": "v1",
        "metrics": {"validation": {"f1": 0.8}, "test": {"f1": 0.78}},
        "resources": {"latency_p95_ms": 80.0, "size_mb": 3.0},
        "constraints": {
            "latency_p95_ms": {"value": 80.0, "limit": 50.0, "ok": False, "over": 0.6},
            "size_mb": {"value": 3.0, "limit": 100.0, "ok": True, "over": 0.0},
            "recall": {"value": 0.45, "limit": 0.5, "ok": False, "over": 0.1},
            "fairness_gap": {"limit": 0.1, "missing": True},
        },
        "gain": {"baseline_id": "b", "metric": "f1", "absolute": 0.05, "relative": 0.0667},
        "interpretability": {
            "family": "post_hoc",
            "score": 0.3,
            "suspect_hits": ["cust_id"],
            "top_features": [{"name": "income"}],
        },
        "fairness": {"max_gap": 0.12, "columns": {"sex": {"gap": 0.12}}},
    }
    text = plain(render_snapshot(snapshot, primary="f1"))
    assert "✗ latency_p95_ms 80.00 over the limit 50.00 by 60.0%" in text
    assert "under the minimum 0.50 by 10.0%" in text
    assert "✓ size_mb 3.00" in text
    assert "? fairness_gap not measured" in text
    assert "+0.050 f1 (+6.7%)" in text
    assert "suspect: cust_id" in text
    assert "sex 0.120" in text
    assert "forest-3f9a" in text and "20261126T061502" not in text
    assert "forest · candidate v1 · forest-3f9a" in text
    assert "f1 0.800 (test 0.780)" in text
    assert "limits: 1 of 4 met" in text


def test_card_says_where_it_was_measured_and_gains_in_units():
    snapshot = {
        "id": "20261126T061502-forest-3f9a",
        "name": "forest",
        "kind": "candidate",
        "version": "v2",
        "metrics": {
            "validation": {"f1": 0.738},
            "test": {"f1": 0.704},
            "test_ci": {"f1": [0.674, 0.734]},
        },
        "resources": {"latency_p95_ms": 4.41, "size_mb": 3.0},
        "constraints": {
            "latency_p95_ms": {"value": 4.41, "limit": 50.0, "ok": True, "over": 0.0},
        },
        "gain": {
            "baseline_id": "b",
            "metric": "f1",
            "absolute": 0.012,
            "relative": 0.016,
            "per_ms_p95": 0.0042,
            "per_mb": 0.006,
        },
    }
    text = plain(render_snapshot(snapshot, primary="f1", machine="this machine"))
    assert "f1 0.738 (test 0.704 [0.674, 0.734])" in text
    assert "✓ latency_p95_ms 4.41 (limit 50.00)" in text
    assert "+0.60 % f1 per extra MB" in text and "+0.42 % f1 per extra ms" in text
    snapshot["gain"].update(absolute=-0.019, per_mb=-3.8)  # 0.005 MB more: no rate per MB
    assert "for 0.005 MB more" in plain(render_snapshot(snapshot, primary="f1"))
    assert "/MB" not in text and "on this machine" in text
    other = plain(
        render_snapshot(
            snapshot,
            machine=describe_machine(
                {"cpu": "Intel(R) Xeon(R) CPU @ 2.20GHz", "cores": 2, "fingerprint": "a"},
                here="b",
            ),
        )
    )
    assert "on another machine (Intel Xeon, 2 cores)" in other


def test_card_limits_never_read_as_equality_and_overfit_is_one_sided():
    snapshot = {
        "id": "20261126T061502-forest-3f9a",
        "name": "forest",
        "constraints": {
            "gain_over_baseline": {"value": 0.00545, "limit": 0.01, "ok": False, "over": 0.455},
            "size_mb": {"value": 3.0, "limit": 100.0, "ok": True, "over": 0.0},
        },
        "checks": {"overfit_gap": -0.065, "overfit_flag": True},  # test was the better split
    }
    text = plain(render_snapshot(snapshot, primary="f1"))
    assert "gain_over_baseline 0.00545 under the minimum 0.01 by 45.5%" in text
    assert "✓ size_mb 3.00 (limit 100.0)" in text
    assert "beats test" not in text
    snapshot["checks"] = {"overfit_gap": 0.08, "overfit_flag": True}
    assert "validation beats test by 0.080" in plain(render_snapshot(snapshot, primary="f1"))


def test_failure_card_says_why_and_that_nothing_was_written():
    text = plain(render_failure("svc", "timeout", "no result after 600 s"))
    assert "run failed" in text and "timeout: no result after 600 s" in text
    assert "nothing was written" in text


def test_case_matrix_marks_failures_per_model():
    cases = [{"case": "a", "severity": "must-pass"}, {"case": "b", "severity": "normal"}]
    results = {
        "m1": {"failures": []},
        "m2": {"failures": [{"case": "b", "predicted": "yes", "severity": "normal"}]},
        "m3": {"error": "artifact missing"},
    }
    names, rows = case_matrix(cases, results)
    assert names == ["m1", "m2", "m3"]
    assert rows[0] == ("a", "must-pass", [(True, "✓"), (True, "✓"), (False, "? not run")])
    assert rows[1][2][1] == (False, "✗ yes")


@pytest.mark.parametrize(
    ("parser", "text", "expected"),
    [
        (parse_optional_float(minimum=0), "", None),
        (parse_optional_float(minimum=0), " 2.5 ", 2.5),
        (parse_name_list, "a, b", ["a", "b"]),
        (parse_name_list, "", []),
        (parse_optional_path, "cases/edge.csv", "cases/edge.csv"),
        (parse_model_name, " forest ", "forest"),
        (parse_dotted_path, "sklearn.svm.SVC", "sklearn.svm.SVC"),
        (parse_params, 'max_depth = 3, criterion = "gini"', {"max_depth": 3, "criterion": "gini"}),
    ],
)
def test_parsers_accept(parser, text, expected):
    assert parser(text) == expected


@pytest.mark.parametrize(
    ("parser", "text", "message"),
    [
        (parse_optional_float(minimum=0), "-1", "at least 0"),
        (parse_optional_float(), "nan", "finite"),
        (parse_optional_float(), "fast", "not a number"),
        (parse_float(), "", "required"),
        (parse_name_list, "a,,b", "empty name"),
        (parse_name_list, "a, a", "repeated: a"),
        (parse_optional_path, "../x.csv", "inside the project"),
        (parse_optional_path, "x.txt", ".csv"),
        (parse_model_name, "../evil", "not allowed"),
        (parse_dotted_path, "SVC", "dotted path"),
        (parse_params, "max_depth 3", "key = value"),
    ],
)
def test_parsers_refuse_with_a_reason(parser, text, message):
    with pytest.raises(ValueError, match=message):
        parser(text)


@given(
    st.dictionaries(
        st.from_regex(r"[a-z_]{1,8}", fullmatch=True),
        st.one_of(
            st.integers(-(10**6), 10**6),
            st.booleans(),
            st.text(max_size=10),
            st.floats(allow_nan=False, allow_infinity=False),
        ),
        max_size=5,
    )
)
def test_params_round_trip(params):
    assert parse_params(format_params(params)) == params


@given(st.text(max_size=60))
def test_params_parser_never_crashes(text):
    with contextlib.suppress(ValueError):
        assert isinstance(parse_params(text), dict)


class EditorApp(App[None]):
    def __init__(self) -> None:
        super().__init__()
        self.changes: list = []

    def compose(self) -> ComposeResult:
        yield WeightsEditor(
            [("f1", 2.0, "max"), ("latency_p95_ms", 1.0, "min"), ("size_mb", 1.0, "min")]
        )

    def on_weights_editor_changed(self, message: WeightsEditor.Changed) -> None:
        self.changes.append(message.weights)


async def test_weights_editor_normalises_visibly_and_flags_bad_input():
    app = EditorApp()
    async with app.run_test(size=(80, 12)) as pilot:
        editor = app.query_one(WeightsEditor)
        share = str(app.query_one("#share-0").content)
        assert share == "50%"
        weight = app.query_one("#weight-1", Input)
        weight.focus()
        weight.value = ""
        await pilot.press(*"x")
        await pilot.pause()
        assert "not a number" in str(app.query_one("#error-1").content)
        assert str(app.query_one("#share-0").content) == ""
        assert app.changes[-1] is None
        weight.value = ""
        await pilot.press("2")
        await pilot.pause()
        assert str(app.query_one("#share-0").content) == "40%"
        assert app.changes[-1] == {"f1": 2.0, "latency_p95_ms": 2.0, "size_mb": 1.0}
        for index in range(3):
            app.query_one(f"#weight-{index}", Input).value = "0"
        await pilot.pause()
        assert editor.weights() is None
        assert "above 0" in str(app.query_one("#weights-total").content)


class TableApp(App[None]):
    def compose(self) -> ComposeResult:
        yield DataTable(cursor_type="row")
        yield Vertical(id="cards")


async def test_a_table_filled_in_place_keeps_its_rows_and_cursor_and_changes_cells():
    app = TableApp()
    async with app.run_test(size=(80, 16)) as pilot:
        table = app.query_one(DataTable)
        rows = [(["a", "not run"], "a"), (["b", "not run"], "b")]
        fill_table(table, ["model", "status"], rows, min_widths={"status": 18}, in_place=True)
        table.move_cursor(row=1)
        before = table.ordered_rows
        fill_table(
            table,
            ["model", "status"],
            [(["a", "not run"], "a"), (["b", "✓ b-1234"], "b")],
            min_widths={"status": 18},
            in_place=True,
        )
        await pilot.pause()
        assert table.ordered_rows == before and table.cursor_row == 1
        assert table.get_row("b") == ["b", "✓ b-1234"]
        # Another shape (a new row) rebuilds the table, as without in_place.
        fill_table(table, ["model", "status"], [*rows, (["c", "not run"], "c")], in_place=True)
        await pilot.pause()
        assert [row.key.value for row in table.ordered_rows] == ["a", "b", "c"]
        assert table.cursor_row == 0
        assert table.get_row("b") == ["b", "not run"]


async def test_cards_are_reused_and_only_a_changed_one_is_shown_again():
    snapshot = {"id": "20260101T000000-a-0001", "name": "a", "kind": "candidate"}
    newer = {"id": "20260102T000000-b-0002", "name": "b", "kind": "candidate"}
    app = TableApp()
    async with app.run_test(size=(80, 30)) as pilot:
        holder = app.query_one("#cards", Vertical)
        sync_cards(holder, [{"snapshot": snapshot}, "nothing else yet"])
        await pilot.pause()
        card, line = holder.children
        assert isinstance(card, SnapshotCard) and type(line) is Static
        sync_cards(holder, [{"snapshot": snapshot}, {"snapshot": newer}])
        await pilot.pause()
        assert holder.children[0] is card  # unchanged: the same widget
        assert [c.snapshot["id"] for c in holder.query(SnapshotCard)] == [
            snapshot["id"],
            newer["id"],
        ]
        sync_cards(holder, [{"failure": ("a", "timeout", "too slow")}])
        await pilot.pause()
        assert list(holder.children) == [card]  # shown again in place, the rest removed
        assert card.failure == ("a", "timeout", "too slow") and card.has_class("-failed")
        assert "run failed" in str(card.content.renderables[0])


class PanelApp(App[None]):
    def compose(self) -> ComposeResult:
        yield RunPanel()


async def test_run_panel_one_bar_per_stage_and_a_log_that_keeps_the_batch():
    app = PanelApp()
    async with app.run_test(size=(80, 16)) as pilot:
        panel = app.query_one(RunPanel)
        panel.reset("running a")
        for stage in ("load", "fit"):
            panel.advance(stage, 0.0, "start")
            panel.advance(stage, 1.0, "done")
        await pilot.pause()
        assert [(r.stage, r.query_one(ProgressBar).progress) for r in app.query(StageRow)] == [
            ("load", 100.0),
            ("fit", 100.0),
        ]
        panel.begin("running b")  # the next model of the same batch: same stage names again
        panel.advance("load", 0.25)
        await pilot.pause()
        assert [(r.stage, r.query_one(ProgressBar).progress) for r in app.query(StageRow)] == [
            ("load", 25.0)
        ]
        assert panel.lines == [
            "running a",
            "load: start",
            "load: done",
            "fit: start",
            "fit: done",
            "running b",
        ]


def test_other_machines_are_named_in_words_on_the_ranking():
    from pathlib import Path
    from types import SimpleNamespace

    from modelsnap.tui.screens.ranking import machine_notes
    from modelsnap.tui.state import ProjectState

    here = {"cpu": "AMD EPYC 7B13", "cores": 4, "fingerprint": "aaaa"}
    there = {"cpu": "Intel(R) Xeon(R) CPU @ 2.20GHz", "cores": 2, "fingerprint": "d665373afb5ea68a"}
    state = ProjectState(root=Path("."), machine="aaaa")
    state.snapshots = [
        {"id": "20261126T072954-logistic-72d7", "hardware": here},
        {"id": "20261126T073009-random_forest-6ee3", "hardware": there},
    ]
    entry = SimpleNamespace(
        id="20261126T073009-random_forest-6ee3", hardware_flags=["latency_p95_ms"]
    )
    result = SimpleNamespace(
        ranked=[SimpleNamespace(id="x", hardware_flags=[]), entry], hardware_fingerprint="aaaa"
    )
    [line] = machine_notes(result, state)
    assert line == (
        "random_forest-6ee3 was profiled on another machine (Intel Xeon, 2 cores), "
        "the others on this machine: its latency_p95_ms is not comparable"
    )
    assert "d665" not in line


def test_card_entries_are_never_broken_in_the_middle_at_80_columns():
    checks = {
        name: {"value": 0.12, "limit": 0.15, "ok": True, "over": 0.0}
        for name in (
            "edge_cases_must_pass",
            "fairness_gap",
            "latency_p95_ms",
            "peak_memory_mb",
            "recall",
            "size_mb",
        )
    }
    snapshot = {
        "id": "x-logistic-72d7",
        "name": "logistic",
        "kind": "baseline",
        "version": "v1",
        "metrics": {
            "validation": {"f1": 0.749, "accuracy": 0.875, "balanced_accuracy": 0.815},
            "test": {"f1": 0.767},
            "test_ci": {"f1": [0.714, 0.816]},
        },
        "resources": {
            "latency_p95_ms": 14.38,
            "size_mb": 0.24,
            "peak_memory_mb": 3.52,
            "fit_seconds": 0.05,
        },
        "constraints": checks,
    }
    lines = plain(render_snapshot(snapshot, primary="f1", machine="this machine"), 76)
    lines = lines.splitlines()
    for name in checks:
        assert any(f"✓ {name} 0.12 (limit 0.15)" in line for line in lines), lines
    assert any("balanced_accuracy 0.815" in line for line in lines)
    assert any("fit 0.05 s" in line for line in lines)
    assert len(lines) <= 8 and all(len(line) <= 76 for line in lines)


@pytest.mark.parametrize(
    ("core", "screen"),
    [
        (
            'lock a new revision first: modelsnap lock /p --reason "why"',
            "lock a new revision first: Save & lock in step 1",
        ),
        (
            'lock them as a new revision (modelsnap lock /p --reason "why") or revert them',
            "lock them as a new revision (Save & lock in step 1) or revert them",
        ),
        (
            "review [[criteria]] and [constraints], then run: modelsnap lock /tmp/x",
            "review [[criteria]] and [constraints], then Save & lock in step 1",
        ),
        (
            "choose a ranked snapshot, or give an override with its own justification",
            "choose a ranked snapshot, or fill in Override with its own justification",
        ),
        (
            "raise it with --timeout or timeout_seconds in modelsnap.toml",
            "raise timeout_seconds in modelsnap.toml",
        ),
        ("pick an id shown by 'modelsnap rank'", "pick a model from the list in step 5"),
        (
            "add rows of that class, merge it with another, or set [data].stratify = false",
            "add rows of that class, merge it with another, or untick stratify in step 1",
        ),
        ("a plain message", "a plain message"),
    ],
)
def test_core_hints_are_said_in_the_tuis_words(core, screen):
    from modelsnap.tui.wording import tui_words

    assert tui_words(core) == screen


def test_no_run_of_a_card_starts_with_a_space():
    from rich.text import Text

    from modelsnap.tui.widgets.snapshot_card import tidy

    text = Text()
    text.append("f1 ", style="dim")
    text.append("0.738", style="bold")
    text.append(" (test 0.704", style="dim")
    text.append(" [0.674, 0.734]", style="dim")
    text.append(")", style="dim")
    done = tidy(text)
    assert done.plain == text.plain
    runs = [done.plain[s.start : s.end] for s in done.spans]
    assert runs == ["f1 ", "0.738 ", "(test 0.704 [0.674, 0.734])"]


def test_card_says_when_the_test_interval_came_from_the_little_bags():
    """A large test split's interval is drawn by the bag of little bootstraps: the card says
    so beside the interval (show and the report say it whole); the exact method says nothing."""
    snapshot = {
        "id": "20261126T061502-forest-3f9a",
        "name": "forest",
        "kind": "candidate",
        "version": "v1",
        "metrics": {
            "validation": {"f1": 0.8},
            "test": {"f1": 0.78},
            "test_ci": {"f1": [0.76, 0.80]},
            "test_ci_method": "little-bags",
            "test_ci_resamples": 1000,
        },
    }
    assert "f1 0.800 (test 0.780 [0.760, 0.800] little bags)" in plain(
        render_snapshot(snapshot, primary="f1")
    )
    del snapshot["metrics"]["test_ci_method"]
    assert "f1 0.800 (test 0.780 [0.760, 0.800])" in plain(render_snapshot(snapshot, primary="f1"))
