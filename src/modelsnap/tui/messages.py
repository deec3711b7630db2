"""Typed messages that thread workers post to the UI.

Workers never touch widgets: they call a plain core function and ``post_message`` one of these
(posting is thread-safe). Handlers on the screens then update widgets on the UI thread.
"""

from __future__ import annotations

from typing import Any

from textual.message import Message


class StateLoaded(Message):
    """The project folder was (re)read; ``state`` is a ``tui.state.ProjectState``."""

    def __init__(self, state: Any) -> None:
        self.state = state
        super().__init__()


class RunStarted(Message):
    """A model run began in the profiler's worker process."""

    def __init__(self, name: str) -> None:
        self.name = name
        super().__init__()


class RunProgress(Message):
    """One ``ProgressEvent`` from the profiler: a stage, how far it is, and a log line."""

    def __init__(self, name: str, stage: str, fraction: float, text: str = "") -> None:
        self.name = name
        self.stage = stage
        self.fraction = fraction
        self.text = text
        super().__init__()


class RunFinished(Message):
    """A run ended: ``snapshot_id`` on success, else ``reason`` and ``error`` say why."""

    def __init__(
        self, name: str, *, snapshot_id: str | None = None, reason: str = "", error: str = ""
    ) -> None:
        self.name = name
        self.snapshot_id = snapshot_id
        self.reason = reason
        self.error = error
        super().__init__()

    @property
    def ok(self) -> bool:
        return self.snapshot_id is not None


class PreviewReady(Message):
    """A CSV preview for the set-up screen (``preview`` is a ``CsvPreview``) or its error."""

    def __init__(self, preview: Any = None, error: str = "") -> None:
        self.preview = preview
        self.error = error
        super().__init__()


class TaskDone(Message):
    """A short background job (lock, save, rank, edge run, decision) finished.

    ``what`` names the job, ``result`` carries its return value, ``error`` the user-facing
    message of a ModelsnapError when it failed (nothing was written then).
    """

    def __init__(self, what: str, result: Any = None, error: str = "") -> None:
        self.what = what
        self.result = result
        self.error = error
        super().__init__()
