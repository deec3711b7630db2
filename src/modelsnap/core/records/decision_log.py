"""Reading the decision log and checking its chain: ``decisions.toml`` as it is on disk.

The read-only half of the log (``decisions`` appends). Each entry stores the sha256 of its own
canonical JSON and the sha256 of the entry before it; ``check_chain`` names the first entry that
was edited, removed, inserted or reordered, and ``verify_chain`` adds the local head's check of
the last entry (``.modelsnap/decisions.head``). The ledger reads the log through this module.

Fast path: standard library and modelsnap.core only.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from modelsnap.core.errors import IntegrityError, ModelsnapError
from modelsnap.core.files import (
    RECORD_LOG_LIMIT,
    STATE_DIR,
    loads_json_state,
    parse_toml,
    read_regular,
)
from modelsnap.core.records.canonical import canonical_json

DECISIONS_FILE = "decisions.toml"
HEAD_FILE = "decisions.head"


def entry_hash(entry: Mapping[str, Any]) -> str:
    """sha256 of the entry's canonical JSON without its own ``sha256`` key."""
    body = {key: value for key, value in entry.items() if key != "sha256"}
    return hashlib.sha256(canonical_json(body)).hexdigest()


def decisions_path(root: Path) -> Path:
    return Path(root) / DECISIONS_FILE


def parse_decisions(text: str, *, where: str = DECISIONS_FILE) -> list[dict[str, Any]]:
    """The ``[[decision]]`` entries of a decisions.toml text; ``IntegrityError`` when malformed.

    Only the shape is checked here (a table per entry); the chain is ``check_chain``'s job.
    """
    try:
        data = parse_toml(text, what="the decision log", where=where, error=IntegrityError)
    except IntegrityError as exc:
        raise IntegrityError(
            exc.message, where=where, hint="restore the file from version control"
        ) from None
    schema = data.get("schema", 1)
    if schema != 1:
        raise IntegrityError(f"unsupported schema {schema!r} (expected 1)", where=where)
    entries = data.get("decision", [])
    if not isinstance(entries, list) or not all(isinstance(e, dict) for e in entries):
        raise IntegrityError(
            "'decision' must be an array of tables ([[decision]])",
            where=where,
            hint="restore the file from version control",
        )
    return entries


def read_decisions(root: Path) -> list[dict[str, Any]]:
    """All entries, oldest first ([] when there is no decisions.toml yet)."""
    path = decisions_path(root)
    try:
        raw = read_regular(
            path, what="the decision log", limit=RECORD_LOG_LIMIT, error=IntegrityError
        )
    except FileNotFoundError:
        return []
    except OSError as exc:
        raise IntegrityError(f"cannot read: {exc.strerror}", where=str(path)) from None
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise IntegrityError("not UTF-8 text", where=str(path)) from None
    return parse_decisions(text, where=str(path))


def _label(entry: Mapping[str, Any], position: int) -> str:
    ident = entry.get("id")
    return f"decision {ident} (entry {position})" if isinstance(ident, str) else f"entry {position}"


def check_chain(entries: list[dict[str, Any]]) -> list[str]:
    """Problems of the first broken entry (empty when the chain holds).

    Checks, per entry in file order: its id is the next in sequence (D0001, D0002, ...), its
    ``sha256`` matches its content, and its ``previous_sha256`` is the previous entry's sha256.
    """
    previous = ""
    for position, entry in enumerate(entries, start=1):
        label = _label(entry, position)
        problems = []
        expected_id = f"D{position:04d}"
        if entry.get("id") != expected_id:
            problems.append(
                f"{label}: expected id {expected_id} here; an entry before it was "
                "removed, inserted or the entries were reordered"
            )
        if entry.get("sha256") != entry_hash(entry):
            problems.append(
                f"{label} was edited after it was written: its sha256 does not match its content"
            )
        if entry.get("previous_sha256") != previous:
            problems.append(
                f"{label} does not follow the entry before it (previous_sha256 "
                "differs): an entry was removed, inserted or reordered"
            )
        if problems:
            return problems
        previous = str(entry.get("sha256"))
    return []


def head_path(root: Path) -> Path:
    return Path(root) / STATE_DIR / HEAD_FILE


def _read_head(root: Path) -> dict[str, Any] | None:
    try:
        head = loads_json_state(read_regular(head_path(root), limit=1 << 16))
    except (OSError, ModelsnapError):
        return None
    if (
        isinstance(head, dict)
        and isinstance(head.get("count"), int)
        and isinstance(head.get("sha256"), str)
    ):
        return head
    return None


def verify_chain(root: Path) -> list[str]:
    """What is wrong with decisions.toml, naming the first broken entry; [] when intact.

    Never raises for a bad file: an unreadable or malformed log is itself the problem reported.
    """
    try:
        entries = read_decisions(root)
    except ModelsnapError as error:
        return [str(error)]
    problems = [f"{DECISIONS_FILE}: {p}" for p in check_chain(entries)]
    if problems:
        return problems
    head = _read_head(root)
    if head is not None:
        if head["count"] > len(entries):
            missing = head["count"] - len(entries)
            problems.append(
                f"{DECISIONS_FILE}: the last {missing} entr"
                f"{'y was' if missing == 1 else 'ies were'} removed (modelsnap "
                f"recorded {head['count']} decisions)"
            )
        elif (
            head["count"] == len(entries)
            and entries
            and entries[-1].get("sha256") != head["sha256"]
        ):
            problems.append(
                f"{DECISIONS_FILE}: {_label(entries[-1], len(entries))} was replaced "
                "after it was written (it differs from the recorded head)"
            )
    return problems
