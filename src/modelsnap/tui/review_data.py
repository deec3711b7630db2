"""Review mode's data: the rows of a snapshot folder, how they compare, and their columns.

Read-only: rows come from the index cache checked against the files
(``index.load_rows(write_back=False)``, which writes nothing in the folder) and the selection
context; no artifact is opened, so it is safe on a folder copied from someone else. The
screens (``screens/review.py`` and ``screens/review_views.py``) show it; neither imports the
other for it.
"""

from __future__ import annotations

import functools
import re
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from modelsnap.core.errors import ModelsnapError
from modelsnap.tui.widgets.formatting import num
from modelsnap.tui.widgets.review_table import Column, Row


@dataclass
class ReviewData:
    """What the review screens show, loaded once before the app starts (nothing is written)."""

    root: Path
    rows: list[Row]
    problems: list[Any]
    config: Any | None = None
    config_error: str | None = None
    primary: str = "f1"
    reference: dict[str, str | None] = field(default_factory=dict)
    context: Any | None = None  # core.selection.context.SelectionContext when modelsnap.toml loads

    @classmethod
    def load(cls, root: Path, progress: Callable[[int, int], None] | None = None) -> ReviewData:
        """The folder as the ranking sees it (``core.selection.context``, nothing written in
        the folder); when the project file does not load, the snapshot rows alone, with the
        reason kept. ``progress(done, total)`` hears how far the parsing of files no index row
        stands for is (``index.load_rows``)."""
        from modelsnap.core.selection.context import load_context

        root = Path(root)
        context, config_error = None, None
        try:
            context = load_context(root, write_index=False, progress=progress)
        except ModelsnapError as error:
            config_error = str(error)
        if context is not None:
            rows, problems, config = context.rows, list(context.problems), context.config
        else:
            from modelsnap.core.records.index import load_rows

            rows, problems = load_rows(root, write_back=False, progress=progress)
            config = None
        data = cls(root, [], problems, config, config_error, context=context)
        data.primary = config.primary_metric if config is not None else _common_primary(rows)
        data.reference = comparability_reference(rows, context)
        data.rows = [annotate(row, data.reference) for row in rows]
        return data


def _common_primary(rows: list[Row]) -> str:
    named = Counter(r.get("primary_metric") for r in rows if r.get("primary_metric"))
    if named:
        return named.most_common(1)[0][0]
    return "r2" if any(r.get("task") == "regression" for r in rows) else "f1"


def comparability_reference(rows: list[Row], context: Any = None) -> dict[str, str | None]:
    """The hashes a snapshot must share to be compared: the project's current data set and
    split (the newest snapshot's when unknown, as the ranking takes them), and the baseline's
    hardware (else the most common)."""
    if not rows:
        return {"dataset_sha256": None, "split_sha256": None, "hardware_fingerprint": None}
    newest = max(rows, key=lambda r: (r.get("created_at") or "", r["id"]))
    hashes = getattr(context, "hashes", None)
    dataset = getattr(hashes, "dataset_sha256", None) or newest.get("dataset_sha256")
    split = getattr(hashes, "split_sha256", None) or newest.get("split_sha256")
    baseline = context.baseline if context is not None else None
    if baseline is None:
        from modelsnap.core.selection.ranking import current_baseline

        baseline = current_baseline([r for r in rows if r.get("hardware_fingerprint")])
    if baseline is not None and baseline.get("hardware_fingerprint"):
        hardware = baseline["hardware_fingerprint"]
    else:
        counts = Counter(
            r.get("hardware_fingerprint") for r in rows if r.get("hardware_fingerprint")
        )
        hardware = counts.most_common(1)[0][0] if counts else None
    return {"dataset_sha256": dataset, "split_sha256": split, "hardware_fingerprint": hardware}


