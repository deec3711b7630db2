"""Recompute what a snapshot records, from what it stores: ``modelsnap check``'s second look.

A snapshot's metrics were computed from its predictions on the frozen split, and its constraint
verdicts from its measures. Both inputs are stored (``predictions/<id>.npz``, ``split.npz`` and
the data file; the measures in the snapshot itself), so a metric changed by hand or an ``ok``
flipped is found by doing the sums again with the same code (``metrics.compute_metrics``,
``constraints.evaluate``) and comparing.

Not on the fast path: ``check`` only (numpy; the caller loads the data with pandas).
"""

from __future__ import annotations

import math
import zipfile
import zlib
from collections.abc import Mapping
from pathlib import Path
from typing import Any

SPLITS = ("validation", "test")
REL_TOL = 1e-9
ABS_TOL = 1e-12


def close(recorded: Any, recomputed: float) -> bool:
    if isinstance(recorded, bool) or not isinstance(recorded, int | float):
        return False
    if math.isnan(recomputed) or math.isnan(recorded):
        return math.isnan(recomputed) and math.isnan(recorded)
    return abs(recorded - recomputed) <= REL_TOL * max(abs(recorded), abs(recomputed)) + ABS_TOL


def load_predictions(path: Path) -> dict[str, Any]:
    """The arrays of a predictions file (no pickles); ValueError naming what is wrong."""
    import numpy as np

    if not zipfile.is_zipfile(path):
        raise ValueError("not an .npz archive")
    try:
        with np.load(path, allow_pickle=False) as stored:
            return {key: stored[key] for key in stored.files}
    except (OSError, ValueError, EOFError, KeyError, zipfile.BadZipFile, zlib.error) as exc:
        raise ValueError(f"not a predictions file ({str(exc)[:120]})") from None


def metric_problems(
    snapshot: Mapping[str, Any],
    arrays: Mapping[str, Any],
    truth: Mapping[str, Any],
    *,
    task: str,
    classes: Any,
    positive_label: Any,
) -> list[str]:
    """Every recorded validation/test metric that the stored predictions do not give again.

    ``arrays`` holds ``<split>_pred`` (and ``<split>_proba`` when recorded); ``truth`` the
    target values of each split's rows, in split order.
    """
    from modelsnap.core.errors import ModelsnapError
    from modelsnap.core.evaluation.metrics import compute_metrics

    problems = []
    recorded_tables = snapshot.get("metrics", {})
    for split in SPLITS:
        recorded = recorded_tables.get(split) if isinstance(recorded_tables, Mapping) else None
        if not isinstance(recorded, Mapping) or not recorded:
            continue
        if f"{split}_pred" not in arrays:
            problems.append(
                f"the stored predictions hold no {split} predictions: "
                f"[metrics.{split}] cannot be recomputed"
            )
            continue
        try:
            again = compute_metrics(
                task,
                truth[split],
                arrays[f"{split}_pred"],
                arrays.get(f"{split}_proba"),
                classes,
                positive_label,
            )
        except (ModelsnapError, ValueError, TypeError, IndexError) as exc:
            message = exc.message if isinstance(exc, ModelsnapError) else str(exc)
            problems.append(
                f"[metrics.{split}] cannot be recomputed from the stored "
                f"predictions: {message[:160]}"
            )
            continue
        for name, value in recorded.items():
            if name not in again:
                problems.append(
                    f"metrics.{split}.{name} = {value!r} cannot be recomputed "
                    "from the stored predictions"
                )
            elif not close(value, again[name]):
                problems.append(
                    f"metrics.{split}.{name} is recorded as {value!r}, but the "
                    f"stored predictions give {again[name]!r}: edited by hand?"
                )
    return problems


