"""Fairness by group: the primary metric and the positive rate for each group of a sensitive column.

An average can hide a group the model fails. For every column listed in ``[data].sensitive``
this reports, per group, the row count, the primary metric and (classification) the positive
rate — the share of rows predicted as the positive label (binary) — and the largest gap
between groups. It is computed on the **test split**: the final, untouched estimate, so the gap
is not tuned away by model selection on validation.

Rules (documented in docs/snapshot-format.md):

* groups are the column's distinct values as text; missing values form the group ``"(missing)"``;
* a numeric column with more than ``MAX_NUMERIC_GROUPS`` distinct values is cut into four
  quantile bands (edges computed on the whole data set), e.g. ``"[18, 31)"``;
* gaps use only groups with at least ``MIN_GROUP_ROWS`` test rows — and, for a binary target
  and a class-conditional metric (precision, recall, f1, roc_auc, balanced accuracy), at least
  ``MIN_GROUP_CLASS_ROWS`` rows of each class; smaller groups are still listed with their count
  (and positive rate) and get a warning instead of a misleading metric;
* a sensitive column is used even when it is in ``[data].drop`` (``load_dataset`` keeps it
  aside); one group, too few large groups, or an unknown column gets a warning in the table,
  never an exception.

``metric_value`` (one metric on one subset) is shared with the permutation-importance scorer.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Sequence
from typing import Any

from modelsnap.core.measures import PER_CLASS_METRICS

MIN_GROUP_ROWS = 20
MIN_GROUP_CLASS_ROWS = 10
MAX_NUMERIC_GROUPS = 10
MISSING_GROUP = "(missing)"


def metric_value(
    name: str,
    task: str,
    y_true: Any,
    y_pred: Any,
    *,
    proba: Any = None,
    classes: Sequence[str] | None = None,
    positive_label: str | None = None,
) -> float | None:
    """One quality metric on one subset, or None when it is undefined there.

    The same computation as every snapshot's metrics (``metrics.compute_metrics``), so a group's
    figure is comparable with the whole split's. Undefined means: an empty subset, an unknown
    metric, a probability metric without usable probabilities, or a subset with a single class
    for roc_auc (compute_metrics leaves such metrics out).
    """
    import numpy as np

    from modelsnap.core.evaluation.metrics import compute_metrics

    if len(y_true) == 0:
        return None
    if proba is not None:
        p = np.asarray(proba, dtype=float)
        n_classes = len(classes) if classes is not None else None
        if p.ndim != 2 or (n_classes is not None and p.shape[1] != n_classes):
            proba = None
    values = compute_metrics(task, y_true, y_pred, proba, classes, positive_label)
    return values.get(name)


def fairness_report(
    dataset: Any,
    split: Any,
    *,
    sensitive: Sequence[str],
    primary_metric: str,
    test_pred: Any,
    test_proba: Any = None,
) -> dict[str, Any] | None:
    """The ``[fairness]`` table for the test split, or None when no sensitive column is set."""
    if not sensitive:
        return None
    import numpy as np

    rows = np.asarray(split.test)
    columns: dict[str, Any] = {}
    gaps: list[float] = []
    for column in sensitive:
        table = _column_report(dataset, rows, column, primary_metric, test_pred, test_proba)
        columns[str(column)] = table
        if "gap" in table:
            gaps.append(table["gap"])
    result: dict[str, Any] = {}
    if gaps:
        result["max_gap"] = max(gaps)
    result["columns"] = columns
    return result


def _column_report(
    dataset: Any, rows: Any, column: str, primary_metric: str, test_pred: Any, test_proba: Any
) -> dict[str, Any]:
    import numpy as np

    table: dict[str, Any] = {"metric": primary_metric}
    source = _sensitive_column(dataset, column)
    if source is None:
        table["warnings"] = [f"column '{column}' is not in the data set: no fairness figures"]
        return table
    task = dataset.task
    classes = [str(c) for c in dataset.classes] if getattr(dataset, "classes", None) else None
    positive = getattr(dataset, "positive_label", None)
    positive = str(positive) if positive is not None else None
    keys, binned = _group_keys(source)
    keys = keys[rows]
    y_true = dataset.target.to_numpy()[rows]
    y_pred = np.asarray(test_pred)
    proba = np.asarray(test_proba) if test_proba is not None else None
    warnings: list[str] = []
    if binned:
        warnings.append(f"numeric column '{column}' was cut into 4 quantile bands")
    groups = []
    eligible: dict[str, float] = {}
    eligible_rates: dict[str, float] = {}
    for key in sorted(set(keys.tolist())):
        mask = keys == key
        count = int(mask.sum())
        entry: dict[str, Any] = {"group": key, "count": count}
        if task == "classification" and positive is not None and classes and len(classes) == 2:
            entry["positive_rate"] = round(
                float(np.mean([str(v) == positive for v in y_pred[mask]])), 6
            )
            if count >= MIN_GROUP_ROWS:
                eligible_rates[key] = entry["positive_rate"]
        too_small = _too_small(count, y_true[mask], task, primary_metric, classes)
        if too_small:
            warnings.append(f"group '{key}' {too_small}")
        else:
            try:
                value = metric_value(
                    primary_metric,
                    task,
                    y_true[mask],
                    y_pred[mask],
                    proba=proba[mask] if proba is not None else None,
                    classes=classes,
                    positive_label=positive,
                )
            except (ValueError, TypeError) as exc:
                value = None
                warnings.append(f"group '{key}': {primary_metric} could not be computed ({exc})")
            if value is not None and math.isfinite(value):
                entry["metric"] = round(value, 6)
                eligible[key] = value
            else:
                warnings.append(f"group '{key}': {primary_metric} is undefined on its rows")
        groups.append(entry)
    table["groups"] = groups
    if len(groups) == 1:
        warnings.append(f"column '{column}' has one group in the test split: no gap to measure")
    elif len(eligible) < 2:
        warnings.append(
            f"column '{column}' has fewer than two groups large enough for {primary_metric}: "
            "no gap reported"
        )
    if len(eligible) >= 2:
        table["gap"] = round(max(eligible.values()) - min(eligible.values()), 6)
    if len(eligible_rates) >= 2:
        table["positive_rate_gap"] = round(
            max(eligible_rates.values()) - min(eligible_rates.values()), 6
        )
    table["warnings"] = warnings
    return table


def _too_small(
    count: int, y_true: Any, task: str, metric: str, classes: Sequence[str] | None
) -> str | None:
    """Why a group is too small to compare, or None. A class-conditional metric (f1, recall,
    roc_auc, ...) on a group with two positives is noise, so binary targets also need
    ``MIN_GROUP_CLASS_ROWS`` rows of each class for those metrics."""
    if count < MIN_GROUP_ROWS:
        return f"has {count} test rows: too few for a metric (at least {MIN_GROUP_ROWS} needed)"
    if task == "classification" and classes and len(classes) == 2 and metric in PER_CLASS_METRICS:
        labels = [str(v) for v in y_true]
        for label in classes:
            n = labels.count(str(label))
            if n < MIN_GROUP_CLASS_ROWS:
                return (
                    f"has {n} test rows of class '{label}': too few for {metric} "
                    f"(at least {MIN_GROUP_CLASS_ROWS} of each class needed)"
                )
    return None


def _sensitive_column(dataset: Any, column: str) -> Any:
    """The column's values for every row: kept aside by ``load_dataset`` even when dropped."""
    sensitive = getattr(dataset, "sensitive", None)
    if sensitive is not None and column in sensitive.columns:
        return sensitive[column]
    if column in dataset.frame.columns:
        return dataset.frame[column]
    return None


