"""Step 1: criteria. Profile, weights (normalised as you type), what is judged (primary metric,
rank split), hard limits (with the ``min_metric`` pairs), data settings (positive label, the
split: stratify, seed, fractions), lock. Every key of modelsnap.toml that affects judging is
shown here and can be edited; the split settings only until the split is drawn.

Edits stay on screen until saved; saving goes through ``core.project.edit.update_project`` (which
validates the whole file before writing and keeps the user's comments). Locking records a
criteria revision with ``core.selection.criteria.lock_criteria``. Once candidates exist, a change
means a new revision, and the screen says so before anything is written.
"""

from __future__ import annotations

import math
from typing import Any, ClassVar

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.widgets import Button, Checkbox, Input, Label, Select, Static

from modelsnap.core.profiles import PROFILES
from modelsnap.core.project.schema import quality_metrics
from modelsnap.tui.messages import CriteriaLocked, CriteriaSaved
from modelsnap.tui.screens.base import StepScreen, deferred
from modelsnap.tui.state import ProjectState
from modelsnap.tui.steps import CRITERIA
from modelsnap.tui.widgets.field import Field, parse_optional_float
from modelsnap.tui.widgets.formatting import printable
from modelsnap.tui.widgets.weights_editor import WeightsEditor

# The documented numeric hard limits (docs/project-file.md), with a short label each.
CONSTRAINT_FIELDS: tuple[tuple[str, str, float | None, float | None], ...] = (
    ("max_latency_p95_ms", "max p95 latency ms", 0.0, None),
    ("max_latency_model_p95_ms", "max estimator p95 ms", 0.0, None),
    ("max_size_mb", "max size MB", 0.0, None),
    ("max_peak_memory_mb", "max peak memory MB", 0.0, None),
    ("max_fit_seconds", "max fit seconds", 0.0, None),
    ("min_throughput_rows_per_s", "min rows/s", 0.0, None),
    ("min_gain_over_baseline", "min gain (ratio)", None, None),
    ("max_fairness_gap", "max fairness gap", 0.0, 1.0),
    ("min_interpretability", "min interpretability", 0.0, 1.0),
    ("max_overfit_gap", "max overfit gap", 0.0, 1.0),
)
DATA_LIST_FIELDS = (
    ("drop", "drop columns"),
    ("sensitive", "sensitive columns"),
    ("suspect_features", "suspect features"),
)


SPLIT_FIELDS: tuple[tuple[str, str], ...] = (
    ("seed", "split seed"),
    ("validation_fraction", "validation fraction"),
    ("test_fraction", "test fraction"),
)
SPLIT_FILE = "split.npz"  # core.evaluation.data.SPLIT_FILE, without importing pandas


def parse_min_metric(text: str, task: str | None) -> dict[str, float] | None:
    """'recall >= 0.5, f1 ≥ 0.6' -> {'recall': 0.5, 'f1': 0.6}; empty means no such limit.

    Pairs are separated by commas or semicolons; ``>=``, ``≥``, ``=`` or ``:`` join a metric
    and its minimum. The result passes the project file's own check
    (``core.project.parse.check_min_metric``), whose message is shown when it does not.
    """
    import re

    from modelsnap.core.errors import ProjectFileError
    from modelsnap.core.project.parse import check_min_metric

    if not text.strip():
        return None
    pairs: dict[str, float] = {}
    for given in re.split(r"[,;]", text):
        part = given.strip()
        if not part:
            raise ValueError("empty pair between commas")
        match = re.fullmatch(r"([A-Za-z_0-9]+)\s*(?:>=|≥|=|:)\s*(\S+)", part)
        if match is None:
            raise ValueError(f"{part!r}: write metric >= minimum, e.g. recall >= 0.5")
        metric, number = match.groups()
        if metric in pairs:
            raise ValueError(f"{metric} given twice")
        try:
            value = float(number)
        except ValueError:
            raise ValueError(f"{number!r} is not a number") from None
        if not math.isfinite(value):
            raise ValueError(f"{metric}: the minimum must be a finite number")
        pairs[metric] = value
    try:
        return check_min_metric(pairs, task)
    except ProjectFileError as error:
        raise ValueError(f"{error.where.split(': ', 1)[-1]}: {error.message}") from None


def show_number(value: float) -> str:
    """Short (0.5, 1024) when that is exact, else every digit: what a field shows is what is
    written back on Save, so a limit must never be rounded on its way through the screen."""
    short = f"{value:g}"
    return short if float(short) == value else repr(float(value))


