"""Monitor a decision: hold the chosen model to what its snapshot promised, on new labelled data.

``modelsnap monitor DIR --data new.csv`` (and ``monitor`` here, which the CLI and the Python API
call) takes the decision (the latest, or ``--decision D0001``), its snapshot and model, and new
labelled data with the project's columns, and answers three questions:

1. **Performance.** Each metric of the snapshot's test split, recomputed on the new data by the
   model, in the worker process, with the same metric code (``metrics.compute_metrics``), is
   placed against the snapshot's test figure and its 95 % bootstrap interval
   (``metrics.test_ci``): ``inside``, ``below`` or ``above``, and by how much. A metric outside
   its interval on the worse side (below for accuracy-like metrics, above for losses and errors)
   whose distance from the test figure is more than the two figures' sampling noise (both 95 %
   intervals' half-widths combined) means *degraded*; one that is outside but within that noise
   is a note to watch (``compare_metric``).
2. **Input drift.** Per feature, against the rows of the training split (``split.npz`` plus the
   data file): the population stability index for numeric columns, over ten bins cut at the
   training values' deciles (plus one bin for missing values); the change in each category's
   share for categorical ones; and label shift (class shares, or the target's PSI for
   regression). The thresholds are ``[monitoring]`` in modelsnap.toml (``MonitoringConfig``).
3. **Limits** (``profile_latency``): the model's single-row p95 latency re-measured on this
   machine, on rows of the new data, against ``max_latency_p95_ms`` of the decision's criteria
   revision.

Verdict: ``degraded`` (a metric worse than its interval beyond the sampling noise, or the
latency over its limit), else
``drifted`` (a feature or the label moved past a threshold), else ``holds``. The outcome is
recorded in ``monitoring/<timestamp>-<4 hex>.toml``: created exclusively, sealed in
``ledger.toml`` (``modelsnap check`` verifies it), never rewritten (docs/snapshot-format.md).

Fast path: ``monitoring_history`` (review, the report) reads records with the standard library;
pandas and numpy are imported inside the functions that compute figures.
"""

from __future__ import annotations

import math
import secrets
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from modelsnap.core.errors import DataError, ModelsnapError
from modelsnap.core.text import column_mismatch

MONITORING_DIR = "monitoring"
VERDICTS = ("holds", "degraded", "drifted")
EXIT_CODES = {"holds": 0, "degraded": 1, "drifted": 1}
PSI_BINS = 10
PSI_FLOOR = 1e-4  # a bin empty on one side counts as this share, so the PSI stays finite
MISSING = "(missing)"
NEXT_STEP = (
    "re-run the checklist on the new data: add it to (or replace) the data file, which makes a "
    "new split, then run the baseline and the candidates again, check the edge cases, rank and "
    "decide; the new decision is compared on the new data"
)


class MonitorError(ModelsnapError):
    """Monitoring cannot run as asked: no decision yet, an unknown decision id (exit code 2)."""

    exit_code = 2


def labels_as_text(target: Any) -> Any:
    """Class labels as the snapshots store them (``data._labels_as_strings``)."""
    from modelsnap.core.evaluation.data import _labels_as_strings

    return _labels_as_strings(target)


# ------------------------------------------------------------------------------ the decision


def pick_decision(root: Path, decision_id: str | None) -> dict[str, Any]:
    """The decision to hold: ``decision_id`` or the latest. MonitorError when there is none."""
    from modelsnap.core.records.decision_log import read_decisions

    entries = read_decisions(root)
    if not entries:
        raise MonitorError(
            "no decision yet: monitoring holds a decided model to its snapshot",
            where=str(Path(root) / "decisions.toml"),
            hint=f'decide first: modelsnap decide {root} ID --rationale "..."',
        )
    if decision_id is None:
        return entries[-1]
    for entry in entries:
        if str(entry.get("id", "")).upper() == decision_id.strip().upper():
            return entry
    known = ", ".join(str(e.get("id")) for e in entries)
    raise MonitorError(
        f"unknown decision {decision_id!r}",
        where=str(Path(root) / "decisions.toml"),
        hint=f"decisions in this folder: {known}",
    )


def decision_limits(root: Path, decision: Mapping[str, Any]) -> tuple[int | None, dict[str, Any]]:
    """The criteria revision the decision was made under and its constraints (the revision's
    record when it is still there, else what the decision recorded)."""
    from modelsnap.core.selection.criteria import revisions

    number = decision.get("criteria_revision")
    for item in revisions(root):
        if item.get("revision") == number and isinstance(item.get("constraints"), dict):
            return number, dict(item["constraints"])
    constraints = decision.get("constraints")
    return number, dict(constraints) if isinstance(constraints, dict) else {}


