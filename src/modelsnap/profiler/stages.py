"""The stages of a worker's run path, each a function with explicit inputs and outputs.

``load`` reads the project, the data set and the frozen split once and returns a frozen
``Loaded``; every later stage takes it (and the ``Channel`` it reports on) and returns what it
made: ``build`` -> ``Built``, ``search`` -> the model to fit and the ``[model].search`` table,
``fit`` -> ``Fitted``, ``evaluate`` -> ``Evaluated`` (predictions and metric tables),
``analyse`` -> the analysis tables, ``profile`` / ``fit_memory`` / ``save`` -> ``[resources]``
entries, ``header`` / ``data_table`` -> parts of the snapshot body. Nothing passes between
stages except through their arguments and results, so ``worker`` composes them per job mode
(docs/profiler.md, "Stages").
"""

from __future__ import annotations

import os
import time
import zipfile
import zlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from modelsnap.core.errors import ModelsnapError
from modelsnap.core.measures import PROBABILITY_METRICS
from modelsnap.core.records.canonical import toml_value
from modelsnap.profiler import events
from modelsnap.profiler.events import ProgressEvent
from modelsnap.profiler.memory import PeakMemory, measure_peak, resources_entry
from modelsnap.profiler.timing import (
    DEFAULT_BATCH_REPEATS,
    default_batch_size,
    measure_batch,
    measure_latency_split,
)

if TYPE_CHECKING:
    from modelsnap.core.evaluation.data import Dataset, Split
    from modelsnap.core.project.schema import ProjectConfig

ARTIFACT_NAME = "model.skops"
PREDICTIONS_NAME = "predictions.npz"
PARTS = ("train", "validation", "test")


class WorkerError(ModelsnapError):
    """The model or the job cannot be run as asked (wrong output shape, no probabilities, ...)."""


class Channel:
    """Writes protocol lines to the private copy of the original stdout."""

    def __init__(self, fd: int) -> None:
        self._stream = os.fdopen(fd, "w", encoding="utf-8", buffering=1)
        self.stage = "load"

    def send(self, message: dict[str, Any]) -> None:
        self._stream.write(events.encode(message) + "\n")
        self._stream.flush()

    def progress(self, stage: str, fraction: float, message: str = "") -> None:
        self.stage = stage
        self.send(ProgressEvent(stage, min(1.0, max(0.0, fraction)), message).to_dict())

    def warn(self, message: str) -> None:
        self.send({"type": "warning", "message": message})

    def stage_progress(self, stage: str) -> Callable[[float], None]:
        return lambda fraction: self.progress(stage, fraction)


# --------------------------------------------------------------------------- helpers


def limit_threads(threads: int) -> dict[str, int]:
    """Apply the same BLAS/OpenMP limit to every model and report what the libraries now use."""
    from threadpoolctl import threadpool_info, threadpool_limits

    threadpool_limits(limits=threads)
    used = {"blas": threads, "openmp": threads}
    for pool in threadpool_info():
        api = pool.get("user_api")
        if api in used:
            used[api] = int(pool.get("num_threads", threads))
    used["n_jobs"] = threads
    return used


def _force_n_jobs(estimator: Any, threads: int) -> None:
    """Set every ``n_jobs`` parameter (also nested ones) to the common thread count.

    ``None`` already means one job in joblib, so it is left alone for ``threads == 1``: setting
    it explicitly only earns deprecation warnings from estimators that ignore it.
    """
    if not hasattr(estimator, "get_params"):
        return
    params = estimator.get_params(deep=True)
    forced = {
        key: threads
        for key, value in params.items()
        if (key == "n_jobs" or key.endswith("__n_jobs"))
        and value != threads
        and not (value is None and threads == 1)
    }
    if forced:
        estimator.set_params(**forced)


