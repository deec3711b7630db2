"""Turning a project's models into runs: the one sequence the CLI and the TUI share.

``run_project`` runs the baseline first (so candidates are judged against the fresh one), then
the candidates; candidates need locked criteria (``criteria.ensure_locked``). One failed model
never stops the others: each gets a ``RunOutcome`` with either its snapshot or its error.
``reprofile`` runs an existing snapshot's artifact again on this machine (``modelsnap profile``).

Settings are resolved in one place, most specific first: the caller's override (CLI flag, API
argument), then the model's own table in modelsnap.toml, then ``[run]``, then the defaults.
"""

from __future__ import annotations

import functools
import threading
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from modelsnap.core.errors import CriteriaError, ModelsnapError, ProjectFileError, RunFailed
from modelsnap.core.project.schema import ModelSpec, ProjectConfig
from modelsnap.profiler import executors
from modelsnap.profiler.events import ProgressEvent
from modelsnap.profiler.job_specs import (
    Overrides,
    RunOutcome,
    criteria_revision_for,
    job_for_spec,
    latest_baseline,
    pick,
    settings_for,
)
from modelsnap.profiler.runner import RunJob, prestart_template, run_model
from modelsnap.profiler.warm import WorkerPool, pool_for

if TYPE_CHECKING:
    from modelsnap.core.records.shapes import Snapshot


def _select(config: ProjectConfig, names: list[str] | None, baseline: bool) -> list[ModelSpec]:
    """The models to run, baseline first. No names and no baseline flag means all of them."""
    specs: list[ModelSpec] = []
    if baseline or not names:
        if config.baseline is None:
            if baseline:
                raise ProjectFileError(
                    "no [baseline] model is declared",
                    where="modelsnap.toml",
                    hint="add a [baseline] table with name and estimator",
                )
        else:
            specs.append(config.baseline)
    if names:
        by_name = {c.name: c for c in config.candidates}
        unknown = [n for n in names if n not in by_name]
        if unknown:
            known = ", ".join(by_name) or "none"
            raise ProjectFileError(
                f"no candidate named {', '.join(map(repr, unknown))}",
                where="modelsnap.toml [[candidates]]",
                hint=f"declared candidates: {known}",
            )
        specs.extend(by_name[n] for n in dict.fromkeys(names))
    elif not baseline:
        specs.extend(config.candidates)
    if not specs:
        raise ProjectFileError(
            "there is no model to run",
            where="modelsnap.toml",
            hint="declare a [baseline] and [[candidates]]",
        )
    return specs


def run_project(
    config: ProjectConfig,
    names: list[str] | None = None,
    baseline: bool = False,
    *,
    overrides: Overrides | None = None,
    on_start: Callable[[str, str], None] | None = None,
    on_event: Callable[[str, ProgressEvent], None] | None = None,
    on_warning: Callable[[str, str], None] | None = None,
    on_finish: Callable[[RunOutcome], None] | None = None,
    cancel: threading.Event | None = None,
    pool: WorkerPool | None = None,
) -> list[RunOutcome]:
    """Run the selected models of a loaded project, one worker each, and return every outcome.

    Callbacks get the model name first so one display can follow several runs. After a cancel,
    the models not started yet are reported as cancelled without running. The models' workers
    are forked from one template process (``warm.WorkerPool``): ``pool``'s, kept by the caller
    for its next runs (the TUI keeps one for the session), else a pool of this call's own,
    stopped when this returns.
    """
    specs = _select(config, names, baseline)
    choice = executors.choose(config, overrides)
    if choice.name == "dask":  # fits on the cluster, profiles here (profiler/dask_executor.py)
        from modelsnap.profiler.dask_executor import run_project_dask

        return run_project_dask(
            config,
            specs,
            choice,
            overrides=overrides,
            on_start=on_start,
            on_event=on_event,
            on_warning=on_warning,
            on_finish=on_finish,
            cancel=cancel,
            pool=pool,
        )
    with pool_for(pool) as workers:
        return _run_specs(
            config, specs, overrides, on_start, on_event, on_warning, on_finish, cancel, workers
        )


