"""The parent side of a run: spawn the worker, stream its events, enforce limits, record the result.

The worker is started by a small reaper process (``reaper``) in a session of its own. On Linux
the reaper is a child subreaper, so every process the model starts -- joblib workers, a forked
child, even a daemon that double-forked out of the session -- stays under it for the whole run:
its memory counts against the ceiling, and a timeout, a memory ceiling, a cancel or the end of
the run freezes and kills all of it. Nothing the model started outlives the run. Elsewhere the
reaper becomes the worker itself and the process group plus polling of the tree do the job
(docs/profiler.md). Failures are classified for the user:

- ``timeout``   the wall-clock limit passed;
- ``memory``    the RSS of the worker's process tree went over the ceiling (or MemoryError);
- ``error``     the model raised: its own exception type and message are shown;
- ``crash``     the worker died from a signal (named) or exited without a result;
- ``cancelled`` the caller set its ``cancel`` event.

Nothing is written on failure: the staging folder is removed. On success the constraints are
checked (``constraints.check_constraints``) and the snapshot is written by ``store.write_snapshot``,
which moves the staged artifact and predictions in and writes the TOML last.

This module imports no pandas or scikit-learn: the heavy work happens in the worker.
"""

from __future__ import annotations

import base64
import collections
import contextlib
import json
import os
import pickle
import queue
import secrets
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from modelsnap.core import errors
from modelsnap.core.errors import ModelsnapError, RunFailed
from modelsnap.core.files import safe_name, tmp_dir
from modelsnap.profiler import events, reaper, warm
from modelsnap.profiler.events import ProgressEvent, ProtocolError

if TYPE_CHECKING:
    from modelsnap.core.records.shapes import Snapshot

DEFAULT_TIMEOUT_SECONDS = 600.0
DEFAULT_MEMORY_LIMIT_MB = 4096.0
POLL_SECONDS = 0.05
TERM_GRACE_SECONDS = 0.5
THREAD_ENV_VARS = (
    "OMP_NUM_THREADS",
    "OPENBLAS_NUM_THREADS",
    "MKL_NUM_THREADS",
    "VECLIB_MAXIMUM_THREADS",
    "NUMEXPR_NUM_THREADS",
    "BLIS_NUM_THREADS",
)
REASONS = ("timeout", "memory", "error", "crash", "cancelled")

EventCallback = Callable[[ProgressEvent], None]


