"""Fast unit tests of the pieces around the worker: the job reader, failure classification."""

from __future__ import annotations

import json
import signal
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from modelsnap.core.errors import DataError, RunFailed
from modelsnap.profiler.runner import RunJob, _error_from_worker, _failure, _Outcome
from modelsnap.profiler.stages import WorkerError, check_predictions
from modelsnap.profiler.worker import read_job

JOB = RunJob(root=Path("/tmp"), name="m", kind="baseline", spec={"estimator": "a.B"})


@given(st.text())
def test_read_job_refuses_anything_but_a_complete_job(text: str) -> None:
    try:
        job = read_job(text)
    except WorkerError:
        return
    assert {"root", "name", "kind", "mode", "staging"} <= set(job)


@given(
    st.dictionaries(
        st.sampled_from(["root", "name", "kind", "mode", "staging", "x"]), st.text(max_size=5)
    )
)
def test_read_job_checks_keys_and_mode(job: dict) -> None:
    try:
        parsed = read_job(json.dumps(job))
    except WorkerError:
        return
    assert parsed["mode"] in ("project", "python", "reprofile")


def test_a_job_round_trips_through_the_wire(tmp_path: Path) -> None:
    wire = RunJob(
        root=tmp_path,
        name="m",
        kind="candidate",
        spec={"estimator": "a.B"},
        criteria_revision=2,
        latency_trials=9,
    ).to_wire(tmp_path / "stage")
    job = read_job(json.dumps(wire))
    assert job["mode"] == "project" and job["settings"]["latency_trials"] == 9
    assert job["criteria_revision"] == 2 and job["root"] == str(tmp_path.resolve())


def test_an_unpicklable_estimator_is_a_clear_error(tmp_path: Path) -> None:
    from modelsnap.core.errors import ModelsnapError

    job = RunJob(root=tmp_path, name="m", kind="baseline", estimator=lambda x: x)
    with pytest.raises(ModelsnapError, match="cannot be sent to the worker"):
        job.to_wire(tmp_path)


def outcome(**kwargs) -> _Outcome:
    base = {
        "final": None,
        "returncode": None,
        "killed_for": None,
        "detail": "",
        "stderr": "",
        "protocol_error": None,
    }
    return _Outcome(**{**base, **kwargs})


def test_signals_are_named() -> None:
    error = _failure(JOB, outcome(returncode=-signal.SIGSEGV, stderr="Fatal Python error"))
    assert isinstance(error, RunFailed) and error.reason == "crash"
    assert "SIGSEGV" in str(error) and "Fatal Python error" in str(error)


def test_exit_without_result_is_a_crash() -> None:
    error = _failure(JOB, outcome(returncode=3))
    assert error.reason == "crash" and "code 3" in str(error)


def test_modelsnap_errors_keep_their_class() -> None:
    error = _error_from_worker(
        JOB,
        {
            "type": "error",
            "error_type": "DataError",
            "message": "no column 'x'",
            "modelsnap": True,
            "where": "data.csv",
            "hint": "fix it",
        },
    )
    assert isinstance(error, DataError) and error.where == "data.csv" and error.exit_code == 2


def test_memory_error_is_a_memory_failure() -> None:
    error = _error_from_worker(
        JOB, {"type": "error", "error_type": "MemoryError", "message": "", "stage": "fit"}
    )
    assert isinstance(error, RunFailed) and error.reason == "memory"


def test_a_non_modelsnap_class_name_is_not_trusted() -> None:
    error = _error_from_worker(
        JOB,
        {
            "type": "error",
            "error_type": "DataError",
            "message": "from a user's own DataError class",
        },
    )
    assert isinstance(error, RunFailed) and "DataError: from a user's" in str(error)


@pytest.mark.parametrize("pred", [[1, 2], [[1, 2], [3, 4], [5, 6]], 5])
def test_prediction_shapes_are_checked(pred) -> None:
    with pytest.raises(WorkerError, match="predict returned shape"):
        check_predictions(pred, 3, "test", "m")


def test_a_column_vector_is_accepted() -> None:
    assert check_predictions([[1], [2], [3]], 3, "test", "m").shape == (3,)
