"""Is the top pick's lead distinguishable from noise? Tests on the stored test predictions.

A ranking orders point estimates; on a few hundred test rows a 0.01 lead in f1 is often luck.
So the top pick is compared with the runner-up and with the baseline on the *same* test rows:

* accuracy: McNemar's exact test on the discordant pairs (rows exactly one model gets right);
* any other primary metric: a seeded paired bootstrap, resampling rows once for both models, of
  the difference in the metric; two-sided p-value ``2 * min(P(d* <= 0), P(d* >= 0))``.

Verdict "significant" when p < 0.05. Loads predictions (and, unless the predictions file holds
``test_true``, the data set), so it runs only when asked: ``rank --significance``, ``report``,
the TUI. numpy is imported inside functions; pandas only through ``core.evaluation.data`` when
needed.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from modelsnap.core.errors import SnapshotError

if TYPE_CHECKING:
    from modelsnap.core.project.schema import ProjectConfig

ALPHA = 0.05
DEFAULT_RESAMPLES = 2000


def mcnemar_exact(b: int, c: int) -> float:
    """Two-sided exact McNemar p-value: binomial test of b successes in b + c at p = 1/2."""
    n = b + c
    if n == 0:
        return 1.0
    k = min(b, c)
    tail = math.fsum(math.comb(n, i) for i in range(k + 1)) / 2.0**n
    return min(1.0, 2.0 * tail)


def verdict(p_value: float) -> str:
    return "significant" if p_value < ALPHA else "not significant"


def _metric_direction(metric: str) -> str:
    from modelsnap.core.measures import MEASURE_DIRECTIONS

    return MEASURE_DIRECTIONS.get(metric, "max")


def compare_accuracy(
    y_true: Sequence[Any], pred_a: Sequence[Any], pred_b: Sequence[Any]
) -> dict[str, Any]:
    """McNemar's exact test of model A against model B on the same rows."""
    import numpy as np

    truth = np.asarray(y_true).astype(str)
    right_a = np.asarray(pred_a).astype(str) == truth
    right_b = np.asarray(pred_b).astype(str) == truth
    if not (len(truth) == len(right_a) == len(right_b)) or len(truth) == 0:
        raise SnapshotError("predictions and targets have different lengths")
    b = int(np.sum(right_a & ~right_b))
    c = int(np.sum(~right_a & right_b))
    p_value = mcnemar_exact(b, c)
    return {
        "metric": "accuracy",
        "method": "mcnemar-exact",
        "n_rows": int(len(truth)),
        "difference": float(right_a.mean() - right_b.mean()),
        "only_a_right": b,
        "only_b_right": c,
        "p_value": p_value,
        "verdict": verdict(p_value),
    }


def paired_bootstrap(
    task: str,
    metric: str,
    y_true: Sequence[Any],
    pred_a: Sequence[Any],
    pred_b: Sequence[Any],
    proba_a: Any = None,
    proba_b: Any = None,
    *,
    classes: Sequence[Any] | None = None,
    positive_label: Any = None,
    n: int = DEFAULT_RESAMPLES,
    seed: int = 0,
    chunk: int = 250,
    method: str | None = None,
) -> dict[str, Any]:
    """Paired bootstrap of metric(A) - metric(B), signed so that positive means A is better.

    Each resample draws rows with replacement once and scores both models on it, so the
    noise the two share (hard rows, easy rows) cancels out of the difference. Resamples are
    drawn as ``metrics.bootstrap_values`` says (``method``: by default exact multinomial up to
    ``metrics.EXACT_ROWS`` rows, the bag of little bootstraps above); ``draw`` names it.
    """
    import numpy as np

    from modelsnap.core.evaluation import metrics

    truth, a, pa, labels, positive = metrics.prepare(
        task, y_true, pred_a, proba_a, classes, positive_label
    )
    _, b, pb, _, _ = metrics.prepare(task, y_true, pred_b, proba_b, classes, positive_label)
    sign = 1.0 if _metric_direction(metric) == "max" else -1.0

    def score(weights: Any, pred: Any, proba: Any, index: Any = None) -> Any:
        values = metrics.evaluate_weighted(
            task, weights, *metrics.take(index, truth, pred, proba), labels, positive
        )
        if metric not in values:
            raise SnapshotError(
                f"metric {metric!r} cannot be computed from the stored predictions",
                hint="roc_auc, log_loss and brier need probabilities",
            )
        return values[metric]

    rows = len(truth)
    ones = np.ones((1, rows))
    observed = float(sign * (score(ones, a, pa)[0] - score(ones, b, pb)[0]))

    def difference(weights: Any, index: Any) -> dict[str, Any]:
        return {"d": sign * (score(weights, a, pa, index) - score(weights, b, pb, index))}

    method = method or metrics.bootstrap_method(rows)
    diffs = metrics.bootstrap_values(difference, rows, n, seed, chunk, method)["d"]
    diffs = diffs[np.isfinite(diffs)]
    if len(diffs) == 0:
        raise SnapshotError(f"metric {metric!r} is undefined on every resample of the test rows")
    p_value = float(min(1.0, 2.0 * min(np.mean(diffs <= 0), np.mean(diffs >= 0))))
    low, high = np.quantile(diffs, [ALPHA / 2, 1 - ALPHA / 2])
    return {
        "metric": metric,
        "method": "paired-bootstrap",
        "n_rows": int(rows),
        "resamples": int(len(diffs)),
        "draw": method,
        "seed": seed,
        "difference": observed,
        "ci": [float(low), float(high)],
        "p_value": p_value,
        "verdict": verdict(p_value),
    }


