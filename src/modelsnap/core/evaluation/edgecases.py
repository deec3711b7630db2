"""Edge-case sets: rare or adversarial rows with the answer a model must give.

A great average can hide a model that fails the one input that matters (the guide's pitfall 4).
The project may name a CSV (``[data].edge_cases``) holding:

* every feature column of the data set (after ``[data].drop``) — empty cells are missing values;
* the target column — the expected answer (a class, or a number for regression);
* optional ``case`` (a name; default ``case N``), ``severity`` (``must-pass`` | ``high`` |
  ``normal``; default ``normal``) and, for regression, ``tolerance``.

A classification case passes when the predicted label equals the expected one (as text). A
regression case passes when ``|predicted - expected| <= tolerance``; without a tolerance cell
the default is ``DEFAULT_TOLERANCE_FRACTION`` × the standard deviation of the data set's target.
A row that makes the model raise counts as failed (``predicted = "(error)"`` plus ``error``).

``load_edge_cases`` validates the file strictly (every problem names the file, column and row);
``run_cases`` scores one fitted pipeline; ``run_edge_cases`` (the ``modelsnap edge`` job) runs
the current file over every snapshot's artifact and writes one ``edge_runs/<run-id>.toml``
record; ``latest_edge_results`` reads those records without pandas or scikit-learn (the
ranking's fast path).

This module imports only the standard library at module level; pandas/numpy are imported
inside the functions that need them.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from modelsnap.core.errors import DataError
from modelsnap.core.text import column_mismatch

SEVERITIES = ("must-pass", "high", "normal")
DEFAULT_SEVERITY = "normal"
OPTIONAL_COLUMNS = ("case", "severity")
TOLERANCE_COLUMN = "tolerance"
DEFAULT_TOLERANCE_FRACTION = 0.1
MISSING_TOKENS = frozenset({"", "na", "nan", "null", "none"})
EDGE_RUNS_DIR = "edge_runs"
MAX_LISTED = 5

ProgressCallback = Callable[[float, str], None]


@dataclass
class EdgeCaseSet:
    """A validated edge-case file: features in the data set's column order, plus expectations."""

    file: str
    sha256: str
    columns: list[str]
    rows: list[dict[str, Any]]  # feature name -> float (nan = missing) or str / None
    expected: list[Any]  # str (classification) or float (regression)
    cases: list[str]
    severities: list[str]
    tolerances: list[float | None] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.cases)

    def frame(self) -> Any:
        """The features as a pandas DataFrame (numeric columns float64, others object)."""
        import numpy as np
        import pandas as pd

        data = {}
        for column in self.columns:
            values = [row[column] for row in self.rows]
            if all(isinstance(v, float) for v in values):
                data[column] = np.asarray(values, dtype="float64")
            else:
                data[column] = pd.Series(
                    [np.nan if v is None else v for v in values], dtype="object"
                )
        return pd.DataFrame(data, columns=self.columns)


def feature_kinds(frame: Any) -> dict[str, str]:
    """Column name -> "numeric" | "categorical", in frame order (bool counts as categorical)."""
    import pandas as pd

    kinds = {}
    for column in frame.columns:
        series = frame[column]
        numeric = pd.api.types.is_numeric_dtype(series) and not pd.api.types.is_bool_dtype(series)
        kinds[str(column)] = "numeric" if numeric else "categorical"
    return kinds


def load_edge_cases(
    path: Path,
    *,
    columns: Mapping[str, str],
    target: str,
    task: str,
    classes: Sequence[str] | None = None,
    display_name: str | None = None,
) -> EdgeCaseSet:
    """Read and validate an edge-case CSV; raises DataError naming the file, column and row.

    ``columns`` maps each feature column to "numeric" or "categorical" (see ``feature_kinds``);
    ``classes`` (classification) are the allowed expected labels, as text.
    """
    from modelsnap.core.files import EDGE_CSV_LIMIT, read_csv_records, sha256_bytes

    name = display_name or str(path)
    raw, records = read_csv_records(
        Path(path),
        what="edge-case file",
        where=name,
        limit=EDGE_CSV_LIMIT,
        missing_hint="create it or remove [data].edge_cases from modelsnap.toml",
    )
    if not records:
        raise DataError(
            "edge-case file is empty",
            where=name,
            hint=f"the first row names the columns: the features and '{target}'",
        )
    header = [cell.strip() for cell in records[0][1]]
    _check_header(header, columns, target, task, name)
    if len(records) == 1:
        raise DataError(
            "edge-case file has a header but no cases",
            where=name,
            hint="add one row per case under the header",
        )
    result = EdgeCaseSet(
        file=name,
        sha256=sha256_bytes(raw),
        columns=list(columns),
        rows=[],
        expected=[],
        cases=[],
        severities=[],
        tolerances=[],
    )
    allowed = [str(c) for c in classes] if classes is not None else None
    problems: list[str] = []
    for number, (line, row) in enumerate(records[1:], start=1):
        if len(row) != len(header):
            problems.append(f"line {line}: {len(row)} cells, the header has {len(header)}")
            continue
        cells = {column: cell.strip() for column, cell in zip(header, row, strict=True)}
        before = len(problems)
        features, expected, severity, tolerance = _parse_row(
            cells, columns, target, task, allowed, problems
        )
        problems[before:] = [f"line {line}, {problem}" for problem in problems[before:]]
        result.rows.append(features)
        result.expected.append(expected)
        result.cases.append(cells.get("case") or f"case {number}")
        result.severities.append(severity)
        result.tolerances.append(tolerance)
    if problems:
        shown = problems[:MAX_LISTED]
        more = len(problems) - len(shown)
        raise DataError(
            "edge-case file has invalid values: "
            + "; ".join(shown)
            + (f"; and {more} more" if more else ""),
            where=name,
            hint=(
                "numeric columns take finite numbers (empty = missing); "
                "the target needs a value in every row"
            ),
        )
    return result


