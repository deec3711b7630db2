"""The ranked list as a table: rank, model, score, primary metric, p95, size, Pareto mark."""

from __future__ import annotations

from typing import Any

from textual.widgets import DataTable

from modelsnap.tui.widgets.formatting import num


class RankingTable(DataTable):
    """Fill with ``show(result)`` where ``result`` is a core.ranking.RankingResult."""

    def on_mount(self) -> None:
        self.cursor_type = "row"
        self.zebra_stripes = True

    def show(self, result: Any) -> None:
        self.clear(columns=True)
        primary = result.primary_metric
        self.add_columns(
            "#", "model", "score", primary, f"test {primary}", "p95 ms", "size MB", "pareto"
        )
        for entry in result.ranked:
            values = entry.values
            marks = []
            if entry.pareto:
                marks.append("*")
            if entry.kind == "baseline":
                marks.append("base")
            if entry.warnings or entry.hardware_flags:
                marks.append("!")
            self.add_row(
                str(entry.rank),
                entry.name,
                num(entry.score),
                num(entry.primary),
                num(entry.test_primary),
                num(values.get("latency_p95_ms"), 2),
                num(values.get("size_mb"), 2),
                " ".join(marks),
                key=entry.id,
            )