@dataclass
class RunJob:
    """Everything the worker needs for one model; built by ``jobs`` (CLI/TUI) or ``modelsnap.api``.

    Exactly one of ``spec`` (from modelsnap.toml: estimator dotted path, params, grid),
    ``estimator`` (a live object from the Python API, fitted or not), ``reprofile_of``
    (an existing snapshot id) or ``mlflow_model`` (a fitted model downloaded from an MLflow
    tracking store, loaded only in the worker: ``profiler.mlflow_model``) says what to run.
    ``origin`` (where an imported model came from) is recorded as the snapshot's ``[origin]``.
    """

    root: Path
    name: str
    kind: str = "candidate"
    spec: dict[str, Any] | None = None
    estimator: Any = None
    reprofile_of: str | None = None
    version: str = "v1"
    notes: str = ""
    criteria_revision: int = 0
    timeout_seconds: float = DEFAULT_TIMEOUT_SECONDS
    memory_limit_mb: float = DEFAULT_MEMORY_LIMIT_MB
    latency_trials: int = 300
    latency_warmup: int = 20
    batch_size: int | None = None
    threads: int = 1
    constraints: dict[str, Any] = field(default_factory=dict)
    primary_metric: str | None = None
    baseline: dict[str, Any] | None = None
    trusted: list[str] = field(default_factory=list)
    mlflow_model: dict[str, Any] | None = None
    origin: dict[str, Any] | None = None

    @property
    def mode(self) -> str:
        if self.reprofile_of is not None:
            return "reprofile"
        if self.mlflow_model is not None:
            return "mlflow"
        return "python" if self.spec is None else "project"

    def validate(self) -> None:
        """Refuse impossible settings before anything is spawned."""
        where = f"model {self.name!r}"
        chosen = sum(
            x is not None for x in (self.spec, self.estimator, self.reprofile_of, self.mlflow_model)
        )
        if chosen != 1:
            raise ModelsnapError(
                "a run needs exactly one of spec, estimator, reprofile_of or mlflow_model",
                where=where,
            )
        if self.kind not in ("baseline", "candidate"):
            raise ModelsnapError(
                f"kind {self.kind!r} is not 'baseline' or 'candidate'", where=where
            )
        for label, value, minimum in (
            ("timeout", self.timeout_seconds, 0.0),
            ("memory limit", self.memory_limit_mb, 0.0),
        ):
            if not isinstance(value, (int, float)) or isinstance(value, bool) or value <= minimum:
                raise ModelsnapError(
                    f"{label} must be a number > 0, found {value!r}",
                    where=where,
                    hint="see [run] in docs/project-file.md",
                )
        for label, value, minimum in (
            ("latency trials", self.latency_trials, 1),
            ("latency warm-up", self.latency_warmup, 0),
            ("threads", self.threads, 1),
        ):
            if not isinstance(value, int) or isinstance(value, bool) or value < minimum:
                raise ModelsnapError(
                    f"{label} must be a whole number >= {minimum}, found {value!r}", where=where
                )
        if self.batch_size is not None and (
            not isinstance(self.batch_size, int)
            or isinstance(self.batch_size, bool)
            or self.batch_size < 1
        ):
            raise ModelsnapError(
                f"batch size must be a whole number >= 1, found {self.batch_size!r}", where=where
            )

    def to_wire(self, staging: Path) -> dict[str, Any]:
        """The JSON job the worker reads on stdin."""
        job: dict[str, Any] = {
            "root": str(Path(self.root).resolve()),
            "name": self.name,
            "kind": self.kind,
            "mode": self.mode,
            "version": self.version,
            "notes": self.notes,
            "criteria_revision": int(self.criteria_revision),
            "staging": str(staging),
            "settings": {
                "latency_trials": self.latency_trials,
                "latency_warmup": self.latency_warmup,
                "batch_size": self.batch_size,
                "threads": self.threads,
            },
        }
        if self.spec is not None:
            job["spec"] = self.spec
        if self.reprofile_of is not None:
            job["reprofile_of"] = self.reprofile_of
            job["trusted"] = list(self.trusted)
        if self.mlflow_model is not None:
            job["mlflow_model"] = dict(self.mlflow_model)
        if self.origin is not None:
            job["origin"] = dict(self.origin)
        if self.estimator is not None:
            try:
                payload = pickle.dumps(self.estimator, protocol=pickle.HIGHEST_PROTOCOL)
            except (pickle.PicklingError, TypeError, AttributeError) as exc:
                raise ModelsnapError(
                    f"the estimator cannot be sent to the worker process ({exc})",
                    where=f"model {self.name!r}",
                    hint="the estimator must be picklable (define its class in a module)",
                ) from None
            job["estimator_pickle"] = base64.b64encode(payload).decode("ascii")
            job["sys_path"] = [p for p in sys.path if p and Path(p).is_dir()]
        return job


# --------------------------------------------------------------------------- process handling


def _thread_env(threads: int) -> dict[str, str]:
    env = dict(os.environ)
    for name in THREAD_ENV_VARS:
        env[name] = str(threads)
    env["PYTHONUNBUFFERED"] = "1"
    env.pop("PYTHONSTARTUP", None)
    return env


def _signal_name(returncode: int) -> str:
    try:
        return signal.Signals(-returncode).name
    except ValueError:
        return f"signal {-returncode}"


