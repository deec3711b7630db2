"""The analyses of one fitted model, in one call for the profiler's worker.

``analyze`` gathers what the average hides — which features the model relies on, how it does
per group, the edge cases it fails, leakage and overfitting — into the snapshot tables
``[interpretability]``, ``[fairness]``, ``[edge_cases]`` and ``[checks]``
(docs/snapshot-format.md). Each table is computed independently and a failure in one becomes
``unavailable = "<reason>"`` in that table: a quirky model or data set must never cost the
user the rest of the snapshot (the metrics and resources were paid for already).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from modelsnap.core.errors import ModelsnapError
from modelsnap.core.evaluation.edgecases import default_tolerance, edge_cases_for_dataset, run_cases
from modelsnap.core.evaluation.fairness import fairness_report
from modelsnap.core.evaluation.interpretability import interpretability_report
from modelsnap.core.evaluation.leakage import cached_leakage_checks, overfit_check
from modelsnap.core.files import inside

if TYPE_CHECKING:
    from modelsnap.core.project.schema import ProjectConfig

ProgressCallback = Callable[[float, str], None]
_Table = TypeVar("_Table", bound=dict[str, Any] | None)


def analyze(
    pipeline: Any,
    dataset: Any,
    split: Any,
    config: ProjectConfig,
    *,
    val_pred: Any,
    test_pred: Any,
    val_proba: Any = None,
    test_proba: Any = None,
    metrics_validation: Mapping[str, float],
    metrics_test: Mapping[str, float],
    on_progress: ProgressCallback | None = None,
    leakage: Sequence[str] | None = None,
) -> dict[str, dict[str, Any]]:
    """The ``interpretability``, ``fairness``, ``edge_cases`` and ``checks`` tables of a snapshot.

    ``pipeline`` is the fitted whole pipeline (preprocessing + estimator); ``dataset``/``split``
    come from ``core.evaluation.data``; ``config`` is the ProjectConfig.
    ``test_pred``/``test_proba`` are
    aligned with ``split.test`` (probability columns in ``dataset.classes`` order); fairness uses
    them because it is reported on the test split. ``val_pred``/``val_proba`` are accepted for
    symmetry (permutation importance re-predicts the validation rows itself).
    ``leakage``: the warnings of ``leakage_checks`` if the caller already has them; otherwise
    they are computed once per data set and split and cached in ``.modelsnap/``.
    ``on_progress(fraction, message)`` is called as each table is done.

    Keys are omitted when not applicable: ``fairness`` without ``[data].sensitive``,
    ``edge_cases`` without ``[data].edge_cases``. Never raises on a model or data quirk.
    """
    del val_pred, val_proba  # part of the stable signature; not needed by the current analyses
    primary = config.selection.primary_metric or ("r2" if dataset.task == "regression" else "f1")
    progress = on_progress or (lambda _fraction, _message: None)
    result: dict[str, dict[str, Any]] = {}

    progress(0.0, "permutation importance")
    result["interpretability"] = _guarded(
        lambda: _interpretability(pipeline, dataset, split, config, primary),
        base={"method": "permutation"},
    )
    progress(0.6, "fairness by group")
    if config.data.sensitive:
        fairness = _guarded(
            lambda: fairness_report(
                dataset,
                split,
                sensitive=config.data.sensitive,
                primary_metric=primary,
                test_pred=test_pred,
                test_proba=test_proba,
            )
        )
        if fairness:
            result["fairness"] = fairness
    progress(0.75, "edge cases")
    if config.data.edge_cases:
        result["edge_cases"] = _guarded(
            lambda: _edge_cases(pipeline, dataset, config), base={"file": config.data.edge_cases}
        )
    progress(0.9, "leakage and overfitting checks")
    checks: dict[str, Any] = dict(overfit_check(metrics_validation, metrics_test, primary))
    if leakage is None:
        try:
            leakage = cached_leakage_checks(config.root, dataset, split)
        except Exception as exc:  # the checks are advisory: report, never lose the snapshot
            leakage = [f"leakage checks could not run: {_reason(exc)}"]
    checks["leakage"] = list(leakage)
    result["checks"] = checks
    progress(1.0, "analyses done")
    return result


def _guarded(
    compute: Callable[[], _Table], base: dict[str, Any] | None = None
) -> _Table | dict[str, Any]:
    try:
        return compute()
    except Exception as exc:  # one table failing must not cost the snapshot
        return {**(base or {}), "unavailable": _reason(exc)}


def _reason(exc: BaseException) -> str:
    if isinstance(exc, ModelsnapError):
        return str(exc)
    text = f"{type(exc).__name__}: {exc}"
    return text if len(text) <= 300 else text[:297] + "..."


def _interpretability(
    pipeline: Any, dataset: Any, split: Any, config: ProjectConfig, primary: str
) -> dict[str, Any]:
    rows = list(split.validation)
    classes = [str(c) for c in dataset.classes] if dataset.task == "classification" else None
    positive = dataset.positive_label
    return interpretability_report(
        pipeline,
        dataset.frame.iloc[rows],
        dataset.target.iloc[rows].to_numpy(),
        task=dataset.task,
        primary_metric=primary,
        classes=classes,
        positive_label=str(positive) if positive is not None else None,
        suspect_features=config.data.suspect_features,
        seed=config.data.seed,
    )


def _edge_cases(pipeline: Any, dataset: Any, config: ProjectConfig) -> dict[str, Any]:
    relative = config.data.edge_cases or ""  # called only when [data].edge_cases is set
    path = inside(Path(config.root), relative, what="[data].edge_cases")
    cases = edge_cases_for_dataset(path, dataset, display_name=relative)
    tolerance = default_tolerance(dataset.target) if dataset.task == "regression" else 0.0
    outcome = run_cases(pipeline, cases, task=dataset.task, tolerance=tolerance)
    return {"file": relative, "file_sha256": cases.sha256, **outcome}
