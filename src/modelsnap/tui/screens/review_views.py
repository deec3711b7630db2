"""Review mode's secondary views: diff, history (drift), what-if re-rank, decision log.

Each is a screen pushed over the table and closed with escape; each only reads. The what-if
ranks in a thread worker so the view stays responsive with 10,000 rows.
"""

from __future__ import annotations

from typing import Any, ClassVar

from textual import work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import VerticalScroll
from textual.content import Content
from textual.screen import Screen
from textual.widgets import Footer, Input, Static

from modelsnap.core.errors import ModelsnapError
from modelsnap.core.reporting.snapshot_diff import MISSING, comparability_notes, diff_snapshots
from modelsnap.tui.review_data import ReviewData, measure
from modelsnap.tui.widgets.formatting import num, pct, printable, safe_content

Part = tuple[str, str] | str


class _View(Screen[None]):
    """A titled, scrolling, read-only page: subclasses return its content from ``body``."""

    CSS_PATH = "review.tcss"
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "app.pop_screen", "Back", id="review.back"),
        Binding("q", "app.pop_screen", "Back", show=False),
    ]
    TITLE_TEXT = ""

    def compose(self) -> ComposeResult:
        yield Static(printable(self.TITLE_TEXT, limit=500), id="review-view-title", markup=False)
        with VerticalScroll(id="review-view-body"):
            yield Static(safe_content(self.body()), id="review-view-text", markup=False)
        yield Footer()

    def body(self) -> Content:
        return Content("")

    def show(self, content: Content) -> None:
        self.query_one("#review-view-text", Static).update(safe_content(content))


def _value(value: Any) -> str:
    if value is MISSING:
        return "(absent)"
    if isinstance(value, float):
        return num(value, 4)
    if isinstance(value, list) and value and all(isinstance(v, dict) for v in value):
        return f"[{len(value)} entries]"
    return str(value)


class DiffScreen(_View):
    """Two snapshots key by key: only what differs, or everything with ``a``."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("a", "toggle_all", "All / differences", id="review.diff_all"),
    ]

    def __init__(self, left: dict[str, Any], right: dict[str, Any]) -> None:
        self.left, self.right = left, right
        self.show_all = False
        self.TITLE_TEXT = f"diff  {left.get('id')}  →  {right.get('id')}"
        super().__init__()

    def body(self) -> Content:
        lines = diff_snapshots(self.left, self.right, show_all=self.show_all)
        parts: list[Part] = [
            (
                f"{'all keys' if self.show_all else 'only what differs'} "
                f"({len(lines)} keys; a: toggle)\n\n",
                "italic",
            )
        ]
        parts += [
            (f"! {note}\n", "$warning") for note in comparability_notes(self.left, self.right)
        ]
        if not lines:
            parts.append("the two snapshots agree on every key\n")
        for line in lines:
            style = "" if line.same else "bold"
            parts.append((f"{line.key}\n", style))
            parts.append((f"    {_value(line.left)}", "$text-muted" if line.same else "$error"))
            parts.append(("  →  ", ""))
            parts.append((_value(line.right), "$text-muted" if line.same else "$success"))
            change = line.relative_change
            parts.append(f"   ({pct(change)})\n" if change is not None and not line.same else "\n")
        return Content.assemble(*parts)

    def action_toggle_all(self) -> None:
        self.show_all = not self.show_all
        self.show(self.body())


class HistoryScreen(_View):
    """Every version of one model name, oldest first, with the change from the one before."""

    def __init__(self, name: str, rows: list[dict[str, Any]], primary: str) -> None:
        self.rows = sorted(rows, key=lambda r: (r.get("created_at") or "", r["id"]))
        self.primary = primary
        self.TITLE_TEXT = f"history of {name}: {len(self.rows)} snapshots (drift over time)"
        super().__init__()

    def body(self) -> Content:
        primary = self.primary
        parts: list[Part] = [
            (
                f"{'version':<8}{'created':<17}{primary[:8]:>8}{'Δ':>8}{'test':>8}"
                f"{'p95 ms':>9}{'Δ':>8}{'MB':>8}  limits  notes\n",
                "bold",
            )
        ]
        previous: dict[str, Any] | None = None
        for row in self.rows:
            value, p95 = measure(row, primary), row.get("latency_p95_ms")
            notes = []
            if previous is not None:
                for key, label in (
                    ("dataset_sha256", "data changed"),
                    ("split_sha256", "split changed"),
                    ("hardware_fingerprint", "hardware changed"),
                    ("sklearn", "scikit-learn changed"),
                    ("criteria_revision", "criteria revision changed"),
                ):
                    if row.get(key) != previous.get(key):
                        notes.append(label)
            if row.get("reprofile_of"):
                notes.append(f"re-profile of {row['reprofile_of']}")
            parts.append(
                f"{(row.get('version') or '')[:7]:<8}"
                f"{(row.get('created_at') or '')[:16].replace('T', ' '):<17}"
                f"{num(value):>8}{_delta(value, previous, primary):>8}"
                f"{num(measure(row, primary, 'test')):>8}{num(p95, 2):>9}"
                f"{_delta(p95, previous, 'latency_p95_ms'):>8}{num(row.get('size_mb'), 2):>8}  "
            )
            parts.append(
                (
                    "FAIL  " if row["_status"] == "fail" else f"{row['_status']:<6}",
                    "$error" if row["_status"] == "fail" else "",
                )
            )
            parts.append(("  " + "; ".join(notes) if notes else "") + "\n")
            previous = row
        return Content.assemble(*parts)


def _delta(value: float | None, previous: dict[str, Any] | None, name: str) -> str:
    if previous is None or value is None:
        return ""
    before = previous.get(name) if name == "latency_p95_ms" else measure(previous, name)
    if not isinstance(before, int | float):
        return ""
    return f"{value - before:+.3f}" if abs(value - before) < 100 else f"{value - before:+.0f}"


def whatif_text(data: ReviewData) -> str:
    """The what-if editor's first text: the locked revision's weights (what is in force), else
    modelsnap.toml's, written so that they parse back to the same floats."""
    context = data.context
    locked = context.criteria.record if context is not None else None
    if locked is not None:
        pairs = [
            (str(c.get("metric")), float(c.get("weight") or 0.0))
            for c in locked.get("criteria", [])
            if isinstance(c, dict)
        ]
    else:
        pairs = [(c.metric, float(c.weight)) for c in data.config.criteria]
    return ",".join(f"{metric}={weight!r}" for metric, weight in pairs)


