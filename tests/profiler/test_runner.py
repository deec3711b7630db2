"""The worker and its parent, on real models in real subprocesses: success, and every way to fail.

Each failure must be reported with its reason, leave the caller running and write nothing:
no snapshot, no artifact, no predictions, no staging folder.
"""

from __future__ import annotations

import contextlib
import threading
import time
import tomllib
from pathlib import Path

import psutil
import pytest

from modelsnap.core.errors import DataError, ModelsnapError, RunFailed
from modelsnap.core.files import sha256_file
from modelsnap.profiler.events import STAGES
from modelsnap.profiler.runner import RunJob, run_model

pytestmark = pytest.mark.slow

FAST = {"latency_trials": 20, "latency_warmup": 2, "batch_size": 16}


def job(root: Path, estimator: str, *, params: dict | None = None, **kwargs) -> RunJob:
    settings = {**FAST, **kwargs}
    name = settings.pop("name", estimator.rsplit(".", 1)[-1].lower())
    return RunJob(
        root=root,
        name=name,
        kind=settings.pop("kind", "baseline"),
        spec={"estimator": estimator, "params": params or {}},
        **settings,
    )


def assert_nothing_written(root: Path) -> None:
    for folder in ("snapshots", "models", "predictions"):
        assert not any((root / folder).glob("*")), f"{folder}/ is not empty"
    staging = root / ".modelsnap" / "tmp"
    assert not any(staging.glob("*")) if staging.exists() else True


def assert_gone(pid: int) -> None:
    with contextlib.suppress(psutil.NoSuchProcess):
        assert psutil.Process(pid).status() == psutil.STATUS_ZOMBIE


def test_a_good_model_is_profiled_and_recorded(project: Path) -> None:
    seen = []
    snapshot = run_model(
        job(project, "sklearn.linear_model.LogisticRegression", name="logistic"),
        on_event=seen.append,
    )
    on_disk = tomllib.loads((project / "snapshots" / f"{snapshot['id']}.toml").read_text())
    assert on_disk == snapshot
    assert (
        sha256_file(project / snapshot["model"]["artifact"]) == snapshot["model"]["artifact_sha256"]
    )
    assert (
        sha256_file(project / snapshot["predictions"]["path"]) == snapshot["predictions"]["sha256"]
    )
    res = snapshot["resources"]
    assert res["latency_trials"] == 20 and res["latency_warmup"] == 2 and res["batch_size"] == 16
    assert (
        0
        < res["latency_min_ms"]
        <= res["latency_p50_ms"]
        <= res["latency_p95_ms"]
        <= res["latency_p99_ms"]
    )
    assert res["throughput_rows_per_s"] > 0 and res["fit_seconds"] > 0
    assert res["memory_method"] in ("vmhwm-reset", "psutil-rss-1ms")
    assert res["peak_memory_mb"] >= res["peak_memory_fit_mb"] >= 0
    assert res["size_mb"] == pytest.approx(snapshot["model"]["size_bytes"] / 2**20, rel=1e-4)
    assert res["threads"] == {"blas": 1, "openmp": 1, "n_jobs": 1}
    assert snapshot["metrics"]["test"]["accuracy"] > 0.6
    assert snapshot["metrics"]["test_ci_method"] == "multinomial"  # a small test split
    assert snapshot["metrics"]["test_ci_resamples"] == 1000
    assert snapshot["kind"] == "baseline" and snapshot["criteria_revision"] == 0
    stages = [e.stage for e in seen]
    order = [s for s in STAGES if s in stages]
    assert order == sorted(set(stages), key=STAGES.index)
    assert {"load", "split", "fit", "evaluate", "latency", "batch", "save"} <= set(stages)
    assert stages.index("fit") < stages.index("latency") < stages.index("save")
    assert not any((project / ".modelsnap" / "tmp").glob("*"))


def test_the_models_own_exception_is_reported(project: Path) -> None:
    with pytest.raises(RunFailed) as info:
        run_model(job(project, "bad_models.Raises"))
    assert info.value.reason == "error"
    assert "ValueError: my message" in str(info.value)
    assert "raises" in str(info.value) and "fit" in str(info.value)
    assert_nothing_written(project)


def test_a_crash_is_named_by_its_signal(project: Path) -> None:
    with pytest.raises(RunFailed) as info:
        run_model(job(project, "bad_models.Crash"))
    assert info.value.reason == "crash"
    assert "SIGKILL" in str(info.value)
    assert_nothing_written(project)


def test_a_hanging_model_times_out(project: Path) -> None:
    with pytest.raises(RunFailed) as info:
        run_model(job(project, "bad_models.Hang", timeout_seconds=4))
    assert info.value.reason == "timeout"
    assert "4 s" in str(info.value) and "--timeout" in str(info.value)
    assert_nothing_written(project)


def test_a_memory_hog_is_stopped_at_the_ceiling(project: Path) -> None:
    with pytest.raises(RunFailed) as info:
        run_model(job(project, "bad_models.MemoryHog", memory_limit_mb=700))
    assert info.value.reason == "memory"
    assert "700 MB" in str(info.value)
    assert_nothing_written(project)


def test_wrong_output_shape_is_refused(project: Path) -> None:
    with pytest.raises(RunFailed) as info:
        run_model(job(project, "bad_models.WrongShape"))
    assert info.value.reason == "error"
    assert "shape (61,) for 60 validation rows" in str(info.value)
    assert_nothing_written(project)


def test_no_predict_proba_is_a_warning_when_nothing_needs_probabilities(project: Path) -> None:
    warnings = []
    snapshot = run_model(job(project, "bad_models.NoProba"), on_warning=warnings.append)
    assert any("no predict_proba" in w for w in warnings)
    assert "roc_auc" not in snapshot["metrics"]["validation"]
    assert "accuracy" in snapshot["metrics"]["validation"]


