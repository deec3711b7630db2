"""Progress of a model run: one bar per profiler stage, and a live log.

Stages are created as the profiler reports them, so the panel follows whatever stages the
worker has (load, fit, evaluate, profile, ...) without a list to keep in sync.
"""

from __future__ import annotations

from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical
from textual.widgets import Label, ProgressBar, RichLog


class StageRow(Horizontal):
    DEFAULT_CSS = """
    StageRow { height: 1; }
    StageRow > Label { width: 14; }
    StageRow > ProgressBar { width: 1fr; }
    """

    def __init__(self, stage: str, **kwargs) -> None:
        super().__init__(**kwargs)
        self.stage = stage
        self.fraction = 0.0

    def compose(self) -> ComposeResult:
        yield Label(self.stage[:13], markup=False)
        bar = ProgressBar(total=100, show_eta=False)
        bar.progress = self.fraction * 100
        yield bar

    def set_fraction(self, fraction: float) -> None:
        """Record the stage's progress; shown now if the bar is mounted, else when it is."""
        self.fraction = max(0.0, min(1.0, fraction))
        bars = self.query(ProgressBar)
        if bars:
            bars.first().update(progress=self.fraction * 100)


class RunPanel(Vertical):
    """Shows the run in progress; ``reset`` before a run, ``advance`` per event."""

    DEFAULT_CSS = """
    RunPanel { height: auto; }
    RunPanel #run-stages { height: auto; }
    RunPanel #run-status { height: auto; text-style: bold; }
    RunPanel RichLog { height: 6; border: round $panel; }
    """

    def __init__(self, **kwargs) -> None:
        super().__init__(**kwargs)
        self._rows: dict[str, StageRow] = {}  # this run's stages (old rows may still be leaving)
        self.lines: list[str] = []  # the log as plain text, whole (the pane wraps it)

    def compose(self) -> ComposeResult:
        yield Label("", id="run-status", markup=False)
        yield Vertical(id="run-stages")
        # Wrapping, so a long error (a model's own exception) reads whole at 80 columns.
        yield RichLog(id="run-log", max_lines=500, wrap=True, markup=False, highlight=False)

    def reset(self, title: str) -> None:
        self._rows = {}
        self.query_one("#run-stages", Vertical).remove_children()
        self.query_one("#run-log", RichLog).clear()
        self.lines = []
        self.log_line(title)

    def set_status(self, text: str) -> None:
        """The one line above the bars: '2 of 3 · random_forest · latency 40 %'."""
        self.query_one("#run-status", Label).update(text)

    def begin(self, title: str) -> None:
        """A new model in the same batch: fresh stage bars, the log keeps its history."""
        self._rows = {}
        self.query_one("#run-stages", Vertical).remove_children()
        self.log_line(title)

    def advance(self, stage: str, fraction: float, text: str = "") -> None:
        stages = self.query_one("#run-stages", Vertical)
        if not stages.is_attached:
            # The screen is being torn down (quit during a run): the worker's last events have
            # nowhere to go, and the run itself is cancelled by the app.
            return
        row = self._rows.get(stage)
        if row is None:
            row = self._rows[stage] = StageRow(stage)
            stages.mount(row)
        row.set_fraction(fraction)
        if text:
            self.log_line(f"{stage}: {text}")

    def log_line(self, text: str) -> None:
        self.lines.append(text)
        del self.lines[:-500]
        self.query_one("#run-log", RichLog).write(text)
