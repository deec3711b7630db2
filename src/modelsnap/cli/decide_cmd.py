"""``modelsnap decide DIR ID --rationale TEXT``: append a decision to decisions.toml.

The decision is made on the ranking under the locked criteria revision (its weights, limits,
method and split, no what-ifs), computed from the snapshot files themselves, and recorded with
it (``core.selection.context.decide``). Refused, with the reason: criteria never locked or with
edits not locked, a rationale that is not a sentence, an unknown id, a snapshot that was rejected,
incomplete, excluded or superseded unless ``--override`` justifies it, or a decision log whose
hash chain is already broken.
"""

from __future__ import annotations

from typing import Any

from modelsnap.cli.output import add_dir_argument, add_format_option, echo


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "decide",
        help="record the chosen model in the decision log",
        description="Append a decision (who, when, which snapshot, why, caveats, monitoring "
        "plan, and the ranking as it stood) to decisions.toml, chained by sha256 "
        "to the entries before it.",
    )
    add_dir_argument(parser)
    parser.add_argument("id", metavar="ID", help="the chosen snapshot id (or a unique prefix)")
    parser.add_argument(
        "--rationale",
        required=True,
        help="why this model (required: a sentence of at least 20 characters)",
    )
    parser.add_argument(
        "--caveat",
        action="append",
        default=[],
        metavar="TEXT",
        help="a known limitation (repeatable)",
    )
    parser.add_argument(
        "--monitor", default="", metavar="TEXT", help="how the model will be watched in production"
    )
    parser.add_argument(
        "--by",
        default=None,
        metavar="NAME",
        help="who decides (default: $MODELSNAP_USER or the login name)",
    )
    parser.add_argument(
        "--override",
        default=None,
        metavar="TEXT",
        help="justification for choosing a snapshot that was not ranked "
        "(rejected, incomplete, excluded or superseded); recorded",
    )
    add_format_option(parser)
    parser.set_defaults(handler=run)


def run(args: Any) -> int:
    from modelsnap.cli.output import project_root, reading_progress
    from modelsnap.core.selection.context import decide

    root = project_root(args.dir)
    with reading_progress("ranking them") as progress:
        entry = decide(
            root,
            args.id,
            rationale=args.rationale,
            caveats=args.caveat,
            monitoring=args.monitor,
            decided_by=args.by,
            override=args.override,
            progress=progress,
        )
    if args.format == "json":
        from modelsnap.cli.output import print_json

        print_json(entry)
    else:
        note = " (override recorded)" if "override" in entry else ""
        echo(
            f"decision {entry['id']} recorded: {entry['snapshot_id']}, by "
            f"{entry['decided_by']}, under criteria revision "
            f"{entry.get('criteria_revision')}{note}"
        )
        echo(f"  sha256 {entry['sha256']}")
    return 0
