"""``modelsnap tui [DIR]`` (also plain ``modelsnap DIR``): open the guided five-step TUI."""

from __future__ import annotations

import argparse
from pathlib import Path

from modelsnap.core.errors import PathError


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
    from modelsnap.tui.app import ModelsnapApp

    ModelsnapApp(root, open_step=args.step).run()
    return 0