def _group_keys(series: Any) -> tuple[Any, bool]:
    """Group label per row (text); numeric columns with many values become quantile bands."""
    import numpy as np
    import pandas as pd

    missing = series.isna().to_numpy()
    numeric = pd.api.types.is_numeric_dtype(series) and not pd.api.types.is_bool_dtype(series)
    if numeric and series.nunique(dropna=True) > MAX_NUMERIC_GROUPS:
        values = series.to_numpy(dtype=float)
        edges = np.unique(np.nanquantile(values, [0.0, 0.25, 0.5, 0.75, 1.0]))
        inner = edges[1:-1]
        band = np.searchsorted(inner, values, side="right")
        labels = []
        for i in range(len(edges) - 1):
            close = "]" if i == len(edges) - 2 else ")"
            labels.append(f"[{_fmt(edges[i])}, {_fmt(edges[i + 1])}{close}")
        keys = np.array([labels[min(b, len(labels) - 1)] for b in band], dtype=object)
        keys[missing] = MISSING_GROUP
        return keys, True
    keys = np.array([_fmt(v) if numeric else str(v) for v in series.to_numpy()], dtype=object)
    keys[missing] = MISSING_GROUP
    return keys, False


def _fmt(value: Any) -> str:
    """Text of a group value: 30.0 -> "30", 0.25 -> "0.25", anything else as str()."""
    if isinstance(value, numbers.Real) and not isinstance(value, numbers.Integral):
        number = float(value)
        if math.isfinite(number) and number.is_integer():
            return str(int(number))
        return f"{number:g}"
    return str(value)
