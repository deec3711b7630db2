"""The app as the screens see it: one project folder, its state, and the background work.

Screens reach the app through a typed property (``app = getters.app(ProjectApp)``), so every
call they make on it is one declared here: re-read the folder, run a short core call, run
models, cancel them, go to a step. ``tui.app.ModelsnapApp`` adds the modes, the key bindings,
the help panel and the command palette on top.

Two kinds of background job, each a thread worker that calls a plain core function:

- a short task (``run_task``): the caller names the message class the answer comes back as
  (one per kind of result, ``tui.messages``), so each screen handles each result in its own
  ``@on(...)`` method;
- model runs (``start_runs``): one batch at a time, posting RunStarted / RunProgress /
  RunFinished; Escape or quitting cancels it by killing the worker process group.
"""

from __future__ import annotations

import contextlib
import gc
import threading
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from textual import work
from textual.app import App
from textual.message_pump import MessagePump
from textual.worker import Worker, WorkerState, get_current_worker

from modelsnap.core import collector
from modelsnap.core.errors import ModelsnapError
from modelsnap.tui.messages import (
    ReadingProgress,
    RunFinished,
    RunProgress,
    RunStarted,
    StateLoaded,
    TaskResult,
)
from modelsnap.tui.state import ProjectState, load_state
from modelsnap.tui.steps import step_for_number

if TYPE_CHECKING:
    from modelsnap.core.project.schema import ProjectConfig
    from modelsnap.core.records.store import SnapshotReader
    from modelsnap.profiler.events import ProgressEvent
    from modelsnap.profiler.warm import WorkerPool

T = TypeVar("T")