class _Tree:
    """The run's processes: the reaper (``root``; on Linux), the worker and all they started.

    Processes seen while polling are remembered, so strays can be killed at the end even when
    the root is already gone.
    """

    def __init__(self, pid: int, *, reaper_root: bool = False) -> None:
        import psutil

        self._psutil = psutil
        self.root = psutil.Process(pid)
        self.known: dict[int, Any] = {pid: self.root}
        self._reaper_root = reaper_root  # a warm worker's root is always its forked reaper

    def rss_bytes(self) -> int:
        """Summed RSS of the worker's whole tree, re-parented daemons included.

        The reaper's own few MB are left out once the worker runs under it, so the ceiling
        applies to the model's processes as it did before there was a reaper.
        """
        psutil = self._psutil
        try:
            members = self._descendants()
            if not self._is_reaper():
                members.append(self.root)
        except psutil.Error:
            members = [proc for pid, proc in self.known.items() if pid != self.root.pid]
        total = 0
        for proc in members:
            self.known.setdefault(proc.pid, proc)
            with contextlib.suppress(psutil.Error):
                total += proc.memory_info().rss
        return total

    def _descendants(self) -> list[Any]:
        """The root's descendants. On Linux from ``/proc/<pid>/task/<tid>/children``: a few
        small reads per process of the run, where psutil reads the status of every process on
        the machine (about 4 ms of CPU per poll, 20 times a second, in the caller's process:
        the TUI's UI thread shares its interpreter lock). The kill path keeps psutil's full scan.
        """
        if not _PROC_CHILDREN:
            return self.root.children(recursive=True)
        found, todo = [], [self.root.pid]
        while todo:
            pid = todo.pop()
            try:
                tasks = os.listdir(f"/proc/{pid}/task")
            except OSError:
                continue
            for tid in tasks:
                try:
                    with open(f"/proc/{pid}/task/{tid}/children", "rb") as handle:
                        children = [int(x) for x in handle.read().split()]
                except (OSError, ValueError):
                    continue
                for child in children:
                    proc = self.known.get(child)
                    if proc is None:
                        try:
                            proc = self._psutil.Process(child)
                        except self._psutil.Error:
                            continue
                    found.append(proc)
                    todo.append(child)
        return found

    def _is_reaper(self) -> bool:
        """Whether the root is still the reaper (where there is no subreaper, it ``exec``s the
        worker and is then counted)."""
        if self._reaper_root:
            return True
        try:
            return reaper.REAPER_MODULE in self.root.cmdline()
        except self._psutil.Error:
            return False

    def kill_all(self) -> None:
        """Freeze and SIGKILL every process under the root, then the root and every remembered
        process still alive (psutil checks a pid was not reused)."""
        psutil = self._psutil
        for pid in reaper.kill_tree(self.root):
            self.known.setdefault(pid, None)
        for proc in [self.root, *self.known.values()]:
            if proc is None:
                continue
            with contextlib.suppress(psutil.Error):
                if proc.is_running():
                    proc.kill()


def _kill_group(proc: subprocess.Popen | warm.WarmProcess, tree: _Tree, grace: float) -> None:
    """SIGTERM the run's process group, then, after ``grace`` seconds, freeze and SIGKILL
    everything under the reaper, the group, and any stray seen during the run."""
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(proc.pid, signal.SIGTERM)
    deadline = time.monotonic() + grace
    while proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.01)
    tree.kill_all()
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(proc.pid, signal.SIGKILL)
    with contextlib.suppress(subprocess.TimeoutExpired):
        proc.wait(timeout=5)


def _start_worker(
    job: RunJob, pool: warm.WorkerPool | None, cancel: threading.Event | None
) -> subprocess.Popen | warm.WarmProcess | None:
    """The model's worker: forked from the run's template (``warm``), or, where that is not
    available, a fresh interpreter started through the reaper. None when cancelled meanwhile."""
    if cancel is not None and cancel.is_set():
        return None  # a quit or Escape came first: start nothing (a closed pool would go cold)
    env = _thread_env(job.threads)
    if pool is not None:
        forked = pool.spawn(
            job.root,
            env,
            stop=lambda: cancel is not None and cancel.is_set(),
            timeout=job.timeout_seconds,
        )
        if forked is False:
            return None
        if forked is not None:
            return forked
    return subprocess.Popen(
        reaper.python_argv(reaper.REAPER_MODULE),
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        cwd=str(job.root),
        env=env,
        start_new_session=True,
    )


def prestart_worker(job: RunJob, pool: warm.WorkerPool) -> None:
    """Have ``pool`` start the template ``job``'s worker will be forked from (its imports take
    seconds): for a caller that will ask for the worker later and waits meanwhile."""
    prestart_template(job.root, job.threads, pool)


