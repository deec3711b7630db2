"""``modelsnap run DIR``: train, evaluate, profile and snapshot the project's models.

Each model runs in its own worker process (``modelsnap.profiler``); this module only turns the
worker's progress events into a rich display on stderr and the outcomes into a summary (table or
JSON on stdout). A failed model is reported with its reason and the others still run; the exit
code is non-zero when any failed.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from modelsnap.cli.output import add_dir_argument, add_format_option, print_json
from modelsnap.cli.progress import ProgressDisplay


def positive_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, found {text!r}") from None
    if not value > 0 or value == float("inf"):
        raise argparse.ArgumentTypeError(f"expected a number > 0, found {text!r}")
    return value


def positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, found {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a whole number >= 1, found {text!r}")
    return value


def add_run_options(parser: argparse.ArgumentParser) -> None:
    """The measurement and limit options ``run`` and ``profile`` share."""
    parser.add_argument(
        "--timeout",
        type=positive_float,
        metavar="S",
        help="wall-clock limit per model in seconds (default: [run] or 600)",
    )
    parser.add_argument(
        "--memory-limit",
        type=positive_float,
        metavar="MB",
        help="memory ceiling per model, RSS of its process tree (default: [run] or 4096)",
    )
    parser.add_argument(
        "--latency-trials",
        type=positive_int,
        metavar="N",
        help="timed single-row predictions (default: [run].latency_trials or 300)",
    )
    parser.add_argument(
        "--batch-size",
        type=positive_int,
        metavar="N",
        help="rows per batch for batch latency and throughput (default: min(256, validation rows))",
    )


def scheduler_address(text: str) -> str:
    from modelsnap.core.errors import ProjectFileError
    from modelsnap.core.project.parse import check_scheduler_address

    try:
        return check_scheduler_address(text, "--scheduler")
    except ProjectFileError:
        raise argparse.ArgumentTypeError(
            f"expected a Dask scheduler address such as tcp://10.0.0.5:8786, found {text!r}"
        ) from None


def add_executor_options(parser: argparse.ArgumentParser) -> None:
    """Where the fits run (docs/distributed.md); profiling always happens here."""
    parser.add_argument(
        "--executor",
        choices=("local", "dask"),
        help="fit here (local, the default) or on a Dask cluster (dask; needs modelsnap[dask]); "
        "latency and memory are always measured on this machine (default: [run].executor)",
    )
    parser.add_argument(
        "--scheduler",
        type=scheduler_address,
        metavar="ADDR",
        help="the Dask scheduler, e.g. tcp://10.0.0.5:8786 (implies --executor dask; "
        "default: [run].scheduler)",
    )


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "run",
        help="train, evaluate, profile and snapshot models",
        description=(
            "Fit each model on the frozen split in an isolated worker process, compute its "
            "metrics, measure latency, throughput, memory and size, check the constraints and "
            "write one snapshot per model. Without --baseline/--candidate: the baseline, then "
            "every candidate. Candidates need locked criteria (modelsnap lock DIR)."
        ),
    )
    add_dir_argument(parser)
    parser.add_argument("--baseline", action="store_true", help="run the baseline")
    parser.add_argument(
        "--candidate",
        action="extend",
        nargs="+",
        metavar="NAME",
        dest="candidates",
        help="run this candidate (repeatable)",
    )
    add_run_options(parser)
    add_executor_options(parser)
    parser.add_argument(
        "--trust-code",
        action="append",
        default=[],
        metavar="MODULE",
        help="run this module from the project folder (an estimator such as mymodels.MyModel "
        "that lives beside modelsnap.toml); code that came with a folder never runs otherwise. "
        "Read it first (repeatable; also $MODELSNAP_TRUST_CODE)",
    )
    parser.add_argument(
        "--version",
        metavar="TAG",
        dest="tag",
        help="version tag recorded in the snapshots (default: the model's, or v1)",
    )
    add_format_option(parser)
    parser.set_defaults(handler=handle)


def overrides_from(args: argparse.Namespace) -> Any:
    from modelsnap.profiler.job_specs import Overrides

    return Overrides(
        timeout_seconds=args.timeout,
        memory_limit_mb=args.memory_limit,
        latency_trials=args.latency_trials,
        batch_size=args.batch_size,
        version=getattr(args, "tag", None),
        executor=getattr(args, "executor", None),
        scheduler=getattr(args, "scheduler", None),
    )


def outcome_json(outcome: Any) -> dict[str, Any]:
    entry: dict[str, Any] = {
        "name": outcome.name,
        "kind": outcome.kind,
        "ok": outcome.ok,
        "reason": outcome.reason,
        "warnings": list(outcome.warnings or []),
    }
    if outcome.ok:
        entry["snapshot_id"] = outcome.snapshot["id"]
    else:
        error = outcome.error
        entry["error"] = {
            "type": type(error).__name__,
            "message": error.message,
            "where": error.where,
            "hint": error.hint,
        }
    return entry


def _figure(value: Any, fmt: str) -> str:
    return format(value, fmt) if isinstance(value, (int, float)) else "-"


def summary_table(outcomes: list[Any], primary: str | None, width: int | None = None) -> Any:
    """Figures per model; snapshot ids are listed under the table (they are too wide for it).

    Figures are never cut: each figure column is exactly as wide as its widest cell, and when
    the terminal is too narrow the least important columns go first (peak MB, rows/s, size,
    kind); the model name and status wrap instead.
    """
    from rich import box
    from rich.table import Table

    metric_header = primary or "primary"
    figures = [metric_header, "p95 ms", "rows/s", "size MB", "peak MB"]
    rows: list[tuple[str, str, str, list[str]]] = []
    for outcome in outcomes:
        if outcome.ok:
            snap = outcome.snapshot
            res = snap.get("resources", {})
            metrics = snap.get("metrics", {}).get("validation", {})
            metric = primary or ("r2" if snap.get("data", {}).get("task") == "regression" else "f1")
            failed = [k for k, v in snap.get("constraints", {}).items() if v.get("ok") is False]
            status = "ok" if not failed else f"ok, over: {', '.join(failed)}"
            rows.append(
                (
                    outcome.name,
                    outcome.kind,
                    status,
                    [
                        _figure(metrics.get(metric), ".4f"),
                        _figure(res.get("latency_p95_ms"), ".3f"),
                        _figure(res.get("throughput_rows_per_s"), ",.0f"),
                        _figure(res.get("size_mb"), ".3f"),
                        _figure(res.get("peak_memory_mb"), ".1f"),
                    ],
                )
            )
        else:
            rows.append(
                (
                    outcome.name,
                    outcome.kind,
                    f"[red]failed: {outcome.reason}[/]",
                    ["-"] * len(figures),
                )
            )
    widths = [
        max([len(header)] + [len(cells[i]) for *_, cells in rows])
        for i, header in enumerate(figures)
    ]
    keep = list(range(len(figures)))
    show_kind = True
    if width is not None:

        def needed() -> int:
            longest = max([len(name) for name, *_ in rows] + [8])
            text = min(longest, 24) + 2 + 16 + (9 + 2 if show_kind else 0)
            return text + sum(widths[i] + 2 for i in keep)

        for drop in (4, 2, 3):  # peak MB, rows/s, size MB
            if needed() <= width:
                break
            keep.remove(drop)
        if needed() > width:
            show_kind = False
    table = Table(title="runs", title_justify="left", box=box.SIMPLE_HEAD, pad_edge=False)
    table.add_column("model", overflow="fold", min_width=8)
    if show_kind:
        table.add_column("kind", no_wrap=True, min_width=9)
    table.add_column("status", overflow="fold", min_width=8)
    for i in keep:
        table.add_column(figures[i], justify="right", no_wrap=True, width=widths[i])
    for name, kind, status, cells in rows:
        table.add_row(name, *([kind] if show_kind else []), status, *(cells[i] for i in keep))
    return table


def exit_code(outcomes: list[Any]) -> int:
    failed = [o.error.exit_code for o in outcomes if not o.ok and o.error is not None]
    return max(failed) if failed else 0


def report(outcomes: list[Any], args: argparse.Namespace, primary: str | None) -> int:
    from modelsnap.cli.output import make_console, print_error

    if args.format == "json":
        print_json({"runs": [outcome_json(o) for o in outcomes]})
    else:
        console = make_console(highlight=False)
        console.print(summary_table(outcomes, primary, width=console.width))
        for outcome in outcomes:
            if outcome.ok:
                console.print(f"{outcome.name}: snapshot {outcome.snapshot['id']}")
    for outcome in outcomes:
        if not outcome.ok:
            print_error(outcome.error)
    return exit_code(outcomes)


def handle(args: argparse.Namespace) -> int:
    import sys

    from modelsnap.core.project.parse import load_project
    from modelsnap.profiler.jobs import run_project

    if args.trust_code:
        import os

        from modelsnap.core.evaluation.pipeline import TRUST_CODE_ENV, trusted_code

        # The environment carries the names to the worker processes, which import the models.
        names = sorted(trusted_code() | {name.strip() for name in args.trust_code})
        os.environ[TRUST_CODE_ENV] = ",".join(names)
    config = load_project(Path(args.dir))
    display = ProgressDisplay(enabled=args.format == "table" and sys.stderr.isatty())
    with display.live():
        outcomes = run_project(
            config,
            args.candidates,
            args.baseline,
            overrides=overrides_from(args),
            on_start=display.start,
            on_event=display.event,
            on_warning=display.warning,
            on_finish=display.finish,
        )
    return report(outcomes, args, config.selection.primary_metric)
