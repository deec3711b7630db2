"""Quality metrics and their seeded bootstrap confidence intervals.

Every metric is written as a weighted sum over rows. A plain metric uses weight 1 per row; a
bootstrap resample uses how often each row was drawn. So ``compute_metrics`` and
``bootstrap_ci`` share one implementation and the 1,000 resamples are a handful of matrix
products instead of 1,000 calls into scikit-learn. Values agree with scikit-learn's
(tests check it): f1/precision/recall on the positive label for binary targets, macro
averages over the labels present otherwise; roc_auc one-vs-rest macro for multiclass.
Above ``EXACT_ROWS`` test rows the resamples come from the bag of little bootstraps, at a cost
that does not grow with the rows (``bootstrap_values``; docs/profiler.md says what it trades).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from typing import Any

import numpy as np

from modelsnap.core.errors import ModelsnapError
from modelsnap.core.measures import MEASURE_DIRECTIONS, QUALITY_METRICS, REGISTRY, metrics_of

METRIC_DIRECTIONS: dict[str, str] = {name: MEASURE_DIRECTIONS[name] for name in QUALITY_METRICS}
_EPS = np.finfo(np.float64).eps


def _classification(
    weights: np.ndarray,
    y_true: np.ndarray,
    y_pred: np.ndarray,
    proba: np.ndarray | None,
    classes: list[str],
    positive_label: str | None,
) -> dict[str, np.ndarray]:
    """Metrics per row of ``weights`` (shape B x n)."""
    total = weights.sum(axis=1)
    true_hot = (y_true[:, None] == np.asarray(classes)[None, :]).astype(np.float64)  # n x K
    pred_hot = (y_pred[:, None] == np.asarray(classes)[None, :]).astype(np.float64)
    true_count = weights @ true_hot  # B x K
    pred_count = weights @ pred_hot
    true_pos = weights @ (true_hot * pred_hot)
    out: dict[str, np.ndarray] = {"accuracy": true_pos.sum(axis=1) / total}
    with np.errstate(divide="ignore", invalid="ignore"):
        recall_k = np.where(true_count > 0, true_pos / true_count, 0.0)
        precision_k = np.where(pred_count > 0, true_pos / pred_count, 0.0)
        denom = true_count + pred_count
        f1_k = np.where(denom > 0, 2 * true_pos / denom, 0.0)
    out["matthews_corrcoef"] = _matthews(total, true_pos, true_count, pred_count)
    present_true = true_count > 0
    out["balanced_accuracy"] = (recall_k * present_true).sum(axis=1) / present_true.sum(axis=1)
    if positive_label is not None and len(classes) == 2:
        k = classes.index(positive_label)
        out["precision"], out["recall"], out["f1"] = precision_k[:, k], recall_k[:, k], f1_k[:, k]
    else:
        present = (true_count + pred_count) > 0
        n_present = present.sum(axis=1)
        out["precision"] = (precision_k * present).sum(axis=1) / n_present
        out["recall"] = (recall_k * present).sum(axis=1) / n_present
        out["f1"] = (f1_k * present).sum(axis=1) / n_present
    if proba is not None:
        p_true = np.clip((proba * true_hot).sum(axis=1), _EPS, 1.0)
        out["log_loss"] = (weights @ -np.log(p_true)) / total
        if len(classes) == 2:
            k = classes.index(positive_label) if positive_label is not None else 1
            out["roc_auc"] = _auc(weights, proba[:, k], true_hot[:, k])
            out["brier"] = (weights @ (proba[:, k] - true_hot[:, k]) ** 2) / total
        else:
            per_class = [_auc(weights, proba[:, k], true_hot[:, k]) for k in range(len(classes))]
            with np.errstate(invalid="ignore"):
                out["roc_auc"] = np.mean(np.vstack(per_class), axis=0)
    return out


def _matthews(
    total: np.ndarray, true_pos: np.ndarray, true_count: np.ndarray, pred_count: np.ndarray
) -> np.ndarray:
    """Matthews correlation from the weighted confusion counts (the multiclass R_K form,
    binary included); 0 when every prediction, or every target, is one class (as sklearn)."""
    correct = true_pos.sum(axis=1)
    numerator = correct * total - (pred_count * true_count).sum(axis=1)
    spread_pred = total**2 - (pred_count**2).sum(axis=1)
    spread_true = total**2 - (true_count**2).sum(axis=1)
    denominator = np.sqrt(spread_pred * spread_true)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(denominator > 0, numerator / denominator, 0.0)


def _auc(weights: np.ndarray, score: np.ndarray, positive: np.ndarray) -> np.ndarray:
    """Weighted Mann-Whitney AUC (ties count one half) per row of ``weights``; NaN when a
    resample holds only one class."""
    order = np.argsort(score, kind="mergesort")
    score, positive, w = score[order], positive[order] > 0, weights[:, order]
    # Tie groups of equal scores: [start, end) positions in sorted order.
    _, starts, group = np.unique(score, return_index=True, return_inverse=True)
    ends = np.append(starts[1:], len(score))
    cumulative = np.zeros((w.shape[0], len(score) + 1))
    np.cumsum(np.where(positive, 0.0, w), axis=1, out=cumulative[:, 1:])
    pos = np.flatnonzero(positive)
    w_pos = w[:, pos]
    neg_below = cumulative[:, starts[group[pos]]]
    neg_tied = cumulative[:, ends[group[pos]]] - neg_below
    numerator = np.einsum("bp,bp->b", w_pos, neg_below + 0.5 * neg_tied)
    with np.errstate(divide="ignore", invalid="ignore"):
        return numerator / (w_pos.sum(axis=1) * cumulative[:, -1])


def _regression(
    weights: np.ndarray, y_true: np.ndarray, y_pred: np.ndarray
) -> dict[str, np.ndarray]:
    total = weights.sum(axis=1)
    error = y_true - y_pred
    mean_true = (weights @ y_true) / total
    ss_res = weights @ error**2
    ss_tot = weights @ y_true**2 - total * mean_true**2
    with np.errstate(divide="ignore", invalid="ignore"):
        r2 = np.where(ss_tot > 0, 1.0 - ss_res / np.maximum(ss_tot, 0), np.nan)
    return {"r2": r2, "mae": (weights @ np.abs(error)) / total, "rmse": np.sqrt(ss_res / total)}


def prepare(
    task: str,
    y_true: Any,
    y_pred: Any,
    proba: Any,
    classes: Sequence[Any] | None,
    positive_label: Any,
) -> tuple[np.ndarray, np.ndarray, np.ndarray | None, list[str], str | None]:
    """Validate and normalise targets, predictions and probabilities once (labels as text),
    so that ``evaluate_weighted`` can score many resamples of the same rows."""
    if task not in ("classification", "regression"):
        raise ModelsnapError(f"unknown task {task!r}", hint="expected classification or regression")
    y_true = np.asarray(y_true)
    y_pred = np.asarray(y_pred)
    if y_true.shape != y_pred.shape or y_true.ndim != 1 or len(y_true) == 0:
        raise ModelsnapError(
            f"predictions do not match the targets: {y_pred.shape} predictions "
            f"for {y_true.shape} rows"
        )
    if task == "regression":
        return y_true.astype(np.float64), y_pred.astype(np.float64), None, [], None
    labels = [str(c) for c in (classes if classes is not None else sorted(set(map(str, y_true))))]
    positive = None if positive_label is None else str(positive_label)
    if len(labels) == 2 and positive is None:
        positive = labels[1]
    matrix = None
    if proba is not None:
        matrix = np.asarray(proba, dtype=np.float64)
        if matrix.ndim != 2 or matrix.shape != (len(y_true), len(labels)):
            raise ModelsnapError(
                f"probabilities have shape {matrix.shape}, expected ({len(y_true)}, {len(labels)}) "
                "with columns in class order"
            )
    return y_true.astype(str), y_pred.astype(str), matrix, labels, positive


def evaluate_weighted(
    task: str,
    weights: np.ndarray,
    y_true: np.ndarray,
    y_pred: np.ndarray,
    proba: np.ndarray | None,
    classes: list[str],
    positive: str | None,
) -> dict[str, np.ndarray]:
    """Every metric under each row of ``weights`` (resample counts): one value per row. The
    bootstrap here and the paired bootstrap in ``significance`` share it."""
    if task == "regression":
        return _regression(weights, y_true, y_pred)
    return _classification(weights, y_true, y_pred, proba, classes, positive)


def _ordered(values: dict[str, Any], task: str) -> dict[str, Any]:
    return {name: values[name] for name in metrics_of(task) if name in values}


def compute_metrics(
    task: str,
    y_true: Any,
    y_pred: Any,
    proba: Any = None,
    classes: Sequence[Any] | None = None,
    positive_label: Any = None,
) -> dict[str, float]:
    """The task's metrics as floats. ``proba`` columns follow ``classes``; roc_auc and log_loss
    need it, brier too (binary only). A metric that is undefined on these rows (roc_auc with a
    single class present) is left out rather than recorded as NaN."""
    y_true, y_pred, proba, labels, positive = prepare(
        task, y_true, y_pred, proba, classes, positive_label
    )
    once = np.ones((1, len(y_true)))
    values = evaluate_weighted(task, once, y_true, y_pred, proba, labels, positive)
    result = {name: float(value[0]) for name, value in values.items()}
    return _ordered({k: v for k, v in result.items() if np.isfinite(v)}, task)


def bootstrap_weights(rows: int, n: int, seed: int, chunk: int = 250) -> Iterator[np.ndarray]:
    """Seeded bootstrap resamples of ``rows`` rows as weights: how often each row was drawn,
    one resample per row of a ``chunk x rows`` matrix, ``n`` resamples in all. The interval
    here and the paired bootstrap in ``significance`` draw from it (same seed, same rows)."""
    rng = np.random.default_rng(seed)
    done = 0
    while done < n:
        size = min(chunk, n - done)
        draws = rng.integers(0, rows, size=(size, rows))
        offsets = draws + (np.arange(size) * rows)[:, None]
        weights = np.bincount(offsets.ravel(), minlength=size * rows).reshape(size, rows)
        yield weights.astype(np.float64)
        done += size


RESAMPLES = 1000
"""How many resamples an interval is drawn from (``metrics.test_ci_resamples``)."""
EXACT_ROWS = 10_000
"""Up to this many rows every resample draws all the rows (the multinomial bootstrap)."""
BAG_ROWS = 5_000
"""Above ``EXACT_ROWS``: how many distinct rows each bag of little bootstraps holds."""
BAGS = 10
"""Above ``EXACT_ROWS``: how many bags the resamples are spread over."""


# A little-bags value (the full-data figure plus a bag's deviation) may step past the edge of
# the metric's range when the figure sits on it (a handful of errors in 50,000 rows), so
# interval ends are kept inside the range the measure registry gives (``Measure.limits``).
def _limits(name: str) -> tuple[float, float]:
    measure = REGISTRY.get(name)
    return measure.limits if measure is not None else (-np.inf, np.inf)


Score = Callable[[np.ndarray, "np.ndarray | None"], dict[str, np.ndarray]]


def bootstrap_method(rows: int) -> str:
    """How a bootstrap over ``rows`` rows is drawn: ``"multinomial"`` (every resample draws
    all the rows) up to ``EXACT_ROWS``, ``"little-bags"`` above (see ``bootstrap_values``)."""
    return "multinomial" if rows <= EXACT_ROWS else "little-bags"


def bootstrap_values(
    score: Score,
    rows: int,
    n: int,
    seed: int,
    chunk: int = 250,
    method: str | None = None,
) -> dict[str, np.ndarray]:
    """Each statistic of ``score`` on ``n`` seeded bootstrap resamples of ``rows`` rows.

    ``score(weights, index)`` gives every statistic per row of ``weights`` (resample counts)
    for the rows ``index`` (``None``: all rows). ``method`` defaults to
    ``bootstrap_method(rows)``:

    * ``"multinomial"``: resamples from ``bootstrap_weights``, cost proportional to
      ``n * rows``.
    * ``"little-bags"`` (the bag of little bootstraps, Kleiner et al. 2014): the resamples are
      spread over ``BAGS`` bags; each bag is ``BAG_ROWS`` distinct rows drawn without
      replacement, and each of its resamples gives them multinomial counts that add up to
      ``rows``, so a resample is still one of ``rows`` rows. The value kept is the full-data
      estimate plus the resample's deviation from its bag's own estimate, so the percentile
      interval (and a p-value) reads the same way. Cost proportional to ``n * BAG_ROWS``,
      whatever ``rows``.
    """
    method = method or bootstrap_method(rows)
    collected: dict[str, list[np.ndarray]] = {}
    if method == "multinomial":
        for weights in bootstrap_weights(rows, n, seed, chunk):
            for name, value in score(weights, None).items():
                collected.setdefault(name, []).append(value)
    elif method == "little-bags":
        rng = np.random.default_rng(seed)
        full = score(np.ones((1, rows)), None)
        bags = max(1, min(BAGS, n))
        size = min(BAG_ROWS, rows)
        uniform = np.full(size, 1.0 / size)
        for bag in range(bags):
            index = np.sort(rng.choice(rows, size=size, replace=False))
            centre = score(np.ones((1, size)), index)
            todo = n // bags + (1 if bag < n % bags else 0)
            while todo > 0:
                step = min(chunk, todo)
                weights = rng.multinomial(rows, uniform, size=step).astype(np.float64)
                for name, value in score(weights, index).items():
                    collected.setdefault(name, []).append(full[name][0] + (value - centre[name][0]))
                todo -= step
    else:
        raise ModelsnapError(
            f"unknown bootstrap method {method!r}", hint="expected multinomial or little-bags"
        )
    return {name: np.concatenate(parts) for name, parts in collected.items()}


def take(
    index: np.ndarray | None,
    y_true: np.ndarray,
    y_pred: np.ndarray,
    proba: np.ndarray | None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
    """The rows ``index`` of prepared targets, predictions and probabilities (all: ``None``)."""
    if index is None:
        return y_true, y_pred, proba
    return y_true[index], y_pred[index], None if proba is None else proba[index]


def bootstrap_ci(
    task: str,
    y_true: Any,
    y_pred: Any,
    proba: Any = None,
    classes: Sequence[Any] | None = None,
    positive_label: Any = None,
    *,
    n: int = RESAMPLES,
    seed: int = 0,
    confidence: float = 0.95,
    chunk: int = 250,
    method: str | None = None,
) -> dict[str, list[float]]:
    """Seeded percentile bootstrap interval ``[lo, hi]`` per metric (rows resampled with
    replacement; drawn as ``bootstrap_method(rows)`` says unless ``method`` is given).
    Resamples where a metric is undefined are skipped for that metric."""
    y_true, y_pred, proba, labels, positive = prepare(
        task, y_true, y_pred, proba, classes, positive_label
    )

    def score(weights: np.ndarray, index: np.ndarray | None) -> dict[str, np.ndarray]:
        rows = take(index, y_true, y_pred, proba)
        return evaluate_weighted(task, weights, *rows, labels, positive)

    collected = bootstrap_values(score, len(y_true), n, seed, chunk, method)
    alpha = (1.0 - confidence) / 2.0
    intervals: dict[str, list[float]] = {}
    for name, drawn in collected.items():
        values = drawn[np.isfinite(drawn)]
        if len(values):
            low, high = np.quantile(values, [alpha, 1.0 - alpha])
            floor, ceiling = _limits(name)
            intervals[name] = [max(float(low), floor), min(float(high), ceiling)]
    return _ordered(intervals, task)
