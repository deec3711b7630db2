"""What ``init`` and the TUI set-up check before a new project file is written.

The generated file must validate, the data must load under the data rules and a split must be
drawable, all before anything reaches the disk. It loads the data (pandas), so it sits above
both the project file (``core.project``) and the data (``core.evaluation.data``).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from modelsnap.core.evaluation.data import draw_split, load_dataset
from modelsnap.core.project.edit import build_project_document
from modelsnap.core.project.parse import STRATIFY_OFF_HINT, loads_project_text, parse_project
from modelsnap.core.project.schema import ProjectConfig


def check_new_project(
    root: Path,
    *,
    data_source: str,
    target: str,
    profile: str = "balanced",
    task: str | None = None,
    read_from: Path | None = None,
    turn_off: str = STRATIFY_OFF_HINT,
    **options: Any,
) -> Any:
    """Everything ``init`` and the TUI set-up check before a project file is written: the
    generated file validates, the data loads under the data rules (task inferred when ``task``
    is None) and a split can be drawn. Returns the loaded ``core.evaluation.data.Dataset``; raises
    ProjectFileError or DataError (nothing is written either way). Imports pandas: call it off
    the UI thread. ``options`` are those of ``build_project_document``.
    """
    root = Path(root)

    def config_for(for_task: str, positive: str | None) -> ProjectConfig:
        text = build_project_document(
            data_source=data_source,
            target=target,
            profile=profile,
            task=for_task,
            **{**options, "positive_label": positive},
        )
        return parse_project(loads_project_text(text), root)

    draft = config_for(task or "classification", options.get("positive_label"))
    draft.data.task = task
    dataset = load_dataset(draft, path=read_from)
    draft.data.task = dataset.task
    draw_split(
        dataset,
        seed=draft.data.seed,
        validation_fraction=draft.data.validation_fraction,
        test_fraction=draft.data.test_fraction,
        stratify=draft.data.stratify,
        turn_off=turn_off,
    )
    config_for(dataset.task, dataset.positive_label)
    return dataset
