"""``modelsnap predict`` and the TUI's try-rows panel: new rows through the competing models.

Parsing and checking the rows is the core's (``core.followup.trying``); this module runs the
models, in the worker process, under the artifact allow-list.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from modelsnap.core.followup.trying import RowsInput, check_rows, competing_snapshots


def predict_rows(
    root: Path | str,
    rows: RowsInput,
    snapshot_ids: Sequence[str] | None = None,
    *,
    trusted: Sequence[str] = (),
    on_event: Any = None,
) -> dict[str, Any]:
    """Every competing model's (or the given snapshots') prediction for ``rows``.

    Returns ``{"task", "classes", "columns", "models": [{id, name, kind}], "rows": [{"label",
    "input", "expected", "predictions": [{id, prediction, proba} | {id, error}], "disagree"}],
    "warnings"}``; ``disagree`` is True when the models that answered do not all give the same
    class (classification) or their values spread by more than 1 % of the target's range
    (regression). Raises DataError for bad rows (nothing is loaded then), SnapshotError for an
    unknown id or a project without snapshots.
    """
    from modelsnap.core.errors import ModelsnapError
    from modelsnap.core.evaluation.data import load_dataset
    from modelsnap.core.evaluation.edgecases import artifact_entry, feature_kinds
    from modelsnap.core.project.parse import load_project
    from modelsnap.profiler.runner import run_scoring_job

    root = Path(root)
    config = load_project(root)
    dataset = load_dataset(config)
    columns = feature_kinds(dataset.frame)
    known = {
        c: sorted({str(v) for v in dataset.frame[c].dropna().unique()})
        for c, k in columns.items()
        if k == "categorical"
    }
    typed, expected, warnings = check_rows(rows, columns, dataset.target_name, known)
    snapshots = competing_snapshots(root, snapshot_ids)
    entries, failed = [], {}
    for snapshot in snapshots:
        try:
            entries.append(artifact_entry(snapshot))
        except ModelsnapError as exc:
            failed[snapshot["id"]] = {"error": exc.message}
    items, _ = (
        run_scoring_job(
            root,
            "predict",
            {"snapshots": entries, "rows": typed, "columns": columns},
            timeout_seconds=config.run.timeout_seconds,
            memory_limit_mb=config.run.memory_limit_mb,
            threads=config.run.threads,
            trusted=list(trusted),
            name="predict",
            on_event=on_event,
        )
        if entries
        else ({}, {})
    )
    items.update(failed)
    spread = 0.0
    if dataset.task == "regression":
        spread = float(dataset.target.max() - dataset.target.min()) * 0.01
    out_rows = []
    for index, (label, values) in enumerate(zip(rows.labels, typed, strict=True)):
        answers = []
        for snapshot in snapshots:
            item = items.get(snapshot["id"]) or {"error": "the model gave no answer"}
            if "error" in item:
                answers.append({"id": snapshot["id"], "error": str(item["error"])})
                continue
            answer: dict[str, Any] = {
                "id": snapshot["id"],
                "prediction": item["predictions"][index],
            }
            if "proba" in item:
                answer["proba"] = dict(zip(item["classes"], item["proba"][index], strict=True))
            answers.append(answer)
        given = [a["prediction"] for a in answers if "prediction" in a]
        if dataset.task == "classification":
            disagree = len({str(v) for v in given}) > 1
        else:
            numbers = [float(v) for v in given if isinstance(v, (int, float))]
            disagree = bool(numbers) and max(numbers) - min(numbers) > spread
        out_rows.append(
            {
                "label": label,
                "input": values,
                "expected": expected[index],
                "predictions": answers,
                "disagree": disagree,
            }
        )
    return {
        "task": dataset.task,
        "classes": list(dataset.classes or []),
        "columns": columns,
        "target": dataset.target_name,
        "models": [
            {"id": s["id"], "name": str(s.get("name", "")), "kind": str(s.get("kind", "candidate"))}
            for s in snapshots
        ],
        "rows": out_rows,
        "warnings": warnings,
    }


def predict_values(
    root: Path | str, values: Mapping[str, str], *, label: str = "row"
) -> dict[str, Any]:
    """``predict_rows`` for one row given as column -> text (the TUI's form)."""
    return predict_rows(root, RowsInput(rows=[dict(values)], where="the row", labels=[label]))
