"""Python's cyclic garbage collector, kept from walking what a large folder's readers build.

Reading or ranking 10,000-100,000 snapshots builds 10^5-10^7 small objects (rows, mappings,
entries) with no reference cycles; reference counting frees them. Left running, the cyclic
collector walks them again and again as they are made: a third of ``load_rows`` at 100,000 rows,
and two thirds of a ranking made in the guided TUI beside its 100,000 parsed snapshots
(4.6-4.8 s, against 1.65 s paused). ``paused()`` turns it off for such a stretch and back
on after, for a caller in the same process; ``keep_out_of_view`` freezes a large set of
long-lived objects, so that later collections no longer walk them (each one walked 100,000
rows in 0.1-0.3 s, landing on a key press or a repaint).

Standard library only.
"""

from __future__ import annotations

import contextlib
import gc
from collections.abc import Iterator

# From this many long-lived records (snapshots, rows) a reader's are frozen: below it a full
# collection is short, and freezing keeps whatever is cyclic garbage at that moment.
FREEZE_FROM = 5_000


@contextlib.contextmanager
def paused() -> Iterator[None]:
    """The cyclic collector off for the block, then as it was. Process-wide: a thread that
    pauses it pauses it for all; overlapping pauses end with it on, as it was before the first
    (the later one finds it off and leaves it to the earlier one to restore)."""
    collecting = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if collecting:
            gc.enable()


def keep_out_of_view(count: int) -> None:
    """Freeze every object the collector tracks now (``gc.freeze``) when ``count`` records
    were just read, at least ``FREEZE_FROM``: they live as long as the reader and hold no
    cycles, so no later collection need walk them. Process-wide, like ``paused``: the rest of
    what is alive at that moment is frozen too, and what is cyclic garbage then is kept."""
    if count >= FREEZE_FROM:
        gc.freeze()
