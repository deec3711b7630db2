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
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from modelsnap.core.errors import CriteriaError, ModelsnapError
from modelsnap.core.files import (
    RECORD_LOG_LIMIT,
    atomic_write_bytes,
    dumps_toml,
    folder_lock,
    read_toml,
)
from modelsnap.core.project import ProjectConfig

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
        "constraints": _normalise(config.constraints),
    }


def _normalise(value: Any) -> Any:
    """Numbers as floats so that ``weight = 1`` and ``weight = 1.0`` lock the same revision."""
    if isinstance(value, dict):
        return {key: _normalise(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_normalise(item) for item in value]
    if isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    return value


def criteria_sha256(record: dict[str, Any]) -> str:
    """sha256 of the canonical JSON of (primary_metric, criteria, constraints)."""
    payload = {
        "primary_metric": record.get("primary_metric"),
        "criteria": _normalise(record.get("criteria", [])),
        "constraints": _normalise(record.get("constraints", {})),
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


def lock_criteria(config: ProjectConfig, *, reason: str = "", locked_by: str | None = None) -> int:
    """Record the current criteria and constraints as a new revision and return its number.

    Locking criteria identical to the latest revision records nothing and returns that
    revision's number, so repeated locks do not inflate the history.
    """
    if not config.criteria:
        raise CriteriaError(
            "there are no [[criteria]] to lock",
            where="modelsnap.toml",
            hint="add criteria (or run 'modelsnap init --profile NAME') first",
        )
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
        atomic_write_bytes(root, root / REVISIONS_FILE, dumps_toml(doc))
    return number


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
    old = {c.get("metric"): c for c in locked.get("criteria", []) if isinstance(c, dict)}
    new = {c["metric"]: c for c in now["criteria"]}
    for metric in sorted(set(old) | set(new)):
        if metric not in new:
            changes.append(f"criterion {metric} removed")
        elif metric not in old:
            changes.append(f"criterion {metric} added")
        else:
            for key in ("weight", "direction"):
                if _normalise(old[metric].get(key)) != new[metric][key]:
                    changes.append(
                        f"criterion {metric} {key} {old[metric].get(key)} -> {new[metric][key]}"
                    )
    old_c = _normalise(locked.get("constraints", {}))
    new_c = now["constraints"]
    for key in sorted(set(old_c) | set(new_c)):
        if key not in new_c:
            changes.append(f"constraint {key} removed")
        elif key not in old_c:
            changes.append(f"constraint {key} added")
        elif old_c[key] != new_c[key]:
            changes.append(f"constraint {key} {old_c[key]} -> {new_c[key]}")
    return changes


def ensure_locked(config: ProjectConfig) -> int:
    """Return the current revision number; raise CriteriaError when the criteria were never
    locked or the project file differs from the latest revision (a candidate must not run then)."""
    locked = current_revision(config.root)
    if locked is None:
        raise CriteriaError(
            "criteria are not locked",
            where=str(config.root),
            hint=f"review [[criteria]] and [constraints], then run: modelsnap lock {config.root}",
        )
    number = int(locked["revision"])
    if criteria_sha256(locked) == criteria_sha256(criteria_record(config)):
        return number
    changes = changed_keys(locked, config) or ["the locked record differs"]
    raise CriteriaError(
        f"criteria changed since revision {number}: " + "; ".join(changes),
        where="modelsnap.toml",
        hint=f'lock a new revision first: modelsnap lock {config.root} --reason "why"',
    )
