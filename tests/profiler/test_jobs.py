"""run_project (baseline first, lock required for candidates, failures isolated) and reprofile."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest

from modelsnap.core.errors import CriteriaError, ProjectFileError, RunFailed
from modelsnap.core.project.parse import load_project
from modelsnap.core.records.store import list_snapshots
from modelsnap.core.selection.criteria import lock_criteria
from modelsnap.profiler.job_specs import Overrides, settings_for
from modelsnap.profiler.jobs import reprofile, run_project

from .conftest import write_project

pytestmark = pytest.mark.slow

CANDIDATES = """
[[candidates]]
name = "tree"
estimator = "sklearn.tree.DecisionTreeClassifier"
params = { max_depth = 3, random_state = 0 }
timeout_seconds = 77

[[candidates]]
name = "broken"
estimator = "bad_models.Raises"
"""


@pytest.fixture
def full_project(tmp_path: Path) -> Path:
    return write_project(tmp_path / "full", CANDIDATES)


def test_settings_resolve_most_specific_first(full_project: Path) -> None:
    config = load_project(full_project)
    tree = config.candidates[0]
    assert settings_for(config, tree)["timeout_seconds"] == 77
    assert settings_for(config, config.baseline)["timeout_seconds"] == 120
    assert settings_for(config, tree, Overrides(timeout_seconds=5))["timeout_seconds"] == 5
    assert settings_for(config, tree)["latency_trials"] == 30


def test_candidates_wait_for_the_lock_and_failures_do_not_stop_the_others(
    full_project: Path,
) -> None:
    config = load_project(full_project)
    started, finished = [], []
    outcomes = run_project(
        config, on_start=lambda name, kind: started.append(name), on_finish=finished.append
    )
    assert started == ["logistic", "tree", "broken"]
    assert [o.reason for o in outcomes] == ["ok", "CriteriaError", "CriteriaError"]
    assert isinstance(outcomes[1].error, CriteriaError)
    assert finished == outcomes

    lock_criteria(config)
    events = []
    outcomes = run_project(
        config,
        ["tree", "broken"],
        overrides=Overrides(latency_trials=10),
        on_event=lambda name, event: events.append((name, event.stage)),
    )
    tree, broken = outcomes
    assert tree.ok and tree.snapshot["criteria_revision"] == 1
    assert tree.snapshot["resources"]["latency_trials"] == 10
    baseline_id = next(s["id"] for s in list_snapshots(full_project)[0] if s["kind"] == "baseline")
    assert tree.snapshot["gain"]["baseline_id"] == baseline_id
    assert "latency_p95_ms" in tree.snapshot["constraints"]
    assert tree.snapshot["constraints"]["latency_p95_ms"]["ok"] is True
    assert isinstance(broken.error, RunFailed) and "my message" in str(broken.error)
    assert ("tree", "fit") in events
    assert len(list_snapshots(full_project)[0]) == 2


def test_unknown_candidate_names_are_refused(full_project: Path) -> None:
    with pytest.raises(ProjectFileError, match="nope"):
        run_project(load_project(full_project), ["nope"])


def test_a_cancel_before_start_marks_the_rest_cancelled(full_project: Path) -> None:
    cancel = threading.Event()
    cancel.set()
    outcomes = run_project(load_project(full_project), baseline=True, cancel=cancel)
    assert [o.reason for o in outcomes] == ["cancelled"]
    assert list_snapshots(full_project)[0] == []


def test_reprofile_links_to_the_original_and_copies_metrics(full_project: Path) -> None:
    config = load_project(full_project)
    [first] = run_project(config, baseline=True)
    original = first.snapshot
    warnings = []
    again = reprofile(config, original["id"][:20], on_warning=warnings.append)
    assert again["reprofile_of"] == original["id"] and again["id"] != original["id"]
    assert again["metrics"] == original["metrics"]
    assert again["model"]["artifact_sha256"] == original["model"]["artifact_sha256"]
    assert again["resources"]["fit_seconds"] == original["resources"]["fit_seconds"]
    assert again["resources"]["latency_trials"] == 30
    assert not any("differ" in w for w in warnings)


def test_reprofile_refuses_a_tampered_artifact(full_project: Path) -> None:
    from modelsnap.core.errors import IntegrityError

    config = load_project(full_project)
    [first] = run_project(config, baseline=True)
    artifact = full_project / first.snapshot["model"]["artifact"]
    artifact.write_bytes(artifact.read_bytes() + b"x")
    with pytest.raises(IntegrityError):
        reprofile(config, first.snapshot["id"])
    assert len(list_snapshots(full_project)[0]) == 1
