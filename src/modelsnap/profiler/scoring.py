"""The worker side of ``modelsnap predict`` and ``modelsnap monitor``: score saved models.

Runs only inside the worker process (``worker`` dispatches the ``predict`` and ``monitor``
modes here). Every artifact is loaded through ``artifacts.load_artifact``: its sha256 checked
against the snapshot and every type it holds checked against the allow-list, plus the types the
user trusted by name. The parent (``core.followup.trying``, ``core.followup.monitoring``) has
already checked the rows or the data file's columns; nothing here writes a file.

- ``predict``: one ``item`` message per snapshot, ``{"predictions": [...], "proba": [[...]],
  "classes": [...]}`` or ``{"error": text}`` when that model could not be loaded or scored.
- ``monitor``: the one snapshot's metrics on the new labelled data, computed with
  ``metrics.compute_metrics`` (the code the snapshot's own figures came from), and, when asked,
  its single-row p95 latency re-measured on rows of that data.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from modelsnap.core.errors import DataError, ModelsnapError

if TYPE_CHECKING:
    from modelsnap.core.project.schema import ProjectConfig


def _value(value: Any) -> Any:
    """JSON-safe: numpy scalars as Python values; NaN and infinities as None."""
    if hasattr(value, "item") and not isinstance(value, (str, bytes)):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    return str(value)


def rows_frame(rows: list[dict[str, Any]], columns: dict[str, str]) -> Any:
    """The rows as a DataFrame in the data's column order: numeric columns float64 (missing is
    NaN), the others object (missing is NaN, as pandas reads an empty CSV cell)."""
    import numpy as np
    import pandas as pd

    data: dict[str, Any] = {}
    for column, kind in columns.items():
        values = [row.get(column) for row in rows]
        if kind == "numeric":
            data[column] = np.asarray(
                [np.nan if v is None else float(v) for v in values], dtype="float64"
            )
        else:
            data[column] = pd.Series([np.nan if v is None else v for v in values], dtype="object")
    return pd.DataFrame(data, columns=list(columns))


def _load(root: Path, entry: dict[str, Any], job: dict[str, Any], config: ProjectConfig) -> Any:
    from modelsnap.core.evaluation.artifacts import load_artifact
    from modelsnap.core.files import inside

    return load_artifact(
        inside(root, str(entry["artifact"]), what="[model].artifact"),
        str(entry["artifact_sha256"]),
        trusted=job.get("trusted", []),
        config=config,
    )


def _predict(model: Any, frame: Any) -> dict[str, Any]:
    import numpy as np

    predictions = np.asarray(model.predict(frame))
    if predictions.ndim == 2 and predictions.shape[1] == 1:
        predictions = predictions.ravel()
    if predictions.ndim != 1 or len(predictions) != len(frame):
        raise ModelsnapError(
            f"predict returned shape {tuple(predictions.shape)} for {len(frame)} rows"
        )
    result: dict[str, Any] = {"predictions": [_value(v) for v in predictions]}
    if hasattr(model, "predict_proba"):
        proba = np.asarray(model.predict_proba(frame), dtype=float)
        classes = [str(c) for c in getattr(model, "classes_", [])]
        if proba.ndim == 2 and proba.shape == (len(frame), len(classes)):
            result["classes"] = classes
            result["proba"] = [[_value(p) for p in row] for row in proba]
    return result


def predict(
    job: dict[str, Any], send: Callable[[dict[str, Any]], None], progress: Callable[..., None]
) -> dict[str, Any]:
    from modelsnap.core.project.parse import load_project

    root = Path(job["root"])
    progress("load", 0.0, "reading the project")
    config = load_project(root)
    frame = rows_frame(list(job["rows"]), dict(job["columns"]))
    snapshots = list(job.get("snapshots") or [])
    progress("load", 1.0, f"{len(frame)} row(s), {len(snapshots)} model(s)")
    for done, entry in enumerate(snapshots, start=1):
        try:
            result = _predict(_load(root, entry, job, config), frame)
        except ModelsnapError as exc:
            result = {"error": str(exc)}
        except Exception as exc:  # noqa: BLE001 - a user model may raise anything; it is the finding
            result = {"error": f"{type(exc).__name__}: {exc}"[:300]}
        send({"type": "item", "id": str(entry["id"]), "result": result})
        progress("evaluate", done / len(snapshots), str(entry["id"]))
    return {}


def _aligned_proba(model: Any, frame: Any, classes: list[str]) -> Any:
    import numpy as np

    raw = np.asarray(model.predict_proba(frame), dtype=float)
    model_classes = [str(c) for c in getattr(model, "classes_", classes)]
    if raw.shape != (len(frame), len(model_classes)) or not np.all(np.isfinite(raw)):
        raise ModelsnapError(
            f"predict_proba returned shape {tuple(raw.shape)} or non-finite "
            "values: probability metrics are not computed"
        )
    if model_classes == classes:
        return raw
    if sorted(model_classes) != sorted(classes):
        raise ModelsnapError(f"the model knows classes {model_classes}, the snapshot {classes}")
    return np.ascontiguousarray(raw[:, [model_classes.index(c) for c in classes]])


def monitor(
    job: dict[str, Any], send: Callable[[dict[str, Any]], None], progress: Callable[..., None]
) -> dict[str, Any]:
    """The decided model's metrics on the new labelled data (and its latency, when asked)."""
    from modelsnap.core.evaluation.data import read_table
    from modelsnap.core.evaluation.metrics import bootstrap_ci, compute_metrics
    from modelsnap.core.followup.monitoring import labels_as_text
    from modelsnap.core.project.parse import load_project

    root = Path(job["root"])
    progress("load", 0.0, "reading the project and the new data")
    config = load_project(root)
    data_path = Path(job["data_file"])
    frame, digest, label = read_table(config.data.source, root, path=data_path)
    frame.columns = [str(c) for c in frame.columns]
    if digest != job["data_sha256"]:
        raise DataError(
            "the new data file changed while it was being evaluated",
            where=label,
            hint="run modelsnap monitor again",
        )
    columns: dict[str, str] = dict(job["columns"])
    features = frame[list(columns)]  # read as the training data was: the same dtypes
    task = job["task"]
    target = frame[job["target"]]
    classes = [str(c) for c in job.get("classes") or []]
    progress("load", 1.0, f"{len(frame)} rows")
    entry = job["snapshots"][0]
    model = _load(root, entry, job, config)
    progress("evaluate", 0.0, "predicting the new data")
    import numpy as np

    pred = np.asarray(model.predict(features))
    if pred.ndim == 2 and pred.shape[1] == 1:
        pred = pred.ravel()
    if task == "classification":
        y = np.asarray(labels_as_text(target), dtype=object).astype(str)
        pred = pred.astype(str)
        proba = (
            _aligned_proba(model, features, classes) if hasattr(model, "predict_proba") else None
        )
        scored: tuple[Any, ...] = (task, y, pred, proba, classes, job.get("positive_label"))
    else:
        scored = (task, target.to_numpy(dtype=float), pred.astype(float), None, None, None)
    values = compute_metrics(*scored)
    progress("evaluate", 0.5, "bootstrap intervals")
    intervals = bootstrap_ci(*scored, seed=int(config.data.seed))
    result: dict[str, Any] = {
        "metrics": {k: _value(v) for k, v in values.items()},
        "intervals": {k: [_value(lo), _value(hi)] for k, (lo, hi) in intervals.items()},
        "n_rows": len(frame),
    }
    progress("evaluate", 1.0, "metrics")
    if job.get("profile_latency"):
        from modelsnap.profiler.timing import measure_latency, single_rows

        trials = int(job.get("latency_trials", 300))
        warmup = int(job.get("latency_warmup", 20))
        progress("latency", 0.0, f"{trials} single-row calls after {warmup} warm-up")
        rows = single_rows(features, min(len(features), trials + warmup))
        stats = measure_latency(
            model.predict,
            rows,
            trials=trials,
            warmup=warmup,
            on_progress=lambda f: progress("latency", f),
        )
        result["latency"] = {k: _value(v) for k, v in stats.as_resources().items()}
        progress("latency", 1.0, f"p95 {stats.p95_ms:.3f} ms")
    return result


def run_in_worker(
    job: dict[str, Any], *, send: Callable[[dict[str, Any]], None], progress: Callable[..., None]
) -> dict[str, Any]:
    if job["mode"] == "predict":
        return predict(job, send, progress)
    return monitor(job, send, progress)
