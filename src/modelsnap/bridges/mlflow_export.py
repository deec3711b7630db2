"""``modelsnap export mlflow``: every snapshot becomes one MLflow run, every decision is shown on
the run it chose. Nothing in the project folder is written.

A run gets the estimator's parameters, the metrics named by split (``validation_f1``,
``test_f1``, ...), the resource measures, tags naming the snapshot (``modelsnap.*``, see
``run_payload``) and, as artifacts, the snapshot TOML and the skops model file (under
``modelsnap/``). A decision tags its chosen run (``modelsnap.decision_id``, ``..._rationale``,
``..._criteria_revision``; ``modelsnap.decisions`` lists every decision that chose it) and
attaches the decision entry as ``modelsnap/decisions/<id>.toml``.

Export is idempotent: a snapshot already in the experiment (found by its
``modelsnap.snapshot_id`` tag on a finished run) is skipped, and so is a decision already on its
run. A run left unfinished by an interrupted export is deleted and sent again. ``dry_run``
computes the same plan and sends nothing (it does not even create a missing SQLite database).
"""

from __future__ import annotations

import math
import tempfile
import time
from collections.abc import Callable, Mapping
from datetime import datetime
from pathlib import Path
from typing import Any

from modelsnap.bridges.mlflow_common import (
    MAX_PARAM_VALUE,
    MAX_TAG_VALUE,
    SNAPSHOT_TAG,
    check_uri,
    connect,
    cut,
    experiment_by_name,
    mlflow_errors,
    require_mlflow,
    search_all_runs,
    shown_uri,
    sqlite_path,
)
from modelsnap.core.measures import RESOURCE_MEASURES

# [resources] keys sent as metrics under their own names: every resource measure of the registry
# (core.measures), and the two peak-memory halves that make up peak_memory_mb.
RESOURCE_METRICS = (*RESOURCE_MEASURES, "peak_memory_fit_mb", "peak_memory_predict_mb")
SPLITS = ("validation", "test")
ARTIFACT_DIR = "modelsnap"
DECISIONS_TAG = "modelsnap.decisions"
_KEY_OK = set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-. /")


def _key(text: str) -> str:
    """A param or metric name MLflow accepts (letters, digits, _ - . space /)."""
    return "".join(ch if ch in _KEY_OK else "_" for ch in str(text))[:250]


def _flat(params: dict[str, Any], prefix: str = "") -> dict[str, str]:
    out: dict[str, str] = {}
    for name, value in params.items():
        key = f"{prefix}{name}"
        if isinstance(value, dict) and value:
            out.update(_flat(value, f"{key}."))
        else:
            out[_key(key)] = cut(value, MAX_PARAM_VALUE)
    return out


