"""The trade-off plot drawn in characters: primary metric (up) against p95 latency (right).

Each model is a letter; models on the Pareto front are capital letters and starred in the key,
the others lower-case, so the front is readable without colour. The screen decides who is on
the front (core.selection.ranking computes it); this widget only draws.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from rich.text import Text
from textual.reactive import reactive
from textual.widget import Widget

from modelsnap.tui.widgets.formatting import num, printable

Y_LABEL_WIDTH = 7


@dataclass(frozen=True)
class PlotPoint:
    label: str
    latency_ms: float
    metric: float
    on_front: bool = False
    rejected: bool = False


def _letter(index: int, on_front: bool) -> str:
    letter = chr(ord("a") + index % 26)
    return letter.upper() if on_front else letter


NO_POINTS = "no snapshots with both a metric and a p95 latency yet"


def draw(
    points: list[PlotPoint],
    width: int,
    height: int,
    metric_name: str,
    lower_is_better: bool = False,
    empty: str = NO_POINTS,
) -> Text:
    """Render the plot into ``width`` x ``height`` cells (key lines included); ``empty`` is
    what it says when no point can be drawn."""
    usable = [p for p in points if math.isfinite(p.latency_ms) and math.isfinite(p.metric)]
    if not usable:
        return Text(empty, style="dim")
    per_line = 2 if width >= 60 else 1  # the key: two entries a line when there is room
    key_lines = math.ceil(len(usable) / per_line)
    rows = max(3, height - 3 - key_lines)
    cols = max(10, width - Y_LABEL_WIDTH - 1)
    xs = [p.latency_ms for p in usable]
    ys = [p.metric for p in usable]
    x_lo, x_hi = min(xs), max(xs)
    y_lo, y_hi = min(ys), max(ys)
    if x_hi - x_lo < 1e-12:
        x_lo, x_hi = x_lo * 0.9, x_hi * 1.1 + 1e-9
    if y_hi - y_lo < 1e-12:
        y_lo, y_hi = y_lo - 0.01, y_hi + 0.01
    grid = [[" "] * cols for _ in range(rows)]
    for index, point in enumerate(usable):
        col = round((point.latency_ms - x_lo) / (x_hi - x_lo) * (cols - 1))
        row = rows - 1 - round((point.metric - y_lo) / (y_hi - y_lo) * (rows - 1))
        mark = _letter(index, point.on_front)
        grid[row][col] = mark if grid[row][col] == " " else "+"
    out = Text()
    for r, row in enumerate(grid):
        if r == 0:
            label = num(y_hi)
        elif r == rows - 1:
            label = num(y_lo)
        else:
            label = ""
        out.append(f"{label:>{Y_LABEL_WIDTH - 1}}│", style="dim")
        for cell in row:
            style = "bold" if cell.isupper() else ("dim" if cell.islower() else "")
            out.append(cell, style=style)
        out.append("\n")
    axis = f"{'':>{Y_LABEL_WIDTH - 1}}└" + "─" * cols
    out.append(axis + "\n", style="dim")
    left, right = f"{num(x_lo, 2)} ms", f"{num(x_hi, 2)} ms p95"
    gap = max(1, cols - len(left) - len(right))
    better = "lower" if lower_is_better else "higher"
    out.append(f"{'':>{Y_LABEL_WIDTH}}{left}{' ' * gap}{right}\n", style="dim")
    caption = f"{metric_name} ({better} is better) up; * = Pareto front of this plot"
    if len(caption) > width:
        caption = f"↑ {metric_name} ({better} better) · * Pareto front"
    out.append(caption + "\n", style="dim")
    half = max(1, (width - 2) // per_line)
    entries = []
    for index, point in enumerate(usable):
        star = "*" if point.on_front else " "
        note = " (rejected)" if point.rejected else ""
        label = printable(point.label)
        entries.append(f"{_letter(index, point.on_front)}{star} {label}{note}"[: half - 1])
    for start in range(0, len(entries), per_line):
        pair = entries[start : start + per_line]
        out.append("".join(f"{entry:<{half}}" for entry in pair).rstrip() + "\n")
    out.rstrip()
    return out


class TradeoffPlot(Widget):
    """Redraws to its own size; set ``points`` (and ``metric_name``) to update, and
    ``empty_text`` for what it says while it has no point (nothing ranked yet, or a ranking
    still being made)."""

    DEFAULT_CSS = "TradeoffPlot { height: 14; }"

    points: reactive[tuple[PlotPoint, ...]] = reactive(tuple, layout=True)
    metric_name: reactive[str] = reactive("metric")
    lower_is_better: reactive[bool] = reactive(False)
    empty_text: reactive[str] = reactive(NO_POINTS)

    def render(self) -> Text:
        return draw(
            list(self.points),
            self.size.width,
            self.size.height,
            self.metric_name,
            self.lower_is_better,
            self.empty_text,
        )
