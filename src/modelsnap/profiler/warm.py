"""Warm workers: a template process that has imported the heavy libraries forks each model's worker.

Starting a fresh interpreter and importing numpy, pandas, scikit-learn and skops costs about
1.5 s on two cores, once per model. A run (``modelsnap run``, one batch of runs in the TUI, one
API call) instead starts one *template* (``python -P -m modelsnap.profiler.warm``) that imports
those libraries and then only forks. For every model the runner asks it for a fresh child:

    runner ──socket──> template (imports done; never runs a model, never reads the project)
                         └─ fork: the model's reaper (own session, child subreaper)
                               └─ fork: the worker (``worker.main``: the run path of one model)

The forked reaper does what ``reaper.main`` does for a cold worker: it leads a session of its
own (so the runner's process-group kill reaches everything in it), is the child subreaper of
everything the model starts (daemons included), kills what is left when the worker ends and
exits the way the worker did. The worker is a copy of the template taken before any model ran,
so nothing of one model's state (module globals, imported project modules, ``sys.path``,
environment, random state, open files) can reach the next: each model runs in its own child,
which ends with it. The project folder is never on ``sys.path`` (the template runs with ``-P``),
exactly as for a cold worker.

The runner talks to the template over a Unix socket pair: one packet per request, carrying the
child's working directory and environment as JSON and four file descriptors (the worker's
stdin, stdout and stderr, and a status pipe). The template writes ``pid N`` to the status pipe
once it forked, and ``exit N`` (the ``returncode`` convention of ``subprocess``: negative for a
signal) when the child ended. ``WarmProcess`` wraps this as the small part of ``Popen`` the
runner uses, so timeouts, the memory ceiling, cancel and the tree kill work unchanged.

The template dies with its parent: it ends when its end of the socket reaches EOF (the runner
closed the pool or died) or its parent pid changes, and then kills every child and everything
under them. Each forked reaper likewise watches the template. ``WorkerPool`` is a context
manager; the run path closes it in a ``finally``, so a cancelled or failed run never leaves a
template behind.

Where ``fork`` and the child subreaper are not available (not Linux), or when
``MODELSNAP_COLD_WORKERS=1`` is set (the benchmark uses it to measure the old path), the runner
starts a fresh interpreter per model as before (``reaper.main``).
"""

from __future__ import annotations

import contextlib
import json
import os
import select
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, Literal

from modelsnap.profiler import reaper

TEMPLATE_MODULE = "modelsnap.profiler.warm"
COLD_ENV = "MODELSNAP_COLD_WORKERS"
READY = b"ready"
START_TIMEOUT_SECONDS = 300.0
CHILD_SETUP_FAILED = 70  # EX_SOFTWARE: the forked child could not become a reaper

# What the template imports once. Every worker needs the first group; the estimator families
# are the ones the TUI offers (and the sample project uses). A module that fails to import is
# skipped: the worker then imports it itself (and reports the failure as a cold worker would).
PRELOAD = (
    "numpy",
    "pandas",
    "psutil",
    "threadpoolctl",
    "skops.io",
    "sklearn.base",
    "sklearn.pipeline",
    "sklearn.compose",
    "sklearn.preprocessing",
    "sklearn.impute",
    "sklearn.metrics",
    "sklearn.inspection",
    "sklearn.model_selection",
    "sklearn.linear_model",
    "sklearn.ensemble",
    "sklearn.tree",
    "sklearn.svm",
    "sklearn.neighbors",
    "sklearn.neural_network",
    "sklearn.naive_bayes",
    "sklearn.dummy",
    "modelsnap.profiler.worker",
    "modelsnap.profiler.scoring",
    "modelsnap.core.evaluation.data",
    "modelsnap.core.evaluation.pipeline",
    "modelsnap.core.evaluation.metrics",
    "modelsnap.core.evaluation.analysis",
    "modelsnap.core.evaluation.artifacts",
    "modelsnap.core.evaluation.environment",
    "modelsnap.core.evaluation.edgecases",
    "modelsnap.core.followup.monitoring",
)


