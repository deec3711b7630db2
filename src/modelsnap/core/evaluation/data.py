"""The data set and its frozen split.

Every model of a project sees the same rows split the same way: the split is drawn once
(seeded, stratified for classification), stored in ``split.npz`` and only ever verified after
that. If the data or the split settings change, loading fails loudly instead of silently making
new snapshots incomparable with old ones. The test split exists only for final metrics.
"""

from __future__ import annotations

import io
import zipfile
import zlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from modelsnap.core.errors import DataError
from modelsnap.core.files import (
    create_exclusive_bytes,
    inside,
    open_regular,
    sha256_bytes,
    sha256_file,
)
from modelsnap.core.project.parse import STRATIFY_OFF_HINT, check_class_sizes
from modelsnap.core.project.schema import ProjectConfig

SPLIT_FILE = "split.npz"
MAX_CLASS_LEVELS = 20
_POSITIVE_NAMES = ("1", "yes", "true", "y", "positive", "pos")


@dataclass
class Dataset:
    """Features (after ``[data].drop``), target, and what was inferred about them.

    ``sensitive`` holds the ``[data].sensitive`` columns even when they are dropped from the
    features, so fairness can still be reported per group.
    """

    frame: pd.DataFrame
    target: pd.Series
    task: str
    classes: list[str] | None
    positive_label: str | None
    dataset_sha256: str
    source: str = ""
    target_name: str = ""
    sensitive: pd.DataFrame | None = None
    warnings: list[str] = field(default_factory=list)

    @property
    def n_rows(self) -> int:
        return len(self.frame)


@dataclass
class Split:
    train: np.ndarray
    validation: np.ndarray
    test: np.ndarray
    split_sha256: str

    def sizes(self) -> dict[str, int]:
        return {
            "n_train": len(self.train),
            "n_validation": len(self.validation),
            "n_test": len(self.test),
        }


# ------------------------------------------------------------------------------------ loading


def _sklearn_frame(name: str) -> pd.DataFrame:
    """A bundled scikit-learn data set as one frame; class targets mapped to their names."""
    from sklearn import datasets

    loaders = {
        "breast_cancer": datasets.load_breast_cancer,
        "iris": datasets.load_iris,
        "wine": datasets.load_wine,
        "diabetes": datasets.load_diabetes,
    }
    bunch = loaders[name](as_frame=True)
    frame = bunch.frame.copy()
    names = getattr(bunch, "target_names", None)
    if name != "diabetes" and names is not None:
        frame["target"] = pd.Series(
            np.asarray(names)[frame["target"].to_numpy()], index=frame.index
        )
    return frame


def canonical_csv_bytes(frame: pd.DataFrame) -> bytes:
    """A stable CSV rendering, hashed for data sets that have no file of their own."""
    return frame.to_csv(index=False, lineterminator="\n").encode("utf-8")


def read_table(
    source: str, root: Path, *, path: Path | None = None
) -> tuple[pd.DataFrame, str, str]:
    """Read the raw table; return (frame, dataset_sha256, label used in messages).

    ``path`` overrides where a CSV source is read from (``init`` validates a file before
    copying it into the folder).
    """
    if source.startswith("sklearn:"):
        frame = _sklearn_frame(source.split(":", 1)[1])
        return frame, sha256_bytes(canonical_csv_bytes(frame)), source
    file = Path(path) if path is not None else inside(root, source, what="[data].source")
    label = str(file)
    if not file.exists():
        raise DataError(
            "data file not found",
            where=label,
            hint="check [data].source in modelsnap.toml (relative to the project folder)",
        )
    if not file.is_file():
        raise DataError(
            "data source is not a regular file",
            where=label,
            hint="point [data].source at a CSV file",
        )
    try:
        with open_regular(file, what="data source", error=DataError) as handle:
            frame = pd.read_csv(handle, low_memory=False)
    except MemoryError:
        raise DataError(
            "the CSV file does not fit in memory",
            where=label,
            hint="use a smaller sample of the data",
        ) from None
    except pd.errors.EmptyDataError:
        raise DataError("the CSV file is empty", where=label) from None
    except (pd.errors.ParserError, UnicodeDecodeError, ValueError) as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise DataError(
            f"the CSV file cannot be parsed: {first}",
            where=label,
            hint="save it as comma-separated UTF-8 text with a header row",
        ) from None
    except OSError as exc:
        raise DataError(f"cannot read the data file: {exc.strerror}", where=label) from None
    if frame.shape[1] == 0 or len(frame) == 0:
        raise DataError("the CSV file has no data rows", where=label)
    return frame, sha256_file(file), label


