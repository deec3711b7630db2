"""``modelsnap diff DIR ID1 ID2``: what differs between two snapshots, numbers with deltas.

Only differing values are shown unless ``--all``. It also says when the two are not comparable
(another data set or split) and when their resource figures come from different hardware, because
a latency delta between two machines says nothing about the models. Fast path: no pandas/sklearn.
"""

from __future__ import annotations

import argparse
import math
from dataclasses import asdict, dataclass
from typing import Any

from modelsnap.cli.output import add_dir_argument, add_format_option


@dataclass(frozen=True)
class DiffRow:
    """One compared value. ``delta``/``relative`` only for two numbers; ``better`` names the
    snapshot ("a" or "b") whose value is better when the measure has a direction."""

    section: str
    key: str
    a: Any
    b: Any
    same: bool
    delta: float | None = None
    relative: float | None = None
    better: str | None = None


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "diff",
        help="compare two snapshots",
        description="Compare two snapshots: metrics, params, resources, environment and "
        "hardware, with deltas (ID2 - ID1). Only differences unless --all. IDs may "
        "be unique prefixes.",
    )
    add_dir_argument(parser)
    parser.add_argument("id1", metavar="ID1", help="the first snapshot (the reference)")
    parser.add_argument("id2", metavar="ID2", help="the second snapshot")
    parser.add_argument("--all", action="store_true", help="show equal values too")
    add_format_option(parser)
    parser.set_defaults(handler=run)


def _table(snapshot: dict[str, Any], key: str) -> dict[str, Any]:
    value = snapshot.get(key)
    return value if isinstance(value, dict) else {}


def _number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def _split_key(flat_key: str) -> tuple[str, str]:
    """ "metrics.validation.f1" -> ("metrics", "validation.f1"); model params get their own
    section; top-level keys (name, version, ...) belong to "snapshot"."""
    if flat_key.startswith("model.params."):
        return "params", flat_key[len("model.params.") :]
    if "." not in flat_key:
        return "snapshot", flat_key
    section, key = flat_key.split(".", 1)
    return section, key


def _direction(section: str, key: str) -> str | None:
    from modelsnap.core.measures import MEASURE_DIRECTIONS

    if section == "metrics" and not key.startswith("test_ci."):
        return MEASURE_DIRECTIONS.get(key.rsplit(".", 1)[-1])
    if section == "resources":
        return MEASURE_DIRECTIONS.get(key)
    return None


def compare(a: dict[str, Any], b: dict[str, Any], *, include_equal: bool = False) -> list[DiffRow]:
    """Every differing value (or every value) of two snapshots, in document order.

    The key-by-key diff is ``core.reporting.snapshot_diff`` (shared with the TUI's review screen);
    this adds the section, the numeric delta and which side is better for measures with a direction.
    Ids, timestamps and artifact paths/hashes always differ and are left out unless ``--all``.
    """
    from modelsnap.core.reporting.snapshot_diff import MISSING, diff_snapshots

    rows: list[DiffRow] = []
    for line in diff_snapshots(a, b, show_all=include_equal):
        section, key = _split_key(line.key)
        left = None if line.left is MISSING else line.left
        right = None if line.right is MISSING else line.right
        delta = relative = better = None
        if _number(left) and _number(right):
            delta = right - left
            relative = line.relative_change
            direction = _direction(section, key)
            if direction and delta:
                better = "b" if (delta > 0) == (direction == "max") else "a"
        rows.append(DiffRow(section, key, left, right, line.same, delta, relative, better))
    return rows


def warnings_for(a: dict[str, Any], b: dict[str, Any]) -> list[str]:
    """Why a delta may mean nothing: other data or split, other hardware, other criteria."""
    found = []
    data_a, data_b = _table(a, "data"), _table(b, "data")
    for key, what in (("dataset_sha256", "data set"), ("split_sha256", "split")):
        if data_a.get(key) != data_b.get(key):
            found.append(f"not comparable: the {what} differs ({key})")
    hw_a, hw_b = _table(a, "hardware").get("fingerprint"), _table(b, "hardware").get("fingerprint")
    if hw_a != hw_b:
        found.append(
            "resources measured on different hardware: latency/memory deltas are not "
            "about the models alone"
        )
    if a.get("criteria_revision") != b.get("criteria_revision"):
        found.append("judged under different criteria revisions")
    return found


def _show(value: Any, key: str = "") -> str:
    from modelsnap.cli.render import plain

    if value is None:
        return "(absent)"
    if key.endswith("sha256") and isinstance(value, str):
        return value[:12] + "…"
    return plain(value, digits=4)  # --format json has every digit


def _delta_text(row: DiffRow) -> str:
    if row.delta is None:
        return ""
    both_int = isinstance(row.a, int) and isinstance(row.b, int)
    text = f"{row.delta:+,d}" if both_int else f"{row.delta:+.4g}"
    if row.relative is not None:
        text += f" ({row.relative:+.1%})"
    return text


def render(a: dict[str, Any], b: dict[str, Any], rows: list[DiffRow], notes: list[str]) -> None:
    from rich.table import Table
    from rich.text import Text

    from modelsnap.cli.output import make_console
    from modelsnap.cli.render import section_rank

    console = make_console(highlight=False)
    if not console.is_terminal:
        console.width = max(console.width, 120)
    console.print(Text(f"a = {a['id']}\nb = {b['id']}"))
    for note in notes:
        console.print(Text(f"warning: {note}", style="yellow"))
    if not rows:
        console.print("no differences")
        return
    # one small table per section, metrics first: the section is a heading, not a column, so
    # the values keep their width at 80 columns
    from itertools import groupby

    ordered = sorted(rows, key=lambda r: section_rank(r.section))
    for section, group in groupby(ordered, key=lambda r: r.section):
        console.print(Text(f"[{section}]", style="bold"))
        table = Table(
            box=None, pad_edge=False, header_style="bold", padding=(0, 1), show_edge=False
        )
        table.add_column("key", overflow="fold", min_width=12, style="")
        table.add_column("a", justify="right", overflow="fold", min_width=8)
        table.add_column("b", justify="right", overflow="fold", min_width=8)
        table.add_column("b - a", justify="right", no_wrap=True)
        for row in group:
            style = {"b": "green", "a": "red"}.get(row.better or "", "")
            table.add_row(
                row.key,
                Text(_show(row.a, row.key)),
                Text(_show(row.b, row.key)),
                Text(_delta_text(row), style=style),
            )
        console.print(table)


def run(args: argparse.Namespace) -> int:
    from modelsnap.cli.output import print_json, project_root
    from modelsnap.core.records.store import find_snapshot, read_snapshot

    root = project_root(args.dir)
    a = read_snapshot(root, find_snapshot(root, args.id1))
    b = read_snapshot(root, find_snapshot(root, args.id2))
    rows = compare(a, b, include_equal=args.all)
    notes = warnings_for(a, b)
    if args.format == "json":
        print_json(
            {
                "a": a["id"],
                "b": b["id"],
                "comparable": not any(n.startswith("not comparable") for n in notes),
                "warnings": notes,
                "rows": [asdict(row) for row in rows],
            }
        )
    else:
        render(a, b, rows, notes)
    return 0
