"""The record ledger: ``ledger.toml``, one sha256-chained seal per record, in the project folder.

Every record modelsnap writes (a snapshot, edge-run or monitoring file, a criteria revision,
a decision) is sealed when it is written: one ``[[seal]]`` entry naming the record and the sha256
of its content, chained like the decision log (canonical JSON, the entry's own ``sha256``, the
``previous_sha256`` of the entry before it, a sequence number). ``verify`` then names every
record that was edited, swapped, deleted, forged (present but never sealed) or reordered, and a
truncated decision log or criteria file, from the repository alone: the ledger lives beside the
records, not in the git-ignored ``.modelsnap/``.

Crash safety. A record and its seal are written under one folder lock
(``.modelsnap/ledger.lock``), in this order: an intent marker (``.modelsnap/ledger.pending``,
naming the record and its hash), the record, the seal, then the marker is removed. A kill between
the record and its seal leaves the marker, so ``verify`` reports that record as an interrupted
write (information, not tampering), and the next sealed write, or ``modelsnap seal``, seals it
(``_finish_interrupted``) if it is still exactly what was being written.

What the chain cannot do: someone who rewrites every record *and* the whole ledger consistently
leaves a valid chain. The remedy is outside the folder: commit it to version control and, if
wanted, record ``head()`` (the last seal's sha256, printed by ``modelsnap check``) in the commit
message (docs/reliability.md).

Fast path: standard library, ``tomli_w`` and modelsnap.core's fast modules only.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import hashlib
import json
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeGuard

import tomli_w

from modelsnap.core.errors import IntegrityError, ModelsnapError
from modelsnap.core.files import (
    STATE_DIR,
    TOMLDecodeError,
    atomic_write_bytes,
    create_exclusive_bytes,
    folder_lock,
    is_tmp_name,
    sha256_file,
    toml_loads,
)
from modelsnap.core.records.canonical import canonical_json

LEDGER_FILE = "ledger.toml"
LOCK_NAME = "ledger.lock"
PENDING_FILE = "ledger.pending"
SCHEMA = 1
# record kind -> the key naming the record in its seal
KINDS: dict[str, str] = {
    "criteria_revision": "revision",
    "snapshot": "path",
    "edge_run": "path",
    "decision": "id",
    "monitoring": "path",
}
FILE_FOLDERS = {"snapshot": "snapshots", "edge_run": "edge_runs", "monitoring": "monitoring"}
_HEADER = f"schema = {SCHEMA}\n".encode()
_BLOCK = b"\n[[seal]]\n"
SEAL_HINT = "run 'modelsnap seal DIR' to seal them as they are"


@dataclass(frozen=True)
class Finding:
    """One thing ``verify`` found: ``level`` is "error" (the record cannot be trusted as it is)
    or "info" (an interrupted write, not tampering); ``unsealed`` marks a record that is present
    but was never sealed (what ``modelsnap seal`` may adopt)."""

    where: str
    message: str
    level: str = "error"
    unsealed: bool = False


def entry_hash(entry: dict[str, Any]) -> str:
    body = {key: value for key, value in entry.items() if key != "sha256"}
    return hashlib.sha256(canonical_json(body)).hexdigest()


def content_sha256(entry: dict[str, Any]) -> str:
    """The sealed hash of a table record (a criteria revision): sha256 of its canonical JSON,
    every key included. A decision is sealed with its own ``sha256`` (the same computation
    without that key, as ``decision_log.entry_hash``)."""
    return hashlib.sha256(canonical_json(entry)).hexdigest()


def ledger_path(root: Path) -> Path:
    return Path(root) / LEDGER_FILE


def _pending_path(root: Path) -> Path:
    return Path(root) / STATE_DIR / PENDING_FILE


def describe(kind: Any, ref: Any) -> str:
    """How a record is named in findings: its path, ``decision D0002``, ``criteria revision 3``."""
    if kind == "decision":
        return f"decision {ref}"
    if kind == "criteria_revision":
        return f"criteria revision {ref}"
    return str(ref)


def _where(kind: str, ref: Any) -> str:
    if kind == "decision":
        return "decisions.toml"
    if kind == "criteria_revision":
        return "criteria_revisions.toml"
    return str(ref)


def _known(kind: Any) -> TypeGuard[str]:
    """A record kind modelsnap seals (any other value, of any type, is not)."""
    return isinstance(kind, str) and kind in KINDS


def _check_ref(kind: Any, ref: Any) -> Any:
    if not _known(kind):
        raise IntegrityError(f"unknown record kind {kind!r}", where=LEDGER_FILE)
    if kind == "criteria_revision":
        if not isinstance(ref, int) or isinstance(ref, bool):
            raise IntegrityError(f"a criteria revision is sealed by number, not {ref!r}")
    elif not isinstance(ref, str) or not ref:
        raise IntegrityError(f"a {kind} is sealed by a non-empty name, not {ref!r}")
    return ref


# ---------------------------------------------------------------------------------------------
# Reading the ledger


def parse_ledger(text: str) -> list[dict[str, Any]]:
    """The ``[[seal]]`` entries of a ledger text; IntegrityError when it is not a ledger."""
    try:
        data = toml_loads(text)
    except (TOMLDecodeError, RecursionError) as exc:
        raise IntegrityError(
            f"not valid TOML ({str(exc)[:200]})",
            where=LEDGER_FILE,
            hint="restore ledger.toml from version control",
        ) from None
    if data.get("schema", SCHEMA) != SCHEMA:
        raise IntegrityError(
            f"unsupported schema {data.get('schema')!r} (expected {SCHEMA})", where=LEDGER_FILE
        )
    entries = data.get("seal", [])
    if not isinstance(entries, list) or not all(isinstance(e, dict) for e in entries):
        raise IntegrityError(
            "'seal' must be an array of tables ([[seal]])",
            where=LEDGER_FILE,
            hint="restore ledger.toml from version control",
        )
    return entries


def read_ledger(root: Path) -> list[dict[str, Any]] | None:
    """Every seal, oldest first; None when the folder has no ledger yet."""
    path = ledger_path(root)
    try:
        raw = _read_regular(path)
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise IntegrityError(f"cannot read: {exc.strerror}", where=LEDGER_FILE) from None
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise IntegrityError(
            "not UTF-8 text", where=LEDGER_FILE, hint="restore ledger.toml from version control"
        ) from None
    return parse_ledger(text)


def _read_regular(path: Path) -> bytes:
    """The bytes of ``path`` if it is a regular file (a FIFO or device named ledger.toml
    would block or never end: refused instead)."""
    import stat

    if not stat.S_ISREG(path.stat().st_mode):
        raise IntegrityError(
            "not a regular file",
            where=LEDGER_FILE,
            hint="replace it with the ledger.toml from version control",
        )
    return path.read_bytes()


def head(root: Path) -> str | None:
    """The sha256 of the last seal (what to quote in a commit message), None without a ledger."""
    try:
        entries = read_ledger(root)
    except ModelsnapError:
        return None
    return _head_of(entries)


def _tail(raw: bytes) -> dict[str, Any] | None:
    """The last entry of a ledger's bytes, parsed alone (appending must not cost a parse of
    every seal at 10,000 records). None for a ledger without entries."""
    start = raw.rfind(_BLOCK)
    if start < 0:
        if parse_ledger(raw.decode("utf-8")):
            raise IntegrityError(
                "the ledger's entries are not in the format modelsnap writes",
                where=LEDGER_FILE,
                hint="restore ledger.toml from version control",
            )
        return None
    try:
        entries = parse_ledger(raw[start:].decode("utf-8"))
    except UnicodeDecodeError:
        raise IntegrityError("not UTF-8 text", where=LEDGER_FILE) from None
    if len(entries) != 1:
        raise IntegrityError(
            "the ledger's last entry cannot be read",
            where=LEDGER_FILE,
            hint="restore ledger.toml from version control",
        )
    return entries[0]


# ---------------------------------------------------------------------------------------------
# The records present in the folder, and their hashes


def _file_records(root: Path, kind: str) -> dict[str, Path]:
    folder = FILE_FOLDERS[kind]
    directory = Path(root) / folder
    found: dict[str, Path] = {}
    if not directory.is_dir():
        return found
    for entry in sorted(directory.iterdir(), key=lambda p: p.name):
        if (
            entry.suffix == ".toml"
            and not entry.name.startswith(".")
            and not is_tmp_name(entry.name)
            and entry.is_file()
        ):
            found[f"{folder}/{entry.name}"] = entry
    return found


def _decision_records(root: Path) -> dict[str, dict[str, Any]]:
    from modelsnap.core.records.decision_log import read_decisions

    records: dict[str, dict[str, Any]] = {}
    for position, entry in enumerate(read_decisions(root), start=1):
        ident = entry.get("id")
        records[ident if isinstance(ident, str) else f"entry {position}"] = entry
    return records


def _revision_records(root: Path) -> dict[int, dict[str, Any]]:
    from modelsnap.core.files import read_toml

    path = Path(root) / "criteria_revisions.toml"
    if not path.exists():
        return {}
    try:
        items = read_toml(path, what="criteria revisions").get("revision", [])
    except RecursionError:
        raise IntegrityError("nested too deeply to read", where=str(path)) from None
    if not isinstance(items, list):
        items = [items]
    records: dict[int, dict[str, Any]] = {}
    for position, item in enumerate(items, start=1):
        number = item.get("revision") if isinstance(item, dict) else None
        if not isinstance(number, int) or isinstance(number, bool):
            number = -position
        records[number] = item if isinstance(item, dict) else {"value": item}
    return records


class _Present:
    """The records in the folder now, hashed lazily, with what could not be read."""

    def __init__(self, root: Path) -> None:
        from modelsnap.core.records.decision_log import entry_hash as decision_hash

        self.root = Path(root)
        self.problems: list[Finding] = []
        self.files = {kind: _file_records(root, kind) for kind in FILE_FOLDERS}
        self.decisions: dict[str, dict[str, Any]] | None
        self.revisions: dict[int, dict[str, Any]] | None
        try:
            self.decisions = _decision_records(root)
        except ModelsnapError as exc:
            self.decisions = None
            self.problems.append(
                Finding(
                    "decisions.toml",
                    f"cannot be read, so its sealed decisions cannot be verified: {exc.message}",
                )
            )
        try:
            self.revisions = _revision_records(root)
        except ModelsnapError as exc:
            self.revisions = None
            self.problems.append(
                Finding(
                    "criteria_revisions.toml",
                    f"cannot be read, so its sealed revisions cannot be verified: {exc.message}",
                )
            )
        self._decision_hash = decision_hash

    def record_keys(self) -> list[tuple[str, Any]]:
        keys: list[tuple[str, Any]] = [("criteria_revision", n) for n in (self.revisions or {})]
        for kind in FILE_FOLDERS:
            keys += [(kind, name) for name in self.files[kind]]
        keys += [("decision", ident) for ident in (self.decisions or {})]
        return keys

    def readable(self, kind: str) -> bool:
        if kind == "decision":
            return self.decisions is not None
        if kind == "criteria_revision":
            return self.revisions is not None
        return True

    def sha256(self, kind: str, ref: Any) -> str | None:
        """The record's current content hash; None when it is not there."""
        if kind in FILE_FOLDERS:
            path = self.files[kind].get(ref) if isinstance(ref, str) else None
            if path is None:
                return None
            try:
                return sha256_file(path)
            except OSError:
                return None
        if kind == "decision":
            entry = (self.decisions or {}).get(ref)
            return None if entry is None else self._decision_hash(entry)
        item = (self.revisions or {}).get(ref)
        return None if item is None else content_sha256(item)


