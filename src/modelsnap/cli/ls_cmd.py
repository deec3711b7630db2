"""``modelsnap ls DIR``: one line per snapshot, from the index so 10,000 snapshots list quickly.

Fast path: reads summary rows through ``modelsnap.core.records.index`` (which parses only files the
index does not know) and never imports pandas or scikit-learn. Broken snapshot files are named
on stderr and make the exit code 1; the others are still listed.
"""

from __future__ import annotations

import argparse
import fnmatch
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from modelsnap.cli.output import (
    add_dir_argument,
    add_format_option,
    column_template,
    cyclic_gc_paused,
    echo,
    json_bytes,
    left_to_exit,
    painted,
    project_root,
    reading_progress,
    use_color,
    write_bytes,
)
from modelsnap.core.text import has_control, printable

# The JSON shape (docs/cli.md): one object per snapshot with exactly these keys.
JSON_KEYS = (
    "id",
    "name",
    "kind",
    "version",
    "created_at",
    "criteria_revision",
    "estimator",
    "primary_metric",
    "primary_validation",
    "primary_test",
    "latency_p95_ms",
    "size_mb",
    "constraints_ok",
    "dataset_sha256",
    "split_sha256",
    "comparable",
)


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "ls",
        help="list the snapshots of a project",
        description="List every snapshot: quality, latency, size, constraints and whether it "
        "was made on the project's current data and split. Broken snapshot files "
        "are named on stderr (exit code 1).",
    )
    add_dir_argument(parser)
    add_format_option(parser)
    parser.add_argument("--kind", choices=["baseline", "candidate"], help="only this kind")
    parser.add_argument(
        "--name",
        metavar="PATTERN",
        help="only models whose name matches (shell-style wildcards allowed)",
    )
    parser.set_defaults(handler=run)


def _warn(text: str) -> None:
    """One unwrapped stderr line (rich would break long paths mid-word when piped)."""
    echo(f"warning: {text}", file=sys.stderr)


def load_config_or_warn(root: Path):
    """The project config, or None with a warning: listing must work even with a broken file."""
    from modelsnap.core.errors import ModelsnapError
    from modelsnap.core.project.parse import load_project
    from modelsnap.core.project.schema import PROJECT_FILE

    if not (root / PROJECT_FILE).is_file():
        _warn(f"{root / PROJECT_FILE} not found: primary metric and comparability unknown")
        return None
    try:
        return load_project(root)
    except ModelsnapError as error:
        _warn(f"{' '.join(str(error).split())} (listing without the project's settings)")
        return None


class _Listed:
    """One ``ls`` object, built as an instance's ``__dict__``: a plain dict whose keys all the
    objects share (CPython's split table), as ``records.index._Row`` builds rows, so 100,000
    of them hold only their values. Assigned in sorted key order, as the output shows them."""

    def __init__(self, row: dict[str, Any], primary: str | None, comparable: bool | None) -> None:
        measures = row.get("measures") or _EMPTY
        self.comparable = comparable
        self.constraints_ok = (row.get("constraints") or _EMPTY).get("ok")
        self.created_at = row.get("created_at") or ""
        self.criteria_revision = row.get("criteria_revision")
        self.dataset_sha256 = row.get("dataset_sha256")
        self.estimator = row.get("estimator")
        self.id = row["id"]
        self.kind = row["kind"]
        self.latency_p95_ms = row.get("latency_p95_ms")
        self.name = row["name"]
        self.primary_metric = primary
        self.primary_test = measures.get("test", _EMPTY).get(primary)
        self.primary_validation = measures.get("validation", _EMPTY).get(primary)
        self.size_mb = row.get("size_mb")
        self.split_sha256 = row.get("split_sha256")
        self.version = row.get("version") or ""


_EMPTY: dict[str, Any] = {}


