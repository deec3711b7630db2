"""``modelsnap decide DIR ID --rationale TEXT``: append a decision to decisions.toml.

The decision is made on the project's own ranking (its criteria, constraints, method and split,
no what-ifs), which is recorded with it. Refused, with the reason: no rationale, an unknown id,
a snapshot that was rejected, incomplete or excluded unless ``--override`` justifies it, or a
decision log whose hash chain is already broken.
"""

from __future__ import annotations

from typing import Any

from modelsnap.cli.output import add_dir_argument, add_format_option, echo


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "decide", help="record the chosen model in the decision log",
        description="Append a decision (who, when, which snapshot, why, caveats, monitoring "
                    "plan, and the ranking as it stood) to decisions.toml, chained by sha256 "
                    "to the entries before it.",
    )
    add_dir_argument(parser)
    parser.add_argument("id", metavar="ID", help="the chosen snapshot id (or a unique prefix)")
    parser.add_argument("--rationale", required=True, help="why this model (required)")
    parser.add_argument("--caveat", action="append", default=[], metavar="TEXT",
                        help="a known limitation (repeatable)")
    parser.add_argument("--monitor", default="", metavar="TEXT",
                        help="how the model will be watched in production")
    parser.add_argument("--by", default=None, metavar="NAME",
                        help="who decides (default: $MODELSNAP_USER or the login name)")
    parser.add_argument("--override", default=None, metavar="TEXT",
                        help="justification for choosing a snapshot that was not ranked "
                             "(rejected, incomplete or excluded); recorded")
    add_format_option(parser)
    parser.set_defaults(handler=run)


def run(args: Any) -> int:
    from modelsnap.cli.ls_cmd import project_root
    from modelsnap.core.decisions import append_decision
    from modelsnap.core.errors import DecisionError, ModelsnapError, PathError
    from modelsnap.core.ranking import rank_project
    from modelsnap.core.store import find_snapshot

    root = project_root(args.dir)
    if not (args.rationale or "").strip():
        raise DecisionError("a decision needs a rationale", where="--rationale",
                            hint="say why this model, in a sentence a reviewer can check")
    try:
        snapshot_id = find_snapshot(root, args.id)
    except PathError:
        raise  # a bad path keeps its own exit code (2), as in every other command
    except ModelsnapError as error:
        raise DecisionError(f"unknown snapshot: {error.message}", where=error.where,
                            hint=error.hint) from None
    project = rank_project(root)
    entry = append_decision(
        root, snapshot_id=snapshot_id, rationale=args.rationale, ranking=project.result,
        criteria_revision=project.criteria_revision, caveats=args.caveat,
        monitoring=args.monitor, decided_by=args.by, override=args.override,
    )
    if args.format == "json":
        from modelsnap.cli.output import print_json

        print_json(entry)
    else:
        note = " (override recorded)" if "override" in entry else ""
        echo(f"decision {entry['id']} recorded: {snapshot_id}, by {entry['decided_by']}{note}")
        echo(f"  sha256 {entry['sha256']}")
    return 0
