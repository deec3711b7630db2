"""`modelsnap init` and `modelsnap lock` as a user runs them: real subprocesses, real files."""

from __future__ import annotations

import subprocess
import sys
import tomllib
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

SAMPLE = Path(__file__).resolve().parents[2] / "sample_project"


def modelsnap(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "modelsnap", *args],
        capture_output=True,
        text=True,
        cwd=cwd,
        timeout=120,
    )


def flat(text: str) -> str:
    """stderr with rich's line wrapping undone, so phrases can be matched."""
    return " ".join(text.split())


def write_csv(path: Path, n: int = 120) -> Path:
    rng = np.random.default_rng(0)
    pd.DataFrame(
        {
            "id": np.arange(n),
            "x": rng.normal(size=n),
            "kind": rng.choice(["a", "b"], n),
            "sex": rng.choice(["F", "M"], n),
            "y": rng.choice(["no", "yes"], n),
        }
    ).to_csv(path, index=False)
    return path


def test_init_copies_outside_csv_and_writes_valid_project(tmp_path: Path) -> None:
    csv = write_csv(tmp_path / "raw.csv")
    project = tmp_path / "proj"
    done = modelsnap(
        "init",
        str(project),
        "--data",
        str(csv),
        "--target",
        "y",
        "--profile",
        "speed-first",
        "--drop",
        "id",
        "--sensitive",
        "sex",
    )
    assert done.returncode == 0, done.stderr
    assert (project / "raw.csv").read_bytes() == csv.read_bytes()
    doc = tomllib.loads((project / "modelsnap.toml").read_text(encoding="utf-8"))
    assert doc["data"]["source"] == "raw.csv" and doc["data"]["task"] == "classification"
    assert doc["data"]["positive_label"] == "yes" and doc["data"]["drop"] == ["id"]
    assert doc["selection"]["profile"] == "speed-first"
    assert doc["criteria"][0] == {"metric": "latency_p95_ms", "weight": 0.6, "direction": "min"}
    assert doc["baseline"]["estimator"] == "sklearn.linear_model.LogisticRegression"
    assert len(doc["candidates"]) == 3
    assert "created" in done.stdout and "modelsnap lock" in done.stdout
    assert not (project / "split.npz").exists()


def test_init_references_csv_already_inside(tmp_path: Path) -> None:
    (tmp_path / "data").mkdir()
    write_csv(tmp_path / "data" / "d.csv")
    done = modelsnap(
        "init", str(tmp_path), "--data", str(tmp_path / "data" / "d.csv"), "--target", "y"
    )
    assert done.returncode == 0, done.stderr
    doc = tomllib.loads((tmp_path / "modelsnap.toml").read_text(encoding="utf-8"))
    assert doc["data"]["source"] == "data/d.csv"
    assert sorted(p.name for p in tmp_path.iterdir() if not p.name.startswith(".")) == [
        "data",
        "modelsnap.toml",
    ]


def test_init_sklearn_regression(tmp_path: Path) -> None:
    done = modelsnap(
        "init", str(tmp_path / "p"), "--data", "sklearn:diabetes", "--target", "target"
    )
    assert done.returncode == 0, done.stderr
    doc = tomllib.loads((tmp_path / "p" / "modelsnap.toml").read_text(encoding="utf-8"))
    assert doc["data"]["task"] == "regression" and doc["selection"]["primary_metric"] == "r2"
    assert doc["baseline"]["estimator"] == "sklearn.linear_model.LinearRegression"


