"""``modelsnap review DIR``: a read-only Textual app over a snapshot folder.

Separate from the guided app (``tui/app.py``) on purpose: review never writes in the folder,
never loads an artifact and needs no valid project, so it can open any folder someone sent you.
The rows are loaded before the app starts (from the index, checked against the listing), so the
first frame already shows the table; files no index row stands for are parsed first, counted
on stderr by ``modelsnap review`` (``progress``).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from pathlib import Path

from textual.app import App, SystemCommand
from textual.screen import Screen

from modelsnap.core import collector
from modelsnap.tui.review_data import ReviewData
from modelsnap.tui.screens.review import ReviewScreen


class ReviewApp(App[None]):
    """One screen (the table) with diff, history, what-if and decision views pushed over it."""

    TITLE = "modelsnap review"
    ENABLE_COMMAND_PALETTE = True

    def __init__(
        self,
        root: Path,
        *,
        data: ReviewData | None = None,
        progress: Callable[[int, int], None] | None = None,
    ) -> None:
        super().__init__()
        self.root = Path(root)
        # The rows are read once and live as long as the app: ~15 objects each and no reference
        # cycles. The cyclic collector is paused while they are built; a large folder's are then
        # frozen, so it no longer walks them on every full collection (at 100,000 rows each one
        # took 0.1-0.3 s, landing on a key press or a repaint). Freezing is process-wide (what
        # is cyclic garbage at that moment is kept), so a small folder, whose collections are
        # short, is not frozen.
        with collector.paused():
            self.data = data if data is not None else ReviewData.load(self.root, progress)
        collector.keep_out_of_view(len(self.data.rows))

    def on_mount(self) -> None:
        self.push_screen(ReviewScreen(self.data))

    def get_system_commands(self, screen: Screen) -> Iterable[SystemCommand]:
        """The palette (ctrl+p) holds every review action, so the footer can stay short."""
        yield from super().get_system_commands(screen)
        if not isinstance(screen, ReviewScreen):
            return
        yield SystemCommand(
            "Help: review keys and filter language", "the ? panel", screen.action_help
        )
        yield SystemCommand(
            "History of the highlighted model",
            "every version, with drift (h)",
            screen.action_history,
        )
        yield SystemCommand(
            "Decision log", "decisions.toml and its hash chain (l)", screen.action_decisions
        )
        yield SystemCommand(
            "Copy the highlighted snapshot id", "to the clipboard (y)", screen.action_yank
        )
        yield SystemCommand("Reverse the sort", "high first / low first (S)", screen.action_reverse)
        for column in screen.table.columns:
            yield SystemCommand(
                f"Sort by {column.key}",
                f"column '{column.label}'",
                lambda key=column.key: screen.sort_by_column(key),
            )
