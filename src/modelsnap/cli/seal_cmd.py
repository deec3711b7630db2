"""``modelsnap seal DIR``: seal the records that are not sealed yet, as they are now.

For a folder made before records were sealed (or records written by hand that you have checked):
every snapshot, edge run, criteria revision and decision not in ``ledger.toml`` gets its seal.
Idempotent. Refused, sealing nothing, when a record already sealed differs from its seal or a
chain is broken: that history must be restored first, not blessed.
"""

from __future__ import annotations

import argparse
from typing import Any

from modelsnap.cli.output import add_dir_argument, add_format_option


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "seal",
        help="seal records made before sealing into ledger.toml",
        description="Add every record (snapshot, edge run, criteria revision, decision) that "
        "ledger.toml does not seal yet, as it is now. Refused when a sealed record "
        "changed. Check the records first: sealing vouches for them.",
    )
    add_dir_argument(parser)
    add_format_option(parser, choices=("text", "json"))
    parser.set_defaults(handler=run, format="text")


def run(args: argparse.Namespace) -> int:
    from modelsnap.cli.output import project_root
    from modelsnap.core.records.ledger import adopt, head

    root = project_root(args.dir)
    sealed = adopt(root)
    if args.format == "json":
        from modelsnap.cli.output import print_json

        print_json({"sealed": sealed, "ledger_head": head(root)})
        return 0
    for name in sealed:
        print(f"sealed    {name}")
    print(
        f"{len(sealed)} record(s) sealed"
        if sealed
        else "nothing to seal: every record is already sealed"
    )
    if head(root):
        print(f"ledger head {head(root)}")
    return 0
