"""``modelsnap import mlflow``: the scikit-learn models of MLflow runs become candidates.

For each selected run the parent (this module) finds the run's models (MLflow 3 logged models,
and models logged as run artifacts by MLflow 2), downloads each into the project's staging
folder and reads its ``MLmodel`` file: no model is loaded here. A model with a scikit-learn
flavour goes through the same worker path as ``Project.snapshot`` (``profiler.runner.run_model``
with job mode ``mlflow``): loaded in the isolated worker process only
(``profiler.mlflow_model``), checked against the project's columns, evaluated on the frozen
validation and test splits, profiled, saved as skops, and recorded as a candidate with an
``[origin]`` table (tracking URI, run id, model URI). A fitted model is never refitted.

Pickle and cloudpickle (MLflow's scikit-learn formats; skops files carry an allow-list of their
own) can run code when they load, so nothing is imported unless the caller passes
``trust_pickle=True`` (``--trust-pickle``). Candidates need locked criteria, as always.

A run without a scikit-learn model, whose model artifact is missing, whose features differ
from the project's, or that was imported before, is listed with the reason and skipped.
"""

from __future__ import annotations

import functools
import hashlib
import json
import os
import secrets
import shutil
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from modelsnap.bridges.mlflow_common import (
    TrackingError,
    connect,
    experiment_by_name,
    mlflow_errors,
    search_all_runs,
    shown_uri,
)
from modelsnap.core.errors import ModelsnapError

TRUST_REASON = (
    "MLflow stores scikit-learn models with pickle or cloudpickle (or skops with an allow-list "
    "of its own), and loading such a file can run any code its author put in it"
)
TRUST_HINT = (
    "pass --trust-pickle (trust_pickle=True) if you trust whoever logged these runs; the models "
    "are then loaded only inside modelsnap's isolated worker process, never in this one"
)


TRAINED_ELSEWHERE = (
    "trained outside modelsnap: which rows it learned from cannot be checked; if they include "
    "the validation or test split, its figures are optimistic (train on split.npz's train rows)"
)


class PickleNotTrusted(ModelsnapError):
    """Import was asked without ``--trust-pickle``. CLI exit code 2."""

    exit_code = 2


@dataclass
class FoundModel:
    """One model of a run, downloaded: where it came from and what its MLmodel file says."""

    run_id: str
    run_name: str
    experiment_id: str
    model_uri: str
    model_name: str
    model_id: str | None
    local_dir: Path
    flavors: dict[str, Any] = field(default_factory=dict)
    signature: list[str] | None = None


def _read_mlmodel(path: Path) -> dict[str, Any]:
    import yaml  # a dependency of mlflow

    with open(path, encoding="utf-8") as handle:
        data = yaml.safe_load(handle)
    return data if isinstance(data, dict) else {}


def _signature_columns(mlmodel: dict[str, Any]) -> list[str] | None:
    inputs = (mlmodel.get("signature") or {}).get("inputs")
    if not inputs:
        return None
    try:
        spec = json.loads(inputs) if isinstance(inputs, str) else inputs
        names = [str(col["name"]) for col in spec if isinstance(col, dict) and "name" in col]
    except (TypeError, ValueError, KeyError):
        return None
    return names if names and len(names) == len(spec) else None


def _model_sources(client: Any, uri: str, run: Any) -> list[tuple[str, str, str | None, str]]:
    """(artifact URI to download, model name, model id, model URI) for every model of a run."""
    run_id, experiment_id = run.info.run_id, run.info.experiment_id
    sources: list[tuple[str, str, str | None, str]] = []
    seen: set[str] = set()
    with mlflow_errors(uri, f"list the models of run {run_id}"):
        ids = [
            o.model_id for o in (getattr(run, "outputs", None) and run.outputs.model_outputs or [])
        ]
        logged = []
        if hasattr(client, "search_logged_models"):
            logged = list(
                client.search_logged_models(
                    experiment_ids=[experiment_id],
                    filter_string=f"source_run_id = '{run_id}'",
                )
            )
        known = {m.model_id for m in logged}
        for model_id in ids:
            if model_id not in known:
                logged.append(client.get_logged_model(model_id))
        for model in logged:
            if model.model_id in seen:
                continue
            seen.add(model.model_id)
            sources.append(
                (model.artifact_location, model.name, model.model_id, f"models:/{model.model_id}")
            )
        # MLflow 2 logged models as run artifacts: a top-level folder holding an MLmodel file
        for entry in client.list_artifacts(run_id):
            if not entry.is_dir:
                continue
            inner = {Path(x.path).name for x in client.list_artifacts(run_id, entry.path)}
            if "MLmodel" in inner:
                sources.append(
                    (
                        f"runs:/{run_id}/{entry.path}",
                        entry.path,
                        None,
                        f"runs:/{run_id}/{entry.path}",
                    )
                )
    return sources


