"""Progress of a model run: one bar per profiler stage, and a live log.

Stages are created as the profiler reports them, so the panel follows whatever stages the
worker has (load, fit, evaluate, profile, ...) without a list to keep in sync.
"""

from __future__ import annotations

from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical
from textual.widgets import Label, Log, ProgressBar


class StageRow(Horizontal):
    DEFAULT_CSS = """
    StageRow { height: 1; }
    StageRow > Label { width: 14; }
    StageRow > ProgressBar { width: 1fr; }
    """

    def __init__(self, stage: str, **kwargs) -> None:
        super().__init__(**kwargs)
        self.stage = stage

    def compose(self) -> ComposeResult:
        yield Label(self.stage[:13], markup=False)
        yield ProgressBar(total=100, show_eta=False)


class RunPanel(Vertical):
    """Shows the run in progress; ``reset`` before a run, ``advance`` per event."""

    DEFAULT_CSS = """
    RunPanel { height: auto; max-height: 12; }
    RunPanel #run-stages { height: auto; }
    RunPanel Log { height: 5; border: round $panel; }
    """

    def compose(self) -> ComposeResult:
        yield Vertical(id="run-stages")
        yield Log(id="run-log", max_lines=500)

    def reset(self, title: str) -> None:
        self.query_one("#run-stages", Vertical).remove_children()
        log = self.query_one("#run-log", Log)
        log.clear()
        log.write_line(title)

    def advance(self, stage: str, fraction: float, text: str = "") -> None:
        stages = self.query_one("#run-stages", Vertical)
        row_id = "stage-" + _slug(stage)
        rows = stages.query(f"#{row_id}")
        if rows:
            row = rows.first(StageRow)
        else:
            row = StageRow(stage, id=row_id)
            stages.mount(row)
        bar = row.query(ProgressBar)
        if bar:
            bar.first().update(progress=max(0.0, min(1.0, fraction)) * 100)
        else:
            row.call_after_refresh(self.advance, stage, fraction)
        if text:
            self.log_line(f"{stage}: {text}")

    def log_line(self, text: str) -> None:
        self.query_one("#run-log", Log).write_line(text)


def _slug(stage: str) -> str:
    return "".join(ch if ch.isalnum() else "-" for ch in stage.lower()) or "stage"
