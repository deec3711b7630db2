"""Step 5: ranking and decision.

The ranking is ``core.selection.context.rank_project`` under the locked criteria revision, as
``modelsnap rank``. The weights editor is a what-if: a change re-ranks as soon as typing pauses
(``DEBOUNCE``), in a worker group of its own where each request replaces the one before, and
nothing is written unless "Save weights" is pressed, which edits modelsnap.toml and so needs a
new lock. The decision form shows what will be appended, then records through
``core.selection.context.decide`` (as ``modelsnap decide``), which refuses pending criteria edits, a
rationale that is not a sentence, or a model that was not ranked without an override. ``p``
opens the try-rows panel (``screens.try_rows``): every competing model's answer for one row.
"""

from __future__ import annotations

import threading
from typing import Any, ClassVar

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.widgets import Button, Input, Label, Select, Static, TextArea

from modelsnap.tui.messages import (
    DecisionRecorded,
    Ranked,
    RankingRead,
    ReadingProgress,
    SignificanceTested,
    WeightsSaved,
)
from modelsnap.tui.screens.base import StepScreen, deferred
from modelsnap.tui.state import ProjectState
from modelsnap.tui.steps import RANKING
from modelsnap.tui.widgets.formatting import printable, safe_text, short_id
from modelsnap.tui.widgets.ranking_table import RankingTable
from modelsnap.tui.widgets.tradeoff_plot import NO_POINTS, PlotPoint, TradeoffPlot
from modelsnap.tui.widgets.weights_editor import WeightsEditor
from modelsnap.tui.wording import tui_words


def plot_points(result: Any, snapshots: list[dict]) -> list[PlotPoint]:
    """Ranked and rejected models as plot points (p95 latency, primary metric).

    The front drawn is the two-dimensional one of this picture (core.selection.pareto.pareto_flags
    over the ranked models' primary metric and p95): the ranking table's mark is the front
    over all criteria, which a 2-D plot cannot show.
    """
    from modelsnap.core.measures import measures
    from modelsnap.core.selection.pareto import pareto_flags

    by_id = {s.get("id"): s for s in snapshots}
    ranked = []
    for entry in result.ranked:
        snapshot = by_id.get(entry.id)
        values = measures(snapshot, result.split) if snapshot is not None else entry.values
        latency = values.get("latency_p95_ms")
        if latency is not None and entry.primary is not None:
            ranked.append((entry.name, float(latency), float(entry.primary)))
    direction = result.directions.get(result.primary_metric, "max")
    front = (
        pareto_flags([(metric, latency) for _name, latency, metric in ranked], [direction, "min"])
        if ranked
        else []
    )
    points = [
        PlotPoint(name, latency, metric, on_front=flag)
        for (name, latency, metric), flag in zip(ranked, front, strict=True)
    ]
    for rejected in result.rejected:
        snapshot = by_id.get(rejected["id"])
        if snapshot is None:
            continue
        values = measures(snapshot, result.split)
        if "latency_p95_ms" in values and result.primary_metric in values:
            points.append(
                PlotPoint(
                    str(snapshot.get("name")),
                    values["latency_p95_ms"],
                    values[result.primary_metric],
                    rejected=True,
                )
            )
    return points


def machine_notes(result: Any, state: ProjectState | None) -> list[str]:
    """One plain line per ranked model measured on another machine than the reference:
    "random_forest-6ee3 was profiled on another machine (Intel Xeon, 2 cores), the others on
    this machine: its latency_p95_ms is not comparable"."""
    flagged = [entry for entry in result.ranked if entry.hardware_flags]
    if not flagged or state is None:
        return []
    by_id = {s.get("id"): s for s in state.snapshots}
    reference = next(
        (
            s
            for s in state.snapshots
            if (s.get("hardware") or {}).get("fingerprint") == result.hardware_fingerprint
        ),
        None,
    )
    where = state.machine_words(reference) if reference is not None else "one machine"
    lines = []
    for entry in flagged:
        snapshot = by_id.get(entry.id)
        words = state.machine_words(snapshot) if snapshot is not None else "another machine"
        lines.append(
            f"{short_id(entry.id)} was profiled on {words}, the others on {where}: its "
            f"{', '.join(entry.hardware_flags)} {'is' if len(entry.hardware_flags) == 1 else 'are'}"
            " not comparable"
        )
    return lines


