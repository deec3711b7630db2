"""``modelsnap rank DIR``: step five's ranked list, with rejections and the reasons for them.

Ranks under the criteria in force: the latest locked revision (``core.selection.context``), never
edits to modelsnap.toml that were not locked (``--pending`` shows those as a labelled what-if). Only
the latest snapshot of each model competes (``--all-versions`` ranks the history too).
Fast path: ranks index summary rows (no TOML parsing for known files, no pandas/scikit-learn);
``--significance`` is the exception, as it loads stored predictions. What-if options
(``--weights``, ``--profile``, ``--method``, ``--split``, ``--pending``) change nothing on disk.
"""

from __future__ import annotations

import csv
import io
import sys
from typing import TYPE_CHECKING, Any

from modelsnap.cli.output import (
    add_dir_argument,
    add_format_option,
    column_template,
    cyclic_gc_paused,
    json_array_by_address,
    json_bytes,
    json_parts_with,
    left_to_exit,
    painted,
    reading_progress,
    use_color,
    write_bytes,
)

if TYPE_CHECKING:
    from collections.abc import Callable

    from modelsnap.core.selection.ranking import RankedEntry, RankingResult


def register(subparsers: Any) -> None:
    from modelsnap.core.ranking_methods import DEFAULT_METHOD, METHODS, method_help

    parser = subparsers.add_parser(
        "rank",
        help="rank the snapshots against the criteria",
        description="Reject snapshots that fail a hard constraint, score the rest on the "
        "criteria (docs/ranking.md explains how, so you can recompute it), and "
        "show the Pareto front, the test metric beside, and why anything was left "
        "out. What-if options change nothing on disk.",
    )
    add_dir_argument(parser)
    parser.add_argument(
        "--weights",
        metavar="M=W,...",
        help="what-if criteria weights, e.g. f1=0.5,latency_p95_ms=0.3 "
        "(replaces the criteria with exactly these measures)",
    )
    parser.add_argument(
        "--profile", metavar="NAME", help="what-if: rank with a profile's criteria and constraints"
    )
    parser.add_argument(
        "--method",
        choices=list(METHODS),
        default=DEFAULT_METHOD,
        help=method_help(),
    )
    parser.add_argument(
        "--split",
        choices=["validation", "test"],
        help="split the quality metrics come from (default: [selection]"
        ".rank_split, normally validation)",
    )
    parser.add_argument(
        "--pending",
        action="store_true",
        help="what-if: rank with modelsnap.toml's criteria edits that are not "
        "locked yet (the locked revision stays in force)",
    )
    parser.add_argument(
        "--all-versions",
        action="store_true",
        help="rank every snapshot, not only the latest of each model",
    )
    parser.add_argument(
        "--allow-mixed",
        action="store_true",
        help="also rank snapshots made on another data set or split (each such line is marked)",
    )
    parser.add_argument(
        "--significance",
        action="store_true",
        help="test the top pick against the runner-up and the baseline on the "
        "stored test predictions (slower: loads predictions)",
    )
    parser.add_argument(
        "--sensitivity",
        action="store_true",
        help="how often the top pick stays first when each weight moves by +-10 %% and +-25 %%",
    )
    add_format_option(parser, choices=("table", "json", "csv"))
    parser.set_defaults(handler=run)


def compute(args: Any, progress: Callable[[int, int], None] | None = None) -> Any:
    """Run the ranking the options describe; shared with ``decide``. ``progress`` hears how far
    the reading of snapshot files no index row stands for is (``output.reading_progress``)."""
    from modelsnap.cli.output import project_root
    from modelsnap.core.selection.context import rank_project
    from modelsnap.core.selection.ranking import parse_weights

    root = project_root(args.dir)
    weights = parse_weights(args.weights) if getattr(args, "weights", None) else None
    return rank_project(
        root,
        weights=weights,
        profile=getattr(args, "profile", None),
        method=getattr(args, "method", "weighted"),
        split=getattr(args, "split", None),
        allow_mixed=getattr(args, "allow_mixed", False),
        sensitivity=getattr(args, "sensitivity", False),
        all_versions=getattr(args, "all_versions", False),
        pending=getattr(args, "pending", False),
        progress=progress,
    )


def run(args: Any) -> int:
    with cyclic_gc_paused():
        return _run(args)


