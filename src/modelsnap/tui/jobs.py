"""The core calls the TUI makes from worker threads, where one action needs more than one call.

Each function is what a CLI command does, in the same order: no rule lives here that the CLI
does not apply too.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any


def save_and_lock(root: Path, changes: dict[str, Any], *, reason: str = "") -> int:
    """Write the criteria edits (validated first) and lock them as a revision, like
    editing modelsnap.toml and then running ``modelsnap lock``."""
    from modelsnap.core.criteria import lock_criteria
    from modelsnap.core.project import update_project

    config = update_project(root, changes)
    return lock_criteria(config, reason=reason)


def check_and_save_model(root: Path, spec: dict[str, Any], *, kind: str) -> Any:
    """Import the estimator and apply the parameters (as a run would), then write the entry.

    An unknown class or parameter raises the core's error before modelsnap.toml is touched.
    Runs in a worker thread: importing scikit-learn takes a second or more.
    """
    from modelsnap.core.errors import ProjectFileError
    from modelsnap.core.pipeline import import_estimator, set_params_checked
    from modelsnap.core.project import save_model

    where = f"{kind} {spec.get('name')!r}"
    estimator_class = import_estimator(spec["estimator"], Path(root), where=where)
    try:
        estimator = estimator_class()
    except TypeError as exc:
        raise ProjectFileError(
            f"{spec['estimator']} cannot be created without arguments ({exc})",
            where=where,
            hint="give its required arguments defaults",
        ) from None
    set_params_checked(estimator, spec.get("params") or {}, where=where)
    return save_model(root, spec, kind=kind)


def rank_state(root: Path, weights: dict[str, float] | None = None) -> Any:
    """Rank the project exactly as ``modelsnap rank --sensitivity`` does, with optional
    what-if weights; returns the ``core.ranking.RankingResult``. Nothing is written: what-if
    weights become the project's only through step 1 or "Save weights"."""
    from modelsnap.core.context import rank_project

    return rank_project(root, weights=weights or None, sensitivity=True).result


def significance(root: Path, result: Any) -> dict[str, Any]:
    """``modelsnap rank --significance``: the top pick against the runner-up and the baseline
    on the stored test predictions (loads them, and maybe the data set: worker thread only)."""
    from modelsnap.core.project import load_project
    from modelsnap.core.significance import ranking_significance

    return ranking_significance(root, load_project(root), result)
