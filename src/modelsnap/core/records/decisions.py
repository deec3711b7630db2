"""Appending to the decision log: ``decisions.toml``, append-only and sha256-chained.

Six months later a reviewer must see which model was chosen, by whom, under which criteria and
ranking, and why, and must be able to tell whether anyone rewrote that history. So each entry
stores the sha256 of its own canonical JSON and the sha256 of the entry before it; editing,
removing, inserting or reordering an entry breaks the chain at that entry, and
``decision_log.verify_chain`` (the reading half) names it. Cutting entries off the *end* leaves a
valid chain; every decision is also sealed in ``ledger.toml`` (core/records/ledger.py), which
names a removed last entry from the repository alone.
The head (count + last hash) in ``.modelsnap/decisions.head`` is an extra local check.

Appending rewrites the file atomically under a folder lock, keeping the earlier entries' bytes
exactly as they were (the new entry's TOML is appended to them).

Fast path: standard library, ``tomli_w`` and modelsnap.core only.
"""

from __future__ import annotations

import datetime as dt
import getpass
import os
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import tomli_w

from modelsnap.core.errors import DecisionError, IntegrityError
from modelsnap.core.files import (
    RECORD_LOG_LIMIT,
    atomic_write_bytes,
    folder_lock,
    read_regular,
)
from modelsnap.core.ranking_methods import METHODS
from modelsnap.core.records import ledger
from modelsnap.core.records.canonical import canonical_json, normalise_numbers
from modelsnap.core.records.decision_log import (
    check_chain,
    decisions_path,
    entry_hash,
    head_path,
    parse_decisions,
)

LOCK_NAME = "decisions.lock"
# The method's name as decisions.toml records it (the ranking-methods registry keeps it stable).
METHOD_NAMES = {name: method.recorded_as for name, method in METHODS.items()}


def default_user() -> str:
    """Who decides: ``$MODELSNAP_USER``, else the login name (``--by`` overrides both)."""
    name = os.environ.get("MODELSNAP_USER", "").strip()
    if name:
        return name
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return "unknown"


def _ranking_record(result: Any) -> dict[str, Any]:
    return {
        "ranking": [{"id": e.id, "score": e.score, "rank": e.rank} for e in result.ranked],
        "rejected": [{"id": r["id"], "reasons": list(r["reasons"])} for r in result.rejected],
        "incomplete": [{"id": r["id"], "missing": list(r["missing"])} for r in result.incomplete],
        "excluded": [{"id": r["id"], "reasons": list(r["reasons"])} for r in result.excluded],
        **(
            {"superseded": [{"id": r["id"], "by": r["by"]} for r in result.superseded]}
            if getattr(result, "superseded", None)
            else {}
        ),
    }


def _text(value: str | None) -> str:
    return (value or "").strip()


RATIONALE_MIN_CHARS = 20


def check_rationale(rationale: str | None) -> str:
    """The rationale, stripped; ``DecisionError`` unless it is a real sentence: at least
    ``RATIONALE_MIN_CHARS`` characters and more than one word (docs/ranking.md)."""
    text = _text(rationale)
    hint = "say why this model, in a sentence a reviewer can check"
    if not text:
        raise DecisionError("a decision needs a rationale", where="rationale", hint=hint)
    if len(text) < RATIONALE_MIN_CHARS or len(text.split()) < 2:
        raise DecisionError(
            f"the rationale is too short ({len(text)} characters, {len(text.split())} "
            f"word{'s' if len(text.split()) != 1 else ''}): write at least "
            f"{RATIONALE_MIN_CHARS} characters and more than one word",
            where="rationale",
            hint=hint,
        )
    return text


def normalised_weights(criteria: Iterable[Mapping[str, Any]]) -> dict[str, float]:
    """A revision's criteria weights as the ranking uses them: shares of their sum, zero-weight
    criteria dropped (what a decision records as ``weights``)."""
    weights = {str(c.get("metric")): float(c.get("weight") or 0.0) for c in criteria}
    top = max(weights.values(), default=0.0)
    if top <= 0:
        return {}
    total = sum(w / top for w in weights.values())
    return {metric: (w / top) / total for metric, w in weights.items() if w > 0}


def revision_mismatch(entry: Mapping[str, Any], revision: Mapping[str, Any]) -> list[str]:
    """How a decision's recorded weights and limits differ from those of the revision it names
    ([] when they agree). Decisions written before limits were recorded are checked on their
    weights only."""
    problems = []
    recorded = entry.get("weights")
    expected = normalised_weights(c for c in revision.get("criteria", []) if isinstance(c, dict))
    if (
        not isinstance(recorded, dict)
        or set(recorded) != set(expected)
        or any(
            not isinstance(recorded[m], int | float)
            or abs(float(recorded[m]) - expected[m]) > 1e-9 * max(1.0, abs(expected[m]))
            for m in expected
        )
    ):
        problems.append(
            f"its weights {recorded!r} are not those of criteria revision "
            f"{revision.get('revision')} {expected!r}"
        )
    if "constraints" in entry and normalise_numbers(entry.get("constraints")) != normalise_numbers(
        revision.get("constraints", {})
    ):
        problems.append(
            f"its limits {entry.get('constraints')!r} are not those of criteria "
            f"revision {revision.get('revision')} "
            f"{revision.get('constraints', {})!r}"
        )
    if "criteria_sha256" in entry and entry["criteria_sha256"] != revision.get("sha256"):
        problems.append(f"its criteria_sha256 is not that of revision {revision.get('revision')}")
    return problems


