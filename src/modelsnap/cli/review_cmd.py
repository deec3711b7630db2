"""``modelsnap review DIR``: browse a snapshot folder read-only (table, diff, history, what-if)."""

from __future__ import annotations

import argparse
from pathlib import Path

from modelsnap.cli.output import add_dir_argument


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "review",
        help="browse snapshots read-only: table, details, diff, history, what-if, decisions",
        description=(
            "Open a read-only view of a project folder's snapshots. Nothing is written in the "
            "folder and no model artifact is loaded, so it is safe on a folder copied from "
            "someone else. When the folder's index is not yours, the first review parses every "
            "snapshot and keeps its own index of them in your cache (~/.cache/modelsnap)."
        ),
    )
    add_dir_argument(parser)
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    from modelsnap.core.errors import PathError

    root = Path(args.dir)
    if not root.is_dir():
        raise PathError(
            f"no such folder: {root}",
            where="DIR",
            hint="give the project folder that holds snapshots/",
        )
    if not (root / "snapshots").is_dir() and not (root / "modelsnap.toml").is_file():
        raise PathError(
            f"{root} holds neither snapshots/ nor modelsnap.toml",
            where="DIR",
            hint="give a modelsnap project folder",
        )
    from modelsnap.cli.output import reading_progress
    from modelsnap.tui.review_app import ReviewApp

    with reading_progress("opening the review") as progress:
        app = ReviewApp(root, progress=progress)
    app.run()
    return 0
