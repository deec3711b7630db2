"""The Dask executor on a real ``distributed.LocalCluster`` (2 worker processes x 1 thread,
on 127.0.0.1): same metrics as a local run, progress streamed back, a killed Dask worker, an
unreachable scheduler, cancel, the memory ceiling over there, and the TUI's run screen."""

from __future__ import annotations

import json
import logging
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import psutil
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from modelsnap.cli import main
from modelsnap.core.errors import ProjectFileError
from modelsnap.core.project.parse import check_scheduler_address, load_project
from modelsnap.core.records.store import list_snapshots, validate_snapshot
from modelsnap.core.selection.criteria import lock_criteria
from modelsnap.profiler import dask_executor, executors
from modelsnap.profiler.job_specs import Overrides
from modelsnap.profiler.jobs import run_project

from .conftest import write_project

distributed = pytest.importorskip(
    "distributed", reason="the Dask executor's tests need modelsnap[dask] (in the test extra)"
)

pytestmark = pytest.mark.slow

SEEDED = """
[[candidates]]
name = "forest"
estimator = "sklearn.ensemble.RandomForestClassifier"
params = { n_estimators = 15, random_state = 3 }
grid = { max_depth = [2, 4] }
"""

HANG = """
[[candidates]]
name = "hang"
estimator = "bad_models.Hang"
timeout_seconds = 90
"""


def start_cluster() -> distributed.LocalCluster:
    return distributed.LocalCluster(
        n_workers=2,
        threads_per_worker=1,
        processes=True,
        host="127.0.0.1",
        dashboard_address="127.0.0.1:0",  # loopback only, any free port
        silence_logs=logging.CRITICAL,
    )


@pytest.fixture(scope="module")
def cluster():
    with start_cluster() as running:
        yield running


def locked(root: Path):
    config = load_project(root)
    lock_criteria(config, reason="test")
    return load_project(root)


def modelsnap_children() -> list[psutil.Process]:
    """This test process's descendants (the cluster's nannies and workers, and what they
    started) that are modelsnap workers or reapers."""
    found = []
    for proc in psutil.Process().children(recursive=True):
        try:
            if any("modelsnap.profiler" in part for part in proc.cmdline()):
                found.append(proc)
        except psutil.Error:
            continue
    return found


def wait_until_no_modelsnap_children(seconds: float = 15.0) -> None:
    deadline = time.monotonic() + seconds
    while modelsnap_children() and time.monotonic() < deadline:
        time.sleep(0.2)
    assert modelsnap_children() == []


def assert_nothing_written(root: Path) -> None:
    assert list_snapshots(root)[0] == []
    for folder in ("models", "predictions", "snapshots"):
        assert not any((root / folder).glob("*")) if (root / folder).exists() else True
    tmp = root / ".modelsnap" / "tmp"
    assert not tmp.exists() or not any(tmp.iterdir())


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


# --------------------------------------------------------------------------- results


