"""``modelsnap export mlflow DIR --tracking-uri URI``: snapshots and decisions into MLflow.

The work is ``bridges.mlflow_export.export_mlflow`` (the Python API and the TUI call it too);
this module parses the options and prints what was added and skipped. mlflow is imported only
when the command runs, and its absence is a clear message (exit 2), never a traceback.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from modelsnap.cli.output import add_dir_argument, add_format_option, print_json


def add_tracking_uri(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--tracking-uri",
        required=True,
        metavar="URI",
        help="the MLflow tracking store: sqlite:///path/mlflow.db, http://host:5000, ...",
    )


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "export",
        help="send snapshots and decisions to another tool (MLflow)",
        description="Send the folder's snapshots and decisions to another tool.",
    )
    tools = parser.add_subparsers(dest="tool", metavar="TOOL", required=True)
    mlflow = tools.add_parser(
        "mlflow",
        help="one MLflow run per snapshot; decisions tag their run",
        description=(
            "Each snapshot becomes one MLflow run: the estimator's parameters, metrics named by "
            "split (validation_f1, test_f1, ...) and the resource measures, modelsnap.* tags "
            "(snapshot id, name, kind, version, criteria revision, data and split sha256, "
            "hardware, constraint verdict and reasons) and the snapshot TOML and skops file as "
            "artifacts. The run each decision chose is tagged with the decision id, rationale "
            "and revision, and the decision entry is attached. Running it again adds only "
            "what is new (found by the modelsnap.snapshot_id tag). Needs the extra: "
            "pip install 'modelsnap[mlflow]'."
        ),
    )
    add_dir_argument(mlflow)
    add_tracking_uri(mlflow)
    mlflow.add_argument(
        "--experiment",
        metavar="NAME",
        help="the MLflow experiment (created when missing; default: the project's name)",
    )
    mlflow.add_argument(
        "--dry-run",
        action="store_true",
        help="list what would be sent; send and write nothing",
    )
    add_format_option(mlflow)
    mlflow.set_defaults(handler=handle)


def handle(args: argparse.Namespace) -> int:
    from modelsnap.bridges.mlflow_export import export_mlflow
    from modelsnap.core.errors import PathError

    root = Path(args.dir)
    if not (root / "modelsnap.toml").is_file():
        raise PathError(
            "not a modelsnap project folder (no modelsnap.toml)",
            where=str(root),
            hint="give the folder that holds modelsnap.toml",
        )
    result = export_mlflow(
        root, args.tracking_uri, experiment=args.experiment, dry_run=args.dry_run
    )
    if args.format == "json":
        print_json(result)
        return 0
    show(result)
    return 0


def show(result: dict[str, Any]) -> None:
    from modelsnap.cli.output import make_console

    console = make_console(highlight=False, soft_wrap=True)
    verb = "would add" if result["dry_run"] else "added"
    where = f"experiment {result['experiment']!r} at {result['tracking_uri']}"
    for row in result["added"]:
        run = f" -> run {row['run_id']}" if row.get("run_id") else ""
        console.print(
            f"{verb}: {row['snapshot_id']} ({row['params']} params, {row['metrics']} metrics, "
            f"{row['tags']} tags){run}",
            markup=False,
        )
    for row in result["decisions_added"]:
        console.print(
            f"{verb}: decision {row['decision_id']} on {row['snapshot_id']}", markup=False
        )
    skipped = result["skipped"] + result["decisions_skipped"]
    for row in skipped:
        what = row.get("decision_id") and f"decision {row['decision_id']}" or row["snapshot_id"]
        console.print(f"skipped: {what} ({row['reason']})", markup=False)
    for text in result.get("unreadable", []):
        console.print(f"not sent (unreadable; see modelsnap check): {text}", markup=False)
    console.print(
        f"{verb} {len(result['added'])} run(s) and {len(result['decisions_added'])} "
        f"decision(s), skipped {len(skipped)}, {where}"
        + (" (dry run: nothing was sent)" if result["dry_run"] else ""),
        markup=False,
    )