# ---------------------------------------------------------------------------------------------
# Verification


def _read_pending(root: Path) -> dict[str, Any] | None:
    try:
        pending = json.loads(_pending_path(root).read_text("utf-8"))
    except (OSError, ValueError):
        return None
    if not isinstance(pending, dict) or not isinstance(pending.get("sha256"), str):
        return None
    try:
        _check_ref(pending.get("kind"), pending.get("ref"))
    except IntegrityError:
        return None
    return pending


def _pid_alive(pid: Any) -> bool:
    from modelsnap.core.files import _pid_alive as alive

    return isinstance(pid, int) and not isinstance(pid, bool) and pid > 0 and alive(pid)


def _chain_findings(entries: list[dict[str, Any]]) -> list[Finding]:
    """Every entry whose link is broken (edited, removed before it, inserted, reordered)."""
    findings = []
    previous_sha, previous_seq = "", 0
    for position, entry in enumerate(entries, start=1):
        kind = entry.get("kind")
        ref = entry.get(KINDS.get(kind, "path")) if isinstance(kind, str) else None
        label = f"seal {entry.get('seq', position)} ({describe(kind, ref)})"
        problems = []
        if not _known(kind):
            problems.append(f"unknown record kind {kind!r}")
        if entry.get("sha256") != entry_hash(entry):
            problems.append(
                "was edited after it was written (its sha256 does not match its content)"
            )
        seq = entry.get("seq")
        if seq != previous_seq + 1:
            problems.append(
                f"has sequence number {seq!r}, expected {previous_seq + 1}: a seal "
                "was removed, inserted or the seals were reordered"
            )
        if entry.get("previous_sha256") != previous_sha:
            problems.append(
                "does not follow the seal before it (previous_sha256 differs): a "
                "seal was removed, inserted or the seals were reordered"
            )
        if problems:
            findings.append(Finding(LEDGER_FILE, f"{label} {'; '.join(problems)}"))
        previous_sha = str(entry.get("sha256"))
        previous_seq = (
            seq if isinstance(seq, int) and not isinstance(seq, bool) else previous_seq + 1
        )
    return findings