# ------------------------------------------------------------------------------ the new data


def check_new_data(
    frame: Any,
    *,
    columns: Mapping[str, str],
    target: str,
    task: str,
    classes: Sequence[str] | None,
    drop: Sequence[str],
    label: str,
    min_rows: int,
) -> Any:
    """DataError for new data that cannot be held to the snapshot: columns that don't match
    (missing, unknown, numeric ones holding text), the target missing or with empty cells or
    classes the model never saw, too few rows. Returns the target as used (labels as text)."""
    import pandas as pd

    present = [str(c) for c in frame.columns]
    if target not in present:
        raise DataError(
            f"the target column {target!r} is missing from the new data: "
            "monitoring needs labelled rows",
            where=label,
            hint=f"add the true '{target}' of each row (the outcome observed later)",
        )
    missing = [c for c in columns if c not in present]
    unknown = [c for c in present if c not in columns and c != target and c not in drop]
    if missing or unknown:
        raise DataError(
            "the new data's columns don't match the project's: "
            + " and ".join(column_mismatch(missing, unknown)),
            where=label,
            hint=f"the new data needs the columns {', '.join(columns)} and "
            f"'{target}', as in the project's data file",
        )
    wrong = []
    for column, kind in columns.items():
        series = frame[column]
        if kind == "numeric" and not (
            pd.api.types.is_numeric_dtype(series) and not pd.api.types.is_bool_dtype(series)
        ):
            bad = next((v for v in series.dropna() if _not_number(v)), None)
            wrong.append(f"{column!r} (e.g. {str(bad)[:40]!r})")
    if wrong:
        raise DataError(
            f"numeric column(s) hold values that are not numbers: {', '.join(wrong)}",
            where=label,
            hint="fix those cells; leave a cell empty for a missing value",
        )
    if len(frame) < min_rows:
        raise DataError(
            f"the new data has {len(frame)} row(s); every figure (the metrics, the "
            f"drift of each feature, the label shift) needs at least {min_rows}",
            where=label,
            hint="collect more labelled rows, or lower [monitoring].min_rows in "
            "modelsnap.toml (small samples give noisy figures)",
        )
    values = frame[target]
    empty = int(values.isna().sum())
    if empty:
        raise DataError(
            f"the target column {target!r} has {empty} empty cell(s)",
            where=label,
            hint="monitoring needs the true outcome of every row; drop the rows without one",
        )
    if task == "classification":
        values = labels_as_text(values)
        unseen = sorted(set(values) - {str(c) for c in classes or []})
        if unseen:
            raise DataError(
                f"the target column {target!r} holds class(es) the model never saw: "
                f"{', '.join(map(repr, unseen[:5]))}",
                where=label,
                hint=f"the snapshot's classes: {', '.join(map(str, classes or []))}",
            )
    else:
        values = pd.to_numeric(values, errors="coerce")
        if values.isna().any():
            raise DataError(
                f"the target column {target!r} holds values that are not numbers", where=label
            )
    for column in columns:
        if frame[column].isna().all():
            raise DataError(
                f"column {column!r} is empty in every row of the new data: its drift "
                "cannot be measured",
                where=label,
                hint="fill the column, or check that the right file was given",
            )
    return values


def _not_number(value: Any) -> bool:
    try:
        float(value)
    except (TypeError, ValueError):
        return True
    return False


# ------------------------------------------------------------------------------ drift


def psi(reference: Any, current: Any, *, bins: int = PSI_BINS) -> tuple[float, list[float]]:
    """Population stability index of ``current`` against ``reference`` (numeric arrays, NaN =
    missing): bins ``(-inf, e1], (e1, e2], ..., (e9, inf)`` cut at the reference's deciles
    (duplicates merged), plus a bin for missing values when either side has one.
    Returns (psi, inner edges)."""
    import numpy as np

    ref = np.asarray(reference, dtype=float)
    cur = np.asarray(current, dtype=float)
    ref_ok, cur_ok = ref[~np.isnan(ref)], cur[~np.isnan(cur)]
    edges = np.unique(np.quantile(ref_ok, np.linspace(0, 1, bins + 1)[1:-1]))

    def shares(values: Any, finite: Any) -> Any:
        counts = np.bincount(
            np.searchsorted(edges, finite, side="left"), minlength=len(edges) + 1
        ).astype(float)
        return np.append(counts, len(values) - len(finite)) / len(values)

    p, q = shares(ref, ref_ok), shares(cur, cur_ok)
    p, q = np.maximum(p, PSI_FLOOR), np.maximum(q, PSI_FLOOR)
    value = float(np.sum((q - p) * np.log(q / p)))
    return value, [float(e) for e in edges]