def plain(value: Any) -> Any:
    """JSON-safe without losing entries: numpy scalars as Python values, NaN/inf as text."""
    import math

    if isinstance(value, dict):
        return {str(k): plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [plain(v) for v in value]
    if hasattr(value, "item") and not isinstance(value, (str, bytes)):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    return str(value)


def _dotted(estimator: Any) -> str:
    cls = type(estimator)
    return f"{cls.__module__}.{cls.__qualname__}"


def final_estimator(model: Any) -> Any:
    steps = getattr(model, "steps", None)
    return steps[-1][1] if steps else model


def _is_fitted(estimator: Any) -> bool:
    from sklearn.exceptions import NotFittedError
    from sklearn.utils.validation import check_is_fitted

    try:
        check_is_fitted(estimator)
    except NotFittedError:
        return False
    except TypeError:
        return False
    return True


def _needs_probabilities(config: ProjectConfig) -> list[str]:
    """The probability metrics the criteria, constraints or primary metric depend on."""
    wanted = {getattr(config.selection, "primary_metric", "")}
    wanted.update(getattr(c, "metric", "") for c in config.criteria)
    minimums = (
        config.constraints.get("min_metric", {}) if isinstance(config.constraints, dict) else {}
    )
    wanted.update(minimums)
    return sorted(m for m in wanted if m in PROBABILITY_METRICS)


def check_predictions(pred: Any, n_rows: int, what: str, name: str) -> Any:
    import numpy as np

    array = np.asarray(pred)
    if array.ndim == 2 and array.shape[1] == 1:
        array = array.ravel()
    if array.ndim != 1 or array.shape[0] != n_rows:
        raise WorkerError(
            f"model {name!r}: predict returned shape {tuple(array.shape)} for {n_rows} {what} rows",
            hint="predict must return one value per row (shape (n_rows,))",
        )
    return array


def _check_proba(proba: Any, n_rows: int, n_classes: int, name: str) -> Any:
    import numpy as np

    array = np.asarray(proba, dtype=float)
    if array.shape != (n_rows, n_classes):
        raise WorkerError(
            f"model {name!r}: predict_proba returned shape {tuple(array.shape)}, "
            f"expected ({n_rows}, {n_classes})",
            hint="predict_proba must return one column per class, in classes_ order",
        )
    if not np.all(np.isfinite(array)):
        raise WorkerError(f"model {name!r}: predict_proba returned NaN or infinite values")
    return array


# --------------------------------------------------------------------------- what stages pass on


@dataclass(frozen=True)
class Loaded:
    """What ``load`` read for one job: the project, the data set, its split, the thread limit."""

    job: dict[str, Any]
    config: ProjectConfig
    dataset: Dataset
    split: Split
    X: dict[str, Any]  # features per part: train, validation, test
    y: dict[str, Any]  # target per part
    threads: dict[str, int]
    primary_metric: str

    @property
    def root(self) -> Path:
        return Path(self.job["root"])

    @property
    def name(self) -> str:
        return str(self.job["name"])

    @property
    def settings(self) -> dict[str, Any]:
        settings: dict[str, Any] = self.job.get("settings", {})
        return settings

    @property
    def staging(self) -> Path:
        return Path(self.job["staging"])


@dataclass(frozen=True)
class Built:
    """The model to evaluate, whether it still needs fitting, and how the snapshot names it."""

    model: Any
    needs_fit: bool
    estimator_path: str
    source: str


@dataclass(frozen=True)
class Fitted:
    """The fit's ``[resources]`` figures and its memory peak (None: not fitted here)."""

    resources: dict[str, Any]
    peak: PeakMemory | None = None


@dataclass(frozen=True)
class Predictions:
    """Validation and test predictions (and probabilities, when the model gives them)."""

    pred: dict[str, Any]
    proba: dict[str, Any]


# --------------------------------------------------------------------------- stages


def load(job: dict[str, Any], ch: Channel) -> Loaded:
    """Read the project and the data set, make (or read) the frozen split, limit the threads."""
    from modelsnap.core.evaluation.data import ensure_split, load_dataset
    from modelsnap.core.project.parse import load_project

    ch.progress("load", 0.0, "reading the project and the data")
    config = load_project(Path(job["root"]))
    dataset = load_dataset(config)
    frame = dataset.frame
    ch.progress("load", 1.0, f"{len(frame)} rows, {frame.shape[1]} columns")
    ch.progress("split", 0.0)
    split = ensure_split(config, dataset)
    X = {part: frame.iloc[getattr(split, part)] for part in PARTS}
    y = {part: dataset.target.iloc[getattr(split, part)] for part in PARTS}
    ch.progress("split", 1.0, ", ".join(f"{k} {len(v)}" for k, v in X.items()))
    threads = limit_threads(int(job.get("settings", {}).get("threads", 1)))
    primary_metric = config.selection.primary_metric or (
        "r2" if dataset.task == "regression" else "f1"
    )
    return Loaded(job, config, dataset, split, X, y, threads, primary_metric)


def _unfitted_estimator(ctx: Loaded) -> tuple[Any, str]:
    """The estimator of a ``project``, ``mlflow`` or ``python`` job and its ``source``."""
    from modelsnap.core.evaluation.pipeline import build_estimator
    from modelsnap.core.project.schema import ModelSpec

    job, mode = ctx.job, ctx.job["mode"]
    if mode == "project":
        spec = job["spec"]
        model_spec = ModelSpec(
            name=ctx.name,
            estimator=spec["estimator"],
            params=dict(spec.get("params") or {}),
            grid=spec.get("grid"),
            kind=job["kind"],
        )
        return build_estimator(model_spec, ctx.root), "project"
    if mode == "mlflow":
        from modelsnap.profiler.mlflow_model import load_imported_model

        estimator = load_imported_model(
            job["mlflow_model"], ctx.config, list(ctx.dataset.frame.columns), ctx.name
        )
        return estimator, "python"
    return _unpickle(job, ctx.name), "python"


def build(ctx: Loaded) -> Built:
    """The model to evaluate and whether it still needs fitting."""
    from modelsnap.core.evaluation.pipeline import make_pipeline

    mode = ctx.job["mode"]
    estimator, source = _unfitted_estimator(ctx)
    fitted = mode in ("python", "mlflow") and _is_fitted(estimator)
    if mode == "mlflow" and not fitted:
        raise WorkerError(
            f"model {ctx.name!r}: the imported model is not fitted",
            hint="an imported model is evaluated as it was trained, never refitted: "
            "log the fitted model to MLflow",
        )
    if fitted:
        return Built(estimator, False, _dotted(final_estimator(estimator)), source)
    path = ctx.job["spec"]["estimator"] if mode == "project" else _dotted(estimator)
    _force_n_jobs(estimator, ctx.threads["n_jobs"])
    return Built(make_pipeline(ctx.config, ctx.dataset.frame, estimator), True, path, source)


def _unpickle(job: dict[str, Any], name: str) -> Any:
    import base64
    import pickle
    import sys

    for entry in reversed(job.get("sys_path", [])):
        if entry not in sys.path:
            sys.path.insert(0, entry)
    try:
        return pickle.loads(base64.b64decode(job["estimator_pickle"]))
    except (AttributeError, ModuleNotFoundError, ImportError) as exc:
        raise WorkerError(
            f"model {name!r}: the estimator cannot be loaded in the worker ({exc})",
            hint="define the estimator's class in an importable module, not in a notebook cell",
        ) from None


def grid_points(grid: dict[str, Any]) -> list[dict[str, Any]]:
    """The grid's points, as pipeline parameters (``model__<name>``), in ParameterGrid's order."""
    from sklearn.model_selection import ParameterGrid

    return list(ParameterGrid({f"model__{k}": v for k, v in grid.items()}))


def _search_scores(
    ctx: Loaded, ch: Channel, pipeline: Any, points: list[dict[str, Any]]
) -> list[float]:
    """Each point's validation score: the ones scored elsewhere (one task per point), or here."""
    scores = ctx.job.get("search_scores")
    if scores is not None:
        if len(scores) != len(points):
            raise WorkerError(f"{len(scores)} grid scores for {len(points)} grid points")
        return [float(score) for score in scores]
    here = []
    for i, point in enumerate(points):
        ch.progress("search", i / len(points), f"{i + 1}/{len(points)}: {point}")
        here.append(score_point(ctx, pipeline, point))
    return here


def search(ctx: Loaded, ch: Channel, pipeline: Any) -> tuple[Any, dict[str, Any] | None]:
    """Pick grid params on the validation split only; the test split is never looked at.

    Returns the model to fit and the ``[model].search`` table (None without a grid).
    """
    from sklearn.base import clone

    from modelsnap.core.measures import direction

    grid = (ctx.job.get("spec") or {}).get("grid")  # python mode has no spec
    if not grid:
        return pipeline, None
    metric = ctx.primary_metric
    points = grid_points(grid)
    scores = _search_scores(ctx, ch, pipeline, points)
    pick = max if direction(metric) == "max" else min
    best = points[scores.index(pick(scores))]
    table = {
        "grid": toml_value(grid),
        "metric": metric,
        "scores": scores,
        "best": toml_value({k.removeprefix("model__"): v for k, v in best.items()}),
    }
    ch.progress("search", 1.0, f"best {best} ({metric})")
    return clone(pipeline).set_params(**best), table


def score_point(ctx: Loaded, pipeline: Any, point: dict[str, Any]) -> float:
    """Fit one grid point on train and score it on validation (the primary metric)."""
    from sklearn.base import clone

    candidate = clone(pipeline).set_params(**point)
    candidate.fit(ctx.X["train"], ctx.y["train"])
    return validation_score(ctx, candidate, ctx.primary_metric)


def validation_score(ctx: Loaded, model: Any, metric: str) -> float:
    from modelsnap.core.evaluation.metrics import compute_metrics

    ds = ctx.dataset
    part = "validation"
    pred = check_predictions(model.predict(ctx.X[part]), len(ctx.X[part]), part, ctx.name)
    proba = (
        aligned_proba(ctx, model, part)
        if ds.task == "classification" and hasattr(model, "predict_proba")
        else None
    )
    values = compute_metrics(ds.task, ctx.y[part], pred, proba, ds.classes, ds.positive_label)
    if metric not in values:
        raise WorkerError(
            f"model {ctx.name!r}: the grid metric {metric} is undefined on the "
            "validation split for this model",
            hint="pick another [selection].primary_metric",
        )
    return float(values[metric])


def fit(ctx: Loaded, ch: Channel, model: Any) -> Fitted:
    """Fit on train, timed (wall and CPU seconds) and memory-measured."""
    import psutil

    ch.progress("fit", 0.0, f"fitting on {len(ctx.X['train'])} rows")
    process = psutil.Process()

    def cpu() -> float:
        t = process.cpu_times()
        return t.user + t.system + t.children_user + t.children_system

    cpu0, wall0 = cpu(), time.perf_counter()
    _, peak = measure_peak(lambda: model.fit(ctx.X["train"], ctx.y["train"]))
    wall, cpu_seconds = time.perf_counter() - wall0, cpu() - cpu0
    ch.progress("fit", 1.0, f"{wall:.2f} s")
    return Fitted({"fit_seconds": round(wall, 6), "fit_cpu_seconds": round(cpu_seconds, 6)}, peak)


def _check_has_proba(ctx: Loaded, ch: Channel, model: Any) -> bool:
    """Whether the model gives probabilities; fails when a criterion needs them and it does not."""
    classification = ctx.dataset.task == "classification"
    has_proba = classification and hasattr(model, "predict_proba")
    if classification and not has_proba:
        needed = _needs_probabilities(ctx.config)
        if needed:
            raise WorkerError(
                f"model {ctx.name!r} has no predict_proba, but {', '.join(needed)} "
                "in the criteria or constraints needs probabilities",
                hint="use an estimator with predict_proba (e.g. wrap it in "
                "CalibratedClassifierCV) or drop the probability metric",
            )
        *some, last = PROBABILITY_METRICS
        ch.warn(
            f"model {ctx.name!r} has no predict_proba: {', '.join(some)} and {last} "
            "are not computed"
        )
    return has_proba


def predict(ctx: Loaded, model: Any, has_proba: bool) -> Predictions:
    """Validation and test predictions, shapes checked (probabilities in the data's order)."""
    pred, proba = {}, {}
    for part in ("validation", "test"):
        pred[part] = check_predictions(model.predict(ctx.X[part]), len(ctx.X[part]), part, ctx.name)
        if has_proba:
            proba[part] = aligned_proba(ctx, model, part)
    return Predictions(pred, proba)


def evaluate(ctx: Loaded, ch: Channel, model: Any) -> tuple[Predictions, dict[str, Any]]:
    """Predictions on validation and test, their metrics and the test split's bootstrap CIs."""
    from modelsnap.core.evaluation import metrics

    ch.progress("evaluate", 0.0, "predicting validation and test")
    ds = ctx.dataset
    preds = predict(ctx, model, _check_has_proba(ctx, ch, model))
    pred, proba = preds.pred, preds.proba
    ch.progress("evaluate", 0.4, "metrics")
    out: dict[str, Any] = {}
    for part in ("validation", "test"):
        out[part] = metrics.compute_metrics(
            ds.task, ctx.y[part], pred[part], proba.get(part), ds.classes, ds.positive_label
        )
    ch.progress("evaluate", 0.6, "bootstrap intervals")
    out["test_ci"] = metrics.bootstrap_ci(
        ds.task,
        ctx.y["test"],
        pred["test"],
        proba.get("test"),
        ds.classes,
        ds.positive_label,
        seed=int(ctx.config.data.seed),
    )
    out["test_ci_method"] = metrics.bootstrap_method(len(pred["test"]))
    out["test_ci_resamples"] = metrics.RESAMPLES
    ch.progress(
        "evaluate",
        1.0,
        ", ".join(f"{k} {v:.4g}" for k, v in list(out["validation"].items())[:3]),
    )
    return preds, out


def evaluate_for_reprofile(ctx: Loaded, ch: Channel, model: Any) -> Predictions:
    """Predictions are stored again with the new snapshot; they must match the original's."""
    ch.progress("evaluate", 0.0, "predicting validation and test")
    has_proba = ctx.dataset.task == "classification" and hasattr(model, "predict_proba")
    preds = predict(ctx, model, has_proba)
    ch.progress("evaluate", 1.0)
    return preds


def aligned_proba(ctx: Loaded, model: Any, part: str) -> Any:
    """Probabilities with columns in ``[data].classes`` order, whatever the model's order."""
    import numpy as np

    raw = model.predict_proba(ctx.X[part])
    known = ctx.dataset.classes or []  # set for classification, the task with probabilities
    model_classes = [str(c) for c in getattr(model, "classes_", known)]
    expected = [str(c) for c in known]
    array = _check_proba(raw, len(ctx.X[part]), len(model_classes), ctx.name)
    if model_classes == expected:
        return array
    if sorted(model_classes) != sorted(expected):
        raise WorkerError(
            f"model {ctx.name!r} knows classes {model_classes}, the data has {expected}"
        )
    order = [model_classes.index(c) for c in expected]
    return np.ascontiguousarray(array[:, order])


def analyse(
    ctx: Loaded, ch: Channel, model: Any, preds: Predictions, metric_tables: dict[str, Any]
) -> dict[str, Any]:
    """The model analyses' non-empty tables: interpretability, fairness, edge cases, checks."""
    from modelsnap.core.evaluation import analysis

    ch.progress("analyse", 0.0)
    tables = analysis.analyze(
        model,
        ctx.dataset,
        ctx.split,
        ctx.config,
        val_pred=preds.pred["validation"],
        test_pred=preds.pred["test"],
        val_proba=preds.proba.get("validation"),
        test_proba=preds.proba.get("test"),
        metrics_validation=metric_tables["validation"],
        metrics_test=metric_tables["test"],
        on_progress=lambda fraction, message: ch.progress("analyse", fraction, message),
    )
    out = {key: toml_value(table) for key, table in (tables or {}).items() if table}
    ch.progress("analyse", 1.0)
    return out


def profile(
    ctx: Loaded, ch: Channel, model: Any, fit_peak: PeakMemory | None = None
) -> dict[str, Any]:
    """Latency, throughput and predict memory, on validation rows (never the test split)."""
    settings = ctx.settings
    trials = int(settings.get("latency_trials", 300))
    warmup = int(settings.get("latency_warmup", 20))
    valid = ctx.X["validation"]
    ch.progress("latency", 0.0, f"{trials} single-row calls after {warmup} warm-up")
    timed = measure_latency_split(
        model,
        valid,
        trials=trials,
        warmup=warmup,
        on_progress=ch.stage_progress("latency"),
    )
    latency = timed.pipeline
    if timed.model is None:
        ch.warn(
            f"model {ctx.name!r}: the estimator's own latency could not be measured on "
            f"preprocessed rows ({timed.reason}); only the pipeline's is recorded"
        )
    alone = f", model alone p95 {timed.model.p95_ms:.3f} ms" if timed.model else ""
    ch.progress("latency", 1.0, f"p50 {latency.p50_ms:.3f} ms, p95 {latency.p95_ms:.3f} ms{alone}")
    size = default_batch_size(len(valid), settings.get("batch_size"))
    batch = valid.iloc[:size]
    ch.progress("batch", 0.0, f"batches of {size} rows")
    _, predict_peak = measure_peak(lambda: model.predict(batch))
    stats = measure_batch(
        model.predict,
        batch,
        repeats=int(settings.get("batch_repeats", DEFAULT_BATCH_REPEATS)),
        on_progress=ch.stage_progress("batch"),
    )
    ch.progress("batch", 1.0, f"{stats.throughput_rows_per_s:,.0f} rows/s")
    resources: dict[str, Any] = {}
    resources.update(timed.as_resources())
    resources.update(stats.as_resources())
    resources.update(resources_entry(fit_peak, predict_peak))
    resources["threads"] = dict(ctx.threads)
    return resources


def fit_memory(peak: PeakMemory | None) -> dict[str, Any]:
    """The fit's memory figures alone, for a run whose predict figures are measured later."""
    if peak is None:
        return {}
    return {
        "peak_memory_fit_mb": round(peak.peak_increase_mb, 3),
        "memory_method": peak.method,
    }


def save(
    ctx: Loaded,
    ch: Channel,
    model: Any,
    preds: Predictions,
    *,
    existing_artifact: Path | None = None,
) -> dict[str, Any]:
    """Stage the artifact (saved now, or a copy of the re-profiled one) and the predictions."""
    import shutil

    import numpy as np

    from modelsnap.core.evaluation.artifacts import save_artifact

    artifact = ctx.staging / ARTIFACT_NAME
    if existing_artifact is None:
        ch.progress("save", 0.0, "saving the fitted pipeline")
        save_artifact(model, artifact)
    else:
        ch.progress("save", 0.0, "copying the re-profiled artifact")
        shutil.copyfile(existing_artifact, artifact)
    ch.progress("save", 0.5, "saving the predictions")
    arrays = {}
    for part in ("validation", "test"):
        values = preds.pred[part]
        arrays[f"{part}_pred"] = (
            values.astype(str) if ctx.dataset.task == "classification" else values.astype(float)
        )
        if part in preds.proba:
            arrays[f"{part}_proba"] = preds.proba[part]
    with open(ctx.staging / PREDICTIONS_NAME, "wb") as handle:
        np.savez_compressed(handle, **arrays)
    size = artifact.stat().st_size
    ch.progress("save", 0.8, f"{size / 2**20:.2f} MB; recording the environment")
    return {"size_mb": round(size / 2**20, 6)}


def compare_predictions(
    ctx: Loaded, ch: Channel, original: Mapping[str, Any], preds: Predictions
) -> None:
    """Same artifact, same rows: different predictions mean the libraries changed behaviour."""
    import numpy as np

    from modelsnap.core.files import inside, sha256_file

    table = original.get("predictions", {})
    try:
        path = inside(ctx.root, table["path"], what="predictions")
        if sha256_file(path) != table["sha256"]:
            ch.warn(
                f"the stored predictions of {original['id']} do not match their hash: not compared"
            )
            return
        with np.load(path, allow_pickle=False) as stored:
            before = stored["test_pred"]
    except (KeyError, OSError, ValueError, EOFError, zipfile.BadZipFile, zlib.error) as exc:
        ch.warn(f"the stored predictions of {original['id']} could not be read ({exc})")
        return
    now = preds.pred["test"]
    differ = differing_predictions(ctx.dataset.task, before, now)
    if differ:
        ch.warn(
            f"{differ} of {len(now)} test predictions differ from {original['id']}'s: "
            "this environment changes the model's behaviour (metrics are copied, not "
            "recomputed)"
        )


def differing_predictions(task: str, before: Any, now: Any) -> int:
    """How many of two runs' predictions differ (numpy arrays): labels compared as text,
    regression values within ``np.isclose``'s tolerance (the same model in another
    environment)."""
    import numpy as np

    if task == "classification":
        return int(np.sum(before.astype(str) != now.astype(str)))
    return int(np.sum(~np.isclose(before.astype(float), now.astype(float))))


# --------------------------------------------------------------------------- the snapshot's parts


def data_table(ctx: Loaded) -> dict[str, Any]:
    ds, split, cfg = ctx.dataset, ctx.split, ctx.config.data
    table: dict[str, Any] = {
        "source": str(cfg.source),
        "target": str(cfg.target),
        "task": ds.task,
        "dataset_sha256": ds.dataset_sha256,
        "split_sha256": split.split_sha256,
        "seed": int(cfg.seed),
        "n_train": len(split.train),
        "n_validation": len(split.validation),
        "n_test": len(split.test),
    }
    if ds.task == "classification":
        table["classes"] = [str(c) for c in ds.classes or []]
        if getattr(ds, "positive_label", None) is not None:
            table["positive_label"] = str(ds.positive_label)
    return table


def header(job: dict[str, Any], estimator_path: str) -> dict[str, Any]:
    from modelsnap.core.evaluation import environment

    return {
        "schema": 1,
        "name": job["name"],
        "kind": job["kind"],
        "version": job.get("version") or "v1",
        "created_at": datetime.now(UTC).isoformat(),
        "criteria_revision": int(job.get("criteria_revision", 0)),
        "notes": job.get("notes", ""),
        "environment": environment.environment_table(Path(job["root"]), estimator=estimator_path),
        "hardware": environment.hardware_table(),
    }


def header_saved(ch: Channel, job: dict[str, Any], estimator_path: str) -> dict[str, Any]:
    """``header()``, the last part of the ``save`` stage (it ends the stage)."""
    table = header(job, estimator_path)
    ch.progress("save", 1.0, "handing the snapshot over")
    return table