@pytest.mark.parametrize(
    ("csv_text", "args", "fragment"),
    [
        (None, ["--target", "y"], "data file not found"),
        ("", ["--target", "y"], "empty"),
        ("x,y\n1,a\n2,a\n", ["--target", "y"], "one class"),
        ("x,y\n1,a\n2,b\n", ["--target", "label"], "available columns: x, y"),
        ("x,y\n1,a\n2,b\n3,c\n", ["--target", "y", "--task", "regression"], "not numeric"),
        ("x,y\n1,a\n2,b\n3,a\n4,b\n", ["--target", "y"], "too few to stratify"),
        (
            "x,y\n" + "".join(f"{i},{i / 3}\n" for i in range(30)) + "30,inf\n31,-inf\n",
            ["--target", "y"],
            "target column 'y' has 2 infinite value(s) (inf or -inf) in data row(s) 31, 32",
        ),
        ("x,y\n1,a\n2,b\n", ["--target", "y", "--sensitive", "gender"], "gender"),
    ],
)
def test_init_bad_input_exits_2_and_writes_nothing(
    tmp_path: Path, csv_text, args, fragment
) -> None:
    source = tmp_path / "in.csv"
    if csv_text is not None:
        source.write_text(csv_text, encoding="utf-8")
    project = tmp_path / "proj"
    done = modelsnap("init", str(project), "--data", str(source), *args)
    assert done.returncode == 2
    assert fragment in flat(done.stderr)
    assert "Traceback" not in done.stderr
    assert not project.exists()


def test_init_refuses_to_overwrite_without_force(tmp_path: Path) -> None:
    csv = write_csv(tmp_path / "d.csv")
    assert modelsnap("init", str(tmp_path), "--data", str(csv), "--target", "y").returncode == 0
    path = tmp_path / "modelsnap.toml"
    path.write_text(path.read_text(encoding="utf-8") + "# mine\n", encoding="utf-8")
    before = path.read_bytes()
    done = modelsnap("init", str(tmp_path), "--data", str(csv), "--target", "y")
    assert (
        done.returncode == 2
        and "already exists" in flat(done.stderr)
        and "--force" in flat(done.stderr)
    )
    assert path.read_bytes() == before
    forced = modelsnap(
        "init",
        str(tmp_path),
        "--data",
        str(csv),
        "--target",
        "y",
        "--profile",
        "accuracy-first",
        "--force",
    )
    assert forced.returncode == 0, forced.stderr
    assert "accuracy-first" in path.read_text(encoding="utf-8")