def warm_available() -> bool:
    """Whether runs fork from a template here: Linux (fork + child subreaper), not switched off."""
    if os.environ.get(COLD_ENV, "").strip() not in ("", "0"):
        return False
    return sys.platform.startswith("linux") and hasattr(socket, "send_fds")


# --------------------------------------------------------------------------- the parent side


class TemplateFailed(Exception):
    """The template could not be started or stopped answering; the runner goes cold instead."""


class WarmProcess:
    """A worker forked by the template, seen by the runner like a ``subprocess.Popen``.

    ``pid`` is the model's reaper (the leader of the run's process group and session);
    ``stdin``/``stdout``/``stderr`` are the worker's pipes; ``poll``/``wait``/``returncode``
    follow ``Popen``: the reaper exits the way the worker did, and the template reports it.
    """

    def __init__(
        self, pid: int, stdin: Any, stdout: Any, stderr: Any, status_fd: int, rest: bytes = b""
    ) -> None:
        self.pid = pid
        self.stdin, self.stdout, self.stderr = stdin, stdout, stderr
        self.returncode: int | None = None
        self._status_fd = status_fd
        self._buffer = rest

    def _read_status(self, timeout: float | None) -> None:
        if self.returncode is not None:
            return
        ready, _, _ = select.select([self._status_fd], [], [], timeout)
        if not ready:
            return
        chunk = os.read(self._status_fd, 256)
        self._buffer += chunk
        for line in self._buffer.split(b"\n"):
            if line.startswith(b"exit "):
                self.returncode = int(line.split()[1])
        if not chunk and self.returncode is None:
            # The template is gone without saying how the child ended; its child was killed
            # with it (the reaper watches the template).
            self.returncode = -signal.SIGKILL
        if self.returncode is not None:
            with contextlib.suppress(OSError):
                os.close(self._status_fd)

    def poll(self) -> int | None:
        self._read_status(0)
        return self.returncode

    def wait(self, timeout: float | None = None) -> int:
        deadline = None if timeout is None else time.monotonic() + timeout
        while self.returncode is None:
            left = None if deadline is None else deadline - time.monotonic()
            if left is not None and left <= 0:
                raise subprocess.TimeoutExpired("modelsnap worker", timeout or 0.0)
            self._read_status(left if left is None else max(left, 0.0))
        return self.returncode