def constraint_problems(
    snapshot: Mapping[str, Any],
    *,
    locked: Mapping[str, Any] | None,
    baseline: Mapping[str, Any] | None,
) -> list[str]:
    """Every recorded constraint verdict (value, limit, ok) that the snapshot's own measures
    do not give again with ``constraints.evaluate``.

    ``locked`` is the criteria revision the snapshot names (its limits and primary metric),
    None when it names none; ``baseline`` the snapshot its ``[gain]`` names, when present.
    """
    from modelsnap.core.errors import ModelsnapError
    from modelsnap.core.measures import measures
    from modelsnap.core.selection.constraints import (
        GAIN_CONSTRAINT,
        Rule,
        evaluate,
        parse_constraints,
    )

    recorded = snapshot.get("constraints")
    if not isinstance(recorded, Mapping) or not recorded:
        return []
    rules: dict[str, Rule] = {}
    if locked is not None:
        try:
            rules = {rule.name: rule for rule in parse_constraints(locked.get("constraints", {}))}
        except ModelsnapError:
            rules = {}
    gain = snapshot.get("gain")
    gain = gain if isinstance(gain, Mapping) else {}
    primary = (locked or {}).get("primary_metric") or gain.get("metric") or ""
    measured = measures(dict(snapshot), "validation")
    baseline_measures = measures(dict(baseline), "validation") if baseline is not None else None
    problems: list[str] = []
    for name, entry in recorded.items():
        if not isinstance(entry, Mapping) or entry.get("missing") is True:
            continue
        limit = entry.get("limit")
        if isinstance(limit, bool) or not isinstance(limit, int | float):
            continue
        rule = _recorded_rule(name, limit, rules, snapshot, problems)
        if rule is None:
            continue
        if name == GAIN_CONSTRAINT and baseline_measures is None:
            continue  # the baseline it was judged against is gone: named elsewhere
        again = evaluate(
            measured,
            (rule,),
            primary_metric=primary,
            kind=str(snapshot.get("kind", "candidate")),
            baseline=baseline_measures,
            baseline_id=str(gain.get("baseline_id", "")),
        )
        problems += _verdict_problems(name, entry, again["constraints"].get(name), limit)
    return problems


def _recorded_rule(
    name: str,
    limit: float | int,
    rules: Mapping[str, Any],
    snapshot: Mapping[str, Any],
    problems: list[str],
) -> Any:
    """The rule a recorded verdict was judged by, with the recorded limit (a limit that the
    revision in force does not set is a problem of its own); None for a name no rule reads."""
    from modelsnap.core.measures import MEASURE_DIRECTIONS
    from modelsnap.core.selection.constraints import EDGE_CONSTRAINT, GAIN_CONSTRAINT, Rule

    if name == EDGE_CONSTRAINT:
        return Rule(name, "edge_must_pass_failed", float(limit), "max")
    if name in rules:
        rule = rules[name]
        if not close(limit, rule.limit):
            problems.append(
                f"constraints.{name}.limit is recorded as {limit!r}, but "
                f"criteria revision {snapshot.get('criteria_revision')} sets "
                f"{rule.limit!r}"
            )
        return Rule(rule.name, rule.measure, float(limit), rule.kind)
    if name == GAIN_CONSTRAINT:
        return Rule(name, name, float(limit), "min")
    if name in MEASURE_DIRECTIONS:
        kind = "min" if MEASURE_DIRECTIONS[name] == "max" else "max"
        return Rule(name, name, float(limit), kind)
    return None


def _verdict_problems(
    name: str, entry: Mapping[str, Any], verdict: Mapping[str, Any] | None, limit: Any
) -> list[str]:
    """How a recorded verdict differs from the one the snapshot's measures give again."""
    if verdict is None or verdict.get("missing"):
        return [f"constraints.{name} records a verdict, but the snapshot's measures give none"]
    problems = []
    if not close(entry.get("value"), verdict["value"]):
        problems.append(
            f"constraints.{name}.value is recorded as {entry.get('value')!r}, "
            f"but the snapshot's measures give {verdict['value']!r}"
        )
    if entry.get("ok") is not verdict["ok"]:
        problems.append(
            f"constraints.{name}.ok is recorded as "
            f"{str(entry.get('ok')).lower()}, but {verdict['value']:g} against "
            f"the limit {limit:g} gives {str(verdict['ok']).lower()}"
        )
    return problems