def test_seeded_models_give_the_same_metrics_as_a_local_run(tmp_path, cluster, capsys) -> None:
    here = write_project(tmp_path / "here", SEEDED)
    there = write_project(tmp_path / "there", SEEDED)
    local = {o.name: o for o in run_project(locked(here))}
    assert all(o.ok for o in local.values()), [o.error for o in local.values()]

    locked(there)
    code = main(["run", str(there), "--scheduler", cluster.scheduler_address, "--format", "json"])
    report = json.loads(capsys.readouterr().out)
    assert code == 0, report
    assert [run["reason"] for run in report["runs"]] == ["ok", "ok"]
    remote = {s["name"]: s for s in list_snapshots(there)[0]}
    worker_addresses = set(cluster.scheduler_info["workers"])
    for name, outcome in local.items():
        ours, theirs = outcome.snapshot, remote[name]
        assert theirs["metrics"] == ours["metrics"]  # validation, test and the seeded CIs
        assert theirs["model"]["params"] == ours["model"]["params"]
        assert theirs["model"].get("search") == ours["model"].get("search")
        assert theirs.get("interpretability") == ours.get("interpretability")
        assert theirs["data"] == ours["data"]
        # Profiled here: this machine's hardware, so the comparability guard sees no difference.
        assert theirs["hardware"]["fingerprint"] == ours["hardware"]["fingerprint"]
        origin = theirs["origin"]
        assert origin["executor"] == "dask"
        assert origin["scheduler"] == cluster.scheduler_address
        assert origin["worker"] in worker_addresses
        assert origin["host"] == socket.gethostname()
        assert "origin" not in ours
        assert validate_snapshot(theirs) == []
        resources = theirs["resources"]
        assert resources["latency_trials"] == 30 and resources["peak_memory_fit_mb"] >= 0
        assert resources["peak_memory_mb"] == max(
            resources["peak_memory_fit_mb"], resources["peak_memory_predict_mb"]
        )
    assert remote["forest"]["model"]["search"]["best"]  # the grid was searched, point by point
    assert len(remote["forest"]["model"]["search"]["scores"]) == 2
    assert remote["forest"]["gain"]["baseline_id"] == remote["logistic"]["id"]
    assert main(["check", str(there)]) == 0
    capsys.readouterr()
    wait_until_no_modelsnap_children()


def test_progress_streams_back_and_models_run_side_by_side(tmp_path, cluster, monkeypatch) -> None:
    """Both models fit on the cluster at once, their progress streams back, and both are then
    profiled here, one after the other, in workers forked from one template (``warm``) that
    started while the cluster was fitting."""
    from modelsnap.profiler import warm

    forked: list[tuple[int, ...]] = []  # the run's templates, at each local fork
    real_spawn = warm.WorkerPool.spawn

    def spawn(pool, *args, **kwargs):
        process = real_spawn(pool, *args, **kwargs)
        forked.append(tuple(pool.pids))
        return process

    monkeypatch.setattr(warm.WorkerPool, "spawn", spawn)
    prestarted: list[float] = []  # when the local template was asked to start
    real_prestart = warm.WorkerPool.prestart

    def prestart(pool, *args, **kwargs):
        prestarted.append(time.monotonic())
        real_prestart(pool, *args, **kwargs)

    monkeypatch.setattr(warm.WorkerPool, "prestart", prestart)
    root = write_project(
        tmp_path / "p",
        """
[[candidates]]
name = "tree"
estimator = "sklearn.tree.DecisionTreeClassifier"
params = { max_depth = 3, random_state = 0 }
""",
    )
    config = locked(root)
    events: list[tuple[float, str, str, str]] = []
    outcomes = run_project(
        config,
        overrides=Overrides(scheduler=cluster.scheduler_address),
        on_event=lambda name, e: events.append((time.monotonic(), name, e.stage, e.message)),
    )
    assert [o.reason for o in outcomes] == ["ok", "ok"]
    for name in ("logistic", "tree"):
        stages = [stage for _, n, stage, _ in events if n == name]
        for stage in ("load", "fit", "evaluate", "analyse", "latency", "batch", "save"):
            assert stage in stages, (name, stage)
        assert any(m.startswith("on Dask worker") for _, n, _, m in events if n == name)
    # Both fits were in flight at once: each started on the cluster before the other ended.
    started = {n: t for t, n, _, m in events if m.startswith("on Dask worker")}
    fitted = {n: t for t, n, _, m in events if m.startswith("fitted;")}
    assert started["tree"] < fitted["logistic"] and started["logistic"] < fitted["tree"]
    if warm.warm_available():  # the second profile did not start another template
        assert len(forked) == 2 and len(forked[0]) == 1 and forked[0] == forked[1]
    # the template's imports began while the cluster was still fitting, not after
    assert len(prestarted) == 1 and prestarted[0] < min(fitted.values())


# --------------------------------------------------------------------------- failures


