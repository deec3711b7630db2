"""From a project's model spec to a worker job, and what a run of one model comes to.

Shared by the local executor (``jobs``) and the Dask executor (``dask_executor``): the run
settings with their overrides, the criteria revision a candidate is judged under, the current
baseline it is compared with, the ``RunJob`` itself, and ``RunOutcome``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from modelsnap.core.errors import ModelsnapError, RunFailed
from modelsnap.core.project.schema import ModelSpec, ProjectConfig
from modelsnap.profiler.runner import RunJob

if TYPE_CHECKING:
    from modelsnap.core.records.shapes import Snapshot


@dataclass
class RunOutcome:
    """What happened to one model: its written snapshot, or the error that stopped it."""

    name: str
    kind: str
    snapshot: Snapshot | None = None
    error: ModelsnapError | None = None
    warnings: list[str] = field(default_factory=list)

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
    executor: str | None = None  # "local" | "dask" (profiler/executors.py)
    scheduler: str | None = None  # the Dask scheduler's address


def pick(*values: Any) -> Any:
    return next(v for v in values if v is not None)


def latest_baseline(root: Path, source: str | None) -> dict[str, Any] | None:
    """*The* baseline snapshot candidates are compared with, or None: the latest baseline on
    the current data set and split (``core.selection.ranking.current_baseline``, the ranking's
    rule). ``source`` is the project's ``[data].source``."""
    from modelsnap.core.records.store import current_data_hashes, list_snapshots
    from modelsnap.core.selection.ranking import current_baseline

    snapshots, _ = list_snapshots(root)
    hashes = current_data_hashes(root, source, cached=False)  # a run records its gain
    found = current_baseline(snapshots, hashes.dataset_sha256, hashes.split_sha256)
    return dict(found) if found is not None else None


def settings_for(
    config: ProjectConfig, spec: ModelSpec | None = None, overrides: Overrides | None = None
) -> dict[str, Any]:
    """Resolved run settings for one model (see the module docstring for the order)."""
    o = overrides or Overrides()
    run = config.run
    return {
        "timeout_seconds": float(
            pick(o.timeout_seconds, getattr(spec, "timeout_seconds", None), run.timeout_seconds)
        ),
        "memory_limit_mb": float(
            pick(o.memory_limit_mb, getattr(spec, "memory_limit_mb", None), run.memory_limit_mb)
        ),
        "latency_trials": int(pick(o.latency_trials, run.latency_trials)),
        "latency_warmup": int(pick(o.latency_warmup, run.latency_warmup)),
        "batch_size": int(pick(o.batch_size, run.batch_size)),
        "threads": int(pick(o.threads, run.threads)),
    }


def criteria_revision_for(config: ProjectConfig, kind: str) -> int:
    """Candidates need the lock (CriteriaError otherwise); a baseline may run before it (0)."""
    from modelsnap.core.selection import criteria

    if kind == "candidate":
        return int(criteria.ensure_locked(config))
    revision = criteria.current_revision(config.root)
    return int(revision["revision"]) if revision else 0


def job_for_spec(
    config: ProjectConfig,
    spec: ModelSpec,
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
        version=pick(o.version, spec.version, "v1"),
        criteria_revision=criteria_revision,
        constraints=dict(config.constraints),
        primary_metric=config.selection.primary_metric,
        baseline=baseline if spec.kind == "candidate" else None,
        **settings_for(config, spec, o),
    )
