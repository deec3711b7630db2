"""Review mode's main screen: every snapshot in one sortable, filterable table, details below.

Read-only by construction: rows come from ``index.load_rows(write_back=False)`` (which writes
nothing in the folder; of a folder whose index is not this user's it keeps its own index in the
user's cache), details from reading one snapshot TOML, and no artifact is ever opened (nothing
here imports skops or scikit-learn), so it is safe on a folder copied from someone else.
"""

from __future__ import annotations

from typing import Any, ClassVar

from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import VerticalScroll
from textual.content import Content
from textual.screen import Screen
from textual.timer import Timer
from textual.widgets import Footer, Input, Static

from modelsnap.core.errors import ModelsnapError
from modelsnap.core.files import read_toml
from modelsnap.tui.review_data import ReviewData, columns, haystack
from modelsnap.tui.widgets.formatting import num, printable, safe_content
from modelsnap.tui.widgets.review_table import Row, SnapshotTable


def render_detail(snapshot: dict[str, Any], row: Row) -> Content:
    """Every table of one snapshot, one value per line, so long params and metrics stay legible."""
    parts: list[tuple[str, str] | str] = [
        (f"{snapshot.get('name')} {snapshot.get('version', '')}", "bold"),
        f"  {snapshot.get('kind')}  {snapshot.get('id')}\n",
    ]
    if row["_status"] == "fail":
        parts += [(f"✗ {reason}\n", "bold $error") for reason in row["constraints"]["reasons"]]
    if not row["_comparable"]:
        parts.append(
            (
                f"! not comparable with the current data/split/hardware: {row['_comparability']}\n",
                "$warning",
            )
        )
    if row.get("overfit_flag"):
        parts.append(
            (f"! overfit: validation - test gap {num(row.get('overfit_gap'))}\n", "$warning")
        )
    parts += [(f"! leakage: {warning}\n", "$warning") for warning in row.get("leakage") or []]
    _render_table(parts, snapshot, depth=0)
    return safe_content(Content.assemble(*parts))


_SKIP = {"schema", "id", "name", "kind", "version"}


def _render_table(parts: list, table: dict[str, Any], depth: int) -> None:
    indent = "  " * max(0, depth - 1)
    for key, value in table.items():
        if isinstance(value, dict) or (depth == 0 and key in _SKIP):
            continue
        parts += [(f"{indent}{key}", "bold" if depth == 0 else ""), f"  {_show(value, indent)}\n"]
    from modelsnap.core.reporting.readable import section_rank

    nested = [(k, v) for k, v in table.items() if isinstance(v, dict)]
    if depth == 0:  # metrics first, provenance (model, data, environment, hardware) last
        nested.sort(key=lambda item: section_rank(item[0]))
    for key, value in nested:
        parts.append(
            (f"\n[{key}]\n", "bold $accent") if depth == 0 else (f"{indent}{key}:\n", "italic")
        )
        _render_table(parts, value, depth + 1)


def _show(value: Any, indent: str = "") -> str:
    if isinstance(value, float):
        return num(value, 4)
    if isinstance(value, list):
        if value and all(isinstance(v, dict) for v in value):
            return "".join(
                f"\n{indent}  - " + ", ".join(f"{k}={_show(v)}" for k, v in item.items())
                for item in value
            )
        return "[" + ", ".join(_show(v) for v in value) + "]"
    return str(value)


