"""What the TUI knows about the project folder, read in one go by a worker thread.

The screens never read files themselves: a thread worker calls :func:`load_state`, which asks
the core (project file, criteria lock, snapshot store, decision log, edge-case runs) and returns
a plain :class:`ProjectState`. Which step is "done" is each step's own test (``tui.steps``) over
those records only, so the step bar tells the same story as ``modelsnap ls`` and ``modelsnap rank``.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from modelsnap.core import collector
from modelsnap.core.errors import ModelsnapError
from modelsnap.tui import steps

if TYPE_CHECKING:
    from collections.abc import Callable

    from modelsnap.core.records.store import SnapshotReader

PROJECT_FILE = "modelsnap.toml"


@dataclass
class ProjectState:
    """A consistent picture of the folder at one moment; rebuilt after every change."""

    root: Path
    has_project: bool = False
    config: Any = None  # core.project.schema.ProjectConfig when the file loads
    config_error: ModelsnapError | None = None
    snapshots: list[dict] = field(default_factory=list)
    problems: list[Any] = field(default_factory=list)  # schema.SnapshotProblem
    revision: dict | None = None  # the last locked criteria revision
    lock_problem: str | None = None  # why the criteria are not (or no longer) locked
    decisions: list[dict] = field(default_factory=list)
    edge_results: dict[str, dict] = field(default_factory=dict)  # snapshot id -> latest result
    edge_cases: list[dict] = field(default_factory=list)  # cases of the newest edge run
    hashes: Any = None  # core.records.store.DataHashes: the current data set and split
    machine: str | None = None  # this machine's hardware fingerprint ("this machine" on cards)

    def machine_words(self, snapshot: dict) -> str:
        """Where a snapshot was profiled, in plain words: "this machine" or "another machine
        (Intel Xeon, 2 cores)" (core.evaluation.environment.describe_machine)."""
        from modelsnap.core.evaluation.environment import describe_machine

        return describe_machine(snapshot.get("hardware"), here=self.machine)

    @property
    def name(self) -> str:
        if self.config is not None and getattr(self.config, "name", None):
            return str(self.config.name)
        return self.root.name

    @property
    def locked(self) -> bool:
        return self.revision is not None and self.lock_problem is None

    @functools.cached_property
    def baseline(self) -> dict | None:
        """*The* baseline candidates are compared with: the latest baseline snapshot on the
        current data and split (``core.selection.ranking.current_baseline``, the ranking's own
        rule). Found once, by the worker that read the folder (``load_state``)."""
        from modelsnap.core.selection.ranking import current_baseline

        hashes = self.hashes
        found = current_baseline(
            self.snapshots,
            getattr(hashes, "dataset_sha256", None),
            getattr(hashes, "split_sha256", None),
        )
        return dict(found) if found is not None else None

    @functools.cached_property
    def candidates(self) -> list[dict]:
        return [snap for snap in self.snapshots if snap.get("kind") == "candidate"]

    @property
    def primary_metric(self) -> str:
        selection = getattr(self.config, "selection", None)
        return str(getattr(selection, "primary_metric", "") or "")

    @property
    def edge_file(self) -> str | None:
        data = getattr(self.config, "data", None)
        return getattr(data, "edge_cases", None) or None

    def edge_result(self, snapshot: dict) -> dict | None:
        """The newest edge-case result for a snapshot: a later edge run, else its own table."""
        return self.edge_results.get(snapshot.get("id", "")) or snapshot.get("edge_cases")

    def done(self) -> dict[int, bool]:
        """Step number -> finished, judged from the records on disk (each step's own test)."""
        return dict(self._progress)

    @functools.cached_property
    def _progress(self) -> dict[int, bool]:
        return steps.progress(self)

    def prepare(self) -> ProjectState:
        """Work out what every screen derives from the snapshots (the baseline, the candidates,
        the done map) now, in the worker: each is a pass over all the snapshots, which the UI
        thread would otherwise make on every refresh. The state is not changed after this."""
        for name in ("baseline", "candidates", "_progress"):
            getattr(self, name)
        return self

    def first_unfinished(self) -> int:
        """Where the app opens: the first step not done (the last one when everything is)."""
        return steps.first_unfinished(self)


def load_state(
    root: Path,
    snapshots: SnapshotReader | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> ProjectState:
    """Read everything the screens show. Runs in a worker thread: it touches the disk.

    Broken records never raise here: a project file that does not load is kept as
    ``config_error`` (the criteria screen shows it), broken snapshots as ``problems``. The
    app passes its ``SnapshotReader`` (``core.records.store``), so a reload parses only the
    snapshot files that may have changed since the last one; ``progress(done, total)`` hears
    how far its reading of them is (``SnapshotReader.read``).
    """
    root = Path(root)
    state = ProjectState(root=root, has_project=(root / PROJECT_FILE).is_file())
    if not state.has_project:
        return state
    from modelsnap.core.project.parse import load_project
    from modelsnap.core.records import store
    from modelsnap.core.selection import criteria

    try:
        state.config = load_project(root)
    except ModelsnapError as error:
        state.config_error = error
    reader = snapshots if snapshots is not None else store.SnapshotReader()
    with collector.paused():  # ~100 objects per snapshot, no cycles (core.collector)
        state.snapshots, state.problems = reader.read(root, progress)
    state.revision = criteria.current_revision(root)
    if state.config is not None:
        state.hashes = store.current_data_hashes(root, state.config.data.source)
        force = criteria.criteria_in_force(state.config)
        if not force.locked:
            state.lock_problem = "criteria are not locked"
        elif force.pending:
            state.lock_problem = f"criteria changed since revision {force.revision}: " + "; ".join(
                force.pending
            )
    elif state.revision is None:
        state.lock_problem = "criteria are not locked yet"
    else:
        state.lock_problem = "the project file does not load"
    state.machine = this_machine()
    state.decisions = _read_decisions(root)
    state.edge_results, state.edge_cases = _edge_runs(root)
    return state.prepare()


@functools.cache
def this_machine() -> str | None:
    """The fingerprint of the machine the TUI runs on (read once; psutil and /proc only)."""
    from modelsnap.core.evaluation.environment import hardware_table

    try:
        return str(hardware_table()["fingerprint"])
    except Exception:  # no psutil, no /proc: cards then say "another machine (...)" only
        return None


def _read_decisions(root: Path) -> list[dict]:
    from modelsnap.core.records.decision_log import read_decisions

    return list(read_decisions(root))


def _edge_runs(root: Path) -> tuple[dict[str, dict], list[dict]]:
    """Latest result per snapshot (core.evaluation.edgecases) and the case list of the newest
    run."""
    from modelsnap.core.evaluation.edgecases import EDGE_RUNS_DIR, latest_edge_results
    from modelsnap.core.files import read_toml

    results = latest_edge_results(root)
    newest = max((r.get("run_id", "") for r in results.values()), default="")
    cases: list[dict] = []
    if newest:
        try:
            record = read_toml(root / EDGE_RUNS_DIR / f"{newest}.toml", what="edge run")
        except ModelsnapError:
            record = {}
        cases = [c for c in record.get("cases", []) if isinstance(c, dict)]
    return results, cases
