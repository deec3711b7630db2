"""``modelsnap show DIR ID``: every table of one snapshot, laid out vertically.

The id may be any unique prefix. ``--format toml`` prints the file exactly as stored (the record
is the truth); ``--format json`` the parsed document. Fast path: no pandas, no scikit-learn.
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from modelsnap.cli.output import add_dir_argument, add_format_option


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "show", help="show one snapshot in full",
        description="Show every table of one snapshot. ID may be any unique prefix of the id.",
    )
    add_dir_argument(parser)
    parser.add_argument("id", metavar="ID", help="snapshot id or a unique prefix of it")
    add_format_option(parser, choices=("table", "json", "toml"))
    parser.set_defaults(handler=run)


def format_value(value: Any) -> str:
    """One cell: floats to 6 significant digits, arrays and inline tables as compact JSON."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return f"{value:.6g}"
    if isinstance(value, (list, dict)):
        return json.dumps(value, ensure_ascii=False, default=str, separators=(", ", ": "))
    return str(value)


def _is_table_list(value: Any) -> bool:
    return isinstance(value, list) and bool(value) and all(isinstance(v, dict) for v in value)


def _flatten(table: dict[str, Any], prefix: str = "") -> list[tuple[str, Any]]:
    """Scalars and arrays as (dotted key, value); sub-tables are walked into."""
    rows: list[tuple[str, Any]] = []
    for key, value in table.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict) and value and key != "params":
            rows.extend(_flatten(value, f"{name}."))
        else:
            rows.append((name, value))
    return rows


def _metrics_table(metrics: dict[str, Any]):
    """Metrics side by side: one row per metric, one column per split (and the test CI)."""
    from rich.table import Table

    splits = [s for s in ("validation", "test") if isinstance(metrics.get(s), dict)]
    ci = metrics.get("test_ci") if isinstance(metrics.get("test_ci"), dict) else {}
    names: list[str] = []
    for split in splits:
        names += [n for n in metrics[split] if n not in names]
    table = Table(box=None, pad_edge=False, header_style="bold")
    table.add_column("metric")
    for split in splits:
        table.add_column(split, justify="right")
    if ci:
        table.add_column("test 95% CI", justify="right")
    for name in names:
        cells = [format_value(metrics[s][name]) if name in metrics[s] else "-" for s in splits]
        if ci:
            pair = ci.get(name)
            cells.append(f"[{pair[0]:.4g}, {pair[1]:.4g}]" if isinstance(pair, list)
                         and len(pair) == 2 else "-")
        table.add_row(name, *cells)
    return table


def _section(name: str, table: dict[str, Any]):
    """A key/value grid; arrays of tables (groups, failures, top features) as small tables."""
    from rich.console import Group
    from rich.padding import Padding
    from rich.table import Table
    from rich.text import Text

    grid = Table.grid(padding=(0, 2))
    grid.add_column(style="bold")
    grid.add_column()
    nested = []
    for key, value in _flatten(table):
        if _is_table_list(value):
            nested.append((key, value))
        else:
            grid.add_row(key, format_value(value))
    parts: list[Any] = [grid] if grid.row_count else []
    for key, items in nested:
        sub = Table(box=None, pad_edge=False, header_style="bold")
        columns: list[str] = []
        for item in items:
            columns += [c for c in item if c not in columns]
        for column in columns:
            sub.add_column(column)
        for item in items:
            sub.add_row(*(format_value(item[c]) if c in item else "-" for c in columns))
        parts += [Text(f"{name}.{key}:", style="bold"), Padding(sub, (0, 0, 0, 2), expand=False)]
    return Group(*parts)


def render(snapshot: dict[str, Any]) -> None:
    from rich.rule import Rule
    from rich.text import Text

    from modelsnap.cli.output import make_console

    console = make_console(highlight=False)
    if not console.is_terminal:
        console.width = max(console.width, 120)
    header = {k: v for k, v in snapshot.items() if not isinstance(v, dict)}
    console.print(Rule(Text(f"snapshot {snapshot.get('id', '')}"), align="left"))
    console.print(_section("snapshot", header))
    for key, value in snapshot.items():
        if not isinstance(value, dict):
            continue
        console.print(Rule(Text(f"[{key}]"), align="left"))
        if key == "metrics":
            console.print(_metrics_table(value))
        else:
            console.print(_section(key, value))


def run(args: argparse.Namespace) -> int:
    from modelsnap.cli.ls_cmd import project_root
    from modelsnap.cli.output import print_json
    from modelsnap.core.store import find_snapshot, read_snapshot, snapshot_path

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