class Template:
    """One template process (for one environment: thread settings and the rest of os.environ)."""

    def __init__(self, env: dict[str, str], cwd: Path) -> None:
        self.env = env
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        self._sock = ours
        self._lock = threading.Lock()
        try:
            self.proc = subprocess.Popen(
                [*reaper.python_argv(TEMPLATE_MODULE), str(theirs.fileno())],
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.PIPE,
                pass_fds=(theirs.fileno(),),
                cwd=str(cwd),
                env=env,
                start_new_session=True,
            )
        finally:
            theirs.close()
        self.stderr_lines: list[str] = []
        self._tail = threading.Thread(
            target=self._drain, name="modelsnap-template-stderr", daemon=True
        )
        self._tail.start()
        self.ready = False

    @property
    def pid(self) -> int:
        return self.proc.pid

    def _drain(self) -> None:
        assert self.proc.stderr is not None  # started with stderr=PIPE
        for raw in self.proc.stderr:
            self.stderr_lines = [*self.stderr_lines[-39:], raw.decode("utf-8", "replace").rstrip()]

    def wait_ready(self, *, timeout: float, stop: Callable[[], bool]) -> bool:
        """Wait for the template's imports; False when ``stop()`` said so first (cancel).

        Several threads may wait at once (the tasks of one Dask worker): the one message is
        taken without blocking, so a thread that finds it gone looks at ``ready`` again
        instead of waiting for a second message that never comes."""
        deadline = time.monotonic() + timeout
        while not self.ready:
            if stop():
                return False
            if time.monotonic() > deadline:
                raise TemplateFailed(f"the worker template took over {timeout:g} s to start")
            ready, _, _ = select.select([self._sock], [], [], 0.05)
            if ready:
                try:
                    message = self._sock.recv(64, socket.MSG_DONTWAIT)
                except BlockingIOError:
                    continue  # another waiting thread took it
                if message != READY:
                    raise TemplateFailed(
                        "the worker template ended while starting"
                        + (f": {self.stderr_lines[-1]}" if self.stderr_lines else "")
                    )
                self.ready = True
        return True

    def spawn(self, cwd: Path, env: dict[str, str]) -> WarmProcess:
        """Fork a fresh reaper + worker for one model; the pipes are the caller's."""
        stdin_r, stdin_w = os.pipe()
        stdout_r, stdout_w = os.pipe()
        stderr_r, stderr_w = os.pipe()
        status_r, status_w = os.pipe()
        request = json.dumps({"cwd": str(cwd), "env": env}).encode("utf-8")
        try:
            with self._lock:
                socket.send_fds(self._sock, [request], [stdin_r, stdout_w, stderr_w, status_w])
        except OSError as exc:
            for fd in (stdin_r, stdin_w, stdout_r, stdout_w, stderr_r, stderr_w, status_r):
                os.close(fd)
            raise TemplateFailed(f"the worker template is gone ({exc})") from None
        finally:
            for fd in (stdin_r, stdout_w, stderr_w, status_w):
                with contextlib.suppress(OSError):
                    os.close(fd)
        pid, rest = _read_pid(status_r)
        if pid is None:
            for fd in (stdin_w, stdout_r, stderr_r, status_r):
                os.close(fd)
            raise TemplateFailed("the worker template did not fork a worker")
        return WarmProcess(
            pid,
            os.fdopen(stdin_w, "wb"),
            os.fdopen(stdout_r, "rb"),
            os.fdopen(stderr_r, "rb"),
            status_r,
            rest,
        )

    def close(self) -> None:
        """Stop the template; it kills every child it forked and everything under them."""
        with contextlib.suppress(OSError):
            self._sock.close()
        if not self.ready:  # still importing: it has no child yet, and nothing to finish
            self.proc.kill()
        try:
            self.proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            import psutil

            with contextlib.suppress(psutil.Error):
                reaper.kill_tree(psutil.Process(self.proc.pid))
            self.proc.kill()
            self.proc.wait(timeout=5)
        self._tail.join(timeout=1)


def _read_pid(fd: int, timeout: float = 30.0) -> tuple[int | None, bytes]:
    """The ``pid N`` line the template writes to the status pipe right after the fork, and
    whatever followed it (the ``exit`` line of a child that ended at once)."""
    data = b""
    deadline = time.monotonic() + timeout
    while b"\n" not in data:
        left = deadline - time.monotonic()
        if left <= 0 or not select.select([fd], [], [], left)[0]:
            return None, b""
        chunk = os.read(fd, 64)
        if not chunk:
            return None, b""
        data += chunk
    line, _, rest = data.partition(b"\n")
    if not line.startswith(b"pid "):
        return None, b""
    return int(line.split()[1]), rest


