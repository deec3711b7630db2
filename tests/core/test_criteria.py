"""The criteria lock: revisions are append-only, and changes are named until locked again."""

from __future__ import annotations

import subprocess
import sys
import tomllib
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from modelsnap.core.errors import CriteriaError
from modelsnap.core.files import dumps_toml
from modelsnap.core.project.edit import update_project, write_new_project
from modelsnap.core.project.parse import load_project
from modelsnap.core.selection.criteria import (
    REVISIONS_FILE,
    criteria_record,
    criteria_sha256,
    current_revision,
    ensure_locked,
    lock_criteria,
    revisions,
    unfillable,
)


def write_data(path: Path, rows: int = 40) -> None:
    lines = ["x,sex,y"] + [f"{i},{'fm'[i % 2]},{'ab'[i % 3 == 0]}" for i in range(rows)]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


@pytest.fixture()
def config(tmp_path: Path):
    write_data(tmp_path / "d.csv")
    return write_new_project(
        tmp_path, data_source="d.csv", target="y", task="classification", sensitive=["sex"]
    )


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
        "from modelsnap.core.selection.criteria import lock_criteria\n"
        "from modelsnap.core.project.parse import load_project\n"
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


# ------------------------------------------------------------------ criteria that can be filled


def _project(root: Path, data: dict, criteria: list, constraints: dict | None = None):
    from modelsnap.core.project.parse import parse_project

    doc = {
        "data": {"source": "d.csv", "target": "y", **data},
        "criteria": criteria,
        "constraints": constraints or {},
    }
    (root / "modelsnap.toml").write_bytes(dumps_toml(doc))
    return parse_project(doc, root)


def _refused(config, *fragments: str) -> str:
    with pytest.raises(CriteriaError) as info:
        lock_criteria(config)
    message = str(info.value)
    assert info.value.exit_code == 2
    for fragment in fragments:
        assert fragment in message, message
    assert not (config.root / REVISIONS_FILE).exists()
    return message


def test_fairness_without_a_sensitive_column_cannot_be_locked(tmp_path: Path) -> None:
    write_data(tmp_path / "d.csv")
    config = _project(
        tmp_path,
        {"task": "classification"},
        [{"metric": "f1", "weight": 0.5}, {"metric": "fairness_gap", "weight": 0.5}],
        {"max_fairness_gap": 0.1},
    )
    _refused(
        config,
        "[[criteria]] #2: fairness_gap needs a sensitive column",
        "[constraints].max_fairness_gap: fairness_gap needs a sensitive column",
        "sensitive = [...]",
    )
    # The cheap form (no data read) that the ranking and the TUI can call says the same.
    assert unfillable(config) == [
        "[[criteria]] #2: fairness_gap needs a sensitive column, and [data].sensitive is empty",
        "[constraints].max_fairness_gap: fairness_gap needs a sensitive column, and "
        "[data].sensitive is empty",
    ]
    fixed = _project(
        tmp_path,
        {"task": "classification", "sensitive": ["sex"]},
        [{"metric": "f1", "weight": 0.5}, {"metric": "fairness_gap", "weight": 0.5}],
        {"max_fairness_gap": 0.1},
    )
    assert lock_criteria(fixed) == 1


def test_metrics_of_the_other_task_cannot_be_locked(tmp_path: Path) -> None:
    write_data(tmp_path / "d.csv")  # y holds labels a/b: classification, inferred from the data
    config = _project(
        tmp_path,
        {},
        [{"metric": "f1", "weight": 1}, {"metric": "r2", "weight": 1}],
        {"min_metric": {"r2": 0.5}},
    )
    _refused(
        config,
        "[[criteria]] #2: r2 is a regression metric, but the task is classification",
        "[constraints].min_metric.r2: r2 is a regression metric",
    )
    numbers = tmp_path / "n"
    numbers.mkdir()
    (numbers / "d.csv").write_text(
        "x,y\n" + "".join(f"{i},{i * 0.37:.3f}\n" for i in range(60)), encoding="utf-8"
    )
    regression = _project(
        numbers,
        {},
        [{"metric": "roc_auc", "weight": 1}, {"metric": "mae", "weight": 1}],
        {"min_metric": {"f1": 0.5}},
    )
    message = _refused(
        regression,
        "[[criteria]] #1: roc_auc is a classification metric, but the task is regression",
        "[constraints].min_metric.f1: f1 is a classification metric",
        # the primary metric defaults to f1 when [data].task is left out
        "[selection].primary_metric: f1 is a classification metric",
    )
    assert "mae" not in message


def test_brier_needs_two_classes(tmp_path: Path) -> None:
    (tmp_path / "d.csv").write_text(
        "x,y\n" + "".join(f"{i},{'abc'[i % 3]}\n" for i in range(30)), encoding="utf-8"
    )
    config = _project(
        tmp_path,
        {"task": "classification"},
        [{"metric": "f1", "weight": 1}, {"metric": "roc_auc", "weight": 1}],
        {"min_metric": {"brier": 0.2}},
    )
    message = _refused(
        config,
        "[constraints].min_metric.brier: brier is defined for two classes, but the target has 3",
    )
    assert "roc_auc" not in message  # one-vs-rest: multiclass projects have it


def test_edge_pass_rate_needs_edge_cases(tmp_path: Path) -> None:
    write_data(tmp_path / "d.csv")
    config = _project(
        tmp_path, {"task": "classification"}, [{"metric": "edge_pass_rate", "weight": 1}]
    )
    _refused(config, "edge_pass_rate needs edge cases, and [data].edge_cases is not set")


def test_unknown_target_sensitive_column_or_positive_label_cannot_be_locked(
    tmp_path: Path,
) -> None:
    write_data(tmp_path / "d.csv")
    criteria = [{"metric": "f1", "weight": 1}]
    _refused(
        _project(tmp_path, {"target": "label", "task": "classification"}, criteria),
        "[data].target: column 'label' is not in d.csv (columns: x, sex, y)",
    )
    _refused(
        _project(tmp_path, {"task": "classification", "sensitive": ["gender"]}, criteria),
        "[data].sensitive: column(s) 'gender' not in d.csv",
    )
    _refused(
        _project(tmp_path, {"task": "classification", "positive_label": "yes"}, criteria),
        "positive_label 'yes' is not a class of 'y'",
        "classes: a, b",
    )
    _refused(
        _project(tmp_path, {"source": "missing.csv", "task": "classification"}, criteria),
        "cannot check the criteria against the data: data file not found",
    )
    assert (
        lock_criteria(
            _project(tmp_path, {"task": "classification", "positive_label": "b"}, criteria)
        )
        == 1
    )


def test_bundled_data_sets_are_checked_with_their_loader(tmp_path: Path) -> None:
    config = _project(
        tmp_path,
        {"source": "sklearn:iris", "target": "target"},
        [{"metric": "f1", "weight": 1}, {"metric": "brier", "weight": 1}],
    )
    _refused(config, "brier is defined for two classes, but the target has 3")
