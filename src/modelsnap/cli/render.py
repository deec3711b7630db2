"""Readable terminal rendering of snapshot values, shared by ``show`` and ``diff``.

People read these tables, so nothing here prints a Python or JSON repr: lists become
comma-separated words, inline tables ``key = value`` pairs, long lists of features a short table
with "… N more". ``--format json`` (handled by the commands) keeps the full data unchanged.
Fast path: rich only, no pandas, no scikit-learn.
"""

from __future__ import annotations

import math
from typing import Any

# The order a reader wants: how good, how costly, does it pass, then why, then provenance.
SECTION_ORDER = (
    "metrics", "resources", "constraints", "gain", "fairness", "interpretability",
    "edge_cases", "checks", "model", "data", "predictions", "environment", "hardware",
)
# Sections that go last whatever else a snapshot holds.
_LAST = ("model", "data", "predictions", "environment", "hardware")
TOP_FEATURES = 5


def section_rank(name: str) -> tuple[int, int]:
    """Sort key for a snapshot section: known ones in SECTION_ORDER, unknown ones just before
    the provenance sections (model, data, environment, hardware)."""
    if name == "snapshot":
        return (-1, 0)
    if name in SECTION_ORDER:
        index = SECTION_ORDER.index(name)
        return (index if name not in _LAST else index + 100, 0)
    return (len(SECTION_ORDER) - len(_LAST) - 1, 1)


def number(value: float | int, digits: int = 6) -> str:
    """A number for people: ints with thousands separators, floats to ``digits`` significant
    digits without scientific notation for ordinary magnitudes."""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int):
        return f"{value:,d}" if abs(value) >= 10_000 else str(value)
    if not math.isfinite(value):
        return str(value)
    text = f"{value:.{digits}g}"
    if "e" in text and 1e-4 <= abs(value) < 1e15:
        text = f"{value:.{digits}f}".rstrip("0").rstrip(".")
    return text


def plain(value: Any, *, digits: int = 6) -> str:
    """One value as words: never a Python or JSON repr."""
    if value is None:
        return "-"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, (int, float)):
        return number(value, digits)
    if isinstance(value, list):
        if not value:
            return "none"
        if is_table_list(value):
            return table_list_summary(value, digits=min(digits, 4))
        return ", ".join(plain(item, digits=digits) for item in value)
    if isinstance(value, dict):
        if not value:
            return "none"
        return ", ".join(f"{key} = {plain(item, digits=digits)}" for key, item in value.items())
    return str(value)


_LABEL_KEYS = ("name", "case", "group", "id", "metric")


def table_list_summary(items: list[dict[str, Any]], *, limit: int = TOP_FEATURES,
                       digits: int = 4) -> str:
    """An array of inline tables in one line: each item's label and first figure, the first
    ``limit`` of them, then "… N more" (``income 0.1803, branch_code 0.1312, … 8 more``)."""
    words = []
    for item in items[:limit]:
        label = next((str(item[k]) for k in _LABEL_KEYS if k in item), None)
        figure = next((v for v in item.values()
                       if isinstance(v, (int, float)) and not isinstance(v, bool)), None)
        if label is None:
            words.append(plain({k: v for k, v in item.items()}, digits=digits))
        else:
            words.append(label if figure is None else f"{label} {number(figure, digits)}")
    if len(items) > limit:
        words.append(f"… {len(items) - limit} more")
    return ", ".join(words)


def is_table_list(value: Any) -> bool:
    return isinstance(value, list) and bool(value) and all(isinstance(v, dict) for v in value)


def flatten(table: dict[str, Any], prefix: str = "") -> list[tuple[str, Any]]:
    """Scalars and arrays as (dotted key, value); sub-tables are walked into (``params`` is kept
    whole: it is shown as one wrapped line of ``key = value`` pairs)."""
    rows: list[tuple[str, Any]] = []
    for key, value in table.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict) and value and key != "params":
            rows.extend(flatten(value, f"{name}."))
        else:
            rows.append((name, value))
    return rows


def small_table(items: list[dict[str, Any]], *, limit: int | None = None):
    """An array of inline tables as a table (its first ``limit`` rows)."""
    from rich.table import Table

    table = Table(box=None, pad_edge=False, header_style="bold")
    columns: list[str] = []
    for item in items:
        columns += [c for c in item if c not in columns]
    for column in columns:
        numeric = all(isinstance(item.get(column), (int, float)) for item in items
                      if item.get(column) is not None)
        table.add_column(column, justify="right" if numeric else "left")
    shown = items if limit is None else items[:limit]
    for item in shown:
        table.add_row(*(plain(item.get(c), digits=4) for c in columns))
    return table
