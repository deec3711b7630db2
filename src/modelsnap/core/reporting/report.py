"""The report: one self-contained HTML file, or a Markdown model card of the chosen model.

The HTML is for a reviewer who has nothing but the file: it opens in a browser with no server,
no network and no scripts (inline CSS, inline SVG, ``<details>`` for folding), and holds the
criteria and constraints, the ranking with every rejection, a trade-off chart, significance,
sensitivity, the decision history with its chain status, and each snapshot's details.
Every value written into markup goes through ``html.escape``.
"""

from __future__ import annotations

import datetime as dt
import html
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from modelsnap.core.errors import ModelsnapError
from modelsnap.core.ranking_methods import METHODS, method_label
from modelsnap.core.selection.constraints import format_pair
from modelsnap.core.text import printable

if TYPE_CHECKING:
    from modelsnap.core.records.shapes import Snapshot
    from modelsnap.core.selection.ranking import RankingResult

FORMATS = ("html", "md")


@dataclass
class ReportData:
    """Everything a report shows, gathered once so both renderers agree."""

    project_name: str
    generated_at: str
    result: Any
    criteria_revision: int | None
    constraints: dict[str, Any]
    snapshots: dict[str, Snapshot]
    significance: dict[str, Any] | None
    decisions: list[dict[str, Any]]
    chain_problems: list[str]
    problems: list[str] = field(default_factory=list)
    measures: dict[str, dict[str, float]] = field(default_factory=dict)  # id -> validation
    not_detailed: int = 0
    # decision id -> its monitoring records' summaries, oldest first (monitoring_history)
    monitoring: dict[str, list[dict[str, Any]]] = field(default_factory=dict)


DETAIL_LIMIT = 100


def _detailed_ids(result: Any, decisions: Sequence[Mapping[str, Any]]) -> list[str]:
    """Whose details the report carries: decided snapshots, the baseline, then the best ranked,
    then rejected and incomplete ones, up to ``DETAIL_LIMIT`` (10,000 snapshots would make a
    100 MB page; ``modelsnap show`` has the rest)."""
    wanted = [str(d.get("snapshot_id")) for d in decisions[::-1]]
    if result.baseline_id:
        wanted.append(result.baseline_id)
    wanted += (
        [e.id for e in result.ranked]
        + [r["id"] for r in result.rejected]
        + [r["id"] for r in result.incomplete]
    )
    shown: list[str] = []
    for snapshot_id in wanted:
        if snapshot_id not in shown:
            shown.append(snapshot_id)
        if len(shown) >= DETAIL_LIMIT:
            break
    return shown


def _limits_in_force(project: Any) -> dict[str, Any]:
    """The locked revision's hard limits (what the ranking used), else modelsnap.toml's."""
    locked = project.context.criteria.record
    if locked is not None:
        return dict(locked.get("constraints", {}))
    return dict(project.config.constraints or {})


def collect(
    root: Path,
    *,
    significance: bool = True,
    resamples: int = 2000,
    progress: Callable[[int, int], None] | None = None,
) -> ReportData:
    """Rank the project (with sensitivity), read the snapshots shown and the decision log;
    ``progress(done, total)`` hears how far the reading of the snapshot files is."""
    from modelsnap.core.followup.monitoring import monitoring_history
    from modelsnap.core.records.decision_log import read_decisions, verify_chain
    from modelsnap.core.records.ledger import decision_problems
    from modelsnap.core.records.store import read_snapshot
    from modelsnap.core.selection.context import rank_project

    root = Path(root)
    project = rank_project(
        root, sensitivity=True, from_records=True, write_index=False, progress=progress
    )
    result = project.result
    chain_problems = verify_chain(root) + decision_problems(root)
    try:
        decisions = read_decisions(root)
    except ModelsnapError:
        decisions = []
    shown = _detailed_ids(result, decisions)
    snapshots: dict[str, Snapshot] = {}
    problems = list(project.problems)
    for snapshot_id in shown:
        try:
            snapshots[snapshot_id] = read_snapshot(root, snapshot_id)
        except ModelsnapError as error:
            problems.append(str(error))
    monitoring, unreadable = monitoring_history(root)
    problems += [f"monitoring record not read: {p}" for p in unreadable]
    sig = None
    if significance and result.top is not None:
        from modelsnap.core.evaluation.significance import ranking_significance

        sig = ranking_significance(root, project.config, result, n=resamples)
    return ReportData(
        measures={row["id"]: row["measures"]["validation"] for row in project.rows},
        project_name=str(getattr(project.config, "name", root.name)),
        generated_at=dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        result=result,
        criteria_revision=project.criteria_revision,
        constraints=_limits_in_force(project),
        snapshots=snapshots,
        significance=sig,
        decisions=decisions,
        chain_problems=chain_problems,
        problems=problems,
        not_detailed=max(
            0, len(result.ranked) + len(result.rejected) + len(result.incomplete) - len(snapshots)
        ),
        monitoring=monitoring,
    )


# Files and folders of a project that a report must never replace, even with --force: the
# records, the data, and the tool's state. Names are compared case-insensitively, so a
# case-insensitive file system cannot be used to slip past the check.
_RECORD_FOLDERS = frozenset(
    {"snapshots", "edge_runs", "monitoring", "models", "predictions", ".modelsnap"}
)
_RECORD_SUFFIXES = frozenset({".toml", ".csv", ".npz", ".json", ".head", ".skops"})


