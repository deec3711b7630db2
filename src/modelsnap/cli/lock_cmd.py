"""``modelsnap lock DIR``: record the current criteria and constraints as a new revision.

Candidates may only be judged against locked criteria; locking again after an edit records a
new revision (the old ones stay), and locking unchanged criteria records nothing.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from modelsnap.cli.output import add_dir_argument, add_format_option, echo


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "lock",
        help="lock the criteria and constraints as a new revision",
        description="Record [[criteria]], [constraints] and the primary metric of "
        "modelsnap.toml as revision N+1 in criteria_revisions.toml. Candidate runs "
        "refuse to start while the criteria are unlocked or changed since the last lock.",
    )
    add_dir_argument(parser)
    parser.add_argument("--reason", default="", metavar="TEXT", help="why (recorded)")
    parser.add_argument("--by", metavar="NAME", help="who locks (default: the login name)")
    add_format_option(parser, choices=("text", "json"))
    parser.set_defaults(handler=run, format="text")


def run(args: argparse.Namespace) -> int:
    from modelsnap.core.project.parse import load_project
    from modelsnap.core.selection.criteria import current_revision, lock_criteria

    config = load_project(Path(args.dir))
    before = current_revision(config.root)
    number = lock_criteria(config, reason=args.reason, locked_by=args.by)
    created = before is None or int(before["revision"]) != number
    record = current_revision(config.root) or {}
    if args.format == "json":
        from modelsnap.cli.output import print_json

        print_json(
            {
                "revision": number,
                "created": created,
                "locked_at": record.get("locked_at"),
                "sha256": record.get("sha256"),
            }
        )
        return 0
    if created:
        echo(f"criteria locked as revision {number}")
    else:
        echo(f"criteria unchanged: still revision {number} (locked {record.get('locked_at')})")
    for criterion in record.get("criteria", []):
        echo(
            f"  {criterion['metric']:<24} weight {criterion['weight']:<6g} {criterion['direction']}"
        )
    for key, value in record.get("constraints", {}).items():
        echo(f"  {key:<24} {value}")
    return 0
