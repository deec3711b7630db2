"""The latency split: the whole pipeline's single-row latency beside the estimator's own on rows
already preprocessed, recorded, validated, judged by limits and ranked (docs/profiler.md)."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from modelsnap.core.measures import MEASURE_DIRECTIONS, is_resource_measure, measures
from modelsnap.core.records import schema
from modelsnap.core.selection.constraints import check_constraints, reasons
from modelsnap.core.selection.ranking import RankingSpec, make_criteria, rank
from modelsnap.profiler.timing import (
    MODEL_LATENCY_KEYS,
    measure_latency_split,
    preprocess_share,
)

from .conftest import make_frame, write_project

SPLIT_KEYS = (*MODEL_LATENCY_KEYS, "preprocess_share")


def fitted_pipeline():
    """A real fitted pipeline like modelsnap's own: impute + scale + one-hot, then a fast model."""
    from sklearn.compose import make_column_transformer
    from sklearn.impute import SimpleImputer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import OneHotEncoder, StandardScaler

    frame = make_frame(200)
    features, target = frame.drop(columns="label"), frame["label"]
    pipeline = make_pipeline(
        make_column_transformer(
            (make_pipeline(SimpleImputer(), StandardScaler()), ["x1", "x2"]),
            (OneHotEncoder(handle_unknown="ignore", sparse_output=False), ["colour"]),
        ),
        LogisticRegression(),
    ).fit(features, target)
    return pipeline, features


# ---------------------------------------------------------------------------------------------
# The measurement


def test_the_estimator_alone_is_faster_and_the_share_is_a_fraction() -> None:
    pipeline, features = fitted_pipeline()
    progress: list[float] = []
    split = measure_latency_split(
        pipeline, features, trials=100, warmup=10, on_progress=progress.append
    )
    assert split.model is not None and split.separate
    assert split.model.trials == split.pipeline.trials == 100
    assert split.model.warmup == split.pipeline.warmup == 10
    assert split.model.p50_ms <= split.pipeline.p50_ms
    assert split.model.p95_ms <= split.pipeline.p95_ms
    assert 0.0 <= split.preprocess_share <= 1.0
    assert split.preprocess_share == pytest.approx(1 - split.model.p50_ms / split.pipeline.p50_ms)
    assert progress == sorted(progress) and progress[-1] == 1.0
    assert all(0.0 <= f <= 1.0 for f in progress)
    resources = split.as_resources()
    assert resources["latency_model_p95_ms"] == split.model.p95_ms
    assert resources["latency_p95_ms"] == split.pipeline.p95_ms
    assert set(SPLIT_KEYS) <= set(resources)


def test_the_estimator_sees_the_pipelines_rows_preprocessed_in_the_same_order() -> None:
    pipeline, features = fitted_pipeline()
    estimator = pipeline.steps[-1][1]
    seen: list[np.ndarray] = []
    original = estimator.predict

    def spy(rows):
        seen.append(np.asarray(rows, dtype=float).copy())
        return original(rows)

    estimator.predict = spy  # the pipeline calls its final step's predict too
    trials, warmup = 30, 5
    measure_latency_split(pipeline, features.iloc[:20], trials=trials, warmup=warmup)
    calls = trials + warmup
    assert len(seen) == 2 * calls  # once inside the pipeline, once alone, per call
    through_pipeline, alone = seen[:calls], seen[calls:]
    for inside, direct in zip(through_pipeline, alone, strict=True):
        assert inside.shape == direct.shape == (1, inside.shape[1])
        np.testing.assert_allclose(inside, direct)
    # and the rows cycle through the 20 rows as the pipeline's do
    np.testing.assert_allclose(alone[0], alone[20])


def test_a_model_without_preprocessing_steps_is_its_own_estimator() -> None:
    from sklearn.linear_model import LogisticRegression

    frame = make_frame(120)
    features = frame[["x1"]]
    model = LogisticRegression().fit(features, frame["label"])
    split = measure_latency_split(model, features, trials=20, warmup=2)
    assert not split.separate
    assert split.model == split.pipeline and split.preprocess_share == 0.0
    assert split.as_resources()["latency_model_p50_ms"] == split.pipeline.p50_ms


