"""Work beside the caller: a forked child maps a function over a list while the caller goes on.

Reading a large folder is a loop of independent steps (``lstat`` 100,000 files, parse 10,000
snapshot files), and the machine has a second core. ``start_beside(work, items)`` forks a
child that calls ``work`` on each item and sends the results back in ``marshal``'d chunks
through a pipe; the caller does its own share meanwhile, counts what arrived (``poll``), and
takes the results in the items' order (``results``).

The child only saves time. An item whose result did not come back (``work`` raised, a result
``marshal`` cannot write, such as a TOML datetime, or the child died) is ``NOT_DONE``, and the
caller does it itself, with the same result or the same exception. A child is forked only where
that is safe and cheap: on Linux, from a process with one thread (not a TUI worker, not a test
runner's threads), and one that has never held ``FORK_UNDER_BYTES`` (a fork copies the page
tables). It ends with ``os._exit``: no clean-up, no buffered output of the caller's written
twice. The caller reaps it in every case (``results`` or ``cancel``).

Where no child may be forked (a thread of the TUI: its read of a large folder, a decision's
read of every record), a ``work`` named by its module (``by_name``) over at least
``SPAWN_FROM`` items is done by a freshly started interpreter instead (``python -I``, which
never puts the working folder on its path): the items go to it on its stdin, and the results
come back as from a forked child.

Fast path: standard library only.
"""

from __future__ import annotations

import contextlib
import importlib
import marshal
import os
import signal
import sys
import threading
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

if TYPE_CHECKING:
    import subprocess

# A process that has held more than this forks no child (ru_maxrss, the peak: a fork copies
# the page tables, about 2 MB per GB).
FORK_UNDER_BYTES = 1 << 30
NOT_DONE: Any = object()  # the result of an item the caller must do itself
PIPE_BYTES = 1 << 20  # the unprivileged limit (/proc/sys/fs/pipe-max-size) by default
# From this many items, a caller that may not fork starts an interpreter to share them
# (``by_name``): it takes 0.1-0.2 s to start and import the work's module, where a snapshot
# file takes about 1 ms to parse in a thread.
SPAWN_FROM = 2_000
_LENGTH = 8  # each chunk: its length (little-endian), then its marshal'd list of results


def fork_allowed() -> bool:
    """Linux, one thread, and a process small enough that copying its page tables is cheap
    (a library caller holding gigabytes of data frames gets no child)."""
    if sys.platform != "linux" or not hasattr(os, "fork") or threading.active_count() != 1:
        return False
    import resource  # POSIX only

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024 < FORK_UNDER_BYTES


class Beside:
    """``work`` mapped over ``items`` in a forked child, ``chunk`` items at a time."""

    def __init__(
        self,
        pid: int,
        read_end: int,
        count: int,
        chunk: int,
        process: subprocess.Popen[bytes] | None = None,
    ) -> None:
        self._pid: int | None = pid
        self._process = process  # a started interpreter (_spawn_beside), not a forked child
        self._read_end = read_end
        self._count = count
        self._chunk = chunk
        self._buffer = bytearray()
        self._results: list[Any] = []  # arrived, not yet handed out by ``take``
        self._received = 0
        os.set_blocking(read_end, False)

    def _take_chunks(self) -> None:
        """Every whole chunk in the buffer, unmarshalled into the results."""
        buffer = self._buffer
        while len(buffer) >= _LENGTH:
            size = int.from_bytes(buffer[:_LENGTH], "little")
            if len(buffer) < _LENGTH + size:
                return
            blob = bytes(buffer[_LENGTH : _LENGTH + size])
            del buffer[: _LENGTH + size]
            expected = min(self._chunk, self._count - self._received)
            results = _loads(blob)
            if results is None or len(results) != expected:
                results = [NOT_DONE] * expected
            self._results.extend(results)
            self._received += len(results)

    def poll(self) -> int:
        """How many items' results have arrived so far (without waiting)."""
        if self._pid is not None:
            with contextlib.suppress(BlockingIOError, InterruptedError):
                while data := os.read(self._read_end, 1 << 16):
                    self._buffer += data
            self._take_chunks()
        return self._received

    def take(self) -> list[Any]:
        """The results arrived since the last ``take`` (in order), handed over: a caller that
        keeps less than a result holds (``map_beside``'s ``keep``) frees the rest at once."""
        taken, self._results = self._results, []
        return taken

    def results(self) -> list[Any]:
        """Every item's result in order (``NOT_DONE`` where the caller must do it) but those
        handed out by ``take``, once the child has ended; the child is reaped."""
        if self._pid is None:
            return self._results
        pid, self._pid = self._pid, None
        done = False
        try:
            os.set_blocking(self._read_end, True)
            while data := os.read(self._read_end, 1 << 20):
                self._buffer += data
            done = True
        finally:
            os.close(self._read_end)
            self._end(pid, kill=not done)  # interrupted: the rest is no longer wanted
        self._take_chunks()
        self._results.extend([NOT_DONE] * (self._count - self._received))
        self._received = self._count
        return self.take()

    def cancel(self) -> None:
        """End the child, if it still runs, without its results; it is reaped."""
        if self._pid is None:
            return
        pid, self._pid = self._pid, None
        os.close(self._read_end)
        self._end(pid, kill=True)

    def _end(self, pid: int, *, kill: bool) -> None:
        """The child killed (``kill``) and reaped; a started interpreter through its
        ``Popen``, which then knows it has ended."""
        process = self._process
        if process is not None:
            with contextlib.suppress(OSError):
                if kill:
                    process.kill()
                process.wait()
            return
        if kill:
            with contextlib.suppress(OSError):
                os.kill(pid, signal.SIGKILL)
        with contextlib.suppress(OSError):  # ChildProcessError: reaped already (SIGCHLD ignored)
            os.waitpid(pid, 0)


