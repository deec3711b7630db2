"""The optional ``[origin]`` table of a snapshot (a model imported from MLflow): accepted by the
store's validator and so by ``check``, checked when present, never required."""

from __future__ import annotations

from pathlib import Path

import pytest

from modelsnap.core.errors import SnapshotError
from modelsnap.core.records.store import list_snapshots, validate_snapshot, write_snapshot

ORIGIN = {
    "tool": "mlflow",
    "tracking_uri": "sqlite:////tmp/mlflow.db",
    "run_id": "5f0c9a0b1c2d4e5f",
    "model_uri": "models:/m-2196a96f",
    "experiment_id": "1",
    "run_name": "forest",
    "model_id": "m-2196a96f",
    "artifact_path": "model",
    "format": "skops",
}


def test_a_snapshot_with_an_origin_is_written_and_read_back(
    tmp_path: Path, make_body, make_staged
) -> None:
    body = make_body(origin=dict(ORIGIN))
    body["model"]["source"] = "python"
    snapshot_id = write_snapshot(tmp_path, body, staged_files=make_staged(tmp_path))
    snapshots, problems = list_snapshots(tmp_path)
    assert problems == []
    assert [s["id"] for s in snapshots] == [snapshot_id]
    assert snapshots[0]["origin"] == ORIGIN


def test_snapshots_without_an_origin_stay_valid(make_body) -> None:
    body = make_body(id="20261126T061502-random_forest-3f9a")
    body["model"].update(artifact="models/x.skops", artifact_sha256="c" * 64, size_bytes=1)
    body["predictions"] = {"path": "predictions/x.npz", "sha256": "d" * 64}
    assert validate_snapshot(body) == []


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        ({"tool": "wandb"}, "origin.tool: found 'wandb', expected one of mlflow"),
        ({"run_id": None}, "origin.run_id: missing"),
        ({"tracking_uri": 3}, "origin.tracking_uri: found 3, expected string"),
        ({"format": ["skops"]}, "origin.format: found array, expected string"),
    ],
)
def test_a_bad_origin_is_named(tmp_path: Path, make_body, make_staged, change, expected) -> None:
    origin = {k: v for k, v in {**ORIGIN, **change}.items() if v is not None}
    with pytest.raises(SnapshotError) as caught:
        write_snapshot(tmp_path, make_body(origin=origin), staged_files=make_staged(tmp_path))
    assert expected in str(caught.value)
    assert list_snapshots(tmp_path) == ([], [])


def test_an_origin_that_is_not_a_table_is_named(make_body) -> None:
    problems = validate_snapshot(make_body(origin="mlflow"))
    assert any("origin: found string, expected a table" in p for p in problems)
