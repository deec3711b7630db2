"""The worker side of ``modelsnap import mlflow``: load a model downloaded from MLflow, safely.

MLflow's scikit-learn flavour stores the fitted model as pickle, cloudpickle or skops. Pickle
and cloudpickle run code while they load, so this module is only ever called in the worker
process (``stages.build``, job mode ``mlflow``), never in the CLI, the TUI or a notebook,
and only for a job that carries ``trust_pickle = true`` (the user's ``--trust-pickle``).
A skops file is not unpickled at all: it goes through modelsnap's own allow-list
(``artifacts.load_artifact``); the allow-list MLflow stores beside the model is ignored.

The file is hash-checked against the sha256 the parent read when it downloaded it, and the
model's feature names (the MLflow signature, else ``feature_names_in_``) must be the project's
columns, in order: a model trained on other columns is refused with the difference named.

No mlflow import here: the parent read the MLmodel file and sent what it says.
"""

from __future__ import annotations

import hashlib
import pickle
from pathlib import Path
from typing import Any

from modelsnap.core.errors import ImportRefused

FORMATS = ("skops", "pickle", "cloudpickle")


def _read(path: Path, expected: str, name: str) -> bytes:
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise ImportRefused(
            f"model {name!r}: the downloaded model file cannot be read ({exc.strerror})",
            where=str(path),
        ) from None
    digest = hashlib.sha256(data).hexdigest()
    if digest != expected:
        raise ImportRefused(
            f"model {name!r}: the downloaded model file changed before it was loaded "
            f"({digest[:12]}... != {expected[:12]}...)",
            where=str(path),
            hint="run the import again",
        )
    return data


def load_model_file(info: dict[str, Any], config: Any, name: str) -> Any:
    """The fitted model the parent downloaded (``info``: path, format, sha256, trust_pickle,
    trusted: the type names the user trusts in a skops file, ``--trust``)."""
    fmt = info.get("format")
    path = Path(str(info.get("path", "")))
    if fmt not in FORMATS:
        raise ImportRefused(
            f"model {name!r}: unknown serialization format {fmt!r}",
            hint=f"modelsnap reads MLflow scikit-learn models saved as {', '.join(FORMATS)}",
        )
    if fmt == "skops":
        from modelsnap.core.evaluation.artifacts import load_artifact

        trusted = [str(t) for t in info.get("trusted") or []]
        return load_artifact(path, str(info.get("sha256", "")), trusted=trusted, config=config)
    if info.get("trust_pickle") is not True:
        raise ImportRefused(
            f"model {name!r} is stored with {fmt}, which can run code when it is loaded",
            hint="pass --trust-pickle (trust_pickle=True) for models whose origin you know",
        )
    data = _read(path, str(info.get("sha256", "")), name)
    try:
        if fmt == "cloudpickle":
            import cloudpickle

            return cloudpickle.loads(data)
        return pickle.loads(data)  # noqa: S301 - trusted by name (--trust-pickle), worker only
    except (ImportError, AttributeError) as exc:
        raise ImportRefused(
            f"model {name!r}: the model needs code that is not installed here ({exc})",
            hint="install the package that defines the model's classes, then import again",
        ) from None
    except Exception as exc:  # noqa: BLE001 - a damaged pickle fails in many ways
        raise ImportRefused(
            f"model {name!r}: the model file could not be loaded "
            f"({type(exc).__name__}: {str(exc)[:300]})",
            where=str(path),
        ) from None


def expected_columns(model: Any, signature: list[str] | None) -> list[str] | None:
    """The columns the model was trained on: the MLflow signature's, else ``feature_names_in_``."""
    if signature:
        return [str(c) for c in signature]
    names = getattr(model, "feature_names_in_", None)
    if names is None:
        return None
    return [str(c) for c in list(names)]


def column_mismatch(expected: list[str] | None, columns: list[str]) -> str | None:
    """Why the model cannot take the project's feature frame, or None when it can."""
    if expected is None:
        return (
            "the model records no feature names (no MLflow signature, no feature_names_in_), "
            "so it cannot be checked against the project's columns"
        )
    if expected == columns:
        return None
    missing = [c for c in expected if c not in columns]
    extra = [c for c in columns if c not in expected]
    parts = []
    if missing:
        parts.append(f"the project has no {', '.join(map(repr, missing[:8]))}")
    if extra:
        parts.append(f"the model does not use {', '.join(map(repr, extra[:8]))}")
    if not parts:
        parts.append("the same columns in another order")
    return "its features do not match the project's columns: " + "; ".join(parts)


def _fitted(model: Any) -> bool:
    from sklearn.exceptions import NotFittedError
    from sklearn.utils.validation import check_is_fitted

    try:
        check_is_fitted(model)
    except (NotFittedError, TypeError):
        return False
    return True


def load_imported_model(info: dict[str, Any], config: Any, columns: list[str], name: str) -> Any:
    """Load, then check the feature names against ``columns`` (the project's, after drop)."""
    model = load_model_file(info, config, name)
    if not hasattr(model, "predict"):
        raise ImportRefused(f"model {name!r}: the loaded object has no predict method")
    if not _fitted(model):
        raise ImportRefused(
            f"model {name!r}: the imported model is not fitted",
            hint="an imported model is evaluated as it was trained, never refitted: "
            "log the fitted model to MLflow",
        )
    problem = column_mismatch(expected_columns(model, info.get("columns")), list(columns))
    if problem is not None:
        raise ImportRefused(
            f"model {name!r}: {problem}",
            hint="import models trained on the project's data file (after [data].drop), "
            "as a whole pipeline that takes the raw columns",
        )
    return model