# A regression target beyond this magnitude overflows squared errors (1e308 squared is inf).
REGRESSION_TARGET_LIMIT = 1e100


def infer_task(target: pd.Series) -> str:
    """Non-numeric, boolean, or at most 20 distinct integer values -> classification."""
    values = target.dropna()
    if pd.api.types.is_bool_dtype(values) or not pd.api.types.is_numeric_dtype(values):
        return "classification"
    numbers = values.to_numpy(dtype=float)
    if np.all(np.mod(numbers, 1) == 0) and len(np.unique(numbers)) <= MAX_CLASS_LEVELS:
        return "classification"
    return "regression"


# Integer-valued floats up to this size are exact integers; beyond it a float label stays a float
# (``1e+308``) instead of overflowing int64 into a wrong, negative label.
_EXACT_INT = 2.0**53


def _labels_as_strings(target: pd.Series) -> pd.Series:
    """Class labels as strings (snapshots store them so); integer-valued floats lose the '.0'
    when they are exact integers (|x| <= 2**53), and are never cast past int64 (casting 1e308
    would overflow, every such value turning into one class "-9223372036854775808")."""
    if pd.api.types.is_float_dtype(target):
        values = target.to_numpy(dtype=float)
        if np.all(np.mod(values, 1) == 0) and np.all(np.abs(values) <= _EXACT_INT):
            target = target.astype("int64")
    return target.astype(str).astype(object)


def _non_finite(target: pd.Series, column: str, label: str) -> None:
    """Refuse a numeric target holding inf or -inf: no metric can be computed on those rows."""
    if pd.api.types.is_bool_dtype(target) or not pd.api.types.is_numeric_dtype(target):
        return
    values = target.to_numpy(dtype=float)
    bad = np.flatnonzero(np.isinf(values))
    if len(bad):
        rows = ", ".join(str(int(i) + 1) for i in bad[:5]) + (", ..." if len(bad) > 5 else "")
        raise DataError(
            f"target column {column!r} has {len(bad)} infinite value(s) (inf or -inf) "
            f"in data row(s) {rows} (counted from 1 after the header)",
            where=label,
            hint="remove or fix those rows: rows are never dropped silently",
        )


def _positive_label(classes: list[str], wanted: str | None, label: str, column: str) -> str | None:
    if len(classes) != 2:
        if wanted is not None:
            raise DataError(
                f"positive_label is for binary targets; {column!r} has {len(classes)} classes",
                where=label,
                hint="remove [data].positive_label (multiclass metrics are macro averages)",
            )
        return None
    if wanted is not None:
        if wanted not in classes:
            raise DataError(
                f"positive_label {wanted!r} is not a class of {column!r}",
                where=label,
                hint=f"classes: {', '.join(classes)}",
            )
        return wanted
    for name in _POSITIVE_NAMES:
        for cls in classes:
            if cls.lower() == name:
                return cls
    return classes[-1]


