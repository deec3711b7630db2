"""``modelsnap edge``: run the project's edge cases against every stored model, in the worker.

Reading and checking the edge-case file, scoring one pipeline and the record's shape are the
core's (``core.evaluation.edgecases``); this module drives the profiler's worker process.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from modelsnap.core.errors import DataError
from modelsnap.core.evaluation.edgecases import (
    EDGE_RUNS_DIR,
    ProgressCallback,
    artifact_entry,
    create_edge_run,
    edge_cases_for_dataset,
    new_run_id,
)


def run_edge_cases(root: Path, *, on_progress: ProgressCallback | None = None) -> dict[str, Any]:
    """Run the project's current edge-case file over every snapshot's artifact; record it.

    The artifacts are loaded and scored in a worker process (``runner.run_edge_job``: each
    hash- and type-checked by ``artifacts.load_artifact``, scored with ``run_cases``), never in
    this process; then ONE new ``edge_runs/<run-id>.toml`` is written (its own timestamp and the
    file's sha256); snapshots are never touched. An artifact that cannot be loaded gets a
    result with ``error`` instead of counts, so one broken model does not hide the others.
    Returns the record, plus ``path`` (the record's path relative to ``root``) and
    ``problems`` (snapshot files that could not be read and were skipped; not recorded).
    ``on_progress(fraction, message)`` is called after each snapshot. Raises a ModelsnapError
    for a missing/invalid edge-case file or a project without snapshots (nothing is written).
    """
    from datetime import UTC, datetime

    from modelsnap.core.errors import ModelsnapError, ProjectFileError, SnapshotError
    from modelsnap.core.evaluation.data import load_dataset
    from modelsnap.core.files import dumps_toml, inside
    from modelsnap.core.project.parse import load_project
    from modelsnap.core.records.store import list_snapshots

    root = Path(root)
    config = load_project(root)
    relative = config.data.edge_cases
    if not relative:
        raise ProjectFileError(
            "no edge-case file is set",
            where="modelsnap.toml [data].edge_cases",
            hint='add edge_cases = "edge_cases.csv" under [data] and create that CSV',
        )
    path = inside(root, relative, what="[data].edge_cases")
    dataset = load_dataset(config)
    cases = edge_cases_for_dataset(path, dataset, display_name=relative)
    snapshots, problems = list_snapshots(root)
    if not snapshots:
        raise SnapshotError(
            f"{relative} is valid ({len(cases)} cases) but there are no snapshots to run it on",
            where=str(root / "snapshots"),
            hint="run models first: modelsnap run DIR",
        )
    from modelsnap.profiler.runner import run_edge_job

    errors: dict[str, dict[str, Any]] = {}
    loadable = []
    for snapshot in snapshots:
        try:
            loadable.append(artifact_entry(snapshot))
        except ModelsnapError as exc:
            errors[snapshot["id"]] = {"error": str(exc)}
    names = {s["id"]: str(s.get("name", s["id"])) for s in snapshots}

    reported = [0.0]  # the last fraction reported, so "done" is said once

    def progress(event: Any) -> None:
        if on_progress is not None and event.stage == "evaluate" and event.message:
            reported[0] = event.fraction
            on_progress(event.fraction, names.get(event.message, event.message))

    outcomes = (
        run_edge_job(
            root,
            loadable,
            relative,
            timeout_seconds=config.run.timeout_seconds,
            memory_limit_mb=config.run.memory_limit_mb,
            threads=config.run.threads,
            edge_sha256=cases.sha256,
            on_event=progress,
        )
        if loadable
        else {}
    )
    results = []
    for snapshot in snapshots:
        entry: dict[str, Any] = {"snapshot_id": snapshot["id"], "name": snapshot.get("name", "")}
        outcome = errors.get(snapshot["id"]) or outcomes.get(snapshot["id"])
        entry.update(outcome or {"error": "the edge cases were not run on this model"})
        results.append(entry)
    if on_progress is not None and reported[0] < 1.0:
        on_progress(1.0, "done")
    record: dict[str, Any] = {
        "schema": 1,
        "created_at": datetime.now(UTC).isoformat(),
        "file": relative,
        "file_sha256": cases.sha256,
        "cases": [
            {"case": c, "expected": e, "severity": s}
            for c, e, s in zip(cases.cases, cases.expected, cases.severities, strict=True)
        ],
        "result": results,
    }
    for _attempt in range(64):
        run_id = new_run_id()
        body = {"schema": 1, "id": run_id, **{k: v for k, v in record.items() if k != "schema"}}
        target = root / EDGE_RUNS_DIR / f"{run_id}.toml"
        if create_edge_run(root, f"{EDGE_RUNS_DIR}/{target.name}", dumps_toml(body)):
            return {
                **body,
                "path": f"{EDGE_RUNS_DIR}/{run_id}.toml",
                "problems": [str(problem) for problem in problems],
            }
    raise DataError("could not pick a free edge-run id", where=str(root / EDGE_RUNS_DIR))
