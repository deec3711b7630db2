"""The criteria lock: revisions are append-only, and changes are named until locked again."""

from __future__ import annotations

import subprocess
import sys
import tomllib
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from modelsnap.core.criteria import (
    REVISIONS_FILE,
    criteria_record,
    criteria_sha256,
    current_revision,
    ensure_locked,
    lock_criteria,
    revisions,
)
from modelsnap.core.errors import CriteriaError
from modelsnap.core.files import dumps_toml
from modelsnap.core.project import load_project, update_project, write_new_project


@pytest.fixture()
def config(tmp_path: Path):
    return write_new_project(tmp_path, data_source="d.csv", target="y", task="classification")


def test_unlocked_project_refuses_candidates(config) -> None:
    assert current_revision(config.root) is None
    with pytest.raises(CriteriaError, match="criteria are not locked") as info:
        ensure_locked(config)
    assert "modelsnap lock" in str(info.value) and info.value.exit_code == 2


def test_lock_records_revision_and_is_idempotent(config) -> None:
    assert lock_criteria(config, reason="initial", locked_by="ana") == 1
    assert ensure_locked(config) == 1
    assert lock_criteria(config, reason="again") == 1  # unchanged criteria record nothing new
    doc = tomllib.loads((config.root / REVISIONS_FILE).read_text(encoding="utf-8"))
    assert doc["schema"] == 1 and len(doc["revision"]) == 1
    entry = doc["revision"][0]
    assert entry["locked_by"] == "ana" and entry["reason"] == "initial"
    assert entry["locked_at"].endswith("+00:00")
    assert entry["primary_metric"] == "f1"
    assert entry["criteria"][0] == {"metric": "f1", "weight": 0.4, "direction": "max"}
    assert entry["constraints"]["max_latency_p95_ms"] == 50.0
    assert entry["sha256"] == criteria_sha256(criteria_record(config))


def test_changes_are_named_and_new_revision_appends(config) -> None:
    lock_criteria(config)
    first = (config.root / REVISIONS_FILE).read_text(encoding="utf-8")
    changed = update_project(
        config.root,
        {
            "constraints": {"max_size_mb": 10.0, "max_fairness_gap": None},
            "selection": {"primary_metric": "recall"},
            "criteria": [{"metric": "f1", "weight": 0.5}, {"metric": "size_mb", "weight": 0.5}],
        },
    )
    with pytest.raises(CriteriaError) as info:
        ensure_locked(changed)
    message = str(info.value)
    assert "criteria changed since revision 1" in message
    for fragment in (
        "primary_metric f1 -> recall",
        "criterion f1 weight 0.4 -> 0.5",
        "criterion latency_p95_ms removed",
        "constraint max_size_mb 100.0 -> 10.0",
        "constraint max_fairness_gap removed",
        "modelsnap lock",
    ):
        assert fragment in message
    assert lock_criteria(changed, reason="tighter size") == 2
    assert ensure_locked(load_project(config.root)) == 2
    text = (config.root / REVISIONS_FILE).read_text(encoding="utf-8")
    assert [r["revision"] for r in revisions(config.root)] == [1, 2]
    assert tomllib.loads(text)["revision"][0] == tomllib.loads(first)["revision"][0]


def test_integer_and_float_weights_lock_the_same(config) -> None:
    a = update_project(config.root, {"criteria": [{"metric": "f1", "weight": 1}]})
    lock_criteria(a)
    b = update_project(config.root, {"criteria": [{"metric": "f1", "weight": 1.0}]})
    assert ensure_locked(b) == 1


def test_no_criteria_cannot_be_locked(config) -> None:
    empty = update_project(config.root, {"criteria": []})
    with pytest.raises(CriteriaError, match="no \\[\\[criteria\\]\\]"):
        lock_criteria(empty)
    assert not (config.root / REVISIONS_FILE).exists()


def test_malformed_revisions_file_is_a_clear_error(config) -> None:
    (config.root / REVISIONS_FILE).write_text(
        "schema = 1\n[[revision]]\nlocked_at = 3\n", encoding="utf-8"
    )
    with pytest.raises(CriteriaError, match="integer 'revision'"):
        ensure_locked(config)
    (config.root / REVISIONS_FILE).write_text("[[revision", encoding="utf-8")
    with pytest.raises(CriteriaError, match="not valid TOML"):
        current_revision(config.root)


def test_concurrent_locks_of_different_criteria_get_distinct_revisions(config) -> None:
    lock_criteria(config)
    script = (
        "import sys\n"
        "from pathlib import Path\n"
        "from modelsnap.core.criteria import lock_criteria\n"
        "from modelsnap.core.project import load_project\n"
        "config = load_project(Path(sys.argv[1]))\n"
        "config.constraints['max_size_mb'] = float(sys.argv[2])\n"
        "print(lock_criteria(config))\n"
    )
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", script, str(config.root), str(size)],
            stdout=subprocess.PIPE,
            text=True,
        )
        for size in (1, 2, 3)
    ]
    numbers = sorted(int(p.communicate()[0]) for p in procs)
    assert numbers == [2, 3, 4]
    assert [r["revision"] for r in revisions(config.root)] == [1, 2, 3, 4]


scalars = st.one_of(
    st.integers(-5, 5), st.text(max_size=6), st.booleans(), st.floats(allow_nan=False)
)
values = st.recursive(
    scalars,
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3)
    ),
    max_leaves=8,
)
revision_entries = st.fixed_dictionaries(
    {},
    optional={
        "revision": st.integers(0, 5) | scalars,
        "primary_metric": st.sampled_from(["f1", "r2"]) | scalars,
        "criteria": st.lists(
            st.fixed_dictionaries(
                {"metric": st.sampled_from(["f1", "size_mb"]) | scalars},
                optional={"weight": values, "direction": values},
            ),
            max_size=3,
        )
        | values,
        "constraints": st.dictionaries(
            st.sampled_from(["max_size_mb", "min_metric"]), values, max_size=2
        )
        | values,
        "sha256": st.text(max_size=4),
    },
)


@settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(entries=st.lists(revision_entries, max_size=3) | values)
def test_any_revisions_file_gives_a_revision_or_a_criteria_error(config, entries) -> None:
    path = config.root / REVISIONS_FILE
    path.write_bytes(dumps_toml({"schema": 1, "revision": entries}))
    try:
        number = ensure_locked(config)
    except CriteriaError as error:
        assert str(error)
    else:
        assert isinstance(number, int)
