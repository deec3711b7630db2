"""Number formatting shared by cards, tables and the plot: short, fixed, never 'nan'."""

from __future__ import annotations

import math
from typing import Any

from modelsnap.core.text import has_control, printable, printable_with_map

__all__ = ["num", "pct", "printable", "safe_content", "safe_text", "short_id"]


def num(value: Any, digits: int = 3) -> str:
    """A measure for display: 3 significant-ish decimals, '-' when absent or not a number."""
    if value is None or isinstance(value, bool):
        return "-"
    try:
        number = float(value)
    except (TypeError, ValueError):
        return str(value)
    if math.isnan(number) or math.isinf(number):
        return "-"
    if number != 0 and abs(number) >= 1000:
        return f"{number:,.0f}"
    if number != 0 and abs(number) >= 100:
        return f"{number:.1f}"
    return f"{number:.{digits}f}"


def pct(value: Any) -> str:
    """A ratio as a signed percentage, e.g. 0.076 -> '+7.6%'."""
    try:
        return f"{float(value) * 100:+.1f}%"
    except (TypeError, ValueError):
        return "-"


def short_id(snapshot_id: str) -> str:
    """The part of an id people recognise: name and suffix, without the timestamp (the form
    every command also accepts as an id: ``core.records.store.find_snapshot``)."""
    from modelsnap.core.records.store import short_id as core_short_id

    return core_short_id(snapshot_id)


def fill_table(
    table: Any,
    headers: list[str],
    rows: list[tuple[list[Any], Any]],
    *,
    min_widths: dict[str, int] | None = None,
    in_place: bool = False,
) -> None:
    """Replace a DataTable's columns and rows, with column widths fixed from the content.

    DataTable otherwise widens columns on a later refresh; fixing them up front makes the
    first frame final (no jump, and deterministic screenshots). ``rows`` are (cells, key).

    ``in_place=True``: when the table already has these columns (same headers and widths) and
    these row keys in this order, only the cells that differ are updated; the table keeps its
    cursor and scroll position and nothing is laid out again. Otherwise it is rebuilt.
    """
    rows = [([_safe_cell(cell) for cell in cells], key) for cells, key in rows]
    widths = [max(len(header), (min_widths or {}).get(header, 0)) for header in headers]
    for cells, _key in rows:
        for index, cell in enumerate(cells):
            widths[index] = max(widths[index], len(getattr(cell, "plain", str(cell))))
    if in_place and _update_cells(table, headers, widths, rows):
        return
    table.clear(columns=True)
    for header, width in zip(headers, widths, strict=True):
        key = header if headers.count(header) == 1 else None  # a key for update_cell
        table.add_column(header, width=width, key=key)
    for cells, key in rows:
        table.add_row(*cells, key=key)


def _update_cells(
    table: Any, headers: list[str], widths: list[int], rows: list[tuple[list[Any], Any]]
) -> bool:
    """Update the cells that changed, if the table has the same shape; False if it has not."""
    columns = table.ordered_columns
    same_columns = len(set(headers)) == len(headers) and [
        (column.key.value, column.label.plain, column.width) for column in columns
    ] == list(zip(headers, headers, widths, strict=True))
    keys = [key for _cells, key in rows]
    if not same_columns or None in keys or [row.key.value for row in table.ordered_rows] != keys:
        return False
    for cells, key in rows:
        for header, old, new in zip(headers, table.get_row(key), cells, strict=True):
            if type(old) is not type(new) or old != new:
                table.update_cell(key, header, new)
    return True


def _safe_cell(cell: Any) -> Any:
    if isinstance(cell, str):
        return printable(cell)
    if hasattr(cell, "spans") and hasattr(cell, "append"):  # rich Text
        return safe_text(cell)
    if hasattr(cell, "spans"):
        return safe_content(cell)
    return cell


def safe_content(content: Any) -> Any:
    """A Textual ``Content`` with every control character of its text shown escaped, its
    styled ranges kept. Every view of text from a project folder (names, notes, rationale,
    messages) passes through here or ``printable``, so an ESC sequence is shown, never obeyed."""
    plain = content.plain
    if not has_control(plain.replace("\n", "")):
        return content
    from textual.content import Content, Span

    text, offsets = printable_with_map(plain)
    spans = [
        Span(offsets[min(s.start, len(plain))], offsets[min(s.end, len(plain))], s.style)
        for s in content.spans
    ]
    return Content(text, spans)


def safe_text(text: Any) -> Any:
    """The same for a rich ``Text`` (cards and tables built with rich)."""
    plain = text.plain
    if not has_control(plain.replace("\n", "")):
        return text
    from rich.text import Span, Text

    escaped, offsets = printable_with_map(plain)
    spans = [
        Span(offsets[min(s.start, len(plain))], offsets[min(s.end, len(plain))], s.style)
        for s in text.spans
    ]
    return Text(
        escaped,
        style=text.style,
        justify=text.justify,
        overflow=text.overflow,
        no_wrap=text.no_wrap,
        end=text.end,
        spans=spans,
    )
