"""``modelsnap show DIR ID``: every table of one snapshot, metrics first, provenance last.

The id may be any unique prefix. ``--format toml`` prints the file exactly as stored (the record
is the truth); ``--format json`` the parsed document. Fast path: no pandas, no scikit-learn.
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

from modelsnap.cli.output import add_dir_argument, add_format_option


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "show",
        help="show one snapshot in full",
        description="Show every table of one snapshot. ID may be any unique prefix of the id.",
    )
    add_dir_argument(parser)
    parser.add_argument("id", metavar="ID", help="snapshot id or a unique prefix of it")
    add_format_option(parser, choices=("table", "json", "toml"))
    parser.set_defaults(handler=run)


def _metrics_table(metrics: dict[str, Any]):
    """Metrics side by side: one row per metric, one column per split (and the test CI)."""
    from rich.table import Table

    from modelsnap.cli.render import number

    splits = [s for s in ("validation", "test") if isinstance(metrics.get(s), dict)]
    ci = metrics.get("test_ci") if isinstance(metrics.get("test_ci"), dict) else {}
    names: list[str] = []
    for split in splits:
        names += [n for n in metrics[split] if n not in names]
    table = Table(box=None, pad_edge=False, header_style="bold")
    table.add_column("metric", no_wrap=True)
    for split in splits:
        table.add_column(split, justify="right", no_wrap=True)
    if ci:
        table.add_column("test 95% CI", justify="right", no_wrap=True)

    def cell(value: Any) -> str:
        return (
            f"{value:.4f}"
            if isinstance(value, float) and abs(value) < 1e4
            else number(value)
            if isinstance(value, (int, float))
            else "-"
        )

    for name in names:
        cells = [cell(metrics[s].get(name)) for s in splits]
        if ci:
            pair = ci.get(name)
            cells.append(
                f"[{pair[0]:.4f}, {pair[1]:.4f}]"
                if isinstance(pair, list)
                and len(pair) == 2
                and all(isinstance(p, (int, float)) for p in pair)
                else "-"
            )
        table.add_row(name, *cells)
    if ci:
        from modelsnap.core.reporting.readable import ci_method_text

        table.caption = ci_method_text(metrics)
    return table


def _grid(rows: list[tuple[str, Any]]):
    from rich.table import Table
    from rich.text import Text

    from modelsnap.cli.render import plain

    grid = Table.grid(padding=(0, 2))
    grid.add_column(style="bold", no_wrap=True)
    grid.add_column()
    for key, value in rows:
        grid.add_row(key, Text(plain(value)))
    return grid


def _constraints_table(constraints: dict[str, Any]):
    """One row per constraint: measured value, limit, pass/fail and by how much it is over."""
    from rich.table import Table
    from rich.text import Text

    from modelsnap.cli.render import plain

    table = Table(box=None, pad_edge=False, header_style="bold")
    for header, justify in (
        ("constraint", "left"),
        ("value", "right"),
        ("limit", "right"),
        ("passes", "left"),
        ("over by", "right"),
    ):
        table.add_column(header, justify=justify, no_wrap=header != "constraint")
    for name, entry in constraints.items():
        if not isinstance(entry, dict):
            table.add_row(name, Text(plain(entry)), "", "", "")
            continue
        ok = entry.get("ok")
        mark = (
            Text("✓ yes", style="green")
            if ok is True
            else Text("✗ no", style="red")
            if ok is False
            else Text("-")
        )
        over = entry.get("over")
        table.add_row(
            name,
            plain(entry.get("value"), digits=4),
            plain(entry.get("limit"), digits=4),
            mark,
            plain(over, digits=4) if over else "",
        )
    return table


def _fairness(fairness: dict[str, Any]):
    """A summary row per sensitive column, its warnings, then each column's groups."""
    from rich.console import Group
    from rich.padding import Padding
    from rich.table import Table
    from rich.text import Text

    from modelsnap.cli.render import flatten, plain, small_table

    columns = fairness.get("columns") if isinstance(fairness.get("columns"), dict) else {}
    rest = [(k, v) for k, v in flatten({k: v for k, v in fairness.items() if k != "columns"})]
    parts: list[Any] = [_grid(rest)] if rest else []
    if columns:
        summary = Table(box=None, pad_edge=False, header_style="bold")
        for header, justify in (
            ("column", "left"),
            ("metric", "left"),
            ("metric gap", "right"),
            ("positive-rate gap", "right"),
        ):
            summary.add_column(header, justify=justify)
        for name, given in columns.items():
            entry = given if isinstance(given, dict) else {}
            summary.add_row(
                name,
                plain(entry.get("metric")),
                plain(entry.get("gap"), digits=4),
                plain(entry.get("positive_rate_gap"), digits=4),
            )
        parts.append(summary)
        for name, entry in columns.items():
            if not isinstance(entry, dict):
                continue
            for warning in entry.get("warnings") or []:
                parts.append(Text(f"warning ({name}): {warning}", style="yellow"))
            groups = entry.get("groups")
            if isinstance(groups, list) and groups and all(isinstance(g, dict) for g in groups):
                parts += [
                    Text(f"groups by {name}:", style="bold"),
                    Padding(small_table(groups), (0, 0, 0, 2), expand=False),
                ]
    return Group(*parts)