def protected_output(root: Path, output: Path) -> str | None:
    """Why ``output`` must not be replaced by a report (a record or data file), else None.

    Inside the project folder: anything in a record folder, and every TOML, CSV, NPZ or JSON
    file at the top (modelsnap.toml, decisions.toml, criteria_revisions.toml, any ledger,
    split.npz, the data and the edge cases). Anywhere: the data source and edge-case file the
    project file names. Symlinks are resolved first.
    """
    root_resolved = Path(root).resolve()
    target = Path(output).parent.resolve() / Path(output).name
    if target.is_symlink():
        target = target.resolve()
    try:
        relative = target.relative_to(root_resolved)
    except ValueError:
        relative = None
    if relative is not None:
        parts = [part.lower() for part in relative.parts]
        if not parts:
            return "it is the project folder"
        if parts[0] in _RECORD_FOLDERS:
            return f"it is inside the project's {relative.parts[0]}/ folder"
        if len(parts) == 1 and Path(parts[0]).suffix in _RECORD_SUFFIXES:
            return "it is a record, data or state file of the project"
    try:
        from modelsnap.core.project.parse import load_project

        config = load_project(root_resolved)
    except ModelsnapError:
        return None
    for source in (config.data.source, config.data.edge_cases):
        if source and not str(source).startswith("sklearn:"):
            data_file = (root_resolved / str(source)).resolve()
            if str(data_file).lower() == str(target).lower():
                return "it is the project's data"
    return None


def write_report(
    root: Path,
    output: Path,
    *,
    fmt: str = "html",
    significance: bool = True,
    force: bool = False,
    progress: Callable[[int, int], None] | None = None,
) -> Path:
    """Render and write the report atomically; returns the path written (``progress`` as for
    ``collect``).

    A record or data file of the project is never replaced; another existing file only with
    ``force``.
    """
    if fmt not in FORMATS:
        raise ModelsnapError(f"unknown report format {fmt!r}", hint="use html or md")
    output = Path(output)
    if not output.parent.is_dir():
        raise ModelsnapError(
            "the output folder does not exist",
            where=str(output.parent),
            hint="create it first or choose another -o path",
        )
    reason = protected_output(root, output)
    if reason is not None:
        raise ModelsnapError(
            f"refusing to write the report there: {reason}",
            where=str(output),
            hint="choose another -o path, e.g. report.html outside the project's record folders",
        )
    if output.is_dir():
        raise ModelsnapError(
            "the output is a folder",
            where=str(output),
            hint="give a file name, e.g. -o report.html",
        )
    if (output.exists() or output.is_symlink()) and not force:
        raise ModelsnapError(
            "the output file already exists",
            where=str(output),
            hint="pass --force to replace it, or choose another -o path",
        )
    data = collect(root, significance=significance, progress=progress)
    text = render_html(data) if fmt == "html" else render_markdown(data)
    _replace_file(output, text.encode("utf-8"))
    return output


def _replace_file(target: Path, data: bytes) -> None:
    """Write beside the target, fsync, rename: a reader never sees half a report.

    The report may go anywhere (often outside the project folder, maybe on another file
    system), so the temp file lives in the target's folder, not in ``.modelsnap/tmp``.
    """
    import os
    import secrets

    tmp = target.with_name(f".tmp-{os.getpid()}-{secrets.token_hex(4)}-{target.name}")
    try:
        with open(tmp, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, target)
    except OSError as exc:
        tmp.unlink(missing_ok=True)
        raise ModelsnapError(
            f"cannot write the report: {exc.strerror}", where=str(target)
        ) from None


# ---------------------------------------------------------------------------------------------
# Helpers


def _e(value: Any) -> str:
    return html.escape(printable(value, newlines=True), quote=True)


def _num(value: Any, digits: int = 4) -> str:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return "" if value is None else str(value)
    return f"{value:.{digits}g}"


def _value_and_limit(entry: Mapping[str, Any]) -> tuple[str, str]:
    """A recorded constraint's value and limit, never printed equal when they differ."""
    value, limit = entry.get("value"), entry.get("limit")
    if value is None or limit is None:
        return _num(value), _num(limit)
    return format_pair(value, limit)


def _get(table: Mapping[str, Any] | None, *keys: str) -> Any:
    current: Any = table
    for key in keys:
        current = current.get(key) if isinstance(current, Mapping) else None
    return current


def _table(headers: Sequence[str], rows: Sequence[Sequence[Any]], cls: str = "") -> str:
    head = "".join(f"<th>{_e(h)}</th>" for h in headers)
    body = "".join("<tr>" + "".join(f"<td>{cell}</td>" for cell in row) + "</tr>" for row in rows)
    return f'<table class="{cls}"><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>'


def _kv(mapping: Mapping[str, Any]) -> str:
    """Key/value rows in words (nested tables flattened to dotted keys); an array of tables such
    as ``top_features`` becomes its own small table of the first few rows."""
    from modelsnap.core.reporting.readable import TOP_FEATURES, flatten, is_table_list, plain

    rows, lists = [], []
    for key, value in flatten(dict(mapping)):
        if is_table_list(value):
            lists.append((key, value))
        else:
            rows.append((_e(key), _e(plain(value))))
    out = _table(("key", "value"), rows, "kv") if rows else ""
    for key, items in lists:
        columns: list[str] = []
        for item in items:
            columns += [c for c in item if c not in columns]
        shown = items[:TOP_FEATURES]
        label = key.replace("_", " ")
        title = f"{label}: first {len(shown)} of {len(items)}" if len(items) > len(shown) else label
        out += f'<p class="muted">{_e(title)}</p>' + _table(
            columns, [[_e(plain(item.get(c), digits=4)) for c in columns] for item in shown], "kv"
        )
    return out or "<p>none</p>"


