"""The Pareto front of a ranking, computed beside the ranking when it is large.

``pareto_flags`` marks the rows no other row dominates. At 71,413 scored rows (``rank
--all-versions`` on 100,000 snapshots) it costs 0.25 s of pure Python, while the rest of the
ranking (scores, order, entries) does not need its answer until the very end. So, from
``HELPER_FROM`` rows, ``start_helper`` spawns a fresh interpreter that waits for the values,
``PendingFront.send`` hands them over (a ``marshal``'d list, about 20 ms), the ranking goes on,
and ``PendingFront.flags`` takes the helper's answer (it is ready by then).

A fresh interpreter, not a fork: at that point the ranking's process holds half a gigabyte of
rows, and a forked child would share every page of it, so each later write of the ranking
(a reference count is one) would copy a page first. That made the entries twice as slow when
it was tried. A spawned process shares nothing; starting it costs the caller under a
millisecond (``vfork``), and it works from any thread, on any system.

The helper only saves time. It runs this very module (``-I``: no environment variables, no
user site, not the current folder; the package's own folder first on ``sys.path``), so it runs
nothing from the project folder. What it answers is checked (one flag per row, each 0 or 1);
if it cannot start, dies, answers anything else, or takes in nothing or answers nothing for
``HELPER_PATIENCE_S``, the caller computes the front itself, with the same answer. ``cancel``
ends and reaps it in every case.

Fast path: standard library only (the helper imports nothing else).
"""

from __future__ import annotations

import contextlib
import marshal
import operator
import os
import selectors
import sys
import time
from collections.abc import Sequence
from typing import TYPE_CHECKING

from modelsnap.core.beside import start_interpreter

if TYPE_CHECKING:
    import subprocess

# From this many rows the front is computed by a helper (below, about 0.04 s here: the
# helper's start and the hand-over would cost more than they save).
HELPER_FROM = 20_000
HELPER_PATIENCE_S = 60.0  # after which a silent helper is ended and the caller does its work


def pareto_flags(values: Sequence[Sequence[float]], directions: Sequence[str]) -> list[bool]:
    """True for rows no other row dominates (at least as good everywhere, better somewhere).

    Rows are visited in lexicographic best-first order, so a row can only be dominated by one
    already on the front: cost is rows x front size, not rows squared.
    """
    # v * -1.0 is -v, bit for bit (signed zeros and NaN included); one map per row, not a
    # generator and a test per value
    signs = [1.0 if d == "max" else -1.0 for d in directions]
    if any(len(row) != len(signs) for row in values):
        raise ValueError("pareto_flags: every row needs one value per direction")
    mul = operator.mul
    signed = [tuple(map(mul, row, signs)) for row in values]
    order = sorted(range(len(signed)), key=lambda i: signed[i], reverse=True)
    front: list[tuple[float, ...]] = []
    flags = [False] * len(signed)
    for i in order:
        row = signed[i]
        for position, other in enumerate(front):
            if all(map(operator.ge, other, row)) and other != row:
                if position > 8:
                    # Move-to-front: a member that dominates one row tends to dominate many.
                    front.insert(0, front.pop(position))
                break
        else:
            front.append(row)
            flags[i] = True
    return flags


class PendingFront:
    """The front of the values sent: the helper's answer, or the caller's own."""

    def __init__(self, helper: subprocess.Popen[bytes] | None) -> None:
        self._helper = helper
        self._values: Sequence[Sequence[float]] = ()
        self._directions: Sequence[str] = ()
        self._sent = False

    @property
    def beside(self) -> bool:
        """Whether a helper is working on the values (or waiting for them)."""
        return self._helper is not None

    def send(self, values: Sequence[Sequence[float]], directions: Sequence[str]) -> None:
        """The values whose front ``flags`` gives; the helper starts on them at once (fewer
        than ``HELPER_FROM`` rows, or values ``marshal`` cannot write: ``flags`` computes
        here, and the helper is ended)."""
        self._values, self._directions, self._sent = values, directions, True
        helper = self._helper
        if helper is None or helper.stdin is None:
            return
        try:
            if len(values) < HELPER_FROM:
                raise ValueError("small enough to compute here")
            blob = marshal.dumps((list(values), list(directions)))
            if not _write_all(helper.stdin.fileno(), blob):
                raise ValueError("the helper takes nothing in")
            helper.stdin.close()
        except (OSError, ValueError):
            self.cancel()

    def flags(self) -> list[bool]:
        """``pareto_flags`` of the values sent, from the helper when it answers soundly."""
        if not self._sent:
            raise RuntimeError("PendingFront.flags before send")
        answer = self._answer()
        self.cancel()
        if answer is not None and len(answer) == len(self._values) and answer.strip(b"\0\1") == b"":
            return [flag == 1 for flag in answer]
        return pareto_flags(self._values, self._directions)

    def _answer(self) -> bytes | None:
        """All the helper wrote, once it closed its output; None when there is no helper or it
        stays silent past ``HELPER_PATIENCE_S``."""
        helper = self._helper
        if helper is None or helper.stdout is None:
            return None
        out = helper.stdout.fileno()
        chunks: list[bytes] = []
        deadline = time.monotonic() + HELPER_PATIENCE_S
        try:  # a system whose selectors take no pipe (Windows) computes the front itself
            with selectors.DefaultSelector() as selector:
                selector.register(out, selectors.EVENT_READ)
                while True:
                    left = deadline - time.monotonic()
                    if left <= 0 or not selector.select(left):
                        return None
                    chunk = os.read(out, 1 << 20)
                    if not chunk:
                        return b"".join(chunks)
                    chunks.append(chunk)
        except (OSError, ValueError):
            return None

    def cancel(self) -> None:
        """End the helper, if any, and reap it (it has nothing to clean up)."""
        helper, self._helper = self._helper, None
        if helper is None:
            return
        with contextlib.suppress(OSError):
            helper.kill()
        for stream in (helper.stdin, helper.stdout):
            if stream is not None:
                with contextlib.suppress(OSError):
                    stream.close()
        helper.wait()


def _write_all(fd: int, data: bytes) -> bool:
    """All of ``data`` into the helper's pipe; False when the helper has taken nothing in
    for ``HELPER_PATIENCE_S`` (one stuck starting must not hang the ranking). An OSError
    where selectors take no pipe (Windows): the caller then computes the front itself."""
    view = memoryview(data)
    os.set_blocking(fd, False)
    with selectors.DefaultSelector() as selector:
        selector.register(fd, selectors.EVENT_WRITE)
        while view:
            if not selector.select(HELPER_PATIENCE_S):
                return False
            try:
                view = view[os.write(fd, view[: 1 << 16]) :]
            except BlockingIOError:
                continue
    return True


def start_helper(rows: int) -> PendingFront:
    """A front to be computed: by a freshly started helper when ``rows`` (how many rows the
    ranking has before judging them) reach ``HELPER_FROM``, else by the caller."""
    if rows < HELPER_FROM:
        return PendingFront(None)
    return PendingFront(start_interpreter("modelsnap.core.selection.pareto", "serve"))


def serve() -> None:
    """The helper's side: the values from stdin (``marshal``), one flag byte per row to stdout.
    Anything it cannot read is answered with nothing, and the caller computes the front."""
    try:
        values, directions = marshal.loads(sys.stdin.buffer.read())
        answer = bytes(pareto_flags(values, directions))
    except (ValueError, EOFError, TypeError):
        return
    sys.stdout.buffer.write(answer)
    sys.stdout.buffer.flush()
