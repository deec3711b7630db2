"""Hard constraints and the gain over the baseline, for one snapshot.

The profiler calls ``check_constraints`` before a snapshot is written (its result becomes the
``[constraints]`` and ``[gain]`` tables); the ranking calls ``evaluate`` again on the measures of
every row, because the constraints in force may have changed since the snapshot was written and
the ranking must judge every model by the *current* rules.

A constraint whose measure is missing is reported as missing (``missing = true``, no ``ok``):
an unmeasured model has not passed, it has not been judged. The ranking shows it as incomplete.

Fast path: standard library only.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from modelsnap.core.errors import ProjectFileError
from modelsnap.core.measures import MEASURE_DIRECTIONS, measures

GAIN_CONSTRAINT = "gain_over_baseline"
EDGE_CONSTRAINT = "edge_cases_must_pass"
# The [gain] table's per-cost keys and the measure each divides the gain by.
GAIN_PER = (("per_ms_p95", "latency_p95_ms"), ("per_mb", "size_mb"))
WHERE = "modelsnap.toml [constraints]"


def constraint_target(key: str) -> tuple[str, str]:
    """``"max_latency_p95_ms"`` -> ``("latency_p95_ms", "max")``: the measure and the kind of limit.

    Any ``max_<measure>`` / ``min_<measure>`` of the measure table is accepted, so a user can
    bound p99 latency as easily as p95. ``max_fairness_gap`` and ``min_interpretability`` are
    measure names too. Unknown keys raise ``ProjectFileError``.
    """
    for prefix in ("max_", "min_"):
        if key.startswith(prefix) and key[len(prefix) :] in MEASURE_DIRECTIONS:
            return key[len(prefix) :], prefix[:-1]
    raise ProjectFileError(
        f"unknown constraint {key!r}",
        where=WHERE,
        hint="use max_<measure> or min_<measure> with a measure from docs/project-file.md, "
        "min_metric = { recall = 0.6 } or min_gain_over_baseline",
    )


def _limit(key: str, value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise ProjectFileError(f"{key} must be a finite number, found {value!r}", where=WHERE)
    return float(value)


def _meets(value: float, limit: float, kind: str) -> bool:
    """Within the limit (False for NaN, whichever the kind)."""
    return value <= limit if kind == "max" else value >= limit


def _judge(value: float, limit: float, kind: str) -> dict[str, Any]:
    ok = _meets(value, limit, kind)
    if ok:
        over = 0.0
    elif limit == 0:
        over = abs(value - limit)
    else:
        over = (value - limit) / abs(limit) if kind == "max" else (limit - value) / abs(limit)
    return {"value": value, "limit": limit, "ok": ok, "over": over}


def gain_over(
    measured: Mapping[str, float],
    baseline: Mapping[str, float],
    baseline_id: str,
    primary_metric: str,
) -> dict[str, Any]:
    """The ``[gain]`` table of a candidate's measures over the baseline's (``evaluate``'s)."""
    return gain_against(baseline, baseline_id, primary_metric)(measured)


def gain_against(
    baseline: Mapping[str, float], baseline_id: str, primary_metric: str
) -> Callable[[Mapping[str, float]], dict[str, Any]]:
    """``gain_over`` with the baseline's side read once: the ranking asks it of every row."""
    theirs = baseline.get(primary_metric)
    sign = 1.0 if MEASURE_DIRECTIONS.get(primary_metric, "max") == "max" else -1.0
    per_cost = [(key, measure, baseline.get(measure)) for key, measure in GAIN_PER]

    def gain(measured: Mapping[str, float]) -> dict[str, Any]:
        table: dict[str, Any] = {"baseline_id": baseline_id, "metric": primary_metric}
        mine = measured.get(primary_metric)
        if mine is None or theirs is None:
            return table
        absolute = sign * (mine - theirs)
        table["absolute"] = absolute
        if theirs != 0:
            table["relative"] = absolute / abs(theirs)
        for key, measure, extra_theirs in per_cost:
            extra_mine = measured.get(measure)
            if extra_mine is not None and extra_theirs is not None and extra_mine > extra_theirs:
                table[key] = absolute / (extra_mine - extra_theirs)
        return table

    return gain


@dataclass(frozen=True)
class Rule:
    """One parsed constraint: the table name, the measure it reads, the limit and its kind."""

    name: str
    measure: str
    limit: float
    kind: str  # "max" (upper limit) or "min" (lower limit)


def parse_constraints(constraints: Mapping[str, Any]) -> tuple[Rule, ...]:
    """Validate a ``[constraints]`` table once (the ranking judges thousands of rows with it).

    ``min_gain_over_baseline`` becomes a rule on the pseudo-measure ``gain_over_baseline``.
    """
    rules: list[Rule] = []
    for key, raw in constraints.items():
        if key == "min_metric":
            if not isinstance(raw, Mapping):
                raise ProjectFileError(
                    f"min_metric must be a table, found {raw!r}",
                    where=WHERE,
                    hint="write min_metric = { recall = 0.6 }",
                )
            for metric, limit in raw.items():
                if metric not in MEASURE_DIRECTIONS:
                    raise ProjectFileError(
                        f"min_metric names unknown metric {metric!r}", where=WHERE
                    )
                rules.append(Rule(metric, metric, _limit(f"min_metric.{metric}", limit), "min"))
        elif key == "min_gain_over_baseline":
            rules.append(Rule(GAIN_CONSTRAINT, GAIN_CONSTRAINT, _limit(key, raw), "min"))
        else:
            measure, kind = constraint_target(key)
            rules.append(Rule(measure, measure, _limit(key, raw), kind))
    return tuple(rules)


_SKIPPED = object()


def _judged_value(
    rule: Rule, measured: Mapping[str, float], gain: Mapping[str, Any], kind: str
) -> Any:
    """The value ``rule`` judges: its measure, or the relative gain over the baseline (which a
    baseline is not judged on: ``_SKIPPED``); None when it is missing."""
    if rule.measure == GAIN_CONSTRAINT:
        return _SKIPPED if kind == "baseline" else gain.get("relative")
    return measured.get(rule.measure)


def evaluate(
    measured: Mapping[str, float],
    constraints: Mapping[str, Any] | tuple[Rule, ...],
    *,
    primary_metric: str,
    kind: str = "candidate",
    baseline: Mapping[str, float] | None = None,
    baseline_id: str = "",
    edge_cases_required: bool = False,
) -> dict[str, Any]:
    """Judge validation-split measures against the constraints; see ``check_constraints``.

    ``constraints`` is the ``[constraints]`` table or its ``parse_constraints`` form.
    ``baseline`` holds the baseline snapshot's validation measures. ``edge_cases_required``
    says the project has must-pass edge cases, so a snapshot without an edge-case run is
    incomplete rather than passing.
    """
    rules = constraints if isinstance(constraints, tuple) else parse_constraints(constraints)
    gain = (
        gain_over(measured, baseline, baseline_id, primary_metric)
        if kind != "baseline" and baseline is not None
        else {}
    )
    table = judged_table(
        measured, rules, kind=kind, gain=gain, edge_cases_required=edge_cases_required
    )
    return {"constraints": table, "gain": gain}


def judged_table(
    measured: Mapping[str, float],
    rules: tuple[Rule, ...],
    *,
    kind: str,
    gain: Mapping[str, Any],
    edge_cases_required: bool = False,
) -> dict[str, dict[str, Any]]:
    """``evaluate``'s ``constraints`` table, with ``gain`` given (the ``[gain]`` table)."""
    table: dict[str, dict[str, Any]] = {}
    for rule in rules:
        value = _judged_value(rule, measured, gain, kind)
        if value is _SKIPPED:
            continue
        table[rule.name] = (
            {"limit": rule.limit, "missing": True}
            if value is None
            else _judge(value, rule.limit, rule.kind)
        )
    failed = measured.get("edge_must_pass_failed")
    if failed is not None:
        table[EDGE_CONSTRAINT] = _judge(failed, 0.0, "max")
    elif edge_cases_required:
        table[EDGE_CONSTRAINT] = {"limit": 0.0, "missing": True}
    return table


def passes(
    measured: Mapping[str, float],
    rules: tuple[Rule, ...],
    *,
    kind: str,
    gain: Mapping[str, Any],
    edge_cases_required: bool = False,
) -> bool:
    """True exactly when ``evaluate`` (with the same rules, and ``gain`` as it computes it)
    would judge every constraint and find each one met: no reason and nothing missing. (Rules
    of distinct names, as every project file gives. Of two limits on one measure, which only a
    hand-made rule table can hold, ``evaluate`` keeps the last and ``passes`` holds both; the
    ranking then asks ``findings_of``, which keeps the last, so the row is judged as ``evaluate``
    judges it.)

    The ranking asks this of every row first and ``findings_of`` only of a row that fails it,
    for the words: at 100,000 rows most pass, and building their tables cost a second."""
    # _judged_value and _meets, inlined (asked of every row of a ranking); "not <=" so NaN fails
    for rule in rules:
        if rule.measure == GAIN_CONSTRAINT:
            if kind == "baseline":
                continue
            value = gain.get("relative")
        else:
            value = measured.get(rule.measure)
        if value is None:
            return False
        if rule.kind == "max":
            if not value <= rule.limit:
                return False
        elif not value >= rule.limit:
            return False
    failed = measured.get("edge_must_pass_failed")
    if failed is not None:
        return failed <= 0.0
    return not edge_cases_required


def findings(
    measured: Mapping[str, float],
    rules: tuple[Rule, ...],
    *,
    kind: str,
    gain: Mapping[str, Any],
    edge_cases_required: bool = False,
) -> tuple[list[str], list[str]]:
    """``(reasons(t), missing(t))`` of ``t = evaluate(...)`` (with the same rules, and
    ``gain`` as it computes it), without building the table: ``findings_of``'s words for one
    row."""
    return findings_of(rules, edge_cases_required=edge_cases_required)(measured, kind, gain)


Findings = Callable[[Mapping[str, float], str, Mapping[str, Any]], tuple[list[str], list[str]]]


def findings_of(rules: tuple[Rule, ...], *, edge_cases_required: bool = False) -> Findings:
    """``findings`` as a function of (measured, kind, gain), with what depends on the rules
    alone worked out once: which rule judges each name (``evaluate`` keeps the last one a row
    is judged on; a baseline is not judged on the gain), and the names' order.

    The ranking asks it of every row ``passes`` did not clear, for the words: at 100,000 rows
    that can be a third of them (28,587 rows: 0.14 s when each call worked the rules out
    again, and building their tables took a third longer still)."""

    def plan(baseline: bool) -> list[tuple[str, Rule | None]]:
        judging: dict[str, Rule] = {}
        for rule in rules:  # the last rule of a name wins, as in evaluate's table
            if not (baseline and rule.measure == GAIN_CONSTRAINT):
                judging[rule.name] = rule
        return [(name, judging.get(name)) for name in sorted({*judging, EDGE_CONSTRAINT})]

    plans = {False: plan(False), True: plan(True)}

    def words(
        measured: Mapping[str, float], kind: str, gain: Mapping[str, Any]
    ) -> tuple[list[str], list[str]]:
        failures: list[str] = []
        absent: list[str] = []
        get = measured.get
        for name, rule in plans[kind == "baseline"]:
            if name == EDGE_CONSTRAINT:  # the edge-case run, over any rule of this name
                failed = get("edge_must_pass_failed")
                if failed is not None:
                    if not failed <= 0.0:
                        failures.append(_reason(name, failed, 0.0))
                    continue
                if edge_cases_required:
                    absent.append(name)
                    continue
            if rule is None:
                continue
            value = gain.get("relative") if rule.measure == GAIN_CONSTRAINT else get(rule.measure)
            if value is None:
                absent.append(name)
            elif not _meets(value, rule.limit, rule.kind):
                failures.append(_reason(name, value, rule.limit))
        return failures, absent

    return words


def _validation(item: Mapping[str, Any]) -> dict[str, float]:
    """Validation measures of a whole snapshot or of an index summary row (which has them)."""
    stored = item.get("measures")
    if isinstance(stored, Mapping) and isinstance(stored.get("validation"), Mapping):
        return dict(stored["validation"])
    return measures(item, "validation")


def check_constraints(
    snapshot: Mapping[str, Any],
    constraints: Mapping[str, Any],
    baseline: Mapping[str, Any] | None,
    primary_metric: str,
    *,
    edge_cases_required: bool = False,
) -> dict[str, Any]:
    """The ``[constraints]`` and ``[gain]`` tables for one snapshot (docs/snapshot-format.md).

    Constraints are judged on the validation split (the split the choice is made on). ``gain``
    is empty for a baseline or when no baseline snapshot exists yet. ``snapshot`` and
    ``baseline`` may be whole snapshots or index summary rows.
    """
    baseline_measures = _validation(baseline) if baseline is not None else None
    return evaluate(
        _validation(snapshot),
        constraints,
        primary_metric=primary_metric,
        kind=str(snapshot.get("kind", "candidate")),
        baseline=baseline_measures,
        baseline_id=str(baseline.get("id", "")) if baseline is not None else "",
        edge_cases_required=edge_cases_required,
    )


def format_pair(value: Any, limit: Any, digits: int = 4) -> tuple[str, str]:
    """A measured value and its limit as text: ``digits`` significant digits, more when two
    different numbers would print the same, so a failure never reads as equality
    (0.00545 against 0.01 is ``"0.00545"`` / ``"0.01"``; 0.0099996 against 0.01 needs 5).
    Anything that is not a finite number is shown as it is."""
    # two finite floats, the common case, without the general test (a ranking asks this of
    # every reason of tens of thousands of rejected rows)
    if not (
        type(value) is float
        and type(limit) is float
        and math.isfinite(value)
        and math.isfinite(limit)
    ) and not all(
        isinstance(v, int | float) and not isinstance(v, bool) and math.isfinite(v)
        for v in (value, limit)
    ):
        return str(value), str(limit)
    value, limit = value + 0.0, limit + 0.0  # -0.0 prints as "0"
    for places in range(digits, 18):
        shown = f"{value:.{places}g}", f"{limit:.{places}g}"
        if shown[0] != shown[1] or value == limit:
            return shown
    return repr(float(value)), repr(float(limit))


def reasons(result: Mapping[str, Any]) -> list[str]:
    """One line per failed constraint, e.g. ``"latency_p95_ms 80 > 50"`` (sorted by name);
    the two numbers always print differently (``format_pair``)."""
    lines = []
    for name, entry in sorted(result.get("constraints", {}).items()):
        if entry.get("ok") is False:
            lines.append(_reason(name, entry["value"], entry["limit"]))
    return lines


def _reason(name: str, value: Any, limit: Any) -> str:
    """One failed constraint in words: ``"latency_p95_ms 80 > 50"``."""
    sign = ">" if value > limit else "<"
    shown_value, shown_limit = format_pair(value, limit)
    return f"{name} {shown_value} {sign} {shown_limit}"


def missing(result: Mapping[str, Any]) -> list[str]:
    """The constraints that could not be judged because their measure is missing."""
    return [
        name
        for name, entry in sorted(result.get("constraints", {}).items())
        if entry.get("missing")
    ]
