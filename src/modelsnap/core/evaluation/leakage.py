"""Leakage checks at data set-up and the overfitting check of one snapshot.

A test score is only worth something if the test rows were unseen and no feature smuggles the
answer in. ``leakage_checks`` looks for the three usual ways that goes wrong and returns plain
warnings (they go into ``[checks].leakage`` of every snapshot and are shown by the CLI and TUI):

* rows whose feature values also occur in the training split (duplicates across splits);
* one feature that alone predicts the target almost perfectly: a depth-2 decision tree on each
  numeric column, a per-category majority/mean lookup on each categorical column, fitted on the
  training split and scored on the validation split (balanced accuracy or R² >=
  ``SINGLE_FEATURE_LIMIT``);
* a column that is (nearly) a copy of the target (equal labels in >= 99 % of rows, or
  |Pearson r| >= 0.99 for a regression target).

``overfit_check`` compares the primary metric on validation and test (the guide's pitfall 2).
It is plain Python so the ranking side can call it without pandas or scikit-learn.
"""

from __future__ import annotations

import contextlib
import math
from collections.abc import Mapping
from typing import Any, TypeGuard

from modelsnap.core.measures import OVERFIT_THRESHOLD, QUALITY_MIN, UNBOUNDED_METRICS

# The validation-vs-test gap of the primary metric above which a snapshot is flagged as overfit.
# Bounded metrics (accuracy, f1, roc_auc, r2, brier, ...) use the absolute gap; unbounded error
# metrics (mae, rmse, log_loss) use the gap relative to the validation value.
# Balanced accuracy (classification) or R² (regression) of one feature alone that counts as leakage.
SINGLE_FEATURE_LIMIT = 0.98
# Share of rows where a column equals the target (as text), or |r| with a numeric target.
TARGET_COPY_LIMIT = 0.99
# Rows used per split by the single-feature check, so it stays fast on big data sets.
LEAKAGE_ROW_CAP = 20_000


def overfit_check(
    metrics_validation: Mapping[str, float],
    metrics_test: Mapping[str, float],
    primary_metric: str,
) -> dict[str, Any]:
    """``{"overfit_gap": float, "overfit_flag": bool}``; empty when the metric is missing.

    The gap is signed so that positive always means "worse on test": validation minus test for
    metrics where higher is better, test minus validation for error metrics (mae, rmse, log_loss,
    brier). Unbounded error metrics are divided by the validation value so the threshold does not
    depend on the target's units. Only a positive gap above the threshold is flagged: a model
    that does better on test than on validation is not overfitting the validation split.
    """
    val = metrics_validation.get(primary_metric)
    test = metrics_test.get(primary_metric)
    if not _finite(val) or not _finite(test):
        return {}
    gap = (test - val) if primary_metric in QUALITY_MIN else (val - test)
    if primary_metric in UNBOUNDED_METRICS:
        gap = gap / abs(val) if abs(val) > 1e-12 else (0.0 if gap == 0 else math.copysign(1.0, gap))
    return {"overfit_gap": round(float(gap), 6), "overfit_flag": bool(gap > OVERFIT_THRESHOLD)}


def _finite(value: Any) -> TypeGuard[float]:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def leakage_checks(dataset: Any, split: Any) -> list[str]:
    """Warnings about duplicated rows across splits and features that give the target away.

    ``dataset`` is a ``core.evaluation.data.Dataset`` (frame, target, task), ``split`` a
    ``core.evaluation.data.Split``
    (train/validation/test row positions). Never raises on a data quirk: a check that cannot run
    on a column is skipped for that column.
    """
    frame = dataset.frame
    target = dataset.target
    task = dataset.task
    warnings: list[str] = []
    warnings.extend(_duplicate_warnings(frame, split))
    copies = _target_copy_warnings(frame, target, task)
    warnings.extend(copies.values())
    warnings.extend(_single_feature_warnings(frame, target, task, split, skip=set(copies)))
    return warnings


def _duplicate_warnings(frame: Any, split: Any) -> list[str]:
    import numpy as np
    import pandas as pd

    if frame.shape[1] == 0 or len(split.train) == 0:
        return []
    hashes = pd.util.hash_pandas_object(frame, index=False).to_numpy()
    train_hashes = set(hashes[np.asarray(split.train)].tolist())
    warnings = []
    for name in ("test", "validation"):
        rows = np.asarray(getattr(split, name))
        if len(rows) == 0:
            continue
        dup = int(sum(1 for h in hashes[rows].tolist() if h in train_hashes))
        if dup:
            share = 100.0 * dup / len(rows)
            warnings.append(
                f"{dup} of {len(rows)} {name} rows ({share:.1f} %) have the same feature values as "
                f"a training row: {name} scores may be optimistic (deduplicate the data set)"
            )
    return warnings


def _is_numeric(series: Any) -> bool:
    import pandas as pd

    return bool(pd.api.types.is_numeric_dtype(series) and not pd.api.types.is_bool_dtype(series))