def test_preprocessing_that_fails_on_many_rows_loses_only_the_split() -> None:
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import FunctionTransformer

    def one_row_only(rows):
        if len(rows) > 1:
            raise ValueError("one row at a time")
        return rows

    frame = make_frame(120)
    features = frame[["x1"]]
    model = make_pipeline(FunctionTransformer(one_row_only), LogisticRegression())
    model[-1].fit(features, frame["label"])
    model[0].fit(features.iloc[:1])
    split = measure_latency_split(model, features, trials=10, warmup=1)
    assert split.model is None and split.preprocess_share is None
    assert "ValueError: one row at a time" in split.reason
    resources = split.as_resources()
    assert "latency_p95_ms" in resources and not set(SPLIT_KEYS) & set(resources)


@given(st.floats(1e-6, 1e4), st.floats(0, 1e4))
def test_the_share_is_always_between_0_and_1(pipeline_ms: float, model_ms: float) -> None:
    share = preprocess_share(pipeline_ms, model_ms)
    assert 0.0 <= share <= 1.0
    if model_ms <= pipeline_ms:
        assert share == pytest.approx(1 - model_ms / pipeline_ms)
    else:
        assert share == 0.0  # noise made the model alone read slower: no negative share


# ---------------------------------------------------------------------------------------------
# The record: measures, the validator, limits, the ranking


def test_model_latency_measures_are_machine_dependent_minimised_measures() -> None:
    for name in MODEL_LATENCY_KEYS:
        assert MEASURE_DIRECTIONS[name] == "min" and is_resource_measure(name)
    assert "preprocess_share" not in MEASURE_DIRECTIONS  # shown, not a criterion


def complete(body: dict) -> dict:
    """``make_body`` plus what the store adds (id, artifact and predictions entries)."""
    body["id"] = "20261126T061502-random_forest-3f9a"
    body["model"].update(artifact="models/x.skops", artifact_sha256="c" * 64, size_bytes=1)
    body["predictions"] = {"path": "predictions/x.npz", "sha256": "c" * 64}
    return body


def test_old_snapshots_without_the_split_stay_valid(make_body) -> None:
    body = complete(make_body())
    assert "latency_model_p95_ms" not in body["resources"]
    assert schema.validate_snapshot(body) == []
    assert "latency_model_p95_ms" not in measures(body)


def test_the_validator_knows_the_new_keys_as_numbers(make_body) -> None:
    body = complete(make_body())
    body["resources"].update(
        latency_model_p50_ms=0.1, latency_model_p95_ms=0.2, latency_model_p99_ms=0.3
    )
    body["resources"]["preprocess_share"] = 0.97
    assert schema.validate_snapshot(body) == []
    assert measures(body)["latency_model_p95_ms"] == 0.2
    for key in SPLIT_KEYS:
        bad = complete(make_body())
        bad["resources"][key] = "fast"
        assert schema.validate_snapshot(bad) == [
            f"snapshot: resources.{key}: found 'fast', expected number"
        ]


def _snap(sid: str, kind: str = "candidate", *, f1: float, model_p95: float | None) -> dict:
    resources = {"latency_p95_ms": 5.0, "size_mb": 1.0}
    if model_p95 is not None:
        resources["latency_model_p95_ms"] = model_p95
    return {
        "schema": 1,
        "id": sid,
        "name": sid.split("-")[1],
        "kind": kind,
        "created_at": f"2026-11-26T06:{sid[:2]}:00+00:00",
        "criteria_revision": 1,
        "data": {"dataset_sha256": "d" * 64, "split_sha256": "s" * 64},
        "metrics": {"validation": {"f1": f1}, "test": {"f1": f1}},
        "resources": resources,
        "hardware": {"fingerprint": "hw-1"},
    }


