"""The worker process: ``python -m modelsnap.profiler.worker`` runs one job and exits.

Why a separate process: ``estimator.fit()`` cannot be interrupted from a thread, and a model may
crash, hang or eat memory. Here it can do all three and the caller (CLI, TUI, notebook) survives,
because the parent kills this process group. The protocol (docs/profiler.md):

- stdin: one JSON job (written by ``runner.RunJob.to_wire``), then EOF;
- stdout: JSON lines (``events``): progress, warnings, then exactly one ``result`` or ``error``;
- stderr: anything else. The real stdout fd is moved aside first and fd 1 pointed at stderr, so a
  library that prints (even from C) cannot corrupt the protocol.

Files are written only into the staging folder the parent names; the parent moves them into the
project with ``store.write_snapshot`` or deletes them.

The run path's stages live in ``stages`` (each a function with explicit inputs and outputs);
here each job mode composes them (``run_job``).
"""

from __future__ import annotations

import json
import os
import sys
import traceback
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from modelsnap.core.errors import ModelsnapError
from modelsnap.core.records.canonical import toml_value
from modelsnap.profiler import stages
from modelsnap.profiler.stages import (
    ARTIFACT_NAME,
    PREDICTIONS_NAME,
    Channel,
    Loaded,
    WorkerError,
    check_predictions,
    limit_threads,
    plain,
)


def _isolate_stdout() -> int:
    """Move the protocol stdout to a private fd and send everything else on fd 1 to stderr."""
    sys.stdout.flush()
    private = os.dup(1)
    os.dup2(2, 1)
    sys.stdout = sys.stderr
    return private


# --------------------------------------------------------------------------- the job modes


def run_job(job: dict[str, Any], ch: Channel) -> dict[str, Any]:
    """The job's mode, composed of the stages (``stages``); returns the result's snapshot body."""
    mode = job["mode"]
    if mode == "edge":
        return edge(job, ch)
    if mode in ("predict", "monitor"):
        return score_rows(job, ch)
    if mode == "reprofile":
        return reprofile(job, ch)
    if mode == "profile":
        return profile_staged(job, ch)
    if job.get("grid_point") is not None:
        return grid_point(job, ch)
    return evaluate_model(job, ch)


def _fit_built(
    ctx: Loaded, ch: Channel, built: stages.Built
) -> tuple[Any, dict[str, Any] | None, stages.Fitted]:
    """The model as evaluated: searched and fitted here, or as it came (already fitted)."""
    if not built.needs_fit:
        ch.warn(f"model {ctx.name!r} came fitted: fit time and fit memory were not measured")
        return built.model, None, stages.Fitted({"fit_seconds": 0.0, "fit_measured": False})
    model, search_table = stages.search(ctx, ch, built.model)
    return model, search_table, stages.fit(ctx, ch, model)


def evaluate_model(job: dict[str, Any], ch: Channel) -> dict[str, Any]:
    """Modes ``project``, ``python`` and ``mlflow``: the whole run path of one model."""
    from modelsnap.core.evaluation.pipeline import toml_params

    ctx = stages.load(job, ch)
    built = stages.build(ctx)
    model, search_table, fitted = _fit_built(ctx, ch, built)
    preds, metric_tables = stages.evaluate(ctx, ch, model)
    analysis_tables = stages.analyse(ctx, ch, model, preds, metric_tables)
    if ctx.settings.get("profile", True):
        resources = {**fitted.resources, **stages.profile(ctx, ch, model, fitted.peak)}
    else:  # profiled later, on the machine that records it (docs/distributed.md)
        resources = {**fitted.resources, **stages.fit_memory(fitted.peak)}
    resources.update(stages.save(ctx, ch, model, preds))
    model_table: dict[str, Any] = {} if search_table is None else {"search": search_table}
    model_table.update(
        {
            "estimator": built.estimator_path,
            "params": toml_params(stages.final_estimator(model)),
            "source": built.source,
        }
    )
    body = {
        **stages.header_saved(ch, job, built.estimator_path),
        **analysis_tables,
        "model": model_table,
        "data": stages.data_table(ctx),
        "metrics": metric_tables,
        "resources": resources,
    }
    if isinstance(job.get("origin"), dict):
        body["origin"] = dict(job["origin"])
    return body


