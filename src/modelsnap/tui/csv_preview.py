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


@dataclass
class CsvPreview:
    path: Path
    columns: list[str]
    rows: list[list[str]]  # the first rows, as text
    n_rows: int
    counts: dict[str, Counter] = field(default_factory=dict)  # column -> value counts (few values)

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


def read_preview(path: Path, *, n_first: int = 5) -> CsvPreview:
    """Read the header, the first ``n_first`` rows and small value counts of every column.

    Raises DataError naming the file for anything that makes it unusable as a data set.
    """
    path = Path(path)
    from modelsnap.core.files import open_regular

    try:
        handle = io.TextIOWrapper(open_regular(path, what="the data file", error=DataError),
                                  newline="", encoding="utf-8-sig")
    except OSError as exc:
        raise DataError(f"cannot read the data file: {exc.strerror}", where=str(path)) from None
    with handle:
        try:
            reader = csv.reader(handle)
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
            counters: list[Counter | None] = [Counter() for _ in columns]
            rows: list[list[str]] = []
            n_rows = 0
            for line_no, row in enumerate(reader, start=2):
                if not row:
                    continue
                if len(row) != len(columns):
                    raise DataError(
                        f"line {line_no} has {len(row)} fields, the header has {len(columns)}",
                        where=str(path),
                        hint="fix the row or quote fields that contain commas",
                    )
                n_rows += 1
                if len(rows) < n_first:
                    rows.append(row)
                for index, value in enumerate(row):
                    counter = counters[index]
                    if counter is None:
                        continue
                    counter[value] += 1
                    if len(counter) > MAX_DISTINCT:
                        counters[index] = None
        except UnicodeDecodeError:
            raise DataError("the file is not UTF-8 text", where=str(path)) from None
        except csv.Error as exc:
            raise DataError(f"not a readable CSV ({exc})", where=str(path)) from None
    if n_rows == 0:
        raise DataError("the file has a header but no rows", where=str(path))
    counts = {
        name: counter
        for name, counter in zip(columns, counters, strict=True)
        if counter is not None
    }
    return CsvPreview(path=path, columns=columns, rows=rows, n_rows=n_rows, counts=counts)