def _target_copy_warnings(frame: Any, target: Any, task: str) -> dict[str, str]:
    """Column name -> warning, for columns that are (nearly) the target itself."""
    import numpy as np

    warnings: dict[str, str] = {}
    y_text = target.astype(str).to_numpy()
    y_num = target.to_numpy(dtype=float) if task == "regression" else None
    for column in frame.columns:
        series = frame[column]
        if task == "classification":
            values = series.astype(str).to_numpy()
            share = float(np.mean(values == y_text)) if len(values) else 0.0
            if share >= TARGET_COPY_LIMIT:
                warnings[column] = (
                    f"column '{column}' equals the target in {100 * share:.1f} % of rows: it is "
                    "probably the target under another name (add it to [data].drop)"
                )
        elif y_num is not None and _is_numeric(series):
            x = series.to_numpy(dtype=float)
            ok = np.isfinite(x) & np.isfinite(y_num)
            if ok.sum() < 3 or np.std(x[ok]) == 0 or np.std(y_num[ok]) == 0:
                continue
            r = float(np.corrcoef(x[ok], y_num[ok])[0, 1])
            if abs(r) >= TARGET_COPY_LIMIT:
                warnings[column] = (
                    f"column '{column}' is almost a copy of the target (Pearson r = {r:.3f}): "
                    "it is probably derived from it (add it to [data].drop)"
                )
    return warnings


def _single_feature_warnings(
    frame: Any, target: Any, task: str, split: Any, *, skip: set[str]
) -> list[str]:
    import numpy as np

    train = np.asarray(split.train)[:LEAKAGE_ROW_CAP]
    valid = np.asarray(split.validation)[:LEAKAGE_ROW_CAP]
    if len(train) == 0 or len(valid) == 0:
        return []
    y = target.to_numpy()
    if task == "classification":
        y = target.astype(str).to_numpy()
        if len(set(y[valid].tolist())) < 2:
            return []
    warnings = []
    for column in frame.columns:
        if column in skip:
            continue
        try:
            score = _single_feature_score(frame[column], y, task, train, valid)
        except (ValueError, TypeError, FloatingPointError):
            continue
        if score is not None and score >= SINGLE_FEATURE_LIMIT:
            name = "balanced accuracy" if task == "classification" else "R²"
            warnings.append(
                f"feature '{column}' alone predicts the target on validation ({name} {score:.3f}): "
                "check that it is not known only after the outcome (leakage) or add it to "
                "[data].drop"
            )
    return warnings


def _single_feature_score(series: Any, y: Any, task: str, train: Any, valid: Any) -> float | None:
    """Validation score of the simplest model on one column; None when it cannot be judged."""
    import numpy as np
    from sklearn.metrics import balanced_accuracy_score, r2_score

    if _is_numeric(series):
        from sklearn.tree import DecisionTreeClassifier, DecisionTreeRegressor

        x = series.to_numpy(dtype=float)
        finite = np.isfinite(x[train])
        if not finite.any():
            return None
        fill = float(np.median(x[train][finite]))
        x = np.where(np.isfinite(x), x, fill).reshape(-1, 1)
        model = (DecisionTreeClassifier if task == "classification" else DecisionTreeRegressor)(
            max_depth=2, random_state=0
        )
        model.fit(x[train], y[train])
        pred = model.predict(x[valid])
    else:
        keys = series.astype(str).to_numpy()
        pred = _lookup_predict(keys[train], y[train], keys[valid], task)
    if task == "classification":
        return float(balanced_accuracy_score(y[valid], pred))
    if np.std(y[valid].astype(float)) == 0:
        return None
    return float(r2_score(y[valid].astype(float), pred.astype(float)))


def _lookup_predict(train_keys: Any, train_y: Any, valid_keys: Any, task: str) -> Any:
    """Per-category majority class (or mean): the best any model can do with that column alone."""
    import numpy as np
    import pandas as pd

    frame = pd.DataFrame({"key": train_keys, "y": train_y})
    if task == "classification":
        table = frame.groupby("key")["y"].agg(lambda s: s.value_counts().index[0])
        fallback = pd.Series(train_y).value_counts().index[0]
    else:
        frame["y"] = frame["y"].astype(float)
        table = frame.groupby("key")["y"].mean()
        fallback = float(np.mean(train_y.astype(float)))
    mapping = table.to_dict()
    return np.array([mapping.get(k, fallback) for k in valid_keys], dtype=object)


# Bumped when the checks change, so a cached result from older rules is not reused.
CHECKS_VERSION = 1


def cached_leakage_checks(root: Any, dataset: Any, split: Any) -> list[str]:
    """``leakage_checks`` run once per (data set, split): cached in ``.modelsnap/``.

    The key is the data set's and split's sha256, so every snapshot of a project records the
    same warnings without recomputing them; a changed file or split gets fresh checks. The
    cache is tool state (never a record): an unreadable cache is simply recomputed.
    """
    import json
    from pathlib import Path

    from modelsnap.core.files import (
        STATE_DIR,
        atomic_write_bytes,
        read_json_state,
        sha256_bytes,
    )

    key = sha256_bytes(f"{CHECKS_VERSION}|{dataset.dataset_sha256}|{split.split_sha256}".encode())[
        :16
    ]
    path = Path(root) / STATE_DIR / f"leakage-{key}.json"
    cached = read_json_state(path)
    if isinstance(cached, list) and all(isinstance(w, str) for w in cached):
        return cached
    warnings = leakage_checks(dataset, split)
    # A read-only folder still gets its warnings, just not cached.
    with contextlib.suppress(OSError):
        atomic_write_bytes(Path(root), path, json.dumps(warnings).encode("utf-8"))
    return warnings
