"""Step five: turn snapshots into a ranked, explained list (docs/ranking.md is the user's view).

Order of judgement, each stage only seeing what survived the one before:

1. comparability guard: rows whose data set or split hash differs from the project's current
   ones are excluded (or, with ``allow_mixed``, kept with a warning on every such line); then
   only the latest snapshot of each model competes (``latest_per_name``; older ones are
   ``superseded`` history unless ``all_versions``), and *the* baseline is the latest baseline
   on the current data and split (``current_baseline``);
2. hard constraints on the validation split, recomputed with the constraints in force
   (a failure rejects, with every reason; must-pass edge cases and the minimum gain count);
3. completeness: a row lacking a measure that a criterion or constraint needs is incomplete,
   never scored as zero;
4. scoring of the rest (baseline included): weighted sum of min-max normalised criteria, or
   TOPSIS; ties go to the better primary metric, then the earlier snapshot;
5. Pareto front, hardware-mismatch flags, older-criteria-revision marks, test metric beside.

Input rows are index summary rows (``core.records.index.summary_row``: they carry ``measures`` for
both splits) or whole snapshot dicts, so the CLI can rank 10,000 snapshots from the index without
parsing TOML. Pure Python on purpose: no numpy import cost on the ``rank`` fast path.
"""

from __future__ import annotations

import math
import operator
from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from itertools import chain, compress, count
from typing import Any, NamedTuple, TypedDict

from modelsnap.core import collector
from modelsnap.core.errors import CriteriaError
from modelsnap.core.measures import (
    MEASURE_DIRECTIONS,
    SPLITS,
    is_resource_measure,
    measures,
    task_of,
)
from modelsnap.core.project.schema import Criterion
from modelsnap.core.ranking_methods import DEFAULT_METHOD, METHODS, minmax_matrix
from modelsnap.core.selection import constraints as constraint_rules
from modelsnap.core.selection.pareto import PendingFront, start_helper

PERTURBATIONS = (-0.25, -0.10, 0.10, 0.25)


@dataclass
class RankingSpec:
    """Everything the ranking needs besides the rows (``spec_from_config`` builds it).

    ``dataset_sha256``/``split_sha256`` are the project's current hashes; when None the newest
    row's hashes are taken as current. ``criteria_revision`` is the current locked revision.
    """

    criteria: list[Criterion]
    constraints: dict[str, Any]
    primary_metric: str
    split: str = "validation"
    method: str = DEFAULT_METHOD
    allow_mixed: bool = False
    dataset_sha256: str | None = None
    split_sha256: str | None = None
    criteria_revision: int | None = None
    edge_cases_required: bool = False
    all_versions: bool = False

    def weights(self) -> dict[str, float]:
        """The criteria weights normalised to sum to 1 (zero-weight criteria dropped)."""
        return normalise_weights({c.metric: c.weight for c in self.criteria})


def normalise_weights(weights: Mapping[str, float]) -> dict[str, float]:
    """Weights as shares summing to 1, zero weights dropped; {} when none is above 0.

    When the plain sum overflows (weights of 1e308 each), each weight is divided by the largest
    first, so the shares cannot all collapse to 0. Otherwise the plain ``weight / sum``, so
    recorded shares stay bit-for-bit what they always were."""
    positive = {name: w for name, w in weights.items() if w > 0}
    total = sum(positive.values())
    if math.isfinite(total) and total > 0:
        return {name: w / total for name, w in positive.items()}
    largest = max(positive.values(), default=0.0)
    if not largest > 0 or not math.isfinite(largest):
        return {}
    scaled = {name: w / largest for name, w in positive.items()}
    total = math.fsum(scaled.values())
    return {name: w / total for name, w in scaled.items()}


@dataclass(kw_only=True)
class RankedEntry:
    """One ranked snapshot. The fields are declared in the order of their names, which is
    also the order of ``to_dict``'s sorted keys: an encoder that writes a dataclass's fields
    in declaration order (orjson) writes the entry as it writes ``to_dict()``, without making
    the 71,000 dicts of ``rank --all-versions`` at 100,000 snapshots first (0.25 s)."""

    gain: dict[str, Any] = field(default_factory=dict)
    hardware_flags: list[str] = field(default_factory=list)
    id: str
    kind: str
    mixed: bool = False
    name: str
    normalised: dict[str, float]
    older_revision: bool = False
    pareto: bool = False
    primary: float | None = None
    rank: int
    score: float
    test_primary: float | None = None
    values: dict[str, float]
    warnings: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        """Like ``dataclasses.asdict``, without its deep copies (10,000 rows must be quick)."""
        return {
            "id": self.id,
            "name": self.name,
            "kind": self.kind,
            "rank": self.rank,
            "score": self.score,
            "values": dict(self.values),
            "normalised": dict(self.normalised),
            "pareto": self.pareto,
            "warnings": list(self.warnings),
            "hardware_flags": list(self.hardware_flags),
            "primary": self.primary,
            "test_primary": self.test_primary,
            "gain": dict(self.gain),
            "mixed": self.mixed,
            "older_revision": self.older_revision,
        }