def build_rows(root: Path, config, rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Summary rows -> the stable ``ls`` objects (JSON_KEYS), in id order."""
    from modelsnap.core.records.store import DataHashes, comparable, current_data_hashes

    hashes = current_data_hashes(root, config.data.source) if config else DataHashes(None, None)
    primary_default = config.primary_metric if config else None
    return [
        _Listed(row, primary_default or row.get("primary_metric"), comparable(row, hashes)).__dict__
        for row in rows
    ]


def _keep(row: dict[str, Any], args: argparse.Namespace) -> bool:
    if args.kind and row["kind"] != args.kind:
        return False
    return not (args.name and not fnmatch.fnmatchcase(row["name"], args.name))


def _number(value: Any, digits: int) -> str:
    if value is None:
        return "-"
    return f"{value:.{digits}f}"


def _flag(value: bool | None, yes: str = "yes", no: str = "no") -> str:
    return "-" if value is None else (yes if value else no)


COLUMNS = (
    # header, key in the row cells, right-aligned
    ("id", False),
    ("name", False),
    ("kind", False),
    ("version", False),
    ("created", False),
    ("quality", True),
    ("p95 ms", True),
    ("size MB", True),
    ("constraints", False),
    ("rev", True),
    ("comparable", False),
)
_ALARMS = {"VIOLATED", "NO"}


def _cells(row: dict[str, Any]) -> list[str]:
    quality = f"{_number(row['primary_validation'], 3)}/{_number(row['primary_test'], 3)}"
    return [
        row["id"],
        row["name"],
        row["kind"],
        row["version"],
        row["created_at"][:16].replace("T", " "),
        quality,
        _number(row["latency_p95_ms"], 2),
        _number(row["size_mb"], 2),
        _flag(row["constraints_ok"], "ok", "VIOLATED"),
        "-" if row["criteria_revision"] is None else str(row["criteria_revision"]),
        _flag(row["comparable"], "yes", "NO"),
    ]


# A cell wider than this is cut with an ellipsis, so one crafted 100,000-character name cannot
# make every line of the listing that wide.
CELL_LIMIT = 80
# the columns an alarm can be in
_FLAG_COLUMNS = tuple(
    i for i, (name, _) in enumerate(COLUMNS) if name in ("constraints", "comparable")
)


def _safe(body: list[list[str]]) -> list[list[str]]:
    """Cells with control characters escaped and long values cut. One search over the whole
    table first (a few ms for 10,000 rows); rows are only rewritten when something is found.
    Only the id, name and version columns hold free text."""
    if not has_control(" ".join(map(" ".join, body))) and not any(
        len(c[0]) > CELL_LIMIT or len(c[1]) > CELL_LIMIT or len(c[3]) > CELL_LIMIT for c in body
    ):
        return body
    return [[printable(cell, limit=CELL_LIMIT) for cell in cells] for cells in body]


def format_table(rows: list[dict[str, Any]], *, color: bool = False) -> str:
    """Aligned plain-text columns. Built by hand because rich's Table needs ~7 s for 10,000
    rows; this takes a few milliseconds: one format string for every line, the widths taken
    over whole columns. Colour (ANSI) only marks violations and mismatches."""
    primary = next((r["primary_metric"] for r in rows if r["primary_metric"]), "primary")
    headers = [name if name != "quality" else f"{primary} val/test" for name, _ in COLUMNS]
    body = _safe([_cells(row) for row in rows])
    widths, template = column_template(headers, [right for _, right in COLUMNS], body)
    head = template.format(*headers).rstrip()
    if color:
        head = painted(head, "bold")
        # An alarm is padded first, then coloured: the escape codes take no room in the line.
        for cells in body:
            for i in _FLAG_COLUMNS:
                if cells[i] in _ALARMS:
                    cells[i] = painted(cells[i].ljust(widths[i]), "red")
    lines = [head]
    lines += [template.format(*cells).rstrip() for cells in body]
    lines.append(f"{len(rows)} snapshot{'s' if len(rows) != 1 else ''}")
    return "\n".join(lines) + "\n"


_JSON_CHUNK = 2_000  # objects per call of the encoder: few calls, no 60 MB strings


def write_json(rows: list[dict[str, Any]]) -> None:
    """A JSON array, one compact object per line, keys sorted.

    Each chunk of objects is encoded in one call (``output.json_bytes``) and written at once,
    each object put on a line of its own: the objects are flat, so ``},{"`` only ever
    separates two of them (a quote inside a JSON string is escaped, so that text cannot occur
    within a value).
    """
    write_bytes(_json_parts(rows) if rows else (b"[]\n",))


def _json_parts(rows: list[dict[str, Any]]) -> Iterator[bytes]:
    separator = b"[\n  "
    for start in range(0, len(rows), _JSON_CHUNK):
        encoded = json_bytes(rows[start : start + _JSON_CHUNK])
        yield separator + encoded[1:-1].replace(b'},{"', b'},\n  {"')
        separator = b",\n  "
    yield b"\n]\n"


def run(args: argparse.Namespace) -> int:
    with cyclic_gc_paused():
        return _run(args)


def _run(args: argparse.Namespace) -> int:
    from modelsnap.core.records.index import load_rows

    root = project_root(args.dir)
    config = load_config_or_warn(root)
    with reading_progress("listing them") as progress:
        rows, problems = load_rows(root, write_back=True, progress=progress)
    listed = build_rows(root, config, [row for row in rows if _keep(row, args)])
    if args.format == "json":
        write_json(listed)
    elif listed:
        sys.stdout.write(format_table(listed, color=use_color()))
    else:
        sys.stdout.write("no snapshots\n")
    left_to_exit(rows, listed)
    for problem in problems:  # one unwrapped line each, so the file name can be grepped
        echo(f"broken snapshot: {problem}", file=sys.stderr)
    return 1 if problems else 0