def _run(args: Any) -> int:
    with reading_progress("ranking them") as progress:
        project = compute(args, progress)
    result = project.result
    significance = None
    if args.significance:
        from modelsnap.core.evaluation.significance import ranking_significance

        significance = ranking_significance(project.config.root, project.config, result)
    if args.format == "json":
        body = result.to_dict(entries_as_objects=True)
        body["significance"] = significance
        body["problems"] = project.problems
        # Compact, sorted keys, through orjson: 1.5 s of the standard library's encoder for
        # every version of 100,000 snapshots. The entries go as they are: orjson writes their
        # fields in the order they are declared, which is their names' (RankedEntry), "gain"
        # first; a long list of them is encoded in the order they lie in memory.
        ranked = json_array_by_address(body["ranked"], first_key="gain")
        parts = json_parts_with(body, "ranked", ranked) if ranked is not None else None
        write_bytes((*(parts or (json_bytes(body),)), b"\n"))
    elif args.format == "csv":
        sys.stdout.write(to_csv(result))
    else:
        print_table(result, significance)
    left_to_exit(project)  # the rows and the ranking: 0.2-0.3 s to free at 100,000
    if project.problems:
        from modelsnap.cli.output import print_warning

        for problem in project.problems:
            print_warning(f"not ranked, unreadable: {problem}")
        return 1
    return 0


def _num(value: Any) -> str:
    return "" if value is None else f"{value:.4f}"


def to_csv(result: RankingResult) -> str:
    """One line per snapshot (ranked, rejected, incomplete, excluded), stable columns."""
    from modelsnap.cli.output import clean

    names = list(result.weights)
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(
        [
            "status",
            "rank",
            "id",
            "name",
            "score",
            *names,
            f"test_{result.primary_metric}",
            "pareto",
            "notes",
        ]
    )
    for e in result.ranked:
        writer.writerow(
            [
                "ranked",
                e.rank,
                clean(e.id),
                clean(e.name),
                repr(e.score),
                *[repr(e.values[n]) for n in names],
                _num(e.test_primary),
                "yes" if e.pareto else "no",
                "; ".join(e.warnings),
            ]
        )
    set_aside = [(s.status, s.id, s.name, "; ".join(s.why)) for s in result.set_aside()]
    set_aside += [
        ("superseded", r["id"], r["name"], f"superseded by {r['by']}") for r in result.superseded
    ]
    for status, snapshot_id, name, notes in set_aside:
        writer.writerow(
            [
                status,
                "",
                clean(snapshot_id),
                clean(name),
                "",
                *[""] * len(names),
                "",
                "",
                clean(notes),
            ]
        )
    return out.getvalue()


def basis_text(result: RankingResult) -> str:
    """What the ranking was computed under, in words."""
    revision = result.criteria_revision
    return {
        "locked": f"criteria revision {revision}",
        "what-if": f"what-if on criteria revision {revision}",
        "pending": f"what-if: modelsnap.toml's edits not locked (revision {revision} in force)",
        "unlocked": "criteria not locked: a preview",
    }.get(result.basis, result.basis)


def print_table(result: RankingResult, significance: dict[str, Any] | None) -> None:
    from rich.markup import escape

    from modelsnap.cli.output import make_console
    from modelsnap.core.ranking_methods import method_label

    console = make_console(highlight=False)
    weights = ", ".join(f"{k} {v:.3g} ({result.directions[k]})" for k, v in result.weights.items())
    console.print(
        f"[bold]Ranking[/] ({method_label(result.method)}"
        f", {result.split} split, {escape(basis_text(result))}): {escape(weights)}"
    )
    _print_ranked(console, result)
    _print_set_aside(console, result)
    _print_sensitivity(console, result)
    _print_significance(console, result, significance)
    for warning in result.warnings:
        console.print(f"[yellow]warning:[/] {escape(warning)}")


def _notes(entry: RankedEntry) -> list[str]:
    """What to know about one ranked entry, in words (``_print_ranked`` asks only when one of
    these fields is set: a new note needs its field named there too)."""
    notes = ["pareto front"] if entry.pareto else []
    if entry.kind == "baseline":
        notes.append("baseline")
    if entry.hardware_flags:
        notes.append("other hardware: " + ", ".join(entry.hardware_flags))
    if entry.older_revision:
        notes.append("older criteria revision")
    if entry.mixed:
        notes.append("other data/split")
    return notes


# A cell wider than this is cut with an ellipsis (as in ``ls``).
CELL_LIMIT = 80


