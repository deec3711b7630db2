"""The Python API: ``modelsnap.Project`` for notebooks and scripts.

It is a thin front end over the same core functions the CLI and the TUI call, so a model
evaluated from a notebook lands in the same folder, on the same frozen split, judged under the
same locked criteria, and ranks next to the ones run from modelsnap.toml::

    import modelsnap
    project = modelsnap.Project("credit")
    snapshot = project.snapshot(my_fitted_pipeline, name="xgb_tuned_elsewhere")
    project.rank().result.ranked[0]

Every evaluation runs in a separate worker process (``modelsnap.profiler.runner``), so a model
that hangs or eats memory is stopped at ``timeout`` / ``memory_limit_mb`` instead of taking the
notebook kernel with it. Errors are ``ModelsnapError``s; a failed run raises ``RunFailed`` with
``reason`` in {"timeout", "memory", "error", "crash", "cancelled"} and writes nothing.

Importing this module is cheap; pandas and scikit-learn load in the worker, not here.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from modelsnap.core.errors import ModelsnapError, PathError
from modelsnap.core.ranking_methods import DEFAULT_METHOD

if TYPE_CHECKING:
    from modelsnap.core.project.schema import ProjectConfig
    from modelsnap.core.records.shapes import Snapshot

__all__ = ["Project"]

KINDS = ("baseline", "candidate")


class Project:
    """A modelsnap project folder (the one holding modelsnap.toml).

    ``modelsnap.toml`` is read on first use and cached; call ``reload()`` after editing it.
    """

    def __init__(self, path: str | Path) -> None:
        root = Path(path).expanduser()
        if not root.is_dir():
            raise PathError(
                "no such project folder",
                where=str(root),
                hint="create one with 'modelsnap init DIR --data FILE --target COL'",
            )
        self.root = root.resolve()
        self._config: ProjectConfig | None = None

    def __repr__(self) -> str:
        return f"Project({str(self.root)!r})"

    # ----------------------------------------------------------------------- reading

    @property
    def config(self) -> ProjectConfig:
        """The validated ``ProjectConfig`` (``ProjectFileError`` when modelsnap.toml is bad)."""
        if self._config is None:
            from modelsnap.core.project.parse import load_project

            self._config = load_project(self.root)
        return self._config

    def reload(self) -> None:
        """Forget the cached config, so the next use reads modelsnap.toml again."""
        self._config = None

    def snapshots(self, *, kind: str | None = None, name: str | None = None) -> list[Snapshot]:
        """Every readable snapshot, oldest first, optionally only one kind or model name.

        Broken files are skipped here (``problems()`` names them; ``modelsnap check`` too), so
        one hand-edited file never hides the others.
        """
        from modelsnap.core.records.store import list_snapshots

        if kind is not None and kind not in KINDS:
            raise ModelsnapError(f"kind {kind!r} is not 'baseline' or 'candidate'")
        snapshots, _ = list_snapshots(self.root)
        return [
            s
            for s in snapshots
            if (kind is None or s["kind"] == kind) and (name is None or s["name"] == name)
        ]

    def problems(self) -> list[str]:
        """The snapshot files that could not be read, each with the reason."""
        from modelsnap.core.records.store import list_snapshots

        return [str(problem) for problem in list_snapshots(self.root)[1]]

    def get(self, snapshot_id: str) -> Snapshot:
        """One snapshot by id or unique id prefix."""
        from modelsnap.core.records.store import find_snapshot, read_snapshot

        return read_snapshot(self.root, find_snapshot(self.root, snapshot_id))

    # ----------------------------------------------------------------------- criteria

    def lock_criteria(self, *, reason: str = "", locked_by: str | None = None) -> int:
        """Record the current criteria and constraints as a revision; returns its number.

        Candidates can only be evaluated under a locked revision, so nobody tunes the yardstick
        after seeing results. Locking unchanged criteria returns the current revision.
        """
        from modelsnap.core.selection.criteria import lock_criteria

        self.reload()
        return lock_criteria(self.config, reason=reason, locked_by=locked_by)

    # ----------------------------------------------------------------------- running

    def run(
        self,
        *,
        baseline: bool = False,
        candidates: Sequence[str] | None = None,
        on_event: Callable[[str, Any], None] | None = None,
        timeout: float | None = None,
        memory_limit_mb: float | None = None,
        cancel: threading.Event | None = None,
    ) -> list:
        """Run models declared in modelsnap.toml, baseline first; returns one ``RunOutcome``
        per model (``.ok``, ``.snapshot``, ``.error``, ``.warnings``).

        No arguments runs the baseline and every candidate; ``baseline=True`` and/or
        ``candidates=[names]`` select. One failing model does not stop the others: check each
        outcome. ``on_event(model_name, ProgressEvent)`` follows progress.
        """
        from modelsnap.profiler.job_specs import Overrides
        from modelsnap.profiler.jobs import run_project

        self.reload()
        if isinstance(candidates, str):
            candidates = [candidates]
        names = list(candidates) if candidates is not None else None
        return run_project(
            self.config,
            names,
            baseline,
            overrides=Overrides(timeout_seconds=timeout, memory_limit_mb=memory_limit_mb),
            on_event=on_event,
            cancel=cancel,
        )

    def snapshot(
        self,
        estimator: Any,
        name: str,
        kind: str = "candidate",
        version: str = "v1",
        notes: str = "",
        timeout: float | None = None,
        memory_limit_mb: float | None = None,
        on_event: Callable[[Any], None] | None = None,
        on_warning: Callable[[str], None] | None = None,
        cancel: threading.Event | None = None,
    ) -> Snapshot:
        """Evaluate a model built outside modelsnap.toml and record it; returns the snapshot.

        An unfitted estimator is put behind the project's frozen preprocessing and fitted on
        the train split. A fitted one is used as it is, so it must accept the raw feature frame
        (after ``[data].drop``), i.e. it should be a whole pipeline; its fit time is not known.
        Either way it is scored on the same validation and test rows as every other snapshot.
        Candidates need locked criteria (``CriteriaError`` otherwise). Raises ``RunFailed``
        when the run fails or exceeds ``timeout`` seconds / ``memory_limit_mb``; nothing is
        written then.
        """
        from modelsnap.core.files import safe_name
        from modelsnap.profiler.job_specs import (
            Overrides,
            criteria_revision_for,
            latest_baseline,
            settings_for,
        )
        from modelsnap.profiler.runner import RunJob, run_model

        if kind not in KINDS:
            raise ModelsnapError(
                f"kind {kind!r} is not 'baseline' or 'candidate'", where=f"model {name!r}"
            )
        if not isinstance(name, str) or not name.strip():
            raise ModelsnapError("a snapshot needs a name", hint="name='my_model'")
        safe_name(name, what="model name")
        if estimator is None or not hasattr(estimator, "predict"):
            raise ModelsnapError(
                f"{type(estimator).__name__} has no predict method",
                where=f"model {name!r}",
                hint="pass a scikit-learn-compatible estimator or pipeline",
            )
        self.reload()
        config = self.config
        job = RunJob(
            root=self.root,
            name=name,
            kind=kind,
            estimator=estimator,
            version=version,
            notes=notes,
            criteria_revision=criteria_revision_for(config, kind),
            constraints=dict(config.constraints),
            primary_metric=config.primary_metric,
            baseline=(
                latest_baseline(self.root, config.data.source) if kind == "candidate" else None
            ),
            **settings_for(
                config, None, Overrides(timeout_seconds=timeout, memory_limit_mb=memory_limit_mb)
            ),
        )
        return run_model(job, on_event=on_event, on_warning=on_warning, cancel=cancel)

    # ----------------------------------------------------------------------- deciding

    def rank(
        self,
        *,
        weights: Mapping[str, float] | None = None,
        profile: str | None = None,
        method: str = DEFAULT_METHOD,
        split: str | None = None,
        allow_mixed: bool = False,
        sensitivity: bool = False,
        all_versions: bool = False,
        pending: bool = False,
    ):
        """Rank the latest snapshot of each model under the locked criteria revision
        (``core.selection.context.rank_project``, as ``modelsnap rank``).

        ``weights``/``profile``/``method``/``split``/``pending`` (modelsnap.toml's edits not
        locked yet) are what-ifs: they change nothing on disk, and ``.result.basis`` says what
        the ranking was computed under. Returns a ``ProjectRanking`` (``.result.ranked``,
        ``.result.rejected``, ``.result.superseded``, ...).
        """
        from modelsnap.core.selection.context import rank_project

        return rank_project(
            self.root,
            weights=weights,
            profile=profile,
            method=method,
            split=split,
            allow_mixed=allow_mixed,
            sensitivity=sensitivity,
            all_versions=all_versions,
            pending=pending,
        )

    def decide(
        self,
        snapshot_id: str,
        *,
        rationale: str,
        caveats: Sequence[str] = (),
        monitoring: str = "",
        decided_by: str | None = None,
        override: str | None = None,
    ) -> dict:
        """Record the chosen snapshot in decisions.toml (hash-chained); returns the entry.

        As ``modelsnap decide`` (``core.selection.context.decide``): ranked under the locked
        criteria
        revision from the snapshot files; refused (``CriteriaError``) while modelsnap.toml has
        edits not locked. Choosing a snapshot that was not ranked needs an ``override``
        justification, which is recorded (``DecisionError`` otherwise).
        """
        from modelsnap.core.selection.context import decide

        return decide(
            self.root,
            snapshot_id,
            rationale=rationale,
            caveats=caveats,
            monitoring=monitoring,
            decided_by=decided_by,
            override=override,
        )

    def predict(
        self,
        rows: Sequence[Mapping[str, Any]] | str | Path,
        *,
        snapshots: Sequence[str] | None = None,
        trusted: Sequence[str] = (),
    ) -> dict:
        """Every competing model's (or the given snapshots') prediction for ``rows``, side by
        side, as ``modelsnap predict`` (``api.trying.predict_rows``): a list of mappings
        column -> value (text or number; None or "" is missing), or the path of a CSV.
        The models run in the worker process; nothing is written. ``DataError`` for a missing,
        unknown or wrongly typed column."""
        from modelsnap.api.trying import predict_rows
        from modelsnap.core.followup.trying import RowsInput, rows_from_csv

        if isinstance(rows, (str, Path)):
            given = rows_from_csv(Path(rows))
        else:
            given = RowsInput(
                rows=[
                    {str(k): "" if v is None else str(v) for k, v in row.items()} for row in rows
                ],
                where="rows",
                labels=[f"row {i}" for i in range(1, len(rows) + 1)],
            )
        return predict_rows(self.root, given, snapshots, trusted=trusted)

    def monitor(
        self,
        data: str | Path,
        *,
        decision: str | None = None,
        profile_latency: bool = False,
        trusted: Sequence[str] = (),
    ) -> dict:
        """Hold the decided model (the latest decision, or ``decision``) to its snapshot on new
        labelled data, as ``modelsnap monitor`` (``api.monitoring.monitor``); records
        ``monitoring/<id>.toml`` and returns it, with ``verdict`` (holds / degraded / drifted)
        and ``exit_code`` (0 / 1)."""
        from modelsnap.api.monitoring import monitor

        return monitor(
            self.root,
            Path(data),
            decision_id=decision,
            profile_latency=profile_latency,
            trusted=trusted,
        )

    # ----------------------------------------------------------------------- other tools

    def export_mlflow(
        self,
        tracking_uri: str,
        *,
        experiment: str | None = None,
        dry_run: bool = False,
        on_progress: Callable[[str, float, str], None] | None = None,
    ) -> dict:
        """Send every snapshot (one MLflow run each) and decision to an MLflow tracking store,
        as ``modelsnap export mlflow`` (``bridges.mlflow_export.export_mlflow``); returns what
        was added and skipped. Idempotent: snapshots already there are skipped. Needs
        ``pip install 'modelsnap[mlflow]'``."""
        from modelsnap.bridges.mlflow_export import export_mlflow

        return export_mlflow(
            self.root,
            tracking_uri,
            experiment=experiment,
            dry_run=dry_run,
            on_progress=on_progress,
        )

    def import_mlflow(
        self,
        tracking_uri: str,
        *,
        run_ids: Sequence[str] = (),
        experiment: str | None = None,
        filter: str | None = None,
        trust_pickle: bool = False,
        again: bool = False,
        trusted: Sequence[str] = (),
        version: str = "v1",
        timeout: float | None = None,
        memory_limit_mb: float | None = None,
        on_event: Callable[[str, Any], None] | None = None,
        cancel: threading.Event | None = None,
    ) -> dict:
        """Import the scikit-learn models of MLflow runs (``run_ids``, or every run of
        ``experiment`` matching ``filter``) as candidates, as ``modelsnap import mlflow``
        (``bridges.mlflow_import.import_mlflow``). Each model is loaded only in the worker
        process, evaluated on the frozen split and profiled, never refitted; returns
        ``{"imported": [...], "skipped": [...]}`` (each skip with its reason).

        Refused unless ``trust_pickle=True``: MLflow's scikit-learn models are pickles (or skops
        files with their own allow-list), and loading one can run code."""
        from modelsnap.bridges.mlflow_import import import_mlflow

        if isinstance(run_ids, str):
            run_ids = [run_ids]
        return import_mlflow(
            self.root,
            tracking_uri,
            run_ids=list(run_ids),
            experiment=experiment,
            filter_string=filter,
            trust_pickle=trust_pickle,
            again=again,
            trusted=list(trusted),
            version=version,
            timeout=timeout,
            memory_limit_mb=memory_limit_mb,
            on_event=on_event,
            cancel=cancel,
        )
