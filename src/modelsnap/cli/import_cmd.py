"""``modelsnap import mlflow DIR --tracking-uri URI (--run-id ID ... | --experiment NAME)
--trust-pickle``: the scikit-learn models of MLflow runs become candidates.

The work is ``bridges.mlflow_import.import_mlflow`` (the Python API and the TUI call it too):
each model is loaded only in the isolated worker process, evaluated on the frozen split and
profiled, never refitted. This module parses the options, shows progress and prints what was
imported and what was skipped, with the reason.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from modelsnap.cli.export_cmd import add_tracking_uri
from modelsnap.cli.output import add_dir_argument, add_format_option, print_json
from modelsnap.cli.run_cmd import positive_float


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "import",
        help="turn models logged in another tool (MLflow) into candidates",
        description="Import models logged in another tool as candidates.",
    )
    tools = parser.add_subparsers(dest="tool", metavar="TOOL", required=True)
    mlflow = tools.add_parser(
        "mlflow",
        help="import the scikit-learn models of MLflow runs (needs --trust-pickle)",
        description=(
            "Each scikit-learn model logged in the chosen runs is loaded in modelsnap's "
            "isolated worker process, evaluated on the project's frozen validation and test "
            "splits and profiled like any candidate (never refitted), and recorded with its "
            "origin (tracking URI, run id, model URI). MLflow stores these models with pickle "
            "or cloudpickle (or skops with an allow-list of its own), which can run code while "
            "loading: nothing is imported without --trust-pickle. Runs without a scikit-learn "
            "model, or whose features differ from the project's columns, are listed with the "
            "reason and skipped. Criteria must be locked. Needs the extra: "
            "pip install 'modelsnap[mlflow]'."
        ),
    )
    add_dir_argument(mlflow)
    add_tracking_uri(mlflow)
    mlflow.add_argument(
        "--run-id",
        action="extend",
        nargs="+",
        default=[],
        metavar="ID",
        dest="run_ids",
        help="import this run (repeatable)",
    )
    mlflow.add_argument(
        "--experiment", metavar="NAME", help="import every run of this experiment (or --filter)"
    )
    mlflow.add_argument(
        "--filter",
        metavar="EXPR",
        dest="filter_string",
        help='with --experiment: MLflow\'s search syntax, e.g. "metrics.f1 > 0.8"',
    )
    mlflow.add_argument(
        "--trust-pickle",
        action="store_true",
        help="allow loading the runs' models: pickle, cloudpickle and skops files can run code "
        "when loaded, so give this only for runs whose author you trust (models are loaded "
        "only in the isolated worker process)",
    )
    mlflow.add_argument(
        "--again",
        action="store_true",
        help="import a run's model even if a snapshot already came from it",
    )
    mlflow.add_argument(
        "--trust",
        action="append",
        default=[],
        metavar="TYPE",
        help="a type a skops-format model may hold beyond modelsnap's allow-list (repeatable)",
    )
    mlflow.add_argument("--version", metavar="TAG", dest="tag", default="v1", help="version tag")
    mlflow.add_argument(
        "--timeout", type=positive_float, metavar="S", help="wall-clock limit per model"
    )
    mlflow.add_argument(
        "--memory-limit", type=positive_float, metavar="MB", help="memory ceiling per model"
    )
    add_format_option(mlflow)
    mlflow.set_defaults(handler=handle)


def handle(args: argparse.Namespace) -> int:
    import sys

    from modelsnap.bridges.mlflow_import import import_mlflow
    from modelsnap.cli.progress import ProgressDisplay

    display = ProgressDisplay(enabled=args.format == "table" and sys.stderr.isatty())
    with display.live():
        result = import_mlflow(
            Path(args.dir),
            args.tracking_uri,
            run_ids=args.run_ids,
            experiment=args.experiment,
            filter_string=args.filter_string,
            trust_pickle=args.trust_pickle,
            again=args.again,
            trusted=args.trust,
            version=args.tag,
            timeout=args.timeout,
            memory_limit_mb=args.memory_limit,
            on_start=display.start,
            on_event=display.event,
            on_warning=display.warning,
        )
    for row in result["imported"]:
        row.pop("snapshot", None)
    if args.format == "json":
        print_json(result)
    else:
        show(result)
    return exit_code(result)


def exit_code(result: dict[str, Any]) -> int:
    """0 when a model of the selected runs is a candidate now (imported this time or before);
    1 when none is: every run was skipped for a problem (each listed with its reason)."""
    if result["imported"]:
        return 0
    before = any(row["reason"].startswith("already imported") for row in result["skipped"])
    return 0 if before else 1


def show(result: dict[str, Any]) -> None:
    from modelsnap.cli.output import make_console

    console = make_console(highlight=False, soft_wrap=True)
    for row in result["imported"]:
        console.print(
            f"imported: run {row['run_id']} ({row['model_uri']}) as {row['name']}: "
            f"snapshot {row['snapshot_id']}",
            markup=False,
        )
    for row in result["skipped"]:
        model = f" ({row['model_uri']})" if row.get("model_uri") else ""
        console.print(f"skipped: run {row['run_id']}{model}: {row['reason']}", markup=False)
    console.print(
        f"imported {len(result['imported'])} model(s), skipped {len(result['skipped'])}, "
        f"from {result['tracking_uri']}",
        markup=False,
    )
