"""The live progress display the commands that run models share (`run`, `profile`, `import`)."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any


class ProgressDisplay:
    """One rich progress line per model: its current stage and how far the run is overall."""

    def __init__(self, enabled: bool) -> None:
        from rich.progress import BarColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

        from modelsnap.cli.output import make_console

        self.console = make_console(stderr=True, highlight=False)
        self.progress = Progress(
            SpinnerColumn(),
            TextColumn("{task.description}"),
            BarColumn(),
            TextColumn("{task.percentage:>3.0f}%"),
            TimeElapsedColumn(),
            console=self.console,
            transient=False,
            disable=not enabled,
        )
        self.tasks: dict[str, Any] = {}

    @contextlib.contextmanager
    def live(self) -> Iterator[ProgressDisplay]:
        with self.progress:
            yield self

    def start(self, name: str, kind: str) -> None:
        self.tasks[name] = self.progress.add_task(f"{name} ({kind}): starting", total=1.0)

    def event(self, name: str, event: Any) -> None:
        from modelsnap.profiler.events import STAGES

        done = (STAGES.index(event.stage) + event.fraction) / len(STAGES)
        message = f" - {event.message}" if event.message else ""
        self.progress.update(
            self.tasks[name], completed=done, description=f"{name}: {event.stage}{message}"[:90]
        )

    def warning(self, name: str, text: str) -> None:
        from rich.markup import escape

        self.progress.console.print(f"[yellow]warning:[/] {escape(text)}")

    def finish(self, outcome: Any) -> None:
        task = self.tasks[outcome.name]
        if outcome.ok:
            self.progress.update(
                task, completed=1.0, description=f"{outcome.name}: done ({outcome.snapshot['id']})"
            )
        else:
            self.progress.update(task, description=f"{outcome.name}: failed ({outcome.reason})")
