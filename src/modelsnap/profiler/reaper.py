"""The run's reaper: ``python -m modelsnap.profiler.reaper`` starts the worker and outlives it.

A model's ``fit`` may start a daemon the classic way (fork, ``setsid()``, fork again, the middle
process exits): the daemon is then nobody's descendant and would normally be adopted by init,
out of reach of the process-group kill and of the memory ceiling. On Linux this process makes
itself a *child subreaper* (``prctl(PR_SET_CHILD_SUBREAPER)``): every orphan among the worker's
descendants is re-parented to it instead of to init, so for as long as the run lasts the whole
tree -- the worker, its children, and every daemon they started -- is under this one process,
where the runner measures its memory and kills it. When the worker ends, the reaper freezes and
kills whatever is left under it, then exits with the worker's own status (the same exit code, or
the same signal), so the runner classifies the run exactly as before.

Only this small process is a subreaper, never the CLI, the TUI or a notebook. It imports
nothing heavy and reads nothing from the project. Where ``prctl`` is not available (macOS,
Windows, other Unixes) it simply becomes the worker (``exec``): the process group and the
runner's polling of the tree still stop what stays in the group, but a daemon that left the
session is not found there (docs/profiler.md).

stdin, stdout and stderr are the worker's own: the reaper never reads or writes them.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import signal
import subprocess
import sys
from typing import Any

PR_SET_CHILD_SUBREAPER = 36
WORKER_MODULE = "modelsnap.profiler.worker"
REAPER_MODULE = "modelsnap.profiler.reaper"


def become_subreaper() -> bool:
    """Make this process the child subreaper of its descendants; False where not supported."""
    if not sys.platform.startswith("linux"):
        return False
    try:
        # The interpreter's own symbols include libc's; ctypes.util.find_library would spawn
        # ldconfig, a process of our own in the run's tree.
        libc = ctypes.CDLL(None, use_errno=True)
        return libc.prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) == 0
    except (OSError, AttributeError):
        return False


def kill_tree(root: Any) -> list[int]:
    """Stop (SIGSTOP) every descendant of ``root`` until no new one appears, then SIGKILL them.

    A stopped process cannot fork, so a process forking as fast as it can is still caught:
    each round stops what it finds and looks again. ``root`` is a ``psutil.Process``; it is
    not killed itself. Returns the pids killed.
    """
    import psutil

    seen: dict[int, Any] = {}
    for _round in range(1000):
        try:
            members = root.children(recursive=True)
        except psutil.Error:
            break
        new = [proc for proc in members if proc.pid not in seen]
        if not new:
            break
        for proc in new:
            seen[proc.pid] = proc
            with contextlib.suppress(psutil.Error):
                proc.suspend()
    for proc in seen.values():
        with contextlib.suppress(psutil.Error):
            proc.kill()
    return sorted(seen)


def _reap_zombies() -> None:
    with contextlib.suppress(ChildProcessError):
        while os.waitpid(-1, os.WNOHANG)[0] > 0:
            pass


def _exit_like(returncode: int) -> None:
    """End this process the way the worker ended: same exit code, or killed by the same signal."""
    sys.stdout.flush()
    if returncode < 0:
        signum = -returncode
        with contextlib.suppress(OSError, ValueError):  # SIGKILL/SIGSTOP have no handler
            signal.signal(signum, signal.SIG_DFL)
        with contextlib.suppress(OSError):
            os.kill(os.getpid(), signum)
        os._exit(128 + signum)
    os._exit(returncode)


def _watch_parent(parent: int, period: float = 0.25) -> None:
    """Once the runner is gone (it may be SIGKILLed), kill everything under us, then our group."""
    import threading
    import time

    import psutil

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(period)
        kill_tree(psutil.Process())
        with contextlib.suppress(OSError):
            if os.getpgrp() == os.getpid():
                os.killpg(os.getpgrp(), signal.SIGKILL)
        os.kill(os.getpid(), signal.SIGKILL)

    threading.Thread(target=watch, name="modelsnap-reaper-watch", daemon=True).start()


def _ignore(signum: int, frame: Any) -> None:
    """SIGTERM to the run's group is for the worker; the reaper stays to clean up after it.

    A handler, not SIG_IGN: handlers are reset by ``exec``, so the worker still gets the
    default action."""


def python_argv(module: str) -> list[str]:
    """``python -P -m module``: -P keeps the current folder (the project folder, which may hold
    a ``numpy.py`` or ``json.py`` planted by someone else) off ``sys.path``, so nothing from it
    is imported unless a model names it (``pipeline.import_estimator`` adds the folder itself)."""
    return [sys.executable, "-P", "-m", module]


def main() -> None:
    worker = python_argv(WORKER_MODULE)
    if not become_subreaper():
        os.execv(sys.executable, worker)  # no subreaper here: the worker runs in our place
    import psutil

    parent = os.getppid()
    signal.signal(signal.SIGTERM, _ignore)
    _watch_parent(parent)
    child = subprocess.Popen(worker, close_fds=False)
    while True:
        try:
            returncode = child.wait()
            break
        except InterruptedError:  # pragma: no cover - PEP 475 retries, kept for safety
            continue
    kill_tree(psutil.Process())
    _reap_zombies()
    _exit_like(returncode)


if __name__ == "__main__":
    main()
