"""``modelsnap check DIR``: is this project folder still a trustworthy record?

Checks, each reported as findings rather than stopping at the first: the project file loads;
every snapshot follows schema 1; its artifact and predictions exist and match their sha256;
every snapshot was made on the project's current data set and split (recomputed the slow, sure
way with pandas: the reason this command is not on the fast path); the recorded metrics and
constraint verdicts agree with what the stored predictions and measures give again; criteria
revisions are intact and every snapshot names one that exists; the decision log's hash chain
holds, names existing snapshots, and every decision's recorded weights and limits are those of
the revision it names; every record matches its seal in ledger.toml; no orphan artifacts or
leftover temp files. Exit 0 when clean (information findings allowed), 1 otherwise.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, NamedTuple

from modelsnap.cli.output import add_dir_argument, add_format_option

# Finding kinds, in the order they are checked (documented in docs/cli.md).
KINDS = (
    "project",
    "schema",
    "files",
    "data",
    "recompute",
    "criteria",
    "decisions",
    "ledger",
    "orphan",
    "temp",
)


@dataclass(frozen=True)
class Finding:
    kind: str
    where: str
    message: str
    # "error": a record is affected (exit code 1); "info": worth knowing, no record affected
    # (staging debris of a killed run in .modelsnap/tmp, removed by the next write; a record
    # written by a killed process before its seal, sealed by the next write).
    severity: str = "error"


def failures(findings: list[Finding]) -> list[Finding]:
    """The findings that make the folder untrustworthy (everything but information)."""
    return [f for f in findings if f.severity != "info"]


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "check",
        help="verify snapshots, hashes, data, criteria and the decision log",
        description="Verify the project folder: snapshot schema, artifact and prediction "
        "hashes, the data set and split every snapshot was made on, criteria "
        "revisions, the decision log's hash chain, orphan and temp files. "
        "Exit code 1 when anything is found.",
    )
    add_dir_argument(parser)
    add_format_option(parser)
    parser.add_argument(
        "--clean",
        action="store_true",
        help="first remove leftovers of killed runs: staging files of processes that no longer "
        "run, and artifacts/predictions no snapshot owns that are over 10 minutes old",
    )
    parser.set_defaults(handler=run)


def _rel(root: Path, path: Path | str) -> str:
    try:
        return str(Path(path).relative_to(root))
    except ValueError:
        return str(path)


def _current_hashes(root: Path, config, findings: list[Finding]) -> tuple[str | None, str | None]:
    """The dataset and split hashes a run would record now (the data loaders, imported here
    because they need pandas). A data or split problem is itself a finding."""
    from modelsnap.core.errors import ModelsnapError
    from modelsnap.core.evaluation.data import SPLIT_FILE, ensure_split, load_dataset

    try:
        dataset = load_dataset(config)
    except ModelsnapError as error:
        findings.append(Finding("data", error.where or config.data.source, error.message))
        return None, None
    if not (root / SPLIT_FILE).is_file():
        return dataset.dataset_sha256, None
    try:
        split = ensure_split(config, dataset)
    except ModelsnapError as error:
        findings.append(Finding("data", error.where or SPLIT_FILE, error.message))
        return dataset.dataset_sha256, None
    return dataset.dataset_sha256, split.split_sha256


def _check_data(root: Path, config, snapshots: list[dict], findings: list[Finding]) -> None:
    from modelsnap.core.evaluation.data import SPLIT_FILE

    if config is None or not snapshots:
        return
    dataset_sha, split_sha = _current_hashes(root, config, findings)
    if split_sha is None and not (root / SPLIT_FILE).is_file():
        findings.append(
            Finding(
                "data",
                SPLIT_FILE,
                f"missing, but {len(snapshots)} snapshot(s) "
                "exist: their split can no longer be verified",
            )
        )
    for snapshot in snapshots:
        where = f"snapshots/{snapshot['id']}.toml"
        data = snapshot["data"]
        if dataset_sha and data["dataset_sha256"] != dataset_sha:
            findings.append(
                Finding(
                    "data",
                    where,
                    "made on another data set (dataset_sha256 "
                    "differs from the current data): not comparable",
                )
            )
        if split_sha and data["split_sha256"] != split_sha:
            findings.append(
                Finding(
                    "data",
                    where,
                    "made on another split (split_sha256 differs from split.npz): not comparable",
                )
            )
    if dataset_sha is None:  # still say when the snapshots disagree among themselves
        distinct = {s["data"]["dataset_sha256"] for s in snapshots}
        if len(distinct) > 1:
            findings.append(
                Finding(
                    "data",
                    "snapshots/",
                    f"{len(distinct)} different data sets "
                    "among the snapshots: they are not all comparable",
                )
            )


def _check_recorded_values(
    root: Path, config, snapshots: list[dict], findings: list[Finding]
) -> None:
    """Recompute each snapshot's metrics from its stored predictions on the frozen split, and
    its constraint verdicts from its measures (core/selection/recompute.py); name every difference.
    Snapshots made on other data or another split are skipped (a ``data`` finding already)."""
    from modelsnap.core.errors import ModelsnapError
    from modelsnap.core.evaluation.data import SPLIT_FILE, ensure_split, load_dataset
    from modelsnap.core.files import inside
    from modelsnap.core.selection import recompute
    from modelsnap.core.selection.criteria import revisions

    by_id = {s["id"]: s for s in snapshots}
    try:
        locked = {item["revision"]: item for item in revisions(root)}
    except ModelsnapError:
        locked = {}
    for snapshot in snapshots:
        gain = snapshot.get("gain") if isinstance(snapshot.get("gain"), dict) else {}
        for message in recompute.constraint_problems(
            snapshot,
            locked=locked.get(snapshot["criteria_revision"]),
            baseline=by_id.get(gain.get("baseline_id")),
        ):
            findings.append(Finding("recompute", f"snapshots/{snapshot['id']}.toml", message))
    if config is None or not snapshots or not (root / SPLIT_FILE).is_file():
        return
    try:
        dataset = load_dataset(config)
        split = ensure_split(config, dataset)
    except ModelsnapError:
        return  # reported by the data check
    target = dataset.target
    truth = {part: target.iloc[getattr(split, part)].to_numpy() for part in recompute.SPLITS}
    base = root.resolve()
    for snapshot in snapshots:
        data = snapshot["data"]
        if (data["dataset_sha256"], data["split_sha256"]) != (
            dataset.dataset_sha256,
            split.split_sha256,
        ):
            continue
        where = f"snapshots/{snapshot['id']}.toml"
        # a re-profile copies its metrics from the original: they come from its predictions
        source = by_id.get(snapshot.get("reprofile_of"), snapshot)
        try:
            path = inside(
                base, source["predictions"]["path"], what="predictions path", resolved_root=True
            )
            arrays = recompute.load_predictions(path)
        except (ModelsnapError, ValueError, OSError) as exc:
            message = exc.message if isinstance(exc, ModelsnapError) else str(exc)
            findings.append(
                Finding(
                    "recompute",
                    where,
                    f"metrics cannot be recomputed: the "
                    f"stored predictions cannot be read ({message})",
                )
            )
            continue
        for message in recompute.metric_problems(
            snapshot,
            arrays,
            truth,
            task=dataset.task,
            classes=dataset.classes,
            positive_label=dataset.positive_label,
        ):
            findings.append(Finding("recompute", where, message))


def _check_criteria(root: Path, snapshots: list[dict], findings: list[Finding]) -> None:
    from modelsnap.core.errors import ModelsnapError
    from modelsnap.core.selection.criteria import REVISIONS_FILE, criteria_sha256, revisions

    try:
        locked = revisions(root)
    except ModelsnapError as error:
        findings.append(Finding("criteria", REVISIONS_FILE, error.message))
        return
    numbers = [item["revision"] for item in locked]
    if numbers != list(range(1, len(numbers) + 1)):
        findings.append(
            Finding(
                "criteria",
                REVISIONS_FILE,
                f"revisions are {numbers}, expected 1..{len(numbers)} in order",
            )
        )
    for item in locked:
        recorded = item.get("sha256")
        if recorded is not None and recorded != criteria_sha256(item):
            findings.append(
                Finding(
                    "criteria",
                    REVISIONS_FILE,
                    f"revision {item['revision']} was edited after it was "
                    "locked (its sha256 does not match)",
                )
            )
    known = set(numbers)
    for snapshot in snapshots:
        revision = snapshot["criteria_revision"]
        if revision == 0 and snapshot["kind"] == "baseline":
            continue
        if revision not in known:
            findings.append(
                Finding(
                    "criteria",
                    f"snapshots/{snapshot['id']}.toml",
                    f"criteria_revision {revision} is not in {REVISIONS_FILE}",
                )
            )


def _check_decisions(root: Path, ids: set[str], findings: list[Finding]) -> None:
    from modelsnap.core.errors import ModelsnapError
    from modelsnap.core.records import decision_log, decisions

    for problem in decision_log.verify_chain(root):
        findings.append(Finding("decisions", decision_log.DECISIONS_FILE, problem))
    try:
        entries = decision_log.read_decisions(root)
    except ModelsnapError:
        return  # already reported by verify_chain
    locked = _locked_revisions(root)
    for entry in entries:
        label = f"decision {entry.get('id', '?')}"
        chosen = entry.get("snapshot_id")
        if isinstance(chosen, str) and chosen not in ids:
            findings.append(
                Finding(
                    "decisions",
                    decision_log.DECISIONS_FILE,
                    f"{label} chose snapshot {chosen}, which does not exist",
                )
            )
        number = entry.get("criteria_revision")
        if number is None:
            findings.append(
                Finding(
                    "decisions", decision_log.DECISIONS_FILE, f"{label} names no criteria revision"
                )
            )
        elif locked is not None and number not in locked:
            findings.append(
                Finding(
                    "decisions",
                    decision_log.DECISIONS_FILE,
                    f"{label} names criteria revision {number}, which is not in "
                    "criteria_revisions.toml",
                )
            )
        elif locked is not None:
            for problem in decisions.revision_mismatch(entry, locked[number]):
                findings.append(
                    Finding("decisions", decision_log.DECISIONS_FILE, f"{label}: {problem}")
                )


def _locked_revisions(root: Path) -> dict[Any, dict] | None:
    """Revision number -> locked record; None when the file cannot be read (reported apart)."""
    from modelsnap.core.errors import ModelsnapError
    from modelsnap.core.selection.criteria import revisions

    try:
        return {item["revision"]: item for item in revisions(root)}
    except ModelsnapError:
        return None


def _check_ledger(root: Path, findings: list[Finding]) -> str | None:
    """Every record against its seal in ledger.toml (core/records/ledger.py); the head of
    the ledger verified."""
    from modelsnap.core.records import ledger

    found, ledger_head = ledger.verify_with_head(root)
    for finding in found:
        findings.append(Finding("ledger", finding.where, finding.message, severity=finding.level))
    return ledger_head


def _check_leftovers(root: Path, findings: list[Finding]) -> None:
    import psutil

    from modelsnap.core.files import STATE_DIR, TMP_PREFIX, is_tmp_name
    from modelsnap.core.records.store import (
        MODELS_DIR,
        PREDICTIONS_DIR,
        SNAPSHOTS_DIR,
        orphan_files,
    )

    for path in orphan_files(root):
        findings.append(
            Finding(
                "orphan",
                _rel(root, path),
                "no snapshot owns this file (a run crashed before writing its snapshot); delete it",
            )
        )
    for folder in (SNAPSHOTS_DIR, MODELS_DIR, PREDICTIONS_DIR):
        directory = root / folder
        if directory.is_dir():
            for entry in sorted(directory.iterdir()):
                if is_tmp_name(entry.name):
                    findings.append(
                        Finding("temp", _rel(root, entry), "leftover temporary file; delete it")
                    )
    staging = root / STATE_DIR / "tmp"
    if staging.is_dir():
        for entry in sorted(staging.iterdir()):
            pid = entry.name[len(TMP_PREFIX) :].split("-", 1)[0]
            if is_tmp_name(entry.name) and pid.isdigit() and psutil.pid_exists(int(pid)):
                continue  # a run in progress
            findings.append(
                Finding(
                    "temp",
                    _rel(root, entry),
                    "leftover staging of a run that no longer runs (no record "
                    "is affected; the next write removes it)",
                    "info",
                )
            )


class Audited(NamedTuple):
    """What ``audit`` found: the readable snapshots' count, the findings, and the head of the
    ledger it verified (None without one)."""

    count: int
    findings: list[Finding]
    ledger_head: str | None


def audit(root: Path, progress: Callable[[int, int], None] | None = None) -> Audited:
    """Every check run even after earlier findings; ``progress(done, total)`` hears how far
    the reading of the snapshot files is."""
    from modelsnap.core.errors import ModelsnapError
    from modelsnap.core.project.parse import load_project
    from modelsnap.core.project.schema import PROJECT_FILE
    from modelsnap.core.records.store import list_snapshots, verify_files

    findings: list[Finding] = []
    config = None
    try:
        config = load_project(root)
    except ModelsnapError as error:
        findings.append(Finding("project", error.where or PROJECT_FILE, error.message))
    snapshots, problems = list_snapshots(root, progress)
    for problem in problems:
        findings.append(Finding("schema", _rel(root, problem.path), problem.message))
    base = root.resolve()  # once, not twice for each snapshot's two files
    for snapshot in snapshots:
        for message in verify_files(base, snapshot, resolved_root=True):
            findings.append(Finding("files", f"snapshots/{snapshot['id']}.toml", message))
    _check_data(root, config, snapshots, findings)
    _check_criteria(root, snapshots, findings)
    _check_recorded_values(root, config, snapshots, findings)
    _check_decisions(root, {s["id"] for s in snapshots}, findings)
    ledger_head = _check_ledger(root, findings)
    _check_leftovers(root, findings)
    return Audited(len(snapshots), findings, ledger_head)


def run(args: argparse.Namespace) -> int:
    from modelsnap.cli.output import print_json, project_root, reading_progress

    root = project_root(args.dir)
    removed: list[str] = []
    if getattr(args, "clean", False):
        from modelsnap.core.records.store import clean_leftovers

        removed = [_rel(root, path) for path in clean_leftovers(root)]
    with reading_progress("checking them") as progress:
        count, findings, ledger_head = audit(root, progress)
    errors = failures(findings)
    if args.format == "json":
        print_json(
            {
                "ok": not errors,
                "snapshots": count,
                "removed": removed,
                "findings": [asdict(f) for f in findings],
                "ledger_head": ledger_head,
            }
        )
    else:
        _print_findings(removed, findings, errors, count, ledger_head)
    return 1 if errors else 0


def _print_findings(
    removed: list[str],
    findings: list[Finding],
    errors: list[Finding],
    count: int,
    ledger_head: str | None,
) -> None:
    """One plain line per finding, never wrapped, so each can be grepped whole (colour only on
    a terminal): a folder whose artifacts were moved has a finding per snapshot, and rich took
    7 s to print 30,000 of them."""
    from modelsnap.cli.output import clean, painted, use_color

    color = use_color()
    lines = [painted(f"removed   {clean(path)}", "yellow", color=color) for path in removed]
    for finding in findings:
        info = finding.severity == "info"
        text = f"{clean(finding.where)}: {clean(finding.message)}"
        label = f"{'info' if info else finding.kind:<10}"
        lines.append(
            painted(label, "dim" if info else "bold red", color=color)
            + painted(text, "dim" if info else "", color=color)
        )
    if ledger_head:
        lines.append(f"ledger head {clean(ledger_head)}")
    summary = f"{count} snapshot{'s' if count != 1 else ''} checked: "
    summary += "no problems" if not errors else f"{len(errors)} finding(s)"
    if len(findings) > len(errors):
        summary += f" ({len(findings) - len(errors)} for information only)"
    lines.append(painted(summary, "bold red" if errors else "green", color=color))
    sys.stdout.write("\n".join(lines) + "\n")