SIGNIFICANCE_PROMPT = (
    "Significance: press t to test the top pick against the runner-up and "
    "the baseline on the stored test predictions."
)
# What the trade-off plot says until the screen's first ranking arrives, or fails.
RANKING_PENDING = "ranking the snapshots ..."
NOT_RANKED = "not ranked: see the message above"


def sensitivity_text(result: Any) -> str:
    info = result.sensitivity or {}
    if not info or not info.get("n"):
        return "Sensitivity: nothing to vary yet."
    share = info.get("share")
    text = (
        f"Sensitivity: the top pick stays first in {info.get('stays_first')} of "
        f"{info.get('n')} weightings (each weight moved by ±10% and ±25%)"
    )
    if share is not None and share < 1:
        winners = ", ".join(f"{short_id(k)} {v}" for k, v in (info.get("winners") or {}).items())
        text += f"; otherwise: {winners}" if winners else ""
    return text + "."


def significance_text(info: dict[str, Any]) -> str:
    """The outcome of core.evaluation.significance.ranking_significance in two short lines."""
    lines = []
    for key, label in (("vs_runner_up", "runner-up"), ("vs_baseline", "baseline")):
        item = info.get(key)
        if not item:
            continue
        if "error" in item:
            lines.append(f"Significance vs {label}: not computed ({item['error']})")
        else:
            lines.append(
                f"Significance vs {label} ({short_id(item['b'])}): {item['metric']} "
                f"{item['difference']:+.4f}, p = {item['p_value']:.3g} "
                f"({item['method']}): {item['verdict']}"
            )
    return "\n".join(lines) or "Significance: nothing to compare the top pick with."