def prestart_template(root: Path, threads: int, pool: warm.WorkerPool) -> None:
    """``prestart_worker`` for any job of ``root`` run with ``threads`` threads (the template
    depends on the environment only, not on the model)."""
    pool.prestart(root, _thread_env(threads))


_PROC_CHILDREN = os.path.exists(f"/proc/{os.getpid()}/task/{os.getpid()}/children")
_FINAL: dict[str, Any] = {"type": "final"}  # the reader's wake-up call after the last message


class _Reader(threading.Thread):
    """Reads the worker's stdout protocol into a queue (events) and keeps the final message."""

    def __init__(self, stream: Any, inbox: queue.Queue) -> None:
        super().__init__(name="modelsnap-worker-reader", daemon=True)
        self._stream = stream
        self._inbox = inbox
        self.final: dict[str, Any] | None = None
        self.protocol_error: ProtocolError | None = None

    def run(self) -> None:
        for raw in self._stream:
            try:
                message = events.decode(raw)
            except ProtocolError as exc:
                self.protocol_error = self.protocol_error or exc
                continue
            if message["type"] in ("result", "error"):
                self.final = message
                self._inbox.put(_FINAL)  # wakes the runner at once
            else:
                self._inbox.put(message)


class _Tail(threading.Thread):
    """Drains the worker's stderr (so it never blocks) and keeps the last lines for messages."""

    def __init__(self, stream: Any, lines: int = 40) -> None:
        super().__init__(name="modelsnap-worker-stderr", daemon=True)
        self._stream = stream
        self.lines: collections.deque[str] = collections.deque(maxlen=lines)

    def run(self) -> None:
        for raw in self._stream:
            self.lines.append(raw.decode("utf-8", "replace").rstrip())

    def text(self, lines: int = 8) -> str:
        return "\n".join(list(self.lines)[-lines:])


def _feed(stdin: Any, data: bytes) -> None:
    with contextlib.suppress(BrokenPipeError, OSError):
        stdin.write(data)
    with contextlib.suppress(BrokenPipeError, OSError):
        stdin.close()


@dataclass
class _Outcome:
    final: dict[str, Any] | None
    returncode: int | None
    killed_for: str | None
    detail: str
    stderr: str
    protocol_error: ProtocolError | None


def _deliver(
    message: dict[str, Any],
    on_event: EventCallback | None,
    on_item: Callable[[dict[str, Any]], None] | None,
    on_warning: Callable[[str], None] | None,
) -> None:
    """One message from the worker to the callback that wants it."""
    if message is _FINAL:
        return
    if message["type"] == "progress":
        if on_event is not None:
            on_event(ProgressEvent.from_dict(message))
    elif message["type"] == "item":
        if on_item is not None:
            on_item(message)
    elif on_warning is not None:
        on_warning(message["message"])


def _drain(
    inbox: queue.Queue, deliver: Callable[[dict[str, Any]], None], *, wait: float = 0.0
) -> None:
    """Deliver what the worker said so far, waiting up to ``wait`` seconds for the first."""
    try:
        message = inbox.get(timeout=wait) if wait else inbox.get_nowait()
    except queue.Empty:
        return
    while True:
        deliver(message)
        try:
            message = inbox.get_nowait()
        except queue.Empty:
            return


def _over_a_limit(
    job: RunJob, cancel: threading.Event | None, started: float, tree: _Tree
) -> tuple[str | None, str]:
    """Why the worker must be stopped now (cancelled, timeout, memory) and the words for it;
    (None, "") while it may go on."""
    if cancel is not None and cancel.is_set():
        return "cancelled", "cancelled by the caller"
    if time.monotonic() - started > job.timeout_seconds:
        return "timeout", f"still running after {job.timeout_seconds:g} s (the timeout)"
    rss = tree.rss_bytes()
    if rss > job.memory_limit_mb * 2**20:
        return "memory", (
            f"used {rss / 2**20:,.0f} MB, over the memory limit of {job.memory_limit_mb:g} MB"
        )
    return None, ""