def _print_ranked(console: Any, result: RankingResult) -> None:
    """The ranked list as aligned plain text: rich's Table took 26 s for the 71,000 entries
    of ``--all-versions`` at 100,000 snapshots; this takes a fraction of a second."""
    from modelsnap.core.text import printable

    if not result.ranked:
        console.print(
            "Nothing could be ranked (no snapshot passed the checks below, or none "
            "exists yet: 'modelsnap run DIR' makes them)."
        )
        return
    primary = printable(result.primary_metric, limit=CELL_LIMIT)
    # The id already carries the model's name, so it is never cut; notes go in a column when
    # the terminal is wide, else on a line of their own under the table.
    wide = console.width >= 110
    headers = ["#", "id", "score", f"{primary} {result.split[:3]}", f"{primary} test"]
    right = [True, False, True, True, True]
    if wide:
        headers.append("notes")
        right.append(False)
    body = []
    notes_below = []
    # One pass over up to 71,000 entries (``--all-versions`` at 100,000 snapshots): the common
    # case (no note, a printable id) skips ``_notes`` and ``printable``, whose answer it knows.
    for e in result.ranked:
        flagged = e.pareto or e.hardware_flags or e.older_revision or e.mixed
        notes = printable("; ".join(_notes(e))) if flagged or e.kind == "baseline" else ""
        sid = e.id if e.id.isprintable() else printable(e.id)
        cells = [str(e.rank), sid, f"{e.score:.4f}", _num(e.primary), _num(e.test_primary)]
        if wide:
            cells.append(notes)
        elif notes:
            notes_below.append(f"  {e.rank}: {notes}")
        body.append(cells)
    widths, template = column_template(headers, right, body, gap="   ")
    head = template.format(*headers).rstrip()
    rule = "\u2500" * (sum(widths) + 3 * (len(widths) - 1))
    head = painted(head, "bold", color=use_color())
    lines = [head, rule, *(template.format(*cells).rstrip() for cells in body), *notes_below]
    _write_lines(console, lines)


def _write_lines(console: Any, lines: list[str]) -> None:
    """Plain lines to where the console writes, after what it has printed."""
    console.file.write("\n".join(lines) + "\n")
    console.file.flush()


def _print_set_aside(console: Any, result: RankingResult) -> None:
    """Rejected, incomplete and excluded snapshots with their reasons, one line each (plain
    text: tens of thousands of them at 100,000 snapshots); the history's size."""
    from modelsnap.core.text import printable

    left_out = result.set_aside()
    color = use_color()
    lines = []
    for status, style in (("rejected", "red"), ("incomplete", "yellow"), ("excluded", "yellow")):
        items = [item for item in left_out if item.status == status]
        if items:
            title = painted(status.capitalize(), style, color=color)
            lines.append(f"{title} ({len(items)}):")
            label = "missing " if status == "incomplete" else ""
            lines += [
                f"  {printable(item.id)}: {label}{printable('; '.join(item.why))}" for item in items
            ]
    if result.superseded:
        lines.append(
            f"History: {len(result.superseded)} older snapshot(s) of these models do "
            "not compete (--all-versions ranks them too)"
        )
    if lines:
        _write_lines(console, lines)


def _print_sensitivity(console: Any, result: RankingResult) -> None:
    from rich.markup import escape

    if result.sensitivity and result.sensitivity.get("top"):
        sens = result.sensitivity
        others = ", ".join(f"{k} ({v})" for k, v in sens["winners"].items()) or "none"
        console.print(
            f"Sensitivity: {sens['top']} stays first in {sens['stays_first']}/"
            f"{sens['n']} perturbed weightings ({sens['share']:.0%}); "
            f"other winners: {escape(others)}"
        )


def _print_significance(
    console: Any, result: RankingResult, significance: dict[str, Any] | None
) -> None:
    from rich.markup import escape

    if (
        significance is not None
        and result.ranked
        and not any(k in significance for k in ("vs_runner_up", "vs_baseline"))
    ):
        console.print(
            "Significance: nothing to compare the top pick with (no runner-up, no other baseline)"
        )
    for key, label in (("vs_runner_up", "runner-up"), ("vs_baseline", "baseline")):
        item = (significance or {}).get(key)
        if not item:
            continue
        if "error" in item:
            console.print(
                f"Significance vs {label} ({escape(item['b'])}): not computed: "
                f"{escape(item['error'])}"
            )
        else:
            console.print(
                f"Significance vs {label} ({escape(item['b'])}): "
                f"{item['metric']} difference {item['difference']:+.4f}, "
                f"p = {item['p_value']:.3g} ({item['method']}): "
                f"[bold]{item['verdict']}[/]"
            )
