"""``modelsnap profile DIR ID``: profile an existing snapshot's artifact again, on this machine.

The artifact is hash-checked and loaded in the worker; latency, throughput, predict memory,
environment and hardware are measured anew and written as a new snapshot with
``reprofile_of = ID`` (metrics copied). Comparing the two (``modelsnap diff``) shows what a
different machine or library version does to the same model.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from modelsnap.cli.output import add_dir_argument, add_format_option, print_json
from modelsnap.cli.progress import ProgressDisplay
from modelsnap.cli.run_cmd import add_run_options, overrides_from

COMPARED = (
    ("latency_p50_ms", "p50 ms", ".3f"),
    ("latency_p95_ms", "p95 ms", ".3f"),
    ("latency_p99_ms", "p99 ms", ".3f"),
    ("latency_model_p95_ms", "model alone p95 ms", ".3f"),
    ("preprocess_share", "preprocessing share", ".1%"),
    ("throughput_rows_per_s", "rows/s", ",.0f"),
    ("peak_memory_predict_mb", "predict peak MB", ".1f"),
)


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "profile",
        help="re-profile a snapshot's model on this machine",
        description=(
            "Load snapshot ID's artifact (hash-checked), measure latency, throughput and memory "
            "again here, and write a new snapshot with reprofile_of = ID. Metrics are copied."
        ),
    )
    add_dir_argument(parser)
    parser.add_argument("id", metavar="ID", help="snapshot id (or a unique prefix of it)")
    add_run_options(parser)
    parser.add_argument(
        "--trust",
        action="append",
        metavar="TYPE",
        default=[],
        help="load this non-scikit-learn type from the artifact (repeatable); "
        "only for artifacts you know the origin of",
    )
    add_format_option(parser)
    parser.set_defaults(handler=handle)


def comparison(original: dict[str, Any], new: dict[str, Any]) -> dict[str, Any]:
    """Before/after figures plus what changed about the machine and the libraries."""
    before, after = original.get("resources", {}), new.get("resources", {})
    figures = {key: {"original": before.get(key), "now": after.get(key)} for key, _, _ in COMPARED}
    old_packages = original.get("environment", {}).get("packages", {})
    new_packages = new.get("environment", {}).get("packages", {})
    packages = {
        name: {"original": old_packages.get(name), "now": new_packages.get(name)}
        for name in sorted(set(old_packages) | set(new_packages))
        if old_packages.get(name) != new_packages.get(name)
    }
    old_hw, new_hw = original.get("hardware", {}), new.get("hardware", {})
    return {
        "original_id": original["id"],
        "snapshot_id": new["id"],
        "figures": figures,
        "same_hardware": old_hw.get("fingerprint") == new_hw.get("fingerprint"),
        "hardware": {"original": old_hw.get("cpu"), "now": new_hw.get("cpu")},
        "changed_packages": packages,
    }


def _show(value: Any, fmt: str) -> str:
    return format(value, fmt) if isinstance(value, (int, float)) else "-"


def handle(args: argparse.Namespace) -> int:
    import sys

    from rich.table import Table

    from modelsnap.cli.output import make_console
    from modelsnap.core.project.parse import load_project
    from modelsnap.core.records.store import find_snapshot, read_snapshot
    from modelsnap.profiler.jobs import reprofile

    root = Path(args.dir)
    config = load_project(root)
    original = read_snapshot(root, find_snapshot(root, args.id))
    display = ProgressDisplay(enabled=args.format == "table" and sys.stderr.isatty())
    overrides = overrides_from(args)
    with display.live():
        display.start(original["name"], original["kind"])
        new = reprofile(
            config,
            original["id"],
            overrides=overrides,
            trusted=args.trust,
            on_event=lambda event: display.event(original["name"], event),
            on_warning=lambda text: display.warning(original["name"], text),
        )
    result = comparison(original, new)
    if args.format == "json":
        print_json(result)
        return 0
    table = Table(title=f"{new['id']} (re-profile of {original['id']})", title_justify="left")
    for column in ("measure", "original", "now"):
        table.add_column(column)
    for key, label, fmt in COMPARED:
        table.add_row(
            label,
            _show(result["figures"][key]["original"], fmt),
            _show(result["figures"][key]["now"], fmt),
        )
    console = make_console(highlight=False)
    console.print(table)
    if not result["same_hardware"]:
        console.print(f"hardware: {result['hardware']['original']} -> {result['hardware']['now']}")
    for name, change in result["changed_packages"].items():
        console.print(f"{name}: {change['original'] or '-'} -> {change['now'] or '-'}")
    return 0