def _spawn_and_watch(
    job: RunJob,
    staging: Path,
    on_event: EventCallback | None,
    on_warning: Callable[[str], None] | None,
    cancel: threading.Event | None,
    *,
    wire: dict[str, Any] | None = None,
    on_item: Callable[[dict[str, Any]], None] | None = None,
    pool: warm.WorkerPool | None = None,
) -> _Outcome:
    wire = job.to_wire(staging) if wire is None else wire
    payload = (json.dumps(wire) + "\n").encode("utf-8")
    proc = _start_worker(job, pool, cancel)
    if proc is None:
        return _Outcome(None, None, "cancelled", "cancelled by the caller", "", None)
    tree = _Tree(proc.pid, reaper_root=isinstance(proc, warm.WarmProcess))
    inbox: queue.Queue = queue.Queue()
    reader, tail = _Reader(proc.stdout, inbox), _Tail(proc.stderr)
    writer = threading.Thread(target=_feed, args=(proc.stdin, payload), daemon=True)
    for thread in (reader, tail, writer):
        thread.start()
    started = time.monotonic()
    killed_for: str | None = None
    detail = ""

    def deliver(message: dict[str, Any]) -> None:
        _deliver(message, on_event, on_item, on_warning)

    try:
        while proc.poll() is None:
            _drain(inbox, deliver, wait=POLL_SECONDS)
            if reader.final is not None:
                break  # the worker's last word: what it still does is exit (killed below)
            killed_for, detail = _over_a_limit(job, cancel, started, tree)
            if killed_for is not None:
                break
    finally:
        # The worker is gone or must go; either way nothing it started may outlive the run.
        _kill_group(proc, tree, 0.0 if killed_for == "memory" else TERM_GRACE_SECONDS)
        reader.join(timeout=5)
        tail.join(timeout=5)
        writer.join(timeout=1)
    _drain(inbox, deliver)
    return _Outcome(
        final=reader.final,
        returncode=proc.returncode,
        killed_for=killed_for,
        detail=detail,
        stderr=tail.text(),
        protocol_error=reader.protocol_error,
    )


def _failure(job: RunJob, outcome: _Outcome) -> ModelsnapError:
    """Turn what happened into the error the user sees: which model, what, and how to fix it."""
    where = f"model {job.name!r}"
    if outcome.killed_for == "timeout":
        return RunFailed(
            "timeout",
            outcome.detail,
            where=where,
            hint="raise it with --timeout or timeout_seconds in modelsnap.toml "
            "([run] or the model's own table)",
        )
    if outcome.killed_for == "memory":
        return RunFailed(
            "memory",
            outcome.detail,
            where=where,
            hint="raise it with --memory-limit or memory_limit_mb in modelsnap.toml",
        )
    if outcome.killed_for == "cancelled":
        return RunFailed("cancelled", "cancelled; nothing was written", where=where)
    final = outcome.final
    if final is not None and final["type"] == "error":
        return _error_from_worker(job, final)
    if outcome.returncode is not None and outcome.returncode < 0:
        name = _signal_name(outcome.returncode)
        extra = (
            " (SIGKILL from outside the run is often the system's out-of-memory killer)"
            if name == "SIGKILL"
            else ""
        )
        return RunFailed(
            "crash",
            f"the worker process was killed by {name}{extra}",
            where=where,
            hint=_stderr_hint(outcome.stderr),
        )
    if outcome.protocol_error is not None:
        return RunFailed(
            "crash",
            f"the worker's output was unreadable: {outcome.protocol_error.message}",
            where=where,
            hint=_stderr_hint(outcome.stderr),
        )
    return RunFailed(
        "crash",
        f"the worker exited with code {outcome.returncode} without a result",
        where=where,
        hint=_stderr_hint(outcome.stderr),
    )


def _stderr_hint(text: str) -> str | None:
    return f"the worker's last output:\n{text}" if text.strip() else None


def _error_from_worker(job: RunJob, final: dict[str, Any]) -> ModelsnapError:
    """Re-raise the worker's own error: a modelsnap error keeps its class (and exit code)."""
    error_type, message = final["error_type"], final["message"]
    where = final.get("where") or f"model {job.name!r}"
    hint = final.get("hint")
    cls = getattr(errors, error_type, None)
    if (
        final.get("modelsnap")
        and isinstance(cls, type)
        and issubclass(cls, ModelsnapError)
        and cls is not RunFailed
    ):
        error = cls(message, where=where, hint=hint)
        return error
    if error_type == "MemoryError":
        return RunFailed(
            "memory",
            f"the model ran out of memory (MemoryError) during {final.get('stage', 'the run')}",
            where=f"model {job.name!r}",
            hint="raise memory_limit_mb or use less data",
        )
    stage = final.get("stage", "the run")
    text = message if final.get("modelsnap") else f"{error_type}: {message}"
    return RunFailed(
        "error", f"failed during {stage}: {text}", where=f"model {job.name!r}", hint=hint
    )


