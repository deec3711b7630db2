"""Fit on a Dask cluster, profile here: the ``dask`` executor of ``modelsnap run``.

What runs where (docs/distributed.md):

- on the cluster, one Dask task per model -- and one per point of its hyper-parameter grid --
  runs the usual modelsnap worker as a child process of the Dask worker (``runner``'s reaper,
  timeout and memory ceiling, all as locally). The project's files the worker needs
  (modelsnap.toml, the data file, split.npz, the edge cases, the trusted model modules) travel
  with the task; the fitted artifact and the predictions come back as bytes with their sha256;
- here, serially and on purpose one at a time, the returned artifact is checked (sha256, then
  the artifact allow-list when loaded), profiled for latency, throughput and predict memory in a
  local worker, and recorded by ``store.write_snapshot`` -- the same atomic write as a local
  run. The snapshot's ``[hardware]`` and ``[environment]`` are this machine's (where the
  figures were measured); ``[origin]`` says where the fit ran.

Progress: each task sends its worker's events with ``Worker.log_event`` on a topic this run
subscribes to; they are delivered to the caller's callbacks in the calling thread, as locally.
Cancel sets a ``distributed.Event`` each task polls (its child process is then killed) and
cancels the futures. A Dask worker lost mid-task (its process died, its machine left) fails
that model with reason ``worker lost``; the scheduler's re-run of the task is stopped. Nothing
is retried: a model that killed its worker would kill the next one too.

Only imported when the Dask executor is chosen: importing it never imports dask.
"""

from __future__ import annotations

import contextlib
import hashlib
import math
import os
import queue
import secrets
import shutil
import socket
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING, Any

from modelsnap.core.errors import CriteriaError, ModelsnapError, RunFailed
from modelsnap.profiler import runner, warm
from modelsnap.profiler.events import ProgressEvent, ProtocolError
from modelsnap.profiler.executors import ExecutorError, require_dask

if TYPE_CHECKING:
    from modelsnap.core.records.shapes import Snapshot

CONNECT_TIMEOUT_SECONDS = 10.0
WORKERS_TIMEOUT_SECONDS = 30.0
CANCEL_POLL_SECONDS = 0.25
WORKER_LOST = "worker lost"


# --------------------------------------------------------------------------- the cluster side


def _bundle_path(relative: str) -> PurePosixPath:
    path = PurePosixPath(relative)
    if path.is_absolute() or ".." in path.parts or not path.parts:
        raise ValueError(f"unsafe path in the project bundle: {relative!r}")
    return path


# The worker templates of the runs whose tasks this Dask worker process runs, one pool per run
# (its topic): each task's model still runs in a fresh child forked from the template, so the
# interpreter start and the imports are paid once per Dask worker and run, not once per task.
# The run that made a pool closes it on every worker when it ends (``close_task_templates``);
# a task of a run already closed here goes cold; a Dask worker that ends takes its templates
# with it (they die with their parent).
_task_pools: dict[str, warm.WorkerPool] = {}
_closed_runs: dict[str, None] = {}  # the latest CLOSED_RUNS_KEPT, oldest first
_task_pools_lock = threading.Lock()
CLOSED_RUNS_KEPT = 1024
CLOSE_TEMPLATES_SECONDS = 10.0


def _task_pool(topic: str, threads: int) -> warm.WorkerPool | None:
    """This run's pool on this Dask worker, its template asked to start (with a neutral
    working directory: a task's project folder is deleted when the task ends); None once the
    run was closed here."""
    with _task_pools_lock:
        if topic in _closed_runs:
            return None
        pool = _task_pools.get(topic)
        if pool is None:
            pool = _task_pools[topic] = warm.WorkerPool()
    runner.prestart_template(Path(tempfile.gettempdir()), threads, pool)
    return pool


def close_task_templates(topic: str) -> int:
    """Stop run ``topic``'s templates on this Dask worker (and anything still under them);
    run on every worker by the run's caller when it ends. Returns how many were running."""
    with _task_pools_lock:
        pool = _task_pools.pop(topic, None)
        _closed_runs[topic] = None
        while len(_closed_runs) > CLOSED_RUNS_KEPT:
            del _closed_runs[next(iter(_closed_runs))]
    if pool is None:
        return 0
    count = len(pool.pids)
    pool.close()
    return count