CSS = """
body{font-family:system-ui,-apple-system,Segoe UI,sans-serif;margin:2rem auto;max-width:72rem;
color:#1d2330;line-height:1.45;padding:0 1rem}
h1{font-size:1.6rem}h2{border-bottom:1px solid #d5dae3;padding-bottom:.2rem;margin-top:2rem}
table{border-collapse:collapse;margin:.5rem 0;font-size:.9rem;display:block;overflow-x:auto;
max-width:100%}
svg{max-width:100%;height:auto}
th,td{border:1px solid #d5dae3;padding:.25rem .5rem;text-align:left;vertical-align:top}
th{background:#eef1f6}td.n{text-align:right;font-variant-numeric:tabular-nums}
.warn{color:#8a5a00}.bad{color:#a11}.ok{color:#176c2e}.muted{color:#667}
details{margin:.4rem 0;border:1px solid #d5dae3;border-radius:4px;padding:.3rem .6rem}
summary{cursor:pointer;font-weight:600}
svg text{font-size:11px;fill:#1d2330}
.pill{display:inline-block;padding:0 .4rem;border-radius:.6rem;background:#eef1f6;font-size:.8rem}
@media print{details{border:none}details>*{display:block}}
"""


# ---------------------------------------------------------------------------------------------
# Trade-off chart


def tradeoff_svg(
    points: Sequence[Mapping[str, Any]], metric: str, *, width: int = 640, height: int = 360
) -> str:
    """Inline SVG: primary metric (y) against p95 latency (x), radius from model size.

    ``points``: dicts with id, x (ms), y (metric), size_mb, pareto (bool), status
    ("ranked" | "rejected" | "incomplete"). Pareto points are filled and joined by a line;
    rejected ones are drawn as crosses. Hover titles name each point (no script needed).
    """
    usable = [
        p
        for p in points
        if isinstance(p.get("x"), int | float) and isinstance(p.get("y"), int | float)
    ]
    if not usable:
        return '<p class="muted">No snapshot has both a p95 latency and the primary metric.</p>'
    left, right, top, bottom = 60, 20, 20, 45
    xs = [float(p["x"]) for p in usable]
    ys = [float(p["y"]) for p in usable]
    x_lo, x_hi = min(xs), max(xs)
    y_lo, y_hi = min(ys), max(ys)
    if x_hi == x_lo:
        x_lo, x_hi = x_lo * 0.9 - 1e-9, x_hi * 1.1 + 1e-9
    if y_hi == y_lo:
        y_lo, y_hi = y_lo - 0.05, y_hi + 0.05
    pad_x, pad_y = (x_hi - x_lo) * 0.08, (y_hi - y_lo) * 0.1
    x_lo, x_hi, y_lo, y_hi = x_lo - pad_x, x_hi + pad_x, y_lo - pad_y, y_hi + pad_y

    def sx(v: float) -> float:
        return left + (v - x_lo) / (x_hi - x_lo) * (width - left - right)

    def sy(v: float) -> float:
        return height - bottom - (v - y_lo) / (y_hi - y_lo) * (height - top - bottom)

    sizes = [float(p["size_mb"]) for p in usable if isinstance(p.get("size_mb"), int | float)]
    biggest = max(sizes) if sizes else 0.0

    def radius(p: Mapping[str, Any]) -> float:
        size = p.get("size_mb")
        if not isinstance(size, int | float) or biggest <= 0:
            return 5.0
        return 4.0 + 12.0 * math.sqrt(max(float(size), 0.0) / biggest)

    parts = [
        f'<svg role="img" aria-label="trade-off chart" viewBox="0 0 {width} {height}" '
        f'width="{width}" height="{height}">',
        f'<rect x="{left}" y="{top}" width="{width - left - right}" '
        f'height="{height - top - bottom}" fill="#fafbfd" stroke="#c9ced8"/>',
    ]
    for i in range(5):
        xv = x_lo + (x_hi - x_lo) * i / 4
        yv = y_lo + (y_hi - y_lo) * i / 4
        parts.append(
            f'<text x="{sx(xv):.1f}" y="{height - bottom + 15}" '
            f'text-anchor="middle">{_e(_num(xv, 3))}</text>'
        )
        parts.append(
            f'<text x="{left - 6}" y="{sy(yv) + 4:.1f}" text-anchor="end">{_e(_num(yv, 3))}</text>'
        )
    parts.append(
        f'<text x="{(left + width - right) / 2:.0f}" y="{height - 8}" '
        'text-anchor="middle">p95 latency (ms), lower is better</text>'
    )
    parts.append(
        f'<text x="14" y="{(top + height - bottom) / 2:.0f}" text-anchor="middle" '
        f'transform="rotate(-90 14 {(top + height - bottom) / 2:.0f})">'
        f"{_e(metric)} (validation)</text>"
    )
    front = sorted((p for p in usable if p.get("pareto")), key=lambda p: float(p["x"]))
    if len(front) > 1:
        path = " ".join(f"{sx(float(p['x'])):.1f},{sy(float(p['y'])):.1f}" for p in front)
        parts.append(
            f'<polyline points="{path}" fill="none" stroke="#2b6cb0" stroke-dasharray="4 3"/>'
        )
    for p in usable:
        cx, cy, r = sx(float(p["x"])), sy(float(p["y"])), radius(p)
        title = (
            f"{p['id']}: {metric} {_num(p['y'])}, p95 {_num(p['x'])} ms, size "
            f"{_num(p.get('size_mb'))} MB ({p.get('status')}"
            f"{', Pareto front' if p.get('pareto') else ''})"
        )
        if p.get("status") == "rejected":
            d = r * 0.7
            parts.append(
                f'<g class="rejected" stroke="#a11" stroke-width="2"><title>{_e(title)}'
                f'</title><line x1="{cx - d:.1f}" y1="{cy - d:.1f}" x2="{cx + d:.1f}" '
                f'y2="{cy + d:.1f}"/><line x1="{cx - d:.1f}" y1="{cy + d:.1f}" '
                f'x2="{cx + d:.1f}" y2="{cy - d:.1f}"/></g>'
            )
        else:
            fill = "#2b6cb0" if p.get("pareto") else "#ffffff"
            parts.append(
                f'<circle class="{"pareto" if p.get("pareto") else "point"}" '
                f'cx="{cx:.1f}" cy="{cy:.1f}" r="{r:.1f}" fill="{fill}" '
                f'fill-opacity="0.75" stroke="#2b6cb0"><title>{_e(title)}</title>'
                "</circle>"
            )
        if p.get("label"):
            parts.append(_point_label(str(p["label"]), cx, cy, r, left, width - right))
    parts.append("</svg>")
    legend = (
        '<p class="muted">Filled, joined points: Pareto front over the criteria. Open '
        "circles: dominated. Crosses: rejected. Point area grows with model size.</p>"
    )
    return "".join(parts) + legend


