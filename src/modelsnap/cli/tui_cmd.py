"""``modelsnap tui [DIR]`` (also plain ``modelsnap DIR``): open the guided five-step TUI."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from modelsnap.core.errors import ModelsnapError, PathError

if TYPE_CHECKING:
    from modelsnap.core.records.store import SnapshotReader


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "tui",
        help="open the guided five-step TUI (the default: 'modelsnap DIR')",
        description="Open the guided checklist on DIR (default: the current folder). A folder "
        "without modelsnap.toml opens the set-up screen.",
    )
    parser.add_argument(
        "dir",
        metavar="DIR",
        nargs="?",
        default=".",
        help="the project folder (default: the current folder)",
    )
    parser.add_argument(
        "--step",
        type=int,
        choices=range(1, 6),
        metavar="N",
        help="open at step N (1-5) instead of the first unfinished step",
    )
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    root = Path(args.dir)
    if not root.exists():
        raise PathError(
            f"folder {args.dir!r} does not exist",
            where="DIR",
            hint="create it and put your CSV in it, or give an existing folder",
        )
    if not root.is_dir():
        raise PathError(
            f"{args.dir!r} is not a folder",
            where="DIR",
            hint="give the project folder, not a file in it",
        )
    reader = _read_large_folder(root)
    from modelsnap.tui.app import ModelsnapApp

    ModelsnapApp(root, open_step=args.step, snapshot_reader=reader).run()
    return 0


def _read_large_folder(root: Path) -> SnapshotReader | None:
    """A reader that has parsed the folder's snapshots, when there are ``store.PROGRESS_FROM``
    or more, else None (the app reads them itself, at once). Read here, before the app starts
    any thread, a forked child parses half of them (``core.beside``); the app's worker thread
    may not fork (it had 100,000 snapshots parsed alone, 75 s to the first screen, against 47 s
    here, until a started interpreter shared its reads too: 46 s). The files are counted on
    the terminal meanwhile (``reading 45,000 of 100,000 snapshots``), as for ``review``, under
    the hint the app gave on its reading screen (from ``REVIEW_HINT_FROM`` snapshots: review
    browses them from the index); the app then finds them all read."""
    from modelsnap.core.records import store
    from modelsnap.core.records.listing import entry_count

    try:
        count = entry_count(store.snapshots_dir(root))
        if count < store.PROGRESS_FROM:
            return None
        from modelsnap.cli.output import reading_progress
        from modelsnap.core import collector
        from modelsnap.tui.app import REVIEW_HINT, REVIEW_HINT_FROM

        if count >= REVIEW_HINT_FROM and sys.stderr.isatty():
            print(REVIEW_HINT, file=sys.stderr)  # stays above the TUI's screen, and after it
        reader = store.SnapshotReader()
        with reading_progress("opening the checklist") as progress, collector.paused():
            reader.read(root, progress)
    except (ModelsnapError, OSError):
        return None  # the app's own read meets it again, and says it on its screen
    return reader