class ProjectApp(App[None]):
    """The folder, its state and the background jobs; no screens of its own."""

    def __init__(self, root: Path) -> None:
        super().__init__()
        self.root = Path(root)
        self.state: ProjectState | None = None
        self._run_cancel: threading.Event | None = None
        self._run_what = ""  # what the run in progress runs, to say so when another is refused
        # One template of warm workers for the whole session (profiler.warm), started when the
        # user has spent a moment on the baseline or candidates step (``warm_up_runs``), else
        # by the first run: runs fork from it at once instead of importing the libraries
        # (2-3 s). Each model still runs in a fresh child of it; it ends with the app.
        self._worker_pool: WorkerPool | None = None
        self._pool_lock = threading.Lock()  # the pool is made from worker threads
        self._pool_closed = False
        self._snapshot_reader: SnapshotReader | None = None  # made by the first state read

    # -- project state ------------------------------------------------------------------

    def reload_state(self) -> None:
        """Re-read the folder in a worker; StateLoaded then refreshes the visible screen."""
        self._load_state()

    @work(thread=True, exclusive=True, group="state", exit_on_error=False)
    def _load_state(self) -> None:
        from modelsnap.core.records import store

        if self._snapshot_reader is None:
            self._snapshot_reader = store.SnapshotReader()
        first = self.state is None

        def progress(done: int, total: int) -> None:
            # the first read of a large folder is counted on screen: 10,000 files take seconds
            if first and total >= store.PROGRESS_FROM:
                self.post_message(ReadingProgress(done, total))  # thread-safe, never waits

        state = load_state(self.root, self._snapshot_reader, progress)
        # A large folder's parsed snapshots live as long as the app: later collections need
        # not walk them (a ranking's, or a key press's, at 100,000 snapshots; core.collector).
        # Once, at the first read: the later ones keep the same parsed snapshots (the reader's)
        # and would only freeze whatever cyclic garbage the screens left at that moment.
        if first:
            collector.keep_out_of_view(len(state.snapshots))
        # A newer reload was asked for meanwhile (a run's end asks twice): its answer follows,
        # so this one would only make the screen apply a state twice.
        if not get_current_worker().is_cancelled:
            self.post_message(StateLoaded(state))

    # -- navigation ---------------------------------------------------------------------

    def action_goto_step(self, number: int) -> None:
        mode = step_for_number(number).mode
        if self.current_mode != mode:
            self.switch_mode(mode)

    def action_screen_action(self, number: int, action: str) -> None:
        """Go to a step and run one of its actions (used by the command palette)."""
        self.action_goto_step(number)
        self.call_after_refresh(self.screen.run_action, action)

    # -- short tasks --------------------------------------------------------------------

    @work(thread=True, group="task", exit_on_error=False)
    def run_task(
        self,
        target: MessagePump,
        reply: type[TaskResult[T]],
        fn: Callable[..., T],
        /,
        *args: Any,
        **kwargs: Any,
    ) -> None:
        """Run a short core call off the UI thread; ``target`` gets ``reply(result)``.

        A ModelsnapError becomes ``reply(error=...)`` (shown inline by the screen); the core
        guarantees nothing was written in that case.
        """
        try:
            result = fn(*args, **kwargs)
        except ModelsnapError as error:
            target.post_message(reply(error=str(error)))
            return
        target.post_message(reply(result))

    # -- model runs ---------------------------------------------------------------------

    @property
    def running(self) -> bool:
        return self._run_cancel is not None

    def start_runs(
        self, target: MessagePump, names: list[str] | None, *, baseline: bool = False
    ) -> bool:
        """Run the baseline (``baseline=True``) or the named candidates in the profiler.

        Returns False when a run is already going (one at a time: they share the CPU the
        latency is measured on).
        """
        if self._run_cancel is not None:
            self.notify(
                f"a run is in progress ({self._run_what}): Esc to cancel it first",
                title="not started",
                severity="warning",
            )
            return False
        self._run_what = "the baseline" if baseline else ", ".join(names or ["candidates"])
        self._run_cancel = threading.Event()
        # Everything the UI made so far leaves the collector's view: a full collection that the
        # run's thread triggers would otherwise scan it all while holding the GIL (a 90-180 ms
        # freeze of the UI, measured by benchmarks/tui_stall_bench.py). It stays frozen after
        # the run: unfrozen, the next full collection scanned it all again just as the screen
        # showed the new snapshot (33-75 ms). These objects are the app's long-lived modules
        # and widgets; what was cyclic garbage among them at that moment is kept (on the sample
        # project about 9,000 objects, 1 MB, left over from start-up). Objects made later are
        # collected as usual, in collections that no longer scan the frozen ones.
        gc.freeze()
        self._run_models(target, names, baseline, self._run_cancel)
        return True

    def cancel_runs(self) -> bool:
        """Ask the running model to stop: the runner kills its worker process group."""
        if self._run_cancel is None:
            return False
        self._run_cancel.set()
        return True

    @work(thread=True, exclusive=True, group="run", exit_on_error=False)
    def _run_models(
        self, target: MessagePump, names: list[str] | None, baseline: bool, cancel: threading.Event
    ) -> None:
        from modelsnap.core.project.parse import load_project
        from modelsnap.profiler.jobs import run_project

        def on_finish(outcome: Any) -> None:
            if outcome.ok:
                target.post_message(RunFinished(outcome.name, snapshot_id=outcome.snapshot["id"]))
            else:
                error = outcome.error
                text = error.message if isinstance(error, ModelsnapError) else str(error)
                if isinstance(error, ModelsnapError) and error.hint:
                    text += f" (hint: {error.hint})"
                target.post_message(RunFinished(outcome.name, reason=outcome.reason, error=text))

        def on_start(name: str, kind: str) -> None:
            target.post_message(RunStarted(name))

        def on_event(name: str, event: ProgressEvent) -> None:
            target.post_message(RunProgress(name, event.stage, event.fraction, event.message))

        def on_warning(name: str, text: str) -> None:
            target.post_message(RunProgress(name, "warning", 1.0, text))

        try:
            config = load_project(self.root)
            pool = self._session_pool()
            if pool is None:
                return  # the app is ending
            run_project(
                config,
                names,
                baseline,
                pool=pool,
                cancel=cancel,
                on_finish=on_finish,
                on_start=on_start,
                on_event=on_event,
                on_warning=on_warning,
            )
        except ModelsnapError as error:
            target.post_message(
                RunFinished(", ".join(names or ["baseline"]), reason="error", error=str(error))
            )
        finally:
            # After a quit there is no UI left to update (the loop may close at any moment).
            with contextlib.suppress(RuntimeError):
                self.call_from_thread(self._runs_over)

    @work(thread=True, group="warm-up", exit_on_error=False)
    def import_run_modules(self) -> None:
        """Import what a run needs (about 90 ms) while nobody waits: imported when the first run
        starts, it froze the UI for as long (benchmarks/tui_stall_bench.py). Nothing heavy:
        the run's libraries load in the worker processes, never here."""
        import psutil  # noqa: F401

        import modelsnap.profiler.jobs  # noqa: F401

    def _session_pool(self) -> WorkerPool | None:
        """The session's pool of warm workers (made on first use); None once the app ends."""
        from modelsnap.profiler.warm import WorkerPool

        with self._pool_lock:
            if self._pool_closed:
                return None
            if self._worker_pool is None:
                self._worker_pool = WorkerPool()
            return self._worker_pool

    def warm_up_runs(self) -> None:
        """Start the session's worker template now, in the background, so that the first run
        forks from it instead of waiting 2-3 s for its imports. The baseline and candidates
        steps ask for it once the user has been on them for ``WARM_UP_AFTER`` seconds. The
        template imports the libraries only (never the project's code) and holds about
        200 MB until the app ends. Nothing when a run is going, a template is there, or the
        project (as last read) declares no model."""
        config = self.state.config if self.state is not None else None
        if self._run_cancel is not None or config is None:
            return
        if config.baseline is not None or config.candidates:
            self._warm_up(config)

    @work(thread=True, group="warm-up", exit_on_error=False)
    def _warm_up(self, config: ProjectConfig) -> None:
        from modelsnap.profiler.jobs import prestart

        pool = self._session_pool()
        if pool is not None:
            prestart(config, pool)  # a template that cannot start: the run goes cold, as ever

    def on_unmount(self) -> None:
        """The app ends: stop the session's worker template and everything under it."""
        with self._pool_lock:
            self._pool_closed = True
            pool = self._worker_pool
        if pool is not None:
            pool.close()

    def _runs_over(self) -> None:
        self._run_cancel = None
        self.reload_state()

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        """The one place unexpected worker failures surface: a notification, never a crash."""
        if event.state == WorkerState.ERROR:
            error = event.worker.error
            if event.worker.group == "run":
                self._run_cancel = None
            self.notify(
                f"{type(error).__name__}: {error}",
                title="background job failed",
                severity="error",
                timeout=10,
            )
