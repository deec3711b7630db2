"""Try rows by hand: every competing model's answer for the rows you give, side by side.

The last look before deciding (``modelsnap predict``, the Python API, the TUI): the user types a
row (``"age=41,income=52000,..."``) or names a CSV of rows, and every model that competes
(``competing_snapshots``: the latest snapshot of each model on the current data and split, as
the ranking sees them) predicts them. Rows are checked here, before any model is loaded: a
column that is missing, unknown, or holds a value of the wrong type is named with its row and
how to fix it (``DataError``, exit code 2). The models are loaded and run only in the worker
process (``profiler.scoring``), under the same artifact allow-list as every other job.

Nothing is written.
"""

from __future__ import annotations

import csv
import io
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from modelsnap.core.errors import DataError, SnapshotError
from modelsnap.core.text import column_mismatch

if TYPE_CHECKING:
    from modelsnap.core.records.shapes import Snapshot

MISSING_TOKENS = frozenset({"", "na", "nan", "null", "none"})
LABEL_COLUMNS = ("case", "severity", "tolerance")  # edge-case file columns that are not features
MAX_ROWS = 10_000
MAX_LISTED = 5


@dataclass
class RowsInput:
    """Rows as text cells, with where they came from (for messages)."""

    rows: list[dict[str, str]]
    where: str
    labels: list[str] = field(default_factory=list)  # "row 1", or a CSV's case / line number


def parse_row_text(text: str) -> dict[str, str]:
    """``"col=value,col=value"`` as a mapping; a cell holding a comma is quoted whole, as in
    CSV (``'age=41,"city=Paris, TX"'``). DataError names a cell without ``=`` or a repeated
    column."""
    try:
        cells = next(csv.reader([text], skipinitialspace=True), [])
    except csv.Error as exc:
        raise DataError(
            f"the row cannot be read ({exc})",
            where="--row",
            hint='write it as "column=value,column=value"',
        ) from None
    row: dict[str, str] = {}
    for cell in cells:
        if not cell.strip():
            continue
        if "=" not in cell:
            raise DataError(
                f"{cell.strip()!r} is not column=value",
                where="--row",
                hint='write it as "column=value,column=value"; quote a cell '
                'that holds a comma whole: "city=Paris, TX"',
            )
        name, value = cell.split("=", 1)
        name = name.strip()
        if name in row:
            raise DataError(f"column {name!r} is given twice", where="--row")
        row[name] = value.strip()
    if not row:
        raise DataError(
            "the row is empty", where="--row", hint='write it as "column=value,column=value"'
        )
    return row


def rows_from_texts(texts: Sequence[str]) -> RowsInput:
    rows = [parse_row_text(text) for text in texts]
    return RowsInput(rows=rows, where="--row", labels=[f"row {i}" for i in range(1, len(rows) + 1)])


def rows_from_csv(path: Path | str) -> RowsInput:
    """The rows of a CSV with a header (an edge-case file works too: its ``case`` names the
    rows, its target column is shown as the expected answer)."""
    from modelsnap.core.files import EDGE_CSV_LIMIT, read_csv_records

    path = Path(path)
    where = str(path)
    _, records = read_csv_records(path, what="rows file", limit=EDGE_CSV_LIMIT)
    if len(records) < 2:
        raise DataError(
            "rows file has no rows under its header",
            where=where,
            hint="the first line names the columns, one row per line below it",
        )
    header = [cell.strip() for cell in records[0][1]]
    duplicates = sorted({c for c in header if header.count(c) > 1})
    if duplicates or "" in header:
        raise DataError(
            "rows file's header repeats a column or has an empty name"
            + (f" ({', '.join(map(repr, duplicates))})" if duplicates else ""),
            where=where,
        )
    if len(records) - 1 > MAX_ROWS:
        raise DataError(
            f"rows file has {len(records) - 1} rows; at most {MAX_ROWS} are tried by hand",
            where=where,
            hint="use modelsnap monitor for a data set",
        )
    rows, labels = [], []
    for line, cells in records[1:]:
        if len(cells) != len(header):
            raise DataError(
                f"line {line}: {len(cells)} cells, the header has {len(header)}", where=where
            )
        row = {name: cell.strip() for name, cell in zip(header, cells, strict=True)}
        labels.append(row.get("case") or f"line {line}")
        rows.append(row)
    return RowsInput(rows=rows, where=where, labels=labels)


def _number(text: str) -> float | None:
    try:
        value = float(text)
    except ValueError:
        return None
    return value if math.isfinite(value) else None