def _close_templates_on_workers(client: Any, topic: str) -> None:
    """Ask every Dask worker to stop run ``topic``'s templates, waiting at most
    ``CLOSE_TEMPLATES_SECONDS``: a worker that does not answer keeps them until it stops (they
    die with it), and the run's end never hangs on it."""

    def close() -> None:
        with contextlib.suppress(Exception):  # a worker already gone has none left
            client.run(close_task_templates, topic, on_error="ignore")

    closing = threading.Thread(target=close, name="modelsnap-dask-close", daemon=True)
    closing.start()
    closing.join(CLOSE_TEMPLATES_SECONDS)


def fit_task(
    bundle: dict[str, bytes],
    wire: dict[str, Any],
    limits: dict[str, Any],
    topic: str,
    cancel_name: str,
) -> dict[str, Any]:
    """Run one modelsnap worker job on this Dask worker; the Dask task body.

    ``bundle`` (relative path -> bytes) is written into a fresh temporary project folder;
    ``wire`` is the worker job (its root and staging are set here); ``limits`` holds
    ``timeout_seconds``, ``memory_limit_mb`` and ``threads``. Returns what the caller needs to
    judge the run (``runner._Outcome``'s fields) plus the staged files' bytes and sha256.
    """
    from distributed import Event, get_client, get_worker

    worker = get_worker()
    key = worker.get_current_task()
    attempt = secrets.token_hex(6)
    host = socket.gethostname()

    def log(kind: str, **data: Any) -> None:
        with contextlib.suppress(Exception):  # progress is best effort, never a failure
            worker.log_event(topic, {"key": key, "attempt": attempt, "kind": kind, **data})

    log("start", worker=worker.address, host=host)
    cancel = threading.Event()
    done = threading.Event()

    # Made in the task's thread, bound to the worker's client: the watcher thread polls it.
    event = Event(cancel_name, client=get_client())

    def dropped() -> bool:
        """The scheduler no longer wants this task (its future was cancelled or released,
        e.g. the caller went away): the worker marks it while the thread still runs."""
        state = getattr(worker.state.tasks.get(key), "state", None)
        return state in (None, "cancelled", "released", "forgotten")

    def watch_cancel() -> None:
        while not done.wait(CANCEL_POLL_SECONDS):
            with contextlib.suppress(Exception):
                if dropped() or event.is_set():
                    cancel.set()
                    return

    watcher = threading.Thread(target=watch_cancel, name="modelsnap-dask-cancel", daemon=True)
    watcher.start()
    try:
        with tempfile.TemporaryDirectory(prefix="modelsnap-dask-") as tmp:
            root = Path(tmp) / "project"
            for relative, data in bundle.items():
                target = root.joinpath(*_bundle_path(relative).parts)
                target.parent.mkdir(parents=True, exist_ok=True)
                target.write_bytes(data)
            staging = root / ".modelsnap" / "tmp" / f".tmp-{os.getpid()}-{secrets.token_hex(6)}"
            staging.mkdir(parents=True)
            job = runner.RunJob(
                root=root,
                name=str(wire["name"]),
                spec={},
                timeout_seconds=float(limits["timeout_seconds"]),
                memory_limit_mb=float(limits["memory_limit_mb"]),
                threads=int(limits["threads"]),
            )
            outcome = runner._spawn_and_watch(
                job,
                staging,
                lambda event: log("progress", event=event.to_dict()),
                lambda text: log("warning", text=text),
                cancel,
                wire={**wire, "root": str(root), "staging": str(staging)},
                pool=_task_pool(topic, job.threads),
            )
            files: dict[str, bytes] = {}
            final = outcome.final
            if outcome.killed_for is None and final is not None and final["type"] == "result":
                for name, filename in (final.get("staged") or {}).items():
                    path = staging / str(filename)
                    if path.is_file() and "/" not in str(filename):
                        files[name] = path.read_bytes()
    finally:
        done.set()
    return {
        "attempt": attempt,
        "worker": worker.address,
        "host": host,
        "final": outcome.final,
        "returncode": outcome.returncode,
        "killed_for": outcome.killed_for,
        "detail": outcome.detail,
        "stderr": outcome.stderr,
        "protocol_error": outcome.protocol_error.message if outcome.protocol_error else None,
        "files": files,
        "sha256": {name: hashlib.sha256(data).hexdigest() for name, data in files.items()},
    }