def whatif_rank(data: ReviewData, text: str) -> Any:
    """Rank the folder with the weights typed (``core.selection.context``, as ``rank
    --weights``)."""
    from modelsnap.core.selection.ranking import parse_weights

    return data.context.rank(weights=parse_weights(text))


class WhatIfScreen(_View):
    """Re-rank with other weights (``core.selection.context``, as ``modelsnap rank --weights``): the
    locked revision's limits, baseline and competing rows; nothing is written.

    It re-ranks as you type, like step 5: each edit restarts a short timer, the ranking runs in
    a thread worker of its own exclusive group, and a result is shown only if no newer edit
    was made meanwhile (a slow older ranking never replaces a newer one)."""

    TITLE_TEXT = "what-if re-rank (nothing is written; the decision log is untouched)"
    DEBOUNCE = 0.15

    def __init__(self, data: ReviewData) -> None:
        self.data = data
        self._generation = 0
        self._timer: Any = None
        super().__init__()

    def compose(self) -> ComposeResult:
        yield Static(self.TITLE_TEXT, id="review-view-title", markup=False)
        yield Input(
            whatif_text(self.data), id="whatif-weights", placeholder="f1=0.5,latency_p95_ms=0.3"
        )
        yield Static("", id="whatif-error", markup=False)
        with VerticalScroll(id="review-view-body"):
            yield Static("ranking…", id="review-view-text", markup=False)
        yield Footer()

    def on_mount(self) -> None:
        self.query_one("#whatif-error", Static).display = False
        self.query_one("#whatif-weights", Input).focus()
        self.request(self.query_one("#whatif-weights", Input).value, delay=0)

    def on_input_changed(self, event: Input.Changed) -> None:
        self.request(event.value)

    def on_input_submitted(self, event: Input.Submitted) -> None:
        self.request(event.value, delay=0)

    def request(self, text: str, *, delay: float | None = None) -> None:
        """Rank ``text`` once typing pauses (``DEBOUNCE`` seconds)."""
        self._generation += 1
        generation = self._generation
        if self._timer is not None:
            self._timer.stop()
        wait = self.DEBOUNCE if delay is None else delay
        if wait <= 0:
            self._timer = None
            self.rerank(text, generation)
        else:
            self._timer = self.set_timer(wait, lambda: self.rerank(text, generation))

    @work(thread=True, exclusive=True, group="whatif", exit_on_error=False)
    def rerank(self, text: str, generation: int = 0) -> None:
        try:
            result = whatif_rank(self.data, text)
        except ModelsnapError as error:
            outcome: tuple[str, Any] = ("error", str(error))
        else:
            outcome = ("ok", render_ranking(result, self.data.primary))
        self.app.call_from_thread(self._deliver, generation, outcome)

    def _deliver(self, generation: int, outcome: tuple[str, Any]) -> None:
        if generation and generation != self._generation:
            return  # a newer edit is pending or ranked: this result is out of date
        error = self.query_one("#whatif-error", Static)
        kind, value = outcome
        if kind == "error":
            error.update(Content.assemble((f"✗ {value}", "$error")))
            error.display = True
            return  # the last good ranking stays below, so the screen does not flash
        error.update("")
        error.display = False
        self.show(value)