def append_decision(
    root: Path,
    *,
    snapshot_id: str,
    rationale: str,
    ranking: Any,
    criteria_revision: int | None = None,
    criteria: Mapping[str, Any] | None = None,
    caveats: Iterable[str] = (),
    monitoring: str = "",
    decided_by: str | None = None,
    override: str | None = None,
    now: dt.datetime | None = None,
) -> dict[str, Any]:
    """Append one decision for ``snapshot_id`` and return the entry written.

    ``ranking`` is the ``RankingResult`` the decision was made on (recorded as it stood);
    ``criteria`` the locked revision it was ranked under (its number, limits and sha256 are
    recorded; ``criteria_revision`` alone is accepted for callers that only know the number).
    Use ``core.selection.context.decide``, which ranks under the locked revision first.
    Refused with ``DecisionError``: a rationale that is not a sentence; an id the ranking does
    not know; a
    snapshot that was not ranked (rejected, incomplete or excluded) unless ``override`` gives
    its own justification, which is recorded. Refused with ``IntegrityError`` when the existing
    chain is broken: a new entry must not seal an edited history.
    """
    rationale = check_rationale(rationale)
    status = ranking.status(snapshot_id)
    if status is None:
        raise DecisionError(
            f"unknown snapshot {snapshot_id!r}", hint="pick an id shown by 'modelsnap rank'"
        )
    override = _text(override)
    if status != "ranked" and not override:
        details = next(
            (
                r.get("reasons") or r.get("missing") or []
                for r in getattr(ranking, status)
                if r["id"] == snapshot_id
            ),
            [],
        )
        raise DecisionError(
            f"snapshot {snapshot_id} was {status}" + (f": {'; '.join(details)}" if details else ""),
            hint="choose a ranked snapshot, or give an override with its own justification",
        )
    entry: dict[str, Any] = {
        "decided_at": (now or dt.datetime.now(dt.UTC)).isoformat(timespec="seconds"),
        "decided_by": _text(decided_by) or default_user(),
        "snapshot_id": snapshot_id,
        "status": status,
        "weights": dict(ranking.weights),
        "method": METHOD_NAMES.get(ranking.method, ranking.method),
        "split": ranking.split,
        "primary_metric": ranking.primary_metric,
        "rationale": rationale,
        "caveats": [c for c in (_text(c) for c in caveats) if c],
        "monitoring": _text(monitoring),
    }
    if criteria is not None:
        criteria_revision = criteria.get("revision")
        entry["constraints"] = dict(criteria.get("constraints", {}))
        entry["criteria_sha256"] = str(criteria.get("sha256", ""))
    if criteria_revision is not None:
        entry["criteria_revision"] = int(criteria_revision)
    if override:
        entry["override"] = override
    entry.update(_ranking_record(ranking))
    root = Path(root)
    path = decisions_path(root)
    with folder_lock(root, LOCK_NAME), ledger.sealing(root) as sealer:
        try:
            old = read_regular(
                path, what="the decision log", limit=RECORD_LOG_LIMIT, error=IntegrityError
            )
        except FileNotFoundError:
            old = b""
        except OSError as exc:
            raise IntegrityError(f"cannot read: {exc.strerror}", where=str(path)) from None
        entries = parse_decisions(old.decode("utf-8"), where=str(path)) if old else []
        broken = check_chain(entries)
        if broken:
            raise IntegrityError(
                f"the decision log is broken: {broken[0]}",
                where=str(path),
                hint="restore decisions.toml from version control first",
            )
        sealer.refuse_unless_verified()
        entry = {
            "id": f"D{len(entries) + 1:04d}",
            **entry,
            **_snapshot_reference(root, snapshot_id),
            "previous_sha256": str(entries[-1]["sha256"]) if entries else "",
        }
        entry["sha256"] = entry_hash(entry)
        prefix = old if old else b"schema = 1\n"
        if not prefix.endswith(b"\n"):
            prefix += b"\n"
        data = prefix + b"\n" + tomli_w.dumps({"decision": [entry]}).encode("utf-8")
        written = parse_decisions(data.decode("utf-8"), where=str(path))
        if check_chain(written) or written[-1] != entry:
            raise IntegrityError(
                "the new entry did not read back identically; nothing written", where=str(path)
            )
        sealer.intend("decision", entry["id"], entry["sha256"])
        atomic_write_bytes(root, path, data)
        sealer.seal()
        head = {"count": len(written), "sha256": entry["sha256"]}
        atomic_write_bytes(root, head_path(root), canonical_json(head))
    return entry


def _snapshot_reference(root: Path, snapshot_id: str) -> dict[str, str]:
    """``snapshot_sha256``: the chosen snapshot file's sha256 as it was decided on (its seal
    and this must agree; ``check`` compares the file with both). Empty when there is no file
    (a ranking built in memory)."""
    from modelsnap.core.files import safe_name, sha256_file

    path = Path(root) / "snapshots" / f"{safe_name(snapshot_id, what='snapshot id')}.toml"
    try:
        return {"snapshot_sha256": sha256_file(path)} if path.is_file() else {}
    except OSError:
        return {}