def test_no_predict_proba_fails_when_a_criterion_needs_probabilities(project: Path) -> None:
    toml = project / "modelsnap.toml"
    toml.write_text(
        toml.read_text().replace("max_latency_p95_ms = 1000.0", "min_metric = { roc_auc = 0.5 }")
    )
    with pytest.raises(RunFailed) as info:
        run_model(job(project, "bad_models.NoProba"))
    assert info.value.reason == "error"
    assert "no predict_proba" in str(info.value) and "roc_auc" in str(info.value)
    assert_nothing_written(project)


def test_a_forked_child_does_not_outlive_a_successful_run(project: Path) -> None:
    pid_file = project / "child.pid"
    run_model(job(project, "bad_models.ForksSleeper", params={"pid_file": str(pid_file)}))
    assert_gone(int(pid_file.read_text()))


def test_stopping_a_run_kills_the_whole_process_group(project: Path) -> None:
    pid_file = project / "child.pid"
    cancel = threading.Event()

    def stop_once_forked() -> None:
        while not pid_file.exists():
            time.sleep(0.05)
        cancel.set()

    watcher = threading.Thread(target=stop_once_forked, daemon=True)
    watcher.start()
    with pytest.raises(RunFailed) as info:
        run_model(
            job(
                project,
                "bad_models.ForksSleeper",
                timeout_seconds=120,
                params={"pid_file": str(pid_file), "hang": True},
            ),
            cancel=cancel,
        )
    assert info.value.reason == "cancelled"
    assert_gone(int(pid_file.read_text()))
    assert_nothing_written(project)


def test_cancel_stops_the_run(project: Path) -> None:
    cancel = threading.Event()

    def on_event(event) -> None:
        if event.stage == "fit":
            cancel.set()

    with pytest.raises(RunFailed) as info:
        run_model(job(project, "bad_models.Hang"), on_event=on_event, cancel=cancel)
    assert info.value.reason == "cancelled"
    assert_nothing_written(project)


def test_printing_models_do_not_corrupt_the_protocol(project: Path) -> None:
    snapshot = run_model(job(project, "bad_models.Prints"))
    assert snapshot["name"] == "prints"


def test_bad_data_keeps_its_own_error_class(project: Path) -> None:
    toml = project / "modelsnap.toml"
    toml.write_text(toml.read_text().replace('target = "label"', 'target = "nope"'))
    with pytest.raises(DataError) as info:
        run_model(job(project, "sklearn.linear_model.LogisticRegression"))
    assert "nope" in str(info.value)
    assert info.value.exit_code == 2
    assert_nothing_written(project)


def test_an_estimator_that_does_not_import_is_reported(project: Path) -> None:
    with pytest.raises(ModelsnapError) as info:
        run_model(job(project, "bad_models.DoesNotExist"))
    assert "DoesNotExist" in str(info.value)
    assert_nothing_written(project)


@pytest.mark.parametrize(
    "settings",
    [
        {"timeout_seconds": 0},
        {"memory_limit_mb": -1},
        {"latency_trials": 0},
        {"batch_size": 0},
        {"threads": 0},
    ],
)
def test_impossible_settings_are_refused_before_spawning(project: Path, settings) -> None:
    with pytest.raises(ModelsnapError):
        run_model(job(project, "sklearn.linear_model.LogisticRegression", **settings))
    assert_nothing_written(project)


def test_grid_search_is_recorded(project: Path) -> None:
    spec_job = job(project, "sklearn.tree.DecisionTreeClassifier", params={"random_state": 0})
    spec_job.spec["grid"] = {"max_depth": [1, 3]}
    snapshot = run_model(spec_job)
    search = snapshot["model"]["search"]
    assert search["grid"] == {"max_depth": [1, 3]} and search["metric"] == "f1"
    assert len(search["scores"]) == 2
    assert search["best"]["max_depth"] == snapshot["model"]["params"]["max_depth"]


def test_a_live_unfitted_estimator_from_python_is_fitted_behind_the_frozen_preprocessing(
    project: Path,
) -> None:
    from sklearn.tree import DecisionTreeClassifier

    live = RunJob(
        root=project,
        name="from_python",
        kind="baseline",
        estimator=DecisionTreeClassifier(max_depth=2, random_state=0),
        **FAST,
    )
    snapshot = run_model(live)
    assert snapshot["model"]["source"] == "python"
    assert snapshot["model"]["estimator"] == "sklearn.tree._classes.DecisionTreeClassifier"
    assert snapshot["model"]["params"]["max_depth"] == 2
    assert snapshot["resources"]["fit_seconds"] > 0


def test_a_fitted_pipeline_from_python_is_used_as_it_is(project: Path) -> None:
    import pandas as pd
    from sklearn.compose import make_column_transformer
    from sklearn.impute import SimpleImputer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import OneHotEncoder

    frame = pd.read_csv(project / "data.csv")
    pipeline = make_pipeline(
        make_column_transformer((OneHotEncoder(), ["colour"]), (SimpleImputer(), ["x1", "x2"])),
        LogisticRegression(),
    ).fit(frame.drop(columns="label"), frame["label"])
    warnings = []
    snapshot = run_model(
        RunJob(root=project, name="fitted", kind="baseline", estimator=pipeline, **FAST),
        on_warning=warnings.append,
    )
    assert snapshot["model"]["estimator"].endswith("LogisticRegression")
    assert snapshot["resources"]["fit_seconds"] == 0.0
    assert snapshot["resources"]["fit_measured"] is False
    assert any("came fitted" in w for w in warnings)