def _finite(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def verdict(snapshot: Mapping[str, Any]) -> tuple[str, list[str]]:
    """The snapshot's constraint verdict as recorded: ``pass``, ``rejected`` (with the reasons,
    as the ranking words them) or ``incomplete`` (a limit whose measure is missing)."""
    from modelsnap.core.selection import constraints

    reasons = constraints.reasons(snapshot)
    if reasons:
        return "rejected", reasons
    missing = constraints.missing(snapshot)
    if missing:
        return "incomplete", [f"{name}: not measured" for name in missing]
    return "pass", []


def run_payload(snapshot: Mapping[str, Any], project_name: str = "") -> dict[str, Any]:
    """What one snapshot's run holds: ``params``, ``metrics`` and ``tags`` (name -> value)."""
    model = snapshot.get("model", {})
    data = snapshot.get("data", {})
    hardware = snapshot.get("hardware", {})
    metrics: dict[str, float] = {}
    for split in SPLITS:
        for name, value in (snapshot.get("metrics", {}).get(split) or {}).items():
            if _finite(value):
                metrics[_key(f"{split}_{name}")] = float(value)
    resources = snapshot.get("resources", {})
    for name in RESOURCE_METRICS:
        if _finite(resources.get(name)):
            metrics[name] = float(resources[name])
    outcome, reasons = verdict(snapshot)
    tags = {
        SNAPSHOT_TAG: snapshot["id"],
        "modelsnap.name": snapshot.get("name", ""),
        "modelsnap.kind": snapshot.get("kind", ""),
        "modelsnap.version": snapshot.get("version", ""),
        "modelsnap.criteria_revision": str(snapshot.get("criteria_revision", "")),
        "modelsnap.estimator": model.get("estimator", ""),
        "modelsnap.created_at": snapshot.get("created_at", ""),
        "modelsnap.dataset_sha256": data.get("dataset_sha256", ""),
        "modelsnap.split_sha256": data.get("split_sha256", ""),
        "modelsnap.data_source": str(data.get("source", "")),
        "modelsnap.hardware": (
            f"{hardware.get('cpu', '?')}, {hardware.get('cores', '?')} cores, "
            f"{hardware.get('memory_gb', '?')} GB"
        ),
        "modelsnap.hardware_fingerprint": str(hardware.get("fingerprint", "")),
        "modelsnap.verdict": outcome,
        "modelsnap.rejection_reasons": "; ".join(reasons),
    }
    if project_name:
        tags["modelsnap.project"] = project_name
    if snapshot.get("reprofile_of"):
        tags["modelsnap.reprofile_of"] = str(snapshot["reprofile_of"])
    origin = snapshot.get("origin")
    if isinstance(origin, dict) and origin.get("run_id"):
        tags["modelsnap.imported_from_run"] = str(origin["run_id"])
    if snapshot.get("notes"):
        tags["mlflow.note.content"] = snapshot["notes"]
    return {
        "params": _flat(model.get("params") or {}),
        "metrics": metrics,
        "tags": {k: cut(v, MAX_TAG_VALUE) for k, v in tags.items()},
    }


def decision_tags(entry: dict[str, Any]) -> dict[str, str]:
    return {
        "modelsnap.decision_id": str(entry.get("id", "")),
        "modelsnap.decision_rationale": cut(entry.get("rationale", ""), MAX_TAG_VALUE),
        "modelsnap.decision_criteria_revision": str(entry.get("criteria_revision", "")),
        "modelsnap.decided_at": str(entry.get("decided_at", "")),
    }


def _millis(created_at: str) -> int:
    try:
        return int(datetime.fromisoformat(created_at).timestamp() * 1000)
    except (TypeError, ValueError):
        return int(time.time() * 1000)


def _batches(items: list, size: int) -> list[list]:
    return [items[i : i + size] for i in range(0, len(items), size)] or [[]]


def _send_snapshot(
    client: Any, experiment_id: str, root: Path, snapshot: Mapping[str, Any], payload: dict
):
    """Create the run, log everything, then mark it finished; returns the run id."""
    from mlflow.entities import Metric, Param, RunTag

    run = client.create_run(
        experiment_id,
        start_time=_millis(snapshot.get("created_at", "")),
        tags={SNAPSHOT_TAG: snapshot["id"]},
        run_name=str(snapshot.get("name", snapshot["id"])),
    )
    run_id = run.info.run_id
    stamp = _millis(snapshot.get("created_at", ""))
    params = [Param(k, v) for k, v in payload["params"].items()]
    metrics = [Metric(k, v, stamp, 0) for k, v in payload["metrics"].items()]
    tags = [RunTag(k, v) for k, v in payload["tags"].items()]
    # MLflow's limits per call: 100 params, 100 tags, 1000 metrics (one call for most runs)
    params_, tags_, metrics_ = _batches(params, 100), _batches(tags, 100), _batches(metrics, 800)
    for i in range(max(len(params_), len(tags_), len(metrics_))):
        client.log_batch(
            run_id,
            params=params_[i] if i < len(params_) else [],
            tags=tags_[i] if i < len(tags_) else [],
            metrics=metrics_[i] if i < len(metrics_) else [],
        )
    client.log_artifact(run_id, str(root / "snapshots" / f"{snapshot['id']}.toml"), ARTIFACT_DIR)
    artifact = snapshot.get("model", {}).get("artifact")
    if isinstance(artifact, str) and (root / artifact).is_file():
        client.log_artifact(run_id, str(root / artifact), ARTIFACT_DIR)
    client.set_terminated(run_id, "FINISHED")
    return run_id


def _send_decision(client: Any, run: Any, entry: dict[str, Any], workdir: Path) -> None:
    from modelsnap.core.files import dumps_toml

    run_id = run.info.run_id
    path = workdir / f"{entry['id']}.toml"
    path.write_bytes(dumps_toml({"decision": [entry]}))
    client.log_artifact(run_id, str(path), f"{ARTIFACT_DIR}/decisions")
    known = [d for d in run.data.tags.get(DECISIONS_TAG, "").split(",") if d]
    tags = decision_tags(entry)
    tags[DECISIONS_TAG] = ",".join([*known, str(entry["id"])])
    from mlflow.entities import RunTag

    client.log_batch(run_id, tags=[RunTag(k, v) for k, v in tags.items()])


def _exported_runs(client: Any, uri: str, experiment_id: str) -> dict[str, Any]:
    """The experiment's runs by snapshot id; unfinished ones (an interrupted export) as lists
    under ``unfinished:<id>``."""
    existing: dict[str, Any] = {}
    for run in search_all_runs(client, uri, experiment_id):
        snapshot_id = run.data.tags.get(SNAPSHOT_TAG)
        if snapshot_id and run.info.status == "FINISHED":
            existing.setdefault(snapshot_id, run)
        elif snapshot_id:
            existing.setdefault(f"unfinished:{snapshot_id}", []).append(run)
    return existing


def export_mlflow(
    root: Path,
    tracking_uri: str,
    *,
    experiment: str | None = None,
    dry_run: bool = False,
    on_progress: Callable[[str, float, str], None] | None = None,
) -> dict[str, Any]:
    """Send the folder's snapshots and decisions to ``tracking_uri``; returns what was added
    and skipped (the JSON shape of ``modelsnap export mlflow --format json``, docs/cli.md).

    ``experiment`` defaults to the project's name. ``on_progress(stage, fraction, text)``
    follows the sending. Raises MlflowMissing without mlflow, TrackingError for a bad URI.
    """
    from modelsnap.core.records.decision_log import read_decisions
    from modelsnap.core.records.store import list_snapshots

    root = Path(root).resolve()
    uri = check_uri(tracking_uri)
    require_mlflow()
    project_name = _project_name(root)
    name = experiment or project_name
    snapshots, problems = list_snapshots(root)
    decisions = read_decisions(root)
    result: dict[str, Any] = {
        "tracking_uri": shown_uri(uri),
        "experiment": name,
        "experiment_id": None,
        "dry_run": bool(dry_run),
        "added": [],
        "skipped": [],
        "decisions_added": [],
        "decisions_skipped": [],
        "unreadable": [str(p) for p in problems],
    }
    existing: dict[str, Any] = {}
    client = None
    db = sqlite_path(uri)
    if not (dry_run and db is not None and not db.exists()):
        _, client = connect(uri)
        found = experiment_by_name(client, uri, name, required=False)
        if found is not None:
            result["experiment_id"] = found.experiment_id
            existing = _exported_runs(client, uri, found.experiment_id)
    plan = [(s, s["id"] in existing) for s in snapshots]
    for snapshot, present in plan:
        if present:
            result["skipped"].append(
                {
                    "snapshot_id": snapshot["id"],
                    "name": snapshot["name"],
                    "run_id": existing[snapshot["id"]].info.run_id,
                    "reason": "already exported",
                }
            )
    todo = [s for s, present in plan if not present]
    if dry_run:
        for snapshot in todo:
            payload = run_payload(snapshot, project_name)
            result["added"].append(
                {
                    "snapshot_id": snapshot["id"],
                    "name": snapshot["name"],
                    "run_id": None,
                    "params": len(payload["params"]),
                    "metrics": len(payload["metrics"]),
                    "tags": len(payload["tags"]),
                }
            )
        _plan_decisions(decisions, existing, {s["id"] for s in snapshots}, result, None)
        return result
    assert client is not None
    if result["experiment_id"] is None:
        with mlflow_errors(uri, f"create experiment {name!r}"):
            result["experiment_id"] = client.create_experiment(name)
    experiment_id = result["experiment_id"]
    chosen = {str(entry.get("snapshot_id")) for entry in decisions}
    for done, snapshot in enumerate(todo, start=1):
        if on_progress is not None:
            on_progress("export", (done - 1) / max(len(todo), 1), snapshot["id"])
        with mlflow_errors(uri, f"send snapshot {snapshot['id']}"):
            for stale in existing.get(f"unfinished:{snapshot['id']}", []):
                client.delete_run(stale.info.run_id)  # an interrupted export: sent again whole
            payload = run_payload(snapshot, project_name)
            run_id = _send_snapshot(client, experiment_id, root, snapshot, payload)
            if snapshot["id"] in chosen:  # a decision goes on it next: its tags are needed
                existing[snapshot["id"]] = client.get_run(run_id)
        result["added"].append(
            {
                "snapshot_id": snapshot["id"],
                "name": snapshot["name"],
                "run_id": run_id,
                "params": len(payload["params"]),
                "metrics": len(payload["metrics"]),
                "tags": len(payload["tags"]),
            }
        )
    if on_progress is not None:
        on_progress("export", 1.0, f"{len(todo)} snapshot(s) sent")
    with tempfile.TemporaryDirectory(prefix="modelsnap-export-") as workdir:
        _plan_decisions(
            decisions,
            existing,
            {s["id"] for s in snapshots},
            result,
            lambda run, entry: _send_decision(client, run, entry, Path(workdir)),
            uri=uri,
            client=client,
        )
    return result


def _plan_decisions(
    decisions: list[dict[str, Any]],
    existing: dict[str, Any],
    snapshot_ids: set[str],
    result: dict[str, Any],
    send: Callable[[Any, dict[str, Any]], None] | None,
    *,
    uri: str = "",
    client: Any = None,
) -> None:
    for entry in decisions:
        decision_id, snapshot_id = str(entry.get("id")), str(entry.get("snapshot_id"))
        run = existing.get(snapshot_id)
        row = {"decision_id": decision_id, "snapshot_id": snapshot_id}
        if snapshot_id not in snapshot_ids:
            result["decisions_skipped"].append({**row, "reason": "its snapshot is not readable"})
            continue
        if run is not None and decision_id in run.data.tags.get(DECISIONS_TAG, "").split(","):
            result["decisions_skipped"].append({**row, "reason": "already exported"})
            continue
        if send is not None and run is not None:
            with mlflow_errors(uri, f"send decision {decision_id}"):
                send(run, entry)
                existing[snapshot_id] = client.get_run(run.info.run_id)
            row["run_id"] = run.info.run_id
        result["decisions_added"].append(row)


def _project_name(root: Path) -> str:
    """The project's ``[project].name`` (read without a full validation), else the folder's."""
    from modelsnap.core.errors import ModelsnapError
    from modelsnap.core.files import read_toml

    try:
        data = read_toml(root / "modelsnap.toml", what="project file")
        name = data.get("project", {}).get("name")
    except (ModelsnapError, OSError, AttributeError):
        name = None
    return str(name) if isinstance(name, str) and name.strip() else root.name