def _parse_row(
    cells: Mapping[str, str],
    columns: Mapping[str, str],
    target: str,
    task: str,
    allowed: list[str] | None,
    problems: list[str],
) -> tuple[dict[str, Any], Any, str, float | None]:
    """One case: (features, expected, severity, tolerance); problems are appended, not raised,
    so the user sees every bad cell of the file at once."""
    features: dict[str, Any] = {}
    for column, kind in columns.items():
        value = cells[column]
        if value.lower() in MISSING_TOKENS:
            features[column] = math.nan if kind == "numeric" else None
        elif kind == "numeric":
            features[column] = _numeric_cell(value, column, problems)
        else:
            features[column] = value
    expected: Any = cells[target]
    if expected.lower() in MISSING_TOKENS:
        problems.append(f"column '{target}': the expected target is empty")
    elif task == "regression":
        expected = _numeric_cell(expected, target, problems)
    elif allowed is not None and expected not in allowed:
        problems.append(
            f"column '{target}': {expected!r} is not a class of the data set "
            f"({', '.join(repr(c) for c in allowed)})"
        )
    severity = cells.get("severity", "").lower() or DEFAULT_SEVERITY
    if severity not in SEVERITIES:
        problems.append(
            f"column 'severity': {cells['severity']!r} is not one of {', '.join(SEVERITIES)}"
        )
    tolerance: float | None = None
    text = cells.get(TOLERANCE_COLUMN, "")
    if text:
        tolerance = _number(text)
        if tolerance is None or tolerance < 0:
            problems.append(f"column 'tolerance': {text!r} is not a number >= 0")
    return features, expected, severity, tolerance


def _numeric_cell(text: str, column: str, problems: list[str]) -> float:
    value = _number(text)
    if value is None:
        what = "a finite number" if _is_float(text) else "a number"
        problems.append(f"column '{column}': {text!r} is not {what}")
        return math.nan
    return value


