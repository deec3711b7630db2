"""Interpretability: which features a model relies on, and how easy it is to explain.

Permutation importance runs on the **validation split** and on the raw feature columns of the
whole fitted pipeline (preprocessing + estimator), so every model is explained in the same
vocabulary — the user's columns — whatever its encoding. It is seeded, uses ``N_REPEATS``
shuffles and at most ``ROW_CAP`` validation rows (a seeded sample) so it stays a few seconds;
with many columns the sample shrinks so that rows × columns stays under ``CELL_BUDGET``
(never below ``MIN_ROWS``), because each column costs ``N_REPEATS`` predictions.
The scorer is the project's primary metric (sign flipped for error metrics, so larger is always
better); when that metric cannot be computed on the sample (e.g. roc_auc for a model without
probabilities) it falls back to balanced accuracy or R² and says so in ``metric``.

Next to it, the model's own ``coef_`` (mean |coefficient| over classes) or
``feature_importances_`` are recorded under the transformed feature names.

The score (0..1, higher = easier to explain) is
``0.5 * intrinsic + 0.5 * min(1, COMPACT_FEATURES / max(n_nonzero, 1))``:
half for being intrinsically interpretable (a linear model, or a decision tree of depth
<= ``SMALL_TREE_DEPTH``), half for relying on few features (at most five effective features
earn the full half; twenty earn a quarter of it). A feature counts in ``n_nonzero`` when its
mean importance is > 0 and > 2 × its standard deviation over the repeats (beyond noise).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from modelsnap.core.evaluation.fairness import metric_value
from modelsnap.core.measures import PROBABILITY_METRICS, QUALITY_MIN

N_REPEATS = 5
ROW_CAP = 1_000
CELL_BUDGET = 50_000
MIN_ROWS = 200
TOP_K = 10
SUSPECT_TOP = 5
SMALL_TREE_DEPTH = 6
COMPACT_FEATURES = 5
STACK_CELLS = 2_000_000  # cells of one stack of permuted copies predicted in one call


def final_estimator(model: Any) -> Any:
    """The last step of a Pipeline (or the model itself)."""
    steps = getattr(model, "steps", None)
    if steps:
        return steps[-1][1]
    return model


def model_family(model: Any) -> tuple[bool, str]:
    """(intrinsic, family): "linear" (has coef_), "small_tree" (depth <= 6), else "post_hoc"."""
    estimator = final_estimator(model)
    if _has_attr(estimator, "coef_"):
        return True, "linear"
    get_depth = getattr(estimator, "get_depth", None)
    if _has_attr(estimator, "tree_") and callable(get_depth):
        try:
            if int(get_depth()) <= SMALL_TREE_DEPTH:
                return True, "small_tree"
        except (TypeError, ValueError, AttributeError):
            pass
    return False, "post_hoc"


def _has_attr(obj: Any, name: str) -> bool:
    # hasattr only swallows AttributeError; a custom estimator's property may raise anything.
    try:
        getattr(obj, name)
    except Exception:
        return False
    return True


def interpretability_score(intrinsic: bool, n_nonzero: int) -> float:
    """The documented 0..1 score (see the module docstring)."""
    compact = min(1.0, COMPACT_FEATURES / max(n_nonzero, 1))
    return round(0.5 * (1.0 if intrinsic else 0.0) + 0.5 * compact, 3)


def interpretability_report(
    model: Any,
    X_valid: Any,
    y_valid: Any,
    *,
    task: str,
    primary_metric: str,
    classes: Sequence[str] | None = None,
    positive_label: str | None = None,
    suspect_features: Sequence[str] = (),
    seed: int = 0,
    row_cap: int = ROW_CAP,
    n_repeats: int = N_REPEATS,
) -> dict[str, Any]:
    """The ``[interpretability]`` table for a fitted pipeline; never raises on a model quirk.

    ``X_valid`` is the raw validation frame (the user's columns), ``y_valid`` its target.
    A model that cannot be scored gets ``unavailable = "<reason>"`` instead of the importances.
    """
    import numpy as np

    intrinsic, family = model_family(model)
    table: dict[str, Any] = {"method": "permutation", "intrinsic": intrinsic, "family": family}
    own = model_importances(model)
    if own is not None:
        table["model_importance_kind"], table["model_importances"] = own
    if len(X_valid) == 0:
        table["unavailable"] = "the validation split is empty"
        return table
    rng = np.random.default_rng(seed)
    rows = np.arange(len(X_valid))
    cap = max(min(row_cap, MIN_ROWS), min(row_cap, CELL_BUDGET // max(X_valid.shape[1], 1)))
    if len(rows) > cap:
        rows = np.sort(rng.choice(rows, size=cap, replace=False))
    X = X_valid.iloc[rows]
    y = np.asarray(y_valid)[rows]
    labels = [str(c) for c in classes] if classes is not None else None
    try:
        metric, scorer = _pick_scorer(model, X, y, task, primary_metric, labels, positive_label)
    except Exception as exc:  # a user model may raise anything: report it, never crash the run
        table["unavailable"] = f"the model cannot be scored on the validation rows: {_reason(exc)}"
        return table
    if metric is None:
        table["unavailable"] = (
            f"neither {primary_metric} nor a fallback metric is defined on the validation rows"
        )
        return table
    try:
        importances = stacked_permutation_importance(
            model,
            X,
            y,
            baseline=scorer(model, X, y),
            score=_block_scorer(metric, task, labels, positive_label),
            n_repeats=n_repeats,
            seed=seed,
        )
    except Exception as exc:  # same reason as above
        table["unavailable"] = f"permutation importance failed: {_reason(exc)}"
        return table
    names = [str(c) for c in X.columns]
    means = np.nan_to_num(importances.mean(axis=1))
    stds = np.nan_to_num(importances.std(axis=1))
    order = sorted(range(len(names)), key=lambda i: (-means[i], names[i]))
    nonzero = int(np.sum((means > 0) & (means > 2 * stds)))
    top = [
        {"name": names[i], "importance": round(float(means[i]), 6), "std": round(float(stds[i]), 6)}
        for i in order[:TOP_K]
    ]
    leading = {names[i] for i in order[:SUSPECT_TOP] if means[i] > 0}
    table.update(
        metric=metric,
        n_features=len(names),
        n_nonzero=nonzero,
        score=interpretability_score(intrinsic, nonzero),
        suspect_hits=[s for s in suspect_features if s in leading],
        top_features=top,
        rows=int(len(rows)),
        n_repeats=n_repeats,
    )
    return table


def stacked_permutation_importance(
    model: Any,
    X: Any,
    y: Any,
    *,
    baseline: float,
    score: Any,
    n_repeats: int,
    seed: int,
    cell_budget: int = STACK_CELLS,
) -> Any:
    """Permutation importances (n_columns x n_repeats), equal to scikit-learn's
    ``permutation_importance(model, X, y, n_repeats=, random_state=seed)`` for a model whose
    predictions are row by row (every scikit-learn estimator's are).

    The same permutations are drawn (scikit-learn draws one seed and every column replays the
    same cumulative shuffles), but the permuted copies of ``X`` are stacked into a few large
    frames, so the pipeline predicts a few times instead of n_columns x n_repeats times: the
    per-call cost of the preprocessing and the estimator is paid once per stack, not per copy.
    ``score(y, pred, proba_or_None, model, X_block)`` scores one copy; ``cell_budget`` caps
    the cells of one stack (memory).
    """
    import numpy as np
    import pandas as pd

    rows, columns = X.shape
    random_seed = np.random.RandomState(seed).randint(np.iinfo(np.int32).max + 1)
    shuffles = np.random.RandomState(random_seed)
    order = np.arange(rows)
    composed, current = [], np.arange(rows)
    for _ in range(n_repeats):
        shuffles.shuffle(order)  # scikit-learn re-shuffles the shuffled column each repeat
        current = current[order]
        composed.append(current.copy())
    blocks = [(j, r) for j in range(columns) for r in range(n_repeats)]
    per_stack = max(1, cell_budget // max(rows * columns, 1))
    importances = np.zeros((columns, n_repeats))
    base = X.reset_index(drop=True)
    for start in range(0, len(blocks), per_stack):
        chunk = blocks[start : start + per_stack]
        copies = []
        for j, r in chunk:
            copy = base.copy()
            name = base.columns[j]
            copy[name] = base[name].iloc[composed[r]].to_numpy()
            copies.append(copy)
        stack = pd.concat(copies, ignore_index=True)
        pred, proba = score.predict(model, stack)
        for k, (j, r) in enumerate(chunk):
            part = slice(k * rows, (k + 1) * rows)
            value = score(y, pred[part], None if proba is None else proba[part])
            importances[j, r] = baseline - value
    return importances


class _block_scorer:  # noqa: N801 - used like the function it replaces
    """One metric on predictions already made (the stacked permutation importance's scorer)."""

    def __init__(
        self, name: str, task: str, labels: list[str] | None, positive: str | None
    ) -> None:
        self.name, self.task, self.labels, self.positive = name, task, labels, positive
        self.sign = -1.0 if name in QUALITY_MIN else 1.0
        self.needs_proba = task == "classification" and name in ("roc_auc", "log_loss", "brier")

    def predict(self, model: Any, X: Any) -> tuple[Any, Any]:
        import numpy as np

        pred = np.asarray(model.predict(X))
        proba = class_probabilities(model, X, self.labels) if self.needs_proba else None
        return pred, proba

    def __call__(self, y: Any, pred: Any, proba: Any) -> float:
        value = metric_value(
            self.name,
            self.task,
            y,
            pred,
            proba=proba,
            classes=self.labels,
            positive_label=self.positive,
        )
        return 0.0 if value is None else self.sign * value


def _reason(exc: BaseException) -> str:
    text = f"{type(exc).__name__}: {exc}".strip()
    return text if len(text) <= 300 else text[:297] + "..."


def _pick_scorer(
    model: Any,
    X: Any,
    y: Any,
    task: str,
    primary: str,
    labels: list[str] | None,
    positive: str | None,
) -> tuple[str | None, Any]:
    """The first of (primary metric, fallback) defined on the unpermuted rows, and its scorer."""
    fallback = "balanced_accuracy" if task == "classification" else "r2"
    for name in dict.fromkeys([primary, fallback]):
        scorer = _make_scorer(name, task, labels, positive)
        if scorer(model, X, y) is not None:
            return name, lambda est, X_, y_, _s=scorer: _or_zero(_s(est, X_, y_))
    return None, None


def _or_zero(value: float | None) -> float:
    return 0.0 if value is None else value


def _make_scorer(name: str, task: str, labels: list[str] | None, positive: str | None) -> Any:
    sign = -1.0 if name in QUALITY_MIN else 1.0

    def score(estimator: Any, X: Any, y: Any) -> float | None:
        pred = estimator.predict(X)
        proba = None
        if task == "classification" and name in PROBABILITY_METRICS:
            proba = class_probabilities(estimator, X, labels)
        value = metric_value(
            name, task, y, pred, proba=proba, classes=labels, positive_label=positive
        )
        return None if value is None else sign * value

    return score


def class_probabilities(model: Any, X: Any, labels: Sequence[str] | None) -> Any:
    """predict_proba with columns reordered to ``labels`` (as text); None when unavailable."""
    import numpy as np

    if labels is None or not hasattr(model, "predict_proba"):
        return None
    try:
        proba = np.asarray(model.predict_proba(X), dtype=float)
    except (AttributeError, NotImplementedError):
        return None
    own = [str(c) for c in getattr(model, "classes_", labels)]
    if sorted(own) != sorted(labels) or proba.shape[1] != len(own):
        return None
    return proba[:, [own.index(c) for c in labels]]


def model_importances(model: Any) -> tuple[str, list[dict[str, Any]]] | None:
    """The model's own importances (coef_ or feature_importances_) under transformed names."""
    import numpy as np

    estimator = final_estimator(model)
    kind = None
    values = None
    for attr, label in (("feature_importances_", "feature_importances"), ("coef_", "coef")):
        if _has_attr(estimator, attr):
            try:
                raw = np.asarray(getattr(estimator, attr), dtype=float)
            except (TypeError, ValueError):
                continue
            values = np.abs(raw).reshape(-1, raw.shape[-1]).mean(axis=0) if raw.ndim else None
            kind = label
            break
    if values is None or kind is None:
        return None
    names = _transformed_names(model, len(values))
    order = sorted(range(len(values)), key=lambda i: (-values[i], names[i]))
    return kind, [
        {"name": names[i], "importance": round(float(values[i]), 6)} for i in order[:TOP_K]
    ]


def _transformed_names(model: Any, n: int) -> list[str]:
    steps = getattr(model, "steps", None)
    names = None
    try:
        if steps and len(steps) > 1:
            names = list(model[:-1].get_feature_names_out())
        else:
            names = list(getattr(final_estimator(model), "feature_names_in_", []))
    except Exception:  # a custom transformer may not implement name propagation
        names = None
    if not names or len(names) != n:
        return [f"x{i}" for i in range(n)]
    return [str(name) for name in names]