def _staged_files(staging: Path, staged: dict[str, str]) -> dict[str, Path]:
    files = {}
    for key, name in staged.items():
        safe_name(name, what="staged file name")
        files[key] = staging / name
    return files


def run_model(
    job: RunJob,
    *,
    on_event: EventCallback | None = None,
    on_warning: Callable[[str], None] | None = None,
    cancel: threading.Event | None = None,
    pool: warm.WorkerPool | None = None,
) -> Snapshot:
    """Fit/evaluate/profile one model in a worker and record it; returns the written snapshot.

    ``on_event`` receives each ``ProgressEvent`` in the calling thread; ``on_warning`` each
    warning text (e.g. "no predict_proba"). Raises ``RunFailed`` (``reason`` in REASONS) when
    the run failed, or the worker's own ``ModelsnapError`` subclass for bad project or data
    (e.g. ``DataError``). Nothing is written in either case. ``pool`` is the run's
    ``warm.WorkerPool`` (the worker is forked from its template); without one, a pool for this
    model alone is started and closed.
    """
    from modelsnap.core.records import store
    from modelsnap.core.selection.constraints import check_constraints

    job.validate()
    root = Path(job.root).resolve()
    job.root = root  # the worker runs with cwd=root: every path it gets must be absolute
    if not root.is_dir():
        raise ModelsnapError("project folder not found", where=str(root))
    staging = tmp_dir(root) / f".tmp-{os.getpid()}-{secrets.token_hex(6)}"
    staging.mkdir()
    try:
        with warm.pool_for(pool) as workers:
            outcome = _spawn_and_watch(job, staging, on_event, on_warning, cancel, pool=workers)
        final = outcome.final
        if outcome.killed_for or final is None or final["type"] != "result":
            raise _failure(job, outcome)
        snapshot = final["snapshot"]
        primary = job.primary_metric or _default_primary(snapshot)
        snapshot.update(check_constraints(snapshot, job.constraints, job.baseline, primary))
        snapshot_id = store.write_snapshot(
            root, snapshot, staged_files=_staged_files(staging, final["staged"])
        )
        return store.read_snapshot(root, snapshot_id)
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def run_edge_job(
    root: Path,
    snapshots: list[dict[str, Any]],
    edge_file: str,
    *,
    timeout_seconds: float = DEFAULT_TIMEOUT_SECONDS,
    memory_limit_mb: float = DEFAULT_MEMORY_LIMIT_MB,
    threads: int = 1,
    trusted: list[str] | None = None,
    edge_sha256: str | None = None,
    on_event: EventCallback | None = None,
    pool: warm.WorkerPool | None = None,
) -> dict[str, dict[str, Any]]:
    """Run the edge-case file over snapshots' artifacts in worker processes; nothing is written.

    ``snapshots`` are ``{"id", "artifact", "artifact_sha256"}``. Returns snapshot id -> the
    ``edgecases.run_cases`` result, or ``{"error": message}`` when that artifact could not be
    loaded or scored. The artifacts are loaded only in the worker: if one takes the worker down
    (a crash, the timeout or the memory ceiling), that snapshot gets the error and a fresh
    worker goes on with the rest. ``edge_sha256`` (the file's hash as the caller read it) makes
    the worker refuse a file that changed in between.
    """
    with warm.pool_for(pool) as workers:
        return _edge_rounds(
            Path(root).resolve(),
            snapshots,
            edge_file,
            timeout_seconds=timeout_seconds,
            memory_limit_mb=memory_limit_mb,
            threads=threads,
            trusted=trusted,
            edge_sha256=edge_sha256,
            on_event=on_event,
            pool=workers,
        )