class Excluded(TypedDict):
    """A snapshot on another data set or split, left out of the ranking (docs/ranking.md)."""

    id: str
    name: str
    reasons: list[str]


class Superseded(TypedDict):
    """An older snapshot of a model that has a newer one (``by``): history, not ranked."""

    id: str
    name: str
    kind: str
    by: str


class Rejected(TypedDict):
    """A snapshot that fails a hard constraint: every reason, and what it also lacks."""

    id: str
    name: str
    kind: str
    reasons: list[str]
    missing: list[str]


class Incomplete(TypedDict):
    """A snapshot lacking a measure a criterion or constraint needs (never scored as 0)."""

    id: str
    name: str
    kind: str
    missing: list[str]


class SetAside(NamedTuple):
    """A snapshot the ranking left out, as printers show it: its status ("rejected",
    "incomplete" or "excluded"), id, name and why (the reasons, or what it lacks)."""

    status: str
    id: str
    name: str
    why: list[str]


@dataclass
class RankingResult:
    ranked: list[RankedEntry]
    rejected: list[Rejected]
    incomplete: list[Incomplete]
    excluded: list[Excluded]
    warnings: list[str]
    weights: dict[str, float]
    directions: dict[str, str]
    method: str
    split: str
    primary_metric: str
    baseline_id: str | None
    dataset_sha256: str | None
    split_sha256: str | None
    hardware_fingerprint: str | None
    criteria_revision: int | None
    sensitivity: dict[str, Any] | None = None
    superseded: list[Superseded] = field(default_factory=list)
    basis: str = "locked"
    pending: list[str] = field(default_factory=list)

    @property
    def top(self) -> RankedEntry | None:
        return self.ranked[0] if self.ranked else None

    def status(self, snapshot_id: str) -> str | None:
        """ "ranked", "rejected", "incomplete", "excluded", "superseded" (an older snapshot of
        a model that has a newer one), or None for an unknown id."""
        if any(e.id == snapshot_id for e in self.ranked):
            return "ranked"
        for name in ("rejected", "incomplete", "excluded", "superseded"):
            if any(e["id"] == snapshot_id for e in getattr(self, name)):
                return name
        return None

    def set_aside(self) -> list[SetAside]:
        """Rejected, then incomplete, then excluded snapshots, each with why it is left out:
        the one reading of these lists for the CLI, the report and the screens."""
        return [
            *(SetAside("rejected", r["id"], r["name"], r["reasons"]) for r in self.rejected),
            *(SetAside("incomplete", r["id"], r["name"], r["missing"]) for r in self.incomplete),
            *(SetAside("excluded", r["id"], r["name"], r["reasons"]) for r in self.excluded),
        ]

    def to_dict(self, *, entries_as_objects: bool = False) -> dict[str, Any]:
        """JSON-safe form; its shape is documented in docs/ranking.md ("JSON output").

        ``entries_as_objects`` leaves the ranked entries as ``RankedEntry`` objects, for an
        encoder that writes dataclasses itself (see ``RankedEntry``): the same JSON, sooner."""
        return {
            "method": self.method,
            "split": self.split,
            "primary_metric": self.primary_metric,
            "weights": self.weights,
            "directions": self.directions,
            "baseline_id": self.baseline_id,
            "dataset_sha256": self.dataset_sha256,
            "split_sha256": self.split_sha256,
            "hardware_fingerprint": self.hardware_fingerprint,
            "criteria_revision": self.criteria_revision,
            "basis": self.basis,
            "pending": list(self.pending),
            "ranked": list(self.ranked)
            if entries_as_objects
            else [e.to_dict() for e in self.ranked],
            "rejected": self.rejected,
            "incomplete": self.incomplete,
            "excluded": self.excluded,
            "superseded": self.superseded,
            "warnings": self.warnings,
            "sensitivity": self.sensitivity,
        }


# ---------------------------------------------------------------------------------------------
# Building the spec


def make_criteria(entries: Iterable[Criterion | Mapping[str, Any]]) -> list[Criterion]:
    """The criteria a ranking uses. A ``Criterion`` was checked when it was made (the project
    file's, by ``project.parse``) and is taken as it is; a table (a locked revision's, a
    profile's, a what-if's) is checked here, once. Each measure once, some weight above 0."""
    criteria: list[Criterion] = []
    seen: set[str] = set()
    for entry in entries:
        criterion = entry if isinstance(entry, Criterion) else _criterion_from_table(entry)
        if criterion.metric in seen:
            raise CriteriaError(
                f"measure {criterion.metric!r} appears twice in the criteria",
                where="modelsnap.toml [[criteria]]",
            )
        seen.add(criterion.metric)
        criteria.append(criterion)
    if not any(c.weight > 0 for c in criteria):
        raise CriteriaError(
            "the criteria have no positive weight",
            where="criteria",
            hint="give at least one criterion a weight above 0",
        )
    return criteria


