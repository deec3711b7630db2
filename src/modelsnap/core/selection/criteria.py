"""criteria_revisions.toml: the locked revisions of criteria and constraints.

Criteria are locked before the first candidate is judged, so nobody can tune the yardstick after
seeing the results. Later changes are allowed only as a new recorded revision; every snapshot and
decision names the revision it was judged under. The file is append-only: a lock adds one
``[[revision]]`` and never edits an earlier one. Fast path: no pandas/sklearn imports.
"""

from __future__ import annotations

import getpass
import hashlib
import json
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from modelsnap.core.errors import CriteriaError, DataError, ModelsnapError
from modelsnap.core.files import (
    RECORD_LOG_LIMIT,
    atomic_write_bytes,
    dumps_toml,
    folder_lock,
    read_toml,
    toml_loads,
)
from modelsnap.core.measures import why_unavailable
from modelsnap.core.project.schema import ProjectConfig
from modelsnap.core.records.canonical import normalise_numbers

REVISIONS_FILE = "criteria_revisions.toml"
SCHEMA = 1


def criteria_record(config: ProjectConfig) -> dict[str, Any]:
    """What a revision locks: primary metric, criteria (directions resolved) and constraints."""
    return {
        "primary_metric": config.primary_metric,
        "criteria": [
            {"metric": c.metric, "weight": float(c.weight), "direction": c.direction}
            for c in config.criteria
        ],
        "constraints": normalise_numbers(config.constraints),
    }