def verify(root: Path) -> list[Finding]:
    """What is wrong with the folder's records against their seals; [] when all hold (see
    ``verify_with_head``)."""
    return verify_with_head(root)[0]


def verify_with_head(root: Path) -> tuple[list[Finding], str | None]:
    """``verify``'s findings, and the head of the ledger it verified (``head``'s answer, from
    the same read: ``check`` prints it, and a second parse of the ledger cost 2.2 s at
    100,000 records).

    Never raises for a bad file. Errors: a broken seal chain (each broken seal named with its
    record), a sealed record that is gone or whose content changed, a record present but never
    sealed, a decision whose snapshot changed since it was made, and, in a folder sealed by
    nothing yet, one finding saying its records are not sealed. Information: the record of an
    interrupted write (sealed by the next write).
    """
    root = Path(root)
    present = _Present(root)
    findings: list[Finding] = list(present.problems)
    try:
        entries = read_ledger(root)
    except ModelsnapError as exc:
        return [*findings, Finding(LEDGER_FILE, f"{exc.message}: no record can be verified")], None
    return _verified(root, present, findings, entries), _head_of(entries)


def _head_of(entries: list[dict[str, Any]] | None) -> str | None:
    """The sha256 of the last seal; None without one."""
    value = entries[-1].get("sha256") if entries else None
    return value if isinstance(value, str) else None