def find_models(mlflow: Any, client: Any, uri: str, run: Any, workdir: Path) -> list[FoundModel]:
    """Download each model of ``run`` into ``workdir`` and read its MLmodel file."""
    found = []
    run_name = run.data.tags.get("mlflow.runName") or run.info.run_name or run.info.run_id
    for n, (artifact_uri, name, model_id, model_uri) in enumerate(_model_sources(client, uri, run)):
        target = workdir / f"{run.info.run_id}-{n}"
        target.mkdir(parents=True, exist_ok=True)
        with mlflow_errors(uri, f"download model {model_uri}"):
            local = Path(
                mlflow.artifacts.download_artifacts(
                    artifact_uri=artifact_uri, dst_path=str(target), tracking_uri=uri
                )
            )
        mlmodel_path = local / "MLmodel"
        mlmodel = _read_mlmodel(mlmodel_path) if mlmodel_path.is_file() else {}
        found.append(
            FoundModel(
                run_id=run.info.run_id,
                run_name=str(run_name),
                experiment_id=str(run.info.experiment_id),
                model_uri=model_uri,
                model_name=str(name),
                model_id=model_id,
                local_dir=local,
                flavors=dict(mlmodel.get("flavors") or {}),
                signature=_signature_columns(mlmodel),
            )
        )
    return found


def _candidate_name(model: FoundModel, several: bool) -> str:
    from modelsnap.core.records.store import slug

    base = slug(model.run_name)
    return f"{base}_{slug(model.model_name)}" if several else base


def _wire_model(
    model: FoundModel, trust_pickle: bool, trusted: Sequence[str] = ()
) -> tuple[dict[str, Any] | None, str]:
    """The worker's ``mlflow_model`` job entry, or (None, why it cannot be imported)."""
    flavor = model.flavors.get("sklearn")
    if not isinstance(flavor, dict):
        kinds = ", ".join(sorted(model.flavors)) or "none"
        return None, f"no scikit-learn model (MLflow flavours: {kinds})"
    fmt = str(flavor.get("serialization_format") or "pickle")
    file_name = str(flavor.get("pickled_model") or "model.pkl")
    path = model.local_dir / file_name
    if not path.is_file() or Path(file_name).name != file_name:
        return None, f"the model artifact {file_name} is missing from {model.model_uri}"
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    return {
        "path": str(path),
        "format": fmt,
        "sha256": digest,
        "trust_pickle": bool(trust_pickle),
        "trusted": [str(t) for t in trusted],
        "columns": model.signature,
    }, ""


def _select_runs(
    client: Any,
    uri: str,
    run_ids: Sequence[str],
    experiment: str | None,
    filter_string: str | None,
) -> list[Any]:
    if run_ids and experiment:
        raise TrackingError(
            "give run ids or an experiment, not both",
            hint="--run-id ID ... | --experiment NAME [--filter ...]",
        )
    if filter_string and not experiment:
        raise TrackingError(
            "--filter needs --experiment", hint='--experiment NAME --filter "metrics.f1 > 0.8"'
        )
    if not run_ids and not experiment:
        raise TrackingError(
            "say which runs to import", hint="--run-id ID ... or --experiment NAME [--filter ...]"
        )
    if experiment:
        found = experiment_by_name(client, uri, experiment, required=True)
        runs = search_all_runs(client, uri, found.experiment_id, filter_string or "")
        if not runs:
            raise TrackingError(
                f"no run of experiment {experiment!r} matches"
                + (f" {filter_string!r}" if filter_string else ""),
                where=f"tracking URI {shown_uri(uri)!r}",
                hint="loosen the filter, or list the runs in MLflow's UI",
            )
        return runs
    runs, unknown = [], []
    for run_id in dict.fromkeys(run_ids):
        try:
            with mlflow_errors(uri, f"read run {run_id}"):
                runs.append(client.get_run(run_id))
        except TrackingError:
            unknown.append(run_id)
    if unknown:
        raise TrackingError(
            f"no run {', '.join(map(repr, unknown))} in this tracking store",
            where=f"tracking URI {shown_uri(uri)!r}",
            hint="copy the run id from MLflow (the run page, or mlflow.search_runs)",
        )
    return runs


def _imported_before(root: Path) -> dict[tuple[str, str], str]:
    """(run id, model URI) -> snapshot id, for the models already imported into this folder."""
    from modelsnap.core.records.store import list_snapshots

    done = {}
    for snapshot in list_snapshots(root)[0]:
        origin = snapshot.get("origin")
        if isinstance(origin, dict) and origin.get("tool") == "mlflow":
            done[(str(origin.get("run_id")), str(origin.get("model_uri")))] = snapshot["id"]
    return done


