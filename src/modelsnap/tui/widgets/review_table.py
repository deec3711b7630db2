"""A virtual table of snapshot summary rows that stays instant at 10,000 rows.

Why not Textual's DataTable: it measures every cell of every row to size its columns (about
1.5-3 s for 10,000 rows × 10 columns here) before the first paint. This table has fixed column
widths and renders only the lines on screen (Line API), so opening, scrolling, sorting (a
Python ``sorted`` of the rows) and filtering cost milliseconds at any row count.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar

from rich.segment import Segment
from rich.style import Style
from textual import events
from textual.binding import Binding, BindingType
from textual.geometry import Size
from textual.message import Message
from textual.reactive import reactive
from textual.scroll_view import ScrollView
from textual.strip import Strip

from modelsnap.core.text import printable

Row = dict[str, Any]


@dataclass(frozen=True)
class Column:
    key: str
    label: str
    width: int
    text: Callable[[Row], str]
    sort_value: Callable[[Row], Any]
    align: str = "left"


class SnapshotTable(ScrollView, can_focus=True):
    """Rows of snapshots with a fixed header, a cursor, marks, sorting and a text filter."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("up", "cursor(-1)", "Up", show=False),
        Binding("down", "cursor(1)", "Down", show=False),
        Binding("pageup", "page(-1)", "Page up", show=False),
        Binding("pagedown", "page(1)", "Page down", show=False),
        Binding("home", "jump(0)", "First", show=False),
        Binding("end", "jump(-1)", "Last", show=False),
        Binding("space", "toggle_mark", "Mark", tooltip="mark this snapshot for the diff"),
    ]
    COMPONENT_CLASSES: ClassVar[set[str]] = {
        "snapshot-table--header",
        "snapshot-table--cursor",
        "snapshot-table--fail",
        "snapshot-table--marked",
        "snapshot-table--other",
    }
    DEFAULT_CSS = """
    SnapshotTable { background: $surface; }
    SnapshotTable > .snapshot-table--header { text-style: bold; background: $panel; }
    SnapshotTable > .snapshot-table--cursor { background: $accent 40%; }
    SnapshotTable:focus > .snapshot-table--cursor { background: $accent; color: $text; }
    SnapshotTable > .snapshot-table--fail { color: $error; }
    SnapshotTable > .snapshot-table--other { color: $warning; }
    SnapshotTable > .snapshot-table--marked { text-style: bold; color: $success; }
    """

    cursor: reactive[int] = reactive(0, always_update=True, repaint=True)

    class Highlighted(Message):
        """The cursor moved to ``row`` (None when the filter leaves no rows)."""

        def __init__(self, row: Row | None) -> None:
            self.row = row
            super().__init__()

    def __init__(
        self,
        columns: Sequence[Column],
        *,
        name: str | None = None,
        id: str | None = None,
        classes: str | None = None,
    ) -> None:
        super().__init__(name=name, id=id, classes=classes)
        self.columns = list(columns)
        self.all_rows: list[Row] = []
        self.view: list[Row] = []
        self.sort_column: str | None = None
        self.sort_reverse = False
        self.filter_text = ""
        self.predicate: Callable[[Row], bool] | None = None
        self.marked: list[str] = []
        self._haystacks: dict[str, str] = {}
        self._texts: list[str] | None = None  # the haystacks in all_rows order
        self._sort_cache: dict[str, list[Any]] = {}
        self._generation = 0  # bumped by set_rows: a late preparation of older rows is dropped
        self._haystack: Callable[[Row], str] = lambda row: row["id"].lower()
        self._total_width = sum(c.width + 1 for c in self.columns)

    # ---------------------------------------------------------------- data

    # From this many rows on, the filter texts and every column's sort order are prepared in a
    # thread after the first paint (about 1 s of work at 100,000 rows), so the first sort or
    # filter does not pay for them on a key press. Below it they are made when first needed.
    PREPARE_FROM = 5_000

    def set_rows(self, rows: Sequence[Row], haystack: Callable[[Row], str]) -> None:
        """Replace the rows; ``haystack`` gives each row's lower-case text the filter searches."""
        self.all_rows = list(rows)
        self._haystack = haystack
        self._haystacks = {}
        self._texts = None
        self._sort_cache = {}
        self._generation += 1
        self._rebuild()
        if len(self.all_rows) >= self.PREPARE_FROM and self.is_attached:
            # after the next frame: the thread would otherwise share the GIL with the first paint
            self.call_after_refresh(self._start_preparing, self._generation)

    def _start_preparing(self, generation: int) -> None:
        if generation != self._generation:
            return
        rows = self.all_rows
        self.run_worker(
            lambda: self._prepare(generation, rows),
            thread=True,
            group="review-table-prepare",
            description="filter texts and sort orders",
        )

    def _prepare(self, generation: int, rows: list[Row]) -> None:
        """In a thread: every filter text and each column's sort keys and ascending order, handed
        to the UI thread in one piece (nothing shared is touched here)."""
        texts = [self._haystack(row) for row in rows]
        cache: dict[str, list[Any]] = {}
        for column in self.columns:
            if generation != self._generation:
                return  # newer rows were set: this work is for nothing
            keys = cache[column.key] = _sort_keys(column, rows)
            cache[f"{column.key}\0False"] = _order(keys, reverse=False)
        with contextlib.suppress(RuntimeError):  # the app closed meanwhile
            self.app.call_from_thread(self._prepared, generation, texts, cache)

    def _prepared(self, generation: int, texts: list[str], cache: dict[str, list[Any]]) -> None:
        if generation != self._generation:
            return
        if self._texts is None:
            self._texts = texts
            self._haystacks = {
                row["id"]: text for row, text in zip(self.all_rows, texts, strict=True)
            }
        for key, value in cache.items():
            self._sort_cache.setdefault(key, value)

    def sort_by(self, key: str, *, reverse: bool | None = None) -> None:
        """Sort by a column; the same column again flips the direction."""
        if reverse is None:
            reverse = not self.sort_reverse if key == self.sort_column else False
        self.sort_column, self.sort_reverse = key, reverse
        self._rebuild()

    def set_filter(self, text: str, predicate: Callable[[Row], bool] | None = None) -> None:
        """Keep the rows ``predicate`` accepts (the review filter language), or without one the
        rows whose text holds every whitespace-separated term (case-insensitive)."""
        self.filter_text = text
        self.predicate = predicate
        self._rebuild()

    def row_text(self, row: Row) -> str:
        """The row's lower-case search text, computed once per row."""
        text = self._haystacks.get(row["id"])
        if text is None:
            text = self._haystacks[row["id"]] = self._haystack(row)
        return text

    def _all_texts(self) -> list[str]:
        if self._texts is None:
            self._texts = [self.row_text(row) for row in self.all_rows]
        return self._texts

    def _kept(self, terms: list[str]) -> bytearray | None:
        """Which rows the filter keeps (1 per kept row, in all_rows order); None: all."""
        rows = self.all_rows
        if not terms:
            return None
        if self.predicate is not None:
            return bytearray(1 if self.predicate(row) else 0 for row in rows)
        # One pass per term over the rows still kept, each a list comprehension (a substring
        # test per row, no generator): about 10 ms a term at 100,000 rows.
        texts = self._all_texts()
        positions = [i for i, text in enumerate(texts) if terms[0] in text]
        for term in terms[1:]:
            positions = [i for i in positions if term in texts[i]]
        keep = bytearray(len(rows))
        for i in positions:
            keep[i] = 1
        return keep

    def _rebuild(self) -> None:
        current = self.current_row
        rows = self.all_rows
        keep = self._kept(self.filter_text.lower().split())
        if self.sort_column is not None:
            order = self._order(self.sort_column, self.sort_reverse)
            if keep is not None:
                order = [i for i in order if keep[i]]
            view = [rows[i] for i in order]
        elif keep is not None:
            view = [row for row, kept in zip(rows, keep, strict=True) if kept]
        else:
            view = list(rows)
        self.view = view
        self.virtual_size = Size(self._total_width, len(self.view) + 1)
        position = 0
        if current is not None:
            position = next((i for i, r in enumerate(self.view) if r is current), 0)
        self.cursor = position
        self._scroll_cursor_into_view()
        self.post_message(self.Highlighted(self.current_row))

    def _order(self, column_key: str, reverse: bool) -> list[int]:
        """Positions in ``all_rows``, sorted by a column (rows without a value last), computed
        once per column and direction: the rows never change. A stable sort, so equal values
        keep the rows' order in both directions, as a plain ``sorted`` of the rows would."""
        cached = self._sort_cache.get(f"{column_key}\0{reverse}")
        if cached is None:
            keys = self._sort_cache.get(column_key)
            if keys is None:
                column = next(c for c in self.columns if c.key == column_key)
                keys = self._sort_cache[column_key] = _sort_keys(column, self.all_rows)
            cached = self._sort_cache[f"{column_key}\0{reverse}"] = _order(keys, reverse)
        return cached

    @property
    def current_row(self) -> Row | None:
        if 0 <= self.cursor < len(self.view):
            return self.view[self.cursor]
        return None

    # ---------------------------------------------------------------- movement

    def _page_rows(self) -> int:
        return max(1, self.scrollable_content_region.height - 1)

    def _scroll_cursor_into_view(self) -> None:
        visible = self._page_rows()
        top = int(self.scroll_y)
        if self.cursor < top:
            self.scroll_to(y=self.cursor, animate=False, immediate=True)
        elif self.cursor >= top + visible:
            self.scroll_to(y=self.cursor - visible + 1, animate=False, immediate=True)

    def move_to(self, position: int) -> None:
        if not self.view:
            return
        position = max(0, min(len(self.view) - 1, position))
        if position != self.cursor:
            self.cursor = position
            self._scroll_cursor_into_view()
            self.post_message(self.Highlighted(self.current_row))

    def action_cursor(self, step: int) -> None:
        self.move_to(self.cursor + step)

    def action_page(self, direction: int) -> None:
        self.move_to(self.cursor + direction * self._page_rows())

    def action_jump(self, position: int) -> None:
        self.move_to(position if position >= 0 else len(self.view) - 1)

    def action_toggle_mark(self) -> None:
        """Marks are kept in order, at most two: the diff compares the two marked snapshots."""
        row = self.current_row
        if row is None:
            return
        if row["id"] in self.marked:
            self.marked.remove(row["id"])
        else:
            self.marked = [*self.marked[-1:], row["id"]]
        self.refresh()

    def on_click(self, event: events.Click) -> None:
        y = event.get_content_offset(self)
        if y is None:
            return
        if y.y == 0:
            self._click_header(y.x + int(self.scroll_x))
        else:
            self.move_to(int(self.scroll_y) + y.y - 1)

    def _click_header(self, x: int) -> None:
        left = 0
        for column in self.columns:
            if left <= x < left + column.width + 1:
                self.sort_by(column.key)
                return
            left += column.width + 1

    def on_resize(self) -> None:
        self._scroll_cursor_into_view()

    # ---------------------------------------------------------------- rendering

    def _cell(self, column: Column, text: str) -> str:
        text = printable(text)  # a name's ESC sequence must not blank or overwrite a row
        if len(text) > column.width:
            text = text[: max(0, column.width - 1)] + "…"
        return (text.rjust if column.align == "right" else text.ljust)(column.width) + " "

    def _header_text(self) -> str:
        parts = []
        for column in self.columns:
            label = column.label
            if column.key == self.sort_column:
                label += "▼" if self.sort_reverse else "▲"
            parts.append(self._cell(column, label))
        return "".join(parts)

    def render_line(self, y: int) -> Strip:
        width = self.scrollable_content_region.width
        scroll_x = int(self.scroll_x)
        base = self.rich_style
        if y == 0:
            style = base + self.get_component_rich_style("snapshot-table--header")
            text = self._header_text()
        else:
            index = int(self.scroll_y) + y - 1
            if index >= len(self.view):
                return Strip([Segment(" " * width, base)], width)
            row = self.view[index]
            text = "".join(self._cell(c, c.text(row)) for c in self.columns)
            style = base + self._row_style(row)
            if index == self.cursor:
                style = style + self.get_component_rich_style("snapshot-table--cursor")
        text = text.ljust(self._total_width)
        return (
            Strip([Segment(text, style)], len(text))
            .crop(scroll_x, scroll_x + width)
            .extend_cell_length(width, base)
        )

    def _row_style(self, row: Row) -> Style:
        style = Style()
        if row.get("_status") == "fail":
            style += self.get_component_rich_style("snapshot-table--fail")
        elif row.get("_comparable") is False:
            style += self.get_component_rich_style("snapshot-table--other")
        if row["id"] in self.marked:
            style += self.get_component_rich_style("snapshot-table--marked")
        return style


def _sort_keys(column: Column, rows: Sequence[Row]) -> list[Any]:
    """Each row's sort value for a column, in row order. Repeated values (versions, kinds,
    names) become dense integer ranks, so a sort of 100,000 rows compares integers, not
    tuples."""
    keys = [column.sort_value(row) for row in rows]
    distinct = {value for value in keys if value is not None}
    if len(distinct) < len(keys):
        with contextlib.suppress(TypeError):
            place = {value: i for i, value in enumerate(sorted(distinct))}
            keys = [None if value is None else place[value] for value in keys]
    return keys


def _order(keys: list[Any], reverse: bool) -> list[int]:
    """Row positions sorted by ``keys`` (rows without a value last). A stable sort, so equal
    values keep the rows' order in both directions, as a plain ``sorted`` of the rows would."""
    present = [i for i, key in enumerate(keys) if key is not None]
    absent = [i for i, key in enumerate(keys) if key is None]
    present.sort(key=keys.__getitem__, reverse=reverse)
    return present + absent
