"""``modelsnap run`` and ``modelsnap profile`` as a user runs them: subprocesses, real models."""

from __future__ import annotations

import contextlib
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

pytestmark = pytest.mark.slow

PROJECT = """\
[data]
source = "data.csv"
target = "label"
seed = 3

[selection]
primary_metric = "f1"

[[criteria]]
metric = "f1"
weight = 1.0

[constraints]
max_latency_p95_ms = 1000.0

[run]
latency_trials = 15
latency_warmup = 2
batch_size = 16
timeout_seconds = 120

[baseline]
name = "logistic"
estimator = "sklearn.linear_model.LogisticRegression"

[[candidates]]
name = "tree"
estimator = "sklearn.tree.DecisionTreeClassifier"
params = { max_depth = 3, random_state = 0 }

[[candidates]]
name = "broken"
estimator = "sklearn.linear_model.LogisticRegression"
params = { C = -1.0 }
"""


def flat(text: str) -> str:
    """Output with rich's line wrapping undone, so assertions do not depend on terminal width."""
    return " ".join(text.split())


def modelsnap(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "modelsnap", *args],
        capture_output=True,
        text=True,
        cwd=cwd,
        timeout=300,
    )


@pytest.fixture
def project(tmp_path: Path) -> Path:
    rng = np.random.default_rng(1)
    n = 200
    x = rng.normal(size=(n, 2))
    frame = pd.DataFrame(
        {"a": x[:, 0], "b": x[:, 1], "label": np.where(x[:, 0] + 0.5 * x[:, 1] > 0, "pos", "neg")}
    )
    root = tmp_path / "proj"
    root.mkdir()
    frame.to_csv(root / "data.csv", index=False)
    (root / "modelsnap.toml").write_text(PROJECT)
    return root


def test_run_reports_each_model_and_fails_when_one_fails(project: Path) -> None:
    baseline = modelsnap("run", str(project), "--baseline", "--format", "json")
    assert baseline.returncode == 0, baseline.stderr
    [entry] = json.loads(baseline.stdout)["runs"]
    assert entry["ok"] and entry["kind"] == "baseline" and entry["reason"] == "ok"
    assert (project / "snapshots" / f"{entry['snapshot_id']}.toml").is_file()

    unlocked = modelsnap("run", str(project), "--candidate", "tree")
    assert unlocked.returncode == 2
    assert "criteria are not locked" in flat(unlocked.stderr)

    assert modelsnap("lock", str(project)).returncode == 0
    both = modelsnap(
        "run",
        str(project),
        "--candidate",
        "tree",
        "--candidate",
        "broken",
        "--latency-trials",
        "5",
        "--version",
        "v7",
        "--format",
        "json",
    )
    assert both.returncode == 1
    runs = {run["name"]: run for run in json.loads(both.stdout)["runs"]}
    assert runs["tree"]["ok"] and not runs["broken"]["ok"]
    assert runs["broken"]["reason"] == "error"
    assert runs["broken"]["error"]["where"] == "model 'broken'"
    assert "InvalidParameterError" in runs["broken"]["error"]["message"]
    assert "model 'broken': failed during fit: InvalidParameterError" in flat(both.stderr)
    snapshots = sorted((project / "snapshots").glob("*.toml"))
    assert len(snapshots) == 2
    tree = next(p for p in snapshots if "-tree-" in p.name).read_text()
    assert 'version = "v7"' in tree and "latency_trials = 5" in tree


def test_profile_writes_a_linked_snapshot(project: Path) -> None:
    first = modelsnap("run", str(project), "--baseline", "--format", "json")
    snapshot_id = json.loads(first.stdout)["runs"][0]["snapshot_id"]
    again = modelsnap(
        "profile", str(project), snapshot_id, "--latency-trials", "7", "--format", "json"
    )
    assert again.returncode == 0, again.stderr
    result = json.loads(again.stdout)
    assert result["original_id"] == snapshot_id and result["snapshot_id"] != snapshot_id
    assert result["same_hardware"] is True and result["changed_packages"] == {}
    assert result["figures"]["latency_p95_ms"]["now"] > 0
    text = (project / "snapshots" / f"{result['snapshot_id']}.toml").read_text()
    assert f'reprofile_of = "{snapshot_id}"' in text and "latency_trials = 7" in text


