"""Warm workers: every model of a run is forked from one template that imported the heavy
libraries once, and is still isolated like a fresh interpreter.

Each model runs in its own child: nothing one model changes reaches the next; a crash, a hang,
a memory hog or a cancel ends only that child (the template serves the next model); the
template itself ends with the run, also a cancelled one, and with its parent.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

import psutil
import pytest

from modelsnap.core.errors import RunFailed
from modelsnap.core.project.parse import load_project
from modelsnap.profiler import warm
from modelsnap.profiler.jobs import run_project
from modelsnap.profiler.runner import RunJob, run_model

from .test_runner import FAST, assert_gone, assert_nothing_written, job

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(not warm.warm_available(), reason="warm workers need Linux"),
]

TWO_MODELS = """
[[candidates]]
name = "first"
estimator = "bad_models.LeavesState"
params = { out = "first.json" }

[[candidates]]
name = "second"
estimator = "bad_models.LeavesState"
params = { out = "second.json" }
"""


_BEFORE: set[int] = set()


@pytest.fixture(autouse=True)
def _children_before() -> None:
    """Processes this test process already had (another test's cluster or server in the same
    pytest worker) are not this test's leftovers."""
    _BEFORE.clear()
    _BEFORE.update(p.pid for p in psutil.Process().children(recursive=True))


def our_modelsnap_processes() -> list[psutil.Process]:
    """modelsnap processes still running under this test process (templates, reapers,
    workers, anything they started) that were not there when the test began."""
    found = []
    for proc in psutil.Process().children(recursive=True):
        if proc.pid in _BEFORE:
            continue
        try:
            if proc.status() != psutil.STATUS_ZOMBIE:
                found.append(proc)
        except psutil.NoSuchProcess:
            pass
    return found


def test_nothing_of_one_model_reaches_the_next(project: Path) -> None:
    (project / "modelsnap.toml").write_text((project / "modelsnap.toml").read_text() + TWO_MODELS)
    from modelsnap.core.selection.criteria import lock_criteria

    config = load_project(project)
    lock_criteria(config)
    outcomes = run_project(load_project(project), ["first", "second"])
    assert [o.reason for o in outcomes] == ["ok", "ok"], [str(o.error) for o in outcomes]
    first = json.loads((project / "first.json").read_text())
    second = json.loads((project / "second.json").read_text())
    for seen in (first, second):
        assert seen["global"] == []
        assert seen["sklearn_attribute"] is None
        assert seen["assume_finite"] is False
        assert seen["environment"] is None
        assert "/left/by/a/model" not in seen["sys_path"]
        # ``python -P``: neither the project folder nor the current folder is on the path
        assert str(project) not in seen["sys_path"] and "" not in seen["sys_path"]
    assert first["pid"] != second["pid"]
    assert second["random"] != first["random"]  # numpy reseeded per worker, never 1234's draw
    # both were forked from the same template (a reaper under ``modelsnap.profiler.warm``)
    assert first["lineage"][1] == second["lineage"][1]
    assert warm.TEMPLATE_MODULE in first["lineage"][1]
    assert our_modelsnap_processes() == []


def test_failures_end_only_their_own_child_and_the_template_serves_the_next(
    project: Path,
) -> None:
    cancel = threading.Event()

    def cancel_at_fit(event) -> None:
        if event.stage == "fit":
            cancel.set()

    with warm.WorkerPool() as pool:
        failures = {}
        for estimator, settings, reason in (
            ("bad_models.Crash", {}, "crash"),
            ("bad_models.Hang", {"timeout_seconds": 4}, "timeout"),
            ("bad_models.MemoryHog", {"memory_limit_mb": 700}, "memory"),
            ("bad_models.Raises", {}, "error"),
        ):
            with pytest.raises(RunFailed) as info:
                run_model(job(project, estimator, **settings), pool=pool)
            failures[estimator] = info.value
            assert info.value.reason == reason, str(info.value)
            assert_nothing_written(project)
        assert "SIGKILL" in str(failures["bad_models.Crash"])
        assert "700 MB" in str(failures["bad_models.MemoryHog"])
        with pytest.raises(RunFailed) as info:
            run_model(
                job(project, "bad_models.Hang"), pool=pool, on_event=cancel_at_fit, cancel=cancel
            )
        assert info.value.reason == "cancelled"
        [template] = pool.pids
        snapshot = run_model(
            job(project, "bad_models.LeavesState", params={"out": "state.json"}), pool=pool
        )
        assert pool.pids == [template]
        assert snapshot["name"] == "leavesstate"
        lineage = json.loads((project / "state.json").read_text())["lineage"]
        assert warm.TEMPLATE_MODULE in lineage[1]
        # between runs only the template is left: no reaper, worker or model child
        assert [p.pid for p in our_modelsnap_processes()] == [template]
    assert our_modelsnap_processes() == []


