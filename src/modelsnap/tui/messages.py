"""Typed messages that thread workers post to the UI.

Workers never touch widgets: they call a plain core function and ``post_message`` one of these
(posting is thread-safe). Handlers on the screens then update widgets on the UI thread.

A short job (``ProjectApp.run_task``) answers with the message class its caller names: one
class per kind of result, each a :class:`TaskResult` carrying the core function's return value
or the user-facing error, so a screen handles each with its own ``@on(...)`` method.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Generic, TypeVar

from textual.message import Message

from modelsnap.core.project.schema import ProjectConfig  # both loaded with the first screen anyway
from modelsnap.tui.csv_preview import CsvPreview
from modelsnap.tui.state import ProjectState

if TYPE_CHECKING:
    from modelsnap.core.selection.ranking import RankingResult

T = TypeVar("T")


class StateLoaded(Message):
    """The project folder was (re)read."""

    def __init__(self, state: ProjectState) -> None:
        self.state = state
        super().__init__()


class ReadingProgress(Message):
    """How far the first read of the folder is: ``done`` of ``total`` snapshot files."""

    def __init__(self, done: int, total: int) -> None:
        self.done = done
        self.total = total
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


class TaskResult(Message, Generic[T]):
    """A short background job finished: ``result`` is what the core call returned, ``error``
    the message of the ModelsnapError it raised instead (nothing was written then)."""

    def __init__(self, result: T | None = None, error: str = "") -> None:
        self.result = result
        self.error = error
        super().__init__()

    @property
    def value(self) -> T:
        """The result of a job that succeeded (check ``error`` first)."""
        assert self.result is not None, self.error
        return self.result


# -- set-up ---------------------------------------------------------------------------------


class CsvFilesListed(TaskResult[list[str]]):
    """The CSV files directly in the project folder (``csv_preview.list_csv_files``)."""


class PreviewReady(TaskResult[CsvPreview]):
    """The set-up screen's look at a CSV: columns, first rows, value counts."""


class ProjectCreated(TaskResult[ProjectConfig]):
    """modelsnap.toml was written after init's checks."""


# -- step 1 ---------------------------------------------------------------------------------


class CriteriaSaved(TaskResult[ProjectConfig]):
    """The criteria edits were written to modelsnap.toml (not locked)."""


class CriteriaLocked(TaskResult[int]):
    """The criteria were saved and locked; ``result`` is the revision number."""


# -- steps 2 and 3 --------------------------------------------------------------------------


class ModelSaved(TaskResult[ProjectConfig]):
    """The model form's entry (baseline or candidate) passed the estimator's checks and was
    written to modelsnap.toml."""


# -- step 4 ---------------------------------------------------------------------------------


class EdgeCasesRun(TaskResult[dict[str, Any]]):
    """The edge-case file ran against every snapshot and the run was recorded."""


# -- step 5 ---------------------------------------------------------------------------------


class Ranked(TaskResult["RankingResult"]):
    """The project ranked under the weights in force (or the what-if ones); ``request`` says
    which ranking request it answers, so an older answer never replaces a newer one."""

    def __init__(
        self, result: RankingResult | None = None, error: str = "", *, request: int = 0
    ) -> None:
        self.request = request
        super().__init__(result, error)


class RankingRead(Message):
    """How far step 5's ranking has parsed the snapshot files no index row stands for:
    ``done`` of ``total`` (every file, in a folder without a trusted index)."""

    def __init__(self, done: int, total: int) -> None:
        self.done = done
        self.total = total
        super().__init__()


class SignificanceTested(TaskResult[dict[str, Any]]):
    """The top pick against the runner-up and the baseline on the test predictions."""


class DecisionRecorded(TaskResult[dict[str, Any]]):
    """The decision was appended to decisions.toml; ``result`` is its entry."""


class WeightsSaved(TaskResult[ProjectConfig]):
    """The what-if weights were written to modelsnap.toml (a new lock is needed)."""


class RowFormRead(TaskResult[dict[str, Any]]):
    """The try-rows form: the data's columns, their kinds, rows to pick from."""


class RowPredicted(TaskResult[dict[str, Any]]):
    """Every competing model's answer for the row in the try-rows form."""


class EdgeCaseAppended(TaskResult[dict[str, Any]]):
    """The try-rows row was appended to the edge-case file."""