LABEL_CHAR_PX = 6.6  # a generous average advance of the 11 px system font


def label_extent(text: str) -> float:
    return len(text) * LABEL_CHAR_PX


def _point_label(label: str, cx: float, cy: float, r: float, lo: float, hi: float) -> str:
    """A point's name beside it, on the side where it fits inside the plot (end-aligned to the
    left of points near the right edge), so no label runs past the chart."""
    extent = label_extent(label)
    if cx + r + 3 + extent <= hi:
        return f'<text x="{cx + r + 3:.1f}" y="{cy + 4:.1f}">{_e(label)}</text>'
    if cx - r - 3 - extent >= lo:
        return f'<text x="{cx - r - 3:.1f}" y="{cy + 4:.1f}" text-anchor="end">{_e(label)}</text>'
    x = min(max(cx, lo + extent / 2), hi - extent / 2)  # centred above the point
    return f'<text x="{x:.1f}" y="{cy - r - 4:.1f}" text-anchor="middle">{_e(label)}</text>'


def chart_points(data: ReportData) -> list[dict[str, Any]]:
    result = data.result
    metric = result.primary_metric
    points = []
    status_of = {e.id: ("ranked", e.pareto) for e in result.ranked}
    status_of.update({r["id"]: ("rejected", False) for r in result.rejected})
    names = {e.id: e.name for e in result.ranked}
    names.update({r["id"]: r.get("name", "") for r in result.rejected})
    for snapshot_id, (status, pareto) in status_of.items():
        snapshot = data.snapshots.get(snapshot_id)
        measured = data.measures.get(snapshot_id)
        if measured is None and snapshot is not None:
            from modelsnap.core.measures import measures

            measured = measures(snapshot, "validation")
        if measured is None:
            continue
        points.append(
            {
                "id": snapshot_id,
                "status": status,
                "pareto": pareto,
                "label": str(names.get(snapshot_id, ""))[:24],
                "x": measured.get("latency_p95_ms"),
                "y": measured.get(metric),
                "size_mb": measured.get("size_mb"),
            }
        )
    return points


# ---------------------------------------------------------------------------------------------
# HTML


def _ranking_html(result: RankingResult) -> str:
    names = list(result.weights)
    headers = [
        "#",
        "snapshot",
        "score",
        *names,
        f"{result.primary_metric} (test)",
        "Pareto",
        "notes",
    ]
    rows = []
    for e in result.ranked:
        notes = list(e.warnings)
        if e.kind == "baseline":
            notes.insert(0, "baseline")
        rows.append(
            [
                f'<span class="n">{e.rank}</span>',
                f"<code>{_e(e.id)}</code>",
                f"{e.score:.4f}",
                *[
                    f'{_e(_num(e.values[n]))} <span class="muted">({e.normalised[n]:.2f})</span>'
                    for n in names
                ],
                _e(_num(e.test_primary)),
                "yes" if e.pareto else "",
                '<span class="warn">' + "<br>".join(_e(n) for n in notes) + "</span>",
            ]
        )
    out = [
        _table(headers, rows, "ranking") if rows else "<p>Nothing could be ranked.</p>",
        '<p class="muted">Each criterion cell: raw value (min-max normalised value).</p>',
    ]
    left_out = result.set_aside()
    for status, cls in (("rejected", "bad"), ("incomplete", "warn"), ("excluded", "warn")):
        items = [item for item in left_out if item.status == status]
        if items:
            out.append(f"<h3>{status.capitalize()} ({len(items)})</h3>")
            out.append(
                _table(
                    ("snapshot", "why"),
                    [
                        [
                            f"<code>{_e(i.id)}</code>",
                            f'<span class="{cls}">' + "<br>".join(_e(x) for x in i.why) + "</span>",
                        ]
                        for i in items
                    ],
                )
            )
    return "".join(out)


