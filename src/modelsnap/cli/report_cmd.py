"""``modelsnap report DIR -o report.html``: a self-contained HTML report or a Markdown model card.

The HTML needs no server, network or scripts; ``--format md`` writes a model card of the chosen
model (the latest decision, else the current top pick). Significance is computed from the stored
test predictions unless ``--no-significance`` is given.
"""

from __future__ import annotations

from typing import Any

from modelsnap.cli.output import add_dir_argument, echo


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "report",
        help="write the selection report (HTML) or a model card (Markdown)",
        description="Write one self-contained HTML file: criteria and constraints, ranking with "
        "rejections, trade-off chart, significance, sensitivity, decision history "
        "and each snapshot's details. --format md writes a model card instead.",
    )
    add_dir_argument(parser)
    parser.add_argument(
        "-o",
        "--output",
        required=True,
        metavar="FILE",
        help="where to write the report; an existing file is replaced (atomically) "
        "only with --force, and a record or data file of the project never",
    )
    parser.add_argument(
        "--force",
        action="store_true",
        help="replace FILE if it exists (never a record or data file)",
    )
    parser.add_argument(
        "--format",
        choices=["html", "md"],
        default=None,
        help="html (default) or md; guessed from the -o suffix when omitted",
    )
    parser.add_argument(
        "--no-significance",
        action="store_true",
        help="skip the significance tests (they load stored predictions)",
    )
    parser.set_defaults(handler=run)


def run(args: Any) -> int:
    from pathlib import Path

    from modelsnap.cli.output import project_root, reading_progress
    from modelsnap.core.reporting.report import write_report

    root = project_root(args.dir)
    output = Path(args.output).expanduser()
    fmt = args.format or ("md" if output.suffix.lower() in (".md", ".markdown") else "html")
    with reading_progress("writing the report") as progress:
        write_report(
            root,
            output,
            fmt=fmt,
            significance=not args.no_significance,
            force=args.force,
            progress=progress,
        )
    echo(f"report written: {output}")
    return 0
