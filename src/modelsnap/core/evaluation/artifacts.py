"""Model artifacts: the fitted pipeline saved with skops, loaded only when it is safe.

Pickle runs arbitrary code on load, so modelsnap never uses it. skops stores a description of
the object tree; before loading, every type it would construct or call is checked against an
allow-list of *classes* (never a prefix, never a function). A type is loaded when it is

- trusted by skops itself (primitives, containers, numpy arrays and dtypes, scipy sparse
  matrices, numpy random generators, the public scikit-learn estimators and their loss
  objects, numpy/scipy ufuncs);
- in ``DATA_TYPES``: the inner objects fitted scikit-learn models hold (a tree's ``Tree``, a
  KNN index, an MLP's optimizer, ...), each checked to be a class;
- a class of the project's pipeline: the shared preprocessing (``pipeline.PREPROCESSING_CLASSES``)
  and every scikit-learn estimator named in modelsnap.toml, resolved and required to be a class
  that subclasses ``sklearn.base.BaseEstimator``;
- named by the caller in ``trusted`` (``--trust``): the user's own classes, trusted by name.

Everything else (``os.system``, ``builtins.eval``, ``subprocess.Popen``, any function of numpy or
scikit-learn, a method, a class of a module in the project folder) is refused with its name, and
nothing is constructed. The file's sha256 is checked before skops even parses it, so a swapped or
corrupted artifact is refused outright. Artifacts are loaded only in the worker process, so a
crafted file that crashes scikit-learn's compiled code takes down the worker, not the caller.
"""

from __future__ import annotations

import contextlib
import functools
import importlib
import os
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from modelsnap.core.errors import IntegrityError, SnapshotError, UnsafeArtifactError
from modelsnap.core.files import read_regular, sha256_bytes

if TYPE_CHECKING:
    from modelsnap.core.project.schema import ProjectConfig

# The inner (non-estimator) classes of fitted scikit-learn models that skops does not trust by
# default, found by saving every estimator of the model menu and the sample project and asking
# skops which types it would not load (skops.io.get_untrusted_types). Each is a class; calling
# one (a reduce node) only builds a data object. Keep the list short: add a type only when a
# real fitted model needs it, and say which.
DATA_TYPES: tuple[str, ...] = (
    "numpy.dtype",  # SimpleImputer, OneHotEncoder: the fitted dtype
    "sklearn.tree._tree.Tree",  # decision trees, forests, extra trees, gradient boosting
    "sklearn.ensemble._hist_gradient_boosting.predictor.TreePredictor",  # HistGradientBoosting*
    "sklearn.neighbors._kd_tree.KDTree",  # KNeighbors* (algorithm auto/kd_tree)
    "sklearn.neighbors._ball_tree.BallTree",  # KNeighbors* (ball_tree, other metrics)
    "sklearn.metrics._dist_metrics.EuclideanDistance64",  # KNeighbors* (default metric)
    "sklearn.metrics._dist_metrics.ManhattanDistance64",  # KNeighbors* (p=1)
    "sklearn.metrics._dist_metrics.ChebyshevDistance64",  # KNeighbors* (chebyshev)
    "sklearn.metrics._dist_metrics.MinkowskiDistance64",  # KNeighbors* (p>2)
    "sklearn.neural_network._stochastic_optimizers.AdamOptimizer",  # MLP* (adam)
    "sklearn.neural_network._stochastic_optimizers.SGDOptimizer",  # MLP* (sgd)
    "sklearn.calibration._CalibratedClassifier",  # CalibratedClassifierCV
    "sklearn.calibration._SigmoidCalibration",  # CalibratedClassifierCV (sigmoid)
)

# Estimator paths from modelsnap.toml are resolved (imported) only under these packages: any
# other module may be a file in the project folder, whose code must not run unless the user
# trusts the class by name.
RESOLVED_PACKAGES = ("sklearn",)


def type_name(cls: type) -> str:
    """A class's dotted name as skops records it (``module.ClassName``)."""
    return f"{cls.__module__}.{cls.__name__}"


def resolve_class(name: str, *, exact: bool = True) -> type | None:
    """The top-level class a dotted name denotes, or None (no such module or attribute, or
    not a class: a function, a method, a builtin or a module is never returned). ``exact``
    also requires the name to be the class's own (not a re-export such as
    ``sklearn.linear_model.LogisticRegression``)."""
    module_name, _, attribute = name.rpartition(".")
    if not module_name or not attribute.isidentifier():
        return None
    try:
        module = importlib.import_module(module_name)
    except Exception:  # noqa: BLE001 - an absent or broken module resolves to nothing
        return None
    obj = getattr(module, attribute, None)
    if not isinstance(obj, type) or obj.__qualname__ != obj.__name__:
        return None
    if exact and type_name(obj) != name:
        return None
    return obj


@functools.cache
def data_types() -> frozenset[str]:
    """The names of ``DATA_TYPES`` that are classes in the installed libraries."""
    return frozenset(name for name in DATA_TYPES if resolve_class(name) is not None)