def _verified(
    root: Path, present: _Present, findings: list[Finding], entries: list[dict[str, Any]] | None
) -> list[Finding]:
    """``findings`` and what the records present say against the seals ``entries`` (None:
    no ledger yet)."""
    pending = _read_pending(root)
    sealed = _sealed_map(entries or [])
    unsealed = [key for key in present.record_keys() if key not in sealed]
    if pending is not None:
        key = (pending["kind"], pending.get("ref"))
        if key in unsealed and present.sha256(*key) == pending["sha256"]:
            unsealed.remove(key)
            state = (
                "is being written now"
                if _pid_alive(pending.get("pid"))
                else "was interrupted before its seal"
            )
            findings.append(
                Finding(
                    _where(*key),
                    f"{describe(*key)} {state}; the next write "
                    "seals it (or run 'modelsnap seal DIR')",
                    level="info",
                )
            )
    if entries is None:
        if unsealed:
            findings.append(
                Finding(
                    LEDGER_FILE,
                    f"records not sealed: {len(unsealed)} record(s) "
                    f"made before sealing; {SEAL_HINT}",
                    unsealed=True,
                )
            )
        return findings
    findings += _chain_findings(entries)
    for (kind, ref), sha_values in sealed.items():
        if not present.readable(kind):
            continue
        name = describe(kind, ref)
        if len(set(sha_values)) > 1:
            findings.append(
                Finding(
                    _where(kind, ref),
                    f"{name} was sealed twice with different content: a record is never rewritten",
                )
            )
        current = present.sha256(kind, ref)
        if current is None:
            what = {
                "decision": "removed from decisions.toml (the log was truncated or edited)",
                "criteria_revision": "removed from criteria_revisions.toml",
            }.get(kind, "deleted after it was sealed")
            findings.append(Finding(_where(kind, ref), f"{name} was {what}"))
        elif current != sha_values[0]:
            findings.append(
                Finding(
                    _where(kind, ref),
                    f"{name} was edited or replaced after it "
                    f"was sealed (sealed {sha_values[0][:12]}..., now "
                    f"{current[:12]}...)",
                )
            )
    for kind, ref in unsealed:
        findings.append(
            Finding(
                _where(kind, ref),
                f"{describe(kind, ref)} is present but was "
                "never sealed: forged, or added by hand (if you trust it, "
                f"{SEAL_HINT})",
                unsealed=True,
            )
        )
    findings += _decision_snapshots(root, present)
    return findings