def check_rows(
    given: RowsInput,
    columns: Mapping[str, str],
    target: str,
    known_values: Mapping[str, Sequence[str]] | None = None,
) -> tuple[list[dict[str, Any]], list[Any], list[str]]:
    """Typed feature rows (numeric: float, missing: None), the expected values (the target
    column when given, else None) and warnings (a category the data never holds).

    DataError lists every missing or unknown column and every value of the wrong type, each with
    its row, and how to fix it."""
    allowed = set(columns) | {target, *LABEL_COLUMNS}
    problems: list[str] = []
    typed: list[dict[str, Any]] = []
    expected: list[Any] = []
    warnings: list[str] = []
    for label, row in zip(given.labels, given.rows, strict=True):
        missing = [c for c in columns if c not in row]
        unknown = [c for c in row if c not in allowed]
        problems.extend(f"{label}: {part}" for part in column_mismatch(missing, unknown))
        values: dict[str, Any] = {}
        for column, kind in columns.items():
            text = row.get(column, "")
            if text.lower() in MISSING_TOKENS:
                values[column] = None
            elif kind == "numeric":
                number = _number(text)
                if number is None:
                    problems.append(
                        f"{label}: column {column!r} is numeric, {text!r} is not a finite number"
                    )
                values[column] = number
            else:
                values[column] = text
                seen = (known_values or {}).get(column)
                if seen is not None and text not in seen:
                    warnings.append(
                        f"{label}: {column}={text!r} never occurs in the data "
                        "(the model treats it as unknown)"
                    )
        typed.append(values)
        cell = row.get(target, "")
        expected.append(None if cell.lower() in MISSING_TOKENS else cell)
    if problems:
        shown = problems[:MAX_LISTED]
        more = len(problems) - len(shown)
        numeric = [c for c, k in columns.items() if k == "numeric"]
        raise DataError(
            "; ".join(shown) + (f"; and {more} more" if more else ""),
            where=given.where,
            hint=(
                f"give every feature column: {', '.join(columns)}"
                + (f" (numeric: {', '.join(numeric)})" if numeric else "")
                + "; leave a value empty for a missing one"
                + (f"; '{target}' is optional (the expected answer)" if target else "")
            ),
        )
    return typed, expected, warnings


def competing_snapshots(root: Path, snapshot_ids: Sequence[str] | None = None) -> list[Snapshot]:
    """The snapshots asked for (id or unique prefix), or those that compete: the latest of each
    model on the current data and split (``ranking.latest_per_name``), baseline first."""
    from modelsnap.core.records.store import find_snapshot, read_snapshot
    from modelsnap.core.selection.context import load_context
    from modelsnap.core.selection.ranking import latest_per_name

    root = Path(root)
    if snapshot_ids:
        ids: list[str] = []
        for wanted in snapshot_ids:
            found = find_snapshot(root, wanted)
            if found not in ids:
                ids.append(found)
    else:
        context = load_context(root, from_records=True, write_index=False)
        current: list[tuple[dict[str, Any], list[str]]] = [
            (row, [])
            for row in context.rows
            if row.get("dataset_sha256") == context.hashes.dataset_sha256
            and row.get("split_sha256") == context.hashes.split_sha256
        ]
        competing, _ = latest_per_name(current)
        rows = sorted(
            (row for row, _ in competing),
            key=lambda r: (r.get("kind") != "baseline", str(r.get("name", ""))),
        )
        ids = [row["id"] for row in rows]
        if not ids:
            raise SnapshotError(
                "no snapshot on the current data and split to try rows on",
                where=str(root / "snapshots"),
                hint=f"run models first: modelsnap run {root}",
            )
    return [read_snapshot(root, ident) for ident in ids]


def _shown(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.6g}"
    return "" if value is None else str(value)


# ------------------------------------------------------------------------ the TUI's try-rows panel

CHOICES_LIMIT = 50  # categorical values offered in the form, most frequent first
SAMPLE_ROWS = 20  # test-split rows offered to pick from


