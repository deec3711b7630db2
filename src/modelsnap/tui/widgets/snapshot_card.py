"""A snapshot as a card: what was measured, which hard limits it breaks and by how much.

The card renders a snapshot dict exactly as stored (docs/snapshot-format.md), so the TUI and
``modelsnap show`` describe the same record. Pass/fail is shown with check marks and words, not
colour alone. A failed run gets a card too, carrying its reason, because an empty space where a
model should be teaches nothing.
"""

from __future__ import annotations

from typing import Any

from rich.console import Group
from rich.text import Text
from textual.widgets import Static

from modelsnap.tui.widgets.formatting import num, pct, safe_text, short_id

QUALITY_ORDER = (
    "f1",
    "accuracy",
    "balanced_accuracy",
    "precision",
    "recall",
    "roc_auc",
    "r2",
    "mae",
    "rmse",
    "log_loss",
    "brier",
)


def _quality_line(snapshot: dict, primary: str) -> Text:
    metrics = snapshot.get("metrics", {})
    validation = metrics.get("validation", {})
    test = metrics.get("test", {})
    interval = metrics.get("test_ci", {})
    names = [primary] if primary in validation else []
    names += [n for n in QUALITY_ORDER if n in validation and n not in names][: 3 - len(names)]
    line = Text()
    for name in names:
        line.append(f"{name} ", style="dim")
        line.append(num(validation[name]), style="bold" if name == primary else "")
        if name == primary and name in test:
            line.append(f" (test {num(test[name])}", style="dim")
            ci = interval.get(name)
            if isinstance(ci, list) and len(ci) == 2:
                line.append(f" [{num(ci[0])}, {num(ci[1])}]", style="dim")
            line.append(")", style="dim")
        line.append("  ")
    return line


def _resource_line(snapshot: dict) -> Text:
    res = snapshot.get("resources", {})
    line = Text()
    for label, key, unit in (
        ("p95", "latency_p95_ms", " ms"),
        ("size", "size_mb", " MB"),
        ("mem", "peak_memory_mb", " MB"),
        ("fit", "fit_seconds", " s"),
    ):
        if key in res:
            line.append(f"{label} ", style="dim")
            line.append(f"{num(res[key], 2)}{unit}  ")
    return line


def _constraint_lines(snapshot: dict) -> list[Text]:
    checks = snapshot.get("constraints", {})
    if not checks:
        return [Text("limits: none set", style="dim")]
    line = Text("limits: ", style="dim")
    for name, check in sorted(checks.items()):
        if not isinstance(check, dict):
            continue
        if check.get("missing"):
            line.append(f"? {name} not measured  ", style="yellow")
            continue
        ok = bool(check.get("ok", False))
        line.append("✓ " if ok else "✗ ", style="green" if ok else "bold red")
        line.append(f"{name} {num(check.get('value'), 2)}")
        if ok:
            line.append(f" (limit {num(check.get('limit'), 2)})  ", style="dim")
        else:
            value, limit = check.get("value"), check.get("limit")
            numbers = isinstance(value, int | float) and isinstance(limit, int | float)
            below = numbers and value < limit
            word = "under the minimum" if below else "over the limit"
            line.append(f" {word} {num(limit, 2)} by {pct(check.get('over'))[1:]}  ", style="red")
    return [line]


def _gain_line(snapshot: dict) -> Text | None:
    gain = snapshot.get("gain")
    if not gain:
        return None
    line = Text("vs baseline: ", style="dim")
    line.append(f"{float(gain.get('absolute', 0.0)):+.3f} {gain.get('metric', '')} ")
    line.append(f"({pct(gain.get('relative'))})")
    if "per_ms_p95" in gain:
        line.append(f"  {float(gain['per_ms_p95']):+.4f}/ms", style="dim")
    if "per_mb" in gain:
        line.append(f"  {float(gain['per_mb']):+.4f}/MB", style="dim")
    return line