def show_min_metric(value: dict[str, float] | None) -> str:
    return ", ".join(f"{metric} >= {show_number(limit)}" for metric, limit in (value or {}).items())


def parse_seed(text: str) -> int:
    text = text.strip()
    if not text.isdigit():
        raise ValueError("a whole number >= 0")
    return int(text)


def parse_fraction(text: str) -> float:
    try:
        value = float(text.strip())
    except ValueError:
        raise ValueError(f"{text.strip()!r} is not a number") from None
    if not 0 < value < 1:
        raise ValueError("a fraction between 0 and 1")
    return value


def parse_optional_label(text: str) -> str | None:
    return text.strip() or None


def parse_name_list(text: str) -> list[str]:
    """'a, b , c' -> ['a', 'b', 'c']; names may not be empty or repeated."""
    names = [part.strip() for part in text.split(",")] if text.strip() else []
    if any(not name for name in names):
        raise ValueError("empty name between commas")
    repeated = sorted({name for name in names if names.count(name) > 1})
    if repeated:
        raise ValueError(f"repeated: {', '.join(repeated)}")
    return names


def parse_optional_path(text: str) -> str | None:
    text = text.strip()
    if not text:
        return None
    if text.startswith("/") or ".." in text.split("/"):
        raise ValueError("give a path inside the project folder")
    if not text.lower().endswith(".csv"):
        raise ValueError("expected a .csv file")
    return text