def grid_point(job: dict[str, Any], ch: Channel) -> dict[str, Any]:
    """Score point ``job["grid_point"]`` of the model's grid, alone (one task per point)."""
    ctx = stages.load(job, ch)
    built = stages.build(ctx)
    points = stages.grid_points(job["spec"]["grid"])
    index = int(job["grid_point"])
    point = points[index]
    ch.progress("search", 0.0, f"{index + 1}/{len(points)}: {point}")
    score = stages.score_point(ctx, built.model, point)
    ch.progress("search", 1.0, f"{index + 1}/{len(points)}: {score:.4g}")
    return {"grid_point": index, "score": score}


def _check_same_data(ctx: Loaded, original: Mapping[str, Any]) -> None:
    """Re-profiling needs the data file and split the snapshot was made on."""
    recorded = original["data"]
    for key, have in (
        ("dataset_sha256", ctx.dataset.dataset_sha256),
        ("split_sha256", ctx.split.split_sha256),
    ):
        if recorded[key] != have:
            raise WorkerError(
                f"snapshot {original['id']} was made on other data ({key} differs)",
                hint="re-profiling needs the same data file and split.npz",
            )


def reprofile(job: dict[str, Any], ch: Channel) -> dict[str, Any]:
    """Profile an existing artifact again on this machine; metrics are copied, not recomputed.

    Fit figures are copied too (nothing is refitted); predict figures are new.
    """
    from modelsnap.core.evaluation.artifacts import load_artifact
    from modelsnap.core.files import inside
    from modelsnap.core.records.store import read_snapshot

    original = read_snapshot(Path(job["root"]), job["reprofile_of"])
    ctx = stages.load(job, ch)
    _check_same_data(ctx, original)
    ch.progress("load", 1.0, f"loading {original['model']['artifact']} (hash-checked)")
    artifact_path = inside(ctx.root, original["model"]["artifact"], what="artifact")
    model = load_artifact(
        artifact_path,
        original["model"]["artifact_sha256"],
        trusted=job.get("trusted", []),
        config=ctx.config,
    )
    estimator_path = original["model"]["estimator"]
    preds = stages.evaluate_for_reprofile(ctx, ch, model)
    resources: dict[str, Any] = {
        k: original["resources"][k]
        for k in ("fit_seconds", "fit_cpu_seconds", "fit_measured", "peak_memory_fit_mb")
        if k in original.get("resources", {})
    }
    resources.update(stages.profile(ctx, ch, model))
    if "peak_memory_fit_mb" in resources:
        resources["peak_memory_mb"] = max(
            resources["peak_memory_fit_mb"], resources["peak_memory_predict_mb"]
        )
    stages.compare_predictions(ctx, ch, original, preds)
    resources.update(stages.save(ctx, ch, model, preds, existing_artifact=artifact_path))
    # artifact_sha256 stays: the store checks the staged copy against it.
    model_table = {k: v for k, v in original["model"].items() if k != "artifact"}
    body = {
        **stages.header_saved(ch, job, estimator_path),
        "model": model_table,
        "data": stages.data_table(ctx),
        "metrics": original["metrics"],
        "resources": resources,
        "reprofile_of": original["id"],
    }
    body["version"] = job.get("version") or original.get("version", "v1")
    tables: Mapping[str, Any] = original
    for key in ("interpretability", "fairness", "edge_cases", "checks", "origin"):
        if key in tables:
            body[key] = tables[key]
    return body