def _checked_target(
    target: pd.Series, data: Any, label: str
) -> tuple[str, pd.Series, list[str] | None, str | None]:
    """The target rules (docs/project-file.md, "Data rules"), shared by ``load_dataset`` and
    ``data_facts``: (task, target as used, classes, positive label), or DataError."""
    n_missing = int(target.isna().sum())
    if n_missing:
        raise DataError(
            f"target column {data.target!r} has {n_missing} missing value(s)",
            where=label,
            hint="remove or fill those rows: rows are never dropped silently",
        )
    _non_finite(target, data.target, label)
    task = data.task or infer_task(target)
    classes: list[str] | None = None
    positive: str | None = None
    if task == "regression":
        if pd.api.types.is_bool_dtype(target) or not pd.api.types.is_numeric_dtype(target):
            raise DataError(
                f"target column {data.target!r} is not numeric, so it cannot be regressed",
                where=label,
                hint='set [data].task = "classification" or choose a numeric target',
            )
        if data.positive_label is not None:
            raise DataError(
                "positive_label is for binary classification, but the task is regression",
                where=label,
                hint="remove [data].positive_label",
            )
        target = target.astype(float)
        largest = float(np.max(np.abs(target.to_numpy())))
        if largest > REGRESSION_TARGET_LIMIT:
            raise DataError(
                f"target column {data.target!r} has values up to {largest:g}: squared errors "
                "would overflow, so no error metric could be computed",
                where=label,
                hint=f"rescale the target (e.g. to other units); the limit is "
                f"{REGRESSION_TARGET_LIMIT:g} in absolute value",
            )
        if target.nunique() < 2:
            raise DataError(f"target column {data.target!r} is constant", where=label)
    else:
        target = _labels_as_strings(target)
        classes = sorted(target.unique().tolist())
        if len(classes) < 2:
            raise DataError(
                f"target column {data.target!r} has one class only ({classes[0]!r})",
                where=label,
                hint="a classifier needs at least two classes",
            )
        positive = _positive_label(classes, data.positive_label, label, data.target)
    return task, target, classes, positive


def load_dataset(config: ProjectConfig, *, path: Path | None = None) -> Dataset:
    """Load the data set named in ``[data]``, check it, and infer the task and classes.

    Raises DataError (naming the file and the column) for a missing, empty or unreadable file,
    an unknown target or listed column, missing or infinite target values, a single class, or a
    non-numeric target for regression.
    """
    data = config.data
    frame, digest, label = read_table(data.source, config.root, path=path)
    columns = [str(c) for c in frame.columns]
    frame.columns = columns
    if data.target not in columns:
        raise DataError(
            f"target column {data.target!r} not found",
            where=label,
            hint=f"available columns: {', '.join(columns)}",
        )
    for key in ("drop", "sensitive", "suspect_features"):
        missing = [c for c in getattr(data, key) if c not in columns]
        if missing:
            raise DataError(
                f"[data].{key} names unknown column(s) {', '.join(missing)}",
                where=label,
                hint=f"available columns: {', '.join(columns)}",
            )
    task, target, classes, positive = _checked_target(frame[data.target], data, label)
    features = frame.drop(columns=[data.target, *data.drop])
    if features.shape[1] == 0:
        raise DataError(
            "no feature columns remain after dropping the target and [data].drop", where=label
        )
    sensitive = frame[list(data.sensitive)].copy() if data.sensitive else None
    return Dataset(
        frame=features,
        target=target.rename(data.target),
        task=task,
        classes=classes,
        positive_label=positive,
        dataset_sha256=digest,
        source=data.source,
        target_name=data.target,
        sensitive=sensitive,
    )


@dataclass
class DataFacts:
    """What ``modelsnap lock`` checks the criteria against: the column names, and the task,
    classes and positive label the target column gives (None when the target is unknown)."""

    columns: list[str]
    task: str | None
    classes: list[str] | None
    positive_label: str | None
    label: str = ""

    @property
    def has_target(self) -> bool:
        return self.task is not None


def data_facts(config: ProjectConfig) -> DataFacts:
    """The header and the target column only (a CSV is not read whole): the same target rules
    as ``load_dataset``, so lock and a run agree. Raises DataError for an unreadable file or a
    target that breaks a rule; an unknown target gives ``task = None`` (the caller reports it)."""
    data = config.data
    if data.is_sklearn:
        frame, _, label = read_table(data.source, config.root)
        frame.columns = [str(c) for c in frame.columns]
        columns = list(frame.columns)
        target = frame[data.target] if data.target in columns else None
    else:
        label = data.source
        file = inside(config.root, data.source, what="[data].source")
        if not file.is_file():
            raise DataError(
                "data file not found",
                where=str(file),
                hint="check [data].source in modelsnap.toml (relative to the project folder)",
            )
        try:
            columns = [str(c) for c in pd.read_csv(file, nrows=0).columns]
            target = (
                pd.read_csv(file, usecols=[data.target], low_memory=False)[data.target]
                if data.target in columns
                else None
            )
        except pd.errors.EmptyDataError:
            raise DataError("the CSV file is empty", where=str(file)) from None
        except (pd.errors.ParserError, UnicodeDecodeError, ValueError) as exc:
            first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            raise DataError(
                f"the CSV file cannot be parsed: {first}",
                where=str(file),
                hint="save it as comma-separated UTF-8 text with a header row",
            ) from None
        except OSError as exc:
            raise DataError(f"cannot read the data file: {exc.strerror}", where=str(file)) from None
    if target is None:
        return DataFacts(columns, None, None, None, label)
    if len(target) == 0:
        raise DataError("the CSV file has no data rows", where=label)
    task, _, classes, positive = _checked_target(target, data, label)
    return DataFacts(columns, task, classes, positive, label)