def _criterion_from_table(entry: Mapping[str, Any]) -> Criterion:
    metric, weight, direction = entry.get("metric"), entry.get("weight"), entry.get("direction")
    if not isinstance(metric, str) or metric not in MEASURE_DIRECTIONS:
        raise CriteriaError(
            f"unknown measure {metric!r} in the criteria",
            where="modelsnap.toml [[criteria]]",
            hint="use a measure name from docs/project-file.md",
        )
    if (
        isinstance(weight, bool)
        or not isinstance(weight, int | float)
        or not math.isfinite(weight)
        or weight < 0
    ):
        raise CriteriaError(
            f"weight of {metric!r} must be a number >= 0, found {weight!r}",
            where="modelsnap.toml [[criteria]]",
        )
    direction = direction or MEASURE_DIRECTIONS[metric]
    if direction not in ("max", "min"):
        raise CriteriaError(
            f"direction of {metric!r} must be 'max' or 'min'",
            where="modelsnap.toml [[criteria]]",
        )
    return Criterion(metric, float(weight), direction)


def parse_weights(text: str) -> dict[str, float]:
    """``"f1=0.5,latency_p95_ms=0.3"`` -> ``{"f1": 0.5, "latency_p95_ms": 0.3}``.

    Each weight finite and >= 0, each measure once, at least one weight above 0."""
    weights: dict[str, float] = {}
    for part in (p.strip() for p in text.split(",")):
        if not part:
            continue
        name, sep, value = part.partition("=")
        name = name.strip()
        try:
            weight = float(value) if sep else float("nan")
        except ValueError:
            weight = float("nan")
        if not math.isfinite(weight) or weight < 0:
            raise CriteriaError(
                f"bad weight {part!r}",
                where="--weights",
                hint="write NAME=WEIGHT pairs, e.g. f1=0.5,latency_p95_ms=0.3",
            )
        if name not in MEASURE_DIRECTIONS:
            raise CriteriaError(
                f"unknown measure {name!r}",
                where="--weights",
                hint="use a measure name from docs/project-file.md",
            )
        if name in weights:
            raise CriteriaError(
                f"{name} is given twice ({name}={weights[name]:g} and {part})",
                where="--weights",
                hint="give each measure once",
            )
        weights[name] = weight
    if not weights:
        raise CriteriaError(
            "no weights given",
            where="--weights",
            hint="write NAME=WEIGHT pairs, e.g. f1=0.5,latency_p95_ms=0.3",
        )
    if not any(w > 0 for w in weights.values()):
        raise CriteriaError(
            "every weight is 0",
            where="--weights",
            hint="give at least one measure a weight above 0",
        )
    return weights


def with_weights(criteria: Sequence[Criterion], weights: Mapping[str, float]) -> list[Criterion]:
    """What-if weights replace the criteria: exactly the named measures, with these weights.

    Directions come from the project's criteria where the measure is one of them, otherwise
    from the measure's default.
    """
    directions = {c.metric: c.direction for c in criteria}
    return make_criteria(
        {"metric": m, "weight": w, "direction": directions.get(m, MEASURE_DIRECTIONS.get(m))}
        for m, w in weights.items()
    )


def spec_from_config(
    config: Any,
    *,
    weights: Mapping[str, float] | None = None,
    profile: str | None = None,
    method: str = DEFAULT_METHOD,
    split: str | None = None,
    allow_mixed: bool = False,
    dataset_sha256: str | None = None,
    split_sha256: str | None = None,
    criteria_revision: int | None = None,
    edge_cases_required: bool = False,
    all_versions: bool = False,
    criteria: Iterable[Any] | None = None,
    constraints: Mapping[str, Any] | None = None,
    primary_metric: str | None = None,
) -> RankingSpec:
    """The spec for a ``ProjectConfig``, with the what-ifs applied (nothing is written).

    ``criteria``/``constraints``/``primary_metric`` (a locked revision's, see
    ``core.selection.context``) replace the project file's. ``profile`` swaps in that profile's
    criteria and constraints; ``weights`` then replaces the criteria weights (see ``with_weights``).
    """
    selection = config.selection
    primary = (
        primary_metric
        or getattr(config, "primary_metric", None)
        or selection.primary_metric
        or "f1"
    )
    criteria_source: Iterable[Any] = config.criteria if criteria is None else criteria
    constraint_table = dict(config.constraints or {}) if constraints is None else dict(constraints)
    if profile is not None:
        from modelsnap.core.profiles import PROFILES, profile_settings

        if profile not in PROFILES:
            raise CriteriaError(
                f"unknown profile {profile!r}",
                where="--profile",
                hint=f"use one of {', '.join(PROFILES)}",
            )
        task = getattr(config.data, "task", None) or task_of(primary) or "classification"
        criteria_source, constraint_table = profile_settings(
            profile, task, primary, fairness=bool(getattr(config.data, "sensitive", None))
        )
    criteria = make_criteria(criteria_source)
    if weights:
        criteria = with_weights(criteria, weights)
    if method not in METHODS:
        raise CriteriaError(f"unknown method {method!r}", hint=f"use one of {', '.join(METHODS)}")
    split = split or getattr(selection, "rank_split", None) or "validation"
    if split not in SPLITS:
        raise CriteriaError(f"unknown split {split!r}", hint="use validation or test")
    return RankingSpec(
        criteria=criteria,
        constraints=constraint_table,
        primary_metric=primary,
        split=split,
        method=method,
        allow_mixed=allow_mixed,
        dataset_sha256=dataset_sha256,
        split_sha256=split_sha256,
        criteria_revision=criteria_revision,
        edge_cases_required=edge_cases_required,
        all_versions=all_versions,
    )


