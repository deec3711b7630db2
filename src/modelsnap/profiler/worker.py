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
"""

from __future__ import annotations

import base64
import json
import os
import pickle
import sys
import time
import traceback
import zipfile
import zlib
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from modelsnap.core.errors import ModelsnapError
from modelsnap.core.measures import PROBABILITY_METRICS
from modelsnap.core.records.canonical import toml_value
from modelsnap.profiler import events
from modelsnap.profiler.events import ProgressEvent
from modelsnap.profiler.memory import measure_peak, resources_entry
from modelsnap.profiler.timing import (
    DEFAULT_BATCH_REPEATS,
    default_batch_size,
    measure_batch,
    measure_latency_split,
)

if TYPE_CHECKING:
    from modelsnap.core.project.schema import ProjectConfig

ARTIFACT_NAME = "model.skops"
PREDICTIONS_NAME = "predictions.npz"


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


def _isolate_stdout() -> int:
    """Move the protocol stdout to a private fd and send everything else on fd 1 to stderr."""
    sys.stdout.flush()
    private = os.dup(1)
    os.dup2(2, 1)
    sys.stdout = sys.stderr
    return private


# --------------------------------------------------------------------------- helpers


def _limit_threads(threads: int) -> dict[str, int]:
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


def _plain(value: Any) -> Any:
    """JSON-safe without losing entries: numpy scalars as Python values, NaN/inf as text."""
    import math

    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
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


def _final_estimator(model: Any) -> Any:
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


def _check_predictions(pred: Any, n_rows: int, what: str, name: str) -> Any:
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


# --------------------------------------------------------------------------- the run path


class Run:
    """One job: the state shared by the stages of the run path (docs/internals.md)."""

    def __init__(self, job: dict[str, Any], channel: Channel) -> None:
        self.job = job
        self.ch = channel
        self.root = Path(job["root"])
        self.name = job["name"]
        self.settings = job.get("settings", {})
        self.staging = Path(job["staging"])
        self.warnings: list[str] = []
        self.snapshot: dict[str, Any] = {}

    def warn(self, text: str) -> None:
        self.warnings.append(text)
        self.ch.warn(text)

    # -- stages ------------------------------------------------------------------

    def load(self) -> None:
        from modelsnap.core.evaluation.data import ensure_split, load_dataset
        from modelsnap.core.project.parse import load_project

        self.ch.progress("load", 0.0, "reading the project and the data")
        self.config = load_project(self.root)
        self.dataset = load_dataset(self.config)
        frame = self.dataset.frame
        self.ch.progress("load", 1.0, f"{len(frame)} rows, {frame.shape[1]} columns")
        self.ch.progress("split", 0.0)
        self.split = ensure_split(self.config, self.dataset)
        self.X = {
            part: frame.iloc[getattr(self.split, part)] for part in ("train", "validation", "test")
        }
        self.y = {
            part: self.dataset.target.iloc[getattr(self.split, part)]
            for part in ("train", "validation", "test")
        }
        self.ch.progress("split", 1.0, ", ".join(f"{k} {len(v)}" for k, v in self.X.items()))
        self.threads = _limit_threads(int(self.settings.get("threads", 1)))
        self.primary_metric = self.config.selection.primary_metric or (
            "r2" if self.dataset.task == "regression" else "f1"
        )

    def build(self) -> tuple[Any, bool]:
        """The model to evaluate and whether it still needs fitting."""
        from modelsnap.core.evaluation.pipeline import build_estimator, make_pipeline
        from modelsnap.core.project.schema import ModelSpec

        mode = self.job["mode"]
        if mode == "project":
            spec = self.job["spec"]
            self.spec = ModelSpec(
                name=self.name,
                estimator=spec["estimator"],
                params=dict(spec.get("params") or {}),
                grid=spec.get("grid"),
                kind=self.job["kind"],
            )
            estimator = build_estimator(self.spec, self.root)
            self.estimator_path = spec["estimator"]
            self.source = "project"
        elif mode == "mlflow":
            from modelsnap.profiler.mlflow_model import load_imported_model

            estimator = load_imported_model(
                self.job["mlflow_model"], self.config, list(self.dataset.frame.columns), self.name
            )
            self.source = "python"
        else:
            estimator = self._unpickle()
            self.source = "python"
        fitted = mode in ("python", "mlflow") and _is_fitted(estimator)
        if mode == "mlflow" and not fitted:
            raise WorkerError(
                f"model {self.name!r}: the imported model is not fitted",
                hint="an imported model is evaluated as it was trained, never refitted: "
                "log the fitted model to MLflow",
            )
        if fitted:
            self.estimator_path = _dotted(_final_estimator(estimator))
            return estimator, False
        if mode != "project":
            self.estimator_path = _dotted(estimator)
        _force_n_jobs(estimator, self.threads["n_jobs"])
        return make_pipeline(self.config, self.dataset.frame, estimator), True

    def _unpickle(self) -> Any:
        for entry in reversed(self.job.get("sys_path", [])):
            if entry not in sys.path:
                sys.path.insert(0, entry)
        try:
            return pickle.loads(base64.b64decode(self.job["estimator_pickle"]))
        except (AttributeError, ModuleNotFoundError, ImportError) as exc:
            raise WorkerError(
                f"model {self.name!r}: the estimator cannot be loaded in the worker ({exc})",
                hint="define the estimator's class in an importable module, not in a notebook cell",
            ) from None

    def search(self, pipeline: Any) -> Any:
        """Pick grid params on the validation split only; the test split is never looked at."""
        from sklearn.base import clone
        from sklearn.model_selection import ParameterGrid

        from modelsnap.core.measures import direction

        grid = (self.job.get("spec") or {}).get("grid")  # python mode has no spec
        if not grid:
            return pipeline
        metric = self.primary_metric
        points = list(ParameterGrid({f"model__{k}": v for k, v in grid.items()}))
        scores = self.job.get("search_scores")  # scored elsewhere, one task per point
        if scores is not None:
            if len(scores) != len(points):
                raise WorkerError(f"{len(scores)} grid scores for {len(points)} grid points")
            scores = [float(score) for score in scores]
        else:
            scores = []
            for i, point in enumerate(points):
                self.ch.progress("search", i / len(points), f"{i + 1}/{len(points)}: {point}")
                scores.append(self.score_point(pipeline, point))
        pick = max if direction(metric) == "max" else min
        best = points[scores.index(pick(scores))]
        self.snapshot.setdefault("model", {})["search"] = {
            "grid": toml_value(grid),
            "metric": metric,
            "scores": scores,
            "best": toml_value({k.removeprefix("model__"): v for k, v in best.items()}),
        }
        self.ch.progress("search", 1.0, f"best {best} ({metric})")
        return clone(pipeline).set_params(**best)

    def score_point(self, pipeline: Any, point: dict[str, Any]) -> float:
        """Fit one grid point on train and score it on validation (the primary metric)."""
        from sklearn.base import clone

        candidate = clone(pipeline).set_params(**point)
        candidate.fit(self.X["train"], self.y["train"])
        return self._validation_score(candidate, self.primary_metric)

    def grid_point(self) -> dict[str, Any]:
        """Score point ``job["grid_point"]`` of the model's grid, alone (one task per point)."""
        from sklearn.model_selection import ParameterGrid

        self.load()
        pipeline, _ = self.build()
        grid = self.job["spec"]["grid"]
        points = list(ParameterGrid({f"model__{k}": v for k, v in grid.items()}))
        index = int(self.job["grid_point"])
        point = points[index]
        self.ch.progress("search", 0.0, f"{index + 1}/{len(points)}: {point}")
        score = self.score_point(pipeline, point)
        self.ch.progress("search", 1.0, f"{index + 1}/{len(points)}: {score:.4g}")
        return {"grid_point": index, "score": score}

    def _validation_score(self, model: Any, metric: str) -> float:
        from modelsnap.core.evaluation.metrics import compute_metrics

        ds = self.dataset
        part = "validation"
        pred = _check_predictions(model.predict(self.X[part]), len(self.X[part]), part, self.name)
        proba = (
            self._aligned_proba(model, part)
            if ds.task == "classification" and hasattr(model, "predict_proba")
            else None
        )
        values = compute_metrics(ds.task, self.y[part], pred, proba, ds.classes, ds.positive_label)
        if metric not in values:
            raise WorkerError(
                f"model {self.name!r}: the grid metric {metric} is undefined on the "
                "validation split for this model",
                hint="pick another [selection].primary_metric",
            )
        return float(values[metric])

    def fit(self, model: Any) -> dict[str, Any]:
        import psutil

        self.ch.progress("fit", 0.0, f"fitting on {len(self.X['train'])} rows")
        process = psutil.Process()

        def cpu() -> float:
            t = process.cpu_times()
            return t.user + t.system + t.children_user + t.children_system

        cpu0, wall0 = cpu(), time.perf_counter()
        _, peak = measure_peak(lambda: model.fit(self.X["train"], self.y["train"]))
        wall, cpu_seconds = time.perf_counter() - wall0, cpu() - cpu0
        self.ch.progress("fit", 1.0, f"{wall:.2f} s")
        self.fit_peak = peak
        return {"fit_seconds": round(wall, 6), "fit_cpu_seconds": round(cpu_seconds, 6)}

    def evaluate(self, model: Any) -> dict[str, Any]:
        from modelsnap.core.evaluation import metrics

        self.ch.progress("evaluate", 0.0, "predicting validation and test")
        ds = self.dataset
        classification = ds.task == "classification"
        pred, proba = {}, {}
        has_proba = classification and hasattr(model, "predict_proba")
        if classification and not has_proba:
            needed = _needs_probabilities(self.config)
            if needed:
                raise WorkerError(
                    f"model {self.name!r} has no predict_proba, but {', '.join(needed)} "
                    "in the criteria or constraints needs probabilities",
                    hint="use an estimator with predict_proba (e.g. wrap it in "
                    "CalibratedClassifierCV) or drop the probability metric",
                )
            *some, last = PROBABILITY_METRICS
            self.warn(
                f"model {self.name!r} has no predict_proba: {', '.join(some)} and {last} "
                "are not computed"
            )
        for part in ("validation", "test"):
            pred[part] = _check_predictions(
                model.predict(self.X[part]), len(self.X[part]), part, self.name
            )
            if has_proba:
                proba[part] = self._aligned_proba(model, part)
        self.predictions, self.proba = pred, proba
        self.ch.progress("evaluate", 0.4, "metrics")
        out: dict[str, dict[str, Any]] = {}
        for part in ("validation", "test"):
            out[part] = metrics.compute_metrics(
                ds.task, self.y[part], pred[part], proba.get(part), ds.classes, ds.positive_label
            )
        self.ch.progress("evaluate", 0.6, "bootstrap intervals")
        out["test_ci"] = metrics.bootstrap_ci(
            ds.task,
            self.y["test"],
            pred["test"],
            proba.get("test"),
            ds.classes,
            ds.positive_label,
            seed=int(self.config.data.seed),
        )
        self.ch.progress(
            "evaluate",
            1.0,
            ", ".join(f"{k} {v:.4g}" for k, v in list(out["validation"].items())[:3]),
        )
        return out

    def _aligned_proba(self, model: Any, part: str) -> Any:
        """Probabilities with columns in ``[data].classes`` order, whatever the model's order."""
        import numpy as np

        raw = model.predict_proba(self.X[part])
        known = self.dataset.classes or []  # set for classification, the task with probabilities
        model_classes = [str(c) for c in getattr(model, "classes_", known)]
        expected = [str(c) for c in known]
        array = _check_proba(raw, len(self.X[part]), len(model_classes), self.name)
        if model_classes == expected:
            return array
        if sorted(model_classes) != sorted(expected):
            raise WorkerError(
                f"model {self.name!r} knows classes {model_classes}, the data has {expected}"
            )
        order = [model_classes.index(c) for c in expected]
        return np.ascontiguousarray(array[:, order])

    def analyse(self, model: Any, metrics_tables: dict[str, Any]) -> None:
        from modelsnap.core.evaluation import analysis

        self.ch.progress("analyse", 0.0)
        tables = analysis.analyze(
            model,
            self.dataset,
            self.split,
            self.config,
            val_pred=self.predictions["validation"],
            test_pred=self.predictions["test"],
            val_proba=self.proba.get("validation"),
            test_proba=self.proba.get("test"),
            metrics_validation=metrics_tables["validation"],
            metrics_test=metrics_tables["test"],
            on_progress=lambda fraction, message: self.ch.progress("analyse", fraction, message),
        )
        for key, table in (tables or {}).items():
            if table:
                self.snapshot[key] = toml_value(table)
        self.ch.progress("analyse", 1.0)

    def profile(self, model: Any) -> dict[str, Any]:
        """Latency, throughput and predict memory, on validation rows (never the test split)."""
        trials = int(self.settings.get("latency_trials", 300))
        warmup = int(self.settings.get("latency_warmup", 20))
        valid = self.X["validation"]
        self.ch.progress("latency", 0.0, f"{trials} single-row calls after {warmup} warm-up")
        timed = measure_latency_split(
            model,
            valid,
            trials=trials,
            warmup=warmup,
            on_progress=self.ch.stage_progress("latency"),
        )
        latency = timed.pipeline
        if timed.model is None:
            self.warn(
                f"model {self.name!r}: the estimator's own latency could not be measured on "
                f"preprocessed rows ({timed.reason}); only the pipeline's is recorded"
            )
        alone = f", model alone p95 {timed.model.p95_ms:.3f} ms" if timed.model else ""
        self.ch.progress(
            "latency", 1.0, f"p50 {latency.p50_ms:.3f} ms, p95 {latency.p95_ms:.3f} ms{alone}"
        )
        size = default_batch_size(len(valid), self.settings.get("batch_size"))
        batch = valid.iloc[:size]
        self.ch.progress("batch", 0.0, f"batches of {size} rows")
        _, predict_peak = measure_peak(lambda: model.predict(batch))
        stats = measure_batch(
            model.predict,
            batch,
            repeats=int(self.settings.get("batch_repeats", DEFAULT_BATCH_REPEATS)),
            on_progress=self.ch.stage_progress("batch"),
        )
        self.ch.progress("batch", 1.0, f"{stats.throughput_rows_per_s:,.0f} rows/s")
        resources: dict[str, Any] = {}
        resources.update(timed.as_resources())
        resources.update(stats.as_resources())
        resources.update(resources_entry(getattr(self, "fit_peak", None), predict_peak))
        resources["threads"] = dict(self.threads)
        return resources

    def fit_memory(self) -> dict[str, Any]:
        """The fit's memory figures alone, for a run whose predict figures are measured later."""
        peak = getattr(self, "fit_peak", None)
        if peak is None:
            return {}
        return {
            "peak_memory_fit_mb": round(peak.peak_increase_mb, 3),
            "memory_method": peak.method,
        }

    def profile_staged(self) -> dict[str, Any]:
        """Latency, throughput and predict memory of an artifact fitted elsewhere (staged here).

        The artifact is hash- and type-checked like any other; the validation predictions it
        gives here are compared with the ones it came with. Returns ``resources`` (predict
        figures only), this machine's ``environment`` and ``hardware``; nothing is saved.
        """
        import numpy as np

        from modelsnap.core.evaluation import environment
        from modelsnap.core.evaluation.artifacts import load_artifact

        expected = self.job["expected"]
        self.load()
        for key in ("dataset_sha256", "split_sha256"):
            have = getattr(self.dataset if key == "dataset_sha256" else self.split, key)
            if expected[key] != have:
                raise WorkerError(
                    f"model {self.name!r} was fitted on other data ({key} differs from "
                    "this project's)",
                    hint="the data file or split.npz changed during the run; run it again",
                )
        artifact = self.staging / ARTIFACT_NAME
        model = load_artifact(
            artifact,
            expected["artifact_sha256"],
            trusted=self.job.get("trusted", []),
            config=self.config,
        )
        self.estimator_path = expected.get("estimator", "")
        self.ch.progress("evaluate", 0.0, "checking the fitted model's predictions here")
        valid = self.X["validation"]
        here = _check_predictions(model.predict(valid), len(valid), "validation", self.name)
        with np.load(self.staging / PREDICTIONS_NAME, allow_pickle=False) as stored:
            there = stored["validation_pred"]
        if self.dataset.task == "classification":
            differ = int(np.sum(there.astype(str) != here.astype(str)))
        else:
            differ = int(np.sum(~np.isclose(there.astype(float), here.astype(float))))
        if differ:
            self.warn(
                f"{differ} of {len(here)} validation predictions differ between the machine "
                "that fitted the model and this one: their library versions change its behaviour"
            )
        self.ch.progress("evaluate", 1.0)
        resources = self.profile(model)
        for key in ("peak_memory_fit_mb", "peak_memory_mb"):
            resources.pop(key, None)
        return {
            "resources": resources,
            "environment": environment.environment_table(self.root, estimator=self.estimator_path),
            "hardware": environment.hardware_table(),
        }

    def save(self, model: Any, *, existing_artifact: Path | None = None) -> dict[str, Any]:
        """Stage the artifact (saved now, or a copy of the re-profiled one) and the predictions."""
        import shutil

        import numpy as np

        from modelsnap.core.evaluation.artifacts import save_artifact

        artifact = self.staging / ARTIFACT_NAME
        if existing_artifact is None:
            self.ch.progress("save", 0.0, "saving the fitted pipeline")
            save_artifact(model, artifact)
        else:
            self.ch.progress("save", 0.0, "copying the re-profiled artifact")
            shutil.copyfile(existing_artifact, artifact)
        self.ch.progress("save", 0.5, "saving the predictions")
        arrays = {}
        for part in ("validation", "test"):
            values = self.predictions[part]
            arrays[f"{part}_pred"] = (
                values.astype(str)
                if self.dataset.task == "classification"
                else values.astype(float)
            )
            if part in self.proba:
                arrays[f"{part}_proba"] = self.proba[part]
        with open(self.staging / PREDICTIONS_NAME, "wb") as handle:
            np.savez_compressed(handle, **arrays)
        size = artifact.stat().st_size
        self.ch.progress("save", 0.8, f"{size / 2**20:.2f} MB; recording the environment")
        return {"size_mb": round(size / 2**20, 6)}

    def header_saved(self) -> dict[str, Any]:
        """``header()``, the last part of the ``save`` stage (it ends the stage)."""
        header = self.header()
        self.ch.progress("save", 1.0, "handing the snapshot over")
        return header

    # -- assembling the snapshot ----------------------------------------------------

    def data_table(self) -> dict[str, Any]:
        ds, split, cfg = self.dataset, self.split, self.config.data
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

    def header(self) -> dict[str, Any]:
        from modelsnap.core.evaluation import environment

        return {
            "schema": 1,
            "name": self.name,
            "kind": self.job["kind"],
            "version": self.job.get("version") or "v1",
            "created_at": datetime.now(UTC).isoformat(),
            "criteria_revision": int(self.job.get("criteria_revision", 0)),
            "notes": self.job.get("notes", ""),
            "environment": environment.environment_table(self.root, estimator=self.estimator_path),
            "hardware": environment.hardware_table(),
        }

    def edge(self) -> dict[str, Any]:
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

        self.ch.progress("load", 0.0, "reading the project, the data and the edge cases")
        config = load_project(self.root)
        dataset = load_dataset(config)
        relative = str(self.job["edge_file"])
        cases = edge_cases_for_dataset(
            inside(self.root, relative, what="[data].edge_cases"), dataset, display_name=relative
        )
        expected = self.job.get("edge_sha256")
        if expected is not None and cases.sha256 != expected:
            raise WorkerError(
                f"{relative} changed while the edge cases were being run",
                where=relative,
                hint="run modelsnap edge again",
            )
        tolerance = default_tolerance(dataset.target) if dataset.task == "regression" else 0.0
        _limit_threads(int(self.settings.get("threads", 1)))
        self.ch.progress("load", 1.0, f"{len(cases)} cases")
        snapshots = list(self.job.get("snapshots") or [])
        for done, entry in enumerate(snapshots, start=1):
            self.ch.stage = "evaluate"
            try:
                model = load_artifact(
                    inside(self.root, str(entry["artifact"]), what="[model].artifact"),
                    str(entry["artifact_sha256"]),
                    trusted=self.job.get("trusted", []),
                    config=config,
                )
                result = run_cases(model, cases, task=dataset.task, tolerance=tolerance)
            except ModelsnapError as exc:
                result = {"error": str(exc)}
            self.ch.send({"type": "item", "id": str(entry["id"]), "result": _plain(result)})
            self.ch.progress("evaluate", done / len(snapshots), str(entry["id"]))
        return {}

    def run(self) -> dict[str, Any]:
        from modelsnap.core.evaluation.pipeline import toml_params

        if self.job["mode"] == "edge":
            return self.edge()
        if self.job["mode"] in ("predict", "monitor"):
            from modelsnap.profiler import scoring

            _limit_threads(int(self.settings.get("threads", 1)))
            return scoring.run_in_worker(self.job, send=self.ch.send, progress=self.ch.progress)
        if self.job["mode"] == "reprofile":
            return self.reprofile()
        if self.job["mode"] == "profile":
            return self.profile_staged()
        if self.job.get("grid_point") is not None:
            return self.grid_point()
        self.load()
        model, needs_fit = self.build()
        if needs_fit:
            model = self.search(model)
            fit_resources = self.fit(model)
        else:
            self.warn(f"model {self.name!r} came fitted: fit time and fit memory were not measured")
            fit_resources = {"fit_seconds": 0.0, "fit_measured": False}
        metric_tables = self.evaluate(model)
        self.analyse(model, metric_tables)
        if self.settings.get("profile", True):
            resources = {**fit_resources, **self.profile(model)}
        else:  # profiled later, on the machine that records it (docs/distributed.md)
            resources = {**fit_resources, **self.fit_memory()}
        resources.update(self.save(model))
        model_table = self.snapshot.pop("model", {})
        model_table.update(
            {
                "estimator": self.estimator_path,
                "params": toml_params(_final_estimator(model)),
                "source": self.source,
            }
        )
        body = {
            **self.header_saved(),
            **self.snapshot,
            "model": model_table,
            "data": self.data_table(),
            "metrics": metric_tables,
            "resources": resources,
        }
        if isinstance(self.job.get("origin"), dict):
            body["origin"] = dict(self.job["origin"])
        return body

    def reprofile(self) -> dict[str, Any]:
        """Profile an existing artifact again on this machine; metrics are copied, not recomputed.

        Fit figures are copied too (nothing is refitted); predict figures are new.
        """
        from modelsnap.core.evaluation.artifacts import load_artifact
        from modelsnap.core.files import inside
        from modelsnap.core.records.store import read_snapshot

        original = read_snapshot(self.root, self.job["reprofile_of"])
        self.load()
        recorded: Mapping[str, Any] = original["data"]
        for key, have in (
            ("dataset_sha256", self.dataset.dataset_sha256),
            ("split_sha256", self.split.split_sha256),
        ):
            if recorded[key] != have:
                raise WorkerError(
                    f"snapshot {original['id']} was made on other data ({key} differs)",
                    hint="re-profiling needs the same data file and split.npz",
                )
        self.ch.progress("load", 1.0, f"loading {original['model']['artifact']} (hash-checked)")
        artifact_path = inside(self.root, original["model"]["artifact"], what="artifact")
        model = load_artifact(
            artifact_path,
            original["model"]["artifact_sha256"],
            trusted=self.job.get("trusted", []),
            config=self.config,
        )
        self.source = original["model"].get("source", "project")
        self.estimator_path = original["model"]["estimator"]
        self.evaluate_for_reprofile(model)
        resources: dict[str, Any] = {
            k: original["resources"][k]
            for k in ("fit_seconds", "fit_cpu_seconds", "fit_measured", "peak_memory_fit_mb")
            if k in original.get("resources", {})
        }
        resources.update(self.profile(model))
        if "peak_memory_fit_mb" in resources:
            resources["peak_memory_mb"] = max(
                resources["peak_memory_fit_mb"], resources["peak_memory_predict_mb"]
            )
        self._compare_predictions(original)
        resources.update(self.save(model, existing_artifact=artifact_path))
        # artifact_sha256 stays: the store checks the staged copy against it.
        model_table = {k: v for k, v in original["model"].items() if k != "artifact"}
        body = {
            **self.header_saved(),
            "model": model_table,
            "data": self.data_table(),
            "metrics": original["metrics"],
            "resources": resources,
            "reprofile_of": original["id"],
        }
        body["version"] = self.job.get("version") or original.get("version", "v1")
        tables: Mapping[str, Any] = original
        for key in ("interpretability", "fairness", "edge_cases", "checks", "origin"):
            if key in tables:
                body[key] = tables[key]
        return body

    def _compare_predictions(self, original: Mapping[str, Any]) -> None:
        """Same artifact, same rows: different predictions mean the libraries changed behaviour."""
        import numpy as np

        from modelsnap.core.files import inside, sha256_file

        table = original.get("predictions", {})
        try:
            path = inside(self.root, table["path"], what="predictions")
            if sha256_file(path) != table["sha256"]:
                self.warn(
                    f"the stored predictions of {original['id']} do not match their hash: "
                    "not compared"
                )
                return
            with np.load(path, allow_pickle=False) as stored:
                before = stored["test_pred"]
        except (KeyError, OSError, ValueError, EOFError, zipfile.BadZipFile, zlib.error) as exc:
            self.warn(f"the stored predictions of {original['id']} could not be read ({exc})")
            return
        now = self.predictions["test"]
        if self.dataset.task == "classification":
            differ = int(np.sum(before.astype(str) != now.astype(str)))
        else:
            differ = int(np.sum(~np.isclose(before.astype(float), now.astype(float))))
        if differ:
            self.warn(
                f"{differ} of {len(now)} test predictions differ from {original['id']}'s: "
                "this environment changes the model's behaviour (metrics are copied, not "
                "recomputed)"
            )

    def evaluate_for_reprofile(self, model: Any) -> None:
        """Predictions are stored again with the new snapshot; they must match the original's."""
        self.ch.progress("evaluate", 0.0, "predicting validation and test")
        has_proba = self.dataset.task == "classification" and hasattr(model, "predict_proba")
        self.predictions, self.proba = {}, {}
        for part in ("validation", "test"):
            self.predictions[part] = _check_predictions(
                model.predict(self.X[part]), len(self.X[part]), part, self.name
            )
            if has_proba:
                self.proba[part] = self._aligned_proba(model, part)
        self.ch.progress("evaluate", 1.0)


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
        result = toml_value(Run(job, channel).run())
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