class WorkerPool:
    """The templates of one run (usually one: every model of a run has the same environment).

    ``spawn(cwd, env, ...)`` returns a ``WarmProcess``, or None when warm workers are not
    available here (the caller starts a cold worker then). A template that fails to start is
    not retried: the rest of the run goes cold. ``close()`` (or leaving the ``with`` block)
    stops every template and everything under it.
    """

    def __init__(self) -> None:
        self._templates: dict[tuple[tuple[str, str], ...], Template] = {}
        self._broken = False
        self._lock = threading.Lock()
        self._closed = False

    def __enter__(self) -> WorkerPool:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @property
    def pids(self) -> list[int]:
        """The template processes now running (for tests and diagnostics)."""
        return [t.pid for t in self._templates.values()]

    def spawn(
        self,
        cwd: Path,
        env: dict[str, str],
        *,
        stop: Callable[[], bool] = lambda: False,
        timeout: float = START_TIMEOUT_SECONDS,
    ) -> WarmProcess | Literal[False] | None:
        """A forked worker; None to go cold; False when ``stop()`` became true while waiting."""
        if self._closed or self._broken or not warm_available():
            return None
        key = tuple(sorted(env.items()))
        with self._lock:
            template = self._templates.get(key)
            if template is None:
                template = self._templates[key] = Template(env, cwd)
        try:
            if not template.wait_ready(timeout=timeout, stop=stop):
                return False
            return template.spawn(cwd, env)
        except TemplateFailed:
            self._broken = True
            with self._lock:
                self._templates.pop(key, None)
            template.close()
            return None

    def prestart(self, cwd: Path, env: dict[str, str]) -> None:
        """Start the template for ``env`` now, without waiting for its imports, so that the
        first fork from it does not wait either: for a caller with seconds to spare (a Dask run
        waiting for its fits). Nothing when one is there, or warm workers are not available."""
        if self._closed or self._broken or not warm_available():
            return
        key = tuple(sorted(env.items()))
        with self._lock:
            if key not in self._templates:
                try:
                    self._templates[key] = Template(env, cwd)
                except OSError:
                    self._broken = True  # the runner then starts cold workers, as it would

    def close(self) -> None:
        self._closed = True
        with self._lock:
            templates, self._templates = list(self._templates.values()), {}
        for template in templates:
            template.close()


@contextlib.contextmanager
def pool_for(pool: WorkerPool | None) -> Iterator[WorkerPool]:
    """``pool`` itself, or a pool of one run that is closed when the block ends."""
    if pool is not None:
        yield pool
        return
    with WorkerPool() as own:
        yield own


# --------------------------------------------------------------------------- the template side


def _preload() -> None:
    import importlib

    for name in PRELOAD:
        with contextlib.suppress(Exception):
            importlib.import_module(name)
    # Which installed distribution provides which module: a scan of every installed package
    # (0.1-0.4 s) that each worker's [environment] table would otherwise repeat. It describes
    # the installation the template imported from, the same for every model of the run.
    with contextlib.suppress(Exception):
        from modelsnap.core.evaluation import environment

        environment.package_versions(("sklearn",))


def serve(sock: socket.socket, parent: int) -> None:
    """The template's loop: fork a child per request, report its end, stop with the parent."""
    if os.getppid() != parent:
        return  # the runner died while we were importing
    reaper.become_subreaper()  # an orphan of a killed model reaper stays ours, to be killed
    wake_r, wake_w = os.pipe()
    os.set_blocking(wake_w, False)
    signal.signal(signal.SIGCHLD, lambda *_: None)
    signal.set_wakeup_fd(wake_w)
    signal.signal(signal.SIGTERM, lambda *_: None)  # a group SIGTERM is for the workers
    children: dict[int, int] = {}  # reaper pid -> status pipe
    try:
        sock.send(READY)
    except OSError:
        return  # the pool was closed while we were importing
    try:
        while os.getppid() == parent:
            readers: list[socket.socket | int] = [sock, wake_r]
            ready, _, _ = select.select(readers, [], [], 0.25)
            if wake_r in ready:
                with contextlib.suppress(BlockingIOError, OSError):
                    os.read(wake_r, 512)
            _report_ended(children)
            if sock in ready:
                try:
                    message, fds, _flags, _addr = socket.recv_fds(sock, 1 << 20, 4)
                except OSError:
                    break
                if not message:
                    break  # the runner closed the pool, or died
                _fork_child(message, fds, sock, children, (wake_r, wake_w))
    finally:
        _stop_all(children)


