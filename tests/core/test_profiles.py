"""The four profiles: weights as documented, valid against the project-file checks."""

from __future__ import annotations

from pathlib import Path

import pytest

from modelsnap.core.profiles import PROFILES, profile_settings
from modelsnap.core.project.parse import parse_project


def weights(
    profile: str, task: str = "classification", primary: str | None = None
) -> dict[str, float]:
    criteria, _ = profile_settings(profile, task, primary)
    return {c["metric"]: c["weight"] for c in criteria}


def test_documented_weights() -> None:
    assert weights("speed-first") == {"latency_p95_ms": 0.6, "f1": 0.3, "size_mb": 0.1}
    assert weights("accuracy-first") == {"f1": 0.7, "roc_auc": 0.2, "latency_p95_ms": 0.1}
    assert weights("accuracy-first", "regression") == {
        "r2": 0.7,
        "rmse": 0.2,
        "latency_p95_ms": 0.1,
    }
    assert weights("accuracy-first", "classification", "roc_auc") == {
        "roc_auc": 0.7,
        "f1": 0.2,
        "latency_p95_ms": 0.1,
    }
    assert weights("interpretability-first") == {
        "f1": 0.4,
        "interpretability": 0.4,
        "fairness_gap": 0.2,
    }
    assert weights("balanced", "regression") == {
        "r2": 0.4,
        "latency_p95_ms": 0.2,
        "size_mb": 0.1,
        "interpretability": 0.15,
        "fairness_gap": 0.15,
    }
    _, constraints = profile_settings("interpretability-first")
    assert constraints["min_interpretability"] == 0.5


@pytest.mark.parametrize("profile", PROFILES)
@pytest.mark.parametrize("task", ["classification", "regression"])
def test_profiles_sum_to_one_and_validate(profile: str, task: str, tmp_path: Path) -> None:
    criteria, constraints = profile_settings(profile, task)
    assert sum(c["weight"] for c in criteria) == pytest.approx(1.0)
    assert any(c["direction"] == "min" for c in criteria)
    config = parse_project(
        {
            "data": {"source": "d.csv", "target": "y", "task": task},
            "criteria": criteria,
            "constraints": constraints,
        },
        tmp_path,
    )
    assert len(config.criteria) == len(criteria)


def test_speed_first_latency_weight_at_least_point_six() -> None:
    assert weights("speed-first")["latency_p95_ms"] >= 0.6


def test_unknown_profile_or_task() -> None:
    with pytest.raises(ValueError, match="unknown profile"):
        profile_settings("fastest")
    with pytest.raises(ValueError, match="unknown task"):
        profile_settings("balanced", "ranking")


@pytest.mark.parametrize("profile", PROFILES)
@pytest.mark.parametrize("task", ["classification", "regression"])
def test_without_sensitive_columns_profiles_leave_fairness_out(profile: str, task: str) -> None:
    full, full_limits = profile_settings(profile, task)
    criteria, constraints = profile_settings(profile, task, fairness=False)
    assert "fairness_gap" not in [c["metric"] for c in criteria]
    assert "max_fairness_gap" not in constraints
    assert sum(c["weight"] for c in criteria) == pytest.approx(1.0, abs=1e-3)
    kept = {c["metric"]: c["weight"] for c in full if c["metric"] != "fairness_gap"}
    share = sum(kept.values())
    for c in criteria:  # the remaining weights keep their proportions
        assert c["weight"] == pytest.approx(kept[c["metric"]] / share, abs=1e-4)
    assert constraints == {k: v for k, v in full_limits.items() if k != "max_fairness_gap"}


def test_sensitive_columns_are_suggested_by_name_only() -> None:
    from modelsnap.core.profiles import suggest_sensitive

    columns = [
        "Sex",
        "applicant_sex",
        "AgeBand",
        "age_band",
        "marital status",
        "GENDER",
        "region_code",
        "page_views",
        "usage",
        "racecar",
        "income",
        "race",
    ]
    assert suggest_sensitive(columns, target="race") == [
        "Sex",
        "applicant_sex",
        "AgeBand",
        "age_band",
        "marital status",
        "GENDER",
        "region_code",
    ]
    assert suggest_sensitive(["income", "debt"]) == []


@pytest.mark.parametrize("profile", PROFILES)
@pytest.mark.parametrize("task", ["classification", "regression"])
@pytest.mark.parametrize("sensitive", [[], ["sex"]])
def test_written_projects_never_hold_criteria_that_cannot_be_filled(
    profile: str, task: str, sensitive: list[str], tmp_path: Path
) -> None:
    from modelsnap.core.project.edit import write_new_project
    from modelsnap.core.selection.criteria import unfillable

    config = write_new_project(
        tmp_path,
        data_source="d.csv",
        target="y",
        task=task,
        profile=profile,
        sensitive=sensitive,
    )
    assert unfillable(config) == []
    has_fairness = "fairness_gap" in [c.metric for c in config.criteria] or (
        "max_fairness_gap" in config.constraints
    )
    assert has_fairness == (bool(sensitive) and profile in ("balanced", "interpretability-first"))


def test_the_target_guess_prefers_conventional_names_and_says_why():
    from modelsnap.core.project.edit import guess_target

    assert guess_target(["alcohol", "target", "vineyard"]) == (
        "target",
        "guessed from the name 'target'",
    )
    assert guess_target(["Label", "Class"])[0] == "Label"  # target > label > class ...
    assert guess_target(["x", "Y", "z"])[0] == "Y"  # any case
    assert guess_target(["amount", "loan_default", "branch"]) == (
        "loan_default",
        "guessed from the word 'default' in its name",
    )
    assert guess_target(["y_pos", "x_pos"])[0] == "x_pos"  # "y" only as the whole name
    column, why = guess_target(["a", "b", "vineyard"])
    assert column == "vineyard" and "the last column" in why
    assert guess_target([]) is None


def test_every_profile_has_a_one_line_description():
    from modelsnap.core.profiles import PROFILE_DESCRIPTIONS, PROFILES, describe_profile

    assert list(PROFILE_DESCRIPTIONS) == list(PROFILES)
    assert all(describe_profile(p) and "\n" not in describe_profile(p) for p in PROFILES)
    assert describe_profile("custom") == ""
