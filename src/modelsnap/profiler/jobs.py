"""Turning a project's models into runs: the one sequence the CLI and the TUI share.

``run_project`` runs the baseline first (so candidates are judged against the fresh one), then
the candidates; candidates need locked criteria (``criteria.ensure_locked``). One failed model
never stops the others: each gets a ``RunOutcome`` with either its snapshot or its error.
``reprofile`` runs an existing snapshot's artifact again on this machine (``modelsnap profile``).

Settings are resolved in one place, most specific first: the caller's override (CLI flag, API
argument), then the model's own table in modelsnap.toml, then ``[run]``, then the defaults.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from modelsnap.core.errors import CriteriaError, ModelsnapError, ProjectFileError, RunFailed
from modelsnap.profiler.events import ProgressEvent
from modelsnap.profiler.runner import RunJob, run_model
from modelsnap.profiler.warm import WorkerPool


@dataclass
class RunOutcome:
    """What happened to one model: its written snapshot, or the error that stopped it."""

    name: str
    kind: str
    snapshot: dict[str, Any] | None = None
    error: ModelsnapError | None = None
    warnings: list[str] | None = None

    @property
    def ok(self) -> bool:
        return self.error is None and self.snapshot is not None

    @property
    def reason(self) -> str:
        """ "ok", a RunFailed reason, or the error class name for bad project/data."""
        if self.ok:
            return "ok"
        if isinstance(self.error, RunFailed):
            return self.error.reason
        return type(self.error).__name__ if self.error is not None else "error"


@dataclass
class Overrides:
    """Settings given by the caller; None means "use the project's"."""

    timeout_seconds: float | None = None
    memory_limit_mb: float | None = None
    latency_trials: int | None = None
    latency_warmup: int | None = None
    batch_size: int | None = None
    threads: int | None = None
    version: str | None = None


def _pick(*values: Any) -> Any:
    return next(v for v in values if v is not None)


def latest_baseline(root: Path, source: str | None) -> dict[str, Any] | None:
    """*The* baseline snapshot candidates are compared with, or None: the latest baseline on
    the current data set and split (``core.ranking.current_baseline``, the ranking's rule).
    ``source`` is the project's ``[data].source``."""
    from modelsnap.core.ranking import current_baseline
    from modelsnap.core.store import current_data_hashes, list_snapshots

    snapshots, _ = list_snapshots(root)
    hashes = current_data_hashes(root, source)
    found = current_baseline(snapshots, hashes.dataset_sha256, hashes.split_sha256)
    return dict(found) if found is not None else None


def settings_for(
    config: Any, spec: Any = None, overrides: Overrides | None = None
) -> dict[str, Any]:
    """Resolved run settings for one model (see the module docstring for the order)."""
    o = overrides or Overrides()
    run = config.run
    return {
        "timeout_seconds": float(
            _pick(o.timeout_seconds, getattr(spec, "timeout_seconds", None), run.timeout_seconds)
        ),
        "memory_limit_mb": float(
            _pick(o.memory_limit_mb, getattr(spec, "memory_limit_mb", None), run.memory_limit_mb)
        ),
        "latency_trials": int(_pick(o.latency_trials, run.latency_trials)),
        "latency_warmup": int(_pick(o.latency_warmup, run.latency_warmup)),
        "batch_size": int(_pick(o.batch_size, run.batch_size)),
        "threads": int(_pick(o.threads, run.threads)),
    }


def criteria_revision_for(config: Any, kind: str) -> int:
    """Candidates need the lock (CriteriaError otherwise); a baseline may run before it (0)."""
    from modelsnap.core import criteria

    if kind == "candidate":
        return int(criteria.ensure_locked(config))
    revision = criteria.current_revision(config.root)
    return int(revision["revision"]) if revision else 0


def job_for_spec(
    config: Any,
    spec: Any,
    *,
    criteria_revision: int,
    baseline: dict[str, Any] | None,
    overrides: Overrides | None = None,
) -> RunJob:
    """A RunJob for a model declared in modelsnap.toml."""
    o = overrides or Overrides()
    return RunJob(
        root=Path(config.root),
        name=spec.name,
        kind=spec.kind,
        spec={
            "estimator": spec.estimator,
            "params": dict(spec.params or {}),
            "grid": dict(spec.grid) if spec.grid else None,
        },
        version=_pick(o.version, spec.version, "v1"),
        criteria_revision=criteria_revision,
        constraints=dict(config.constraints),
        primary_metric=config.selection.primary_metric,
        baseline=baseline if spec.kind == "candidate" else None,
        **settings_for(config, spec, o),
    )


def _select(config: Any, names: list[str] | None, baseline: bool) -> list[Any]:
    """The models to run, baseline first. No names and no baseline flag means all of them."""
    specs: list[Any] = []
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
    config: Any,
    names: list[str] | None = None,
    baseline: bool = False,
    *,
    overrides: Overrides | None = None,
    on_start: Callable[[str, str], None] | None = None,
    on_event: Callable[[str, ProgressEvent], None] | None = None,
    on_warning: Callable[[str, str], None] | None = None,
    on_finish: Callable[[RunOutcome], None] | None = None,
    cancel: threading.Event | None = None,
) -> list[RunOutcome]:
    """Run the selected models of a loaded project, one worker each, and return every outcome.

    Callbacks get the model name first so one display can follow several runs. After a cancel,
    the models not started yet are reported as cancelled without running. The models' workers
    are forked from one template process (``warm.WorkerPool``), stopped when this returns.
    """
    specs = _select(config, names, baseline)
    with WorkerPool() as pool:
        return _run_specs(
            config, specs, overrides, on_start, on_event, on_warning, on_finish, cancel, pool
        )


def _run_specs(
    config: Any,
    specs: list[Any],
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
                on_event=(
                    None
                    if on_event is None
                    else (lambda event, _name=spec.name: on_event(_name, event))
                ),
            )
        except ModelsnapError as exc:
            outcome.error = exc
        outcomes.append(outcome)
        if on_finish is not None:
            on_finish(outcome)
    return outcomes


def reprofile(
    config: Any,
    snapshot_id: str,
    *,
    overrides: Overrides | None = None,
    trusted: list[str] | None = None,
    on_event: Callable[[ProgressEvent], None] | None = None,
    on_warning: Callable[[str], None] | None = None,
    cancel: threading.Event | None = None,
) -> dict[str, Any]:
    """Profile an existing snapshot's artifact again here; returns the new snapshot.

    ``trusted`` names non-scikit-learn types the user allows in the artifact (e.g. their own
    estimator class); anything else untrusted is refused (UnsafeArtifactError).

    The artifact is hash-checked (``artifacts.load_artifact``) in the worker; metrics are copied
    from the original, resources, environment and hardware are measured anew, and the new
    snapshot says ``reprofile_of = <original id>``.
    """
    from modelsnap.core.store import find_snapshot, read_snapshot

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
        version=_pick(o.version, original.get("version"), "v1"),
        notes=f"re-profile of {original['id']}",
        criteria_revision=criteria_revision_for(config, kind),
        constraints=dict(config.constraints),
        primary_metric=config.selection.primary_metric,
        baseline=latest_baseline(root, config.data.source) if kind == "candidate" else None,
        trusted=list(trusted or []),
        **settings_for(config, spec, o),
    )
    return run_model(job, on_event=on_event, on_warning=on_warning, cancel=cancel)