def _cell(value: Any) -> str:
    """A data value as the text a user would type (missing is empty)."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return ""
    if isinstance(value, float) and value.is_integer() and abs(value) < 2**53:
        return str(int(value))
    return str(value)


def row_form(root: Path | str) -> dict[str, Any]:
    """What the try-rows form is built from: the feature columns and their kinds, categorical
    values offered from the data, test-split rows and the edge cases to pick from (as text).
    Loads the data set (pandas): call it off the UI thread."""
    from modelsnap.core.errors import ModelsnapError
    from modelsnap.core.evaluation.data import load_dataset, read_split
    from modelsnap.core.evaluation.edgecases import edge_cases_for_dataset, feature_kinds
    from modelsnap.core.files import inside
    from modelsnap.core.project.parse import load_project

    root = Path(root)
    config = load_project(root)
    dataset = load_dataset(config)
    columns = feature_kinds(dataset.frame)
    choices = {
        column: [
            str(v)
            for v in dataset.frame[column].dropna().astype(str).value_counts().index[:CHOICES_LIMIT]
        ]
        for column, kind in columns.items()
        if kind == "categorical"
    }
    try:
        test_indices = [
            int(i) for i in read_split(root).test[:SAMPLE_ROWS] if int(i) < len(dataset.frame)
        ]
    except ModelsnapError:
        test_indices = []  # no split yet: nothing is drawn just to offer rows
    test_rows = []
    for index in test_indices:
        row = dataset.frame.iloc[int(index)]
        test_rows.append(
            {
                "label": f"test row {int(index) + 1}",
                "values": {c: _cell(row[c]) for c in columns},
                "expected": _cell(dataset.target.iloc[int(index)]),
            }
        )
    edge_rows: list[dict[str, Any]] = []
    edge_problem = ""
    if config.data.edge_cases:
        try:
            cases = edge_cases_for_dataset(
                inside(root, config.data.edge_cases, what="[data].edge_cases"),
                dataset,
                display_name=config.data.edge_cases,
            )
            for i in range(len(cases)):
                edge_rows.append(
                    {
                        "label": cases.cases[i],
                        "values": {c: _cell(cases.rows[i][c]) for c in columns},
                        "expected": _cell(cases.expected[i]),
                        "severity": cases.severities[i],
                    }
                )
        except ModelsnapError as exc:
            edge_problem = str(exc)
    return {
        "columns": columns,
        "choices": choices,
        "target": dataset.target_name,
        "task": dataset.task,
        "classes": list(dataset.classes or []),
        "test_rows": test_rows,
        "edge_rows": edge_rows,
        "edge_problem": edge_problem,
        "edge_file": config.data.edge_cases or DEFAULT_EDGE_FILE,
    }


DEFAULT_EDGE_FILE = "edge_cases.csv"


def append_edge_case(
    root: Path | str, values: Mapping[str, str], *, expected: str, severity: str, case: str
) -> dict[str, Any]:
    """Append one row to the project's edge-case file (created, and named in
    ``[data].edge_cases``, when the project has none).

    The new file is checked whole with the edge-case rules (``load_edge_cases``: every column,
    the expected value a class of the data or a number, a known severity) before it replaces
    the old one atomically, so a bad row leaves the file as it was (``DataError``). The file's
    sha256 changes, which step 4 and ``modelsnap edge`` already show. Returns ``{"file",
    "case", "n_cases"}``."""
    from modelsnap.core.evaluation.data import load_dataset
    from modelsnap.core.evaluation.edgecases import (
        SEVERITIES,
        edge_cases_for_dataset,
        feature_kinds,
    )
    from modelsnap.core.files import (
        EDGE_CSV_LIMIT,
        atomic_write_bytes,
        inside,
        read_regular,
    )
    from modelsnap.core.project.edit import update_project
    from modelsnap.core.project.parse import load_project

    root = Path(root)
    config = load_project(root)
    dataset = load_dataset(config)
    columns = feature_kinds(dataset.frame)
    target = dataset.target_name
    case = " ".join(str(case).split())
    if not case:
        raise DataError(
            "the case needs a name", where="case", hint="say in a few words what the row tests"
        )
    if severity not in SEVERITIES:
        raise DataError(
            f"severity {severity!r} is not one of {', '.join(SEVERITIES)}", where="severity"
        )
    if not str(expected).strip():
        raise DataError(
            "the expected answer is empty",
            where=target,
            hint="the edge case says what a sound model must predict",
        )
    check_rows(RowsInput(rows=[dict(values)], where="the row", labels=[case]), columns, target)
    relative = config.data.edge_cases or DEFAULT_EDGE_FILE
    path = inside(root, relative, what="[data].edge_cases")
    try:
        old = read_regular(path, what="edge-case file", limit=EDGE_CSV_LIMIT, error=DataError)
    except FileNotFoundError:
        old = b""
    if old:
        header = next(csv.reader(io.StringIO(old.decode("utf-8-sig"))), [])
        header = [cell.strip() for cell in header]
    else:
        header = ["case", *columns, target, "severity"]
    cells = {
        **{c: str(values.get(c, "")) for c in columns},
        target: str(expected).strip(),
        "case": case,
        "severity": severity,
    }
    missing = [name for name in ("case", "severity") if name not in header]
    if missing:
        raise DataError(
            f"the edge-case file has no {' or '.join(missing)} column, so the row's "
            f"{' and '.join(missing)} cannot be kept",
            where=relative,
            hint=f"add the column(s) {', '.join(missing)} to its header",
        )
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    if not old:
        writer.writerow(header)
    writer.writerow([cells.get(name, "") for name in header])
    prefix = old if not old or old.endswith(b"\n") else old + b"\n"
    data = prefix + buffer.getvalue().encode("utf-8")
    import secrets

    from modelsnap.core.files import tmp_dir

    trial = tmp_dir(root) / f".tmp-edge-{secrets.token_hex(6)}.csv"
    try:
        trial.write_bytes(data)
        checked = edge_cases_for_dataset(trial, dataset, display_name=relative)
    finally:
        trial.unlink(missing_ok=True)
    atomic_write_bytes(root, path, data)
    if not config.data.edge_cases:
        update_project(root, {"data": {"edge_cases": relative}})
    return {"file": relative, "case": case, "n_cases": len(checked)}


__all__ = [
    "RowsInput",
    "append_edge_case",
    "check_rows",
    "competing_snapshots",
    "parse_row_text",
    "row_form",
    "rows_from_csv",
    "rows_from_texts",
]