def _report_ended(children: dict[int, int]) -> None:
    """Reap ended children (and adopted orphans) and tell the runner how each child ended."""
    while True:
        try:
            pid, status = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            return
        fd = children.pop(pid, None)
        if fd is not None:
            with contextlib.suppress(OSError):
                os.write(fd, f"exit {os.waitstatus_to_exitcode(status)}\n".encode())
            with contextlib.suppress(OSError):
                os.close(fd)


def _stop_all(children: dict[int, int]) -> None:
    """Kill every child and everything under it (also orphans re-parented to us), then go."""
    import psutil

    with contextlib.suppress(psutil.Error):
        reaper.kill_tree(psutil.Process())
    with contextlib.suppress(ChildProcessError):
        while os.waitpid(-1, os.WNOHANG)[0] > 0:
            pass
    for fd in children.values():
        with contextlib.suppress(OSError):
            os.write(fd, f"exit {-signal.SIGKILL}\n".encode())
            os.close(fd)


def _fork_child(
    message: bytes,
    fds: list[int],
    sock: socket.socket,
    children: dict[int, int],
    own: tuple[int, int],
) -> None:
    if len(fds) != 4:
        for fd in fds:
            os.close(fd)
        return
    request = json.loads(message)
    status_fd = fds[3]
    pid = os.fork()
    if pid == 0:
        _child(request, fds, [sock.fileno(), *own, *children.values()])
    for fd in fds[:3]:
        os.close(fd)
    children[pid] = status_fd
    with contextlib.suppress(OSError):
        os.write(status_fd, f"pid {pid}\n".encode())


def _child(request: dict[str, Any], fds: list[int], close: list[int]) -> None:
    """The model's reaper (in the forked child); never returns."""
    try:
        os.setsid()
        template = os.getppid()
        signal.set_wakeup_fd(-1)
        signal.signal(signal.SIGCHLD, signal.SIG_DFL)
        signal.signal(signal.SIGTERM, reaper._ignore)
        stdin, stdout, stderr, status = fds
        for fd in (*close, status):
            with contextlib.suppress(OSError):
                os.close(fd)
        for fd, target in ((stdin, 0), (stdout, 1), (stderr, 2)):
            os.dup2(fd, target)
            os.close(fd)
        if not reaper.become_subreaper():
            os.write(2, b"modelsnap: the worker could not become a child subreaper\n")
            os._exit(CHILD_SETUP_FAILED)
        os.chdir(request["cwd"])
        os.environ.clear()
        os.environ.update(request["env"])
        worker_pid = os.fork()
        if worker_pid == 0:
            _worker()
        reaper._watch_parent(template)
        returncode = os.waitstatus_to_exitcode(os.waitpid(worker_pid, 0)[1])
        import psutil

        reaper.kill_tree(psutil.Process())
        reaper._reap_zombies()
        reaper._exit_like(returncode)
    except BaseException:  # noqa: BLE001 - a forked child must never return into the template
        with contextlib.suppress(BaseException):
            import traceback

            traceback.print_exc()
            sys.stderr.flush()
    os._exit(CHILD_SETUP_FAILED)


def _worker() -> None:
    """The worker (in the grandchild): the run path of one model, then ``_exit``."""
    code = 1
    try:
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
        _fresh_random_state()
        from modelsnap.profiler import worker

        code = worker.main()
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else 1
    except BaseException:  # noqa: BLE001 - reported on stderr; the runner sees no result
        with contextlib.suppress(BaseException):
            import traceback

            traceback.print_exc()
    finally:
        with contextlib.suppress(BaseException):
            sys.stdout.flush()
            sys.stderr.flush()
        os._exit(code)


def _fresh_random_state() -> None:
    """A fresh interpreter seeds numpy's global generator from the OS; so does each worker
    (``random`` reseeds itself after a fork)."""
    numpy = sys.modules.get("numpy")
    if numpy is not None:
        numpy.random.seed()


def main() -> None:
    parent = os.getppid()
    sock = socket.socket(fileno=int(sys.argv[1]))
    _preload()
    serve(sock, parent)
    os._exit(0)


if __name__ == "__main__":
    main()
