"""The selection context: what a project folder is judged under, against what, and who competes.

Every front end asks the same four questions before it ranks or records, and this module is the
one place that answers them (``modelsnap rank``, ``decide``, ``report``, ``Project.rank`` and
``Project.decide``, the TUI's step 5 and review's what-if):

1. **The criteria in force**: the latest *locked* revision (``criteria.criteria_in_force``). Edits
   to modelsnap.toml that were not locked are *pending*: they can be ranked as a labelled
   what-if, and a decision is refused while they exist.
2. **The current data**: the data file's and split's hashes; snapshots made on others are
   excluded from the comparison.
3. **The baseline**: the latest baseline snapshot on the current data and split
   (``ranking.current_baseline``).
4. **The rows that compete**: the latest snapshot of each model; older ones are history
   (``superseded``), shown with ``all_versions``.

``decide`` is the one implementation of "rank, then record": it re-reads the snapshot files
themselves (never the ``.modelsnap`` index, which is only a cache), ranks under the locked
revision and appends to the decision log.

Fast path: no pandas or scikit-learn (ranking reads index rows; decide parses TOML only).
"""

from __future__ import annotations

import csv
import io
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from modelsnap.core.errors import CriteriaError, DecisionError, ModelsnapError
from modelsnap.core.files import EDGE_CSV_LIMIT, open_regular
from modelsnap.core.measures import EDGE_MEASURES, measures
from modelsnap.core.ranking_methods import DEFAULT_METHOD
from modelsnap.core.records.store import DataHashes
from modelsnap.core.selection.criteria import CriteriaInForce, criteria_in_force
from modelsnap.core.selection.ranking import RankingResult, RankingSpec, current_baseline, rank
from modelsnap.core.selection.ranking import spec_from_config as _spec_from_config

if TYPE_CHECKING:
    from modelsnap.core.project.schema import ProjectConfig

# Labels of what a ranking was computed under (RankingResult.basis; docs/ranking.md).
BASIS_LOCKED = "locked"  # the latest locked revision: the only basis a decision is made on
BASIS_PENDING = "pending"  # modelsnap.toml's edits that are not locked yet (a what-if)
BASIS_UNLOCKED = "unlocked"  # nothing locked yet: modelsnap.toml as a preview
BASIS_WHAT_IF = "what-if"  # other weights, profile, method or split asked for


def must_pass_cases_exist(root: Any, relative: str | None) -> bool:
    """True when the project's edge-case file has a ``must-pass`` row (read with csv: fast).

    Only then is a snapshot without an edge-case run incomplete (``edge_cases_required``)."""
    if not relative:
        return False
    path = Path(root) / relative
    try:
        with (
            open_regular(path, what="edge-case file", limit=EDGE_CSV_LIMIT) as raw,
            io.TextIOWrapper(raw, newline="", encoding="utf-8") as handle,
        ):
            return any(
                (row.get("severity") or "").strip() == "must-pass" for row in csv.DictReader(handle)
            )
    except (OSError, UnicodeDecodeError, csv.Error, ModelsnapError):
        return False


def with_edge_results(
    rows: Sequence[Mapping[str, Any]], latest: Mapping[str, Mapping[str, Any]]
) -> list[dict[str, Any]]:
    """Rows whose edge measures are replaced by a later ``modelsnap edge`` run, where one exists.

    Rows without a later run are passed through as they are (not copied); changed rows are new
    dicts, so the caller's rows are never modified."""
    if not latest:  # no later run: 100,000 rows looked up for nothing took 0.03 s
        return list(rows)  # type: ignore[arg-type]  # read only from here on
    out: list[dict[str, Any]] = []
    for row in rows:
        result = latest.get(row["id"])
        if result is None:
            out.append(row)  # type: ignore[arg-type]  # read only from here on
            continue
        updated = dict(row)
        updated["measures"] = {}
        for split, recorded in row["measures"].items():
            table = {k: v for k, v in recorded.items() if k not in EDGE_MEASURES}
            table.update(measures({}, split, edge_result=result))
            updated["measures"][split] = table
        out.append(updated)
    return out


