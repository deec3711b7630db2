"""A snapshot as a card: what was measured, which hard limits it breaks and by how much.

The card renders a snapshot dict exactly as stored (docs/snapshot-format.md), so the TUI and
``modelsnap show`` describe the same record. Pass/fail is shown with check marks and words, not
colour alone. A failed run gets a card too, carrying its reason, because an empty space where a
model should be teaches nothing.
"""

from __future__ import annotations

from typing import Any

from rich.console import Console, ConsoleOptions, Group, RenderResult
from rich.text import Text
from textual.widget import Widget
from textual.widgets import Static

from modelsnap.core.measures import (
    CARD_QUALITY,
    CARD_RESOURCES,
    QUALITY_METRICS,
    REGISTRY,
    UNBOUNDED_METRICS,
    is_overfit,
)
from modelsnap.core.reporting.readable import from_little_bags
from modelsnap.core.selection.constraints import format_pair
from modelsnap.tui.widgets.formatting import num, pct, safe_text, short_id

QUALITY_ORDER = CARD_QUALITY


def _end_style(text: Text) -> Any:
    """The style of the last character of ``text`` (its last span, else the base style)."""
    for span in reversed(text.spans):
        if span.end >= len(text):
            return span.style
    return text.style


def space_after(text: Text, count: int = 1) -> Text:
    """Add a space in the style of the text before it. A space that opens a run of another
    style can disappear in an SVG export drawn with a wider fallback font ("0.738(test");
    ending the previous run with it keeps the words apart in every renderer."""
    text.append(" " * count, style=_end_style(text))
    return text


def tidy(text: Text) -> Text:
    """The same text with no run of one style starting with a space: spaces move to the end
    of the run before, and neighbouring runs of one style become one. Exported SVGs draw each
    run on its own, and some renderers drop or move a leading space ("0.704[0.674, 0.734] )")."""
    pieces: list[tuple[str, Any]] = []
    position = 0
    for span in sorted(text.spans, key=lambda s: s.start):
        if span.start < position:
            return text  # overlapping styles: leave as is
        if span.start > position:
            pieces.append((text.plain[position : span.start], text.style))
        pieces.append((text.plain[span.start : span.end], span.style))
        position = span.end
    if position < len(text.plain):
        pieces.append((text.plain[position:], text.style))
    out = Text(style=text.style, end=text.end, no_wrap=text.no_wrap, overflow=text.overflow)
    merged: list[list[Any]] = []
    for given, style in pieces:
        piece = given
        if merged and piece.startswith(" "):
            stripped = piece.lstrip(" ")
            merged[-1][0] += " " * (len(piece) - len(stripped))
            piece = stripped
        if not piece:
            continue
        if merged and merged[-1][1] == style:
            merged[-1][0] += piece
        else:
            merged.append([piece, style])
    for piece, style in merged:
        out.append(piece, style=style)
    return out


class Flow:
    """Entries laid out like words: as many per line as fit, never broken in the middle (a
    limit such as "✓ fairness_gap 0.12 (limit 0.15)" stays on one line at 80 columns)."""

    def __init__(self, entries: list[Text], *, head: Text | None = None, sep: str = " · "):
        self.entries = [entry for entry in entries if entry.plain]
        self.head = head or Text()
        self.sep = sep

    @property
    def plain(self) -> str:
        return self.head.plain + self.sep.join(entry.plain for entry in self.entries)

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> RenderResult:
        width = options.max_width
        line = self.head.copy()
        fresh = True  # nothing but the head on this line yet
        for entry in self.entries:
            extra = (0 if fresh else len(self.sep)) + entry.cell_len
            if not fresh and line.cell_len + extra > width:
                yield tidy(line)
                line, fresh = Text("  "), True
            if not fresh:
                space_after(line)
                line.append(self.sep.lstrip(" "), style="dim")
            line.append_text(entry)
            fresh = False
        if line.plain.strip():
            yield tidy(line)


def _quality_line(snapshot: dict, primary: str) -> Flow:
    metrics = snapshot.get("metrics", {})
    validation = metrics.get("validation", {})
    test = metrics.get("test", {})
    interval = metrics.get("test_ci", {})
    names = [primary] if primary in validation else []
    names += [n for n in QUALITY_ORDER if n in validation and n not in names][: 3 - len(names)]
    entries = []
    for name in names:
        line = Text()
        entries.append(line)
        line.append(f"{name} ", style="dim")
        line.append(num(validation[name]), style="bold" if name == primary else "")
        if name == primary and name in test:
            space_after(line)
            line.append(f"(test {num(test[name])}", style="dim")
            ci = interval.get(name)
            if isinstance(ci, list) and len(ci) == 2:
                line.append(f" [{num(ci[0])}, {num(ci[1])}]", style="dim")
                if from_little_bags(metrics):  # show and the report say it whole
                    line.append(" little bags", style="dim")
            line.append(")", style="dim")
    return Flow(entries)