def test_bad_arguments_are_refused_before_anything_runs(project: Path) -> None:
    unknown = modelsnap("run", str(project), "--candidate", "nope")
    assert unknown.returncode == 2 and "no candidate named 'nope'" in flat(unknown.stderr)
    bad_timeout = modelsnap("run", str(project), "--timeout", "-3")
    assert bad_timeout.returncode == 2 and "expected a number > 0" in flat(bad_timeout.stderr)
    missing = modelsnap("profile", str(project), "20991231T000000")
    assert missing.returncode != 0 and "no snapshot id starts with" in flat(missing.stderr)
    assert not (project / "snapshots").exists() or not any((project / "snapshots").iterdir())
    assert "Traceback" not in unknown.stderr + bad_timeout.stderr + missing.stderr


def test_table_output_names_the_model(project: Path) -> None:
    result = modelsnap("run", str(project), "--baseline")
    assert result.returncode == 0, result.stderr
    assert "logistic" in result.stdout and "baseline" in result.stdout
    assert "logistic: snapshot " in result.stdout


def test_help_lists_the_options() -> None:
    result = modelsnap("run", "--help")
    for option in (
        "--baseline",
        "--candidate",
        "--timeout",
        "--memory-limit",
        "--latency-trials",
        "--batch-size",
        "--version",
        "--format",
    ):
        assert option in result.stdout


def test_the_progress_display_follows_stages_and_outcomes() -> None:
    from types import SimpleNamespace

    from modelsnap.cli.progress import ProgressDisplay
    from modelsnap.profiler.events import ProgressEvent

    display = ProgressDisplay(enabled=True)
    with display.live():
        display.start("tree", "candidate")
        display.event("tree", ProgressEvent("fit", 0.5, "fitting"))
        task = display.progress.tasks[0]
        assert task.description == "tree: fit - fitting"
        assert task.completed == pytest.approx((3 + 0.5) / 9)
        display.finish(SimpleNamespace(name="tree", ok=False, reason="timeout"))
        assert display.progress.tasks[0].description == "tree: failed (timeout)"


def _still_running(proc: subprocess.Popen) -> str:
    """What a run that did not end still has: its own state and each process under it (then
    all of them are killed, so the suite goes on)."""
    import psutil

    seen = [
        f"modelsnap run: {'exited ' + str(proc.poll()) if proc.poll() is not None else 'running'}"
    ]
    with contextlib.suppress(psutil.Error):
        for child in psutil.Process(proc.pid).children(recursive=True):
            with contextlib.suppress(psutil.Error):
                seen.append(f"{child.pid} {child.status()} {' '.join(child.cmdline())[:120]}")
                child.kill()
    proc.kill()
    try:
        _, stderr = proc.communicate(timeout=30)
    except subprocess.TimeoutExpired:
        stderr = "(its output pipes are still held open by another process)"
    return "; ".join(seen) + f"; stderr: {stderr[-1500:]}"