# ---------------------------------------------------------------------------------------------
# From a project folder


class _Predictions:
    """A snapshot's stored test predictions, hash-checked, plus what scoring them needs."""

    def __init__(self, root: Path, snapshot: Mapping[str, Any]):
        import zipfile
        import zlib

        import numpy as np

        from modelsnap.core.errors import IntegrityError
        from modelsnap.core.files import inside, sha256_file

        self.id = str(snapshot.get("id"))
        table = snapshot.get("predictions")
        table = table if isinstance(table, Mapping) else {}
        relative = table.get("path")
        if not isinstance(relative, str):
            raise SnapshotError(
                "has no stored predictions",
                where=f"snapshot {self.id}",
                hint="re-run the model to store its predictions",
            )
        path = inside(root, relative, what="predictions path")
        if not path.is_file():
            raise SnapshotError("predictions file is missing", where=str(path))
        expected = table.get("sha256")
        if isinstance(expected, str) and sha256_file(path) != expected:
            raise IntegrityError(
                "predictions file does not match the sha256 in its snapshot",
                where=str(path),
                hint="restore it from version control",
            )
        try:
            with np.load(path, allow_pickle=False) as npz:
                arrays = {key: npz[key] for key in npz.files}
        except (OSError, ValueError, EOFError, zipfile.BadZipFile, zlib.error) as exc:
            raise SnapshotError(f"predictions cannot be read ({exc})", where=str(path)) from None
        if "test_pred" not in arrays:
            raise SnapshotError("predictions hold no test_pred array", where=str(path))
        self.pred = arrays["test_pred"]
        self.proba = arrays.get("test_proba")
        self.truth = arrays.get("test_true")
        data = snapshot.get("data")
        data = data if isinstance(data, Mapping) else {}
        self.task = str(data.get("task", "classification"))
        self.classes = data.get("classes")
        self.positive_label = data.get("positive_label")
        self.dataset_sha256 = data.get("dataset_sha256")
        self.split_sha256 = data.get("split_sha256")


def _test_truth(root: Path, config: ProjectConfig, first: _Predictions) -> Any:
    """The test split's targets, from the predictions file or else from the data set itself."""
    if first.truth is not None:
        return first.truth
    from modelsnap.core.evaluation.data import load_dataset, read_split

    dataset = load_dataset(config)
    split = read_split(root)
    if dataset.dataset_sha256 != first.dataset_sha256 or split.split_sha256 != first.split_sha256:
        raise SnapshotError(
            "the data set or split changed since these snapshots were made; their test targets "
            "cannot be recovered",
            where=str(root),
            hint="restore the data file and split.npz the snapshots were made with",
        )
    target = dataset.target.to_numpy()
    return target[split.test]


def compare_snapshots(
    root: Path,
    config: ProjectConfig,
    a: Mapping[str, Any],
    b: Mapping[str, Any],
    metric: str,
    *,
    truth: Any = None,
    n: int = DEFAULT_RESAMPLES,
    seed: int = 0,
) -> dict[str, Any]:
    """Test snapshot ``a`` against ``b`` on the primary metric (McNemar for accuracy)."""
    first, second = _Predictions(root, a), _Predictions(root, b)
    if truth is None:
        truth = _test_truth(root, config, first)
    if len(first.pred) != len(truth) or len(second.pred) != len(truth):
        raise SnapshotError(
            f"test predictions of {first.id} and {second.id} do not cover the same test rows",
            hint="compare snapshots made on the same split",
        )
    if metric == "accuracy" and first.task == "classification":
        outcome = compare_accuracy(truth, first.pred, second.pred)
    else:
        outcome = paired_bootstrap(
            first.task,
            metric,
            truth,
            first.pred,
            second.pred,
            first.proba,
            second.proba,
            classes=first.classes,
            positive_label=first.positive_label,
            n=n,
            seed=seed,
        )
    return {"a": first.id, "b": second.id, **outcome}


def ranking_significance(
    root: Path, config: ProjectConfig, result: Any, *, n: int = DEFAULT_RESAMPLES, seed: int = 0
) -> dict[str, Any]:
    """The top pick against the runner-up and against the baseline.

    Each comparison is a dict (see ``compare_snapshots``) or ``{"a", "b", "error"}`` saying why
    it could not be computed; the ranking is never blocked by a missing predictions file.
    """
    from modelsnap.core.errors import ModelsnapError
    from modelsnap.core.records.store import read_snapshot

    out: dict[str, Any] = {"metric": result.primary_metric, "alpha": ALPHA}
    top = result.top
    if top is None:
        return out
    pairs = {}
    if len(result.ranked) > 1:
        pairs["vs_runner_up"] = result.ranked[1].id
    if result.baseline_id and result.baseline_id != top.id:
        # Also when the baseline failed a constraint: it stays the reference for "better than
        # the simple model", which is what this comparison asks.
        pairs["vs_baseline"] = result.baseline_id
    truth = None
    for key, other in pairs.items():
        try:
            a, b = read_snapshot(root, top.id), read_snapshot(root, other)
            if truth is None:
                truth = _test_truth(root, config, _Predictions(root, a))
            out[key] = compare_snapshots(
                root, config, a, b, result.primary_metric, truth=truth, n=n, seed=seed
            )
        except ModelsnapError as error:
            out[key] = {"a": top.id, "b": other, "error": str(error)}
    return out
