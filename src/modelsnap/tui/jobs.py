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
        raise ProjectFileError(f"{spec['estimator']} cannot be created without arguments ({exc})",
                               where=where, hint="give its required arguments defaults") from None
    set_params_checked(estimator, spec.get("params") or {}, where=where)
    return save_model(root, spec, kind=kind)


def rank_state(state: Any, weights: dict[str, float] | None = None) -> Any:
    """Rank the state's snapshots as ``modelsnap rank`` does, with optional what-if weights.

    Returns a ``core.ranking.RankingResult`` (with sensitivity). Nothing is written: what-if
    weights become the project's only through step 1 or "Save weights".
    """
    from modelsnap.core.ranking import rank, spec_from_config

    config = state.config
    revision = int(state.revision["revision"]) if state.revision else None
    spec = spec_from_config(config, weights=weights or None, criteria_revision=revision,
                            edge_cases_required=bool(config.data.edge_cases))
    rows = []
    for snapshot in state.snapshots:
        edge = state.edge_result(snapshot)
        rows.append({**snapshot, "edge_cases": edge} if edge else snapshot)
    return rank(rows, spec, sensitivity=True)