def _loads(blob: bytes) -> list[Any] | None:
    if not blob:
        return None  # the child could not do this chunk
    try:
        results = marshal.loads(blob)
    except (ValueError, EOFError, TypeError):
        return None
    return results if type(results) is list else None


def start_beside(
    work: Callable[[Any], Any], items: Sequence[Any], *, chunk: int = 500, by_name: bool = False
) -> Beside | None:
    """A child mapping ``work`` over ``items``; None when no child may be forked here (the
    caller then does all the items itself). With ``by_name``, where no child may be forked, a
    started interpreter does it instead, from ``SPAWN_FROM`` items: ``work`` is then a
    module-level function of modelsnap's own (imported there by its name), and ``items``
    must be what ``marshal`` writes."""
    if not items:
        return None
    if not fork_allowed():
        return _spawn_beside(work, items, chunk) if by_name else None
    read_end, write_end = os.pipe()
    _widen(write_end)
    try:
        pid = os.fork()
    except OSError:
        os.close(read_end)
        os.close(write_end)
        return None
    if pid == 0:  # the child: results, chunk by chunk, then the end without any clean-up
        try:
            os.close(read_end)
            _send(work, items, chunk, write_end)
        finally:
            os._exit(0)
    os.close(write_end)
    return Beside(pid, read_end, len(items), chunk)


def start_interpreter(module: str, function: str) -> subprocess.Popen[bytes] | None:
    """A fresh interpreter running modelsnap's own ``module.function()``, with stdin and stdout
    as pipes and stderr discarded; None where none can be started. ``-I``: the working folder
    (perhaps a stranger's project folder) is never on its path, nor are ``PYTHON*`` variables
    read; modelsnap is found where this process found it."""
    if getattr(sys, "frozen", False):  # a bundled app: sys.executable is not a Python
        return None
    import subprocess  # only here: ls and rank's small cases never start an interpreter

    package_root = str(Path(__file__).resolve().parents[2])
    code = (
        f"import sys; sys.path.insert(0, {package_root!r}); "
        f"from {module} import {function}; {function}()"
    )
    try:
        return subprocess.Popen(
            [sys.executable, "-I", "-c", code],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
        )
    except (OSError, ValueError):
        return None


def _spawn_beside(work: Callable[[Any], Any], items: Sequence[Any], chunk: int) -> Beside | None:
    """``start_beside`` by a started interpreter (see the module's docstring); None for fewer
    than ``SPAWN_FROM`` items, off POSIX, or for a ``work`` or ``items`` it cannot be given."""
    module, name = getattr(work, "__module__", None), getattr(work, "__qualname__", "")
    if (
        len(items) < SPAWN_FROM
        or os.name != "posix"
        or not isinstance(module, str)
        or not module.startswith("modelsnap.")
        or not name.isidentifier()
    ):
        return None
    try:
        blob = marshal.dumps((module, name, chunk, list(items)))
    except ValueError:  # an item marshal cannot write
        return None
    process = start_interpreter("modelsnap.core.beside", "serve")
    if process is None:
        return None
    assert process.stdin is not None and process.stdout is not None  # both PIPE
    try:
        read_end = os.dup(process.stdout.fileno())
    except OSError:  # out of descriptors: no helper after all
        process.kill()
        process.communicate()
        return None
    process.stdout.close()
    _widen(read_end)
    helper = Beside(process.pid, read_end, len(items), chunk, process)
    try:  # fed from a thread: the interpreter takes the items only once it has started
        threading.Thread(target=_feed, args=(process.stdin, blob), daemon=True).start()
    except RuntimeError:  # no thread can be started
        process.stdin.close()
        helper.cancel()
        return None
    return helper