def _modelsnap_version() -> str:
    """The installed modelsnap's version, read from its metadata (this module sits below the
    package's front door, which offers the API)."""
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("modelsnap")
    except PackageNotFoundError:
        return "?"


def worker_versions() -> dict[str, str]:
    """What a Dask worker has installed (checked before anything is sent to it)."""
    import platform
    from importlib.metadata import version

    found = {
        "modelsnap": _modelsnap_version(),
        "python": platform.python_version(),
    }
    for package in ("scikit-learn", "numpy", "pandas", "skops"):
        with contextlib.suppress(Exception):
            found[package] = version(package)
    return found


# --------------------------------------------------------------------------- the caller's side


def connect(address: str, where: str = "--scheduler") -> Any:
    """A ``distributed.Client`` for ``address`` with at least one worker, or ExecutorError."""
    require_dask()
    from distributed import Client

    try:
        client = Client(address, timeout=CONNECT_TIMEOUT_SECONDS, set_as_default=False)
    except Exception as exc:  # noqa: BLE001 - OSError, TimeoutError, ValueError, ...
        raise ExecutorError(
            f"cannot reach the Dask scheduler at {address}: {exc}",
            where=where,
            hint="start one with `dask scheduler` and workers with `dask worker "
            f"{address}` (docs/distributed.md), or run here with --executor local",
        ) from None
    try:
        client.wait_for_workers(1, timeout=WORKERS_TIMEOUT_SECONDS)
        versions = client.run(worker_versions)
    except Exception as exc:  # noqa: BLE001
        client.close()
        text = str(exc) or type(exc).__name__
        missing = isinstance(exc, (ModuleNotFoundError, ImportError)) or "modelsnap" in text
        raise ExecutorError(
            f"the Dask cluster at {address} cannot run modelsnap: {text}",
            where=where,
            hint="install modelsnap (the same version) on every Dask worker"
            if missing
            else f"start workers with `dask worker {address}` (docs/distributed.md)",
        ) from None
    here = _modelsnap_version()
    for worker, found in sorted(versions.items()):
        if found.get("modelsnap") != here:
            client.close()
            raise ExecutorError(
                f"the Dask worker {worker} has modelsnap {found.get('modelsnap')}, this machine "
                f"{here}",
                where=where,
                hint=f"install modelsnap {here} on every Dask worker",
            )
    return client


def project_bundle(config: Any) -> dict[str, bytes]:
    """The project files a worker on another machine needs, by relative path (POSIX)."""
    from modelsnap.core.evaluation.data import SPLIT_FILE
    from modelsnap.core.evaluation.pipeline import trusted_code
    from modelsnap.core.project.schema import PROJECT_FILE

    root = Path(config.root).resolve()
    wanted: list[str] = [PROJECT_FILE, SPLIT_FILE]
    if not config.data.is_sklearn:
        wanted.append(config.data.source)
    if config.data.edge_cases:
        wanted.append(config.data.edge_cases)
    bundle: dict[str, bytes] = {}
    for relative in wanted:
        path = (root / relative).resolve()
        if path.is_file() and path.is_relative_to(root):
            bundle[path.relative_to(root).as_posix()] = path.read_bytes()
    # Code that came with the folder travels only when the user trusted it by name; the worker
    # over there applies the same trust (the job names the modules).
    for name in sorted(trusted_code()):
        module = root / f"{name}.py"
        package = root / name
        if module.is_file():
            bundle[module.name] = module.read_bytes()
        elif (package / "__init__.py").is_file():
            for path in sorted(package.rglob("*.py")):
                bundle[path.relative_to(root).as_posix()] = path.read_bytes()
    return bundle


def grid_size(grid: dict[str, Any] | None) -> int:
    """Points in a grid (a table of parameter -> list of values); 0 when there is none."""
    if not grid:
        return 0
    return math.prod(len(values) for values in grid.values())