def _section(name: str, table: dict[str, Any]):
    """A key/value grid; arrays of tables (failures, top features) as small tables; long
    feature lists cut to the first few with "… N more"."""
    from rich.console import Group
    from rich.padding import Padding
    from rich.text import Text

    from modelsnap.cli.render import TOP_FEATURES, flatten, is_table_list, small_table

    if name == "constraints":
        return _constraints_table(table)
    if name == "fairness":
        return _fairness(table)
    scalars, nested = [], []
    for key, value in flatten(table):
        (nested if is_table_list(value) else scalars).append((key, value))
    parts: list[Any] = [_grid(scalars)] if scalars else []
    if name == "resources":
        from modelsnap.core.reporting.readable import latency_split_text

        split = latency_split_text(table)
        if split:
            parts.insert(0, Text(f"latency split: {split}"))
    for key, items in nested:
        features = key.endswith("features")
        limit = TOP_FEATURES if features else None
        title = (
            f"top {TOP_FEATURES} of {len(items)} features:"
            if features and len(items) > TOP_FEATURES
            else f"{key.replace('_', ' ')}:"
        )
        parts += [
            Text(title, style="bold"),
            Padding(small_table(items, limit=limit), (0, 0, 0, 2), expand=False),
        ]
        if limit is not None and len(items) > limit:
            parts.append(
                Text(f"  … {len(items) - limit} more (--format json lists them all)", style="dim")
            )
    return Group(*parts)


def _header(snapshot: dict[str, Any]):
    from rich.text import Text

    from modelsnap.cli.render import plain

    first = " · ".join(
        str(p)
        for p in (
            f"{snapshot.get('name', '?')} {snapshot.get('version', '')}".strip(),
            snapshot.get("kind"),
            f"criteria revision {snapshot['criteria_revision']}"
            if snapshot.get("criteria_revision") is not None
            else "criteria not locked",
            f"created {str(snapshot.get('created_at', '?'))[:19].replace('T', ' ')}",
        )
        if p
    )
    text = Text(first, style="bold")
    skip = {"schema", "id", "name", "version", "kind", "criteria_revision", "created_at"}
    for key, value in snapshot.items():
        if key in skip or isinstance(value, dict) or value in ("", None, []):
            continue
        text.append(f"\n{key}: ", style="bold")
        text.append(plain(value))
    return text


def render(snapshot: dict[str, Any]) -> None:
    """Metrics first, then resources, constraints, gain, fairness, interpretability, edge cases
    and checks; provenance (model, data, environment, hardware) last."""
    from rich.rule import Rule
    from rich.text import Text

    from modelsnap.cli.output import make_console
    from modelsnap.cli.render import section_rank

    console = make_console(highlight=False)
    if not console.is_terminal:
        console.width = max(console.width, 100)
    console.print(Rule(Text(f"snapshot {snapshot.get('id', '')}"), align="left"))
    console.print(_header(snapshot))
    sections = sorted((k for k, v in snapshot.items() if isinstance(v, dict)), key=section_rank)
    for key in sections:
        console.print(Rule(Text(f"[{key}]"), align="left"))
        if key == "metrics":
            console.print(_metrics_table(snapshot[key]))
        else:
            console.print(_section(key, snapshot[key]))


def run(args: argparse.Namespace) -> int:
    from modelsnap.cli.output import print_json, project_root
    from modelsnap.core.records.store import find_snapshot, read_snapshot, snapshot_path

    root = project_root(args.dir)
    snapshot_id = find_snapshot(root, args.id)
    snapshot = read_snapshot(root, snapshot_id)
    if args.format == "toml":
        from modelsnap.core.files import read_regular
        from modelsnap.core.text import printable

        raw = read_regular(snapshot_path(root, snapshot_id), what="snapshot")
        sys.stdout.write(printable(raw.decode("utf-8"), newlines=True))
    elif args.format == "json":
        print_json(snapshot)
    else:
        render(snapshot)
    return 0
