"""The set-up screen's CSV reader: columns, first rows, class balance, task guess, bad files."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from modelsnap.core.errors import DataError
from modelsnap.tui.csv_preview import CsvPreview, list_csv_files, read_preview


def write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


def test_columns_rows_and_balance(tmp_path):
    lines = ["a,b,label"] + [f"{i},{i * 2},{'yes' if i % 4 == 0 else 'no'}" for i in range(40)]
    preview = read_preview(write(tmp_path / "d.csv", "\n".join(lines) + "\n"), n_first=3)
    assert preview.columns == ["a", "b", "label"]
    assert preview.rows == [["0", "0", "yes"], ["1", "2", "no"], ["2", "4", "no"]]
    assert preview.n_rows == 40
    assert preview.balance("label") == [("no", 30, 0.75), ("yes", 10, 0.25)]
    assert preview.balance("a") == [(str(i), 1, 1 / 40) for i in range(40)]


def test_many_values_means_no_balance_and_regression(tmp_path):
    lines = ["x,y"] + [f"{i},{i * 0.37:.2f}" for i in range(100)]
    preview = read_preview(write(tmp_path / "d.csv", "\n".join(lines)))
    assert preview.balance("y") is None
    assert preview.guess_task("y") == "regression"


@pytest.mark.parametrize(
    ("values", "task"),
    [
        (["yes", "no"], "classification"),
        (["0", "1", "2"], "classification"),
        (["0.5", "1.5"], "regression"),
    ],
)
def test_task_guess_follows_the_documented_rule(tmp_path, values, task):
    lines = ["x,t"] + [f"{i},{values[i % len(values)]}" for i in range(30)]
    assert read_preview(write(tmp_path / "d.csv", "\n".join(lines))).guess_task("t") == task


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "no header row"),
        ("a,b\n", "no rows"),
        ("a,a\n1,2\n", "duplicate column names: a"),
        ("a,b\n1,2\n3\n", "line 3 has 1 fields, the header has 2"),
    ],
)
def test_bad_files_are_named_errors(tmp_path, text, message):
    path = write(tmp_path / "bad.csv", text)
    with pytest.raises(DataError) as caught:
        read_preview(path)
    assert message in str(caught.value)
    assert str(path) in str(caught.value)


def test_not_utf8_and_missing(tmp_path):
    (tmp_path / "latin.csv").write_bytes(b"a,b\n\xe9,1\n")
    with pytest.raises(DataError, match="not UTF-8"):
        read_preview(tmp_path / "latin.csv")
    with pytest.raises(DataError, match="cannot read"):
        read_preview(tmp_path / "absent.csv")


def test_lists_only_csv_files_in_the_folder(tmp_path):
    for name in ("b.csv", "A.CSV", "notes.txt"):
        (tmp_path / name).write_text("x\n1\n")
    (tmp_path / "sub.csv").mkdir()
    assert list_csv_files(tmp_path) == ["A.CSV", "b.csv"]


@settings(
    max_examples=150, suppress_health_check=[HealthCheck.function_scoped_fixture], deadline=None
)
@given(st.binary(max_size=400))
def test_any_bytes_give_a_preview_or_a_data_error(tmp_path, data):
    path = tmp_path / "fuzz.csv"
    path.write_bytes(data)
    try:
        preview = read_preview(path)
    except DataError as error:
        assert error.where == str(path)
    else:
        assert isinstance(preview, CsvPreview)
        assert preview.n_rows >= 1
        assert all(len(row) == len(preview.columns) for row in preview.rows)


def test_class_counts_use_the_loaders_labels(tmp_path):
    from modelsnap.tui.csv_preview import read_preview

    path = tmp_path / "d.csv"
    path.write_text("x,y,z\n1,1.0,b\n2,1,a\n3,0,\n4,2.0,NA\n", encoding="utf-8")
    preview = read_preview(path)
    assert preview.class_counts("y") == {"0": 1, "1": 2, "2": 1}
    assert preview.class_counts("z") == {"a": 1, "b": 1}  # missing values left out
    assert [(s.name, s.kind, s.missing) for s in preview.summaries] == [
        ("x", "integer", 0),
        ("y", "number", 0),
        ("z", "text", 2),
    ]
