"""The frozen preprocessing every model shares, and estimators built from dotted paths.

Comparing models is only fair when they see identical inputs, so preprocessing is not part of
a model's spec: it comes from ``[preprocess]`` and is built the same way for every model. The
artifact saved is the whole Pipeline, so it predicts from raw rows.
"""

from __future__ import annotations

import contextlib
import importlib
import importlib.machinery
import inspect
import os
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pandas as pd
from sklearn.compose import ColumnTransformer
from sklearn.impute import SimpleImputer
from sklearn.pipeline import Pipeline
from sklearn.pipeline import make_pipeline as sk_make_pipeline
from sklearn.preprocessing import (
    MinMaxScaler,
    OneHotEncoder,
    OrdinalEncoder,
    RobustScaler,
    StandardScaler,
)

from modelsnap.core.errors import ProjectFileError
from modelsnap.core.project.schema import ModelSpec, ProjectConfig
from modelsnap.core.records.canonical import toml_value

_SCALERS = {"standard": StandardScaler, "minmax": MinMaxScaler, "robust": RobustScaler}

# Every estimator class ``make_pipeline`` can put into a saved artifact besides the model itself:
# the artifact loader trusts exactly these (``artifacts.project_classes``).
PREPROCESSING_CLASSES: tuple[type, ...] = (
    Pipeline,
    ColumnTransformer,
    SimpleImputer,
    *_SCALERS.values(),
    OneHotEncoder,
    OrdinalEncoder,
)


def column_kinds(frame: pd.DataFrame) -> tuple[list[str], list[str]]:
    """(numeric, categorical) column names: numbers are numeric; text, categories and booleans
    are categorical."""
    numeric, categorical = [], []
    for name in frame.columns:
        dtype = frame[name].dtype
        if pd.api.types.is_numeric_dtype(dtype) and not pd.api.types.is_bool_dtype(dtype):
            numeric.append(str(name))
        else:
            categorical.append(str(name))
    return numeric, categorical


def build_preprocessor(config: ProjectConfig, frame: pd.DataFrame) -> ColumnTransformer:
    """The ColumnTransformer from ``[preprocess]``; column lists fixed from ``frame``'s dtypes."""
    settings = config.preprocess
    numeric, categorical = column_kinds(frame)
    transformers = []
    if numeric:
        steps = []
        if settings.numeric_impute != "none":
            steps.append(SimpleImputer(strategy=settings.numeric_impute))
        if settings.numeric_scale != "none":
            steps.append(_SCALERS[settings.numeric_scale]())
        transformers.append(
            ("numeric", sk_make_pipeline(*steps) if steps else "passthrough", numeric)
        )
    if categorical:
        steps = []
        if settings.categorical_impute == "most_frequent":
            steps.append(SimpleImputer(strategy="most_frequent"))
        elif settings.categorical_impute == "constant":
            steps.append(SimpleImputer(strategy="constant", fill_value="missing"))
        if settings.categorical_encode == "onehot":
            steps.append(
                OneHotEncoder(
                    handle_unknown="infrequent_if_exist",
                    max_categories=settings.max_categories,
                    sparse_output=False,
                )
            )
        else:
            steps.append(
                OrdinalEncoder(
                    handle_unknown="use_encoded_value", unknown_value=-1, encoded_missing_value=-1
                )
            )
        transformers.append(("categorical", sk_make_pipeline(*steps), categorical))
    return ColumnTransformer(transformers, remainder="drop", sparse_threshold=0.0)


TRUST_CODE_ENV = "MODELSNAP_TRUST_CODE"


def trusted_code() -> set[str]:
    """Module names whose code in the project folder the user trusts, from
    ``$MODELSNAP_TRUST_CODE`` (comma-separated; ``modelsnap run --trust-code NAME`` sets it).

    Never read from the project folder itself: a folder cannot vouch for its own code."""
    return {name.strip() for name in os.environ.get(TRUST_CODE_ENV, "").split(",") if name.strip()}


def _project_module(top: str, folder: Path) -> Path | None:
    """The file of module ``top`` in the project folder when it is *only* there (an installed
    module of that name wins, and is imported without the folder on the path), else None."""
    if top in sys.builtin_module_names:
        return None
    loaded = sys.modules.get(top)
    if loaded is not None:
        origin = getattr(loaded, "__file__", None)
        return Path(origin) if origin and Path(origin).resolve().is_relative_to(folder) else None
    elsewhere = [
        entry for entry in sys.path if entry not in ("", ".") and Path(entry).resolve() != folder
    ]
    if importlib.machinery.PathFinder.find_spec(top, elsewhere) is not None:
        return None
    for candidate in (folder / f"{top}.py", folder / top / "__init__.py"):
        if candidate.is_file():
            return candidate
    return None


