"""The figures of ``modelsnap monitor`` and the row checks of ``modelsnap predict``, without a
worker: PSI, category shares, metric against interval, the [monitoring] table, record reading."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from modelsnap.core.errors import DataError, ProjectFileError
from modelsnap.core.followup.monitoring import (
    compare_metric,
    monitoring_history,
    pick_decision,
    psi,
    share_changes,
)
from modelsnap.core.followup.trying import RowsInput, check_rows, parse_row_text, rows_from_csv
from modelsnap.core.project.parse import parse_project
from modelsnap.core.project.schema import MonitoringConfig

COLUMNS = {"age": "numeric", "region": "categorical"}


def test_psi_is_near_zero_for_the_same_distribution_and_large_for_a_scaled_one() -> None:
    rng = np.random.default_rng(0)
    reference = rng.uniform(20, 70, size=5000)
    same = rng.uniform(20, 70, size=5000)
    assert psi(reference, same)[0] < 0.02
    assert psi(reference, same * 1.3)[0] > 0.25
    value, edges = psi(reference, same)
    assert len(edges) == 9 and edges == sorted(edges)


def test_psi_counts_missing_values_as_their_own_bin() -> None:
    reference = np.arange(1000, dtype=float)
    current = np.arange(1000, dtype=float)
    current[:300] = np.nan
    assert psi(reference, current)[0] > 0.25


def test_psi_of_a_constant_reference_is_finite() -> None:
    value, edges = psi(np.ones(100), np.full(100, 2.0))
    assert np.isfinite(value) and value > 1 and edges == [1.0]


def test_share_changes_names_the_category_that_moved() -> None:
    before = ["a"] * 50 + ["b"] * 30 + ["c"] * 20
    after = ["a"] * 30 + ["b"] * 30 + ["c"] * 40
    entry = share_changes(before, after)
    assert entry["category"] in ("a", "c") and entry["max_change"] == pytest.approx(0.2)
    assert entry["shares_new"]["c"] == pytest.approx(0.4)
    assert share_changes(["a", None], ["a", "z"])["new_categories"] == ["z"]


@given(st.lists(st.sampled_from("abc"), min_size=1), st.lists(st.sampled_from("abcd"), min_size=1))
def test_shares_sum_to_one_and_the_largest_change_is_largest(before, after) -> None:
    entry = share_changes(before, after)
    assert sum(entry["shares_new"].values()) == pytest.approx(1.0, abs=1e-5)
    keys = set(entry["shares_new"]) | set(entry["shares_train"])
    changes = [abs(entry["shares_new"].get(k, 0) - entry["shares_train"].get(k, 0)) for k in keys]
    assert entry["max_change"] == pytest.approx(max(changes), abs=1e-5)


def test_compare_metric_knows_which_side_is_worse() -> None:
    below = compare_metric("accuracy", 0.70, 0.82, [0.78, 0.86], [0.68, 0.72])
    assert below["status"] == "below" and below["by"] == pytest.approx(0.08)
    assert below["worse"] and below["degraded"]
    better = compare_metric("accuracy", 0.90, 0.82, [0.78, 0.86], [0.88, 0.92])
    assert better["status"] == "above" and not better["worse"] and not better["degraded"]
    loss = compare_metric("log_loss", 0.60, 0.40, [0.35, 0.45], [0.55, 0.65])
    assert loss["status"] == "above" and loss["worse"] and loss["degraded"]
    inside = compare_metric("f1", 0.80, 0.82, [0.78, 0.86], [0.7, 0.9])
    assert inside["status"] == "inside" and not inside["degraded"]


def test_just_outside_within_the_noise_is_not_degraded() -> None:
    entry = compare_metric("recall", 0.75, 0.82, [0.77, 0.87], [0.70, 0.80])
    assert entry["worse"] and not entry["degraded"]
    assert entry["margin"] == pytest.approx(np.hypot(0.05, 0.05), abs=1e-6)


def test_the_monitoring_table_has_documented_defaults_and_is_checked(tmp_path: Path) -> None:
    base = {"data": {"source": "sklearn:iris", "target": "target"}}
    assert parse_project(base, tmp_path).monitoring == MonitoringConfig()
    assert MonitoringConfig() == MonitoringConfig(0.1, 0.25, 0.1, 0.1, 30)
    config = parse_project({**base, "monitoring": {"psi_drift": 0.4, "min_rows": 100}}, tmp_path)
    assert config.monitoring.psi_drift == 0.4 and config.monitoring.min_rows == 100
    for bad, where in (
        ({"psi_watch": 0.5, "psi_drift": 0.3}, "psi_watch"),
        ({"share_change": 1.5}, "share_change"),
        ({"psi_drift": -1}, "psi_drift"),
        ({"min_rows": 1}, "min_rows"),
        ({"psi": 0.2}, "[monitoring]"),
    ):
        with pytest.raises(ProjectFileError) as caught:
            parse_project({**base, "monitoring": bad}, tmp_path)
        assert where in caught.value.where


def test_parse_row_text_reads_quoted_values_and_refuses_bad_cells() -> None:
    assert parse_row_text('age=41, "city=Paris, TX",note=') == {
        "age": "41",
        "city": "Paris, TX",
        "note": "",
    }
    for text, message in (
        ("age", "is not column=value"),
        ("a=1,a=2", "given twice"),
        (" , ", "the row is empty"),
    ):
        with pytest.raises(DataError, match=message):
            parse_row_text(text)


def test_check_rows_types_values_and_lists_every_problem() -> None:
    given_rows = RowsInput(
        rows=[{"age": "41", "region": "", "y": "yes"}, {"age": "x", "colour": "red"}],
        where="--row",
        labels=["row 1", "row 2"],
    )
    with pytest.raises(DataError) as caught:
        check_rows(given_rows, COLUMNS, "y")
    message = caught.value.message
    assert "row 2: missing column(s) 'region'" in message
    assert "row 2: unknown column(s) 'colour'" in message
    assert "row 2: column 'age' is numeric, 'x' is not a finite number" in message
    typed, expected, warnings = check_rows(
        RowsInput(
            rows=[{"age": "41", "region": "mars", "y": "yes"}], where="--row", labels=["row 1"]
        ),
        COLUMNS,
        "y",
        {"region": ["east", "west"]},
    )
    assert typed == [{"age": 41.0, "region": "mars"}] and expected == ["yes"]
    assert "never occurs in the data" in warnings[0]


def test_rows_from_csv_refuses_a_file_without_rows(tmp_path: Path) -> None:
    path = tmp_path / "rows.csv"
    path.write_text("age,region\n")
    with pytest.raises(DataError, match="no rows under its header"):
        rows_from_csv(path)
    with pytest.raises(DataError, match="rows file not found"):
        rows_from_csv(tmp_path / "missing.csv")
    path.write_text("age,region\n1,a,b\n")
    with pytest.raises(DataError, match="line 2: 3 cells"):
        rows_from_csv(path)


def test_monitoring_history_groups_by_decision_and_names_bad_files(tmp_path: Path) -> None:
    folder = tmp_path / "monitoring"
    folder.mkdir()
    (folder / "20260101T000000-aaaa.toml").write_text(
        'id = "20260101T000000-aaaa"\ncreated_at = "2026-01-01T00:00:00+00:00"\n'
        'decision_id = "D0001"\nverdict = "holds"\nreasons = []\n[data]\nn_rows = 10\n'
    )
    (folder / "20260102T000000-bbbb.toml").write_text(
        'id = "20260102T000000-bbbb"\ncreated_at = "2026-01-02T00:00:00+00:00"\n'
        'decision_id = "D0001"\nverdict = "drifted"\nreasons = ["age drifted"]\n'
    )
    (folder / "broken.toml").write_text("verdict = [")
    history, problems = monitoring_history(tmp_path)
    assert [e["verdict"] for e in history["D0001"]] == ["holds", "drifted"]
    assert history["D0001"][1]["reasons"] == ["age drifted"]
    assert len(problems) == 1 and "broken.toml" in problems[0]
    assert monitoring_history(tmp_path / "nowhere") == ({}, [])


def test_no_decision_yet_is_exit_code_2(tmp_path: Path) -> None:
    with pytest.raises(DataError.__mro__[1]) as caught:
        pick_decision(tmp_path, None)
    assert caught.value.exit_code == 2 and "no decision yet" in caught.value.message