def category_shares(values: Any) -> dict[str, float]:
    counts: dict[str, int] = {}
    for value in values:
        key = (
            MISSING
            if value is None or (isinstance(value, float) and math.isnan(value))
            else str(value)
        )
        counts[key] = counts.get(key, 0) + 1
    total = sum(counts.values()) or 1
    return {key: counts[key] / total for key in sorted(counts)}


def share_changes(reference: Any, current: Any) -> dict[str, Any]:
    """Each category's share before and now, the largest absolute change and its category."""
    before, now = category_shares(reference), category_shares(current)
    changes = {
        key: now.get(key, 0.0) - before.get(key, 0.0) for key in sorted(set(before) | set(now))
    }
    top = max(changes, key=lambda k: (abs(changes[k]), k)) if changes else ""
    return {
        "shares_train": {k: round(v, 6) for k, v in before.items()},
        "shares_new": {k: round(v, 6) for k, v in now.items()},
        "max_change": round(abs(changes.get(top, 0.0)), 6),
        "category": top,
        "change": round(changes.get(top, 0.0), 6),
        "new_categories": sorted(set(now) - set(before)),
    }


def input_drift(
    train: Any, new: Any, columns: Mapping[str, str], thresholds: Any
) -> list[dict[str, Any]]:
    """One entry per feature: its kind, figure, status (stable / watch / drift) and meaning."""
    out = []
    for column, kind in columns.items():
        if kind == "numeric":
            value, _ = psi(train[column].to_numpy(dtype=float), new[column].to_numpy(dtype=float))
            status = (
                "drift"
                if value >= thresholds.psi_drift
                else "watch"
                if value >= thresholds.psi_watch
                else "stable"
            )
            out.append(
                {
                    "feature": column,
                    "kind": "numeric",
                    "psi": round(value, 6),
                    "mean_train": round(float(train[column].mean()), 6),
                    "mean_new": round(float(new[column].mean()), 6),
                    "status": status,
                }
            )
        else:
            entry = share_changes(train[column].tolist(), new[column].tolist())
            status = (
                "drift"
                if entry["max_change"] >= thresholds.share_change
                else ("watch" if entry["new_categories"] else "stable")
            )
            out.append({"feature": column, "kind": "categorical", **entry, "status": status})
    return out


def label_shift(train_target: Any, new_target: Any, task: str, thresholds: Any) -> dict[str, Any]:
    if task == "classification":
        entry = share_changes(list(train_target), list(new_target))
        entry.pop("new_categories", None)
        status = "drift" if entry["max_change"] >= thresholds.label_shift else "stable"
        return {"kind": "class shares", **entry, "status": status}
    value, _ = psi(train_target, new_target)
    status = (
        "drift"
        if value >= thresholds.psi_drift
        else "watch"
        if value >= thresholds.psi_watch
        else "stable"
    )
    return {"kind": "target psi", "psi": round(value, 6), "status": status}


# ------------------------------------------------------------------------------ performance


def _half_width(interval: Sequence[float] | None) -> float | None:
    if (
        interval is None
        or len(interval) != 2
        or not all(isinstance(v, (int, float)) and math.isfinite(v) for v in interval)
    ):
        return None
    return (float(interval[1]) - float(interval[0])) / 2.0


def compare_metric(
    name: str,
    now: float,
    test: float,
    interval: Sequence[float] | None,
    new_interval: Sequence[float] | None = None,
) -> dict[str, Any]:
    """One metric against the snapshot's test figure and 95 % interval.

    ``status`` says where the new figure lies against the snapshot's interval (inside, below,
    above) and ``by`` how far outside it; ``worse`` is outside on the worse side (below for a
    metric where higher is better, above for a loss or an error). ``degraded`` asks more: the
    difference from the test figure is worse than both figures' sampling noise allows (95 %,
    the two intervals' half-widths combined as independent errors, ``margin``), so a small
    batch that lands just outside by chance is not called degraded."""
    from modelsnap.core.measures import MEASURE_DIRECTIONS

    direction = MEASURE_DIRECTIONS.get(name, "max")
    entry: dict[str, Any] = {
        "metric": name,
        "direction": direction,
        "new": round(now, 6),
        "test": round(float(test), 6),
        "difference": round(now - test, 6),
    }
    test_half, new_half = _half_width(interval), _half_width(new_interval)
    if new_half is not None and new_interval is not None:
        entry["new_ci"] = [round(float(new_interval[0]), 6), round(float(new_interval[1]), 6)]
    if interval is None or test_half is None:
        entry.update(status="no interval", by=0.0, worse=False, degraded=False)
        return entry
    low, high = float(interval[0]), float(interval[1])
    entry["test_ci"] = [round(low, 6), round(high, 6)]
    if now < low:
        entry.update(status="below", by=round(low - now, 6), worse=direction == "max")
    elif now > high:
        entry.update(status="above", by=round(now - high, 6), worse=direction == "min")
    else:
        entry.update(status="inside", by=0.0, worse=False)
    margin = math.hypot(test_half, new_half or 0.0)
    loss = (test - now) if direction == "max" else (now - test)
    entry["margin"] = round(margin, 6)
    entry["degraded"] = bool(entry["worse"] and loss > margin)
    return entry


