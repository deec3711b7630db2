"""The difference between two snapshots, key by key (``review``'s diff view; usable by ``diff``).

Snapshots are nested TOML tables; comparing them as flat dotted keys ("resources.latency_p95_ms",
"model.params.max_depth") gives one line per fact, which reads well in a narrow terminal and
makes "only what differs" a simple filter. Arrays of tables (top features, fairness groups,
edge-case failures) compare as whole values: their order is meaningful.

Fast path: standard library only.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

MISSING: Any = type("Missing", (), {"__repr__": lambda self: "<absent>"})()

# Keys that always differ between two snapshots and say nothing about the models.
IDENTITY_KEYS = frozenset(
    {
        "id",
        "created_at",
        "model.artifact",
        "model.artifact_sha256",
        "predictions.path",
        "predictions.sha256",
    }
)


@dataclass(frozen=True)
class DiffLine:
    key: str
    left: Any
    right: Any

    @property
    def same(self) -> bool:
        return _equal(self.left, self.right)

    @property
    def relative_change(self) -> float | None:
        """(right - left) / |left| for two numbers, else None: how big a change is, at a glance."""
        if _is_number(self.left) and _is_number(self.right) and self.left != 0:
            return (self.right - self.left) / abs(self.left)
        return None


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def _equal(left: Any, right: Any) -> bool:
    if _is_number(left) and _is_number(right):
        return float(left) == float(right)
    return left == right


def flatten(table: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    """Nested tables -> {"a.b.c": value}; arrays (also arrays of tables) stay whole values."""
    flat: dict[str, Any] = {}
    for key, value in table.items():
        name = f"{prefix}{key}"
        if isinstance(value, Mapping) and value:
            flat.update(flatten(value, f"{name}."))
        else:
            flat[name] = value
    return flat


def diff_snapshots(
    left: Mapping[str, Any],
    right: Mapping[str, Any],
    *,
    show_all: bool = False,
    include_identity: bool = False,
) -> list[DiffLine]:
    """One line per key of either snapshot, in document order (left's keys first).

    By default only keys whose values differ, without the identity keys that always differ
    (ids, timestamps, artifact hashes); ``show_all`` keeps equal keys too.
    """
    flat_left, flat_right = flatten(left), flatten(right)
    keys = list(flat_left) + [key for key in flat_right if key not in flat_left]
    lines = []
    for key in keys:
        if key in IDENTITY_KEYS and not include_identity and not show_all:
            continue
        line = DiffLine(key, flat_left.get(key, MISSING), flat_right.get(key, MISSING))
        if show_all or not line.same:
            lines.append(line)
    return lines


def comparability_notes(left: Mapping[str, Any], right: Mapping[str, Any]) -> list[str]:
    """Why a difference may not be about the models: other data, split, hardware, criteria or
    library versions (the guide's pitfalls 1 and "environment drift")."""
    flat_left, flat_right = flatten(left), flatten(right)
    notes = []
    for key, what in (
        ("data.dataset_sha256", "not comparable: the data set differs"),
        ("data.split_sha256", "not comparable: the split differs"),
        (
            "hardware.fingerprint",
            "measured on different hardware: latency and memory deltas "
            "are not about the models alone",
        ),
        ("criteria_revision", "judged under different criteria revisions"),
        ("environment.packages.scikit-learn", "different scikit-learn versions"),
        ("environment.python", "different Python versions"),
    ):
        if flat_left.get(key, MISSING) != flat_right.get(key, MISSING):
            notes.append(what)
    return notes
