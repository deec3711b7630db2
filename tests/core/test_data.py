"""Data loading and the frozen split: every bad input is a DataError naming file and column."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import tomli_w
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from modelsnap.core.errors import DataError
from modelsnap.core.evaluation.data import (
    SPLIT_FILE,
    ensure_split,
    infer_task,
    load_dataset,
    read_split,
    split_sha256,
)
from modelsnap.core.files import sha256_file
from modelsnap.core.project.parse import load_project
from modelsnap.core.project.schema import PROJECT_FILE


def project(root: Path, csv: str | None, **data) -> object:
    if csv is not None:
        (root / "data.csv").write_text(csv, encoding="utf-8")
    table = {"source": "data.csv", "target": "y", **data}
    (root / PROJECT_FILE).write_text(tomli_w.dumps({"data": table}), encoding="utf-8")
    return load_project(root)


def frame_csv(n: int = 100, seed: int = 0, classes=("no", "yes")) -> str:
    rng = np.random.default_rng(seed)
    frame = pd.DataFrame(
        {
            "id": np.arange(n),
            "x": rng.normal(size=n),
            "colour": rng.choice(["red", "blue", None], size=n),
            "sex": rng.choice(["F", "M"], size=n),
            "y": rng.choice(list(classes), size=n),
        }
    )
    return frame.to_csv(index=False)


def test_loads_features_target_classes_and_hash(tmp_path: Path) -> None:
    config = project(tmp_path, frame_csv(), drop=["id"], sensitive=["sex"])
    dataset = load_dataset(config)
    assert list(dataset.frame.columns) == ["x", "colour", "sex"]
    assert dataset.task == "classification" and dataset.classes == ["no", "yes"]
    assert dataset.positive_label == "yes"
    assert dataset.dataset_sha256 == sha256_file(tmp_path / "data.csv")
    assert list(dataset.sensitive.columns) == ["sex"]


def test_sensitive_column_kept_for_fairness_even_when_dropped(tmp_path: Path) -> None:
    config = project(tmp_path, frame_csv(), drop=["id", "sex"], sensitive=["sex"])
    dataset = load_dataset(config)
    assert "sex" not in dataset.frame.columns and list(dataset.sensitive.columns) == ["sex"]


@pytest.mark.parametrize(
    ("values", "task"),
    [
        (["a", "b", "a"], "classification"),
        ([0, 1, 1, 0], "classification"),
        ([True, False, True], "classification"),
        ([1.0, 2.0, 3.0], "classification"),
        (list(range(25)), "regression"),
        ([0.5, 1.5, 2.25], "regression"),
    ],
)
def test_infer_task(values, task) -> None:
    assert infer_task(pd.Series(values)) == task


def test_integer_labels_become_strings_and_positive_defaults_to_one(tmp_path: Path) -> None:
    config = project(tmp_path, frame_csv(classes=(0, 1)))
    dataset = load_dataset(config)
    assert dataset.classes == ["0", "1"] and dataset.positive_label == "1"
    assert set(dataset.target.unique()) == {"0", "1"}


def test_multiclass_has_no_positive_label(tmp_path: Path) -> None:
    dataset = load_dataset(project(tmp_path, frame_csv(classes=("a", "b", "c"))))
    assert dataset.classes == ["a", "b", "c"] and dataset.positive_label is None


@pytest.mark.parametrize(
    ("csv", "data", "fragment"),
    [
        (None, {}, "data file not found"),
        ("", {}, "the CSV file is empty"),
        ("x,y\n", {}, "no data rows"),
        ('x,y\n1,"a\n', {}, "cannot be parsed"),
        (frame_csv(), {"target": "label"}, "target column 'label' not found"),
        (frame_csv(), {"drop": ["nope"]}, "[data].drop names unknown column(s) nope"),
        (frame_csv(), {"sensitive": ["gender"]}, "[data].sensitive names unknown"),
        ("x,y\n1,a\n2,a\n3,a\n", {}, "has one class only"),
        (frame_csv(), {"task": "regression"}, "is not numeric"),
        ("x,y\n1,a\n2,\n3,b\n", {}, "1 missing value"),
        (frame_csv(), {"positive_label": "maybe"}, "positive_label 'maybe' is not a class"),
        ("y\na\nb\n", {}, "no feature columns remain"),
        (
            "x,y\n1,0.5\n2,1.5\n",
            {"task": "regression", "positive_label": "1"},
            "positive_label is for",
        ),
        (
            "x,y\n1,0.5\n2,inf\n3,1.5\n4,-inf\n5,2.5\n",
            {"task": "regression"},
            "target column 'y' has 2 infinite value(s) (inf or -inf) in data row(s) 2, 4",
        ),
        ("x,y\n1,0.5\n2,inf\n3,1.5\n", {}, "has 1 infinite value(s)"),
        ("x,y\n1,1\n2,-inf\n3,0\n", {"task": "classification"}, "has 1 infinite value(s)"),
    ],
)
def test_bad_data(tmp_path: Path, csv, data, fragment) -> None:
    config = project(tmp_path, csv, **data)
    with pytest.raises(DataError) as info:
        load_dataset(config)
    assert fragment in str(info.value)
    assert str(tmp_path / "data.csv") in str(info.value)
    assert info.value.exit_code == 2


def test_huge_float_labels_stay_distinct_classes(tmp_path: Path) -> None:
    rows = "".join(f"{i},{'1e308' if i % 2 else '-1e308'}\n" for i in range(12))
    dataset = load_dataset(project(tmp_path, "x,y\n" + rows, task="classification"))
    assert dataset.classes == ["-1e+308", "1e+308"]  # not both cast to the same int64
    small = load_dataset(project(tmp_path, "x,y\n1,1.0\n2,0.0\n3,1.0\n4,0.0\n"))
    assert small.classes == ["0", "1"]


@pytest.mark.parametrize(
    "csv",
    [
        frame_csv(),
        frame_csv(classes=(0, 1)),
        frame_csv(classes=("a", "b", "c")),
        "x,y\n" + "".join(f"{i},{i / 7:.4f}\n" for i in range(40)),
    ],
)
def test_data_facts_read_only_the_target_and_agree_with_a_full_load(tmp_path: Path, csv) -> None:
    from modelsnap.core.evaluation.data import data_facts

    config = project(tmp_path, csv)
    facts, dataset = data_facts(config), load_dataset(config)
    assert facts.columns == pd.read_csv(tmp_path / "data.csv", nrows=0).columns.tolist()
    assert (facts.task, facts.classes, facts.positive_label) == (
        dataset.task,
        dataset.classes,
        dataset.positive_label,
    )
    assert data_facts(project(tmp_path, csv, target="label")).task is None


def test_unknown_target_lists_available_columns(tmp_path: Path) -> None:
    config = project(tmp_path, frame_csv(), target="label")
    with pytest.raises(DataError, match="available columns: id, x, colour, sex, y"):
        load_dataset(config)


def test_non_utf8_and_binary_files(tmp_path: Path) -> None:
    config = project(tmp_path, None)
    (tmp_path / "data.csv").write_bytes(b"x,y\n\xff\xfe\x00\x01,\x80\n")
    with pytest.raises(DataError):
        load_dataset(config)
    (tmp_path / "data.csv").unlink()
    (tmp_path / "data.csv").mkdir()
    with pytest.raises(DataError, match="not a regular file"):
        load_dataset(config)


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(content=st.binary(max_size=300) | st.text(max_size=300).map(lambda t: t.encode("utf-8")))
def test_any_file_content_loads_or_gives_data_error(tmp_path: Path, content: bytes) -> None:
    config = project(tmp_path, None)
    (tmp_path / "data.csv").write_bytes(content)
    try:
        dataset = load_dataset(config)
    except DataError as error:
        assert "data.csv" in str(error)
    else:
        assert len(dataset.frame) == len(dataset.target) > 0


def test_sklearn_dataset_is_bundled_and_hashed_canonically(tmp_path: Path) -> None:
    config = project(tmp_path, None, source="sklearn:iris", target="target")
    first = load_dataset(config)
    assert first.task == "classification" and first.classes == ["setosa", "versicolor", "virginica"]
    assert load_dataset(config).dataset_sha256 == first.dataset_sha256
    regression = load_dataset(project(tmp_path, None, source="sklearn:diabetes", target="target"))
    assert regression.task == "regression" and regression.classes is None


def test_split_is_frozen_stratified_and_verified(tmp_path: Path) -> None:
    config = project(tmp_path, frame_csv(n=400), drop=["id"])
    dataset = load_dataset(config)
    split = ensure_split(config, dataset)
    sizes = split.sizes()
    assert sizes["n_train"] + sizes["n_validation"] + sizes["n_test"] == 400
    assert abs(sizes["n_test"] - 80) <= 2 and abs(sizes["n_validation"] - 80) <= 2
    everything = np.concatenate([split.train, split.validation, split.test])
    assert sorted(everything.tolist()) == list(range(400))
    rate = (dataset.target == "yes").mean()
    for part in (split.validation, split.test):
        assert abs((dataset.target.iloc[part] == "yes").mean() - rate) < 0.03
    stored = np.load(tmp_path / SPLIT_FILE)
    assert stored["train"].dtype == np.int64
    expected = split_sha256(stored["train"], stored["validation"], stored["test"])
    assert split.split_sha256 == expected == read_split(tmp_path).split_sha256
    bytes_before = (tmp_path / SPLIT_FILE).read_bytes()
    again = ensure_split(load_project(tmp_path), load_dataset(load_project(tmp_path)))
    assert again.split_sha256 == split.split_sha256
    assert (tmp_path / SPLIT_FILE).read_bytes() == bytes_before


def test_split_sha256_definition() -> None:
    import hashlib

    a, b, c = np.array([0, 3]), np.array([1]), np.array([2])
    raw = b"".join(np.asarray(x, dtype="<i8").tobytes() for x in (a, b, c))
    assert split_sha256(a, b, c) == hashlib.sha256(raw).hexdigest()


def test_changed_data_is_refused(tmp_path: Path) -> None:
    config = project(tmp_path, frame_csv(n=100))
    ensure_split(config, load_dataset(config))
    (tmp_path / "data.csv").write_text(frame_csv(n=120), encoding="utf-8")
    with pytest.raises(
        DataError, match="the data changed: split.npz covers 100 rows, the data set has 120"
    ):
        ensure_split(config, load_dataset(config))
    (tmp_path / "data.csv").write_text(frame_csv(n=100, seed=5), encoding="utf-8")
    with pytest.raises(DataError, match="dataset sha256 differs"):
        ensure_split(config, load_dataset(config))


def test_changed_split_settings_are_refused(tmp_path: Path) -> None:
    config = project(tmp_path, frame_csv(n=100))
    ensure_split(config, load_dataset(config))
    changed = project(tmp_path, None, seed=7, test_fraction=0.3)
    with pytest.raises(DataError, match="seed 42 \\(frozen\\) vs 7") as info:
        ensure_split(changed, load_dataset(changed))
    assert "test_fraction 0.2 (frozen) vs 0.3" in str(info.value)


def test_corrupt_split_file(tmp_path: Path) -> None:
    config = project(tmp_path, frame_csv(n=50))
    (tmp_path / SPLIT_FILE).write_bytes(b"not a zip")
    with pytest.raises(DataError, match="cannot be read"):
        ensure_split(config, load_dataset(config))
    np.savez(
        tmp_path / SPLIT_FILE,
        train=np.arange(30),
        validation=np.arange(20, 30),
        test=np.arange(40, 50),
    )
    with pytest.raises(DataError, match="overlap"):
        ensure_split(config, load_dataset(config))
    np.savez(tmp_path / SPLIT_FILE, train=np.arange(30), validation=np.arange(30, 40))
    with pytest.raises(DataError, match="no integer array 'test'"):
        ensure_split(config, load_dataset(config))


def test_tiny_class_cannot_be_stratified(tmp_path: Path) -> None:
    csv = "x,y\n" + "".join(f"{i},a\n" for i in range(20)) + "1,b\n2,b\n"
    config = project(tmp_path, csv)
    with pytest.raises(DataError, match="class 'b' has 2 row"):
        ensure_split(config, load_dataset(config))
    assert not (tmp_path / SPLIT_FILE).exists()
    unstratified = project(tmp_path, None, stratify=False)
    assert len(ensure_split(unstratified, load_dataset(unstratified)).test) > 0


def test_racing_processes_share_one_split(tmp_path: Path) -> None:
    project(tmp_path, frame_csv(n=300))
    script = (
        "import sys\n"
        "from modelsnap.core.project.parse import load_project\n"
        "from modelsnap.core.evaluation.data import load_dataset, ensure_split\n"
        "c = load_project(sys.argv[1]); print(ensure_split(c, load_dataset(c)).split_sha256)\n"
    )
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", script, str(tmp_path)], stdout=subprocess.PIPE, text=True
        )
        for _ in range(3)
    ]
    hashes = {p.communicate()[0].strip() for p in procs}
    assert len(hashes) == 1 and all(p.returncode == 0 for p in procs)


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@example(
    arrays={
        "train": np.arange(30),
        "validation": np.arange(30, 40),
        "test": np.arange(40, 50),
        "meta_n_rows": np.asarray([1, 2]),
    }
)
@given(
    arrays=st.dictionaries(
        st.sampled_from(
            [
                "train",
                "validation",
                "test",
                "meta_n_rows",
                "meta_seed",
                "meta_stratify",
                "meta_dataset_sha256",
                "junk",
            ]
        ),
        st.lists(st.integers(-3, 60), max_size=60).map(np.asarray)
        | st.floats(allow_nan=True).map(np.asarray)
        | st.text(max_size=5).map(np.asarray),
        max_size=6,
    )
)
def test_any_split_file_is_verified_or_refused(tmp_path: Path, arrays) -> None:
    config = project(tmp_path, frame_csv(n=50))
    dataset = load_dataset(config)
    np.savez(tmp_path / SPLIT_FILE, **arrays)
    try:
        split = ensure_split(config, dataset)
    except DataError as error:
        assert "split.npz" in str(error)
    else:
        assert sorted(np.concatenate([split.train, split.validation, split.test])) == list(
            range(50)
        )