def _interpretability_line(snapshot: dict) -> Text | None:
    info = snapshot.get("interpretability")
    if not info:
        return None
    if "unavailable" in info:
        return Text(f"explain: unavailable ({info['unavailable']})", style="dim")
    line = Text("explain: ", style="dim")
    line.append(f"{info.get('family', '?')} score {num(info.get('score'), 2)}")
    top = [f.get("name", "?") for f in info.get("top_features", [])[:3]]
    if top:
        line.append(f"  top {', '.join(top)}", style="dim")
    hits = info.get("suspect_hits") or []
    if hits:
        line.append(f"  ! suspect: {', '.join(hits)}", style="bold yellow")
    return line


def _fairness_line(snapshot: dict) -> Text | None:
    info = snapshot.get("fairness")
    if not info:
        return None
    line = Text("fairness: ", style="dim")
    line.append(f"max gap {num(info.get('max_gap'))}")
    for column, detail in sorted(info.get("columns", {}).items()):
        line.append(f"  {column} {num(detail.get('gap'))}", style="dim")
    return line


def _edge_line(edge: dict | None) -> Text | None:
    if not edge:
        return None
    failed = int(edge.get("must_pass_failed", 0))
    line = Text("edge cases: ", style="dim")
    line.append(f"{edge.get('n_passed', 0)}/{edge.get('n_cases', 0)} passed")
    if failed:
        line.append(f"  ✗ {failed} must-pass failed", style="bold red")
    return line


def render_snapshot(snapshot: dict, *, primary: str = "", edge: dict | None = None) -> Group:
    """The card body for a stored snapshot (a Rich renderable)."""
    title = Text()
    title.append(str(snapshot.get("name", "?")), style="bold")
    title.append(f"  {snapshot.get('kind', '')} {snapshot.get('version', '')}", style="dim")
    title.append(f"  {short_id(str(snapshot.get('id', '')))}", style="dim")
    lines: list[Any] = [title, _quality_line(snapshot, primary), _resource_line(snapshot)]
    lines += _constraint_lines(snapshot)
    for extra in (
        _gain_line(snapshot),
        _interpretability_line(snapshot),
        _fairness_line(snapshot),
        _edge_line(edge or snapshot.get("edge_cases")),
    ):
        if extra is not None:
            lines.append(extra)
    checks = snapshot.get("checks", {})
    if checks.get("overfit_flag"):
        lines.append(
            Text(
                f"! validation beats test by {num(checks.get('overfit_gap'))}: "
                "tuned to the validation split?",
                style="bold yellow",
            )
        )
    for warning in checks.get("leakage", []) or []:
        lines.append(Text(f"! leakage: {warning}", style="bold yellow"))
    return Group(*(safe_text(line) for line in lines))


def render_failure(name: str, reason: str, error: str) -> Group:
    """The card for a run that did not produce a snapshot: nothing was written."""
    title = Text()
    title.append(name, style="bold")
    title.append("  run failed", style="bold red")
    return Group(
        safe_text(title),
        safe_text(Text(f"✗ {reason}: {error}", style="red")),
        Text("nothing was written; fix the cause and run again", style="dim"),
    )


class SnapshotCard(Static):
    """A bordered card for one snapshot, or for one failed run."""

    DEFAULT_CSS = """
    SnapshotCard { border: round $primary; padding: 0 1; height: auto; margin: 0 0 1 0; }
    SnapshotCard.-failed { border: round $error; }
    """

    def __init__(
        self,
        snapshot: dict | None = None,
        *,
        primary: str = "",
        edge: dict | None = None,
        failure: tuple[str, str, str] | None = None,
        **kwargs,
    ) -> None:
        self.snapshot = snapshot
        self.failure = failure
        if failure is not None:
            body = render_failure(*failure)
        elif snapshot is not None:
            body = render_snapshot(snapshot, primary=primary, edge=edge)
        else:
            body = Text("no snapshot yet", style="dim")
        super().__init__(body, **kwargs)
        self.set_class(failure is not None, "-failed")