def test_a_cancelled_run_leaves_no_template(project: Path) -> None:
    (project / "modelsnap.toml").write_text(
        (project / "modelsnap.toml")
        .read_text()
        .replace(
            'estimator = "sklearn.linear_model.LogisticRegression"',
            'estimator = "bad_models.ForksSleeper"',
        )
        .replace("params = { max_iter = 500 }", 'params = { pid_file = "child.pid", hang = true }')
    )
    cancel = threading.Event()
    seen_template = []

    def cancel_once_forked() -> None:
        while not (project / "child.pid").exists():
            time.sleep(0.05)
        seen_template.extend(
            p.pid
            for p in our_modelsnap_processes()
            if warm.TEMPLATE_MODULE in " ".join(p.cmdline())
        )
        cancel.set()

    threading.Thread(target=cancel_once_forked, daemon=True).start()
    [outcome] = run_project(load_project(project), baseline=True, cancel=cancel)
    assert outcome.reason == "cancelled"
    assert len(seen_template) >= 1
    for pid in seen_template:
        assert_gone(pid)
    assert_gone(int((project / "child.pid").read_text()))
    assert our_modelsnap_processes() == []


def test_the_template_and_its_workers_end_when_the_parent_is_killed(project: Path) -> None:
    """SIGKILL to the process holding the pool: no cleanup runs there, yet the template, the
    model's reaper, its worker and the worker's own child all end."""
    script = textwrap.dedent(f"""
        import json, sys
        from pathlib import Path
        from modelsnap.profiler import warm
        from modelsnap.profiler.runner import RunJob, run_model
        pool = warm.WorkerPool()
        def tell(event):
            if event.stage == "fit":
                Path("pool.pid").write_text(json.dumps(pool.pids))
        run_model(RunJob(root=Path({str(project)!r}), name="forks", kind="baseline",
                         spec={{"estimator": "bad_models.ForksSleeper",
                               "params": {{"pid_file": "child.pid", "hang": True}}}},
                         latency_trials=5, latency_warmup=1),
                  pool=pool, on_event=tell)
    """)
    parent = subprocess.Popen([sys.executable, "-c", script], cwd=project)
    try:
        deadline = time.monotonic() + 120
        while not ((project / "child.pid").exists() and (project / "pool.pid").exists()):
            assert time.monotonic() < deadline and parent.poll() is None, "never got to fit"
            time.sleep(0.05)
        time.sleep(0.2)
        [template] = json.loads((project / "pool.pid").read_text())
        everything = [template] + [p.pid for p in psutil.Process(template).children(True)]
        child = int((project / "child.pid").read_text())
        assert child in everything and len(everything) >= 4  # template, reaper, worker, child
        os.kill(parent.pid, signal.SIGKILL)
        parent.wait(timeout=10)
        deadline = time.monotonic() + 10
        alive = everything
        while alive and time.monotonic() < deadline:
            alive = [pid for pid in alive if _running(pid)]
            time.sleep(0.05)
        assert alive == [], f"still running after the parent died: {alive}"
    finally:
        if parent.poll() is None:
            parent.kill()


def test_cold_workers_remain_available(project: Path, monkeypatch) -> None:
    monkeypatch.setenv(warm.COLD_ENV, "1")
    snapshot = run_model(job(project, "bad_models.LeavesState", params={"out": "state.json"}))
    lineage = json.loads((project / "state.json").read_text())["lineage"]
    assert "modelsnap.profiler.reaper" in lineage[0]
    assert snapshot["name"] == "leavesstate"
    with pytest.raises(RunFailed) as info:
        run_model(job(project, "bad_models.Crash"))
    assert info.value.reason == "crash"


def test_a_live_estimator_from_python_runs_in_a_forked_worker(project: Path) -> None:
    from sklearn.tree import DecisionTreeClassifier

    with warm.WorkerPool() as pool:
        snapshot = run_model(
            RunJob(
                root=project,
                name="live",
                kind="baseline",
                estimator=DecisionTreeClassifier(max_depth=2),
                **FAST,
            ),
            pool=pool,
        )
        assert len(pool.pids) == 1
    assert snapshot["model"]["params"]["max_depth"] == 2


def _running(pid: int) -> bool:
    try:
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