# ------------------------------------------------------------------------------ the job


def data_label(root: Path, path: Path) -> str:
    try:
        return str(path.resolve().relative_to(Path(root).resolve()))
    except ValueError:
        return str(path.resolve())


def new_record_id(now: datetime | None = None) -> str:
    """``<UTC yyyymmddTHHMMSS>-<4 hex>``: sorts by time."""
    moment = now or datetime.now(UTC)
    return f"{moment.strftime('%Y%m%dT%H%M%S')}-{secrets.token_hex(2)}"


def drift_reason(entry: Mapping[str, Any]) -> str:
    if entry["kind"] == "numeric":
        return (
            f"{entry['feature']} drifted: PSI {entry['psi']:.3g} (mean "
            f"{entry['mean_train']:.4g} -> {entry['mean_new']:.4g})"
        )
    return (
        f"{entry['feature']} drifted: the share of {entry['category']!r} moved "
        f"{entry['change']:+.3f} ({entry['shares_train'].get(entry['category'], 0.0):.3f} -> "
        f"{entry['shares_new'].get(entry['category'], 0.0):.3f})"
    )


def label_reason(entry: Mapping[str, Any]) -> str:
    if entry["kind"] == "target psi":
        return f"the label shifted: the target's PSI is {entry['psi']:.3g}"
    return (
        f"the label shifted: the share of class {entry['category']!r} moved {entry['change']:+.3f}"
    )


def write_record(root: Path, body: dict[str, Any]) -> dict[str, Any]:
    from modelsnap.core.files import dumps_toml
    from modelsnap.core.records.ledger import create_sealed

    for _attempt in range(64):
        record_id = new_record_id()
        full = {"schema": 1, "id": record_id, **{k: v for k, v in body.items() if k != "schema"}}
        relative = f"{MONITORING_DIR}/{record_id}.toml"
        if create_sealed(root, "monitoring", relative, dumps_toml(full)):
            return {**full, "path": relative}
    raise DataError(
        "could not pick a free monitoring record name", where=str(Path(root) / MONITORING_DIR)
    )


# ------------------------------------------------------------------------------ reading records


def monitoring_history(root: Path | str) -> tuple[dict[str, list[dict[str, Any]]], list[str]]:
    """Every monitoring record's summary by decision id, oldest first, and the files that
    could not be read (named, never raised). Standard library only (review's fast path)."""
    from modelsnap.core.files import EDGE_RUN_LIMIT, is_tmp_name, read_toml

    folder = Path(root) / MONITORING_DIR
    history: dict[str, list[dict[str, Any]]] = {}
    problems: list[str] = []
    if not folder.is_dir():
        return history, problems
    for path in sorted(folder.glob("*.toml")):
        if path.name.startswith(".") or is_tmp_name(path.name):
            continue
        try:
            data = read_toml(path, what="monitoring record", limit=EDGE_RUN_LIMIT)
        except (ModelsnapError, OSError, RecursionError) as exc:
            problems.append(f"{MONITORING_DIR}/{path.name}: {getattr(exc, 'message', exc)}")
            continue
        verdict, decision = data.get("verdict"), data.get("decision_id")
        if verdict not in VERDICTS or not isinstance(decision, str):
            problems.append(f"{MONITORING_DIR}/{path.name}: not a monitoring record")
            continue
        data_table = data.get("data")
        data_table = data_table if isinstance(data_table, dict) else {}
        history.setdefault(decision, []).append(
            {
                "id": str(data.get("id", path.stem)),
                "path": f"{MONITORING_DIR}/{path.name}",
                "created_at": str(data.get("created_at", "")),
                "verdict": verdict,
                "snapshot_id": str(data.get("snapshot_id", "")),
                "data_file": str(data_table.get("file", "")),
                "n_rows": data_table.get("n_rows", 0),
                "reasons": [str(r) for r in data.get("reasons", []) if isinstance(r, str)],
            }
        )
    for entries in history.values():
        entries.sort(key=lambda e: (e["created_at"], e["id"]))
    return history, problems