@dataclass
class SelectionContext:
    """One folder at one moment, as the ranking sees it (``load_context`` builds it)."""

    root: Path
    config: ProjectConfig
    criteria: CriteriaInForce
    hashes: DataHashes
    rows: list[dict[str, Any]]  # every readable snapshot (history too), edge runs applied
    problems: list[str]  # snapshot files that could not be read
    edge_cases_required: bool
    from_records: bool  # rows parsed from the snapshot files, not taken from the index
    edge_problems: list[str] = field(default_factory=list)  # edge runs that could not be read

    @property
    def revision(self) -> int | None:
        return self.criteria.revision

    @property
    def baseline(self) -> Mapping[str, Any] | None:
        """The baseline candidates are compared with (the documented rule)."""
        return current_baseline(self.rows, self.hashes.dataset_sha256, self.hashes.split_sha256)

    def spec(
        self,
        *,
        weights: Mapping[str, float] | None = None,
        profile: str | None = None,
        method: str = DEFAULT_METHOD,
        split: str | None = None,
        allow_mixed: bool = False,
        all_versions: bool = False,
        pending: bool = False,
    ) -> tuple[RankingSpec, str]:
        """The ranking spec and its basis label. The locked revision's criteria, constraints
        and primary metric unless ``pending`` (modelsnap.toml's edits, as a what-if) or nothing
        is locked yet (modelsnap.toml, as a preview)."""
        locked = self.criteria.record
        if locked is not None and not pending:
            basis = BASIS_LOCKED
            source: dict[str, Any] = {
                "criteria": locked.get("criteria", []),
                "constraints": locked.get("constraints", {}),
                "primary_metric": locked.get("primary_metric") or None,
            }
        else:
            basis = BASIS_UNLOCKED if locked is None else BASIS_PENDING
            source = {}
        if weights or profile is not None or method != DEFAULT_METHOD or split is not None:
            basis = BASIS_WHAT_IF if basis == BASIS_LOCKED else basis
        spec = _spec_from_config(
            self.config,
            weights=weights,
            profile=profile,
            method=method,
            split=split,
            allow_mixed=allow_mixed,
            dataset_sha256=self.hashes.dataset_sha256,
            split_sha256=self.hashes.split_sha256,
            criteria_revision=self.criteria.revision,
            edge_cases_required=self.edge_cases_required,
            all_versions=all_versions,
            **source,
        )
        return spec, basis

    def rank(self, *, sensitivity: bool = False, **what_ifs: Any) -> RankingResult:
        """Rank the folder (keyword what-ifs as for ``spec``); nothing is written."""
        spec, basis = self.spec(**what_ifs)
        result = rank(self.rows, spec, sensitivity=sensitivity)
        result.warnings.extend(f"edge run not read: {problem}" for problem in self.edge_problems)
        result.basis = basis
        result.pending = list(self.criteria.pending)
        if basis == BASIS_UNLOCKED:
            result.warnings.insert(
                0,
                "criteria are not locked: this ranking previews "
                "modelsnap.toml; lock it before deciding",
            )
        elif basis == BASIS_PENDING:
            result.warnings.insert(
                0,
                f"what-if: modelsnap.toml's edits not locked "
                f"({'; '.join(self.criteria.pending)}); revision "
                f"{self.criteria.revision} is still in force",
            )
        elif self.criteria.pending:
            result.warnings.insert(
                0,
                f"ranked under locked criteria revision "
                f"{self.criteria.revision}; modelsnap.toml has edits not "
                f"locked ({'; '.join(self.criteria.pending)}): lock them "
                "as a new revision or revert them",
            )
        return result


def load_context(
    root: Path | str,
    *,
    from_records: bool = False,
    write_index: bool = True,
    progress: Callable[[int, int], None] | None = None,
    narrow: bool = False,
) -> SelectionContext:
    """Read what a ranking needs. ``from_records`` parses every snapshot file (what records
    a decision or a report must use), telling ``progress(done, total)`` how far it is
    (``SnapshotReader.read``); otherwise rows come from the index cache (fast ``rank``,
    review). Broken snapshot files are listed in ``problems``, never raised. ``narrow``: the
    index's rows hold only the ``index.RANKING_FIELDS`` and measures, all a ranking reads (rows
    parsed from the records hold ``as_row``'s fields, fewer still); review, which shows the
    other fields, reads them whole."""
    from modelsnap.core.evaluation.edgecases import latest_edge_results
    from modelsnap.core.project.parse import load_project
    from modelsnap.core.records.store import current_data_hashes
    from modelsnap.core.selection.ranking import as_row

    root = Path(root)
    config = load_project(root)
    found: Sequence[Mapping[str, Any]]  # index rows, or snapshots reduced to the same fields
    if from_records:
        from modelsnap.core.records.store import list_snapshots

        snapshots, broken = list_snapshots(root, progress)
        found = [as_row(snapshot) for snapshot in snapshots]
    else:
        from modelsnap.core.records.index import load_rows

        found, broken = load_rows(root, write_back=write_index, progress=progress, narrow=narrow)
    unreadable: list[str] = []
    rows = with_edge_results(found, latest_edge_results(root, problems=unreadable))
    return SelectionContext(
        root=root,
        config=config,
        criteria=criteria_in_force(config),
        hashes=current_data_hashes(
            root, config.data.source, write_cache=write_index, cached=not from_records
        ),
        rows=rows,
        problems=[str(problem) for problem in broken],
        edge_cases_required=must_pass_cases_exist(root, config.data.edge_cases),
        from_records=from_records,
        edge_problems=unreadable,
    )


