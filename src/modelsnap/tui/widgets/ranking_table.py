"""The ranked list as a table: rank, model, score, primary metric, p95, size, Pareto mark."""

from __future__ import annotations

from typing import Any

from textual.widgets import DataTable

from modelsnap.tui.widgets.formatting import fill_table, num


class RankingTable(DataTable):
    """Fill with ``show(result)`` where ``result`` is a core.selection.ranking.RankingResult."""

    def on_mount(self) -> None:
        self.cursor_type = "row"
        self.zebra_stripes = True

    def show(self, result: Any) -> None:
        primary = result.primary_metric
        rows = []
        for entry in result.ranked:
            values = entry.values
            marks = []
            if entry.pareto:
                marks.append("*")
            if entry.kind == "baseline":
                marks.append("base")
            if entry.warnings or entry.hardware_flags:
                marks.append("!")
            cells = [
                str(entry.rank),
                entry.name,
                num(entry.score),
                num(entry.primary),
                num(entry.test_primary),
                num(values.get("latency_p95_ms"), 2),
                num(values.get("size_mb"), 2),
                " ".join(marks),
            ]
            rows.append((cells, entry.id))
        headers = ["#", "model", "score", primary, f"test {primary}", "p95 ms", "size MB", "pareto"]
        fill_table(self, headers, rows)
