"""Readable terminal rendering of snapshot values, shared by ``show`` and ``diff``.

People read these tables, so nothing here prints a Python or JSON repr: lists become
comma-separated words, inline tables ``key = value`` pairs, long lists of features a short table
with "… N more". ``--format json`` (handled by the commands) keeps the full data unchanged.
Fast path: rich only, no pandas, no scikit-learn.
"""

from __future__ import annotations

from typing import Any

from modelsnap.core.reporting.readable import (  # noqa: F401  (re-exported for the commands)
    TOP_FEATURES,
    flatten,
    is_table_list,
    number,
    plain,
    section_rank,
    table_list_summary,
)


def small_table(items: list[dict[str, Any]], *, limit: int | None = None):
    """An array of inline tables as a table (its first ``limit`` rows)."""
    from rich.table import Table

    table = Table(box=None, pad_edge=False, header_style="bold")
    columns: list[str] = []
    for item in items:
        columns += [c for c in item if c not in columns]
    for column in columns:
        numeric = all(
            isinstance(item.get(column), (int, float))
            for item in items
            if item.get(column) is not None
        )
        table.add_column(column, justify="right" if numeric else "left")
    shown = items if limit is None else items[:limit]
    for item in shown:
        table.add_row(*(plain(item.get(c), digits=4) for c in columns))
    return table
