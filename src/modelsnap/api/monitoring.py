"""``modelsnap monitor``: hold the decided model to its snapshot on new labelled data.

The comparisons (drift, label shift, metric against its interval) and the record are the
core's (``core.followup.monitoring``); this module scores the model in the worker process.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from modelsnap.core.errors import DataError
from modelsnap.core.followup.monitoring import (
    EXIT_CODES,
    NEXT_STEP,
    check_new_data,
    compare_metric,
    data_label,
    decision_limits,
    drift_reason,
    input_drift,
    label_reason,
    label_shift,
    pick_decision,
    write_record,
)

if TYPE_CHECKING:
    from modelsnap.core.evaluation.data import Dataset, Split
    from modelsnap.core.records.shapes import Snapshot


def monitor(
    root: Path | str,
    data_file: Path | str,
    *,
    decision_id: str | None = None,
    profile_latency: bool = False,
    trusted: Sequence[str] = (),
    on_event: Callable[[Any], None] | None = None,
    record: bool = True,
) -> dict[str, Any]:
    """Hold the decision's model to its snapshot on ``data_file``; record the outcome.

    Returns the record written (plus ``path``, relative to ``root``, and ``exit_code``: 0 holds,
    1 degraded or drifted). Raises DataError (exit code 2) for new data that does not match, a
    missing target, too few rows (naming the figure); MonitorError (2) with no decision yet or
    an unknown decision id; the worker's errors for an artifact that cannot be loaded. Nothing
    is written on an error. ``record=False`` computes without writing (nothing sealed).
    """
    from modelsnap.core.evaluation.data import load_dataset, read_table
    from modelsnap.core.evaluation.edgecases import artifact_entry, feature_kinds
    from modelsnap.core.project.parse import load_project
    from modelsnap.core.records.store import read_snapshot
    from modelsnap.profiler.runner import run_scoring_job

    root = Path(root)
    config = load_project(root)
    decision = pick_decision(root, decision_id)
    snapshot = read_snapshot(root, str(decision["snapshot_id"]))
    dataset = load_dataset(config)
    recorded = snapshot.get("data", {})
    split = _reference_split(root, snapshot, dataset, str(config.data.source))
    columns = feature_kinds(dataset.frame)
    path = Path(data_file).expanduser()
    if not path.is_file():
        raise DataError(
            "the new data file is not found"
            if not path.exists()
            else "the new data is not a regular file",
            where=str(path),
            hint="give --data a CSV of labelled rows with the project's columns",
        )
    new, digest, label = read_table(config.data.source, root, path=path)
    new.columns = [str(c) for c in new.columns]
    thresholds = config.monitoring
    classes = [str(c) for c in recorded.get("classes", dataset.classes or [])]
    new_target = check_new_data(
        new,
        columns=columns,
        target=dataset.target_name,
        task=dataset.task,
        classes=classes,
        drop=config.data.drop,
        label=label,
        min_rows=thresholds.min_rows,
    )
    if (
        dataset.task == "classification"
        and "roc_auc" in snapshot.get("metrics", {}).get("test", {})
        and len(set(new_target)) < 2
    ):
        raise DataError(
            f"roc_auc needs rows of at least two classes; the new data holds only "
            f"{sorted(set(new_target))[0]!r}",
            where=label,
            hint="monitor on a batch that holds every class",
        )
    train = dataset.frame.iloc[split.train]
    train_target = dataset.target.iloc[split.train]
    drift = input_drift(train, new, columns, thresholds)
    label_entry = label_shift(
        list(train_target) if dataset.task == "classification" else train_target.to_numpy(float),
        list(new_target) if dataset.task == "classification" else new_target.to_numpy(float),
        dataset.task,
        thresholds,
    )
    payload = {
        "snapshots": [artifact_entry(snapshot)],
        "data_file": str(path.resolve()),
        "data_sha256": digest,
        "columns": columns,
        "target": dataset.target_name,
        "task": dataset.task,
        "classes": classes,
        "positive_label": recorded.get("positive_label", dataset.positive_label),
        "profile_latency": bool(profile_latency),
        "latency_trials": config.run.latency_trials,
        "latency_warmup": config.run.latency_warmup,
    }
    _, result = run_scoring_job(
        root,
        "monitor",
        payload,
        timeout_seconds=config.run.timeout_seconds,
        memory_limit_mb=config.run.memory_limit_mb,
        threads=config.run.threads,
        trusted=list(trusted),
        name=f"monitor {snapshot.get('name', snapshot['id'])}",
        on_event=on_event,
    )
    performance = _performance(snapshot, result, label)
    revision, constraints = decision_limits(root, decision)
    latency: dict[str, Any] = {}
    if profile_latency:
        measured = result.get("latency", {})
        latency = {
            "p95_ms": round(float(measured.get("latency_p95_ms", 0.0)), 6),
            "p50_ms": round(float(measured.get("latency_p50_ms", 0.0)), 6),
            "trials": int(measured.get("latency_trials", 0)),
            "snapshot_p95_ms": float(snapshot.get("resources", {}).get("latency_p95_ms", 0.0)),
        }
        limit = constraints.get("max_latency_p95_ms")
        if isinstance(limit, (int, float)):
            latency.update(
                limit_ms=float(limit),
                ok=latency["p95_ms"] <= float(limit),
                over=round(max(0.0, latency["p95_ms"] - float(limit)), 6),
            )
        else:
            latency.update(ok=True, note=f"criteria revision {revision} sets no max_latency_p95_ms")
    reasons = [
        f"{p['metric']} {p['new']:.4g} is {p['status']} the snapshot's 95 % interval "
        f"[{p['test_ci'][0]:.4g}, {p['test_ci'][1]:.4g}] by {p['by']:.4g}, "
        f"{abs(p['difference']):.4g} from the test figure {p['test']:.4g} (more than the "
        f"{p['margin']:.4g} sampling noise allows)"
        for p in performance
        if p["degraded"]
    ]
    watch = [
        f"{p['metric']} {p['new']:.4g} is {p['status']} the snapshot's 95 % interval by "
        f"{p['by']:.4g}, within the sampling noise of {p['margin']:.4g}: watch it"
        for p in performance
        if p["worse"] and not p["degraded"]
    ]
    if latency and not latency["ok"]:
        reasons.append(
            f"p95 latency {latency['p95_ms']:.4g} ms is over the limit "
            f"{latency['limit_ms']:g} ms of criteria revision {revision}"
        )
    drifted = [drift_reason(d) for d in drift if d["status"] == "drift"]
    if label_entry["status"] == "drift":
        drifted.append(label_reason(label_entry))
    verdict = "degraded" if reasons else "drifted" if drifted else "holds"
    body: dict[str, Any] = {
        "schema": 1,
        "created_at": datetime.now(UTC).isoformat(),
        "decision_id": str(decision["id"]),
        "snapshot_id": str(snapshot["id"]),
        "snapshot_name": str(snapshot.get("name", "")),
        "criteria_revision": int(revision) if isinstance(revision, int) else 0,
        "verdict": verdict,
        "reasons": reasons + drifted,
        "notes": watch,
        "data": {
            "file": data_label(root, path),
            "sha256": digest,
            "n_rows": len(new),
            "reference": "training split",
            "n_reference": len(split.train),
            "dataset_sha256": dataset.dataset_sha256,
            "split_sha256": split.split_sha256,
        },
        "thresholds": {
            "psi_watch": thresholds.psi_watch,
            "psi_drift": thresholds.psi_drift,
            "share_change": thresholds.share_change,
            "label_shift": thresholds.label_shift,
            "min_rows": thresholds.min_rows,
        },
        "performance": performance,
        "drift": drift,
        "label_shift": label_entry,
    }
    if latency:
        body["latency"] = latency
    if verdict != "holds":
        body["next_step"] = NEXT_STEP
    if not record:
        return {**body, "path": "", "exit_code": EXIT_CODES[verdict]}
    return {**write_record(root, body), "exit_code": EXIT_CODES[verdict]}


def _reference_split(root: Path, snapshot: Snapshot, dataset: Dataset, source: str) -> Split:
    """The decided snapshot's split (never drawn here), checked against the data file: its
    training rows are the reference for drift. DataError when either changed since."""
    from modelsnap.core.evaluation.data import read_split

    recorded = snapshot.get("data", {})
    if recorded.get("dataset_sha256") != dataset.dataset_sha256:
        raise DataError(
            f"the data file changed since snapshot {snapshot['id']} was made: its training split "
            "(the reference for drift) cannot be rebuilt",
            where=source,
            hint="restore the data file the decision was made on, or re-run the checklist on "
            "the new data and decide again",
        )
    split = read_split(root)  # never drawn here: the decided snapshot's split, or an error
    if recorded.get("split_sha256") != split.split_sha256:
        raise DataError(
            f"split.npz is not the split snapshot {snapshot['id']} was made on: its training "
            "rows (the reference for drift) are not known",
            where=str(root / "split.npz"),
            hint="restore split.npz from version control",
        )
    if len(split.train) and int(max(split.train)) >= len(dataset.frame):
        raise DataError(
            "split.npz names rows the data file does not have",
            where=str(root / "split.npz"),
            hint="restore it from version control",
        )
    return split


def _performance(snapshot: Snapshot, result: dict[str, Any], label: str) -> list[dict[str, Any]]:
    """Each test metric of the snapshot against its figure on the new data (``compare_metric``);
    DataError when one cannot be computed there."""
    now_metrics = result.get("metrics", {})
    test = snapshot.get("metrics", {}).get("test", {})
    intervals = snapshot.get("metrics", {}).get("test_ci", {})
    performance = []
    for name, value in test.items():
        if not isinstance(value, (int, float)):
            continue
        if name not in now_metrics:
            raise DataError(
                f"{name} cannot be computed on the new data (too few rows of some class for it)",
                where=label,
                hint="monitor on a larger batch",
            )
        performance.append(
            compare_metric(
                name,
                float(now_metrics[name]),
                float(value),
                intervals.get(name),
                result.get("intervals", {}).get(name),
            )
        )
    return performance
