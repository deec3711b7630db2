"""A quick look at a CSV for the set-up screen, with the csv module only.

Set-up needs the column names, the first rows and the balance of the target column. pandas
would give that too but costs ~0.5 s of imports in the UI process; one pass of the csv module
gives it without that, and runs in a worker thread so a large file never freezes the screen.
"""

from __future__ import annotations

import csv
import io
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from modelsnap.core.errors import DataError

MAX_DISTINCT = 50  # beyond this a column is not shown as classes

# What pandas reads as a missing value by default (``pandas.read_csv`` na_values), so the counts
# shown in set-up are the ones the data loader will find.
MISSING_TEXT = frozenset(
    {
        "",
        "#N/A",
        "#N/A N/A",
        "#NA",
        "-1.#IND",
        "-1.#QNAN",
        "-NaN",
        "-nan",
        "1.#IND",
        "1.#QNAN",
        "<NA>",
        "N/A",
        "NA",
        "NULL",
        "NaN",
        "None",
        "n/a",
        "nan",
        "null",
    }
)


@dataclass
class ColumnSummary:
    """One column at a glance: its kind of values, how many are missing, how many distinct."""

    name: str
    kind: str  # "integer", "number", "text" or "empty"
    missing: int
    distinct: int | None  # None: more than MAX_DISTINCT


def _kind(value: str) -> int:
    """0 integer, 1 number, 2 text (the widest kind a column has so far wins)."""
    try:
        number = float(value)
    except ValueError:
        return 2
    return 0 if number.is_integer() and "." not in value and "e" not in value.lower() else 1


@dataclass
class CsvPreview:
    path: Path
    columns: list[str]
    rows: list[list[str]]  # the first rows, as text
    n_rows: int
    counts: dict[str, Counter] = field(default_factory=dict)  # column -> value counts (few values)
    summaries: list[ColumnSummary] = field(default_factory=list)  # one per column, in order

    def class_counts(self, column: str) -> dict[str, int] | None:
        """label -> rows for a column with few values, labels sorted as the data loader sorts
        classes; missing values left out (the loader refuses them separately)."""
        counter = self.counts.get(column)
        if counter is None:
            return None
        present = {label: n for label, n in counter.items() if label not in MISSING_TEXT}
        try:
            numbers = {label: float(label) for label in present}
        except ValueError:
            numbers = {}
        if numbers and all(v.is_integer() and abs(v) <= 2.0**53 for v in numbers.values()):
            # the loader's labels: integer-valued numbers without ".0" ("1.0" and "1" are one)
            merged: Counter = Counter()
            for label, n in present.items():
                merged[str(int(numbers[label]))] += n
            present = dict(merged)
        return {label: present[label] for label in sorted(present)}

    def balance(self, column: str) -> list[tuple[str, int, float]] | None:
        """(value, count, share) from most to least common; None when the column has many values."""
        counter = self.counts.get(column)
        if counter is None or self.n_rows == 0:
            return None
        return [(value, count, count / self.n_rows) for value, count in counter.most_common()]

    def guess_task(self, column: str) -> str:
        """The documented rule (docs/project-file.md): non-numeric or at most 20 distinct
        integer values means classification; the user can change the guess."""
        counter = self.counts.get(column)
        if counter is None:
            return "regression"
        values = [v for v in counter if v.strip()]
        if len(values) > 20:
            return "regression"
        try:
            numbers = [float(v) for v in values]
        except ValueError:
            return "classification"
        return "classification" if all(n.is_integer() for n in numbers) else "regression"


def list_csv_files(root: Path) -> list[str]:
    """CSV files directly in the project folder (set-up keeps data inside the folder)."""
    return sorted(
        p.name for p in Path(root).iterdir() if p.is_file() and p.suffix.lower() == ".csv"
    )


def _header(reader, path: Path) -> list[str]:
    """The column names of the first line; refused when missing or repeated."""
    header = next(reader, None)
    if not header or not any(name.strip() for name in header):
        raise DataError(
            "the file has no header row",
            where=str(path),
            hint="the first line must name the columns",
        )
    columns = [name.strip() for name in header]
    duplicates = sorted({c for c in columns if columns.count(c) > 1})
    if duplicates:
        raise DataError(
            f"duplicate column names: {', '.join(duplicates)}",
            where=str(path),
            hint="give every column a distinct name",
        )
    return columns


class _Tally:
    """What one pass over the rows keeps per column: small value counts, missing values, the
    widest kind of value seen, and the first rows as text."""

    def __init__(self, columns: list[str], n_first: int) -> None:
        self.columns = columns
        self.n_first = n_first
        self.counters: list[Counter | None] = [Counter() for _ in columns]
        self.missing = [0] * len(columns)
        self.kinds = [-1] * len(columns)  # -1: no value seen yet
        self.rows: list[list[str]] = []
        self.n_rows = 0

    def add(self, row: list[str]) -> None:
        self.n_rows += 1
        if len(self.rows) < self.n_first:
            self.rows.append(row)
        for index, value in enumerate(row):
            if value in MISSING_TEXT:
                self.missing[index] += 1
            elif self.kinds[index] < 2:
                self.kinds[index] = max(self.kinds[index], _kind(value))
            counter = self.counters[index]
            if counter is None:
                continue
            counter[value] += 1
            if len(counter) > MAX_DISTINCT:
                self.counters[index] = None

    def preview(self, path: Path) -> CsvPreview:
        counts = {
            name: counter
            for name, counter in zip(self.columns, self.counters, strict=True)
            if counter is not None
        }
        names = ("empty", "integer", "number", "text")
        summaries = [
            ColumnSummary(
                name=name,
                kind=names[self.kinds[index] + 1],
                missing=self.missing[index],
                distinct=None
                if (counter := self.counters[index]) is None
                else len([v for v in counter if v not in MISSING_TEXT]),
            )
            for index, name in enumerate(self.columns)
        ]
        return CsvPreview(
            path=path,
            columns=self.columns,
            rows=self.rows,
            n_rows=self.n_rows,
            counts=counts,
            summaries=summaries,
        )


def read_preview(path: Path, *, n_first: int = 5) -> CsvPreview:
    """Read the header, the first ``n_first`` rows and small value counts of every column.

    Raises DataError naming the file for anything that makes it unusable as a data set.
    """
    path = Path(path)
    from modelsnap.core.files import open_regular

    try:
        handle = io.TextIOWrapper(
            open_regular(path, what="the data file", error=DataError),
            newline="",
            encoding="utf-8-sig",
        )
    except OSError as exc:
        raise DataError(f"cannot read the data file: {exc.strerror}", where=str(path)) from None
    with handle:
        try:
            reader = csv.reader(handle)
            columns = _header(reader, path)
            tally = _Tally(columns, n_first)
            for line_no, row in enumerate(reader, start=2):
                if not row:
                    continue
                if len(row) != len(columns):
                    raise DataError(
                        f"line {line_no} has {len(row)} fields, the header has {len(columns)}",
                        where=str(path),
                        hint="fix the row or quote fields that contain commas",
                    )
                tally.add(row)
        except UnicodeDecodeError:
            raise DataError("the file is not UTF-8 text", where=str(path)) from None
        except csv.Error as exc:
            raise DataError(f"not a readable CSV ({exc})", where=str(path)) from None
    if tally.n_rows == 0:
        raise DataError("the file has a header but no rows", where=str(path))
    return tally.preview(path)