class CriteriaScreen(StepScreen):
    STEP = CRITERIA
    BINDINGS: ClassVar = [
        Binding("ctrl+s", "save", "Save", id="criteria-save"),
        Binding("ctrl+l", "lock", "Save & lock", id="criteria-lock"),
    ]

    def __init__(self) -> None:
        super().__init__()
        self._criteria: list[tuple[str, float, str]] = []
        self._editor_key: tuple | None = None  # the file shown in every field
        self._upper_key: tuple | None = None  # the file shown in profile and weights

    def compose_body(self) -> ComposeResult:
        yield Static("", id="criteria-status", markup=False)
        yield Static("", id="criteria-warning", classes="warning", markup=False)
        with Horizontal(classes="form-row"):
            yield Label("Profile", classes="form-label")
            yield Select(
                [(name, name) for name in PROFILES],
                id="criteria-profile",
                prompt="start from a profile",
                compact=True,
            )
        yield Label("Weights (what matters, relative)", classes="section")
        yield Vertical(id="criteria-weights")
        with deferred("criteria-lower"):
            with Horizontal(classes="form-row"):
                yield Label("Add a criterion", classes="form-label")
                yield Select(
                    [],
                    id="criteria-add",
                    prompt="a measure to weigh (added with weight 0)",
                    compact=True,
                )
            yield Label("Judged on", classes="section")
            with Horizontal(classes="form-row"):
                yield Label("Primary metric", classes="form-label")
                yield Select(
                    [(m, m) for m in quality_metrics(None)],
                    id="criteria-primary",
                    allow_blank=False,
                    compact=True,
                )
            with Horizontal(classes="form-row"):
                yield Label("Rank on split", classes="form-label")
                yield Select(
                    [("validation", "validation"), ("test", "test")],
                    id="criteria-rank-split",
                    allow_blank=False,
                    compact=True,
                )
            yield Label("Hard limits (empty = no limit)", classes="section")
            for key, label, low, high in CONSTRAINT_FIELDS:
                yield Field(
                    label,
                    parser=parse_optional_float(minimum=low, maximum=high),
                    field_id=f"limit-{key}",
                    id=f"field-{key}",
                )
            yield Field(
                "min metric",
                parser=lambda text: parse_min_metric(text, self._project_task()),
                placeholder="recall >= 0.5, f1 >= 0.6",
                field_id="limit-min_metric",
                id="field-min_metric",
            )
            yield Label("Data settings", classes="section")
            yield Static("", id="criteria-data-line", markup=False)
            yield Field(
                "positive label",
                parser=parse_optional_label,
                placeholder="e.g. yes",
                field_id="data-positive_label",
                id="field-positive_label",
            )
            with Horizontal(classes="form-row"):
                yield Label("stratify", classes="form-label")
                yield Checkbox(
                    "keep the class balance in each split",
                    id="data-stratify",
                    compact=True,
                )
            for key, label in SPLIT_FIELDS:
                yield Field(
                    label,
                    parser=parse_seed if key == "seed" else parse_fraction,
                    field_id=f"data-{key}",
                    id=f"field-{key}",
                )
            yield Static("", id="criteria-split-note", classes="note", markup=False)
            for key, label in DATA_LIST_FIELDS:
                yield Field(
                    label,
                    parser=parse_name_list,
                    placeholder="col_a, col_b",
                    field_id=f"data-{key}",
                    id=f"field-{key}",
                )
            yield Field(
                "edge-case file",
                parser=parse_optional_path,
                placeholder="edge_cases.csv",
                field_id="data-edge_cases",
                id="field-edge_cases",
            )
            with Horizontal(classes="form-row"):
                yield Label("Lock reason", classes="form-label")
                yield Input(placeholder="why these criteria", id="criteria-reason", compact=True)
            yield Label("", id="criteria-error", classes="error", markup=False)
            with Horizontal(classes="buttons"):
                yield Button("Save", id="criteria-save-button", compact=True)
                yield Button(
                    "Save & lock", id="criteria-lock-button", variant="primary", compact=True
                )

    # -- showing ------------------------------------------------------------------------

    def refresh_body(self, state: ProjectState) -> None:
        config = state.config
        status = self.query_one("#criteria-status", Static)
        if config is None:
            message = state.config_error.message if state.config_error else "no project file"
            status.update(printable(f"✗ modelsnap.toml does not load: {message}", newlines=True))
            return
        if state.locked:
            status.update(
                f"✓ locked as revision {state.revision['revision']}"
                f" ({state.revision.get('locked_at', '')[:16]})"
            )
        elif state.revision is None:
            status.update("✗ not locked yet: candidates cannot run until the criteria are locked")
        else:
            status.update(printable(f"✗ {state.lock_problem}", newlines=True))
        warning = self.query_one("#criteria-warning", Static)
        if state.candidates and state.revision is not None:
            warning.update(
                f"! {len(state.candidates)} candidate snapshot(s) were judged under "
                f"revision {state.revision['revision']}. Changing criteria now "
                "creates a new revision; decide what matters before seeing "
                "results, not after."
            )
        else:
            warning.update("")
        key = (
            repr(config.criteria),
            repr(config.constraints),
            repr(config.data),
            repr(config.selection),
            (config.root / SPLIT_FILE).is_file(),
        )
        if key == self._editor_key:
            return  # same file as shown: keep any unsaved edits on screen
        if key != self._upper_key:
            self._upper_key = key
            self.query_one("#criteria-profile", Select).value = (
                config.selection.profile if config.selection.profile in PROFILES else Select.NULL
            )
            self._set_criteria([(c.metric, c.weight, c.direction) for c in config.criteria])
        if not self.query("#criteria-lower"):
            return  # limits and data settings arrive after the first frame
        self._editor_key = key
        self._offer_measures()
        primary = self.query_one("#criteria-primary", Select)
        primary.set_options([(m, m) for m in quality_metrics(config.data.task)])
        primary.value = config.primary_metric
        self.query_one("#criteria-rank-split", Select).value = config.selection.rank_split
        for key, _label, _low, _high in CONSTRAINT_FIELDS:
            value = config.constraints.get(key)
            shown = "" if value is None else show_number(value)
            self.query_one(f"#limit-{key}", Input).value = shown
        self.query_one("#limit-min_metric", Input).value = show_min_metric(
            config.constraints.get("min_metric")
        )
        for key, _label in DATA_LIST_FIELDS:
            self.query_one(f"#data-{key}", Input).value = ", ".join(getattr(config.data, key))
        self.query_one("#data-edge_cases", Input).value = config.data.edge_cases or ""
        positive = self.query_one("#data-positive_label", Input)
        positive.value = config.data.positive_label or ""
        positive.disabled = config.data.task == "regression"  # binary classification only
        self.query_one("#criteria-data-line", Static).update(
            f"data {config.data.source} · target {config.data.target!r} · "
            f"{config.data.task or 'task guessed from the target'} "
            "(another data set is a new project)"
        )
        self._show_split(config)

    def _show_split(self, config: Any) -> None:
        """Stratify, seed and fractions: editable until the first run draws the split, then
        shown as they are (the split is never redrawn: the check would refuse every run)."""
        drawn = (config.root / SPLIT_FILE).is_file()
        stratify = self.query_one("#data-stratify", Checkbox)
        stratify.value = config.data.stratify
        stratify.disabled = drawn or config.data.task == "regression"
        for key, _label in SPLIT_FIELDS:
            field = self.query_one(f"#data-{key}", Input)
            value = getattr(config.data, key)
            field.value = str(value) if key == "seed" else show_number(value)
            field.disabled = drawn
        note = self.query_one("#criteria-split-note", Static)
        if drawn:
            note.update(
                "The split is drawn (split.npz): stratify, seed and fractions are fixed for this "
                "project, so every snapshot is judged on the same rows."
            )
        elif config.data.task == "regression":
            note.update("Stratify keeps classes in proportion: it does not apply to regression.")
        else:
            note.update("The first run draws the split from these; after that they are fixed.")

    def _project_task(self) -> str | None:
        state = self.state
        config = state.config if state is not None else None
        return config.data.task if config is not None else None

    def _offer_measures(self) -> None:
        """The measures of this task not weighed yet, for "Add a criterion"."""
        adder = self.query("#criteria-add")
        if not adder:
            return
        task = self._project_task()
        other_task = set(quality_metrics(None)) - set(quality_metrics(task))
        used = {metric for metric, _weight, _direction in self._criteria}
        from modelsnap.core.measures import MEASURE_DIRECTIONS

        adder.first(Select).set_options(
            [(m, m) for m in MEASURE_DIRECTIONS if m not in other_task and m not in used]
        )

    def _add_criterion(self, metric: str) -> None:
        """Append ``metric`` with weight 0 (left out of the ranking until it gets a weight),
        keeping the weights typed so far."""
        from modelsnap.core.measures import MEASURE_DIRECTIONS

        editors = self.query(WeightsEditor)
        typed = editors.last().weights() if editors else None
        rows = [(m, (typed or {}).get(m, w), d) for m, w, d in self._criteria]
        rows.append((metric, 0.0, MEASURE_DIRECTIONS[metric]))
        self._set_criteria(rows)
        self._offer_measures()
        self._error(f"{metric} added with weight 0: give it a weight, then Save")

    def _set_criteria(self, criteria: list[tuple[str, float, str]]) -> None:
        self._criteria = list(criteria)
        holder = self.query_one("#criteria-weights", Vertical)
        holder.remove_children()
        holder.mount(WeightsEditor(self._criteria))

    def on_select_changed(self, event: Select.Changed) -> None:
        if event.select.id == "criteria-add" and event.value != Select.NULL:
            self._add_criterion(str(event.value))
            return
        if event.select.id != "criteria-profile" or event.value == Select.NULL:
            return
        state = self.state
        if state is None or state.config is None or event.value == state.config.selection.profile:
            return
        from modelsnap.core.profiles import profile_settings

        config = state.config
        if not self.query("#criteria-lower"):
            return
        criteria, constraints = profile_settings(
            str(event.value),
            config.data.task or "classification",
            state.primary_metric or None,
            fairness=bool(config.data.sensitive),
        )
        self._set_criteria([(c["metric"], c["weight"], c["direction"]) for c in criteria])
        self._offer_measures()
        for key, _label, _low, _high in CONSTRAINT_FIELDS:
            value = constraints.get(key)
            shown = "" if value is None else show_number(value)
            self.query_one(f"#limit-{key}", Input).value = shown
        self._error(f"profile {event.value} applied on screen: Save to write it")

    # -- saving -------------------------------------------------------------------------

    def _error(self, text: str) -> None:
        self.query_one("#criteria-error", Label).update(text)

    def collect(self) -> dict[str, Any] | None:
        """The edits as ``update_project`` changes, or None with errors shown inline."""
        if not self.query("#criteria-lower"):
            return None  # the form is still being mounted
        editors = self.query(WeightsEditor)
        weights = editors.last().weights() if editors else None
        ok = weights is not None
        constraints: dict[str, Any] = {}
        for key, _label, _low, _high in CONSTRAINT_FIELDS:
            good, value = self.query_one(f"#field-{key}", Field).parse()
            ok = ok and good
            constraints[key] = value
        good, value = self.query_one("#field-min_metric", Field).parse()
        ok = ok and good
        constraints["min_metric"] = value
        data: dict[str, Any] = {}
        for key in [k for k, _ in DATA_LIST_FIELDS] + ["edge_cases"]:
            good, value = self.query_one(f"#field-{key}", Field).parse()
            ok = ok and good
            data[key] = value
        config = self.state.config if self.state is not None else None
        # Keys written only when changed, so a value the file spells its own way (an integer
        # label, a default left out) stays as the user wrote it.
        changed: dict[str, Any] = {}
        good, value = self.query_one("#field-positive_label", Field).parse()
        ok = ok and good
        changed["positive_label"] = value
        changed["stratify"] = self.query_one("#data-stratify", Checkbox).value
        for key, _label in SPLIT_FIELDS:
            good, value = self.query_one(f"#field-{key}", Field).parse()
            ok = ok and good
            changed[key] = value
        if config is not None:
            for key, value in changed.items():
                if value != getattr(config.data, key):
                    data[key] = value
        selection: dict[str, Any] = {}
        self._offer_measures()
        primary = self.query_one("#criteria-primary", Select).value
        if config is not None and primary not in (Select.NULL, config.primary_metric):
            selection["primary_metric"] = str(primary)
        rank_split = self.query_one("#criteria-rank-split", Select).value
        if config is not None and rank_split != config.selection.rank_split:
            selection["rank_split"] = str(rank_split)
        if not ok or weights is None:
            self._error("✗ fix the fields marked ✗ first: nothing was saved")
            return None
        criteria = [
            {"metric": metric, "weight": weights[metric], "direction": direction}
            for metric, _weight, direction in self._criteria
        ]
        profile = self.query_one("#criteria-profile", Select).value
        changes: dict[str, Any] = {"criteria": criteria, "constraints": constraints, "data": data}
        if profile != Select.NULL:
            selection["profile"] = str(profile)
        if selection:
            changes["selection"] = selection
        return changes

    def action_save(self) -> None:
        changes = self.collect()
        if changes is None:
            return
        from modelsnap.core.project.edit import update_project

        self._error("saving ...")
        self.app.run_task(self, CriteriaSaved, update_project, self.app.root, changes)

    def action_lock(self) -> None:
        changes = self.collect()
        if changes is None:
            return
        from modelsnap.tui.screens.confirm import ConfirmAppend

        reason = self.query_one("#criteria-reason", Input).value.strip()
        state = self.state
        current = state.revision.get("revision") if state and state.revision else None
        total = sum(c["weight"] for c in changes["criteria"]) or 1.0
        lines = [
            (
                "Revision",
                f"a new revision after {current} (unless nothing changed)"
                if current
                else "revision 1",
            ),
            (
                "Criteria",
                ", ".join(
                    f"{c['metric']} {c['weight'] / total:.0%} ({c['direction']})"
                    for c in changes["criteria"]
                ),
            ),
            ("Primary metric", str(self.query_one("#criteria-primary", Select).value)),
            (
                "Limits",
                "; ".join(
                    show_min_metric(v) if k == "min_metric" else f"{k} {show_number(v)}"
                    for k, v in changes["constraints"].items()
                    if v is not None
                )
                or "none",
            ),
            ("Reason", reason or "none given"),
        ]
        self._error("confirm the lock ...")
        self.push_confirm(
            ConfirmAppend("Lock these criteria?", lines, target="criteria_revisions.toml"),
            changes,
            reason,
        )

    def push_confirm(self, screen: Any, changes: dict[str, Any], reason: str) -> None:
        from modelsnap.tui.jobs import save_and_lock

        def done(confirmed: bool | None) -> None:
            if not confirmed:
                self._error("not locked: nothing was written")
                return
            self._error("locking ...")
            self.app.run_task(
                self, CriteriaLocked, save_and_lock, self.app.root, changes, reason=reason
            )

        self.app.push_screen(screen, done)

    def on_button_pressed(self, event: Button.Pressed) -> None:
        if event.button.id == "criteria-save-button":
            self.action_save()
        elif event.button.id == "criteria-lock-button":
            self.action_lock()

    @on(CriteriaSaved)
    def _saved(self, message: CriteriaSaved) -> None:
        self._after_write(message, "✓ saved to modelsnap.toml (not locked)")

    @on(CriteriaLocked)
    def _locked(self, message: CriteriaLocked) -> None:
        self._after_write(message, f"✓ locked as revision {message.result}")

    def _after_write(self, message: CriteriaSaved | CriteriaLocked, success: str) -> None:
        """A refusal is shown whole; after a write, the folder is read again."""
        if message.error:
            self.show_error(self.query_one("#criteria-error", Label), message.error)
            return
        self.clear_error()
        self._error(success)
        self.app.reload_state()
