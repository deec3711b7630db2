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

# section -> how to take it from a snapshot; the order is the order shown.
SNAPSHOT_KEYS = ("name", "kind", "version", "created_at", "criteria_revision", "reprofile_of",
                 "notes")
MODEL_KEYS = ("estimator", "source", "size_bytes", "artifact_sha256")
DATA_KEYS = ("source", "target", "task", "dataset_sha256", "split_sha256", "seed", "n_train",
             "n_validation", "n_test", "classes", "positive_label")


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
        "diff", help="compare two snapshots",
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


def _table(snapshot: dict[str, Any], *path: str) -> dict[str, Any]:
    value: Any = snapshot
    for key in path:
        value = value.get(key) if isinstance(value, dict) else None
    return value if isinstance(value, dict) else {}


def _flat(table: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in table.items():
        if isinstance(value, dict):
            out.update(_flat(value, f"{prefix}{key}."))
        else:
            out[f"{prefix}{key}"] = value
    return out


def _sections(snapshot: dict[str, Any]) -> dict[str, dict[str, Any]]:
    model = _table(snapshot, "model")
    data = _table(snapshot, "data")
    metrics = _table(snapshot, "metrics")
    metric_values: dict[str, Any] = {}
    for split in ("validation", "test"):
        metric_values.update({f"{split}.{k}": v for k, v in _table(metrics, split).items()})
    metric_values.update({f"test_ci.{k}": v for k, v in _table(metrics, "test_ci").items()})
    constraints = {
        f"{name}.{field}": entry[field]
        for name, entry in _table(snapshot, "constraints").items() if isinstance(entry, dict)
        for field in ("value", "ok") if field in entry
    }
    return {
        "snapshot": {k: snapshot[k] for k in SNAPSHOT_KEYS if k in snapshot},
        "model": {k: model[k] for k in MODEL_KEYS if k in model},
        "params": _flat(_table(snapshot, "model", "params")),
        "data": {k: data[k] for k in DATA_KEYS if k in data},
        "metrics": metric_values,
        "resources": _flat(_table(snapshot, "resources")),
        "constraints": constraints,
        "environment": _flat(_table(snapshot, "environment")),
        "hardware": _flat(_table(snapshot, "hardware")),
    }


def _number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def _direction(section: str, key: str) -> str | None:
    from modelsnap.core.measures import MEASURE_DIRECTIONS

    name = key.rsplit(".", 1)[-1]
    if section == "metrics" and not key.startswith("test_ci."):
        return MEASURE_DIRECTIONS.get(name)
    if section == "resources":
        return MEASURE_DIRECTIONS.get(name)
    return None


def _row(section: str, key: str, a: Any, b: Any) -> DiffRow:
    if not (_number(a) and _number(b)):
        return DiffRow(section, key, a, b, a == b and type(a) is type(b))
    delta = b - a
    relative = delta / abs(a) if a else None
    better = None
    direction = _direction(section, key)
    if direction and delta:
        better = "b" if (delta > 0) == (direction == "max") else "a"
    return DiffRow(section, key, a, b, delta == 0, delta, relative, better)


def compare(a: dict[str, Any], b: dict[str, Any], *, include_equal: bool = False) -> list[DiffRow]:
    """Every compared value of two snapshots, section by section, in a stable order."""
    rows: list[DiffRow] = []
    left, right = _sections(a), _sections(b)
    for section in left:
        keys = list(left[section]) + [k for k in right[section] if k not in left[section]]
        for key in keys:
            row = _row(section, key, left[section].get(key), right[section].get(key))
            if include_equal or not row.same:
                rows.append(row)
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
        found.append("resources measured on different hardware: latency/memory deltas are not "
                     "about the models alone")
    if a.get("criteria_revision") != b.get("criteria_revision"):
        found.append("judged under different criteria revisions")
    return found


def _show(value: Any, key: str = "") -> str:
    if value is None:
        return "(absent)"
    if key.endswith("sha256") and isinstance(value, str):
        return value[:12] + "…"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return f"{value:.6g}"
    return str(value)


def _delta_text(row: DiffRow) -> str:
    if row.delta is None:
        return ""
    both_int = isinstance(row.a, int) and isinstance(row.b, int)
    text = f"{row.delta:+,d}" if both_int else f"{row.delta:+.6g}"
    if row.relative is not None:
        text += f" ({row.relative:+.1%})"
    return text


def render(a: dict[str, Any], b: dict[str, Any], rows: list[DiffRow], notes: list[str]) -> None:
    from rich.console import Console
    from rich.table import Table
    from rich.text import Text

    console = Console(highlight=False)
    if not console.is_terminal:
        console.width = max(console.width, 140)
    console.print(Text(f"a = {a['id']}\nb = {b['id']}"))
    for note in notes:
        console.print(Text(f"warning: {note}", style="yellow"))
    if not rows:
        console.print("no differences")
        return
    table = Table(box=None, pad_edge=False, header_style="bold")
    for header, justify in (("section", "left"), ("key", "left"), ("a", "right"),
                            ("b", "right"), ("b - a", "right")):
        table.add_column(header, justify=justify)
    for row in rows:
        style = {"b": "green", "a": "red"}.get(row.better or "", "")
        table.add_row(row.section, row.key, Text(_show(row.a, row.key)),
                      Text(_show(row.b, row.key)),
                      Text(_delta_text(row), style=style))
    console.print(table)


def run(args: argparse.Namespace) -> int:
    from modelsnap.cli.ls_cmd import project_root
    from modelsnap.cli.output import print_json
    from modelsnap.core.store import find_snapshot, read_snapshot

    root = project_root(args.dir)
    a = read_snapshot(root, find_snapshot(root, args.id1))
    b = read_snapshot(root, find_snapshot(root, args.id2))
    rows = compare(a, b, include_equal=args.all)
    notes = warnings_for(a, b)
    if args.format == "json":
        print_json({
            "a": a["id"], "b": b["id"],
            "comparable": not any(n.startswith("not comparable") for n in notes),
            "warnings": notes,
            "rows": [asdict(row) for row in rows],
        })
    else:
        render(a, b, rows, notes)
    return 0
