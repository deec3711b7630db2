"""The typed records (records/schema.py) say what the validator and summary_row say.

mypy trusts the TypedDicts; these tests hold them to the run-time truth: a key the Snapshot type
calls required is one validate_snapshot refuses to miss, a key it calls optional may be missing,
and IndexRow names exactly the fields summary_row writes.
"""

from __future__ import annotations

import copy
import subprocess
import sys
import tomllib
import typing
from pathlib import Path

import pytest

from modelsnap.core.records.index import summary_row
from modelsnap.core.records.schema import validate_snapshot
from modelsnap.core.records.shapes import (
    IndexConstraints,
    IndexRow,
    Snapshot,
    SnapshotData,
    SnapshotMetrics,
    SnapshotModel,
    SnapshotPredictions,
    SnapshotResources,
)

SAMPLE = Path(__file__).resolve().parents[2] / "sample_project"
TABLES = {
    "model": SnapshotModel,
    "data": SnapshotData,
    "metrics": SnapshotMetrics,
    "predictions": SnapshotPredictions,
    "resources": SnapshotResources,
}


def _keys(typed: type) -> tuple[set[str], set[str]]:
    """(required, optional) keys, read from the annotations (``from __future__ import
    annotations`` leaves ``__required_keys__`` unreliable on Python 3.11)."""
    hints = typing.get_type_hints(typed, include_extras=True)
    total = getattr(typed, "__total__", True)
    required, optional = set(), set()
    for name, hint in hints.items():
        origin = typing.get_origin(hint)
        if origin is typing.NotRequired or (not total and origin is not typing.Required):
            optional.add(name)
        else:
            required.add(name)
    return required, optional


def _sample() -> dict:
    path = sorted((SAMPLE / "snapshots").glob("*.toml"))[-1]
    snapshot = tomllib.loads(path.read_text("utf-8"))
    assert validate_snapshot(snapshot) == []
    return snapshot


def test_the_typed_snapshot_reads_its_keys() -> None:
    required, optional = _keys(Snapshot)
    assert {"id", "name", "kind", "model", "metrics"} <= required
    assert {"reprofile_of", "gain", "constraints"} <= optional
    assert _keys(SnapshotResources)[0] == {"fit_seconds"}


@pytest.mark.parametrize("table", [None, *TABLES])
def test_every_required_key_is_one_the_validator_refuses_to_miss(table: str | None) -> None:
    snapshot = _sample()
    required, _ = _keys(Snapshot if table is None else TABLES[table])
    for key in sorted(required):
        broken = copy.deepcopy(snapshot)
        del (broken if table is None else broken[table])[key]
        assert validate_snapshot(broken) != [], f"{table or 'snapshot'}.{key} may be missing"


@pytest.mark.parametrize("table", [None, *TABLES])
def test_every_optional_key_may_be_missing(table: str | None) -> None:
    snapshot = _sample()
    _, optional = _keys(Snapshot if table is None else TABLES[table])
    for key in sorted(optional):
        trimmed = copy.deepcopy(snapshot)
        (trimmed if table is None else trimmed[table]).pop(key, None)
        assert validate_snapshot(trimmed) == [], f"{table or 'snapshot'}.{key} is required"


def test_index_row_names_exactly_what_summary_row_writes() -> None:
    row = summary_row(_sample())
    assert set(row) == set(typing.get_type_hints(IndexRow))
    assert set(row["constraints"]) == set(typing.get_type_hints(IndexConstraints))


def test_the_fast_path_does_not_load_the_typed_records() -> None:
    # Imported for the type checker only: reading snapshots and ranking never define them.
    code = (
        "import sys, modelsnap.core.records.store, modelsnap.core.records.index, "
        "modelsnap.core.selection.context, modelsnap.profiler.jobs\n"
        "print('modelsnap.core.records.shapes' in sys.modules)"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "False"