@dataclass
class _Model:
    index: int
    spec: Any
    outcome: Any
    job: runner.RunJob | None = None
    points: int = 0
    scores: dict[int, float] = field(default_factory=dict)
    futures: dict[str, tuple[Any, str]] = field(default_factory=dict)  # key -> (future, role)
    attempts: dict[str, tuple[str, str]] = field(default_factory=dict)  # key -> (attempt, worker)
    fitted: dict[str, Any] | None = None
    phase: str = "waiting"  # waiting | cluster | ready | profiling | done
    cancel_name: str = ""
    where: str = ""  # "host (tcp://...)" of the final fit


class DaskRun:
    """One ``run_project`` on a Dask cluster (see the module docstring)."""

    def __init__(
        self,
        config: Any,
        specs: list[Any],
        *,
        scheduler: str,
        scheduler_where: str,
        overrides: Any,
        on_start: Callable[[str, str], None] | None,
        on_event: Callable[[str, ProgressEvent], None] | None,
        on_warning: Callable[[str, str], None] | None,
        on_finish: Callable[[Any], None] | None,
        cancel: threading.Event | None,
        pool: warm.WorkerPool | None = None,
    ) -> None:
        self.config = config
        # The local profiling forks its workers from one template (``warm``): the caller's, or
        # this run's own, stopped when the run ends; it starts while the cluster fits.
        self.given_pool = pool
        self.workers: warm.WorkerPool | None = None
        self.specs = specs
        self.scheduler = scheduler
        self.scheduler_where = scheduler_where
        self.overrides = overrides
        self.on_start, self.on_event = on_start, on_event
        self.on_warning, self.on_finish = on_warning, on_finish
        self.cancel = cancel or threading.Event()
        self.inbox: queue.Queue = queue.Queue()
        self.token = secrets.token_hex(6)
        self.topic = f"modelsnap-{self.token}"
        self.models: list[_Model] = []
        self.by_key: dict[str, _Model] = {}
        self.profiler: threading.Thread | None = None
        self.cancelled = False

    # -- callbacks (calling thread only) ------------------------------------------------

    def _event(self, model: _Model, stage: str, fraction: float, message: str = "") -> None:
        if self.on_event is not None:
            self.on_event(model.spec.name, ProgressEvent(stage, min(1.0, fraction), message))

    def _warn(self, model: _Model, text: str) -> None:
        model.outcome.warnings.append(text)
        if self.on_warning is not None:
            self.on_warning(model.spec.name, text)

    def _finish(self, model: _Model, error: ModelsnapError | None = None) -> None:
        if model.phase == "done":
            return
        model.phase = "done"
        if error is not None:
            model.outcome.error = error
        for future, _role in model.futures.values():
            with contextlib.suppress(Exception):
                future.cancel()
        model.futures.clear()
        if self.on_finish is not None:
            self.on_finish(model.outcome)

    # -- the run ------------------------------------------------------------------------

    def run(self) -> list[Any]:
        import logging

        # Failures are reported once, on the model or as an ExecutorError, not also by
        # distributed's own logger (a lost worker, a scheduler that does not answer).
        loggers = [logging.getLogger(name) for name in ("distributed", "distributed.client")]
        levels = [logger.level for logger in loggers]
        for logger in loggers:
            logger.setLevel(logging.CRITICAL)
        try:
            return self._run()
        finally:
            for logger, level in zip(loggers, levels, strict=True):
                logger.setLevel(level)

    def _run(self) -> list[Any]:
        client = connect(self.scheduler, self.scheduler_where)  # nothing is written before this
        self.client = client
        try:
            with warm.pool_for(self.given_pool) as self.workers:
                self._run_on(client)
        finally:
            if getattr(client, "status", "") == "running":
                _close_templates_on_workers(client, self.topic)
            with contextlib.suppress(Exception):
                client.unsubscribe_topic(self.topic)
            with contextlib.suppress(Exception):
                client.close()
        return [model.outcome for model in self.models]

    def _run_on(self, client: Any) -> None:
        from modelsnap.profiler.job_specs import RunOutcome

        self._ensure_split()
        self.models = [
            _Model(i, spec, RunOutcome(spec.name, spec.kind, warnings=[]))
            for i, spec in enumerate(self.specs)
        ]
        client.subscribe_topic(self.topic, lambda event: self.inbox.put(("topic", event[1])))
        # One copy of the project's files per Dask worker, whatever the number of tasks.
        [bundle] = client.scatter([project_bundle(self.config)], hash=False)
        try:
            self._prepare_and_submit(bundle)
            # While the cluster fits, the template of the local profiling starts here.
            first = next((m.job for m in self.models if m.phase == "cluster"), None)
            if first is not None and self.workers is not None:
                runner.prestart_worker(first, self.workers)
            self._loop(bundle)
        except ModelsnapError:
            raise
        except Exception as exc:  # noqa: BLE001 - the cluster failed, not a model
            self._abort(f"{type(exc).__name__}: {exc}")

    def _ensure_split(self) -> None:
        """Draw the frozen split here once, before the tasks copy it (never one per task)."""
        from modelsnap.core.evaluation.data import SPLIT_FILE, ensure_split, load_dataset

        if not (Path(self.config.root) / SPLIT_FILE).is_file():
            ensure_split(self.config, load_dataset(self.config))

    def _prepare_and_submit(self, bundle: Any) -> None:
        from modelsnap.profiler.job_specs import criteria_revision_for, job_for_spec

        locked: int | CriteriaError | None = None
        for model in self.models:
            spec = model.spec
            if self.on_start is not None:
                self.on_start(spec.name, spec.kind)
            try:
                if self.cancel.is_set():
                    raise RunFailed(
                        "cancelled",
                        "cancelled before it started; nothing was written",
                        where=f"model {spec.name!r}",
                    )
                if spec.kind == "candidate":
                    if locked is None:
                        try:
                            locked = criteria_revision_for(self.config, "candidate")
                        except CriteriaError as exc:
                            locked = exc
                    if isinstance(locked, CriteriaError):
                        raise locked
                    revision = locked
                else:
                    revision = criteria_revision_for(self.config, "baseline")
                # The baseline reference is read when the candidate is recorded: a baseline of
                # this same run is recorded first.
                model.job = job_for_spec(
                    self.config,
                    spec,
                    criteria_revision=revision,
                    baseline=None,
                    overrides=self.overrides,
                )
                model.job.validate()
            except ModelsnapError as exc:
                self._finish(model, exc)
                continue
            model.cancel_name = f"{self.topic}-cancel-{model.index}"
            model.points = grid_size((model.job.spec or {}).get("grid"))
            model.phase = "cluster"
            if model.points:
                for point in range(model.points):
                    self._submit(model, bundle, "point", grid_point=point)
                self._event(model, "search", 0.0, f"{model.points} grid points sent to the cluster")
            else:
                self._submit(model, bundle, "fit")

    def _submit(self, model: _Model, bundle: Any, role: str, **extra: Any) -> None:
        from modelsnap.core.evaluation.pipeline import trusted_code

        job = model.job
        assert job is not None
        wire = job.to_wire(Path("."))
        wire["settings"]["profile"] = False  # latency and memory are measured here
        wire["trust_code"] = sorted(trusted_code())
        wire.update(extra)
        limits = {
            "timeout_seconds": job.timeout_seconds,
            "memory_limit_mb": job.memory_limit_mb,
            "threads": job.threads,
        }
        future = self.client.submit(
            fit_task,
            bundle,
            wire,
            limits,
            self.topic,
            model.cancel_name,
            pure=False,
            key=f"modelsnap-{job.name}-{role}-{secrets.token_hex(4)}",
        )
        model.futures[future.key] = (future, role)
        self.by_key[future.key] = model

    # -- the loop -----------------------------------------------------------------------

    def _loop(self, bundle: Any) -> None:
        while True:
            self._drain()
            if self.cancel.is_set() and not self.cancelled:
                self._cancel_all()
            for model in self.models:
                for key, (future, role) in list(model.futures.items()):
                    if future.done() and model.phase == "cluster":
                        del model.futures[key]
                        self._collected(model, future, role, bundle)
            self._maybe_profile()
            busy = self.profiler is not None or any(m.phase not in ("done",) for m in self.models)
            if not busy:
                break
            time.sleep(runner.POLL_SECONDS)
        self._drain()

    def _drain(self) -> None:
        while True:
            try:
                kind, item = self.inbox.get_nowait()
            except queue.Empty:
                return
            if kind == "topic":
                self._topic(item)
            elif kind == "event":
                model, event = item
                if self.on_event is not None and model.phase != "done":
                    self.on_event(model.spec.name, event)
            elif kind == "warning":
                model, text = item
                self._warn(model, text)
            elif kind == "recorded":
                model, snapshot, error = item
                self.profiler = None
                model.outcome.snapshot = snapshot
                self._finish(model, error)

    def _topic(self, message: dict[str, Any]) -> None:
        model = self.by_key.get(str(message.get("key")))
        if model is None or model.phase != "cluster":
            return
        key = str(message["key"])
        entry = model.futures.get(key)
        role = entry[1] if entry else "fit"
        if message.get("kind") == "start":
            first = model.attempts.get(key)
            if first is not None and first[0] != message.get("attempt"):
                self._lost(model, first[1])
                return
            model.attempts[key] = (str(message.get("attempt")), str(message.get("worker")))
            if role == "fit":
                model.where = f"{message.get('host')} ({message.get('worker')})"
                if model.points:
                    self._event(model, "search", 1.0, f"final fit on Dask worker {model.where}")
                else:
                    self._event(model, "load", 0.0, f"on Dask worker {model.where}")
            return
        if role != "fit":
            return  # a grid point's own stages: the search bar counts finished points
        if message.get("kind") == "progress":
            # Stages run here (latency, batch, save) are reported from here; after a grid
            # search the final fit's load and split would move the bar back.
            skip = {"latency", "batch", "save"} | ({"load", "split"} if model.points else set())
            with contextlib.suppress(ProtocolError, KeyError, TypeError, ValueError):
                event = ProgressEvent.from_dict(message["event"])
                if event.stage not in skip:
                    self._event(model, event.stage, event.fraction, event.message)
        elif message.get("kind") == "warning":
            self._warn(model, str(message.get("text", "")))

    def _lost(self, model: _Model, worker: str) -> None:
        from distributed import Event

        with contextlib.suppress(Exception):
            Event(model.cancel_name, client=self.client).set()
        self._finish(
            model,
            RunFailed(
                WORKER_LOST,
                f"the Dask worker {worker} running it was lost (its process died or it left "
                "the cluster); nothing was written",
                where=f"model {model.spec.name!r}",
                hint="run this model again; if its worker died of memory, set memory_limit_mb "
                "below the Dask worker's memory so modelsnap stops the fit first",
            ),
        )

    def _abort(self, why: str) -> None:
        """The connection to the cluster failed: the model being profiled here is finished,
        every other unfinished model fails (nothing of theirs is written)."""
        if self.profiler is not None:
            self.profiler.join()
        self._drain()
        for model in self.models:
            self._finish(
                model,
                RunFailed(
                    "crash",
                    f"the Dask cluster stopped answering during the run ({why}); "
                    "nothing was written",
                    where=f"model {model.spec.name!r}",
                    hint=f"check the scheduler at {self.scheduler} and run the model again",
                ),
            )

    def _collected(self, model: _Model, future: Any, role: str, bundle: Any) -> None:
        status = future.status
        if status == "cancelled":
            if self.client.status != "running":  # "connecting": the scheduler went away
                raise ConnectionError("the connection to the scheduler was lost")
            if not self.cancelled:
                self._lost(model, model.attempts.get(future.key, ("", "?"))[1])
            return
        if status == "error":
            exc = future.exception()
            future.release()
            if type(exc).__name__ == "KilledWorker":
                self._lost(model, model.attempts.get(future.key, ("", "?"))[1])
                return
            self._finish(
                model,
                RunFailed(
                    "error",
                    f"the Dask task failed: {type(exc).__name__}: {exc}",
                    where=f"model {model.spec.name!r}",
                    hint="modelsnap (the same version) must be installed on every Dask worker",
                ),
            )
            return
        result = future.result()
        future.release()  # a finished task is never recomputed when its worker goes later
        first = model.attempts.get(future.key)
        if first is not None and first[0] != result["attempt"]:
            self._lost(model, first[1])
            return
        failure = self._failure(model, result)
        if failure is not None:
            self._finish(model, failure)
            return
        final = result["final"]
        if role == "point":
            body = final.get("snapshot") or {}
            model.scores[int(body["grid_point"])] = float(body["score"])
            done = len(model.scores)
            self._event(
                model, "search", done / model.points, f"{done}/{model.points} grid points scored"
            )
            if done == model.points:
                scores = [model.scores[i] for i in range(model.points)]
                self._submit(model, bundle, "fit", search_scores=scores)
            return
        model.fitted = result
        model.phase = "ready"
        self._event(model, "analyse", 1.0, "fitted; waiting to be profiled here")

    def _failure(self, model: _Model, result: dict[str, Any]) -> ModelsnapError | None:
        final = result["final"]
        if result["killed_for"] is None and final is not None and final["type"] == "result":
            for name, data in result["files"].items():
                if hashlib.sha256(data).hexdigest() != result["sha256"].get(name):
                    return RunFailed(
                        "crash",
                        f"the {name} came back from the cluster damaged (sha256 differs)",
                        where=f"model {model.spec.name!r}",
                        hint="run it again",
                    )
            return None
        error = runner.ProtocolError(result["protocol_error"]) if result["protocol_error"] else None
        outcome = runner._Outcome(
            final=final,
            returncode=result["returncode"],
            killed_for=result["killed_for"],
            detail=result["detail"],
            stderr=result["stderr"],
            protocol_error=error,
        )
        assert model.job is not None
        failure = runner._failure(model.job, outcome)
        if isinstance(failure, RunFailed) and failure.reason == "cancelled" and not self.cancelled:
            return RunFailed(
                WORKER_LOST,
                "the Dask task was stopped from outside the run; nothing was written",
                where=f"model {model.spec.name!r}",
            )
        failure.message = f"{failure.message} (on Dask worker {result['host']})"
        return failure

    def _cancel_all(self) -> None:
        from distributed import Event

        self.cancelled = True
        for model in self.models:
            if model.phase in ("cluster", "ready"):
                with contextlib.suppress(Exception):
                    Event(model.cancel_name, client=self.client).set()
                self._finish(
                    model,
                    RunFailed(
                        "cancelled",
                        "cancelled; nothing was written",
                        where=f"model {model.spec.name!r}",
                    ),
                )

    # -- profiling and recording here -----------------------------------------------------

    def _maybe_profile(self) -> None:
        if self.profiler is not None or self.cancelled:
            return
        baseline_open = any(m.spec.kind == "baseline" and m.phase != "done" for m in self.models)
        for model in self.models:
            if model.phase != "ready":
                continue
            if model.spec.kind == "candidate" and baseline_open:
                continue  # candidates are judged against the baseline of this run
            model.phase = "profiling"
            reference = None
            if model.spec.kind == "candidate":
                from modelsnap.profiler.job_specs import latest_baseline

                reference = latest_baseline(self.config.root, self.config.data.source)
                if reference is None:
                    self._warn(
                        model,
                        "no baseline snapshot yet: the gain over the baseline is not computed "
                        "(run the baseline first)",
                    )
            assert model.job is not None
            model.job.baseline = reference
            self.profiler = threading.Thread(
                target=self._profile_and_record,
                args=(model,),
                name="modelsnap-dask-profile",
                daemon=True,
            )
            self.profiler.start()
            return

    def _profile_and_record(self, model: _Model) -> None:
        snapshot, error = None, None
        try:
            snapshot = self._record(model)
        except ModelsnapError as exc:
            error = exc
        except Exception as exc:  # noqa: BLE001 - reported on the model, never a traceback
            error = RunFailed("crash", f"{type(exc).__name__}: {exc}", where=model.spec.name)
        self.inbox.put(("recorded", (model, snapshot, error)))

    def _record(self, model: _Model) -> Snapshot:
        from modelsnap.core.files import safe_name, tmp_dir
        from modelsnap.core.records import store
        from modelsnap.core.selection.constraints import check_constraints

        job, fitted = model.job, model.fitted
        assert job is not None and fitted is not None
        root = Path(job.root).resolve()
        final = fitted["final"]
        staging = tmp_dir(root) / f".tmp-{os.getpid()}-{secrets.token_hex(6)}"
        staging.mkdir()
        try:
            staged: dict[str, Path] = {}
            for name, filename in final["staged"].items():
                safe_name(str(filename), what="staged file name")
                if name not in fitted["files"]:
                    raise RunFailed(
                        "crash",
                        f"the Dask task returned no {name}",
                        where=f"model {job.name!r}",
                    )
                staged[name] = staging / str(filename)
                staged[name].write_bytes(fitted["files"][name])
            body = final["snapshot"]
            wire = {
                "root": str(root),
                "name": job.name,
                "kind": job.kind,
                "mode": "profile",
                "staging": str(staging),
                "settings": {
                    "latency_trials": job.latency_trials,
                    "latency_warmup": job.latency_warmup,
                    "batch_size": job.batch_size,
                    "threads": job.threads,
                },
                "expected": {
                    "dataset_sha256": body["data"]["dataset_sha256"],
                    "split_sha256": body["data"]["split_sha256"],
                    "artifact_sha256": fitted["sha256"]["artifact"],
                    "estimator": body["model"]["estimator"],
                },
            }
            outcome = runner._spawn_and_watch(
                job,
                staging,
                lambda event: (
                    self.inbox.put(("event", (model, event)))
                    if event.stage in ("latency", "batch")
                    else None
                ),
                lambda text: self.inbox.put(("warning", (model, text))),
                self.cancel,
                wire=wire,
                pool=self.workers,
            )
            if outcome.killed_for or outcome.final is None or outcome.final["type"] != "result":
                failure = runner._failure(job, outcome)
                if isinstance(failure, RunFailed) and failure.reason != "cancelled":
                    failure.message = f"{failure.message} (while profiling it here)"
                raise failure
            local = outcome.final["snapshot"]
            resources = {**body.get("resources", {}), **local["resources"]}
            peaks = [
                resources[k]
                for k in ("peak_memory_fit_mb", "peak_memory_predict_mb")
                if isinstance(resources.get(k), (int, float))
            ]
            if peaks:
                resources["peak_memory_mb"] = max(peaks)
            remote_environment = body.get("environment", {})
            remote_hardware = body.get("hardware", {})
            body["resources"] = resources
            body["environment"] = local["environment"]
            body["hardware"] = local["hardware"]
            body["origin"] = origin_table(
                self.scheduler, fitted, remote_environment, remote_hardware
            )
            primary = job.primary_metric or runner._default_primary(body)
            body.update(check_constraints(body, job.constraints, job.baseline, primary))
            self.inbox.put(("event", (model, ProgressEvent("save", 1.0, "recording"))))
            snapshot_id = store.write_snapshot(root, body, staged_files=staged)
            return store.read_snapshot(root, snapshot_id)
        finally:
            shutil.rmtree(staging, ignore_errors=True)


def origin_table(
    scheduler: str,
    fitted: dict[str, Any],
    remote_environment: dict[str, Any],
    remote_hardware: dict[str, Any],
) -> dict[str, Any]:
    """``[origin]``: where the fit ran, and with what (docs/snapshot-format.md)."""
    table: dict[str, Any] = {
        "executor": "dask",
        "scheduler": scheduler,
        "worker": str(fitted["worker"]),
        "host": str(fitted["host"]),
    }
    if remote_environment.get("python"):
        table["python"] = str(remote_environment["python"])
    if isinstance(remote_environment.get("packages"), dict):
        table["packages"] = dict(remote_environment["packages"])
    if isinstance(remote_hardware, dict) and remote_hardware:
        table["hardware"] = dict(remote_hardware)
    return table


def run_project_dask(config: Any, specs: list[Any], choice: Any, **kwargs: Any) -> list[Any]:
    """``jobs.run_project`` on a Dask cluster: the same outcomes, fits fanned out."""
    return DaskRun(
        config, specs, scheduler=choice.scheduler, scheduler_where=choice.where, **kwargs
    ).run()