# Metrics that live in [0, 1]: their gains read best as percentage points.
BOUNDED = frozenset(QUALITY_METRICS) - UNBOUNDED_METRICS


def per_unit(value: float, metric: str, unit: str, absolute: float | None = None) -> str:
    """A gain per extra millisecond or megabyte, in words: '+0.60 % f1 per extra MB'.

    When the model costs less than one extra unit (0.005 MB more), a rate per unit would
    extrapolate far past what was measured; the extra itself is said instead."""
    if absolute is not None and value:
        extra = absolute / value
        if abs(extra) < 1:
            return f"for {extra:.2g} {unit} more"
    if metric in BOUNDED:
        return f"{value * 100:+.2f} % {metric} per extra {unit}"
    return f"{value:+.3g} {metric} per extra {unit}"


def _resource_line(snapshot: dict, machine: str = "") -> Flow:
    res = snapshot.get("resources", {})
    entries = []
    for key in CARD_RESOURCES:
        if key in res:
            measure = REGISTRY[key]
            entry = Text(f"{measure.short} ", style="dim")
            entry.append(f"{num(res[key], 2)} {measure.unit}", style="")
            entries.append(entry)
            share = res.get("preprocess_share")
            if key == "latency_model_p95_ms" and isinstance(share, int | float):
                entry = Text("preprocessing ", style="dim")
                entry.append(f"{share * 100:.0f} % of p50", style="")
                entries.append(entry)
    if machine:
        entries.append(Text(f"on {machine}", style="dim"))
    return Flow(entries)


def _value_and_limit(value: Any, limit: Any) -> tuple[str, str]:
    """Two decimals as before when that tells the numbers apart, else as many significant
    digits as it takes (core.selection.constraints.format_pair): a failure never reads as
    equality."""
    shown = num(value, 2), num(limit, 2)
    if shown[0] != shown[1] or value == limit:
        return shown
    return format_pair(value, limit)


def _constraint_lines(snapshot: dict) -> list[Any]:
    """One entry per hard limit; entries flow in columns and never break in the middle."""
    checks = snapshot.get("constraints", {})
    if not checks:
        return [Text("limits: none set", style="dim")]
    entries = []
    for name, check in sorted(checks.items()):
        if not isinstance(check, dict):
            continue
        if check.get("missing"):
            entries.append(Text(f"? {name} not measured", style="yellow"))
            continue
        entry = Text()
        ok = bool(check.get("ok", False))
        entry.append("✓ " if ok else "✗ ", style="green" if ok else "bold red")
        value, limit = check.get("value"), check.get("limit")
        shown_value, shown_limit = _value_and_limit(value, limit)
        entry.append(f"{name} {shown_value} ")
        if ok:
            entry.append(f"(limit {shown_limit})", style="dim")
        else:
            numbers = isinstance(value, int | float) and isinstance(limit, int | float)
            below = numbers and value < limit
            word = "under the minimum" if below else "over the limit"
            entry.append(f"{word} {shown_limit} by {pct(check.get('over'))[1:]}", style="red")
        entries.append(entry)
    failed = sum(1 for e in entries if e.plain.startswith(("✗", "?")))
    head = Text("limits: ", style="dim")
    head.append(f"{len(entries) - failed} of {len(entries)} met: ")
    return [Flow(entries, head=head, sep="  ")]


def _gain_line(snapshot: dict) -> Text | None:
    gain = snapshot.get("gain")
    if not gain:
        return None
    line = Text("vs baseline: ", style="dim")
    line.append(f"{float(gain.get('absolute', 0.0)):+.3f} {gain.get('metric', '')} ")
    line.append(f"({pct(gain.get('relative'))})")
    metric = str(gain.get("metric", ""))
    absolute = gain.get("absolute")
    absolute = float(absolute) if isinstance(absolute, int | float) else None
    for key, unit in (("per_ms_p95", "ms"), ("per_mb", "MB")):
        if key in gain:
            space_after(line)
            line.append(f"· {per_unit(float(gain[key]), metric, unit, absolute)}", style="dim")
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
        space_after(line, 2)
        line.append(f"top {', '.join(top)}", style="dim")
    hits = info.get("suspect_hits") or []
    if hits:
        space_after(line, 2)
        line.append(f"! suspect: {', '.join(hits)}", style="bold yellow")
    return line


def _fairness_line(snapshot: dict) -> Text | None:
    info = snapshot.get("fairness")
    if not info:
        return None
    line = Text("fairness: ", style="dim")
    line.append(f"max gap {num(info.get('max_gap'))}")
    for column, detail in sorted(info.get("columns", {}).items()):
        space_after(line, 2)
        line.append(f"{column} {num(detail.get('gap'))}", style="dim")
    return line