def test_an_unreachable_scheduler_is_a_clear_error_and_nothing_is_written(
    tmp_path, capsys, monkeypatch
) -> None:
    monkeypatch.setattr(dask_executor, "CONNECT_TIMEOUT_SECONDS", 2.0)
    root = write_project(tmp_path / "p")
    address = f"tcp://127.0.0.1:{free_port()}"
    code = main(["run", str(root), "--baseline", "--scheduler", address])
    err = capsys.readouterr().err
    assert code == 2
    assert f"cannot reach the Dask scheduler at {address}" in err
    assert "dask scheduler" in err and "Traceback" not in err
    assert_nothing_written(root)
    assert not (root / "split.npz").exists()


def test_without_the_extra_the_flag_says_how_to_install_it(tmp_path, capsys, monkeypatch) -> None:
    monkeypatch.setitem(sys.modules, "distributed", None)  # import distributed -> ImportError
    root = write_project(tmp_path / "p")
    code = main(["run", str(root), "--executor", "dask", "--scheduler", "tcp://127.0.0.1:8786"])
    err = capsys.readouterr().err
    assert code == 2
    assert "pip install 'modelsnap[dask]'" in err and "Traceback" not in err
    assert_nothing_written(root)


def test_a_killed_dask_worker_fails_that_model_and_the_others_are_recorded(tmp_path) -> None:
    root = write_project(tmp_path / "p", HANG)
    config = locked(root)
    with start_cluster() as own, distributed.Client(own, set_as_default=False) as client:
        pids = client.run(os.getpid)
        killed: list[int] = []
        events: list[tuple[str, str]] = []

        def record(name: str, event) -> None:
            events.append((name, event.message))
            if name == "hang" and event.message.startswith("on Dask worker") and not killed:
                address = event.message.split("(")[-1].rstrip(")")
                os.kill(pids[address], signal.SIGKILL)  # the whole Dask worker process
                killed.append(pids[address])

        started = time.monotonic()
        outcomes = run_project(
            config, overrides=Overrides(scheduler=own.scheduler_address), on_event=record
        )
        elapsed = time.monotonic() - started
    by_name = {o.name: o for o in outcomes}
    assert killed, events
    assert by_name["logistic"].ok
    hang = by_name["hang"]
    assert hang.reason == "worker lost", hang.error
    assert "was lost" in hang.error.message and "nothing was written" in hang.error.message
    assert [s["name"] for s in list_snapshots(root)[0]] == ["logistic"]
    assert elapsed < 60  # not the hang's 90 s timeout: the re-run over there was stopped
    wait_until_no_modelsnap_children()


def test_a_scheduler_lost_mid_run_fails_the_unfinished_models_cleanly(tmp_path) -> None:
    root = write_project(tmp_path / "p", HANG)
    config = locked(root)
    port = free_port()
    address = f"tcp://127.0.0.1:{port}"
    dask = [str(Path(sys.executable).with_name("dask"))]
    quiet = {"stdout": subprocess.DEVNULL, "stderr": subprocess.DEVNULL}
    scheduler = subprocess.Popen(
        [*dask, "scheduler", "--host", "127.0.0.1", "--port", str(port), "--no-dashboard"],
        **quiet,
    )
    worker = subprocess.Popen(
        [*dask, "worker", address, "--nthreads", "1", "--host", "127.0.0.1", "--no-dashboard"]
        + ["--no-nanny"],  # one process: nothing is left behind when it is stopped
        **quiet,
    )
    try:

        def on_event(name: str, event) -> None:
            if name == "hang" and event.stage == "fit" and scheduler.poll() is None:
                scheduler.kill()

        outcomes = run_project(
            config, ["hang"], overrides=Overrides(scheduler=address), on_event=on_event
        )
    finally:
        for proc in (scheduler, worker):
            proc.kill()
            proc.wait(timeout=30)
    [hang] = outcomes
    assert hang.reason == "crash"
    assert "stopped answering" in hang.error.message and address in hang.error.hint
    assert_nothing_written(root)
    wait_until_no_modelsnap_children()  # the Dask worker's run died with the Dask worker