def _significance_html(sig: Mapping[str, Any] | None) -> str:
    if not sig:
        return "<p>Not computed (nothing ranked, or turned off).</p>"
    rows = []
    for key, label in (("vs_runner_up", "runner-up"), ("vs_baseline", "baseline")):
        item = sig.get(key)
        if not item:
            continue
        if "error" in item:
            rows.append(
                [
                    _e(label),
                    f"<code>{_e(item['a'])}</code> vs <code>{_e(item['b'])}</code>",
                    "",
                    "",
                    "",
                    f'<span class="warn">not computed: {_e(item["error"])}</span>',
                ]
            )
            continue
        cls = "ok" if item["verdict"] == "significant" else "warn"
        rows.append(
            [
                _e(label),
                f"<code>{_e(item['a'])}</code> vs <code>{_e(item['b'])}</code>",
                _e(item["method"]),
                f"{item['difference']:+.4f}",
                f"{item['p_value']:.3g}",
                f'<span class="{cls}">{_e(item["verdict"])}</span>',
            ]
        )
    if not rows:
        return "<p>Only one snapshot was ranked: nothing to compare with.</p>"
    return _table(
        ("against", "pair", "test", f"{sig.get('metric')} difference", "p", "verdict"), rows
    ) + (
        f'<p class="muted">Test split predictions; significant when p &lt; '
        f"{_e(sig.get('alpha'))}. A positive difference favours the top pick."
        "</p>"
    )


def sensitivity_summary(sens: Mapping[str, Any], names: Mapping[str, str] | None = None) -> str:
    """ "stays first in 18 of 20 perturbed weightings; otherwise: mlp (2)"."""
    from collections import Counter

    names = names or {}
    text = (
        f"stays first in {sens['stays_first']} of {sens['n']} perturbed weightings "
        f"({sens['share']:.0%})"
    )
    others = Counter(str(c["winner"]) for c in sens.get("cases", ()) if not c["stays_first"])
    if others:
        text += "; otherwise: " + ", ".join(
            f"{names.get(w) or w} ({n})" for w, n in others.most_common()
        )
    return text


def _names(result: Any) -> dict[str, str]:
    names = {e.id: e.name for e in result.ranked}
    names.update({r["id"]: r.get("name", "") for r in result.rejected if r.get("name")})
    return names


def _sensitivity_html(
    sens: Mapping[str, Any] | None, names: Mapping[str, str] | None = None
) -> str:
    if not sens or not sens.get("top"):
        return "<p>Nothing ranked.</p>"
    names = names or {}
    rows = [
        [
            _e(c["criterion"]),
            f"{c['change']:+.0%}",
            _e(names.get(c["winner"]) or c["winner"]),
            "yes" if c["stays_first"] else '<span class="warn">no</span>',
        ]
        for c in sens["cases"]
    ]
    top = names.get(sens["top"]) or sens["top"]
    return (
        f"<p><strong>{_e(top)}</strong> <code>{_e(sens['top'])}</code> "
        f"{_e(sensitivity_summary(sens, names))}. Each weight was moved by &minus;25, "
        "&minus;10, +10 and +25 % on its own, then all weights renormalised.</p>"
        f"<details><summary>All {len(rows)} perturbations</summary>"
        + _table(("weight moved", "by", "winner", "top stays first"), rows)
        + "</details>"
    )


def _decisions_html(data: ReportData) -> str:
    status = (
        '<p class="ok">Hash chain intact.</p>'
        if not data.chain_problems
        else '<p class="bad">Hash chain broken: '
        + "<br>".join(_e(p) for p in data.chain_problems)
        + "</p>"
    )
    if not data.decisions:
        return status + "<p>No decision recorded yet.</p>"
    rows = []
    for d in data.decisions:
        extra = []
        extra += [f"caveat: {c}" for c in d.get("caveats") or []]
        if d.get("monitoring"):
            extra.append(f"monitoring: {d['monitoring']}")
        if d.get("override"):
            extra.append(f"override: {d['override']}")
        rows.append(
            [
                _e(d.get("id")),
                _e(d.get("decided_at")),
                _e(d.get("decided_by")),
                f"<code>{_e(d.get('snapshot_id'))}</code>",
                _e(d.get("criteria_revision", "")),
                _e(d.get("rationale")),
                "<br>".join(_e(x) for x in extra),
                f"<code>{_e(str(d.get('sha256', ''))[:12])}</code>",
            ]
        )
    return status + _table(
        (
            "id",
            "when",
            "by",
            "snapshot",
            "criteria rev.",
            "rationale",
            "caveats / monitoring",
            "sha256",
        ),
        rows,
    )