def _sealed_map(entries: list[dict[str, Any]]) -> dict[tuple[str, Any], list[str]]:
    sealed: dict[tuple[str, Any], list[str]] = {}
    for entry in entries:
        kind = entry.get("kind")
        ref = entry.get(KINDS[kind]) if _known(kind) else None
        if not _known(kind) or not isinstance(ref, str | int) or isinstance(ref, bool):
            continue  # a hand-made seal: its chain link is reported
        sealed.setdefault((kind, ref), []).append(str(entry.get("record_sha256")))
    return sealed


def _decision_snapshots(root: Path, present: _Present) -> list[Finding]:
    """A decision records the sha256 of the snapshot file it chose; the file must still hash
    to it (older decisions without ``snapshot_sha256`` are not checked)."""
    findings = []
    for ident, entry in (present.decisions or {}).items():
        recorded, chosen = entry.get("snapshot_sha256"), entry.get("snapshot_id")
        if not isinstance(recorded, str) or not isinstance(chosen, str):
            continue
        current = present.sha256("snapshot", f"snapshots/{chosen}.toml")
        if current is not None and current != recorded:
            findings.append(
                Finding(
                    "decisions.toml",
                    f"decision {ident} was made on snapshot "
                    f"{chosen} as it was then; the snapshot file has changed "
                    "since (snapshot_sha256 differs)",
                )
            )
    return findings


def decision_problems(root: Path) -> list[str]:
    """The ledger's errors about the decision log (a removed, edited or never-sealed decision,
    a decision whose snapshot changed): what review and the report add to the chain status,
    so a truncated log shows in a fresh clone too."""
    return [
        finding.message for finding in errors(verify(root)) if finding.where == "decisions.toml"
    ]


def errors(findings: list[Finding]) -> list[Finding]:
    return [finding for finding in findings if finding.level == "error"]


# ---------------------------------------------------------------------------------------------
# Sealing


