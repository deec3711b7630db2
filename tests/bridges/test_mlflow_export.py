"""``modelsnap export mlflow``: the sample project's snapshots and decision, read back from a
real SQLite tracking store with ``mlflow.search_runs``."""

from __future__ import annotations

import hashlib
import json
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from modelsnap.core.records.decision_log import read_decisions
from modelsnap.core.records.store import list_snapshots

from .conftest import no_telemetry_env

mlflow = pytest.importorskip("mlflow", reason="mlflow is not installed: pip install -e '.[test]'")

from modelsnap.bridges.mlflow_export import RESOURCE_METRICS, export_mlflow  # noqa: E402


def modelsnap(*args: str, cwd: Path | None = None, code: str | None = None):
    argv = (
        [sys.executable, "-m", "modelsnap", *args]
        if code is None
        else [
            sys.executable,
            "-c",
            code,
            *args,
        ]
    )
    return subprocess.run(
        argv, capture_output=True, text=True, cwd=cwd, timeout=300, env=no_telemetry_env()
    )


def tree(root: Path) -> dict[str, str]:
    """Every file under ``root`` with its sha256: what "writes nothing" is checked against."""
    return {
        str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }


def runs_frame(uri: str, experiment: str):
    mlflow.set_tracking_uri(uri)
    return mlflow.search_runs(experiment_names=[experiment], output_format="pandas")


def test_every_metric_and_tag_matches_the_snapshot_files_and_a_second_export_adds_nothing(
    sample: Path, tracking: str
) -> None:
    before = tree(sample)
    first = export_mlflow(sample, tracking)
    assert first["experiment"] == "Credit default"
    snapshots, problems = list_snapshots(sample)
    assert problems == [] and len(snapshots) == 5
    assert sorted(r["snapshot_id"] for r in first["added"]) == sorted(s["id"] for s in snapshots)

    frame = runs_frame(tracking, "Credit default")
    assert len(frame) == 5
    by_id = {row["tags.modelsnap.snapshot_id"]: row for _, row in frame.iterrows()}
    for snapshot in snapshots:
        row = by_id[snapshot["id"]]
        assert row["status"] == "FINISHED"
        for split in ("validation", "test"):
            for name, value in snapshot["metrics"][split].items():
                assert row[f"metrics.{split}_{name}"] == pytest.approx(value, rel=0, abs=0)
        for name in RESOURCE_METRICS:
            if name in snapshot["resources"]:
                assert row[f"metrics.{name}"] == snapshot["resources"][name]
        for name, value in snapshot["model"]["params"].items():
            if not isinstance(value, dict):
                assert row[f"params.{name}"] == str(value)
        tags = {
            "name": snapshot["name"],
            "kind": snapshot["kind"],
            "version": snapshot["version"],
            "criteria_revision": str(snapshot["criteria_revision"]),
            "dataset_sha256": snapshot["data"]["dataset_sha256"],
            "split_sha256": snapshot["data"]["split_sha256"],
            "estimator": snapshot["model"]["estimator"],
            "hardware_fingerprint": snapshot["hardware"]["fingerprint"],
        }
        for key, value in tags.items():
            assert row[f"tags.modelsnap.{key}"] == value, key
        assert snapshot["hardware"]["cpu"] in row["tags.modelsnap.hardware"]
        failed = [n for n, e in snapshot.get("constraints", {}).items() if e.get("ok") is False]
        assert row["tags.modelsnap.verdict"] == ("rejected" if failed else "pass")
        for name in failed:
            assert name in row["tags.modelsnap.rejection_reasons"]
        client = mlflow.MlflowClient(tracking)
        files = {a.path for a in client.list_artifacts(row["run_id"], "modelsnap")}
        assert f"modelsnap/{snapshot['id']}.toml" in files
        assert f"modelsnap/{snapshot['id']}.skops" in files
        sent = Path(client.download_artifacts(row["run_id"], f"modelsnap/{snapshot['id']}.toml"))
        assert sent.read_bytes() == (sample / "snapshots" / f"{snapshot['id']}.toml").read_bytes()

    # the decision: its run is tagged and holds the entry
    (decision,) = read_decisions(sample)
    chosen = by_id[decision["snapshot_id"]]
    assert chosen["tags.modelsnap.decision_id"] == decision["id"]
    assert chosen["tags.modelsnap.decision_rationale"] == decision["rationale"]
    assert chosen["tags.modelsnap.decision_criteria_revision"] == str(decision["criteria_revision"])
    client = mlflow.MlflowClient(tracking)
    entry = client.download_artifacts(
        chosen["run_id"], f"modelsnap/decisions/{decision['id']}.toml"
    )
    import tomllib

    assert tomllib.loads(Path(entry).read_text())["decision"][0]["sha256"] == decision["sha256"]
    others = frame[frame["run_id"] != chosen["run_id"]]
    assert (
        "tags.modelsnap.decision_id" not in others
        or others["tags.modelsnap.decision_id"].isna().all()
    )

    # again: nothing is added, everything is named as skipped
    second = export_mlflow(sample, tracking)
    assert second["added"] == [] and second["decisions_added"] == []
    assert len(second["skipped"]) == 5 and len(second["decisions_skipped"]) == 1
    assert {r["reason"] for r in second["skipped"]} == {"already exported"}
    assert len(runs_frame(tracking, "Credit default")) == 5
    assert tree(sample) == before  # export never writes into the project folder