def _edge_rounds(
    root: Path,
    snapshots: list[dict[str, Any]],
    edge_file: str,
    *,
    timeout_seconds: float,
    memory_limit_mb: float,
    threads: int,
    trusted: list[str] | None,
    edge_sha256: str | None,
    on_event: EventCallback | None,
    pool: warm.WorkerPool,
) -> dict[str, dict[str, Any]]:
    """``run_edge_job``'s rounds: a fresh worker for the snapshots left after a failure."""
    results: dict[str, dict[str, Any]] = {}
    remaining = list(snapshots)
    while remaining:
        job = RunJob(
            root=root,
            name="edge cases",
            spec={},
            timeout_seconds=timeout_seconds * len(remaining),
            memory_limit_mb=memory_limit_mb,
            threads=threads,
        )
        job.validate()
        wire = {
            "root": str(root),
            "name": job.name,
            "kind": "candidate",
            "mode": "edge",
            "staging": "",
            "edge_file": edge_file,
            "edge_sha256": edge_sha256,
            "snapshots": remaining,
            "trusted": list(trusted or []),
            "settings": {"threads": threads},
        }
        done: dict[str, dict[str, Any]] = {}

        def collect(message: dict[str, Any], done: dict[str, dict[str, Any]] = done) -> None:
            done[message["id"]] = message["result"]

        outcome = _spawn_and_watch(
            job, Path(), on_event, None, None, wire=wire, on_item=collect, pool=pool
        )
        results.update(done)
        remaining = [entry for entry in remaining if entry["id"] not in results]
        final = outcome.final
        if not remaining:
            break
        if (
            outcome.killed_for is None
            and final is not None
            and final["type"] == "error"
            and (not done)
            and final.get("stage") == "load"
        ):
            raise _error_from_worker(job, final)  # the project or edge file, not a model
        failed = remaining.pop(0)
        error = _failure(job, outcome) if final is None or final["type"] != "result" else None
        text = error.message if error is not None else "the worker ended without its result"
        results[failed["id"]] = {"error": f"{text} (while loading or scoring this model)"}
    return results


def run_scoring_job(
    root: Path,
    mode: str,
    payload: dict[str, Any],
    *,
    timeout_seconds: float = DEFAULT_TIMEOUT_SECONDS,
    memory_limit_mb: float = DEFAULT_MEMORY_LIMIT_MB,
    threads: int = 1,
    trusted: list[str] | None = None,
    name: str = "scoring",
    on_event: EventCallback | None = None,
    pool: warm.WorkerPool | None = None,
) -> tuple[dict[str, dict[str, Any]], dict[str, Any]]:
    """Score snapshots' artifacts in one worker process (``predict`` and ``monitor`` modes).

    ``payload`` is merged into the job (it names the snapshots' artifacts and the rows or the
    data file). Returns (the ``item`` messages by id, the final result body). The artifacts are
    loaded only in the worker, hash- and type-checked. Nothing is written. Raises the worker's
    own ``ModelsnapError`` (a bad project, data file or rows) or ``RunFailed`` (timeout, memory,
    crash); a model that cannot be loaded or scored is an item with ``error``.
    """
    root = Path(root).resolve()
    job = RunJob(
        root=root,
        name=name,
        spec={},
        timeout_seconds=timeout_seconds,
        memory_limit_mb=memory_limit_mb,
        threads=threads,
    )
    job.validate()
    wire = {
        "root": str(root),
        "name": name,
        "kind": "candidate",
        "mode": mode,
        "staging": "",
        "trusted": list(trusted or []),
        "settings": {"threads": threads},
        **payload,
    }
    items: dict[str, dict[str, Any]] = {}

    def collect(message: dict[str, Any]) -> None:
        items[str(message["id"])] = message["result"]

    with warm.pool_for(pool) as workers:
        outcome = _spawn_and_watch(
            job, Path(), on_event, None, None, wire=wire, on_item=collect, pool=workers
        )
    final = outcome.final
    if outcome.killed_for or final is None or final["type"] != "result":
        raise _failure(job, outcome)
    return items, final.get("snapshot") or {}


def _default_primary(snapshot: dict[str, Any]) -> str:
    task = snapshot.get("data", {}).get("task")
    return "r2" if task == "regression" else "f1"