def import_estimator(path: str, root: Path, *, where: str | None = None) -> type:
    """Import an estimator class by dotted path, from installed packages or the project folder.

    A module that lives only in the project folder (``mymodels.MyModel`` beside modelsnap.toml)
    is code that came with the folder: it is imported only when the user trusts it by name
    (``trusted_code``), with the folder on ``sys.path`` just for that import. Installed modules
    are imported without the folder on the path, so a file in the folder can never shadow them.
    Raises ProjectFileError when it is not trusted, does not import, or is not a
    scikit-learn-compatible estimator class (needs fit, predict and get_params).
    """
    label = where or "estimator"
    module_name, _, attribute = path.rpartition(".")
    if not module_name:
        raise ProjectFileError(
            f"estimator {path!r} is not a dotted path",
            where=label,
            hint='e.g. "sklearn.ensemble.RandomForestClassifier"',
        )
    folder = Path(root).resolve()
    top = module_name.split(".")[0]
    local = _project_module(top, folder)
    if local is not None and top not in trusted_code():
        raise ProjectFileError(
            f"estimator {path!r} comes from {local.name} in the project folder, and modelsnap "
            "runs code from a project folder only when you trust it by name",
            where=label,
            hint=f"read {local.name} first; to run it: modelsnap run DIR --trust-code {top} "
            f"(or set {TRUST_CODE_ENV}={top})",
        )
    added = local is not None and str(folder) not in sys.path
    if added:
        sys.path.insert(0, str(folder))
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as exc:
        raise ProjectFileError(
            f"estimator {path!r} does not import: no module named {exc.name!r}",
            where=label,
            hint="check the spelling, install the package, or put the module in the project folder",
        ) from None
    except Exception as exc:  # a user module can raise anything while importing
        raise ProjectFileError(
            f"estimator {path!r} does not import: {type(exc).__name__}: {exc}",
            where=label,
            hint=f"fix the module {module_name!r}",
        ) from None
    finally:
        if added:
            with contextlib.suppress(ValueError):
                sys.path.remove(str(folder))
    estimator = getattr(module, attribute, None)
    if estimator is None:
        raise ProjectFileError(
            f"module {module_name!r} has no attribute {attribute!r}",
            where=label,
            hint="check the class name's spelling and case",
        )
    if not inspect.isclass(estimator) or not all(
        callable(getattr(estimator, method, None)) for method in ("fit", "predict", "get_params")
    ):
        raise ProjectFileError(
            f"{path!r} is not a scikit-learn-compatible estimator class "
            "(it needs fit, predict and get_params)",
            where=label,
            hint="subclass sklearn.base.BaseEstimator and implement fit/predict",
        )
    return estimator


def set_params_checked(
    estimator: Any, params: Mapping[str, Any], *, where: str | None = None
) -> Any:
    """``estimator.set_params(**params)``; an unknown name is a clear error listing valid ones."""
    valid = sorted(estimator.get_params(deep=False))
    unknown = sorted(set(params) - set(valid))
    if unknown:
        raise ProjectFileError(
            f"{type(estimator).__name__} has no parameter{'s' if len(unknown) > 1 else ''} "
            f"{', '.join(unknown)}",
            where=where or "params",
            hint=f"valid parameters: {', '.join(valid)}",
        )
    try:
        estimator.set_params(**dict(params))
    except (TypeError, ValueError) as exc:
        raise ProjectFileError(
            f"invalid parameters for {type(estimator).__name__}: {exc}", where=where or "params"
        ) from None
    return estimator


def validate_params(estimator: Any, *, where: str | None = None) -> Any:
    """Run the estimator's own parameter validation (scikit-learn >= 1.2 checks every value
    against ``_parameter_constraints``), so a bad value is refused before anything is written
    or fitted. Its message is kept whole: it names the parameter and what it must be."""
    check = getattr(estimator, "_validate_params", None)
    if not callable(check):
        return estimator  # not a scikit-learn estimator, or one too old to validate
    try:
        check()
    except (TypeError, ValueError) as exc:
        raise ProjectFileError(
            f"{type(exc).__name__}: {exc}",
            where=where or "params",
            hint="change the value in params",
        ) from None
    return estimator


def check_model(
    path: str, params: Mapping[str, Any], root: Path, *, where: str | None = None
) -> Any:
    """Import ``path``, create it with ``params`` and validate them as a fit would, without
    fitting: the check made before a model entry is written (TUI form, API, CLI)."""
    estimator_class = import_estimator(path, Path(root), where=where)
    try:
        estimator = estimator_class()
    except Exception as exc:  # user classes may require arguments
        raise ProjectFileError(
            f"{path} cannot be created without arguments ({exc})",
            where=where,
            hint="give its required arguments defaults",
        ) from None
    set_params_checked(estimator, params, where=where)
    return validate_params(estimator, where=where)


def build_estimator(
    spec: ModelSpec,
    root: Path,
    *,
    params: Mapping[str, Any] | None = None,
    n_jobs: int | None = None,
) -> Any:
    """A fresh, unfitted estimator for ``spec`` with its params (and ``params`` on top, e.g. a
    grid point). ``n_jobs`` is applied when the estimator has it and the user did not set it."""
    key = "[baseline]" if spec.kind == "baseline" else f"[[candidates]] {spec.name}"
    cls = import_estimator(spec.estimator, root, where=f"modelsnap.toml: {key}.estimator")
    try:
        estimator = cls()
    except Exception as exc:  # user classes may require arguments
        raise ProjectFileError(
            f"{spec.estimator}() cannot be created without arguments: {exc}",
            where=f"modelsnap.toml: {key}.estimator",
            hint="give the class defaults for every __init__ argument",
        ) from None
    merged = {**spec.params, **(params or {})}
    if (
        n_jobs is not None
        and "n_jobs" not in merged
        and "n_jobs" in estimator.get_params(deep=False)
    ):
        merged["n_jobs"] = n_jobs
    return set_params_checked(estimator, merged, where=f"modelsnap.toml: {key}.params")


def make_pipeline(config: ProjectConfig, frame: pd.DataFrame, estimator: Any) -> Pipeline:
    """Pipeline([("preprocess", the frozen ColumnTransformer), ("model", estimator)])."""
    return Pipeline([("preprocess", build_preprocessor(config, frame)), ("model", estimator)])


def toml_params(estimator: Any) -> dict[str, Any]:
    """``get_params(deep=False)`` as TOML-able values (``canonical.toml_value``, the rule for
    every record): None and non-finite values omitted, tuples as arrays, nested estimators and
    other objects as their repr."""
    params = {}
    for name, value in sorted(estimator.get_params(deep=False).items()):
        if value is None:
            continue
        converted = toml_value(value)
        if converted is not None:
            params[name] = converted
    return params