@dataclass
class ProjectRanking:
    result: RankingResult
    rows: list[dict[str, Any]]  # as the ranking read them: the fields it uses (narrow), measures
    problems: list[str]
    criteria_revision: int | None
    config: ProjectConfig
    context: SelectionContext


def rank_project(
    root: Path | str,
    *,
    weights: Mapping[str, float] | None = None,
    profile: str | None = None,
    method: str = DEFAULT_METHOD,
    split: str | None = None,
    allow_mixed: bool = False,
    sensitivity: bool = False,
    all_versions: bool = False,
    pending: bool = False,
    write_index: bool = True,
    from_records: bool = False,
    progress: Callable[[int, int], None] | None = None,
) -> ProjectRanking:
    """Rank a project folder under the criteria in force; what-ifs (weights, profile, method,
    split, pending edits, all versions) change nothing on disk. ``progress`` as for
    ``load_context``."""
    context = load_context(
        root, from_records=from_records, write_index=write_index, progress=progress, narrow=True
    )
    result = context.rank(
        weights=weights,
        profile=profile,
        method=method,
        split=split,
        allow_mixed=allow_mixed,
        all_versions=all_versions,
        pending=pending,
        sensitivity=sensitivity,
    )
    return ProjectRanking(
        result=result,
        rows=context.rows,
        problems=context.problems,
        criteria_revision=context.revision,
        config=context.config,
        context=context,
    )


def decidable(context: SelectionContext) -> None:
    """Raise ``CriteriaError`` (exit code 2) unless a decision can be recorded under
    ``context``: the criteria are locked and modelsnap.toml has no edits that were not locked."""
    force = context.criteria
    if force.record is None:
        raise CriteriaError(
            "the criteria are not locked: a decision must name the revision it was made under",
            where=str(context.root / "modelsnap.toml"),
            hint=f"lock them first: modelsnap lock {context.root}",
        )
    if force.pending:
        raise CriteriaError(
            f"modelsnap.toml has edits not locked since revision {force.revision}: "
            + "; ".join(force.pending),
            where=str(context.root / "modelsnap.toml"),
            hint=f'lock them as a new revision (modelsnap lock {context.root} --reason "why") '
            "or revert them in modelsnap.toml, then decide",
        )


def decide(
    root: Path | str,
    snapshot_id: str,
    *,
    rationale: str,
    caveats: Sequence[str] = (),
    monitoring: str = "",
    decided_by: str | None = None,
    override: str | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> dict[str, Any]:
    """Rank under the locked revision from the snapshot files, then append the decision.
    ``progress(done, total)`` hears how far the reading of those files is.

    The one "rank, then record" (CLI ``decide``, ``Project.decide``, the TUI's decision form).
    Refused with ``CriteriaError`` when the criteria are not locked or have pending edits; with
    ``DecisionError`` when the rationale is not a real sentence, for an unknown id, a snapshot
    whose files do not verify, and a snapshot that was not ranked unless ``override`` justifies
    it. Returns the entry written.
    """
    from modelsnap.core.records.decisions import append_decision, check_rationale
    from modelsnap.core.records.store import find_snapshot, read_snapshot, verify_files

    check_rationale(rationale)
    context = load_context(root, from_records=True, write_index=False, progress=progress)
    decidable(context)
    chosen = find_snapshot(context.root, snapshot_id)
    problems = verify_files(context.root, read_snapshot(context.root, chosen))
    if problems:
        raise DecisionError(
            f"snapshot {chosen} does not verify: {'; '.join(problems)}",
            hint=f"run 'modelsnap check {context.root}' and restore its files",
        )
    result = context.rank()
    return append_decision(
        context.root,
        snapshot_id=chosen,
        rationale=rationale,
        ranking=result,
        criteria=context.criteria.record,
        caveats=list(caveats),
        monitoring=monitoring,
        decided_by=decided_by,
        override=override,
    )
