"""``modelsnap predict DIR (--row TEXT | --csv FILE)``: every competing model's answer.

The last look before deciding: rows typed by hand (``--row "age=41,income=52000"``, repeatable)
or read from a CSV (``--csv rows.csv``; an edge-case file works: its ``case`` names the rows and
its target column is shown as the expected answer) are predicted by every competing model (the
latest snapshot of each model on the current data), or by the snapshots named with
``--snapshot``. The models run in the worker process, hash- and type-checked. Nothing is written.

Exit code 0; 1 when a model could not be loaded or scored (named on stderr); 2 for rows with a
missing, unknown or wrongly typed column, or an unknown snapshot id.
"""

from __future__ import annotations

import argparse
from typing import Any

from modelsnap.cli.output import add_dir_argument, add_format_option


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "predict",
        help="try rows by hand: every model's prediction side by side",
        description="Predict rows you give with every competing model (the latest snapshot of "
        "each model on the current data) or the snapshots you name, side by side, "
        "with class probabilities and a mark where the models disagree. "
        "Nothing is written.",
    )
    add_dir_argument(parser)
    given = parser.add_mutually_exclusive_group(required=True)
    given.add_argument(
        "--row",
        action="append",
        metavar="TEXT",
        help='one row as "column=value,column=value" (repeatable); quote a '
        "cell holding a comma whole: '\"city=Paris, TX\"'; empty = missing",
    )
    given.add_argument(
        "--csv",
        metavar="FILE",
        help="a CSV of rows with a header (the feature columns; the target "
        "column, case and severity are optional)",
    )
    parser.add_argument(
        "--snapshot",
        action="append",
        metavar="ID",
        default=[],
        help="predict with this snapshot (id or unique prefix; repeatable) "
        "instead of the competing models",
    )
    parser.add_argument(
        "--trust",
        action="append",
        metavar="TYPE",
        default=[],
        help="load this non-scikit-learn type from the artifacts (repeatable); "
        "only for artifacts you know the origin of",
    )
    add_format_option(parser)
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    from pathlib import Path

    from modelsnap.api.trying import predict_rows
    from modelsnap.cli.output import print_json, print_warning, project_root
    from modelsnap.core.followup.trying import rows_from_csv, rows_from_texts

    root = project_root(args.dir)
    rows = rows_from_csv(Path(args.csv).expanduser()) if args.csv else rows_from_texts(args.row)
    result = predict_rows(root, rows, args.snapshot or None, trusted=args.trust)
    for warning in result["warnings"]:
        print_warning(warning)
    failed = {
        answer["id"]: answer["error"]
        for row in result["rows"]
        for answer in row["predictions"]
        if "error" in answer
    }
    for ident, error in failed.items():
        print_warning(f"{ident}: {error}")
    if args.format == "json":
        print_json(result)
    else:
        _print_table(result)
    return 1 if failed else 0


def _column_names(models: list[dict[str, Any]]) -> list[str]:
    names = [m["name"] or m["id"] for m in models]
    return [
        f"{name} {m['id'][-4:]}" if names.count(name) > 1 else name
        for name, m in zip(names, models, strict=True)
    ]


def answer_text(answer: dict[str, Any], task: str) -> str:
    """One model's answer in a cell: the class and its probability (every class's is in the
    JSON), or the value."""
    if "error" in answer:
        return "(error)"
    value = answer["prediction"]
    if task == "regression":
        return f"{float(value):.6g}" if isinstance(value, (int, float)) else str(value)
    text = str(value)
    chance = (answer.get("proba") or {}).get(text)
    return f"{text} {chance:.2f}" if isinstance(chance, (int, float)) else text


def row_text(row: dict[str, Any], limit: int = 60) -> str:
    """The row's label, and its values when they are short enough to read in a cell."""
    shown = ", ".join(
        f"{k}={'' if v is None else (f'{v:g}' if isinstance(v, float) else v)}"
        for k, v in row["input"].items()
    )
    return f"{row['label']}: {shown}" if len(shown) <= limit else str(row["label"])


def _print_table(result: dict[str, Any]) -> None:
    from rich.markup import escape
    from rich.table import Table

    from modelsnap.cli.output import make_console

    models = result["models"]
    caption = "! = the models disagree"
    if result["task"] == "classification":
        caption = "each model's class and its probability; " + caption
    table = Table(
        title=f"predictions ({len(result['rows'])} row(s), {len(models)} model(s))",
        caption=caption,
        caption_justify="left",
        show_lines=True,
    )
    table.add_column("", no_wrap=True)
    table.add_column("row", overflow="fold", max_width=32)
    table.add_column("expected", overflow="fold")
    for name in _column_names(models):
        table.add_column(escape(name), overflow="fold")
    for row in result["rows"]:
        table.add_row(
            "[bold red]![/]" if row["disagree"] else "",
            escape(row_text(row)),
            escape("" if row["expected"] is None else str(row["expected"])),
            *(escape(answer_text(a, result["task"])) for a in row["predictions"]),
        )
    make_console(highlight=False).print(table)