def _is_float(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def _number(text: str) -> float | None:
    try:
        value = float(text)
    except ValueError:
        return None
    return value if math.isfinite(value) else None


def _check_header(
    header: list[str], columns: Mapping[str, str], target: str, task: str, name: str
) -> None:
    duplicates = sorted({c for c in header if header.count(c) > 1})
    if duplicates:
        raise DataError(f"edge-case file repeats the column(s) {_names(duplicates)}", where=name)
    if "" in header:
        raise DataError("edge-case file has a column without a name", where=name)
    optional = set(OPTIONAL_COLUMNS) | ({TOLERANCE_COLUMN} if task == "regression" else set())
    required = [*columns, target]
    missing = [c for c in required if c not in header]
    extra = [c for c in header if c not in required and c not in optional]
    if missing or extra:
        raise DataError(
            "edge-case file has " + " and ".join(column_mismatch(missing, extra)),
            where=name,
            hint=(
                f"expected the feature columns and '{target}', optionally "
                f"{_names(sorted(optional))}; dropped columns do not belong in it"
            ),
        )


def _names(items: Sequence[str]) -> str:
    return ", ".join(f"'{item}'" for item in items)


def default_tolerance(target: Any) -> float:
    """DEFAULT_TOLERANCE_FRACTION × the target's standard deviation (regression cases)."""
    import numpy as np

    values = np.asarray(target, dtype=float)
    values = values[np.isfinite(values)]
    spread = float(np.std(values)) if len(values) > 1 else 0.0
    return DEFAULT_TOLERANCE_FRACTION * spread if spread > 0 else 1e-9


def run_cases(
    model: Any, cases: EdgeCaseSet, *, task: str, tolerance: float = 1e-9
) -> dict[str, Any]:
    """Score one fitted pipeline on the cases: n_cases, n_passed, must_pass_failed, failures.

    The whole set is predicted at once; if that raises, each row is predicted alone so one bad
    row is a failure of that case, not of the run.
    """
    frame = cases.frame()
    predictions: list[Any]
    errors: list[str | None]
    try:
        predictions = list(model.predict(frame))
        errors = [None] * len(predictions)
        if len(predictions) != len(cases):
            raise ValueError(f"predict returned {len(predictions)} values for {len(cases)} rows")
    except Exception:  # a user model may raise anything: fall back to one row at a time
        predictions, errors = [], []
        for i in range(len(cases)):
            try:
                predictions.append(model.predict(frame.iloc[[i]])[0])
                errors.append(None)
            except Exception as exc:  # the row's failure is the finding, not a crash
                predictions.append(None)
                errors.append(f"{type(exc).__name__}: {exc}"[:300])
    failures = []
    must_pass_failed = 0
    for i, (pred, error) in enumerate(zip(predictions, errors, strict=True)):
        expected = cases.expected[i]
        if error is None:
            if task == "regression":
                value = _as_float(pred)
                limit = cases.tolerances[i] if cases.tolerances[i] is not None else tolerance
                passed = value is not None and abs(value - expected) <= limit
                shown: Any = value if value is not None else str(pred)
            else:
                shown = str(pred)
                passed = shown == expected
            if passed:
                continue
        failure: dict[str, Any] = {
            "case": cases.cases[i],
            "expected": expected,
            "predicted": "(error)" if error is not None else shown,
            "severity": cases.severities[i],
        }
        if error is not None:
            failure["error"] = error
        failures.append(failure)
        if cases.severities[i] == "must-pass":
            must_pass_failed += 1
    return {
        "n_cases": len(cases),
        "n_passed": len(cases) - len(failures),
        "must_pass_failed": must_pass_failed,
        "failures": failures,
    }


def _as_float(value: Any) -> float | None:
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return number if math.isfinite(number) else None


def edge_cases_for_dataset(
    path: Path, dataset: Any, *, display_name: str | None = None
) -> EdgeCaseSet:
    """``load_edge_cases`` with the columns, target and classes taken from a loaded Dataset."""
    classes = [str(c) for c in dataset.classes] if getattr(dataset, "classes", None) else None
    return load_edge_cases(
        path,
        columns=feature_kinds(dataset.frame),
        target=str(getattr(dataset, "target_name", "") or dataset.target.name),
        task=dataset.task,
        classes=classes if dataset.task == "classification" else None,
        display_name=display_name,
    )


def _text(value: Any) -> str:
    return value if isinstance(value, str) else ""


def latest_edge_results(
    root: Path, *, problems: list[str] | None = None
) -> dict[str, dict[str, Any]]:
    """snapshot id -> its result in the newest ``edge_runs/`` record (fast path: stdlib only).

    Each result carries ``run_id``, ``created_at`` and ``file_sha256`` of its run. Run ids sort
    by time, so later files win; files that cannot be read are skipped (the runs are an
    addition to the snapshots, never the only record) and named in ``problems`` when given.
    """
    from modelsnap.core.errors import ModelsnapError
    from modelsnap.core.files import EDGE_RUN_LIMIT, read_toml

    directory = Path(root) / EDGE_RUNS_DIR
    if not directory.is_dir():
        return {}
    latest: dict[str, dict[str, Any]] = {}
    for path in sorted(directory.glob("*.toml")):
        if path.name.startswith("."):
            continue
        try:
            record = read_toml(path, what="edge run", limit=EDGE_RUN_LIMIT)
        except ModelsnapError as exc:
            if problems is not None:
                problems.append(f"{EDGE_RUNS_DIR}/{path.name}: {exc.message}")
            continue
        results = record.get("result")
        if not isinstance(results, list):
            continue
        for result in results:
            if not isinstance(result, dict) or not isinstance(result.get("snapshot_id"), str):
                continue
            entry = dict(result)
            entry["run_id"] = _text(record.get("id")) or path.stem
            entry["created_at"] = _text(record.get("created_at"))
            entry["file_sha256"] = _text(record.get("file_sha256"))
            latest[result["snapshot_id"]] = entry
    return latest


def new_run_id(now: Any = None) -> str:
    """``<UTC yyyymmddTHHMMSS>-edge-<4 hex>``: sorts by time like snapshot ids."""
    import secrets
    from datetime import UTC, datetime

    moment = now or datetime.now(UTC)
    return f"{moment.strftime('%Y%m%dT%H%M%S')}-edge-{secrets.token_hex(2)}"


def artifact_entry(snapshot: Mapping[str, Any]) -> dict[str, Any]:
    """What the worker needs to load a snapshot's artifact; a SnapshotError when it records none."""
    from modelsnap.core.errors import SnapshotError

    model = snapshot.get("model")
    model = model if isinstance(model, dict) else {}
    artifact, digest = model.get("artifact"), model.get("artifact_sha256")
    if not isinstance(artifact, str) or not isinstance(digest, str):
        raise SnapshotError(
            "the snapshot records no model artifact",
            where=f"snapshots/{snapshot.get('id', '?')}.toml",
        )
    return {"id": snapshot["id"], "artifact": artifact, "artifact_sha256": digest}


def create_edge_run(root: Path, relative: str, data: bytes) -> bool:
    """Create the edge-run file exclusively and seal it in ``ledger.toml``; False when taken."""
    from modelsnap.core.records.ledger import create_sealed

    return create_sealed(root, "edge_run", relative, data)