def _monitoring_html(data: ReportData) -> str:
    """Each decision's ``modelsnap monitor`` records, oldest first."""
    rows = []
    for decision in data.decisions:
        for record in data.monitoring.get(str(decision.get("id", "")), []):
            verdict = record["verdict"]
            cls = "ok" if verdict == "holds" else "bad"
            rows.append(
                [
                    _e(decision.get("id")),
                    _e(record["created_at"]),
                    f'<span class="{cls}">{_e(verdict)}</span>',
                    f"{_e(record['data_file'])} ({_e(record['n_rows'])} rows)",
                    "<br>".join(_e(r) for r in record["reasons"]),
                    f"<code>{_e(record['path'])}</code>",
                ]
            )
    if not rows:
        return (
            "<p>No monitoring record yet: <code>modelsnap monitor DIR --data new.csv</code> "
            "holds the decided model to its snapshot on new labelled data.</p>"
        )
    return _table(("decision", "when", "verdict", "new data", "reasons", "record"), rows)


def _latency_split_html(data: ReportData) -> str:
    """The latency split of each detailed snapshot: the whole pipeline beside the estimator
    alone on preprocessed rows (which one to constrain: docs/profiler.md)."""
    rows = []
    for snapshot_id, snapshot in data.snapshots.items():
        res = snapshot.get("resources")
        if not isinstance(res, Mapping) or "latency_model_p50_ms" not in res:
            continue
        share = res.get("preprocess_share")
        rows.append(
            [
                f"<code>{_e(snapshot_id)}</code> {_e(snapshot.get('name'))}",
                *(
                    f'<span class="n">{_e(_num(res.get(key)))}</span>'
                    for key in (
                        "latency_p50_ms",
                        "latency_p95_ms",
                        "latency_model_p50_ms",
                        "latency_model_p95_ms",
                    )
                ),
                _e(f"{share * 100:.0f} %") if isinstance(share, int | float) else "",
            ]
        )
    if not rows:
        return (
            '<p class="muted">No snapshot shown records the estimator\'s own latency '
            "(snapshots made before it was measured; <code>modelsnap profile</code> adds it).</p>"
        )
    headers = (
        "snapshot",
        "pipeline p50 ms",
        "pipeline p95 ms",
        "estimator alone p50 ms",
        "estimator alone p95 ms",
        "preprocessing share of p50",
    )
    return _table(headers, rows) + (
        '<p class="muted">Pipeline: a raw row in, preprocessing and the estimator. Estimator '
        "alone: the same rows already preprocessed, as when features arrive precomputed.</p>"
    )


def _snapshot_html(snapshot_id: str, snapshot: Mapping[str, Any], status: str) -> str:
    model = _get(snapshot, "model") or {}
    sections = [
        f'<p><span class="pill">{_e(status)}</span> {_e(snapshot.get("kind"))} '
        f"<code>{_e(model.get('estimator'))}</code>, version {_e(snapshot.get('version'))}"
        f", created {_e(snapshot.get('created_at'))}, criteria revision "
        f"{_e(snapshot.get('criteria_revision'))}</p>"
    ]
    metrics = _get(snapshot, "metrics") or {}
    names = sorted(set(metrics.get("validation", {})) | set(metrics.get("test", {})))
    rows = []
    for name in names:
        ci = _get(metrics, "test_ci", name)
        ci_text = f"[{_num(ci[0])}, {_num(ci[1])}]" if isinstance(ci, list) and len(ci) == 2 else ""
        rows.append(
            [
                _e(name),
                _e(_num(_get(metrics, "validation", name))),
                _e(_num(_get(metrics, "test", name))),
                _e(ci_text),
            ]
        )
    sections.append(
        "<h4>Metrics</h4>" + _table(("metric", "validation", "test", "test 95 % CI"), rows)
    )
    from modelsnap.core.reporting.readable import ci_method_text

    method = ci_method_text(metrics)
    if method:
        sections.append(f"<p>{_e(method)}</p>")
    if isinstance(snapshot.get("resources"), Mapping) and snapshot["resources"]:
        from modelsnap.core.reporting.readable import latency_split_text

        split = latency_split_text(dict(snapshot["resources"]))
        split_html = f"<p>Latency split: {_e(split)}.</p>" if split else ""
        sections.append("<h4>Resources</h4>" + split_html + _kv(snapshot["resources"]))
    constraints = snapshot.get("constraints")
    if isinstance(constraints, Mapping) and constraints:
        rows = [
            [
                _e(name),
                *(_e(text) for text in _value_and_limit(entry)),
                (
                    "missing"
                    if entry.get("missing")
                    else '<span class="ok">ok</span>'
                    if entry.get("ok")
                    else '<span class="bad">failed</span>'
                ),
            ]
            for name, entry in constraints.items()
            if isinstance(entry, Mapping)
        ]
        sections.append(
            "<h4>Constraints when recorded</h4>"
            + _table(("constraint", "value", "limit", "result"), rows)
        )
    # what it is worth first, then how it was made (parameters, data, environment, hardware)
    for key, title in (
        ("gain", "Gain over baseline"),
        ("fairness", "Fairness"),
        ("interpretability", "Interpretability"),
        ("edge_cases", "Edge cases"),
        ("checks", "Checks"),
    ):
        table = snapshot.get(key)
        if isinstance(table, Mapping) and table:
            sections.append(f"<h4>{title}</h4>" + _kv(table))
    params = model.get("params")
    params = params if isinstance(params, Mapping) else {}
    sections.append("<h4>Parameters</h4>" + _kv(params))
    for key, title in (("data", "Data"), ("environment", "Environment"), ("hardware", "Hardware")):
        table = snapshot.get(key)
        if isinstance(table, Mapping) and table:
            sections.append(f"<h4>{title}</h4>" + _kv(table))
    if snapshot.get("notes"):
        sections.append(f"<h4>Notes</h4><p>{_e(snapshot['notes'])}</p>")
    return (
        f'<details id="s-{_e(snapshot_id)}"><summary><code>{_e(snapshot_id)}</code> '
        f"{_e(snapshot.get('name'))}</summary>{''.join(sections)}</details>"
    )