def _edge_line(edge: dict | None) -> Text | None:
    if not edge:
        return None
    failed = int(edge.get("must_pass_failed", 0))
    line = Text("edge cases: ", style="dim")
    line.append(f"{edge.get('n_passed', 0)} of {edge.get('n_cases', 0)} passed  ")
    if failed:
        line.append(f"✗ {failed} must-pass failed", style="bold red")
    return line


def render_snapshot(
    snapshot: dict, *, primary: str = "", edge: dict | None = None, machine: str = ""
) -> Group:
    """The card body for a stored snapshot (a Rich renderable). ``machine`` says where it was
    profiled in words ("this machine", "another machine (Intel Xeon, 2 cores)")."""
    title = Text()
    title.append(f"{snapshot.get('name', '?')} ", style="bold")
    title.append(f"· {snapshot.get('kind', '')} {snapshot.get('version', '')} ", style="dim")
    title.append(f"· {short_id(str(snapshot.get('id', '')))}", style="dim")
    lines: list[Any] = [title, _quality_line(snapshot, primary), _resource_line(snapshot, machine)]
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
    if is_overfit(checks):
        lines.append(
            Text(
                f"! validation beats test by {num(checks.get('overfit_gap'))}: "
                "tuned to the validation split?",
                style="bold yellow",
            )
        )
    for warning in checks.get("leakage", []) or []:
        lines.append(Text(f"! leakage: {warning}", style="bold yellow"))
    return Group(*(safe_text(tidy(line)) if isinstance(line, Text) else line for line in lines))


def render_failure(name: str, reason: str, error: str) -> Group:
    """The card for a run that did not produce a snapshot: nothing was written."""
    title = Text()
    title.append(f"{name} ", style="bold")
    title.append("· run failed", style="bold red")
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
        machine: str = "",
        failure: tuple[str, str, str] | None = None,
        **kwargs,
    ) -> None:
        super().__init__(**kwargs)
        self.key: tuple | None = None
        self.show(snapshot, primary=primary, edge=edge, machine=machine, failure=failure)

    def _body(self, primary: str, edge: dict | None, machine: str) -> Any:
        if self.failure is not None:
            return render_failure(*self.failure)
        if self.snapshot is not None:
            return render_snapshot(self.snapshot, primary=primary, edge=edge, machine=machine)
        return Text("no snapshot yet", style="dim")

    def show(
        self,
        snapshot: dict | None = None,
        *,
        primary: str = "",
        edge: dict | None = None,
        machine: str = "",
        failure: tuple[str, str, str] | None = None,
    ) -> None:
        """Show another snapshot (or failure) in this card; nothing happens when it is the
        one already shown, so an unchanged card is neither re-rendered nor laid out again."""
        key = card_key(snapshot, primary=primary, edge=edge, machine=machine, failure=failure)
        if key == self.key:
            return
        self.snapshot, self.failure, self.key = snapshot, failure, key
        self.update(self._body(primary, edge, machine))
        self.set_class(failure is not None, "-failed")


def card_key(
    snapshot: dict | None,
    *,
    primary: str = "",
    edge: dict | None = None,
    machine: str = "",
    failure: tuple[str, str, str] | None = None,
) -> tuple:
    """What a card shows, as a value to compare: a stored snapshot never changes under its id,
    so the id stands for it (with what else the card adds: primary metric, edge result, the
    machine in words)."""
    if failure is not None:
        return ("failure", *failure)
    if snapshot is None:
        return ("empty",)
    return ("snapshot", snapshot.get("id"), primary, repr(edge), machine)


def sync_cards(holder: Widget, wanted: list[dict[str, Any] | str]) -> None:
    """Make ``holder``'s children show ``wanted``, in order: each entry the keyword arguments
    of a :class:`SnapshotCard`, or a plain line of text (a ``Static``).

    Children already there are reused in place (a card shows its new snapshot, a line its new
    text; unchanged ones are left alone) and only the surplus is mounted or removed: after a
    run only the new snapshot's card is drawn again, not every card, and the screen is not
    laid out from scratch.
    """
    children = [child for child in holder.children if not child.has_class("-leaving")]
    for index, entry in enumerate(wanted):
        child = children[index] if index < len(children) else None
        if isinstance(entry, str):
            if type(child) is Static:
                if str(child.content) != entry:
                    child.update(entry)
                continue
            new: Widget = Static(entry, markup=False)
        else:
            if isinstance(child, SnapshotCard):
                child.show(**entry)
                continue
            new = SnapshotCard(**entry)
        if child is None:
            holder.mount(new)
        else:
            holder.mount(new, before=child)
            child.add_class("-leaving")
            child.remove()
    for child in children[len(wanted) :]:
        child.add_class("-leaving")
        child.remove()