def test_a_limit_on_the_model_latency_accepts_rejects_and_misses() -> None:
    limit = {"max_latency_model_p95_ms": 1.0}
    under = check_constraints(_snap("01-a", f1=0.8, model_p95=0.4), limit, None, "f1")
    over = check_constraints(_snap("02-b", f1=0.8, model_p95=2.5), limit, None, "f1")
    old = check_constraints(_snap("03-c", f1=0.8, model_p95=None), limit, None, "f1")
    assert under["constraints"]["latency_model_p95_ms"]["ok"] is True
    assert over["constraints"]["latency_model_p95_ms"]["ok"] is False
    assert reasons(over) == ["latency_model_p95_ms 2.5 > 1"]
    assert old["constraints"]["latency_model_p95_ms"] == {"limit": 1.0, "missing": True}


def test_the_ranking_judges_and_weighs_the_model_latency() -> None:
    rows = [
        _snap("01-base", "baseline", f1=0.70, model_p95=0.1),
        _snap("02-quick", f1=0.80, model_p95=0.5),
        _snap("03-slow", f1=0.90, model_p95=3.0),
        _snap("04-old", f1=0.95, model_p95=None),  # recorded before the split
    ]
    spec = RankingSpec(
        criteria=make_criteria(
            [{"metric": "f1", "weight": 0.5}, {"metric": "latency_model_p95_ms", "weight": 0.5}]
        ),
        primary_metric="f1",
        constraints={"max_latency_model_p95_ms": 1.0},
        dataset_sha256="d" * 64,
        split_sha256="s" * 64,
        criteria_revision=1,
    )
    result = rank(rows, spec)
    assert [e.id for e in result.ranked] == ["02-quick", "01-base"]
    assert result.rejected == [
        {**result.rejected[0], "id": "03-slow", "reasons": ["latency_model_p95_ms 3 > 1"]}
    ]
    assert [i["id"] for i in result.incomplete] == ["04-old"]
    # without the limit, the old snapshot is still incomplete for the criterion, never zero
    loose = rank(rows, RankingSpec(**{**spec.__dict__, "constraints": {}}))
    assert [i["id"] for i in loose.incomplete] == ["04-old"]
    assert {e.id for e in loose.ranked} == {"01-base", "02-quick", "03-slow"}
    # a limit alone on a measure an old snapshot lacks: incomplete, as for any missing measure
    limit_only = rank(
        rows,
        RankingSpec(
            **{**spec.__dict__, "criteria": make_criteria([{"metric": "f1", "weight": 1}])}
        ),
    )
    assert [(i["id"], i["missing"]) for i in limit_only.incomplete] == [
        ("04-old", ["latency_model_p95_ms (constraint)"])
    ]


def test_the_project_file_takes_the_model_latency_as_criterion_and_limit(tmp_path: Path) -> None:
    from modelsnap.core.project.parse import load_project

    root = write_project(
        tmp_path / "proj",
        "\n".join(["", "[[candidates]]", 'name = "tree"', 'estimator = "x.Y"', ""]),
    )
    text = (root / "modelsnap.toml").read_text()
    text = text.replace(
        "max_latency_p95_ms = 1000.0", "max_latency_p95_ms = 1000.0\nmax_latency_model_p95_ms = 2.5"
    ).replace('metric = "latency_p95_ms"', 'metric = "latency_model_p95_ms"')
    (root / "modelsnap.toml").write_text(text)
    config = load_project(root)
    assert config.constraints["max_latency_model_p95_ms"] == 2.5
    assert [(c.metric, c.direction) for c in config.criteria][1] == ("latency_model_p95_ms", "min")


# ---------------------------------------------------------------------------------------------
# Real runs (worker subprocesses): recorded, limited, locked, ranked, checked


def modelsnap(*args: str, ok: bool = True) -> subprocess.CompletedProcess:
    result = subprocess.run(
        [sys.executable, "-m", "modelsnap", *args], capture_output=True, text=True, timeout=600
    )
    if ok:
        assert result.returncode == 0, f"{args}\n{result.stdout}\n{result.stderr}"
    return result


CANDIDATE = """
[[candidates]]
name = "tree"
estimator = "sklearn.tree.DecisionTreeClassifier"
params = { max_depth = 3, random_state = 0 }
"""