def _feed(stream: IO[bytes], blob: bytes) -> None:
    # BrokenPipeError: it ended, or was ended, first (the closing flush may raise it too)
    with contextlib.suppress(OSError), stream:
        stream.write(blob)


def serve() -> None:
    """The started interpreter's side (``_spawn_beside``): the work's module and name, the
    chunk and the items from stdin (``marshal``), the results to stdout in ``start_beside``'s
    chunks. Anything it cannot read or import is answered with nothing: the caller then does
    every item itself."""
    try:
        module, name, chunk, items = marshal.loads(sys.stdin.buffer.read())
        if not (
            type(module) is str
            and module.startswith("modelsnap.")
            and type(name) is str
            and name.isidentifier()
            and type(chunk) is int
            and chunk > 0
            and type(items) is list
        ):
            return
        work = getattr(importlib.import_module(module), name)
    except Exception:  # noqa: BLE001 (the caller does the items, and sees any error itself)
        return
    _send(work, items, chunk, sys.stdout.fileno())


def _widen(fd: int) -> None:
    """A pipe of ``PIPE_BYTES`` where Linux allows it (64 KiB by default): the child then
    waits less for the caller, who reads between its own steps."""
    import fcntl

    with contextlib.suppress(OSError, AttributeError):
        fcntl.fcntl(fd, fcntl.F_SETPIPE_SZ, PIPE_BYTES)


def _send(work: Callable[[Any], Any], items: Sequence[Any], chunk: int, fd: int) -> None:
    with open(fd, "wb") as pipe:  # buffered: a write to a pipe may take only part of it
        for start in range(0, len(items), chunk):
            try:
                blob = marshal.dumps([work(item) for item in items[start : start + chunk]])
            except Exception:  # noqa: BLE001 (the caller does this chunk and sees what it raises)
                blob = b""
            pipe.write(len(blob).to_bytes(_LENGTH, "little"))
            pipe.write(blob)
            pipe.flush()  # the caller counts what has arrived


def map_beside(
    work: Callable[[Any], Any],
    items: Sequence[Any],
    *,
    beside_from: int,
    chunk: int = 100,
    done: Callable[[int], None] | None = None,
    done_every: float = 0.0,
    keep: Callable[[Any], Any] | None = None,
    by_name: bool = False,
) -> list[Any]:
    """``[keep(work(item)) for item in items]``, with the later 55 % in a child from
    ``beside_from`` items (this process also takes the child's results off the pipe, so it
    does the smaller part). ``keep`` runs here on each result as soon as it is here (the
    reader's string sharing: unshared results never pile up). ``done(count)`` is called after
    an item done here, counting what the child has sent too: after each one, or, with
    ``done_every``, once that many seconds have passed since the call began or since the last
    ``done`` (a reading counted on a terminal or a screen). An item the child did not do is
    done here, so what this returns or raises is what the plain loop would. ``by_name``: see
    ``start_beside`` (a started interpreter where no child may be forked)."""
    keep = keep if keep is not None else _same
    told = time.monotonic()
    split = len(items) if len(items) < beside_from else len(items) * 9 // 20
    child = (
        start_beside(work, items[split:], chunk=chunk, by_name=by_name)
        if split < len(items)
        else None
    )
    if child is None:
        split = len(items)
    results: list[Any] = []
    theirs: list[Any] = []
    try:
        for item in items[:split]:
            results.append(keep(work(item)))
            arrived = 0
            if child is not None:  # after every item: the pipe must not fill
                arrived = child.poll()
                theirs.extend(_kept(child.take(), keep))
            if done is not None and (not done_every or time.monotonic() - told >= done_every):
                done(len(results) + arrived)
                told = time.monotonic()
        if child is None:
            return results
        theirs.extend(_kept(child.results(), keep))
    finally:
        if child is not None:
            child.cancel()
    results.extend(theirs)
    return [
        keep(work(item)) if result is NOT_DONE else result
        for item, result in zip(items, results, strict=True)
    ]


def _same(result: Any) -> Any:
    return result


def _kept(results: list[Any], keep: Callable[[Any], Any]) -> list[Any]:
    return [result if result is NOT_DONE else keep(result) for result in results]