def test_a_new_snapshot_and_a_new_decision_are_all_a_later_export_adds(
    sample: Path, tracking: str, make_body, make_staged
) -> None:
    export_mlflow(sample, tracking, experiment="credit")
    from modelsnap.core.records.store import write_snapshot

    snapshots, _ = list_snapshots(sample)
    body = make_body(name="extra", data=dict(snapshots[0]["data"]))
    new_id = write_snapshot(sample, body, staged_files=make_staged(sample))
    result = export_mlflow(sample, tracking, experiment="credit")
    assert [r["snapshot_id"] for r in result["added"]] == [new_id]
    assert len(result["skipped"]) == 5
    assert len(runs_frame(tracking, "credit")) == 6


def test_an_interrupted_export_is_sent_again_whole(sample: Path, tracking: str) -> None:
    snapshots, _ = list_snapshots(sample)
    client = mlflow.MlflowClient(tracking)
    experiment_id = client.create_experiment("credit")
    half = client.create_run(experiment_id, tags={"modelsnap.snapshot_id": snapshots[0]["id"]})
    result = export_mlflow(sample, tracking, experiment="credit")
    assert snapshots[0]["id"] in [r["snapshot_id"] for r in result["added"]]
    frame = runs_frame(tracking, "credit")
    assert len(frame) == 5 and half.info.run_id not in set(frame["run_id"])
    assert set(frame["status"]) == {"FINISHED"}


def test_dry_run_lists_what_it_would_send_and_writes_nothing(
    sample: Path, tracking: str, tmp_path: Path
) -> None:
    before = tree(sample)
    result = export_mlflow(sample, tracking, dry_run=True)
    assert len(result["added"]) == 5 and len(result["decisions_added"]) == 1
    assert all(r["run_id"] is None for r in result["added"])
    assert not (tmp_path / "mlflow.db").exists()  # not even the database is created
    assert not (tmp_path / "mlruns").exists()
    assert tree(sample) == before
    # against a store that holds part of it: still nothing sent
    export_mlflow(sample, tracking)
    store_before = tree(tmp_path / "mlruns")
    again = export_mlflow(sample, tracking, dry_run=True)
    assert again["added"] == [] and len(again["skipped"]) == 5
    assert tree(tmp_path / "mlruns") == store_before
    assert len(runs_frame(tracking, "Credit default")) == 5


def test_the_command_prints_what_it_added_and_skipped(sample: Path, tracking: str) -> None:
    args = ["export", "mlflow", str(sample), "--tracking-uri", tracking]
    dry = modelsnap(*args, "--dry-run", "--experiment", "cli")
    assert dry.returncode == 0, dry.stderr
    assert "would add 5 run(s) and 1 decision(s)" in " ".join(dry.stdout.split())
    first = modelsnap(*args, "--experiment", "cli", "--format", "json")
    assert first.returncode == 0, first.stderr
    assert len(json.loads(first.stdout)["added"]) == 5
    second = modelsnap(*args, "--experiment", "cli")
    assert second.returncode == 0, second.stderr
    text = " ".join(second.stdout.split())
    assert "added 0 run(s) and 0 decision(s), skipped 6" in text
    assert "(already exported)" in text


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.mark.parametrize(
    ("uri", "expected"),
    [
        ("http://127.0.0.1:{port}", "cannot be reached"),
        ("foo://nowhere", "unsupported URI"),
        ("sqlite:///{tmp}/no/such/folder/mlflow.db", "does not exist"),
        ("sqlite:///{tmp}/not-a-database.txt", "MLflow could not open the tracking store"),
        ("sqlite://relative.db", "sqlite:/// followed by the database file"),
        ("http://", "names no host"),
        ("http://localhost:port", "port is not a number"),
        ("   ", "empty"),
    ],
)
def test_a_bad_tracking_uri_is_a_clear_message(
    sample: Path, tracking: str, tmp_path: Path, uri: str, expected: str
) -> None:
    from modelsnap.bridges.mlflow_common import TrackingError

    (tmp_path / "not-a-database.txt").write_text("this is not SQLite\n" * 100)
    given = uri.format(port=_closed_port(), tmp=tmp_path)
    with pytest.raises(TrackingError) as caught:
        export_mlflow(sample, given)
    assert expected in str(caught.value)
    assert caught.value.exit_code == 2 and caught.value.hint


def test_the_command_refuses_an_unreachable_server_with_exit_2(sample: Path, tracking: str):
    given = f"http://user:secret@127.0.0.1:{_closed_port()}"
    result = modelsnap("export", "mlflow", str(sample), "--tracking-uri", given)
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    text = " ".join(result.stderr.split())
    assert "cannot be reached" in text and "secret" not in text  # the password is not shown


def test_without_mlflow_the_commands_say_how_to_install_it(sample: Path, tracking: str) -> None:
    hide = (
        "import sys; sys.modules['mlflow'] = None; from modelsnap.cli import main; "
        "sys.exit(main(sys.argv[1:]))"
    )
    for args in (
        ["export", "mlflow", str(sample), "--tracking-uri", tracking],
        ["import", "mlflow", str(sample), "--tracking-uri", tracking, "--run-id", "x"]
        + ["--trust-pickle"],
    ):
        result = modelsnap(*args, code=hide)
        assert result.returncode == 2, result.stderr
        assert "Traceback" not in result.stderr
        assert "pip install 'modelsnap[mlflow]'" in " ".join(result.stderr.split())


def test_no_start_up_path_imports_mlflow() -> None:
    code = (
        "import json, sys\n"
        "from modelsnap.cli import build_parser\n"
        "build_parser()\n"
        "import modelsnap.api, modelsnap.profiler.runner, modelsnap.profiler.jobs\n"
        "print(json.dumps(sorted(sys.modules)))\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    loaded = json.loads(result.stdout)
    assert [m for m in loaded if m == "mlflow" or m.startswith("mlflow.")] == []
    assert [m for m in loaded if m.startswith("modelsnap.bridges")] == []