def test_ctrl_c_stops_the_worker_and_writes_nothing(tmp_path: Path) -> None:
    import signal
    import time

    import psutil

    root = tmp_path / "hang"
    root.mkdir()
    pd.DataFrame({"a": np.arange(60.0), "label": ["x", "y"] * 30}).to_csv(
        root / "data.csv", index=False
    )
    (root / "hang_model.py").write_text(
        "import time\n"
        "from sklearn.dummy import DummyClassifier\n\n\n"
        "class Hang(DummyClassifier):\n"
        "    def fit(self, X, y):\n"
        "        while True:\n"
        "            time.sleep(1)\n"
    )
    (root / "modelsnap.toml").write_text(
        '[data]\nsource = "data.csv"\ntarget = "label"\n\n'
        '[baseline]\nname = "hang"\nestimator = "hang_model.Hang"\n'
    )
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "modelsnap",
            "run",
            str(root),
            "--baseline",
            "--trust-code",
            "hang_model",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    staging = root / ".modelsnap" / "tmp"
    deadline = time.monotonic() + 120
    workers: list[psutil.Process] = []
    while not workers and time.monotonic() < deadline:
        # the model's reaper and worker: under a template forked from it (warm workers), or
        # started as ``python -P -m modelsnap.profiler.worker`` by the reaper (cold)
        for child in psutil.Process(proc.pid).children(recursive=True):
            with contextlib.suppress(psutil.Error):
                if child.ppid() != proc.pid and "modelsnap.profiler" in " ".join(child.cmdline()):
                    workers.append(child)
        time.sleep(0.1)
    assert workers, "the worker never started"
    assert any(staging.iterdir())
    time.sleep(1.0)
    proc.send_signal(signal.SIGINT)
    try:
        _, stderr = proc.communicate(timeout=60)
    except subprocess.TimeoutExpired:  # say what still runs (seen once in a loaded full run)
        pytest.fail(f"no exit 60 s after Ctrl-C: {_still_running(proc)}")
    assert proc.returncode == 130, stderr
    assert "interrupted" in stderr and "Traceback" not in stderr
    for worker in workers:
        with contextlib.suppress(psutil.NoSuchProcess):
            assert not worker.is_running() or worker.status() == psutil.STATUS_ZOMBIE
    assert not any(staging.iterdir())
    assert not (root / "snapshots").exists() or not any((root / "snapshots").iterdir())


def test_candidate_takes_several_names_or_repeats() -> None:
    from modelsnap.cli import build_parser

    parser = build_parser()
    spaced = parser.parse_args(["run", "proj", "--candidate", "a", "b", "--candidate", "c"])
    assert spaced.candidates == ["a", "b", "c"]


def test_a_closed_pipe_ends_quietly(tmp_path) -> None:
    """`modelsnap lock DIR | head -1` must not end in a BrokenPipeError traceback."""
    import subprocess
    import sys

    csv = tmp_path / "d.csv"
    csv.write_text("x,y\n" + "".join(f"{i},{i % 2}\n" for i in range(60)))
    project = tmp_path / "p"
    subprocess.run(
        [
            sys.executable,
            "-m",
            "modelsnap",
            "init",
            str(project),
            "--data",
            str(csv),
            "--target",
            "y",
        ],
        check=True,
        capture_output=True,
        timeout=120,
    )
    proc = subprocess.Popen(
        [sys.executable, "-m", "modelsnap", "lock", str(project)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    proc.stdout.close()  # the reader goes away before the writer writes
    _, err = proc.communicate(timeout=120)
    assert b"Traceback" not in err, err.decode()
    assert proc.returncode == 141


@pytest.mark.parametrize("width", [60, 80, 120])
def test_the_run_table_never_cuts_the_main_metric(width: int) -> None:
    from types import SimpleNamespace

    from rich.console import Console

    from modelsnap.cli.run_cmd import summary_table

    snapshot = {
        "resources": {
            "latency_p95_ms": 13.3927,
            "throughput_rows_per_s": 39938.1,
            "size_mb": 0.85,
            "peak_memory_mb": 1.293,
        },
        "metrics": {"validation": {"balanced_accuracy": 0.441234}},
        "data": {"task": "classification"},
        "constraints": {"latency_p95_ms": {"ok": False}, "size_mb": {"ok": False}},
    }
    outcomes = [
        SimpleNamespace(
            ok=True, snapshot=snapshot, name="hist_gradient_boosting", kind="candidate"
        ),
        SimpleNamespace(
            ok=False,
            name="knn",
            kind="candidate",
            reason="error: failed during fit: InvalidParameterError: The "
            "'n_neighbors' parameter of KNeighborsClassifier must be > 0",
        ),
    ]
    console = Console(width=width, record=True, color_system=None)
    console.print(summary_table(outcomes, "balanced_accuracy", width=width))
    text = console.export_text()
    assert "0.4412" in text and "balanced_accuracy" in text and "13.393" in text
    assert "…" not in text, text
    assert max(len(line.rstrip()) for line in text.splitlines()) <= width