def prestart(config: ProjectConfig, pool: WorkerPool) -> None:
    """Have ``pool`` start the template that this project's runs fork their workers from, and
    return at once: for a caller with time to spare before a run is asked for (the TUI, while
    the user reads the baseline or candidates step). The template imports the libraries only,
    never the project's code; a later ``run_project(..., pool=pool)`` forks from it."""
    threads = settings_for(config)["threads"]
    prestart_template(Path(config.root), threads, pool)


def _run_specs(
    config: ProjectConfig,
    specs: list[ModelSpec],
    overrides: Overrides | None,
    on_start: Callable[[str, str], None] | None,
    on_event: Callable[[str, ProgressEvent], None] | None,
    on_warning: Callable[[str, str], None] | None,
    on_finish: Callable[[RunOutcome], None] | None,
    cancel: threading.Event | None,
    pool: WorkerPool,
) -> list[RunOutcome]:
    outcomes: list[RunOutcome] = []
    locked: int | CriteriaError | None = None
    for spec in specs:
        outcome = RunOutcome(spec.name, spec.kind, warnings=[])
        if on_start is not None:
            on_start(spec.name, spec.kind)
        try:
            if cancel is not None and cancel.is_set():
                raise RunFailed(
                    "cancelled",
                    "cancelled before it started; nothing was written",
                    where=f"model {spec.name!r}",
                )
            if spec.kind == "candidate":
                if locked is None:
                    try:
                        locked = criteria_revision_for(config, "candidate")
                    except CriteriaError as exc:
                        locked = exc
                if isinstance(locked, CriteriaError):
                    raise locked
                revision = locked
                reference = latest_baseline(config.root, config.data.source)
                if reference is None:
                    outcome.warnings.append(
                        "no baseline snapshot yet: the gain over the baseline "
                        "is not computed (run the baseline first)"
                    )
                    if on_warning is not None:
                        on_warning(spec.name, outcome.warnings[-1])
            else:
                revision, reference = criteria_revision_for(config, "baseline"), None
            job = job_for_spec(
                config, spec, criteria_revision=revision, baseline=reference, overrides=overrides
            )

            def warn(text: str, _name: str = spec.name, _outcome: RunOutcome = outcome) -> None:
                _outcome.warnings.append(text)
                if on_warning is not None:
                    on_warning(_name, text)

            outcome.snapshot = run_model(
                job,
                cancel=cancel,
                pool=pool,
                on_warning=warn,
                on_event=None if on_event is None else functools.partial(on_event, spec.name),
            )
        except ModelsnapError as exc:
            outcome.error = exc
        outcomes.append(outcome)
        if on_finish is not None:
            on_finish(outcome)
    return outcomes


def reprofile(
    config: ProjectConfig,
    snapshot_id: str,
    *,
    overrides: Overrides | None = None,
    trusted: list[str] | None = None,
    on_event: Callable[[ProgressEvent], None] | None = None,
    on_warning: Callable[[str], None] | None = None,
    cancel: threading.Event | None = None,
) -> Snapshot:
    """Profile an existing snapshot's artifact again here; returns the new snapshot.

    ``trusted`` names non-scikit-learn types the user allows in the artifact (e.g. their own
    estimator class); anything else untrusted is refused (UnsafeArtifactError).

    The artifact is hash-checked (``artifacts.load_artifact``) in the worker; metrics are copied
    from the original, resources, environment and hardware are measured anew, and the new
    snapshot says ``reprofile_of = <original id>``.
    """
    from modelsnap.core.records.store import find_snapshot, read_snapshot

    root = Path(config.root)
    original = read_snapshot(root, find_snapshot(root, snapshot_id))
    kind = original["kind"]
    spec = next(
        (
            m
            for m in [config.baseline, *config.candidates]
            if m is not None and m.name == original["name"]
        ),
        None,
    )
    o = overrides or Overrides()
    job = RunJob(
        root=root,
        name=original["name"],
        kind=kind,
        reprofile_of=original["id"],
        version=pick(o.version, original.get("version"), "v1"),
        notes=f"re-profile of {original['id']}",
        criteria_revision=criteria_revision_for(config, kind),
        constraints=dict(config.constraints),
        primary_metric=config.selection.primary_metric,
        baseline=latest_baseline(root, config.data.source) if kind == "candidate" else None,
        trusted=list(trusted or []),
        **settings_for(config, spec, o),
    )
    return run_model(job, on_event=on_event, on_warning=on_warning, cancel=cancel)
