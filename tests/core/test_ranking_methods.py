"""The ranking methods' registry: every front end reads its names from one place."""

from __future__ import annotations

import argparse

import pytest

from modelsnap.core import ranking_methods
from modelsnap.core.errors import CriteriaError
from modelsnap.core.ranking_methods import DEFAULT_METHOD, METHODS, Method, method_label
from modelsnap.core.records.decisions import METHOD_NAMES
from modelsnap.core.selection.ranking import RankingSpec, make_criteria, rank


def rows() -> list[dict]:
    values = [(0.9, 30.0), (0.8, 5.0), (0.5, 1.0)]
    return [
        {
            "id": f"s{i}",
            "name": f"m{i}",
            "kind": "candidate",
            "created_at": f"2026-01-0{i + 1}",
            "dataset_sha256": "d",
            "split_sha256": "s",
            "measures": {
                split: {"f1": f1, "latency_p95_ms": p95} for split in ("validation", "test")
            },
        }
        for i, (f1, p95) in enumerate(values)
    ]


def spec(method: str) -> RankingSpec:
    criteria = make_criteria(
        [{"metric": "f1", "weight": 0.6}, {"metric": "latency_p95_ms", "weight": 0.4}]
    )
    return RankingSpec(criteria=criteria, constraints={}, primary_metric="f1", method=method)


def test_the_cli_the_report_and_the_decision_log_read_the_registry() -> None:
    from modelsnap.cli import rank_cmd

    parser = argparse.ArgumentParser()
    rank_cmd.register(parser.add_subparsers())
    [action] = [
        a
        for sub in parser._subparsers._group_actions  # type: ignore[union-attr]
        for a in sub.choices["rank"]._actions
        if a.dest == "method"
    ]
    assert list(action.choices) == list(METHODS) and action.default == DEFAULT_METHOD
    assert action.help == "weighted sum of min-max normalised criteria (default) or TOPSIS"
    assert METHOD_NAMES == {"weighted": "weighted-sum", "topsis": "topsis"}
    assert method_label("topsis") == "TOPSIS" and method_label("weighted") == "weighted sum"


def test_a_new_method_is_one_entry_and_its_function(monkeypatch: pytest.MonkeyPatch) -> None:
    def fastest(matrix, weights, directions):
        # Lowest latency first, whatever the weights.
        return [-row[1] for row in matrix]

    entry = Method(
        "fastest",
        label="fastest",
        description="the lowest latency",
        help="the lowest latency",
        recorded_as="fastest",
        prepare=lambda values, directions: [list(row) for row in values],
        score=fastest,
    )
    with pytest.raises(CriteriaError, match="unknown method"):
        from modelsnap.core.selection.ranking import spec_from_config

        class Config:
            selection = argparse.Namespace(primary_metric="f1", rank_split="validation")
            criteria = spec("weighted").criteria
            constraints: dict = {}

        spec_from_config(Config(), method="fastest")
    monkeypatch.setitem(ranking_methods.METHODS, "fastest", entry)
    result = rank(rows(), spec("fastest"), sensitivity=True)
    assert [e.id for e in result.ranked] == ["s2", "s1", "s0"]
    assert result.sensitivity["top"] == "s2"
    assert ranking_methods.method_help().endswith(", TOPSIS or the lowest latency")


def test_weighted_and_topsis_score_as_before() -> None:
    weighted = rank(rows(), spec("weighted"))
    # min-max: f1 0.9 / 0.8 / 0.5 -> 1 / 0.75 / 0; p95 30 / 5 / 1 (lower is better) -> 0 / 25/29 / 1
    assert [e.id for e in weighted.ranked] == ["s1", "s0", "s2"]
    assert [e.score for e in weighted.ranked] == pytest.approx(
        [0.6 * 0.75 + 0.4 * 25 / 29, 0.6, 0.4]
    )
    topsis = rank(rows(), spec("topsis"))
    assert [e.id for e in topsis.ranked] == ["s1", "s2", "s0"]
    assert topsis.ranked[0].score == pytest.approx(0.8360998248360868)
