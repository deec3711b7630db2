"""``modelsnap monitor DIR --data new.csv``: hold the decided model to its snapshot.

The decided snapshot's model (the latest decision, or ``--decision D0001``) is evaluated in the
worker process on new labelled data with the project's columns. Each metric is placed against
the snapshot's test figure and 95 % interval; each feature's drift is measured against the
training split (PSI for numeric columns, category shares for the others) and so is the label;
``--profile-latency`` re-measures the p95 latency against the decision's criteria revision.
The outcome is recorded in ``monitoring/<timestamp>-<hex>.toml``, sealed in ledger.toml
(``core.followup.monitoring``).

Exit code: 0 the decision holds; 1 degraded or drifted (past the ``[monitoring]`` thresholds),
so it can run from cron or CI; 2 bad input (columns that don't match, no target, too few rows,
no decision yet, an unknown decision id).
"""

from __future__ import annotations

import argparse
from typing import Any

from modelsnap.cli.output import add_dir_argument, add_format_option

VERDICT_STYLE = {"holds": "bold green", "degraded": "bold red", "drifted": "bold yellow"}
STATUS_STYLE = {"drift": "red", "watch": "yellow", "stable": "green"}


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "monitor",
        help="hold the decided model to its snapshot on new labelled data",
        description="Evaluate the decided snapshot's model on new labelled data: each metric "
        "against the snapshot's test figure and 95 %% interval, input drift per "
        "feature and label shift against the training split, optionally the p95 "
        "latency against the decision's limits. Records monitoring/<id>.toml. "
        "Exit 0 holds, 1 degraded or drifted, 2 bad input.",
    )
    add_dir_argument(parser)
    parser.add_argument(
        "--data",
        required=True,
        metavar="FILE",
        help="new labelled data: a CSV with the project's columns and target",
    )
    parser.add_argument(
        "--decision",
        default=None,
        metavar="ID",
        help="the decision to hold (default: the latest), e.g. D0001",
    )
    parser.add_argument(
        "--profile-latency",
        action="store_true",
        help="re-measure the single-row p95 latency on this machine and check "
        "it against the decision's criteria revision",
    )
    parser.add_argument(
        "--trust",
        action="append",
        metavar="TYPE",
        default=[],
        help="load this non-scikit-learn type from the artifact (repeatable)",
    )
    add_format_option(parser)
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    from pathlib import Path

    from modelsnap.api.monitoring import monitor
    from modelsnap.cli.output import print_json, project_root

    root = project_root(args.dir)
    record = monitor(
        root,
        Path(args.data).expanduser(),
        decision_id=args.decision,
        profile_latency=args.profile_latency,
        trusted=args.trust,
    )
    code = int(record.pop("exit_code"))
    if args.format == "json":
        print_json(record)
    else:
        print_record(record)
    return code


def _number(value: Any) -> str:
    return f"{value:.4g}" if isinstance(value, (int, float)) else str(value)


def print_record(record: dict[str, Any]) -> None:
    from rich.markup import escape
    from rich.table import Table

    from modelsnap.cli.output import make_console

    console = make_console(highlight=False)
    data = record["data"]
    console.print(
        escape(
            f"decision {record['decision_id']}: snapshot {record['snapshot_id']} "
            f"({record['snapshot_name']}), criteria revision {record['criteria_revision']}; "
            f"new data {data['file']} ({data['n_rows']} rows, sha256 {data['sha256'][:12]}...)"
        )
    )
    perf = Table(title="performance against the snapshot's test figures")
    for name in ("metric", "new", "test", "test 95 % interval", "status"):
        perf.add_column(name, justify="left" if name in ("metric", "status") else "right")
    for entry in record["performance"]:
        interval = entry.get("test_ci")
        status = entry["status"] + (f" by {entry['by']:.4g}" if entry["by"] else "")
        if entry.get("degraded"):
            style, status = "red", status + " (degraded)"
        elif entry["worse"]:
            style, status = "yellow", status + " (within noise)"
        else:
            style = "green" if entry["status"] == "inside" else "cyan"
        perf.add_row(
            escape(entry["metric"]),
            _number(entry["new"]),
            _number(entry["test"]),
            f"[{interval[0]:.4g}, {interval[1]:.4g}]" if interval else "-",
            f"[{style}]{escape(status)}[/]",
        )
    console.print(perf)
    drift = Table(title="input drift against the training split")
    for name in ("feature", "kind", "figure", "status"):
        drift.add_column(name)
    for entry in record["drift"]:
        if entry["kind"] == "numeric":
            figure = (
                f"PSI {entry['psi']:.3f} (mean {entry['mean_train']:.4g} -> "
                f"{entry['mean_new']:.4g})"
            )
        else:
            figure = f"largest share change {entry['change']:+.3f} ({entry['category']})"
            if entry["new_categories"]:
                figure += f"; new: {', '.join(entry['new_categories'])}"
        style = STATUS_STYLE.get(entry["status"], "")
        drift.add_row(
            escape(entry["feature"]),
            entry["kind"],
            escape(figure),
            f"[{style}]{entry['status']}[/]",
        )
    label = record["label_shift"]
    figure = (
        f"PSI {label['psi']:.3f}"
        if label["kind"] == "target psi"
        else f"largest class share change {label['change']:+.3f} ({label['category']})"
    )
    drift.add_row(
        "(label)",
        label["kind"],
        escape(figure),
        f"[{STATUS_STYLE.get(label['status'], '')}]{label['status']}[/]",
    )
    console.print(drift)
    latency = record.get("latency")
    if latency:
        limit = (
            (
                f"limit {latency['limit_ms']:g} ms: "
                + ("ok" if latency["ok"] else f"over by {latency['over']:.4g} ms")
            )
            if "limit_ms" in latency
            else latency["note"]
        )
        console.print(
            escape(
                f"p95 latency now {latency['p95_ms']:.4g} ms (snapshot "
                f"{latency['snapshot_p95_ms']:.4g} ms); {limit}"
            )
        )
    verdict = record["verdict"]
    console.print(f"verdict: [{VERDICT_STYLE[verdict]}]{verdict}[/]")
    for reason in record["reasons"]:
        console.print(escape(f"  - {reason}"))
    for note in record.get("notes", []):
        console.print(escape(f"  note: {note}"))
    if record.get("next_step"):
        console.print(escape(f"next: {record['next_step']}"))
    console.print(escape(f"recorded {record['path']}"))