def _append(root: Path, kind: str, ref: Any, sha256: str) -> dict[str, Any]:
    """Append one seal (the caller holds the ledger lock)."""
    return _append_many(root, [(kind, ref, sha256)])[-1]


def _append_many(root: Path, records: list[tuple[str, Any, str]]) -> list[dict[str, Any]]:
    """Append seals for ``records`` (kind, ref, sha256) in one atomic rewrite of the file, the
    earlier seals' bytes kept exactly. The caller holds the ledger lock."""
    path = ledger_path(root)
    try:
        old = _read_regular(path)
    except FileNotFoundError:
        old = b""
    last = _tail(old) if old else None
    previous_seq = last.get("seq") if last else 0
    if not isinstance(previous_seq, int) or isinstance(previous_seq, bool):
        raise IntegrityError(
            "the ledger's last seal has no sequence number",
            where=LEDGER_FILE,
            hint="restore ledger.toml from version control",
        )
    previous_sha = str(last.get("sha256", "")) if last else ""
    now = dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
    written: list[dict[str, Any]] = []
    blocks = []
    for kind, ref, sha256 in records:
        previous_seq += 1
        entry: dict[str, Any] = {
            "seq": previous_seq,
            "kind": kind,
            KINDS[kind]: ref,
            "record_sha256": sha256,
            "sealed_at": now,
            "previous_sha256": previous_sha,
        }
        entry["sha256"] = previous_sha = entry_hash(entry)
        written.append(entry)
        blocks.append(b"\n" + tomli_w.dumps({"seal": [entry]}).encode("utf-8"))
    prefix = old if old else _HEADER
    if not prefix.endswith(b"\n"):
        prefix += b"\n"
    data = prefix + b"".join(blocks)
    if written and _tail(data) != written[-1]:
        raise IntegrityError(
            "the new seal did not read back identically; nothing written", where=LEDGER_FILE
        )
    atomic_write_bytes(root, path, data)
    return written


class Sealer:
    """Seals records under the ledger lock (see ``sealing``)."""

    def __init__(self, root: Path) -> None:
        self.root = Path(root)
        self._intent: tuple[str, Any, str] | None = None

    def intend(self, kind: str, ref: Any, sha256: str) -> None:
        """Say which record is about to be written, before writing it (the crash marker)."""
        _check_ref(kind, ref)
        path = ledger_path(self.root)
        if path.exists():
            _tail(_read_regular(path))  # an unreadable ledger refuses the write before it happens
        marker = {"pid": os.getpid(), "kind": kind, "ref": ref, "sha256": sha256}
        atomic_write_bytes(self.root, _pending_path(self.root), canonical_json(marker))
        self._intent = (kind, ref, sha256)

    def abandon(self) -> None:
        """The announced record was not written (e.g. its name was taken): drop the marker."""
        self._intent = None
        with contextlib.suppress(FileNotFoundError):
            _pending_path(self.root).unlink()

    def seal(
        self, kind: str | None = None, ref: Any = None, sha256: str | None = None
    ) -> dict[str, Any]:
        """Append the seal of the record just written (by default the one announced)."""
        if kind is None:
            if self._intent is None:
                raise IntegrityError("nothing to seal")
            kind, ref, sha256 = self._intent
        _check_ref(kind, ref)
        entry = _append(self.root, kind, ref, str(sha256))
        self.abandon()
        return entry

    def refuse_unless_verified(self) -> None:
        """IntegrityError unless every record matches its seal (``decide`` appends only to a
        history that verifies)."""
        problems = errors(verify(self.root))
        if problems:
            first = problems[0]
            more = f" (and {len(problems) - 1} more)" if len(problems) > 1 else ""
            unsealed_only = all(p.unsealed for p in problems)
            raise IntegrityError(
                f"the records do not verify against {LEDGER_FILE}: {first.where}: "
                f"{first.message}{more}",
                where=str(ledger_path(self.root)),
                hint=(
                    f"{SEAL_HINT}, after checking them"
                    if unsealed_only
                    else "run 'modelsnap check DIR' for every finding, and restore the changed "
                    "records from version control"
                ),
            )