def test_init_refuses_to_replace_a_different_csv_in_the_folder(tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    csv = write_csv(outside / "d.csv")
    project = tmp_path / "proj"
    project.mkdir()
    (project / "d.csv").write_text("x,y\n1,a\n", encoding="utf-8")
    done = modelsnap("init", str(project), "--data", str(csv), "--target", "y")
    assert done.returncode == 2 and "already exists and differs" in flat(done.stderr)
    assert (project / "d.csv").read_text(encoding="utf-8") == "x,y\n1,a\n"


def test_lock_records_revisions(tmp_path: Path) -> None:
    csv = write_csv(tmp_path / "d.csv")
    assert modelsnap("init", str(tmp_path), "--data", str(csv), "--target", "y").returncode == 0
    first = modelsnap("lock", str(tmp_path), "--reason", "initial", "--by", "ana")
    assert first.returncode == 0 and "revision 1" in first.stdout
    again = modelsnap("lock", str(tmp_path), "--format", "json")
    assert (
        again.returncode == 0
        and '"created": false' in again.stdout
        and '"revision": 1' in again.stdout
    )
    path = tmp_path / "modelsnap.toml"
    path.write_text(
        path.read_text(encoding="utf-8").replace("max_size_mb = 100.0", "max_size_mb = 5.0"),
        encoding="utf-8",
    )
    second = modelsnap("lock", str(tmp_path), "--reason", "smaller")
    assert second.returncode == 0 and "revision 2" in second.stdout
    doc = tomllib.loads((tmp_path / "criteria_revisions.toml").read_text(encoding="utf-8"))
    assert [r["reason"] for r in doc["revision"]] == ["initial", "smaller"]
    assert doc["revision"][0]["locked_by"] == "ana"


def test_lock_bad_project_file_exits_2(tmp_path: Path) -> None:
    (tmp_path / "modelsnap.toml").write_text(
        '[data]\nsource = "d.csv"\ntarget = "y"\n[constraints]\nmax_size_mb = "big"\n',
        encoding="utf-8",
    )
    done = modelsnap("lock", str(tmp_path))
    assert done.returncode == 2
    assert '[constraints].max_size_mb: expected a number > 0, found "big"' in flat(done.stderr)
    assert not (tmp_path / "criteria_revisions.toml").exists()


def test_sample_project_data_is_reproducible_and_small(tmp_path: Path) -> None:
    out = tmp_path / "credit.csv"
    done = subprocess.run(
        [sys.executable, str(SAMPLE / "make_data.py"), "--out", str(out)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    assert out.read_bytes() == (SAMPLE / "credit.csv").read_bytes()
    assert (SAMPLE / "credit.csv").stat().st_size < 2 * 2**20
    frame = pd.read_csv(SAMPLE / "credit.csv")
    assert len(frame) == 3000 and frame.isna().any().any()
    assert {"sex", "age_band", "branch_code", "customer_id"} <= set(frame.columns)
    assert frame.loc[frame["branch_code"] == "B99", "default"].eq("yes").all()


def test_init_without_sensitive_column_leaves_fairness_out_and_suggests_columns(
    tmp_path: Path,
) -> None:
    csv = write_csv(tmp_path / "d.csv")
    done = modelsnap("init", str(tmp_path / "p"), "--data", str(csv), "--target", "y")
    assert done.returncode == 0, done.stderr
    out = flat(done.stdout)
    assert "possible sensitive columns: sex (not used" in out and "--sensitive sex" in out
    doc = tomllib.loads((tmp_path / "p" / "modelsnap.toml").read_text(encoding="utf-8"))
    assert doc["data"]["sensitive"] == []
    weights = {c["metric"]: c["weight"] for c in doc["criteria"]}
    assert "fairness_gap" not in weights and "max_fairness_gap" not in doc["constraints"]
    assert sum(weights.values()) == pytest.approx(1.0)
    assert weights["f1"] == pytest.approx(0.4 / 0.85, abs=1e-4)  # shares kept in proportion
    assert modelsnap("lock", str(tmp_path / "p")).returncode == 0

    named = modelsnap(
        "init", str(tmp_path / "q"), "--data", str(csv), "--target", "y", "--sensitive", "sex"
    )
    assert named.returncode == 0, named.stderr
    assert "fairness measured on: sex" in named.stdout
    doc = tomllib.loads((tmp_path / "q" / "modelsnap.toml").read_text(encoding="utf-8"))
    assert doc["data"]["sensitive"] == ["sex"]
    assert "fairness_gap" in [c["metric"] for c in doc["criteria"]]
    assert doc["constraints"]["max_fairness_gap"] == 0.15
    assert modelsnap("lock", str(tmp_path / "q")).returncode == 0


def test_lock_refuses_a_fairness_criterion_without_sensitive_column(tmp_path: Path) -> None:
    csv = write_csv(tmp_path / "d.csv")
    assert modelsnap("init", str(tmp_path), "--data", str(csv), "--target", "y").returncode == 0
    path = tmp_path / "modelsnap.toml"
    path.write_text(
        path.read_text(encoding="utf-8").replace(
            "[constraints]", "[constraints]\nmax_fairness_gap = 0.1", 1
        ),
        encoding="utf-8",
    )
    done = modelsnap("lock", str(tmp_path))
    assert done.returncode == 2 and "Traceback" not in done.stderr
    assert "[constraints].max_fairness_gap: fairness_gap needs a sensitive column" in flat(
        done.stderr
    )
    assert not (tmp_path / "criteria_revisions.toml").exists()


@pytest.mark.slow
def test_default_project_without_sensitive_column_ranks_without_touching_criteria(
    tmp_path: Path,
) -> None:
    import json

    from sklearn.datasets import load_wine

    csv = tmp_path / "wine.csv"
    load_wine(as_frame=True).frame.to_csv(csv, index=False)
    root = tmp_path / "wine"
    assert modelsnap("init", str(root), "--data", str(csv), "--target", "target").returncode == 0
    path = root / "modelsnap.toml"
    # Fewer latency trials keep the test quick; the criteria and limits stay as init wrote them.
    path.write_text(
        path.read_text(encoding="utf-8").replace("latency_trials = 300", "latency_trials = 30"),
        encoding="utf-8",
    )
    criteria = tomllib.loads(path.read_text(encoding="utf-8"))
    baseline = modelsnap("run", str(root), "--baseline")
    assert baseline.returncode == 0, baseline.stderr
    assert modelsnap("lock", str(root)).returncode == 0
    candidate = modelsnap("run", str(root), "--candidate", "random_forest")
    assert candidate.returncode == 0, candidate.stderr
    ranked = modelsnap("rank", str(root), "--format", "json")
    assert ranked.returncode == 0, ranked.stderr
    result = json.loads(ranked.stdout)
    assert len(result["ranked"]) >= 1, result
    assert not any("fairness" in " ".join(e["missing"]) for e in result["incomplete"]), result
    after = tomllib.loads(path.read_text(encoding="utf-8"))
    assert after["criteria"] == criteria["criteria"]
    assert after["constraints"] == criteria["constraints"]


def _flags_in(text: str) -> set[str]:
    import re

    return set(re.findall(r"(?<![\w-])--[a-z][a-z-]*", text))


def test_init_refuses_a_one_row_class_with_a_hint_naming_a_real_flag(tmp_path: Path) -> None:
    source = tmp_path / "in.csv"
    source.write_text("x,y\n" + "".join(f"{i},{'ab'[i % 2]}\n" for i in range(20)) + "99,c\n")
    done = modelsnap("init", str(tmp_path / "p"), "--data", str(source), "--target", "y")
    assert done.returncode == 2
    text = flat(done.stderr)
    assert "class 'c' has 1 row(s): too few to stratify into train, validation and test" in text
    assert "pass --no-stratify" in text and "[data]" not in text
    assert not (tmp_path / "p").exists()
    help_text = modelsnap("init", "--help").stdout
    assert _flags_in(text) <= _flags_in(help_text)  # every flag a hint names exists

    done = modelsnap(
        "init", str(tmp_path / "p"), "--data", str(source), "--target", "y", "--no-stratify"
    )
    assert done.returncode == 0, done.stderr
    doc = tomllib.loads((tmp_path / "p" / "modelsnap.toml").read_text(encoding="utf-8"))
    assert doc["data"]["stratify"] is False
    assert modelsnap("lock", str(tmp_path / "p")).returncode == 0


@pytest.mark.parametrize(
    ("csv_text", "args"),
    [
        ("x,y\n1,a\n2,b\n3,c\n", ["--task", "regression"]),
        ("x,y\n1,a\n2,b\n3,c\n4,a\n5,b\n6,c\n", ["--positive-label", "a"]),
        ("x,y\n1,a\n2,b\n", ["--drop", "nope"]),
        ("x,y\n1,a\n2,b\n", ["--sensitive", "nope"]),
    ],
)
def test_init_hints_name_flags_not_file_keys(tmp_path: Path, csv_text, args) -> None:
    source = tmp_path / "in.csv"
    source.write_text(csv_text, encoding="utf-8")
    done = modelsnap("init", str(tmp_path / "p"), "--data", str(source), "--target", "y", *args)
    assert done.returncode == 2
    text = flat(done.stderr)
    assert "[data]" not in text and "modelsnap.toml" not in text, text
    assert _flags_in(text) <= _flags_in(modelsnap("init", "--help").stdout), text


def test_init_drop_is_repeatable_and_help_describes_every_profile(tmp_path: Path) -> None:
    from modelsnap.core.profiles import PROFILE_DESCRIPTIONS

    csv = write_csv(tmp_path / "d.csv")
    done = modelsnap(
        "init",
        str(tmp_path / "p"),
        "--data",
        str(csv),
        "--target",
        "y",
        "--drop",
        "id",
        "--drop",
        "kind",
        "--profile",
        "speed-first",
    )
    assert done.returncode == 0, done.stderr
    doc = tomllib.loads((tmp_path / "p" / "modelsnap.toml").read_text(encoding="utf-8"))
    assert doc["data"]["drop"] == ["id", "kind"] and doc["data"]["stratify"] is True
    # the suggested re-run keeps the choices already made
    assert "--profile speed-first --drop id --drop kind --sensitive sex" in flat(done.stdout)
    help_text = flat(modelsnap("init", "--help").stdout)
    for name, description in PROFILE_DESCRIPTIONS.items():
        assert f"{name} {description}" in help_text