def import_mlflow(
    root: Path,
    tracking_uri: str,
    *,
    run_ids: Sequence[str] = (),
    experiment: str | None = None,
    filter_string: str | None = None,
    trust_pickle: bool = False,
    again: bool = False,
    trusted: Sequence[str] = (),
    version: str = "v1",
    timeout: float | None = None,
    memory_limit_mb: float | None = None,
    on_start: Callable[[str, str], None] | None = None,
    on_event: Callable[[str, Any], None] | None = None,
    on_warning: Callable[[str, str], None] | None = None,
    cancel: threading.Event | None = None,
) -> dict[str, Any]:
    """Import the scikit-learn models of the selected runs as candidates; returns
    ``{"imported": [...], "skipped": [...]}`` (the JSON of ``modelsnap import mlflow``).

    Refuses (PickleNotTrusted) unless ``trust_pickle``; needs locked criteria (CriteriaError);
    TrackingError for a bad URI, an unknown run id or experiment, an unreadable filter.
    ``again`` imports a run's model once more even when a snapshot already came from it;
    ``trusted`` names types a skops-format model may hold beyond modelsnap's allow-list.
    """
    from modelsnap.core.files import tmp_dir
    from modelsnap.core.project.parse import load_project
    from modelsnap.profiler.job_specs import (
        Overrides,
        criteria_revision_for,
        latest_baseline,
        settings_for,
    )
    from modelsnap.profiler.runner import RunJob, run_model

    if not trust_pickle:
        raise PickleNotTrusted(
            f"refusing to import without --trust-pickle: {TRUST_REASON}", hint=TRUST_HINT
        )
    root = Path(root).resolve()
    config = load_project(root)
    revision = criteria_revision_for(config, "candidate")  # CriteriaError before any download
    mlflow, client = connect(tracking_uri)
    uri = tracking_uri.strip()
    runs = _select_runs(client, uri, list(run_ids), experiment, filter_string)
    before = {} if again else _imported_before(root)
    result: dict[str, Any] = {
        "tracking_uri": shown_uri(uri),
        "imported": [],
        "skipped": [],
    }
    # .tmp-<pid>-...: a folder left by a killed import is swept by files.clean_stale_tmp
    workdir = tmp_dir(root) / f".tmp-{os.getpid()}-mlflow-{secrets.token_hex(6)}"
    workdir.mkdir()
    try:
        for run in runs:
            run_id = run.info.run_id
            models = find_models(mlflow, client, uri, run, workdir)
            if not models:
                result["skipped"].append(
                    {"run_id": run_id, "model_uri": None, "reason": "the run logged no model"}
                )
                continue
            sklearn_models = [m for m in models if "sklearn" in m.flavors]
            for model in models:
                row = {"run_id": run_id, "model_uri": model.model_uri}
                done = before.get((run_id, model.model_uri))
                if done is not None:
                    result["skipped"].append(
                        {**row, "reason": f"already imported as {done} (--again imports it anew)"}
                    )
                    continue
                wire, why = _wire_model(model, trust_pickle, trusted)
                if wire is None:
                    result["skipped"].append({**row, "reason": why})
                    continue
                name = _candidate_name(model, len(sklearn_models) > 1)
                if cancel is not None and cancel.is_set():
                    result["skipped"].append({**row, "name": name, "reason": "cancelled"})
                    continue
                if on_start is not None:
                    on_start(name, "candidate")
                if on_warning is not None:
                    on_warning(name, TRAINED_ELSEWHERE)
                origin = {
                    "tool": "mlflow",
                    "tracking_uri": shown_uri(uri),
                    "run_id": run_id,
                    "run_name": model.run_name,
                    "experiment_id": model.experiment_id,
                    "model_uri": model.model_uri,
                    "artifact_path": model.model_name,
                    "format": wire["format"],
                }
                if model.model_id:
                    origin["model_id"] = model.model_id
                job = RunJob(
                    root=root,
                    name=name,
                    kind="candidate",
                    mlflow_model=wire,
                    origin=origin,
                    version=version,
                    notes=f"imported from MLflow run {run_id} ({model.model_uri}); "
                    + TRAINED_ELSEWHERE,
                    criteria_revision=revision,
                    constraints=dict(config.constraints),
                    primary_metric=config.selection.primary_metric,
                    baseline=latest_baseline(root, config.data.source),
                    **settings_for(
                        config,
                        None,
                        Overrides(timeout_seconds=timeout, memory_limit_mb=memory_limit_mb),
                    ),
                )
                try:
                    snapshot = run_model(
                        job,
                        cancel=cancel,
                        on_event=None if on_event is None else functools.partial(on_event, name),
                        on_warning=None
                        if on_warning is None
                        else functools.partial(on_warning, name),
                    )
                except ModelsnapError as exc:
                    result["skipped"].append({**row, "name": name, "reason": exc.message})
                    continue
                result["imported"].append(
                    {**row, "name": name, "snapshot_id": snapshot["id"], "snapshot": snapshot}
                )
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    return result