def test_a_model_over_its_memory_ceiling_on_a_dask_worker_fails_as_it_does_here(
    tmp_path, cluster
) -> None:
    root = write_project(
        tmp_path / "p",
        """
[[candidates]]
name = "hog"
estimator = "bad_models.MemoryHog"
params = { total_mb = 600 }
memory_limit_mb = 300
""",
    )
    config = locked(root)
    outcomes = run_project(
        config, ["hog"], overrides=Overrides(scheduler=cluster.scheduler_address)
    )
    [hog] = outcomes
    assert hog.reason == "memory"
    assert "over the memory limit of 300 MB" in hog.error.message
    assert "on Dask worker" in hog.error.message
    assert_nothing_written(root)
    wait_until_no_modelsnap_children()


def test_cancel_mid_run_cancels_the_cluster_futures_and_writes_nothing(tmp_path, cluster) -> None:
    root = write_project(
        tmp_path / "p",
        HANG
        + """
[[candidates]]
name = "hang_too"
estimator = "bad_models.Hang"
timeout_seconds = 90
""",
    )
    config = locked(root)
    cancel = threading.Event()
    fitting: set[str] = set()

    def on_event(name: str, event) -> None:
        if event.stage == "fit":
            fitting.add(name)
        if {"hang", "hang_too"} <= fitting:
            cancel.set()

    started = time.monotonic()
    outcomes = run_project(
        config,
        ["hang", "hang_too"],
        overrides=Overrides(scheduler=cluster.scheduler_address),
        on_event=on_event,
        cancel=cancel,
    )
    assert [o.reason for o in outcomes] == ["cancelled", "cancelled"]
    assert time.monotonic() - started < 60
    assert_nothing_written(root)
    wait_until_no_modelsnap_children()
    with distributed.Client(cluster.scheduler_address, set_as_default=False) as client:
        deadline = time.monotonic() + 10
        while any(client.processing().values()) and time.monotonic() < deadline:
            time.sleep(0.2)
        assert not any(client.processing().values())


# --------------------------------------------------------------------------- settings


def test_run_table_executor_and_scheduler_are_checked(tmp_path) -> None:
    root = write_project(tmp_path / "p")
    text = (root / "modelsnap.toml").read_text()
    cases = {
        'executor = "cluster"': "[run].executor",
        'scheduler = "localhost"': "[run].scheduler",
        'scheduler = "tcp://host:99999"': "[run].scheduler",
        "scheduler = 8786": "[run].scheduler",
        'scheduler = "tcp://host:8786\\n"': "[run].scheduler",
    }
    for line, key in cases.items():
        (root / "modelsnap.toml").write_text(text.replace("[run]\n", f"[run]\n{line}\n"))
        with pytest.raises(ProjectFileError) as info:
            load_project(root)
        assert key in str(info.value)
    (root / "modelsnap.toml").write_text(
        text.replace("[run]\n", '[run]\nexecutor = "dask"\nscheduler = "tcp://[::1]:8786"\n')
    )
    config = load_project(root)
    assert (config.run.executor, config.run.scheduler) == ("dask", "tcp://[::1]:8786")
    choice = executors.choose(config)
    assert (choice.name, choice.scheduler) == ("dask", "tcp://[::1]:8786")
    assert executors.choose(config, Overrides(executor="local")).name == "local"
    flagged = executors.choose(config, Overrides(scheduler="tcp://10.0.0.5:8786"))
    assert flagged.scheduler == "tcp://10.0.0.5:8786"

    (root / "modelsnap.toml").write_text(text.replace("[run]\n", '[run]\nexecutor = "dask"\n'))
    with pytest.raises(executors.ExecutorError) as info:
        executors.choose(load_project(root))
    assert info.value.exit_code == 2 and "--scheduler" in info.value.hint


