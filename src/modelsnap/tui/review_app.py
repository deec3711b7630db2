"""``modelsnap review DIR``: a read-only Textual app over a snapshot folder.

Separate from the guided app (``tui/app.py``) on purpose: review never writes, never loads an
artifact and needs no valid project, so it can open any folder someone sent you. The rows are
loaded before the app starts (from the index, checked against the listing), so the first frame
already shows the table.
"""

from __future__ import annotations

from pathlib import Path

from textual.app import App

from modelsnap.tui.screens.review import ReviewData, ReviewScreen


class ReviewApp(App[None]):
    """One screen (the table) with diff, history, what-if and decision views pushed over it."""

    TITLE = "modelsnap review"
    ENABLE_COMMAND_PALETTE = True

    def __init__(self, root: Path, *, data: ReviewData | None = None) -> None:
        super().__init__()
        self.root = Path(root)
        self.data = data if data is not None else ReviewData.load(self.root)

    def on_mount(self) -> None:
        self.push_screen(ReviewScreen(self.data))