def profile_staged(job: dict[str, Any], ch: Channel) -> dict[str, Any]:
    """Latency, throughput and predict memory of an artifact fitted elsewhere (staged here).

    The artifact is hash- and type-checked like any other; the validation predictions it
    gives here are compared with the ones it came with. Returns ``resources`` (predict
    figures only), this machine's ``environment`` and ``hardware``; nothing is saved.
    """
    import numpy as np

    from modelsnap.core.evaluation import environment
    from modelsnap.core.evaluation.artifacts import load_artifact

    expected = job["expected"]
    ctx = stages.load(job, ch)
    for key in ("dataset_sha256", "split_sha256"):
        have = getattr(ctx.dataset if key == "dataset_sha256" else ctx.split, key)
        if expected[key] != have:
            raise WorkerError(
                f"model {ctx.name!r} was fitted on other data ({key} differs from this project's)",
                hint="the data file or split.npz changed during the run; run it again",
            )
    model = load_artifact(
        ctx.staging / ARTIFACT_NAME,
        expected["artifact_sha256"],
        trusted=job.get("trusted", []),
        config=ctx.config,
    )
    estimator_path = expected.get("estimator", "")
    ch.progress("evaluate", 0.0, "checking the fitted model's predictions here")
    valid = ctx.X["validation"]
    here = check_predictions(model.predict(valid), len(valid), "validation", ctx.name)
    with np.load(ctx.staging / PREDICTIONS_NAME, allow_pickle=False) as stored:
        there = stored["validation_pred"]
    differ = stages.differing_predictions(ctx.dataset.task, there, here)
    if differ:
        ch.warn(
            f"{differ} of {len(here)} validation predictions differ between the machine "
            "that fitted the model and this one: their library versions change its behaviour"
        )
    ch.progress("evaluate", 1.0)
    resources = stages.profile(ctx, ch, model)
    for key in ("peak_memory_fit_mb", "peak_memory_mb"):
        resources.pop(key, None)
    return {
        "resources": resources,
        "environment": environment.environment_table(ctx.root, estimator=estimator_path),
        "hardware": environment.hardware_table(),
    }


def edge(job: dict[str, Any], ch: Channel) -> dict[str, Any]:
    """Run the edge-case file over the listed snapshots' artifacts (``modelsnap edge``).

    Artifacts are loaded here, never in the caller: each is hash-checked and type-checked
    (``artifacts.load_artifact``) and its outcome sent as one ``item`` message, in order,
    so the caller knows which model a crash happened on. Nothing is written.
    """
    from modelsnap.core.evaluation.artifacts import load_artifact
    from modelsnap.core.evaluation.data import load_dataset
    from modelsnap.core.evaluation.edgecases import (
        default_tolerance,
        edge_cases_for_dataset,
        run_cases,
    )
    from modelsnap.core.files import inside
    from modelsnap.core.project.parse import load_project

    root = Path(job["root"])
    ch.progress("load", 0.0, "reading the project, the data and the edge cases")
    config = load_project(root)
    dataset = load_dataset(config)
    relative = str(job["edge_file"])
    cases = edge_cases_for_dataset(
        inside(root, relative, what="[data].edge_cases"), dataset, display_name=relative
    )
    expected = job.get("edge_sha256")
    if expected is not None and cases.sha256 != expected:
        raise WorkerError(
            f"{relative} changed while the edge cases were being run",
            where=relative,
            hint="run modelsnap edge again",
        )
    tolerance = default_tolerance(dataset.target) if dataset.task == "regression" else 0.0
    limit_threads(int(job.get("settings", {}).get("threads", 1)))
    ch.progress("load", 1.0, f"{len(cases)} cases")
    snapshots = list(job.get("snapshots") or [])
    for done, entry in enumerate(snapshots, start=1):
        ch.stage = "evaluate"
        try:
            model = load_artifact(
                inside(root, str(entry["artifact"]), what="[model].artifact"),
                str(entry["artifact_sha256"]),
                trusted=job.get("trusted", []),
                config=config,
            )
            result = run_cases(model, cases, task=dataset.task, tolerance=tolerance)
        except ModelsnapError as exc:
            result = {"error": str(exc)}
        ch.send({"type": "item", "id": str(entry["id"]), "result": plain(result)})
        ch.progress("evaluate", done / len(snapshots), str(entry["id"]))
    return {}


