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

Fast path: standard library only.
"""

from __future__ import annotations

import contextlib
import marshal
import os
import signal
import sys
import threading
import time
from collections.abc import Callable, Sequence
from typing import Any

# A process that has held more than this forks no child (ru_maxrss, the peak: a fork copies
# the page tables, about 2 MB per GB).
FORK_UNDER_BYTES = 1 << 30
NOT_DONE: Any = object()  # the result of an item the caller must do itself
PIPE_BYTES = 1 << 20  # the unprivileged limit (/proc/sys/fs/pipe-max-size) by default
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

    def __init__(self, pid: int, read_end: int, count: int, chunk: int) -> None:
        self._pid: int | None = pid
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
            if not done:  # interrupted: the rest is no longer wanted
                with contextlib.suppress(OSError):
                    os.kill(pid, signal.SIGKILL)
            with contextlib.suppress(ChildProcessError):  # reaped already (SIGCHLD ignored)
                os.waitpid(pid, 0)
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
        with contextlib.suppress(OSError):
            os.kill(pid, signal.SIGKILL)
        with contextlib.suppress(OSError):
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
    work: Callable[[Any], Any], items: Sequence[Any], *, chunk: int = 500
) -> Beside | None:
    """A child mapping ``work`` over ``items``; None when no child may be forked here (the
    caller then does all the items itself)."""
    if not items or not fork_allowed():
        return None
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
) -> list[Any]:
    """``[keep(work(item)) for item in items]``, with the later 55 % in a child from
    ``beside_from`` items (this process also takes the child's results off the pipe, so it
    does the smaller part). ``keep`` runs here on each result as soon as it is here (the
    reader's string sharing: unshared results never pile up). ``done(count)`` is called after
    an item done here, counting what the child has sent too: after each one, or, with
    ``done_every``, once that many seconds have passed since the call began or since the last
    ``done`` (a reading counted on a terminal or a screen). An item the child did not do is
    done here, so what this returns or raises is what the plain loop would."""
    keep = keep if keep is not None else _same
    told = time.monotonic()
    split = len(items) if len(items) < beside_from else len(items) * 9 // 20
    child = start_beside(work, items[split:], chunk=chunk) if split < len(items) else None
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
