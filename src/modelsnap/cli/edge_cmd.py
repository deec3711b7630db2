"""``modelsnap edge DIR``: run the current edge-case file over every snapshot's model.

Checklist step 4 after the fact: when the edge-case set grows, every model already evaluated is
re-checked from its hash-checked artifact, and the outcome is recorded as a new
``edge_runs/<run-id>.toml`` (own timestamp, the file's sha256). Snapshots are never altered;
ranking reads the newest run through ``core.evaluation.edgecases.latest_edge_results``.

Output: a case-by-model matrix ("ok", or what the model predicted instead). Exit code 0 when
every snapshot could be run, 1 when some artifact could not be loaded (it is named on stderr;
the others are still run and recorded), 2 for a bad project or edge-case file.
"""

from __future__ import annotations

import argparse
from typing import Any

from modelsnap.cli.output import add_dir_argument, add_format_option


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "edge",
        help="run the edge-case file over every snapshot's model",
        description="Load every snapshot's model (hash-checked), run the project's current "
        "edge-case file ([data].edge_cases) through it and record the results in "
        "a new edge_runs/<run-id>.toml. Snapshots are never changed.",
    )
    add_dir_argument(parser)
    add_format_option(parser)
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    from pathlib import Path

    from modelsnap.api.edge import run_edge_cases
    from modelsnap.cli.output import print_json, print_warning
    from modelsnap.core.errors import PathError

    root = Path(args.dir).expanduser()
    if not root.is_dir():
        raise PathError(
            "no such project folder",
            where=str(root),
            hint="give the folder that holds modelsnap.toml",
        )
    record = _run_with_progress(root, run_edge_cases)
    for problem in record.get("problems", []):
        print_warning(f"skipped: {problem}")
    errors = [r for r in record["result"] if "error" in r]
    for result in errors:
        print_warning(f"{result['snapshot_id']}: {result['error']}")
    if args.format == "json":
        print_json({k: v for k, v in record.items() if k != "problems"})
    else:
        _print_matrix(record)
    return 1 if errors else 0


def _run_with_progress(root: Any, run_edge_cases: Any) -> dict[str, Any]:
    """A transient progress bar on stderr when it is a terminal; silent otherwise (scripts)."""
    import sys

    if not sys.stderr.isatty():
        return run_edge_cases(root)
    from rich.progress import Progress

    from modelsnap.cli.output import make_console

    with Progress(console=make_console(stderr=True), transient=True) as progress:
        task = progress.add_task("edge cases", total=1.0)

        def update(fraction: float, message: str) -> None:
            progress.update(task, completed=fraction, description=message)

        return run_edge_cases(root, on_progress=update)


def _column_names(results: list[dict[str, Any]]) -> list[str]:
    """Model names as headers; a name used by several snapshots gets its id's last 4 hex."""
    names = [r.get("name") or r["snapshot_id"] for r in results]
    return [
        f"{name} {r['snapshot_id'][-4:]}" if names.count(name) > 1 else name
        for name, r in zip(names, results, strict=True)
    ]


def matrix_rows(record: dict[str, Any]) -> list[list[str]]:
    """One row per case: case, severity, expected, then per snapshot "ok" / the wrong answer."""
    results = record["result"]
    failures = [
        {f["case"]: f for f in r.get("failures", [])} if "error" not in r else None for r in results
    ]
    rows = []
    for case in record["cases"]:
        cells = [str(case["case"]), case["severity"], _show(case["expected"])]
        for failed in failures:
            if failed is None:
                cells.append("-")
            elif case["case"] in failed:
                cells.append(_show(failed[case["case"]]["predicted"]))
            else:
                cells.append("ok")
        rows.append(cells)
    return rows


def _show(value: Any) -> str:
    return f"{value:.4g}" if isinstance(value, float) else str(value)


def _print_matrix(record: dict[str, Any]) -> None:
    from rich.markup import escape
    from rich.table import Table

    from modelsnap.cli.output import make_console

    results = record["result"]
    table = Table(
        title=escape(f"edge cases: {record['file']} ({len(record['cases'])} cases)"),
        caption=escape(f"recorded {record['path']}"),
        caption_justify="left",
    )
    table.add_column("case", overflow="fold", min_width=16)
    table.add_column("severity", no_wrap=True)
    table.add_column("expected", overflow="fold")
    for name in _column_names(results):
        table.add_column(escape(name), justify="center", overflow="fold")
    for cells in matrix_rows(record):
        style = "bold red" if cells[1] == "must-pass" else "red"
        table.add_row(
            *(escape(cell) for cell in cells[:3]),
            *(cell if cell in ("ok", "-") else f"[{style}]{escape(cell)}[/]" for cell in cells[3:]),
        )
    summary = []
    for result in results:
        if "error" in result:
            summary.append("[red]not run[/]")
        else:
            text = f"{result['n_passed']}/{result['n_cases']}"
            if result["must_pass_failed"]:
                text += f" [bold red]({result['must_pass_failed']} must-pass failed)[/]"
            summary.append(text)
    table.add_section()
    table.add_row("passed", "", "", *summary)
    make_console(highlight=False).print(table)