def _finish_interrupted(root: Path) -> None:
    """Under the lock: a marker left by a killed writer. If its record is there, exactly as
    announced, and unsealed, seal it now; then drop the marker."""
    pending = _read_pending(root)
    if pending is None:
        with contextlib.suppress(FileNotFoundError):
            _pending_path(root).unlink()
        return
    kind, ref = pending["kind"], pending.get("ref")
    try:
        _check_ref(kind, ref)
        entries = read_ledger(root) or []
        present = _Present(root)
        if (kind, ref) not in _sealed_map(entries) and present.sha256(kind, ref) == pending[
            "sha256"
        ]:
            _append(root, kind, ref, pending["sha256"])
    except ModelsnapError:
        pass  # an unreadable ledger is verify's to report; the marker is only a hint
    with contextlib.suppress(FileNotFoundError):
        _pending_path(root).unlink()


@contextlib.contextmanager
def sealing(root: Path) -> Iterator[Sealer]:
    """The ledger lock held, a killed writer's record sealed first; yields a ``Sealer``."""
    root = Path(root)
    with folder_lock(root, LOCK_NAME):
        _finish_interrupted(root)
        yield Sealer(root)


def seal(root: Path, kind: str, ref: Any, sha256: str) -> dict[str, Any]:
    """Append one seal for a record already written; returns the seal."""
    with sealing(root) as sealer:
        return sealer.seal(kind, ref, sha256)


@contextlib.contextmanager
def sealed_write(root: Path, kind: str, ref: Any, sha256: str) -> Iterator[None]:
    """Write one record inside the block; it is sealed when the block ends without error."""
    with sealing(root) as sealer:
        sealer.intend(kind, ref, sha256)
        yield
        sealer.seal()


def create_sealed(root: Path, kind: str, relative: str, data: bytes) -> bool:
    """Create ``root/relative`` exclusively (``files.create_exclusive_bytes``) and seal it.
    False, with nothing written, when the name is taken."""
    root = Path(root)
    digest = hashlib.sha256(data).hexdigest()
    with sealing(root) as sealer:
        sealer.intend(kind, relative, digest)
        if not create_exclusive_bytes(root, root / relative, data):
            sealer.abandon()
            return False
        sealer.seal()
    return True


def _decision_chain(root: Path) -> list[str]:
    from modelsnap.core.records.decision_log import check_chain, read_decisions

    try:
        return check_chain(read_decisions(root))
    except ModelsnapError as exc:
        return [exc.message]


def adopt(root: Path) -> list[str]:
    """``modelsnap seal DIR``: seal every record present but not sealed yet, as it is now.

    Idempotent (a second call seals nothing). Refused with IntegrityError, sealing nothing,
    when any sealed record differs from its seal or the chain is broken: adopting then would
    bless an edited history. Returns the records sealed, by name.
    """
    root = Path(root)
    with sealing(root):
        problems = [f for f in errors(verify(root)) if not f.unsealed]
        problems += [Finding("decisions.toml", p) for p in _decision_chain(root)]
        if problems:
            shown = "; ".join(f"{p.where}: {p.message}" for p in problems[:3])
            more = f" (and {len(problems) - 3} more)" if len(problems) > 3 else ""
            raise IntegrityError(
                f"sealed records differ from their seals, nothing sealed: {shown}{more}",
                where=str(ledger_path(root)),
                hint="restore the changed records from version control, then seal again",
            )
        entries = read_ledger(root) or []
        sealed = _sealed_map(entries)
        present = _Present(root)
        todo = []
        for kind, ref in present.record_keys():
            if (kind, ref) in sealed or (kind == "criteria_revision" and ref < 0):
                continue
            digest = present.sha256(kind, ref)
            if digest is not None:
                todo.append((kind, ref, digest))
        if todo:
            _append_many(root, todo)
    return [describe(kind, ref) for kind, ref, _ in todo]