# -------------------------------------------------------------------------------------- split


def split_sha256(train: np.ndarray, validation: np.ndarray, test: np.ndarray) -> str:
    """sha256 of the three arrays' little-endian int64 bytes, concatenated in that order."""
    parts = [np.ascontiguousarray(a, dtype="<i8").tobytes() for a in (train, validation, test)]
    return sha256_bytes(b"".join(parts))


def _counts(n: int, validation_fraction: float, test_fraction: float) -> tuple[int, int]:
    n_test = int(round(n * test_fraction))
    n_val = int(round(n * validation_fraction))
    return n_val, n_test


def draw_split(
    dataset: Dataset,
    *,
    seed: int,
    validation_fraction: float,
    test_fraction: float,
    stratify: bool,
    turn_off: str = STRATIFY_OFF_HINT,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """A seeded random split; stratified per class so each split keeps the class balance.

    ``turn_off`` is the hint's way to stop stratifying (``core.project.parse.check_class_sizes``).
    """
    n = dataset.n_rows
    rng = np.random.default_rng(seed)
    if dataset.task == "classification" and stratify:
        labels = dataset.target.to_numpy()
        groups = [np.flatnonzero(labels == cls) for cls in dataset.classes or []]
        check_class_sizes(
            {cls: len(rows) for cls, rows in zip(dataset.classes or [], groups, strict=True)},
            where=dataset.source,
            turn_off=turn_off,
        )
    else:
        groups = [np.arange(n)]
    parts: list[list[np.ndarray]] = [[], [], []]
    for rows in groups:
        shuffled = rng.permutation(rows)
        n_val, n_test = _counts(len(shuffled), validation_fraction, test_fraction)
        if len(groups) > 1:
            n_val, n_test = max(n_val, 1), max(n_test, 1)
        parts[2].append(shuffled[:n_test])
        parts[1].append(shuffled[n_test : n_test + n_val])
        parts[0].append(shuffled[n_test + n_val :])
    train, validation, test = (np.sort(np.concatenate(p)).astype(np.int64) for p in parts)
    if min(len(train), len(validation), len(test)) == 0:
        raise DataError(
            f"{n} rows are too few for train, validation and test splits",
            where=dataset.source,
            hint="use more data or larger [data].validation_fraction / test_fraction",
        )
    return train, validation, test


def _settings(config: ProjectConfig, dataset: Dataset) -> dict[str, Any]:
    data = config.data
    return {
        "n_rows": dataset.n_rows,
        "seed": data.seed,
        "validation_fraction": data.validation_fraction,
        "test_fraction": data.test_fraction,
        "stratify": bool(data.stratify and dataset.task == "classification"),
        "dataset_sha256": dataset.dataset_sha256,
    }


def _npz_bytes(arrays: dict[str, np.ndarray]) -> bytes:
    buffer = io.BytesIO()
    # numpy's stub lets **arrays fill allow_pickle too (a bool): every value here is an array
    np.savez_compressed(buffer, **arrays)  # type: ignore[arg-type]
    return buffer.getvalue()


def ensure_split(config: ProjectConfig, dataset: Dataset) -> Split:
    """Return the frozen split, drawing and storing it on first use.

    ``split.npz`` holds the index arrays plus the settings they were drawn with (row count,
    seed, fractions, stratify, dataset sha256); a later load that disagrees with the data or
    with modelsnap.toml raises DataError instead of redrawing. Creation is exclusive, so two
    processes racing both end up with the same stored split.
    """
    path = config.root / SPLIT_FILE
    settings = _settings(config, dataset)
    if not path.exists():
        train, validation, test = draw_split(
            dataset,
            seed=config.data.seed,
            validation_fraction=config.data.validation_fraction,
            test_fraction=config.data.test_fraction,
            stratify=settings["stratify"],
        )
        arrays = {"train": train, "validation": validation, "test": test}
        arrays.update({f"meta_{k}": np.asarray(v) for k, v in settings.items()})
        create_exclusive_bytes(config.root, path, _npz_bytes(arrays))
    return _verified_split(path, settings)


def read_split(root: Path) -> Split:
    """The stored split without checking it against the data (for ``check`` and recomputation)."""
    arrays = _load_npz(Path(root) / SPLIT_FILE)
    return Split(
        arrays["train"],
        arrays["validation"],
        arrays["test"],
        split_sha256(arrays["train"], arrays["validation"], arrays["test"]),
    )


_META_KINDS = {
    "meta_n_rows": "iu",
    "meta_seed": "iu",
    "meta_validation_fraction": "f",
    "meta_test_fraction": "f",
    "meta_stratify": "b",
    "meta_dataset_sha256": "U",
}


def _load_npz(path: Path) -> dict[str, np.ndarray]:
    where = str(path)
    try:
        with (
            open_regular(path, what="split.npz", error=DataError) as handle,
            np.load(handle, allow_pickle=False) as npz,
        ):
            arrays = {key: npz[key] for key in npz.files}
    except FileNotFoundError:
        raise DataError(
            "split.npz not found", where=where, hint="it is created by the first run of a model"
        ) from None
    except (OSError, ValueError, EOFError, zipfile.BadZipFile, zlib.error) as exc:
        raise DataError(
            f"split.npz cannot be read ({exc})",
            where=where,
            hint="restore it from version control; redrawing it would make every "
            "existing snapshot incomparable",
        ) from None
    for key in ("train", "validation", "test"):
        if key not in arrays or arrays[key].ndim != 1 or arrays[key].dtype.kind not in "iu":
            raise DataError(
                f"split.npz has no integer array {key!r}",
                where=where,
                hint="restore it from version control",
            )
        arrays[key] = arrays[key].astype(np.int64)
    for key, kinds in _META_KINDS.items():
        value = arrays.get(key)
        if value is not None and (value.ndim != 0 or value.dtype.kind not in kinds):
            raise DataError(
                f"split.npz has a malformed {key!r}",
                where=where,
                hint="restore it from version control",
            )
    return arrays


def _verified_split(path: Path, settings: dict[str, Any]) -> Split:
    arrays = _load_npz(path)
    where = str(path)
    train, validation, test = arrays["train"], arrays["validation"], arrays["test"]
    n_rows = settings["n_rows"]
    everything = np.concatenate([train, validation, test])
    recorded_rows = int(arrays["meta_n_rows"]) if "meta_n_rows" in arrays else len(everything)
    if recorded_rows != n_rows or len(everything) != n_rows:
        raise DataError(
            f"the data changed: split.npz covers {len(everything)} rows, the data set has {n_rows}",
            where=where,
            hint="restore the original data, or start a new project folder for the new data "
            "(deleting split.npz would make existing snapshots incomparable)",
        )
    if len(np.unique(everything)) != n_rows or everything.min() < 0 or everything.max() >= n_rows:
        raise DataError(
            "split.npz is corrupt: the splits overlap or point outside the data",
            where=where,
            hint="restore it from version control",
        )
    recorded_sha = str(arrays["meta_dataset_sha256"]) if "meta_dataset_sha256" in arrays else None
    if recorded_sha is not None and recorded_sha != settings["dataset_sha256"]:
        raise DataError(
            "the data changed since the split was frozen (dataset sha256 differs)",
            where=where,
            hint="restore the original data, or start a new project folder for the new data",
        )
    differences = []
    for key in ("seed", "validation_fraction", "test_fraction", "stratify"):
        meta = f"meta_{key}"
        if meta in arrays and arrays[meta].item() != settings[key]:
            differences.append(
                f"{key} {arrays[meta].item()} (frozen) vs {settings[key]} (modelsnap.toml)"
            )
    if differences:
        raise DataError(
            "modelsnap.toml's [data] split settings differ from the frozen split: "
            + "; ".join(differences),
            where=where,
            hint="restore those [data] values; the split is never redrawn",
        )
    return Split(train, validation, test, split_sha256(train, validation, test))