@pytest.mark.slow
def test_a_run_records_both_latencies_and_check_and_rank_agree(tmp_path: Path) -> None:
    root = write_project(tmp_path / "proj", CANDIDATE)
    toml = root / "modelsnap.toml"
    toml.write_text(
        toml.read_text().replace(
            "max_latency_p95_ms = 1000.0",
            "max_latency_p95_ms = 1000.0\nmax_latency_model_p95_ms = 1000.0",
        )
    )
    modelsnap("lock", str(root))
    modelsnap("run", str(root))
    snapshots = [tomllib.loads(p.read_text()) for p in sorted((root / "snapshots").glob("*.toml"))]
    assert sorted(s["name"] for s in snapshots) == ["logistic", "tree"]
    for snapshot in snapshots:
        res = snapshot["resources"]
        assert set(SPLIT_KEYS) <= set(res)
        assert res["latency_model_p50_ms"] <= res["latency_p50_ms"]
        assert res["latency_model_p95_ms"] <= res["latency_p95_ms"]
        assert 0 < res["latency_model_p50_ms"] <= res["latency_model_p95_ms"]
        assert res["latency_model_p95_ms"] <= res["latency_model_p99_ms"]
        assert 0.0 <= res["preprocess_share"] <= 1.0
        entry = snapshot["constraints"]["latency_model_p95_ms"]
        assert entry["ok"] is True and entry["value"] == res["latency_model_p95_ms"]
    # check's second look redoes every verdict, the new limit's too
    checked = json.loads(modelsnap("check", str(root), "--format", "json").stdout)
    assert checked["ok"] is True and checked["findings"] == [], checked
    shown = modelsnap("show", str(root), "tree")
    assert "latency split: whole pipeline p50" in shown.stdout
    assert "estimator alone p50" in shown.stdout

    # a limit below what the estimator takes alone rejects the candidate, by that measure
    tree = next(s for s in snapshots if s["name"] == "tree")
    limit = tree["resources"]["latency_model_p95_ms"] / 10
    toml.write_text(
        toml.read_text().replace(
            "max_latency_model_p95_ms = 1000.0", f"max_latency_model_p95_ms = {limit!r}"
        )
    )
    modelsnap("lock", str(root))
    result = json.loads(modelsnap("rank", str(root), "--format", "json").stdout)
    rejected = {r["id"]: r["reasons"] for r in result["rejected"]}
    assert any(
        reason.startswith("latency_model_p95_ms ") for reason in rejected.get(tree["id"], [])
    ), result
    # by the estimator's own latency only: the pipeline's limit of 1000 ms still holds
    assert not any(r.startswith("latency_p95_ms") for rs in rejected.values() for r in rs)
    checked = json.loads(modelsnap("check", str(root), "--format", "json").stdout)
    assert checked["ok"] is True, checked  # recorded verdicts still match their own revision


@pytest.mark.slow
def test_a_reprofile_measures_the_split_again(tmp_path: Path) -> None:
    """`modelsnap profile` is how a snapshot recorded before the split gets one."""
    root = write_project(tmp_path / "proj")
    modelsnap("run", str(root), "--baseline")
    (original,) = [tomllib.loads(p.read_text()) for p in (root / "snapshots").glob("*.toml")]
    out = modelsnap("profile", str(root), original["id"], "--format", "json")
    printed = json.loads(out.stdout)
    new_id = printed["snapshot_id"]
    assert printed["figures"]["latency_model_p95_ms"]["now"] > 0
    assert 0 <= printed["figures"]["preprocess_share"]["now"] <= 1
    again = tomllib.loads((root / "snapshots" / f"{new_id}.toml").read_text())
    assert again["reprofile_of"] == original["id"]
    assert set(SPLIT_KEYS) <= set(again["resources"])
    assert again["resources"]["latency_model_p50_ms"] <= again["resources"]["latency_p50_ms"]
    shutil.rmtree(root)


# ---------------------------------------------------------------------------------------------
# Shown: card, show, review, report


SPLIT_RESOURCES = {
    "latency_p50_ms": 5.52,
    "latency_p95_ms": 6.1,
    "latency_model_p50_ms": 0.106,
    "latency_model_p95_ms": 0.21,
    "latency_model_p99_ms": 0.4,
    "preprocess_share": 0.9808,
    "size_mb": 1.0,
}