class RankingScreen(StepScreen):
    STEP = RANKING
    BINDINGS: ClassVar = [
        Binding(
            "ctrl+s",
            "decide",
            "Decide",
            id="ranking-decide",
            tooltip="Record the decision (shown first, then appended)",
        ),
        Binding("ctrl+o", "save_weights", "Save weights", id="ranking-save-weights", show=False),
        Binding(
            "t",
            "significance",
            "Significance",
            id="ranking-significance",
            tooltip="Top pick vs runner-up and baseline on the test predictions",
        ),
        Binding(
            "p",
            "try_rows",
            "Try rows",
            id="ranking-try-rows",
            show=False,
            tooltip="Every model's prediction for a row you pick or type, side by side",
        ),
    ]

    # A pause in typing this long (seconds) before the what-if weights are ranked.
    DEBOUNCE = 0.1

    def __init__(self) -> None:
        super().__init__()
        self.result: Any = None
        self._weights: dict[str, float] | None = None
        self._rank_request = 0  # the newest ranking asked for; older answers are dropped
        self._rank_superseded: threading.Event | None = None  # set when a newer one is asked
        self._rank_delay = 0.0  # the newest request's pause
        self._ranking = False  # a ranking worker is under way (one at a time: rerank)
        self._editor_key: str | None = None  # the criteria the weights editor was built for
        self._significance_for = ""  # the weights the significance line was computed under

    def compose_body(self) -> ComposeResult:
        yield Static("", id="ranking-warnings", classes="warning", markup=False)
        with Horizontal(id="ranking-columns"):
            with Vertical(id="ranking-left"):
                yield RankingTable(id="ranking-table")
                yield Static("", id="ranking-rejected", markup=False)
            yield TradeoffPlot(id="ranking-plot")
        yield Static("", id="ranking-sensitivity", markup=False)
        yield Static(SIGNIFICANCE_PROMPT, id="ranking-significance", markup=False)
        with deferred("ranking-lower"):
            yield Label(
                "What-if weights: re-ranks as you type; saved only with Save weights",
                classes="section",
            )
            yield Vertical(id="ranking-weights")
            with Horizontal(classes="buttons"):
                yield Button("Save weights", id="ranking-save-weights-button", compact=True)
                yield Button("Reset", id="ranking-reset-button", compact=True)
            yield Label("Decision", classes="section")
            with Horizontal(classes="form-row"):
                yield Label("Model", classes="form-label")
                yield Select([], prompt="rank first", id="decision-model", compact=True)
            yield Label("Rationale (required): why this model", classes="form-note")
            yield TextArea(id="decision-rationale", soft_wrap=True, compact=True)
            with Horizontal(classes="form-row"):
                yield Label("Caveats (; between)", classes="form-label")
                yield Input(
                    id="decision-caveats", placeholder="relies on branch_code; ...", compact=True
                )
            with Horizontal(classes="form-row"):
                yield Label("Monitoring plan", classes="form-label")
                yield Input(
                    id="decision-monitoring",
                    placeholder="weekly f1 on labelled sample",
                    compact=True,
                )
            with Horizontal(classes="form-row"):
                yield Label("Override (rejected)", classes="form-label")
                yield Input(
                    id="decision-override",
                    placeholder="only to choose a rejected model",
                    compact=True,
                )
            yield Label("", id="decision-error", classes="error", markup=False)
            yield Button("Record decision", id="decision-record", variant="primary", compact=True)
            yield Static("", id="decision-log", markup=False)

    def refresh_body(self, state: ProjectState) -> None:
        config = state.config
        warnings = self.query_one("#ranking-warnings", Static)
        if config is None:
            warnings.update("✗ modelsnap.toml does not load: fix it in step 1 or in an editor")
            return
        if not state.locked:
            warnings.update(
                f"! {state.lock_problem or 'criteria not locked'}: a decision "
                "records the revision it was made under; lock first (press 1)"
            )
        if not self.query("#ranking-lower"):
            self.rerank()
            return  # the editor and the decision form arrive after the first frame
        criteria = self._criteria_in_force(state)
        key = repr(criteria)
        if key != self._editor_key:
            self._editor_key = key
            self._weights = None
            holder = self.query_one("#ranking-weights", Vertical)
            holder.remove_children()
            holder.mount(WeightsEditor(criteria))
        log = self.query_one("#decision-log", Static)
        if state.decisions:
            last = state.decisions[-1]
            log.update(
                printable(
                    f"Decisions recorded: {len(state.decisions)}. Latest {last.get('id')}: "
                    f"{short_id(str(last.get('snapshot_id', '')))} by "
                    f"{last.get('decided_by', '?')}: {last.get('rationale', '')}",
                    newlines=True,
                )
            )
        else:
            log.update("No decision recorded yet.")
        self.rerank()

    @staticmethod
    def _criteria_in_force(state: ProjectState) -> list[tuple[str, float, str]]:
        """(metric, weight, direction) of the locked revision (the one ranked under), else of
        modelsnap.toml when nothing is locked yet."""
        if state.revision is not None:
            return [
                (str(c.get("metric")), float(c.get("weight") or 0.0), str(c.get("direction")))
                for c in state.revision.get("criteria", [])
                if isinstance(c, dict)
            ]
        return [(c.metric, c.weight, c.direction) for c in state.config.criteria]

    def rerank(self, *, delay: float = 0.0) -> None:
        """Rank under the current weights, after ``delay`` seconds unless asked again first.

        Each request supersedes the one before: a ranking still waiting out its pause stops
        waiting, and the answer of one under way is dropped. One ranking runs at a time: a
        request made while one runs starts when it ends, under the weights in force then, and
        the requests in between are never ranked. (At 100,000 snapshots a ranking takes
        seconds, and the screen asks for one on each state it is shown: side by side they took
        their turns at the GIL: the first answer came 11.6 s after the screen, now 3.4 s.) Not
        Textual's ``exclusive=True``: a cancelled worker makes anyone waiting on
        ``app.workers`` fail with WorkerCancelled, and its thread runs on all the same.
        """
        state = self.state
        if state is None or state.config is None:
            return
        if self._rank_superseded is not None:
            self._rank_superseded.set()
        self._rank_request += 1
        if self.result is None:
            # the first ranking of the screen: at 100,000 snapshots it takes seconds, and an
            # empty plot would read as "nothing to rank"
            self.query_one(TradeoffPlot).empty_text = RANKING_PENDING
        self._rank_delay = delay
        if not self._ranking:
            self._start_ranking()

    def _start_ranking(self) -> None:
        """Start the newest request's ranking (``rerank``); its worker always answers."""
        self._ranking = True
        self._rank_superseded = threading.Event()
        self._rank(self._weights, self._rank_request, self._rank_delay, self._rank_superseded)

    @work(thread=True, group="rerank", exit_on_error=False)
    def _rank(
        self,
        weights: dict[str, float] | None,
        request: int,
        delay: float,
        superseded: threading.Event,
    ) -> None:
        """``tui.jobs.rank_state`` in a worker group of its own (decide and save are tasks).
        Always posts a ``Ranked``, with no result when superseded during its pause: its
        arrival is what lets the next request start."""
        from modelsnap.core.errors import ModelsnapError
        from modelsnap.tui.jobs import rank_state

        if delay and superseded.wait(delay):
            self.post_message(Ranked(request=request))  # typed on during the pause
            return
        try:
            result = rank_state(
                self.app.root,
                weights,
                lambda done, total: self.post_message(RankingRead(done, total)),
            )
        except ModelsnapError as error:
            self.post_message(Ranked(error=str(error), request=request))
            return
        except Exception as error:  # a bug: said on the screen, and the next request can start
            self.post_message(
                Ranked(
                    error=f"the ranking failed: {type(error).__name__}: {error}", request=request
                )
            )
            raise
        self.post_message(Ranked(result, request=request))

    @on(RankingRead)
    def _ranking_read(self, message: RankingRead) -> None:
        """The first ranking of a folder without a trusted index parses every snapshot file
        (most of a minute at 100,000): the plot counts them until the ranking arrives."""
        if self.result is None:  # whichever request it is: the one it supersedes waits on it
            self.query_one(
                TradeoffPlot
            ).empty_text = (
                f"ranking the snapshots: read {message.done:,} of {message.total:,} files ..."
            )

    def on_weights_editor_changed(self, message: WeightsEditor.Changed) -> None:
        if message.weights is None:
            return
        state = self.state
        original = (
            {metric: weight for metric, weight, _ in self._criteria_in_force(state)}
            if state is not None and state.config is not None
            else {}
        )
        weights = None if message.weights == original else dict(message.weights)
        if weights != self._weights:
            self._weights_changed()
        self._weights = weights
        self.rerank(delay=self.DEBOUNCE)

    def _weights_changed(self) -> None:
        """What was computed under the previous weights no longer applies: the significance
        line (it tests the top pick of that ranking) and the what-if refusal."""
        self.query_one("#ranking-significance", Static).update(SIGNIFICANCE_PROMPT)
        errors = self.query("#decision-error")
        if errors and "what-if" in str(errors.first(Label).content):
            errors.first(Label).update("")
            self.clear_error()

    @on(Ranked)
    def _ranked(self, message: Ranked) -> None:
        self._ranking = False
        if message.request != self._rank_request:
            # asked under weights or a state that have changed since: rank the newest
            self._start_ranking()
            return
        if message.error:
            if self.result is None:
                self.query_one(TradeoffPlot).empty_text = NOT_RANKED
            self.show_error(self.query_one("#ranking-warnings", Static), message.error)
        elif message.value is not None:
            self.show_result(message.value)

    @on(SignificanceTested)
    def _significance_tested(self, message: SignificanceTested) -> None:
        if message.result is not None and self._significance_for != repr(self._weights):
            return  # tested under weights that are no longer the ones shown
        label = self.query_one("#ranking-significance", Static)
        if message.error:
            self.show_error(label, message.error)
        else:
            label.update(significance_text(message.value))

    @on(DecisionRecorded)
    def _decision_recorded(self, message: DecisionRecorded) -> None:
        if message.error:
            self.show_error(self.query_one("#decision-error", Label), message.error)
            return
        entry = message.value
        self.clear_error()
        self.query_one("#decision-error", Label).update(
            f"✓ recorded {entry.get('id')} in decisions.toml"
        )
        self.query_one("#decision-rationale", TextArea).text = ""
        self.app.reload_state()

    @on(WeightsSaved)
    def _weights_saved(self, message: WeightsSaved) -> None:
        if message.error:
            self.show_error(self.query_one("#decision-error", Label), message.error)
            return
        self.notify("weights saved to modelsnap.toml: lock a new revision in step 1")
        self.app.reload_state()

    def show_result(self, result: Any) -> None:
        self.result = result
        state = self.state
        what_if = " (what-if weights, not saved)" if self._weights else ""
        under = (
            f"criteria revision {result.criteria_revision}"
            if result.criteria_revision is not None
            else "criteria not locked"
        )
        history = f"; {len(result.superseded)} older run(s) as history" if result.superseded else ""
        lines = [
            f"{len(result.ranked)} ranked, {len(result.rejected)} rejected, "
            f"{len(result.incomplete)} incomplete, {len(result.excluded)} excluded{history}; "
            f"{result.method} on {result.split}, {under}{what_if}"
        ]
        if state is not None and not state.locked:
            lines.insert(0, f"! {state.lock_problem or 'criteria not locked'} (press 1)")
        lines += [f"! {tui_words(w)}" for w in result.warnings]
        self.query_one("#ranking-warnings", Static).update(
            printable("\n".join(lines), newlines=True)
        )
        self.query_one(RankingTable).show(result)
        rejected = Text()
        for item in result.set_aside():
            rejected.append(f"{item.status.capitalize()}: ", style="bold")
            rejected.append(f"{short_id(item.id)}: {'; '.join(item.why)}\n")
        for line in machine_notes(result, state):
            rejected.append("Other machine: ", style="bold")
            rejected.append(line + "\n")
        self.query_one("#ranking-rejected", Static).update(safe_text(rejected))
        plot = self.query_one(TradeoffPlot)
        plot.empty_text = NO_POINTS
        plot.metric_name = result.primary_metric
        plot.lower_is_better = result.directions.get(result.primary_metric) == "min"
        plot.points = tuple(plot_points(result, state.snapshots if state else []))
        self.query_one("#ranking-sensitivity", Static).update(sensitivity_text(result))
        selects = self.query("#decision-model")
        if not selects:
            return  # the decision form is not mounted yet; it re-ranks when it is
        select = selects.first(Select)
        previous = select.value
        options = [
            (printable(f"{e.rank}. {e.name} ({short_id(e.id)})", limit=120), e.id)
            for e in result.ranked
        ]
        options += [(f"rejected: {short_id(r['id'])}", r["id"]) for r in result.rejected]
        select.set_options(options)
        ids = [value for _label, value in options]
        if previous in ids:
            select.value = previous
        elif result.top is not None:
            select.value = result.top.id

    def action_try_rows(self) -> None:
        """The try-rows panel: the last look before deciding (``core.followup.trying``)."""
        from modelsnap.tui.screens.try_rows import TryRowsScreen

        self.app.push_screen(TryRowsScreen(self.app.root))

    def action_significance(self) -> None:
        if self.result is None or self.result.top is None:
            self.notify("nothing ranked to test yet", severity="warning")
            return
        from modelsnap.tui.jobs import significance

        self.query_one("#ranking-significance", Static).update(
            "Significance: testing on the stored test predictions ..."
        )
        self._significance_for = repr(self._weights)
        self.app.run_task(self, SignificanceTested, significance, self.app.root, self.result)

    def action_decide(self) -> None:
        """Check the form, show what will be appended, and record only once confirmed."""
        from modelsnap.core.errors import ModelsnapError
        from modelsnap.core.records.decisions import check_rationale

        error = self.query_one("#decision-error", Label)
        state = self.state
        if self.result is None:
            self.show_error(error, "no ranking yet")
            return
        if state is not None and not state.locked:
            self.show_error(
                error,
                f"{state.lock_problem or 'criteria not locked'}: a decision is made under "
                "locked criteria only. Lock them in step 1 (press 1), or revert the edits",
            )
            return
        if self._weights:
            self.show_error(
                error,
                "the ranking uses what-if weights: press Save weights and lock them in "
                "step 1, or press Reset, before recording a decision",
            )
            return
        chosen = self.query_one("#decision-model", Select).value
        if chosen == Select.NULL:
            self.show_error(error, "choose the model")
            return
        status = self.result.status(str(chosen))
        override = self.query_one("#decision-override", Input).value.strip()
        if status != "ranked" and not override:
            reasons = "; ".join(
                next((r["reasons"] for r in self.result.rejected if r["id"] == chosen), [])
            )
            self.show_error(
                error,
                f"{short_id(str(chosen))} was {status}"
                + (f" ({reasons})" if reasons else "")
                + ": choose a ranked model, or fill in Override with why this one anyway",
            )
            return
        try:
            rationale = check_rationale(self.query_one("#decision-rationale", TextArea).text)
        except ModelsnapError as problem:
            self.show_error(
                error, f"{problem.message}: why this model, in a sentence a reviewer can check"
            )
            return
        caveats = [c.strip() for c in self.query_one("#decision-caveats", Input).value.split(";")]
        request = {
            "snapshot_id": str(chosen),
            "rationale": rationale,
            "caveats": [c for c in caveats if c],
            "monitoring": self.query_one("#decision-monitoring", Input).value.strip(),
            "override": self.query_one("#decision-override", Input).value.strip() or None,
        }
        from modelsnap.tui.screens.confirm import ConfirmAppend

        error.update("confirm the decision ...")
        self.app.push_screen(
            ConfirmAppend(
                "Record this decision?", self._decision_lines(request), target="decisions.toml"
            ),
            lambda confirmed: (
                self._record(request)
                if confirmed
                else error.update("not recorded: nothing was written")
            ),
        )

    def _decision_lines(self, request: dict[str, Any]) -> list[tuple[str, str]]:
        """What the confirmation shows: the record as it will be appended."""
        result = self.result
        chosen = request["snapshot_id"]
        entry = next((e for e in result.ranked if e.id == chosen), None)
        standing = (
            f"#{entry.rank} of {len(result.ranked)}, score {entry.score:.4f}"
            if entry is not None
            else f"not ranked ({result.status(chosen)})"
        )
        lines = [
            ("Model", chosen),
            ("Standing", standing),
            ("Criteria", f"revision {result.criteria_revision}, {result.method} on {result.split}"),
            ("Rationale", request["rationale"]),
            ("Caveats", "; ".join(request["caveats"]) or "none"),
            ("Monitoring", request["monitoring"] or "none"),
        ]
        if request["override"]:
            lines.append(("Override", request["override"]))
        return lines

    def _record(self, request: dict[str, Any]) -> None:
        from modelsnap.core.selection.context import decide

        self.query_one("#decision-error", Label).update("recording ...")
        self.app.run_task(
            self, DecisionRecorded, decide, self.app.root, progress=self._count_read, **request
        )

    def _count_read(self, done: int, total: int) -> None:
        """``decide``'s progress, from its worker thread: it parses every snapshot file (a
        decision trusts no cache), most of a minute at 100,000 (post_message never waits)."""
        self.post_message(ReadingProgress(done, total))

    @on(ReadingProgress)
    def _decision_reading(self, message: ReadingProgress) -> None:
        message.stop()  # the app's own handler counts its first read of the folder
        self.query_one("#decision-error", Label).update(
            f"recording: read {message.done:,} of {message.total:,} snapshot files ..."
        )

    def action_save_weights(self) -> None:
        state = self.state
        if state is None or state.config is None or not self._weights:
            self.notify("no what-if weights to save", severity="information")
            return
        from modelsnap.core.project.edit import update_project

        criteria = [
            {
                "metric": c.metric,
                "weight": self._weights.get(c.metric, c.weight),
                "direction": c.direction,
            }
            for c in state.config.criteria
        ]
        self.app.run_task(self, WeightsSaved, update_project, self.app.root, {"criteria": criteria})

    def action_reset(self) -> None:
        self._editor_key = None
        self._weights = None
        self._weights_changed()
        if self.state is not None:
            self.refresh_body(self.state)

    def on_button_pressed(self, event: Button.Pressed) -> None:
        actions = {
            "decision-record": self.action_decide,
            "ranking-save-weights-button": self.action_save_weights,
            "ranking-reset-button": self.action_reset,
        }
        action = actions.get(event.button.id or "")
        if action is not None:
            action()