def render_html(data: ReportData) -> str:
    result = data.result
    criteria_rows = [
        [_e(n), f"{w:.4g}", _e(result.directions[n])] for n, w in result.weights.items()
    ]
    from modelsnap.core.reporting.readable import constraint_lines

    constraint_rows = [[_e(name), _e(limit)] for name, limit in constraint_lines(data.constraints)]
    status = {e.id: "ranked" for e in result.ranked}
    status.update({r["id"]: "rejected" for r in result.rejected})
    status.update({r["id"]: "incomplete" for r in result.incomplete})
    details = "".join(_snapshot_html(i, s, status.get(i, "")) for i, s in data.snapshots.items())
    top = result.top
    summary = (
        f"<p>Top pick: <code>{_e(top.id)}</code> ({_e(top.name)}), score {top.score:.4f}.</p>"
        if top
        else "<p>No snapshot could be ranked.</p>"
    )
    warnings = "".join(f'<li class="warn">{_e(w)}</li>' for w in result.warnings + data.problems)
    method = METHODS[result.method].description if result.method in METHODS else result.method
    body = f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{_e(data.project_name)}: model selection report</title>
<style>{CSS}</style></head><body>
<h1>{_e(data.project_name)}: model selection report</h1>
<p class="muted">Generated {_e(data.generated_at)} by modelsnap. Criteria revision
{_e(data.criteria_revision if data.criteria_revision is not None else "not locked")};
ranked on the {_e(result.split)} split; primary metric {_e(result.primary_metric)};
method: {_e(method)}. Data set <code>{_e(str(result.dataset_sha256)[:12])}</code>,
split <code>{_e(str(result.split_sha256)[:12])}</code>.</p>
{summary}
{"<ul>" + warnings + "</ul>" if warnings else ""}
<h2>Criteria and constraints</h2>
{_table(("criterion", "weight (normalised)", "direction"), criteria_rows)}
{
        _table(("hard constraint", "limit"), constraint_rows)
        if constraint_rows
        else "<p>No hard constraints.</p>"
    }
<h2>Ranking</h2>
{_ranking_html(result)}
<h2>Trade-off</h2>
{tradeoff_svg(chart_points(data), result.primary_metric)}
<h2>Latency: whole pipeline and estimator alone</h2>
{_latency_split_html(data)}
<h2>Significance</h2>
{_significance_html(data.significance)}
<h2>Sensitivity</h2>
{_sensitivity_html(result.sensitivity, _names(result))}
<h2>Decision history</h2>
{_decisions_html(data)}
<h2>Monitoring</h2>
{_monitoring_html(data)}
<h2>Snapshots</h2>
{details or "<p>None.</p>"}
{
        f'<p class="muted">{data.not_detailed} more snapshot(s) not detailed here: '
        "<code>modelsnap show DIR ID</code> prints any of them.</p>"
        if data.not_detailed
        else ""
    }
</body></html>
"""
    return body


# ---------------------------------------------------------------------------------------------
# Markdown model card


def _md(value: Any) -> str:
    """Text from the folder in Markdown: no raw HTML (``<`` ``>`` ``&`` become entities), no
    control characters, no link brackets, no table breaks, one line."""
    text = printable(str(value).replace("\r\n", " ").replace("\n", " "))
    text = html.escape(text, quote=False)
    return text.replace("|", "\\|").replace("[", "\\[").replace("]", "\\]")


def _md_code(value: Any) -> str:
    """A value shown in a code span: control characters escaped, no backtick to break out."""
    return printable(value).replace("`", "'")


def _md_table(headers: Sequence[str], rows: Sequence[Sequence[Any]]) -> list[str]:
    lines = ["| " + " | ".join(headers) + " |", "|" + "---|" * len(headers)]
    lines += ["| " + " | ".join(_md(c) for c in row) + " |" for row in rows]
    return lines


def _md_decision(data: ReportData, decision: Mapping[str, Any] | None) -> list[str]:
    """The model card's decision section (and the monitoring of that decision)."""
    lines: list[str] = []
    if decision:
        lines += [
            "## Decision",
            "",
            f"- Decision {_md(decision.get('id'))} on {_md(decision.get('decided_at'))} by "
            f"{_md(decision.get('decided_by'))}",
            f"- Rationale: {_md(decision.get('rationale'))}",
        ]
        lines += [f"- Caveat: {_md(c)}" for c in decision.get("caveats", [])]
        if decision.get("monitoring"):
            lines.append(f"- Monitoring: {_md(decision['monitoring'])}")
        if decision.get("override"):
            lines.append(f"- Override of the ranking: {_md(decision['override'])}")
        lines.append(
            "- Decision log: "
            + (
                "hash chain intact"
                if not data.chain_problems
                else "BROKEN: " + _md(data.chain_problems[0])
            )
        )
        watched = data.monitoring.get(str(decision.get("id", "")), [])
        if watched:
            lines += ["", "## Monitoring", ""]
            lines += _md_table(
                ("when", "verdict", "new data", "reasons"),
                [
                    (
                        r["created_at"],
                        r["verdict"],
                        f"{r['data_file']} ({r['n_rows']} rows)",
                        "; ".join(r["reasons"]) or "-",
                    )
                    for r in watched
                ],
            )
    else:
        lines += ["## Decision", "", "Not decided yet: this card describes the current top pick."]
    return lines