# ---------------------------------------------------------------------------------------------
# Rows


def as_row(item: Mapping[str, Any]) -> dict[str, Any]:
    """An index summary row as is; a whole snapshot dict reduced to the fields ranking reads."""
    if isinstance(item.get("measures"), Mapping):
        return item  # type: ignore[return-value]  # read only: never mutated here
    data = item.get("data")
    data = data if isinstance(data, Mapping) else {}
    hardware = item.get("hardware")
    hardware = hardware if isinstance(hardware, Mapping) else {}
    revision = item.get("criteria_revision")
    return {
        "id": str(item.get("id", "")),
        "name": str(item.get("name", "")),
        "kind": str(item.get("kind", "candidate")),
        "created_at": str(item.get("created_at", "")),
        "criteria_revision": revision if isinstance(revision, int) else None,
        "dataset_sha256": data.get("dataset_sha256"),
        "split_sha256": data.get("split_sha256"),
        "hardware_fingerprint": hardware.get("fingerprint"),
        "measures": {split: measures(item, split) for split in SPLITS},
    }


def _order_key(row: Mapping[str, Any]) -> tuple[str, str]:
    return (str(row.get("created_at") or ""), str(row.get("id")))


_ORDER_FIELDS = operator.itemgetter("created_at", "id")


def _in_order(items: Iterable[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """``sorted(map(as_row, items), key=_order_key)``, sooner: where every row's ``created_at``
    and ``id`` are strings, they are its key as they are, taken by one C call per row
    (``_order_key``'s call per row was 0.06-0.08 s of ``rank --all-versions`` at 100,000
    snapshots, against 0.01 s)."""
    rows = [as_row(item) for item in items]
    try:
        keys: list[tuple[Any, ...]] = list(map(_ORDER_FIELDS, rows))
    except (LookupError, TypeError):  # a row without one of the two: _order_key's defaults
        keys = []
    if len(keys) != len(rows) or not set(map(type, chain.from_iterable(keys))) <= {str}:
        keys = list(map(_order_key, rows))  # a None, a number or a str subclass among them
    order = sorted(range(len(rows)), key=keys.__getitem__)  # stable, as sorted(rows) is
    return [rows[i] for i in order]


def _newest(rows: Sequence[Mapping[str, Any]]) -> Mapping[str, Any]:
    """``max(rows, key=_order_key)`` of rows in ``_in_order``'s order, without a key for
    each row: the first of the last run of rows with equal keys (where ``max`` stops)."""
    at = len(rows) - 1
    last = _order_key(rows[at])
    while at > 0 and _order_key(rows[at - 1]) == last:
        at -= 1
    return rows[at]


def _better_first(value: float | None, direction: str) -> float:
    """Sort key: smaller is better; a missing value sorts last."""
    if value is None:
        return math.inf
    return -value if direction == "max" else value


# ---------------------------------------------------------------------------------------------
# Scoring


def _scores(
    method: str,
    values: Sequence[Sequence[float]],
    weights: Sequence[float],
    directions: Sequence[str],
    prepared: list[list[float]] | None = None,
) -> list[float]:
    way = METHODS[method]
    return way.score(prepared or way.prepare(values, directions), weights, directions)


def _order(scores: Sequence[float], tiebreak_of: Callable[[int], tuple[Any, ...]]) -> list[int]:
    """Indexes best first: higher score (to 12 decimals), then the tie-break key of
    ``tiebreak_of(i)`` (better primary, earlier): ``sorted`` by the pair (-score, key).

    The same order, sooner: the indexes are sorted by score alone, then each run of equal
    scores by its members' keys, so a key is made only for a row that ties (sorting 71,413
    rows by the pair, keys made for all, took 0.09 s; by the score alone, 0.01 s). A stable
    sort by the score, then a stable sort of each run by the key, is the sort by the pair,
    whenever the scores are ordered; a NaN score is not, and then the pairs are sorted."""
    negated = [-round(score, 12) for score in scores]
    if any(map(math.isnan, negated)):  # "NaN < x" and "x < NaN" are both false: no order
        return sorted(range(len(scores)), key=lambda i: (negated[i], tiebreak_of(i)))
    order = sorted(range(len(scores)), key=negated.__getitem__)
    in_order = [negated[i] for i in order]
    start = 0
    # each place where a run of equal scores starts, then ends (the == the pairs' sort asks)
    for at in compress(count(1), map(operator.eq, in_order, in_order[1:])):
        if at <= start:
            continue  # already in the run sorted below
        end = at + 1
        while end < len(order) and in_order[end] == in_order[at]:
            end += 1
        start = end
        order[at - 1 : end] = sorted(order[at - 1 : end], key=tiebreak_of)
    return order


def _best(scores: Sequence[float], tiebreak: Sequence[tuple[Any, ...]]) -> int:
    """The index ``_order`` would put first, in one pass."""
    return min(range(len(scores)), key=lambda i: (-round(scores[i], 12), tiebreak[i]))


# ---------------------------------------------------------------------------------------------
# The ranking


def _references(
    rows: Sequence[Mapping[str, Any]], dataset_sha256: str | None, split_sha256: str | None
) -> tuple[str | None, str | None]:
    """The data set and split rows are compared with: the ones given (the project's current
    files), else the newest snapshot's (found once, for both). ``rows`` are in ``_in_order``'s
    order."""
    if dataset_sha256 is not None and split_sha256 is not None:
        return dataset_sha256, split_sha256
    newest = _newest(rows) if rows else {}
    return (
        dataset_sha256 if dataset_sha256 is not None else newest.get("dataset_sha256"),
        split_sha256 if split_sha256 is not None else newest.get("split_sha256"),
    )


@dataclass
class _Field:
    """What the comparability stage leaves: the rows that compete, with why each one is not
    comparable (empty when it is), and what was set aside."""

    considered: list[tuple[dict[str, Any], list[str]]]
    excluded: list[Excluded]
    superseded: list[Superseded]
    dataset_ref: str | None
    split_ref: str | None


def _comparable_rows(rows: Sequence[dict[str, Any]], spec: RankingSpec) -> _Field:
    """Stage 1: rows on another data set or split are excluded (or kept with the reasons, with
    ``allow_mixed``); then only the latest snapshot of each model competes."""
    dataset_ref, split_ref = _references(rows, spec.dataset_sha256, spec.split_sha256)
    excluded: list[Excluded] = []
    considered: list[tuple[dict[str, Any], list[str]]] = []
    for row in rows:
        why = []
        if row.get("dataset_sha256") != dataset_ref:
            why.append(
                "data set differs from the project's current one "
                f"(dataset_sha256 {str(row.get('dataset_sha256'))[:12]} vs "
                f"{str(dataset_ref)[:12]})"
            )
        if row.get("split_sha256") != split_ref:
            why.append(
                "split differs from the project's current one "
                f"(split_sha256 {str(row.get('split_sha256'))[:12]} vs "
                f"{str(split_ref)[:12]})"
            )
        if why and not spec.allow_mixed:
            excluded.append({"id": row["id"], "name": row.get("name", ""), "reasons": why})
        else:
            considered.append((row, why))
    superseded: list[Superseded] = []
    if not spec.all_versions:
        considered, superseded = latest_per_name(considered)
    return _Field(considered, excluded, superseded, dataset_ref, split_ref)


_ABSENT: Any = object()  # a measure a row does not have (a mapping's ``get`` default)


@dataclass
class _Judged:
    """What the constraint and completeness stages leave: (row, mixed reasons, gain) to score,
    with each one's criteria values (read once, where completeness is checked), and the rows
    set aside with their reasons."""

    scored: list[tuple[dict[str, Any], list[str], dict[str, Any]]]
    rejected: list[Rejected]
    incomplete: list[Incomplete]
    values: list[list[float]] = field(default_factory=list)  # per scored row, names' order


def _judge(
    considered: Sequence[tuple[dict[str, Any], list[str]]],
    spec: RankingSpec,
    names: Sequence[str],
    baseline_row: Mapping[str, Any] | None,
) -> _Judged:
    """Stages 2 and 3: the hard constraints on the validation split (a failure rejects, with
    every reason), then completeness (a missing measure leaves a row incomplete, never 0).

    A row that meets every constraint and has every measure is scored after one quick test
    (``constraints.passes``); only the others get their words (``constraints.findings_of``)."""
    baseline_measures = baseline_row["measures"]["validation"] if baseline_row else None
    baseline_id = baseline_row["id"] if baseline_row else None
    rules = constraint_rules.parse_constraints(spec.constraints)
    passes = constraint_rules.passes
    split, primary, required = spec.split, spec.primary_metric, spec.edge_cases_required
    words = constraint_rules.findings_of(rules, edge_cases_required=required)
    gain_of = (
        constraint_rules.gain_against(baseline_measures, baseline_id or "", primary)
        if baseline_measures is not None
        else None
    )
    judged_rows = _Judged([], [], [])
    scored, scored_values = judged_rows.scored, judged_rows.values
    for row, mixed in considered:
        kind = row.get("kind", "candidate")
        validation = row["measures"]["validation"]
        gain = gain_of(validation) if gain_of is not None and kind != "baseline" else {}
        if passes(validation, rules, kind=kind, gain=gain, edge_cases_required=required):
            # complete when every criterion's measure is there: read once, for the scores too
            get = row["measures"][split].get
            values = [get(measure, _ABSENT) for measure in names]
            if _ABSENT not in values:
                scored.append((row, mixed, gain))
                scored_values.append(values)
                continue
        _set_aside(judged_rows, (row, mixed, gain), spec, words, names, baseline_row)
    return judged_rows


def _set_aside(
    judged_rows: _Judged,
    judging: tuple[dict[str, Any], list[str], dict[str, Any]],
    spec: RankingSpec,
    words: constraint_rules.Findings,
    names: Sequence[str],
    baseline_row: Mapping[str, Any] | None,
) -> None:
    """A row ``passes`` did not clear, with its gain: rejected (with every reason), incomplete
    (with what it lacks), or scored after all."""
    row, mixed, gain = judging
    kind = row.get("kind", "candidate")
    reasons, absent = words(row["measures"]["validation"], kind, gain)
    missing = _missing(row["measures"][spec.split], names, absent, baseline_row)
    name = row.get("name", "")
    if reasons:
        judged_rows.rejected.append(
            {"id": row["id"], "name": name, "kind": kind, "reasons": reasons, "missing": missing}
        )
    elif missing:
        judged_rows.incomplete.append(
            {"id": row["id"], "name": name, "kind": kind, "missing": missing}
        )
    else:
        judged_rows.scored.append(judging)
        split_measures = row["measures"][spec.split]
        judged_rows.values.append([split_measures[m] for m in names])


def _missing(
    split_measures: Mapping[str, float],
    names: Sequence[str],
    absent: Sequence[str],
    baseline_row: Mapping[str, Any] | None,
) -> list[str]:
    """The measures a criterion or a constraint (``absent``: those of the constraints that
    could not be judged) needs that the row lacks, in words."""
    missing = [f"{m} (criterion)" for m in names if m not in split_measures]
    for name in absent:
        if name == constraint_rules.GAIN_CONSTRAINT and baseline_row is None:
            missing.append("a baseline snapshot (for min_gain_over_baseline)")
        else:
            missing.append(f"{name} (constraint)")
    return missing


@dataclass
class _Scores:
    """Stage 4's numbers, one entry per scored row (in the order of ``_Judged.scored``)."""

    values: list[list[float]]
    weights: list[float]
    prepared: list[list[float]]
    scores: list[float]
    tiebreak_of: Callable[[int], tuple[Any, ...]]  # row i's tie-break key, made when asked
    order: list[int]
    front: PendingFront  # the Pareto front of ``values``: taken last, by ``_entries``
    minmax: list[list[float]]


def _score(
    judged: _Judged,
    spec: RankingSpec,
    weights: Mapping[str, float],
    names: Sequence[str],
    directions: Sequence[str],
    primary_direction: str,
    front: PendingFront,
) -> _Scores:
    """Stage 4 (and the Pareto front of stage 5): the method's scores, best first; ties go to
    the better primary metric, then the earlier snapshot. The values go to ``front`` first:
    a helper may compute their Pareto front meanwhile."""
    scored, values = judged.scored, judged.values
    front.send(values, directions)
    weight_list = [weights[m] for m in names]
    method = METHODS[spec.method]
    prepared = method.prepare(values, directions)
    scores = _scores(spec.method, values, weight_list, directions, prepared)
    # the primary metric's value, from the criteria values when it is one of them
    at = names.index(spec.primary_metric) if spec.primary_metric in names else None
    split, primary = spec.split, spec.primary_metric

    def tiebreak_of(i: int) -> tuple[Any, ...]:
        row = scored[i][0]
        value = values[i][at] if at is not None else row["measures"][split].get(primary)
        return (_better_first(value, primary_direction), *_order_key(row))

    return _Scores(
        values=values,
        weights=weight_list,
        prepared=prepared,
        scores=scores,
        tiebreak_of=tiebreak_of,
        order=_order(scores, tiebreak_of),
        front=front,
        minmax=(prepared if method.prepare is minmax_matrix else minmax_matrix(values, directions)),
    )


def _entries(
    judged: _Judged,
    numbers: _Scores,
    spec: RankingSpec,
    names: Sequence[str],
    baseline_row: Mapping[str, Any] | None,
) -> tuple[list[RankedEntry], str | None, list[str]]:
    """Stage 5: one entry per scored row, best first, with its flags (not comparable, other
    hardware, older criteria revision); the reference hardware and the warnings they raise."""
    scored = judged.scored
    fingerprint = _reference_hardware([row for row, _, _ in scored], baseline_row)
    # Plain words, not the fingerprint (it stays in the result for programs): which machine
    # the others are compared with.
    reference_words = (
        "the baseline's"
        if baseline_row is not None and baseline_row.get("hardware_fingerprint") == fingerprint
        else "most of the others"
    )
    hardware_names = [m for m in names if is_resource_measure(m)]
    split, primary = spec.split, spec.primary_metric
    # The entries are made in the rows' order, the order the rows lie in memory, then put best
    # first and numbered: made best first, every read of a row missed the cache (71,413
    # entries at 100,000 snapshots: 0.62-0.66 s best first, 0.25 s in the rows' order).
    made: list[RankedEntry] = []
    for (row, mixed, gain), score, values, minmax in zip(
        scored, numbers.scores, numbers.values, numbers.minmax, strict=True
    ):
        measured = row["measures"]
        entry = RankedEntry(
            id=row["id"],
            name=row.get("name", ""),
            kind=row.get("kind", "candidate"),
            rank=0,  # numbered once in order, below
            score=score,
            # both made from ``names``, of its length: no check (0.02 s at 71,413 entries)
            values=dict(zip(names, values, strict=False)),
            normalised=dict(zip(names, minmax, strict=False)),
            primary=measured[split].get(primary),
            test_primary=measured["test"].get(primary),
            gain=gain,
        )
        if mixed:
            entry.mixed = True
            entry.warnings.extend(f"not comparable: {why}" for why in mixed)
        if hardware_names and fingerprint and row.get("hardware_fingerprint") != fingerprint:
            entry.hardware_flags = list(hardware_names)
            entry.warnings.append(
                f"{', '.join(hardware_names)} measured on another machine than {reference_words}"
            )
        revision = row.get("criteria_revision")
        if (
            spec.criteria_revision is not None
            and isinstance(revision, int)
            and revision != spec.criteria_revision
        ):
            entry.older_revision = True
            entry.warnings.append(
                f"judged under criteria revision {revision} (current: {spec.criteria_revision})"
            )
        made.append(entry)
    # The front last: a helper may have computed it while the entries were made.
    for entry in compress(made, numbers.front.flags()):  # one flag per row, in their order
        entry.pareto = True
    # Numbered, then counted (_entry_warnings), in the order they were made too: each entry
    # touched best first missed the cache again (0.05-0.06 s at 71,413 entries).
    positions = [0] * len(made)
    for position, i in enumerate(numbers.order, start=1):
        positions[i] = position
    for entry, position in zip(made, positions, strict=True):
        entry.rank = position
    ranked = [made[i] for i in numbers.order]
    warnings = _entry_warnings(made, ranked, hardware_names, reference_words, spec)
    return ranked, fingerprint, warnings


def _entry_warnings(
    made: Sequence[RankedEntry],
    ranked: Sequence[RankedEntry],
    hardware_names: Sequence[str],
    reference_words: str,
    spec: RankingSpec,
) -> list[str]:
    """The warnings about the ranked list as a whole (after the per-entry flags): ``ranked``
    is ``made``, the same entries, best first."""
    warnings = []
    n_hardware = sum(1 for entry in made if entry.hardware_flags)
    n_older = sum(1 for entry in made if entry.older_revision)
    if n_hardware:
        warnings.append(
            f"{n_hardware} ranked snapshot(s) were profiled on another machine than "
            f"{reference_words}: their {', '.join(hardware_names)} are not "
            "comparable"
        )
    if n_older:
        warnings.append(
            f"{n_older} ranked snapshot(s) were judged under an older criteria revision"
        )
    if any(entry.mixed for entry in made):
        warnings.append(
            "--allow-mixed: snapshots of different data sets or splits are ranked "
            "together; their scores are not comparable"
        )
    if len(ranked) >= 2 and math.isclose(ranked[0].score, ranked[1].score, abs_tol=1e-12):
        warnings.append(
            f"{ranked[0].id} and {ranked[1].id} tie on score; the better "
            f"{spec.primary_metric} (then the earlier snapshot) decides"
        )
    return warnings


def rank(
    items: Iterable[Mapping[str, Any]], spec: RankingSpec, *, sensitivity: bool = False
) -> RankingResult:
    """Rank summary rows (or snapshots) under ``spec``; nothing is read from or written to disk.

    The five stages of the module's docstring, each a function of its own: ``_comparable_rows``,
    ``_judge`` (constraints and completeness), ``_score``, then ``_entries``. From
    ``pareto.HELPER_FROM`` competing rows, the Pareto front is computed by a helper process
    while the scores and the entries are made (``core.selection.pareto``).

    The cyclic garbage collector is paused meanwhile (``core.collector``): a ranking makes
    hundreds of thousands of objects with no cycles, and a caller that holds a large folder's
    parsed snapshots (the guided TUI) had every collection walk them too.
    """
    with collector.paused():
        return _rank(items, spec, sensitivity=sensitivity)


def _rank(
    items: Iterable[Mapping[str, Any]], spec: RankingSpec, *, sensitivity: bool
) -> RankingResult:
    rows = _in_order(items)
    weights = spec.weights()
    criteria = [c for c in spec.criteria if c.metric in weights]
    names = [c.metric for c in criteria]
    directions = [c.direction for c in criteria]
    primary = spec.primary_metric
    primary_direction = next(
        (c.direction for c in criteria if c.metric == primary),
        MEASURE_DIRECTIONS.get(primary, "max"),
    )
    warnings: list[str] = []
    if spec.split == "test":
        warnings.append(
            "ranking on the test split: choosing on it makes the test estimate "
            "optimistic; keep validation for choosing"
        )
    field_ = _comparable_rows(rows, spec)
    if field_.excluded:
        warnings.append(
            f"{len(field_.excluded)} snapshot(s) excluded: other data set or split "
            "(--allow-mixed ranks them with a warning)"
        )
    baseline_row = current_baseline([row for row, mixed in field_.considered if not mixed])
    # Started before judging, so that it is ready for the values when they are (see pareto)
    front = start_helper(len(field_.considered))
    try:
        judged = _judge(field_.considered, spec, names, baseline_row)
        numbers = _score(judged, spec, weights, names, directions, primary_direction, front)
        ranked, fingerprint, more = _entries(judged, numbers, spec, names, baseline_row)
    finally:
        front.cancel()
    result = RankingResult(
        ranked=ranked,
        rejected=judged.rejected,
        incomplete=judged.incomplete,
        excluded=field_.excluded,
        warnings=warnings + more,
        weights=weights,
        directions=dict(zip(names, directions, strict=True)),
        method=spec.method,
        split=spec.split,
        primary_metric=primary,
        baseline_id=baseline_row["id"] if baseline_row else None,
        dataset_sha256=field_.dataset_ref,
        split_sha256=field_.split_ref,
        hardware_fingerprint=fingerprint,
        criteria_revision=spec.criteria_revision,
        superseded=field_.superseded,
    )
    if sensitivity:
        result.sensitivity = sensitivity_analysis(
            [row["id"] for row, _, _ in judged.scored],
            numbers.values,
            numbers.weights,
            names,
            directions,
            spec.method,
            [numbers.tiebreak_of(i) for i in range(len(numbers.scores))],
            numbers.prepared,
        )
    return result


def latest_per_name(
    considered: Sequence[tuple[dict[str, Any], list[str]]],
) -> tuple[list[tuple[dict[str, Any], list[str]]], list[Superseded]]:
    """The rows that compete: the latest snapshot (``created_at``, then id) of each model, a
    model being its kind and name. Older snapshots of the same model are history: returned as
    ``superseded`` entries naming the snapshot that replaced them, never ranked against it."""
    # model -> (its newest row's order key, that row); each row's key computed once
    latest: dict[tuple[str, str], tuple[tuple[str, str], dict[str, Any]]] = {}
    models = []
    for row, _ in considered:
        model = (str(row.get("kind", "candidate")), str(row.get("name", "")))
        models.append(model)
        order = _order_key(row)
        known = latest.get(model)
        if known is None or order > known[0]:
            latest[model] = (order, row)
    competing: list[tuple[dict[str, Any], list[str]]] = []
    superseded: list[Superseded] = []
    for (row, mixed), model in zip(considered, models, strict=True):
        newest = latest[model][1]
        if newest is row:
            competing.append((row, mixed))
        else:
            superseded.append(
                {
                    "id": row["id"],
                    "name": row.get("name", ""),
                    "kind": row.get("kind", "candidate"),
                    "by": newest["id"],
                }
            )
    return competing, superseded


def current_baseline(
    rows: Iterable[Mapping[str, Any]],
    dataset_sha256: str | None = None,
    split_sha256: str | None = None,
) -> Mapping[str, Any] | None:
    """*The* baseline: the latest baseline snapshot (``created_at``, then id) on the current
    data set and split. The one rule for the ranking, the profiler's gain and the screens.

    ``rows`` are summary rows or snapshots (``as_row`` reads both); with hashes given, rows on
    another data set or split are skipped (the ranking passes rows it already judged
    comparable)."""
    best: Mapping[str, Any] | None = None
    for item in rows:
        if item.get("kind") != "baseline":
            continue
        row = as_row(item)
        if dataset_sha256 is not None and row.get("dataset_sha256") != dataset_sha256:
            continue
        if split_sha256 is not None and row.get("split_sha256") != split_sha256:
            continue
        if best is None or _order_key(row) > _order_key(as_row(best)):
            best = item
    return best


def _reference_hardware(
    rows: Sequence[Mapping[str, Any]], baseline: Mapping[str, Any] | None
) -> str | None:
    """The baseline's hardware fingerprint, else the most common one among the scored rows."""
    if baseline is not None and baseline.get("hardware_fingerprint"):
        return str(baseline["hardware_fingerprint"])
    counts = Counter(r.get("hardware_fingerprint") for r in rows if r.get("hardware_fingerprint"))
    return counts.most_common(1)[0][0] if counts else None


def sensitivity_analysis(
    ids: Sequence[str],
    values: Sequence[Sequence[float]],
    weights: Sequence[float],
    names: Sequence[str],
    directions: Sequence[str],
    method: str,
    tiebreak: Sequence[tuple[Any, ...]],
    prepared: list[list[float]] | None = None,
) -> dict[str, Any]:
    """How stable the top pick is: each weight moved by -25, -10, +10, +25 % (one at a time,
    then renormalised); the share of these weightings where the top stays first, and who wins
    otherwise."""
    if not ids:
        return {"top": None, "n": 0, "stays_first": 0, "share": None, "cases": [], "winners": {}}
    total = math.fsum(weights)
    base = [w / total for w in weights]
    top = ids[_best(_scores(method, values, base, directions, prepared), tiebreak)]
    cases: list[dict[str, Any]] = []
    for index, name in enumerate(names):
        for change in PERTURBATIONS:
            moved = list(base)
            moved[index] *= 1 + change
            norm = math.fsum(moved)
            moved = [w / norm for w in moved]
            winner = ids[_best(_scores(method, values, moved, directions, prepared), tiebreak)]
            cases.append(
                {
                    "criterion": name,
                    "change": change,
                    "winner": winner,
                    "stays_first": winner == top,
                }
            )
    stays = sum(case["stays_first"] for case in cases)
    winners = Counter(case["winner"] for case in cases if not case["stays_first"])
    return {
        "top": top,
        "n": len(cases),
        "stays_first": stays,
        "share": stays / len(cases) if cases else None,
        "cases": cases,
        "winners": dict(winners),
    }