def test_a_cancel_while_the_template_starts_leaves_nothing(project: Path) -> None:
    cancel = threading.Event()
    cancel.set()
    with warm.WorkerPool() as pool:
        with pytest.raises(RunFailed) as info:
            run_model(job(project, "bad_models.LeavesState"), pool=pool, cancel=cancel)
        assert info.value.reason == "cancelled"
    assert our_modelsnap_processes() == []
    assert_nothing_written(project)


def test_a_prestarted_template_serves_the_run_and_a_pool_closed_while_it_imports_leaves_nothing(
    project: Path,
) -> None:
    """``prestart`` starts the template a job's worker will come from (the Dask run does this
    while the cluster fits): the run then forks from that very process. Closed while the
    template is still importing, the pool leaves no process behind."""
    from modelsnap.profiler.runner import prestart_worker

    fast = job(project, "sklearn.tree.DecisionTreeClassifier", params={"max_depth": 2})
    with warm.WorkerPool() as pool:
        prestart_worker(fast, pool)
        prestart_worker(fast, pool)  # the same environment: still one template
        started = pool.pids
        assert len(started) == (1 if warm.warm_available() else 0)
        run_model(fast, pool=pool)
        assert pool.pids == started
    with warm.WorkerPool() as pool:
        prestart_worker(fast, pool)
    assert our_modelsnap_processes() == []


def test_a_template_that_cannot_start_leaves_the_run_to_cold_workers(
    project: Path, monkeypatch
) -> None:
    monkeypatch.setattr(warm, "TEMPLATE_MODULE", "modelsnap.profiler.no_such_module")
    with warm.WorkerPool() as pool:
        snapshot = run_model(
            job(project, "bad_models.LeavesState", params={"out": "state.json"}), pool=pool
        )
        assert pool.pids == []
    assert snapshot["name"] == "leavesstate"
    lineage = json.loads((project / "state.json").read_text())["lineage"]
    assert "modelsnap.profiler.reaper" in lineage[0]
    assert our_modelsnap_processes() == []


def test_threads_that_wait_for_one_template_at_once_each_get_their_own_worker(
    project: Path,
) -> None:
    """The tasks of one Dask worker run in threads and share its pool: several may wait for
    the template's imports at once, and each must get a worker of its own (one READY message
    for all of them, taken by one), all forked from the one template. With a blocking read of
    that message, 2 of 3 runs of this test hung."""
    from modelsnap.profiler.runner import _thread_env

    env = _thread_env(1)
    results: list[object] = []

    def ask(pool: warm.WorkerPool) -> None:
        results.append(pool.spawn(project, env, timeout=120))

    with warm.WorkerPool() as pool:
        threads = [threading.Thread(target=ask, args=(pool,)) for _ in range(8)]
        for thread in threads:
            thread.start()
        deadline = time.monotonic() + 120
        for thread in threads:
            thread.join(timeout=max(0.0, deadline - time.monotonic()))
        assert not any(thread.is_alive() for thread in threads)
        assert len(pool.pids) == 1
        workers = [r for r in results if isinstance(r, warm.WarmProcess)]
        assert len(workers) == 8 and len({w.pid for w in workers}) == 8
        for worker in workers:
            worker.stdin.close()  # no job: each worker ends on its own
            assert worker.wait(timeout=60) != 0
    assert our_modelsnap_processes() == []


def test_a_dask_workers_task_pools_are_one_per_run_and_end_with_it(project: Path) -> None:
    """``dask_executor``: the tasks of one run on one Dask worker fork from one template; the
    run's end stops it (and only its own); a task of a run already ended goes cold."""
    from modelsnap.profiler import dask_executor

    first = dask_executor._task_pool("modelsnap-run-a", 1)
    assert first is not None
    assert dask_executor._task_pool("modelsnap-run-a", 1) is first
    other = dask_executor._task_pool("modelsnap-run-b", 1)
    assert other is not None and other is not first
    assert len(first.pids) == 1 and len(other.pids) == 1
    template = first.pids[0]
    assert dask_executor.close_task_templates("modelsnap-run-a") == 1
    assert not psutil.pid_exists(template) or (
        psutil.Process(template).status() == psutil.STATUS_ZOMBIE
    )
    assert dask_executor._task_pool("modelsnap-run-a", 1) is None  # ended: cold from now on
    assert len(other.pids) == 1  # the other run's template is untouched
    assert dask_executor.close_task_templates("modelsnap-run-b") == 1
    assert dask_executor.close_task_templates("modelsnap-run-b") == 0
    assert our_modelsnap_processes() == []