def render_ranking(result: Any, primary: str, limit: int = 30) -> Content:
    weights = ", ".join(f"{k} {v:.2f}" for k, v in result.weights.items())
    parts: list[Part] = [
        (f"{result.method} on {result.split}; weights (normalised): {weights}\n", "italic"),
        f"{len(result.ranked)} ranked · {len(result.rejected)} rejected · "
        f"{len(result.incomplete)} incomplete · {len(result.excluded)} not comparable\n",
    ]
    parts += [(f"! {warning}\n", "$warning") for warning in result.warnings]
    parts.append((f"\n{'#':>4}  {'score':>6}  {primary[:8]:>8}  {'test':>6}  name / id\n", "bold"))
    for entry in result.ranked[:limit]:
        flag = " *" if entry.pareto else ""
        parts.append(
            f"{entry.rank:>4}  {entry.score:6.3f}  {num(entry.primary):>8}  "
            f"{num(entry.test_primary):>6}  {entry.name} {entry.id}{flag}\n"
        )
        parts += [(f"        ! {w}\n", "$warning") for w in entry.warnings + entry.hardware_flags]
    if len(result.ranked) > limit:
        parts.append(f"  ... {len(result.ranked) - limit} more\n")
    parts.append(("* on the Pareto front\n", "italic"))
    if result.rejected:
        parts.append(("\nrejected (first 10)\n", "bold"))
        for item in result.rejected[:10]:
            parts.append(f"  {item['id']}: {'; '.join(item['reasons'])}\n")
    return Content.assemble(*parts)


class DecisionsScreen(_View):
    """The decision log with the hash chain's status, per-decision warnings and each decision's
    monitoring history (``modelsnap monitor`` records, oldest first)."""

    TITLE_TEXT = "decision log (decisions.toml)"

    def __init__(self, data: ReviewData) -> None:
        self.data = data
        super().__init__()

    def body(self) -> Content:
        from modelsnap.core.followup.monitoring import monitoring_history
        from modelsnap.core.records.decision_log import read_decisions, verify_chain
        from modelsnap.core.records.ledger import decision_problems

        problems = verify_chain(self.data.root) + decision_problems(self.data.root)
        try:
            entries = read_decisions(self.data.root)
        except ModelsnapError as error:
            return Content.assemble((f"✗ {error}\n", "$error"))
        parts: list[Part] = []
        if problems:
            parts += [(f"✗ chain broken: {p}\n", "bold $error") for p in problems]
        elif entries:
            parts.append(
                (f"✓ chain intact: {len(entries)} decisions, each hash checked\n", "$success")
            )
        else:
            parts.append("no decisions recorded yet\n")
        known = {row["id"]: row for row in self.data.rows}
        current_revision = max((r.get("criteria_revision") or 0 for r in self.data.rows), default=0)
        history, unreadable = monitoring_history(self.data.root)
        for entry in entries:
            parts += _decision_parts(entry, known, current_revision)
            parts += monitoring_parts(history.get(str(entry.get("id", "")), []))
        parts += [(f"\n! monitoring record not read: {p}\n", "$warning") for p in unreadable]
        return Content.assemble(*parts)


VERDICT_STYLES = {"holds": "$success", "degraded": "bold $error", "drifted": "$warning"}