def _estimator_class(value: Any) -> type | None:
    from sklearn.base import BaseEstimator

    cls = resolve_class(value, exact=False) if isinstance(value, str) else value
    if isinstance(cls, type) and issubclass(cls, BaseEstimator):
        return cls
    return None


def project_classes(config: ProjectConfig | None = None) -> frozenset[str]:
    """The estimator classes of the project's pipeline, as skops type names.

    The shared preprocessing is always included; with a ``ProjectConfig``, so is every
    baseline/candidate estimator path under a package of ``RESOLVED_PACKAGES``. Only classes
    that subclass ``sklearn.base.BaseEstimator`` are returned; a path naming a function, a
    module or a class of another kind is left out (the artifact then names it as untrusted).
    """
    from modelsnap.core.evaluation.pipeline import PREPROCESSING_CLASSES

    candidates: list[Any] = list(PREPROCESSING_CLASSES)
    for spec in getattr(config, "models", None) or []:
        path = getattr(spec, "estimator", None)
        if isinstance(path, str) and path.split(".")[0] in RESOLVED_PACKAGES:
            candidates.append(path)
    return frozenset(type_name(cls) for cls in map(_estimator_class, candidates) if cls is not None)


def allowed_types(config: ProjectConfig | None = None) -> frozenset[str]:
    """Every type name loaded on top of skops' own defaults (without ``--trust``)."""
    return data_types() | project_classes(config)


def save_artifact(pipeline: Any, path: Path) -> tuple[str, int]:
    """Write ``pipeline`` to ``path`` with skops (fsynced) and return (sha256, size in bytes)."""
    import skops.io

    data = skops.io.dumps(pipeline)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".tmp-{os.getpid()}-{path.name}")
    try:
        with open(tmp, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            tmp.unlink()
        raise
    return sha256_bytes(data), len(data)


def untrusted_types(
    data: bytes, trusted: Iterable[str] = (), *, config: ProjectConfig | None = None
) -> list[str]:
    """Types in a skops payload that are neither allowed (skops' defaults, ``allowed_types``)
    nor named in ``trusted``."""
    import skops.io

    allowed = allowed_types(config) | set(trusted)
    return sorted(
        str(name) for name in skops.io.get_untrusted_types(data=data) if name not in allowed
    )


def load_artifact(
    path: Path,
    expected_sha256: str,
    *,
    trusted: Iterable[str] = (),
    config: ProjectConfig | None = None,
) -> Any:
    """Load a saved pipeline after checking its hash and the types it contains.

    ``config`` (the project's ``ProjectConfig``) adds the project's estimator classes to the
    allow-list; ``trusted`` names further types the user trusts (``--trust``). Raises
    SnapshotError when the file is missing, IntegrityError when its sha256 differs from the
    recorded one or it is not a loadable skops file, and UnsafeArtifactError (naming the types)
    when it holds a type outside the allow-list that the caller did not explicitly trust.
    """
    import skops.io

    path = Path(path)
    try:
        data = read_regular(path, what="model artifact")  # a FIFO is refused, never waited on
    except FileNotFoundError:
        raise SnapshotError(
            "model artifact not found",
            where=str(path),
            hint="restore it from a backup; 'modelsnap check' lists what is missing",
        ) from None
    except OSError as exc:
        raise SnapshotError(
            f"cannot read the model artifact: {exc.strerror}", where=str(path)
        ) from None
    actual = sha256_bytes(data)
    if actual != expected_sha256:
        raise IntegrityError(
            f"artifact sha256 {actual[:12]}... does not match the recorded "
            f"{expected_sha256[:12]}...",
            where=str(path),
            hint="the file was changed or replaced after the snapshot; it was not loaded",
        )
    trusted = [str(name) for name in trusted]
    try:
        present = {str(name) for name in skops.io.get_untrusted_types(data=data)}
    except Exception as exc:  # noqa: BLE001 - skops raises various errors on a malformed archive
        raise IntegrityError(
            f"the artifact is not a valid skops file ({_short(exc)})", where=str(path)
        ) from None
    allowed = allowed_types(config) | set(trusted)
    refused = sorted(present - allowed)
    if refused:
        raise UnsafeArtifactError(
            f"the artifact holds untrusted types: {', '.join(refused)}; it was not loaded",
            where=str(path),
            hint="these are not classes modelsnap trusts (docs/reliability.md); load it only "
            "if you know where it came from, trusting those types by name (--trust NAME)",
        )
    try:
        return skops.io.loads(data, trusted=sorted(present))
    except Exception as exc:  # noqa: BLE001 - a malformed tree fails while it is built
        raise IntegrityError(
            f"the artifact could not be loaded ({type(exc).__name__}: {_short(exc)})",
            where=str(path),
            hint="the file is damaged or was not written by modelsnap; it was not used",
        ) from None


def _short(exc: BaseException, limit: int = 300) -> str:
    text = str(exc)
    return text if len(text) <= limit else text[:limit] + "..."
