"""The core calls the TUI makes from worker threads, where one action needs more than one call.

Each function is what a CLI command does, in the same order: no rule lives here that the CLI
does not apply too.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any


def save_and_lock(root: Path, changes: dict[str, Any], *, reason: str = "") -> int:
    """Write the criteria edits (validated first) and lock them as a revision, like
    editing modelsnap.toml and then running ``modelsnap lock``."""
    from modelsnap.core.project.edit import update_project
    from modelsnap.core.selection.criteria import lock_criteria

    config = update_project(root, changes)
    return lock_criteria(config, reason=reason)


def check_and_save_model(root: Path, spec: dict[str, Any], *, kind: str) -> Any:
    """Import the estimator, apply the parameters and validate them with the estimator's own
    rules (``core.evaluation.pipeline.check_model``), then write the entry.

    An unknown class, an unknown parameter or a value the estimator refuses (``n_neighbors =
    -3``) raises the core's error before modelsnap.toml is touched. Runs in a worker thread:
    importing scikit-learn takes a second or more.
    """
    from modelsnap.core.evaluation.pipeline import check_model
    from modelsnap.core.project.edit import save_model

    where = f"{kind} {spec.get('name')!r}"
    check_model(spec["estimator"], spec.get("params") or {}, Path(root), where=where)
    return save_model(root, spec, kind=kind)


def rank_state(
    root: Path,
    weights: dict[str, float] | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> Any:
    """Rank the project exactly as ``modelsnap rank --sensitivity`` does, with optional
    what-if weights; returns the ``core.selection.ranking.RankingResult``. Nothing is written:
    what-if weights become the project's only through step 1 or "Save weights".
    ``progress(done, total)`` hears how far the parsing of the files no index row stands for
    is (all of them, in a folder without a trusted index)."""
    from modelsnap.core.selection.context import rank_project

    return rank_project(root, weights=weights or None, sensitivity=True, progress=progress).result


def significance(root: Path, result: Any) -> dict[str, Any]:
    """``modelsnap rank --significance``: the top pick against the runner-up and the baseline
    on the stored test predictions (loads them, and maybe the data set: worker thread only)."""
    from modelsnap.core.evaluation.significance import ranking_significance
    from modelsnap.core.project.parse import load_project

    return ranking_significance(root, load_project(root), result)