def test_the_card_shows_the_estimator_alone_and_the_share() -> None:
    from rich.console import Console

    from modelsnap.tui.widgets.snapshot_card import render_snapshot

    def text(resources: dict) -> str:
        console = Console(width=100, record=True, color_system=None)
        snapshot = {"name": "forest", "kind": "candidate", "id": "x", "resources": resources}
        console.print(render_snapshot(snapshot, primary="f1"))
        return console.export_text()

    shown = text(SPLIT_RESOURCES)
    assert "p95 6.10 ms" in shown and "model alone p95 0.21 ms" in shown
    assert "preprocessing 98 % of p50" in shown
    old = text({"latency_p95_ms": 6.1, "size_mb": 1.0})
    assert "p95 6.10 ms" in old and "model alone" not in old and "preprocessing" not in old


def test_words_for_show_and_the_report() -> None:
    from modelsnap.core.reporting.readable import latency_split_text

    assert latency_split_text(SPLIT_RESOURCES) == (
        "whole pipeline p50 5.52 ms, p95 6.1 ms; estimator alone p50 0.106 ms, p95 0.21 ms; "
        "preprocessing 98 % of the p50"
    )
    assert latency_split_text({"latency_p95_ms": 6.1}) is None


def test_review_has_a_model_latency_column_sortable_with_old_rows() -> None:
    from modelsnap.tui.review_data import columns
    from modelsnap.tui.screens.review_filter import ALIASES

    column = next(c for c in columns("f1") if c.key == "latency_model_p95_ms")
    new = {"measures": {"validation": {"latency_model_p95_ms": 0.21}}}
    old = {"measures": {"validation": {}}}
    assert column.label == "model ms"
    assert column.text(new) == "0.21" and column.text(old) == "-"
    assert column.sort_value(new) == 0.21 and column.sort_value(old) is None
    assert ALIASES["model_p95"] == "latency_model_p95_ms"


def test_the_report_tables_the_split_and_says_when_none_has_it() -> None:
    from modelsnap.core.reporting.report import ReportData, render_html, render_markdown

    rows = [
        _snap("01-base", "baseline", f1=0.70, model_p95=None),
        _snap("02-quick", f1=0.80, model_p95=0.21),
    ]
    rows[1]["resources"].update(SPLIT_RESOURCES)
    spec = RankingSpec(
        criteria=make_criteria([{"metric": "f1", "weight": 1.0}]),
        primary_metric="f1",
        constraints={},
        dataset_sha256="d" * 64,
        split_sha256="s" * 64,
        criteria_revision=1,
    )

    def report(snapshots: list[dict]) -> ReportData:
        return ReportData(
            project_name="p",
            generated_at="2026-11-30T00:00:00+00:00",
            result=rank(snapshots, spec),
            criteria_revision=1,
            constraints={},
            snapshots={s["id"]: s for s in snapshots},
            significance=None,
            decisions=[],
            chain_problems=[],
        )

    page = render_html(report(rows))
    assert "Latency: whole pipeline and estimator alone" in page
    assert "estimator alone p95 ms" in page and "98 %" in page
    assert "Latency split: whole pipeline p50 5.52 ms" in page
    card = render_markdown(report(rows))
    assert "Latency split: whole pipeline p50 5.52 ms" in card
    older = render_html(report(rows[:1]))
    assert "No snapshot shown records the estimator" in older


def test_running_out_of_memory_is_not_swallowed_as_a_lost_split() -> None:
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import FunctionTransformer

    def no_memory_for_batches(rows):
        if len(rows) > 1:
            raise MemoryError
        return rows

    frame = make_frame(60)
    features = frame[["x1"]]
    model = make_pipeline(FunctionTransformer(no_memory_for_batches), LogisticRegression())
    model[-1].fit(features, frame["label"])
    model[0].fit(features.iloc[:1])
    with pytest.raises(MemoryError):
        measure_latency_split(model, features, trials=5, warmup=1)