def score_rows(job: dict[str, Any], ch: Channel) -> dict[str, Any]:
    """Modes ``predict`` and ``monitor``: rows scored by recorded models (``scoring``)."""
    from modelsnap.profiler import scoring

    limit_threads(int(job.get("settings", {}).get("threads", 1)))
    return scoring.run_in_worker(job, send=ch.send, progress=ch.progress)


# --------------------------------------------------------------------------- entry point


def read_job(text: str) -> dict[str, Any]:
    """Parse and check the job the parent wrote; a bad job is a bug, reported as a WorkerError."""
    try:
        job = json.loads(text)
    except json.JSONDecodeError as exc:
        raise WorkerError(f"the job on stdin is not JSON ({exc})") from None
    if not isinstance(job, dict):
        raise WorkerError("the job on stdin is not a JSON object")
    missing = [k for k in ("root", "name", "kind", "mode", "staging") if k not in job]
    if missing:
        raise WorkerError(f"the job lacks {', '.join(missing)}")
    if job["mode"] not in (
        "project",
        "python",
        "mlflow",
        "reprofile",
        "profile",
        "edge",
        "predict",
        "monitor",
    ):
        raise WorkerError(f"unknown job mode {job['mode']!r}")
    return job


def _error_message(exc: BaseException, stage: str) -> dict[str, Any]:
    message: dict[str, Any] = {
        "type": "error",
        "error_type": type(exc).__name__,
        "message": str(exc) if not isinstance(exc, ModelsnapError) else exc.message,
        "stage": stage,
    }
    if isinstance(exc, ModelsnapError):
        message["modelsnap"] = True
        message["exit_code"] = int(exc.exit_code)
        if exc.where:
            message["where"] = exc.where
        if exc.hint:
            message["hint"] = exc.hint
    return message


def _watch_parent(parent: int, period: float = 0.25) -> None:
    """End the whole worker process group once its parent is gone.

    The parent enforces timeouts and memory ceilings; if it is killed (SIGKILL cannot be caught),
    nothing else would stop a long fit. The worker leads its own session, so killing its process
    group also stops anything the model forked. The staging folder it leaves behind is a stale
    temp entry that ``files.clean_stale_tmp`` removes.
    """
    import signal
    import threading
    import time

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(period)
        # The run's group is led by us, or by the reaper that started us (runner -> reaper ->
        # worker, all in the session the runner created for the run).
        if os.getpgrp() in (os.getpid(), parent):
            os.killpg(os.getpgrp(), signal.SIGKILL)
        os.kill(os.getpid(), signal.SIGKILL)

    threading.Thread(target=watch, name="modelsnap-parent-watch", daemon=True).start()


def main() -> int:
    _watch_parent(os.getppid())
    channel = Channel(_isolate_stdout())
    try:
        job = read_job(sys.stdin.read())
        if job.get("trust_code"):  # names the user trusted, carried to another machine
            from modelsnap.core.evaluation.pipeline import TRUST_CODE_ENV

            os.environ[TRUST_CODE_ENV] = ",".join(map(str, job["trust_code"]))
        result = toml_value(run_job(job, channel))
        channel.send(
            {
                "type": "result",
                "snapshot": result,
                "staged": {"artifact": ARTIFACT_NAME, "predictions": PREDICTIONS_NAME},
            }
        )
        return 0
    except Exception as exc:  # noqa: BLE001 - every failure is reported to the parent, typed
        traceback.print_exc(file=sys.stderr)
        channel.send(_error_message(exc, channel.stage))
        return 1


if __name__ == "__main__":
    sys.exit(main())