def _md_constraints(data: ReportData, snapshot: Mapping[str, Any]) -> list[str]:
    """The model card's constraints section: the limits in force and the recorded verdicts."""
    from modelsnap.core.reporting.readable import constraint_text

    lines: list[str] = []
    recorded = snapshot.get("constraints")
    if data.constraints or isinstance(recorded, Mapping) and recorded:
        lines += ["", "## Constraints", ""]
        if data.constraints:
            lines += [f"Hard limits in force: {_md(constraint_text(data.constraints))}.", ""]
        if isinstance(recorded, Mapping) and recorded:
            lines += _md_table(
                ("constraint", "value", "limit", "result"),
                [
                    (
                        name,
                        _num(entry.get("value")),
                        _num(entry.get("limit")),
                        "missing"
                        if entry.get("missing")
                        else "✓ passes"
                        if entry.get("ok")
                        else "✗ fails",
                    )
                    for name, entry in recorded.items()
                    if isinstance(entry, Mapping)
                ],
            )
    return lines


def render_markdown(data: ReportData) -> str:
    """A model card of the chosen model: the latest decision's snapshot, else the top pick."""
    from modelsnap.core.reporting.readable import flatten, latency_split_text, plain

    result = data.result
    decision = data.decisions[-1] if data.decisions else None
    chosen_id = decision.get("snapshot_id") if decision else (result.top.id if result.top else None)
    lines = [f"# Model card: {_md(data.project_name)}", ""]
    if chosen_id is None:
        return "\n".join(lines + ["No snapshot could be ranked and no decision was recorded.", ""])
    snapshot = data.snapshots.get(chosen_id) or {"id": chosen_id}
    model = snapshot.get("model") or {}
    entry = next((e for e in result.ranked if e.id == chosen_id), None)
    lines += [f"Generated {_md(data.generated_at)} by modelsnap.", ""]
    lines += _md_decision(data, decision)
    lines += [
        "",
        "## Model",
        "",
        f"- Snapshot: `{_md_code(chosen_id)}` ({_md(snapshot.get('name'))}, "
        f"{_md(snapshot.get('kind'))}, version {_md(snapshot.get('version'))})",
        f"- Estimator: `{_md_code(model.get('estimator'))}`",
        f"- Parameters: {_md(plain(model.get('params') or {}))}",
        f"- Created: {_md(snapshot.get('created_at'))}, criteria revision "
        f"{_md(snapshot.get('criteria_revision'))}",
    ]
    if entry:
        lines.append(
            f"- Ranking: #{entry.rank} of {len(result.ranked)}, score {entry.score:.4f}"
            f" ({method_label(result.method)}, "
            f"{result.split} split){', on the Pareto front' if entry.pareto else ''}"
        )
    else:
        lines.append(f"- Ranking: not ranked ({_md(result.status(chosen_id))})")
    metrics = snapshot.get("metrics") or {}
    names = sorted(set(metrics.get("validation", {})) | set(metrics.get("test", {})))
    lines += ["", "## Metrics", ""]
    lines += _md_table(
        ("metric", "validation", "test", "test 95 % CI"),
        [
            (
                n,
                _num(_get(metrics, "validation", n)),
                _num(_get(metrics, "test", n)),
                ", ".join(_num(x) for x in _get(metrics, "test_ci", n) or []),
            )
            for n in names
        ],
    )
    lines += _md_constraints(data, snapshot)
    for key, title in (
        ("resources", "Resources"),
        ("gain", "Gain over the baseline"),
        ("fairness", "Fairness"),
        ("interpretability", "Interpretability"),
        ("edge_cases", "Edge cases"),
        ("checks", "Checks"),
        ("data", "Data"),
        ("environment", "Environment"),
    ):
        table = snapshot.get(key)
        if isinstance(table, Mapping) and table:
            lines += ["", f"## {title}", ""]
            split = latency_split_text(dict(table)) if key == "resources" else None
            if split:
                lines += [f"Latency split: {_md(split)}.", ""]
            lines += _md_table(
                ("key", "value"), [(k, plain(v, digits=4)) for k, v in flatten(dict(table))]
            )
    sig = data.significance or {}
    compared = [
        (label, sig[key])
        for key, label in (("vs_runner_up", "runner-up"), ("vs_baseline", "baseline"))
        if key in sig
    ]
    if compared and entry and entry.rank == 1:
        lines += ["", "## Significance (test split)", ""]
        for label, item in compared:
            if "error" in item:
                lines.append(
                    f"- vs {label} `{_md_code(item['b'])}`: not computed ({_md(item['error'])})"
                )
            else:
                lines.append(
                    f"- vs {label} `{_md_code(item['b'])}`: {item['metric']} difference "
                    f"{item['difference']:+.4f}, p = {item['p_value']:.3g} "
                    f"({item['method']}): **{item['verdict']}**"
                )
    sens = result.sensitivity
    if sens and sens.get("top") == chosen_id:
        summary = sensitivity_summary(sens, _names(result))
        lines += ["", "## Sensitivity", "", f"{summary[0].upper()}{summary[1:]}."]
    lines.append("")
    return "\n".join(lines)