def test_a_bad_scheduler_flag_is_refused_by_the_parser(tmp_path, capsys) -> None:
    root = write_project(tmp_path / "p")
    with pytest.raises(SystemExit) as info:
        main(["run", str(root), "--scheduler", "not an address"])
    assert info.value.code == 2
    assert "tcp://10.0.0.5:8786" in capsys.readouterr().err


def test_the_origin_table_is_checked_when_present(make_body) -> None:
    body = make_body(id="20261126T061502-random_forest-3f9a")
    body["model"].update(artifact="models/x.skops", artifact_sha256="c" * 64, size_bytes=10)
    body["predictions"] = {"path": "predictions/x.npz", "sha256": "d" * 64}
    assert validate_snapshot(body) == []
    body["origin"] = {"executor": "dask", "scheduler": "tcp://h:8786", "worker": "tcp://w:1"}
    assert validate_snapshot(body) == []
    body["origin"] = {"executor": "spark", "host": 3}
    problems = "\n".join(validate_snapshot(body))
    assert "origin.executor" in problems and "origin.host" in problems


# --------------------------------------------------------------------------- the TUI


async def test_the_tui_run_screen_runs_the_baseline_on_the_cluster(tmp_path, cluster) -> None:
    from modelsnap.tui.app import ModelsnapApp
    from modelsnap.tui.widgets.run_panel import RunPanel

    root = write_project(tmp_path / "p")
    text = (root / "modelsnap.toml").read_text()
    (root / "modelsnap.toml").write_text(
        text.replace(
            "[run]\n", f'[run]\nexecutor = "dask"\nscheduler = "{cluster.scheduler_address}"\n'
        )
    )
    app = ModelsnapApp(root, open_step=2)
    async with app.run_test(size=(100, 40)) as pilot:
        for _ in range(4):
            await app.workers.wait_for_complete()
            await pilot.pause(0.05)
        assert app.current_mode == "baseline"
        await pilot.press("r")
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:
            await pilot.pause(0.2)
            if not app.running and app.state.baseline is not None:
                break
        for _ in range(4):  # let the reload after the run finish before the app closes
            await app.workers.wait_for_complete()
            await pilot.pause(0.05)
        lines = app.screen.query_one(RunPanel).lines
        assert app.state.baseline is not None, lines
        assert any("Dask worker" in line for line in lines), lines
    [snapshot] = list_snapshots(root)[0]
    assert snapshot["origin"]["scheduler"] == cluster.scheduler_address


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=40))
def test_the_scheduler_address_check_accepts_or_names_the_key(text: str) -> None:
    try:
        assert check_scheduler_address(text, "[run].scheduler") == text
    except ProjectFileError as error:
        assert "[run].scheduler" in str(error)


@settings(max_examples=100, deadline=None)
@given(
    st.sampled_from(["tcp", "tls", "ucx", "ws", "wss"]),
    st.from_regex(r"[a-z0-9]([a-z0-9.\-]{0,20}[a-z0-9])?", fullmatch=True),
    st.integers(min_value=1, max_value=65535),
)
def test_well_formed_scheduler_addresses_are_accepted(protocol: str, host: str, port: int) -> None:
    address = f"{protocol}://{host}:{port}"
    assert check_scheduler_address(address) == address


def test_nothing_imports_dask_unless_the_dask_executor_is_chosen(tmp_path) -> None:
    root = write_project(tmp_path / "p")
    code = (
        "import sys\n"
        "from modelsnap.cli import main\n"
        "import modelsnap.profiler.jobs, modelsnap.profiler.executors, modelsnap.tui.app\n"
        f"assert main(['run', {str(root)!r}, '--baseline', '--format', 'json']) == 0\n"
        "loaded = sorted(m for m in sys.modules if m.split('.')[0] in ('dask', 'distributed'))\n"
        "assert not loaded, loaded\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr[-2000:]