def monitoring_parts(records: list[dict[str, Any]]) -> list[Part]:
    """One line per monitoring record of a decision: when, the verdict, on what data, and the
    first reason when it did not hold."""
    parts: list[Part] = []
    for record in records:
        when = record["created_at"][:16].replace("T", " ")
        parts += [
            f"  monitored  {when}  ",
            (record["verdict"], VERDICT_STYLES.get(record["verdict"], "")),
            f"  on {record['data_file']} ({record['n_rows']} rows)  {record['path']}\n",
        ]
        if record["verdict"] != "holds" and record["reasons"]:
            more = len(record["reasons"]) - 1
            parts.append(
                (
                    f"             {record['reasons'][0]}"
                    + (f" (and {more} more)" if more else "")
                    + "\n",
                    "$text-muted",
                )
            )
    return parts


def _decision_parts(
    entry: dict[str, Any], known: dict[str, Any], current_revision: int
) -> list[Part]:
    snapshot_id = str(entry.get("snapshot_id", ""))
    parts: list[Part] = [
        (
            f"\n{entry.get('id')}  {entry.get('decided_at', '')}  "
            f"by {entry.get('decided_by', '?')}\n",
            "bold",
        ),
        f"  chose      {snapshot_id}\n",
        f"  method     {entry.get('method', '')} on {entry.get('split', '')}, "
        f"criteria revision {entry.get('criteria_revision', '?')}\n",
    ]
    weights = entry.get("weights")
    if isinstance(weights, dict):
        parts.append(f"  weights    {', '.join(f'{k}={v}' for k, v in weights.items())}\n")
    parts.append(f"  rationale  {entry.get('rationale', '')}\n")
    for caveat in entry.get("caveats") or []:
        parts.append(f"  caveat     {caveat}\n")
    if entry.get("monitoring"):
        parts.append(f"  monitoring {entry['monitoring']}\n")
    rejected = entry.get("rejected") or []
    if rejected:
        parts.append(f"  rejected   {len(rejected)} snapshots\n")
    warnings = []
    if entry.get("override"):
        warnings.append(f"chose a rejected snapshot; override: {entry['override']}")
    if snapshot_id not in known:
        warnings.append("the chosen snapshot is not in this folder")
    revision = entry.get("criteria_revision")
    if isinstance(revision, int) and revision < current_revision:
        warnings.append(
            f"made under criteria revision {revision}; snapshots now use "
            f"revision {current_revision}"
        )
    parts += [(f"  ! {w}\n", "$warning") for w in warnings]
    return parts


REVIEW_KEYS = """\
Table
  ↑ ↓ PgUp PgDn Home End  move        space  mark for a diff
  /       filter (the language below)  esc  back to the table, close panels
  s       sort by the next column      S    reverse the sort (also r)
  d       diff: the two marked, or the marked one and the highlighted one
  h       history of the highlighted model name (drift)
  w       what-if re-rank as you type (nothing is written)
  l       decision log and its hash chain
  y       copy the highlighted snapshot id
  ctrl+p  commands: sort by any column, history, copy id, keys...
  q       quit

Filter: every term must hold
  f1>0.75             a validation measure against a number
                      (> >= < <= = !=); a row without it does not match
  test_f1>=0.7        the test split
  latency_p95_ms<=10  also p95<=10, size_mb<5 (mb), interpretability>0.5
  kind:candidate      a field containing the text: name, kind, version,
  name:forest         id, estimator, status (ok/fail), created (2026-11),
                      compar (same, data≠, split≠, hw≠)
  fail                a word anywhere in the row: fail, hw≠, v3, baseline
  example: f1>0.75 kind:candidate name:forest latency_p95_ms<=10 fail
  A term that cannot be read is named under the field; the others apply.
"""


class ReviewHelp(Screen[None]):
    """``?``: every review key and the filter language; escape (or ?) closes it."""

    CSS_PATH = "review.tcss"
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "app.pop_screen", "Close", id="review.help_close"),
        Binding("question_mark", "app.pop_screen", "Close", show=False),
        Binding("q", "app.pop_screen", "Close", show=False),
    ]

    def compose(self) -> ComposeResult:
        yield Static(
            "review mode: keys and filter language (esc closes)",
            id="review-view-title",
            markup=False,
        )
        with VerticalScroll(id="review-view-body"):
            yield Static(REVIEW_KEYS, id="review-view-text", markup=False)
        yield Footer()