class ReviewScreen(Screen[None]):
    """The table of snapshots plus the detail of the highlighted one; other views are pushed."""

    CSS_PATH = "review.tcss"
    # The footer shows six keys so it fits 80 columns; the rest are in ? help and the palette.
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding(
            "slash",
            "focus_filter",
            "Filter",
            id="review.filter",
            tooltip="f1>0.75 kind:candidate name:forest p95<=10 fail (? for the language)",
        ),
        Binding("s", "sort", "Sort", id="review.sort", tooltip="sort by the next column"),
        Binding("S", "reverse", "Reverse sort", id="review.reverse", show=False),
        Binding("r", "reverse", "Reverse sort", show=False),
        Binding(
            "d",
            "diff",
            "Diff",
            id="review.diff",
            tooltip="diff the two marked snapshots (space marks), or marked vs highlighted",
        ),
        Binding(
            "w",
            "whatif",
            "What-if",
            id="review.whatif",
            tooltip="re-rank with other weights as you type; nothing is written",
        ),
        Binding(
            "h",
            "history",
            "History",
            id="review.history",
            show=False,
            tooltip="every version of the highlighted model name, with drift",
        ),
        Binding(
            "l",
            "decisions",
            "Decisions",
            id="review.decisions",
            show=False,
            tooltip="the decision log, its hash chain and warnings",
        ),
        Binding(
            "y",
            "yank",
            "Copy id",
            id="review.yank",
            show=False,
            tooltip="copy the highlighted snapshot id to the clipboard",
        ),
        Binding(
            "question_mark",
            "help",
            "Help",
            id="review.help",
            tooltip="every key and the filter language",
        ),
        Binding("escape", "escape", "Table", show=False),
        Binding("q", "app.quit", "Quit", id="review.quit"),
    ]

    def __init__(self, data: ReviewData) -> None:
        super().__init__()
        self.data = data
        self.table = SnapshotTable(columns(data.primary), id="review-table")
        self._detail_timer: Timer | None = None
        self._pending_row: Row | None = None
        self._known: set[str] | None = None

    def compose(self) -> ComposeResult:
        yield Static(id="review-status", markup=False)
        yield Input(
            placeholder="filter: f1>0.75 kind:candidate name:forest fail  (/ focus, "
            "esc back, ? help)",
            id="review-filter",
            compact=True,
        )
        yield Static("", id="review-filter-error", markup=False)
        yield self.table
        with VerticalScroll(id="review-detail"):
            yield Static(id="review-detail-body", markup=False)
        yield Footer()

    def on_mount(self) -> None:
        self.query_one("#review-filter-error", Static).display = False
        self.table.set_rows(self.data.rows, haystack)
        self.table.focus()
        self._update_status()

    def _update_status(self) -> None:
        data, table = self.data, self.table
        parts = [f"{data.root.resolve().name}: {len(data.rows)} snapshots (read-only)"]
        if table.filter_text:
            parts.append(f"{len(table.view)} shown")
        if table.sort_column:
            label = next(
                (c.label for c in table.columns if c.key == table.sort_column), table.sort_column
            )
            parts.append(
                f"sort {label} {'↓ high first' if table.sort_reverse else '↑ low first'}"
                f" (s column, S reverse)"
            )
        if data.problems:
            parts.append(f"{len(data.problems)} unreadable: {data.problems[0]}")
        if data.config_error:
            parts.append("modelsnap.toml unusable: what-if disabled")
        self.query_one("#review-status", Static).update(printable(" · ".join(parts), limit=2000))

    # ---------------------------------------------------------------- events

    DETAIL_DELAY = 0.06

    def on_snapshot_table_highlighted(self, message: SnapshotTable.Highlighted) -> None:
        """Show the detail once the cursor rests: while a key is held down over 10,000 rows,
        only the table repaints (re-laying out the detail pane per row would halve the pace)."""
        if self._detail_timer is not None:
            self._detail_timer.stop()
        self._pending_row = message.row
        self._detail_timer = self.set_timer(self.DETAIL_DELAY, self._show_detail)

    def _show_detail(self) -> None:
        self._detail_timer = None
        body = self.query_one("#review-detail-body", Static)
        row = self._pending_row
        if row is None:
            body.update(
                "no snapshot matches the filter"
                if self.data.rows
                else "no snapshots in this folder yet"
            )
            return
        path = self.data.root / "snapshots" / f"{row['id']}.toml"
        try:
            snapshot = read_toml(path, what="snapshot")
        except ModelsnapError as error:
            body.update(safe_content(Content.assemble((str(error), "$error"))))
            return
        body.update(render_detail(snapshot, row))
        self.query_one("#review-detail", VerticalScroll).scroll_home(animate=False)

    def on_input_changed(self, event: Input.Changed) -> None:
        """Apply the filter as it is typed; a term that cannot be read is named under the
        field, and the other terms apply meanwhile."""
        from modelsnap.tui.screens.review_filter import known_measures, parse_terms

        if self._known is None:
            self._known = known_measures(self.data.rows)
        predicate, errors = parse_terms(event.value, self._known, self.table.row_text)
        error = self.query_one("#review-filter-error", Static)
        error.update(Content.assemble(("\n".join(f"✗ {e}" for e in errors), "$error")))
        error.display = bool(errors)
        self.table.set_filter(event.value, predicate)
        self._update_status()

    def on_input_submitted(self, event: Input.Submitted) -> None:
        self.table.focus()

    # ---------------------------------------------------------------- actions

    def action_focus_filter(self) -> None:
        self.query_one("#review-filter", Input).focus()

    def action_focus_table(self) -> None:
        self.table.focus()

    def action_escape(self) -> None:
        """Escape closes the keys panel when it is open, else goes back to the table."""
        if self.query("HelpPanel"):
            self.app.action_hide_help_panel()
            return
        self.table.focus()

    def action_help(self) -> None:
        from modelsnap.tui.screens.review_views import ReviewHelp

        self.app.push_screen(ReviewHelp())

    def action_yank(self) -> None:
        row = self.table.current_row
        if row is None:
            self.notify("no snapshot highlighted", severity="warning")
            return
        self.app.copy_to_clipboard(row["id"])
        self.notify(f"copied {row['id']}", title="snapshot id")

    def sort_by_column(self, key: str) -> None:
        self.table.sort_by(key, reverse=False)
        self._update_status()

    def action_sort(self) -> None:
        keys = [c.key for c in self.table.columns]
        current = self.table.sort_column
        following = keys[(keys.index(current) + 1) % len(keys)] if current in keys else keys[0]
        self.table.sort_by(following, reverse=False)
        self._update_status()

    def action_reverse(self) -> None:
        if self.table.sort_column is None:
            self.table.sort_by(self.table.columns[0].key)
        self.table.sort_by(self.table.sort_column, reverse=not self.table.sort_reverse)
        self._update_status()

    def _snapshot(self, snapshot_id: str) -> dict[str, Any] | None:
        try:
            return read_toml(self.data.root / "snapshots" / f"{snapshot_id}.toml", what="snapshot")
        except ModelsnapError as error:
            self.notify(str(error), severity="error")
            return None

    def action_diff(self) -> None:
        from modelsnap.tui.screens.review_views import DiffScreen

        ids = list(self.table.marked)
        current = self.table.current_row
        if len(ids) < 2 and current is not None and current["id"] not in ids:
            ids.append(current["id"])
        if len(ids) < 2:
            self.notify(
                "mark a snapshot with space, then highlight another and press d", severity="warning"
            )
            return
        left, right = self._snapshot(ids[-2]), self._snapshot(ids[-1])
        if left is not None and right is not None:
            self.app.push_screen(DiffScreen(left, right))

    def action_history(self) -> None:
        from modelsnap.tui.screens.review_views import HistoryScreen

        row = self.table.current_row
        if row is None:
            return
        versions = [r for r in self.data.rows if r["name"] == row["name"]]
        self.app.push_screen(HistoryScreen(row["name"], versions, self.data.primary))

    def action_whatif(self) -> None:
        from modelsnap.tui.screens.review_views import WhatIfScreen

        if self.data.context is None:
            self.notify(
                f"what-if needs a valid modelsnap.toml: {self.data.config_error}", severity="error"
            )
            return
        self.app.push_screen(WhatIfScreen(self.data))

    def action_decisions(self) -> None:
        from modelsnap.tui.screens.review_views import DecisionsScreen

        self.app.push_screen(DecisionsScreen(self.data))