def annotate(row: Row, reference: dict[str, str | None]) -> Row:
    """Add the view-only fields the table shows (``_``-prefixed; never written anywhere).

    In place: the rows were just parsed for this view, and copying 10,000 dicts costs more
    than the rest of the annotation.
    """
    differs = []
    if row.get("dataset_sha256") != reference.get("dataset_sha256"):
        differs.append("data≠")
    if row.get("split_sha256") != reference.get("split_sha256"):
        differs.append("split≠")
    if reference.get("hardware_fingerprint") and row.get("hardware_fingerprint") != reference.get(
        "hardware_fingerprint"
    ):
        differs.append("hw≠")
    constraints = row.get("constraints") or {}
    ok = constraints.get("ok")
    row["_status"] = "fail" if ok is False else ("ok" if ok else "-")
    row["_comparable"] = not differs
    row["_comparability"] = " ".join(differs) or "same"
    row["_failed"] = len(constraints.get("reasons") or [])
    return row


def measure(row: Row, name: str, split: str = "validation") -> float | None:
    value = (row.get("measures") or {}).get(split, {}).get(name)
    return value if isinstance(value, int | float) else None


@functools.lru_cache(maxsize=1 << 16)  # 100,000 rows hold far fewer distinct versions
def version_key(version: str) -> tuple[tuple[int, int | str], ...]:
    """Natural order for the user's version tags: v2 before v10."""
    return tuple(
        (0, int(part)) if part.isdigit() else (1, part)
        for part in re.split(r"(\d+)", version)
        if part
    )


def columns(primary: str) -> list[Column]:
    """The table's columns: identity, the primary metric on both splits, cost, status."""

    def status_text(row: Row) -> str:
        if row["_status"] == "fail":
            return f"FAIL {row['_failed']}"
        return row["_status"]

    return [
        Column("name", "name", 16, lambda r: r["name"], lambda r: r["name"]),
        Column(
            "kind",
            "kind",
            4,
            lambda r: "base" if r["kind"] == "baseline" else "cand",
            lambda r: r["kind"],
        ),
        Column(
            "version",
            "ver",
            5,
            lambda r: r.get("version") or "",
            lambda r: version_key(r.get("version") or ""),
        ),
        Column(
            primary,
            primary[:7],
            7,
            lambda r: num(measure(r, primary)),
            lambda r: measure(r, primary),
            "right",
        ),
        Column(
            f"test_{primary}",
            "test",
            6,
            lambda r: num(measure(r, primary, "test")),
            lambda r: measure(r, primary, "test"),
            "right",
        ),
        Column(
            "latency_p95_ms",
            "p95 ms",
            7,
            lambda r: num(r.get("latency_p95_ms"), 2),
            lambda r: r.get("latency_p95_ms"),
            "right",
        ),
        Column(
            "latency_model_p95_ms",
            "model ms",
            8,
            lambda r: num(measure(r, "latency_model_p95_ms"), 2),
            lambda r: measure(r, "latency_model_p95_ms"),
            "right",
        ),
        Column(
            "size_mb",
            "MB",
            7,
            lambda r: num(r.get("size_mb"), 2),
            lambda r: r.get("size_mb"),
            "right",
        ),
        Column("status", "limits", 6, status_text, lambda r: (r["_status"], r["_failed"])),
        Column(
            "comparable",
            "compar.",
            11,
            lambda r: r["_comparability"],
            lambda r: r["_comparability"],
        ),
        Column(
            "created_at",
            "created",
            16,
            lambda r: (r.get("created_at") or "")[:16].replace("T", " "),
            lambda r: r.get("created_at"),
        ),
        Column("id", "id", 34, lambda r: r["id"], lambda r: r["id"]),
    ]


def haystack(row: Row) -> str:
    """The text the filter searches: words a reviewer types ("forest fail v3 hw≠ baseline")."""
    return " ".join(
        str(part)
        for part in (
            row["id"],
            row["name"],
            row["kind"],
            row.get("version"),
            row.get("estimator"),
            row["_status"],
            row["_comparability"],
            row.get("created_at"),
        )
    ).lower()