def criteria_sha256(record: dict[str, Any]) -> str:
    """sha256 of the canonical JSON of (primary_metric, criteria, constraints)."""
    payload = {
        "primary_metric": record.get("primary_metric"),
        "criteria": normalise_numbers(record.get("criteria", [])),
        "constraints": normalise_numbers(record.get("constraints", {})),
    }
    text = json.dumps(payload, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def revisions(root: Path) -> list[dict[str, Any]]:
    """Every locked revision, oldest first ([] when nothing was locked yet)."""
    path = Path(root) / REVISIONS_FILE
    if not path.exists():
        return []
    try:
        doc = read_toml(path, what="criteria revisions", limit=RECORD_LOG_LIMIT)
    except ModelsnapError as exc:
        raise CriteriaError(
            exc.message,
            where=exc.where,
            hint="restore the file from version control; it is append-only",
        ) from None
    items = doc.get("revision", [])
    if not isinstance(items, list):
        items = [items]
    for number, item in enumerate(items, start=1):
        problem = _revision_problem(item)
        if problem:
            raise CriteriaError(
                f"[[revision]] #{number}: {problem}",
                where=str(path),
                hint="restore the file from version control; it is append-only",
            )
    return items


def _revision_problem(item: Any) -> str | None:
    """What makes one [[revision]] entry unusable, or None when it is well-formed."""
    if not isinstance(item, dict):
        return "expected a table"
    if not isinstance(item.get("revision"), int) or isinstance(item.get("revision"), bool):
        return "needs an integer 'revision'"
    if not isinstance(item.get("primary_metric", ""), str):
        return "'primary_metric' must be a string"
    criteria = item.get("criteria", [])
    if not isinstance(criteria, list) or not all(
        isinstance(c, dict) and isinstance(c.get("metric"), str) for c in criteria
    ):
        return "'criteria' must be an array of tables with a metric"
    if not isinstance(item.get("constraints", {}), dict):
        return "'constraints' must be a table"
    return None


def current_revision(root: Path) -> dict[str, Any] | None:
    """The latest locked revision, or None when the criteria were never locked."""
    items = revisions(root)
    return items[-1] if items else None


def _judged_measures(config: ProjectConfig) -> list[tuple[str, str]]:
    """(where, measure) for everything a revision would judge: the primary metric, each
    criterion, each limit (``min_gain_over_baseline`` reads the primary metric)."""
    items = [("[selection].primary_metric", config.primary_metric)]
    items += [(f"[[criteria]] #{n}", c.metric) for n, c in enumerate(config.criteria, start=1)]
    for key, value in config.constraints.items():
        where = f"[constraints].{key}"
        if key == "min_metric" and isinstance(value, dict):
            items += [(f"{where}.{metric}", metric) for metric in value]
        elif key == "min_gain_over_baseline":
            items.append((where, config.primary_metric))
        elif key.startswith(("max_", "min_")):
            items.append((where, key[4:]))
    return items


def unfillable(config: ProjectConfig, facts: Any = None) -> list[str]:
    """Why the criteria can never be filled by a snapshot of this project: one line per
    criterion or limit that no snapshot can have, and per unknown column or positive label.

    Without ``facts`` (``core.evaluation.data.data_facts``) only the project file is read: cheap
    enough
    for the ranking and the TUI. With them the task comes from the data when the file leaves it
    out, and the target, sensitive/drop/suspect columns and positive label are checked against
    the data file's header and target column. ``measures.why_unavailable`` is the rule.
    """
    data = config.data
    task = data.task
    n_classes = None
    problems: list[str] = []
    if facts is not None:
        columns = list(facts.columns)
        if data.target not in columns:
            problems.append(
                f"[data].target: column {data.target!r} is not in {facts.label} "
                f"(columns: {', '.join(columns)})"
            )
        for key in ("sensitive", "drop", "suspect_features"):
            unknown = [c for c in getattr(data, key) if c not in columns]
            if unknown:
                problems.append(
                    f"[data].{key}: column(s) {', '.join(map(repr, unknown))} not in {facts.label}"
                )
        if facts.task is not None:
            task = facts.task
            n_classes = len(facts.classes) if facts.classes is not None else None
    seen: set[tuple[str, str]] = set()
    for where, measure in _judged_measures(config):
        why = why_unavailable(
            measure,
            task=task,
            n_classes=n_classes,
            sensitive=bool(data.sensitive),
            edge_cases=bool(data.edge_cases),
        )
        if why and (where, measure) not in seen:
            seen.add((where, measure))
            problems.append(f"{where}: {why}")
    return problems


_UNFILLABLE_HINT = (
    "a model judged under them could never be ranked: remove those criteria or limits, or fix "
    "[data] (fairness is measured on the columns in sensitive = [...]), then lock again"
)


def check_fillable(config: ProjectConfig) -> None:
    """Raise CriteriaError (exit 2) listing every criterion, limit, column or positive label
    that no snapshot of this project can fill; reads the data's header and target column."""
    from modelsnap.core.evaluation.data import data_facts

    try:
        facts = data_facts(config)
    except DataError as exc:
        raise CriteriaError(
            f"cannot check the criteria against the data: {exc.message}",
            where=exc.where,
            hint=exc.hint or "fix [data] in modelsnap.toml, then lock again",
        ) from None
    problems = unfillable(config, facts)
    if problems:
        raise CriteriaError(
            "these criteria cannot be filled by any snapshot of this project:\n  - "
            + "\n  - ".join(problems),
            where="modelsnap.toml",
            hint=_UNFILLABLE_HINT,
        )


def lock_criteria(config: ProjectConfig, *, reason: str = "", locked_by: str | None = None) -> int:
    """Record the current criteria and constraints as a new revision and return its number.

    Locking criteria identical to the latest revision records nothing and returns that
    revision's number, so repeated locks do not inflate the history. Criteria no snapshot can
    fill (``unfillable``) are refused with a CriteriaError before anything is written.
    """
    if not config.criteria:
        raise CriteriaError(
            "there are no [[criteria]] to lock",
            where="modelsnap.toml",
            hint="add criteria (or run 'modelsnap init --profile NAME') first",
        )
    check_fillable(config)
    root = config.root
    record = criteria_record(config)
    digest = criteria_sha256(record)
    with folder_lock(root, "criteria.lock"):
        items = revisions(root)
        if items and items[-1].get("sha256") == digest:
            return int(items[-1]["revision"])
        number = (max(int(item["revision"]) for item in items) + 1) if items else 1
        entry = {
            "revision": number,
            "locked_at": datetime.now(UTC).isoformat(),
            "locked_by": locked_by or _user(),
            "reason": reason,
            **record,
            "sha256": digest,
        }
        doc = {"schema": SCHEMA, "revision": [*items, entry]}
        _write_sealed(root, number, dumps_toml(doc))
    return number


def _write_sealed(root: Path, number: int, data: bytes) -> None:
    """Replace criteria_revisions.toml with ``data`` and seal its new revision ``number`` in
    ``ledger.toml`` (the revision's canonical JSON, as read back from ``data``)."""
    from modelsnap.core.records.ledger import content_sha256, sealed_write

    written = toml_loads(data.decode("utf-8"))["revision"][-1]
    with sealed_write(root, "criteria_revision", number, content_sha256(written)):
        atomic_write_bytes(root, root / REVISIONS_FILE, data)


def _user() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return "unknown"


def changed_keys(locked: dict[str, Any], config: ProjectConfig) -> list[str]:
    """Human-readable differences between a locked revision and the project file."""
    now = criteria_record(config)
    changes: list[str] = []
    if locked.get("primary_metric") != now["primary_metric"]:
        changes.append(f"primary_metric {locked.get('primary_metric')} -> {now['primary_metric']}")
    # a revision read from the file has a string metric in each criterion (_revision_problem)
    old = {c["metric"]: c for c in locked.get("criteria", []) if isinstance(c, dict)}
    new = {c["metric"]: c for c in now["criteria"]}
    for metric in sorted(set(old) | set(new)):
        if metric not in new:
            changes.append(f"criterion {metric} removed")
        elif metric not in old:
            changes.append(f"criterion {metric} added")
        else:
            for key in ("weight", "direction"):
                if normalise_numbers(old[metric].get(key)) != new[metric][key]:
                    changes.append(
                        f"criterion {metric} {key} {old[metric].get(key)} -> {new[metric][key]}"
                    )
    old_c = normalise_numbers(locked.get("constraints", {}))
    new_c = now["constraints"]
    for key in sorted(set(old_c) | set(new_c)):
        if key not in new_c:
            changes.append(f"constraint {key} removed")
        elif key not in old_c:
            changes.append(f"constraint {key} added")
        elif old_c[key] != new_c[key]:
            changes.append(f"constraint {key} {old_c[key]} -> {new_c[key]}")
    return changes


@dataclass(frozen=True)
class CriteriaInForce:
    """What a project folder is judged under: its latest locked revision, and whether
    modelsnap.toml still says the same (``pending`` lists the edits not locked yet).

    Rankings and decisions use ``record`` (the locked revision), never the project file: an edit
    made after locking is only a what-if until it is locked as a new revision.
    """

    revision: int | None
    record: dict[str, Any] | None
    pending: tuple[str, ...] = ()

    @property
    def locked(self) -> bool:
        return self.record is not None

    def describe(self) -> str:
        """One line for people: "criteria revision 2", with what keeps it from being clean."""
        if self.record is None:
            return "criteria not locked yet"
        text = f"criteria revision {self.revision}"
        if self.pending:
            text += " (modelsnap.toml has edits not locked: " + "; ".join(self.pending) + ")"
        return text


def criteria_in_force(config: ProjectConfig) -> CriteriaInForce:
    """The latest locked revision of ``config``'s folder and the project file's pending edits.

    The one answer to "what is this folder judged under" (``modelsnap rank``, ``decide``,
    ``Project.rank``, the TUI, review and the report all ask here)."""
    locked = current_revision(config.root)
    if locked is None:
        return CriteriaInForce(None, None, ())
    pending: tuple[str, ...] = ()
    if criteria_sha256(locked) != criteria_sha256(criteria_record(config)):
        pending = tuple(changed_keys(locked, config) or ["the locked record differs"])
    return CriteriaInForce(int(locked["revision"]), locked, pending)


def ensure_locked(config: ProjectConfig) -> int:
    """Return the current revision number; raise CriteriaError when the criteria were never
    locked or the project file differs from the latest revision (a candidate must not run then)."""
    force = criteria_in_force(config)
    if force.record is None:
        raise CriteriaError(
            "criteria are not locked",
            where=str(config.root),
            hint=f"review [[criteria]] and [constraints], then run: modelsnap lock {config.root}",
        )
    if not force.pending:
        return int(force.revision or 0)
    raise CriteriaError(
        f"criteria changed since revision {force.revision}: " + "; ".join(force.pending),
        where="modelsnap.toml",
        hint=f'lock a new revision first: modelsnap lock {config.root} --reason "why"',
    )
