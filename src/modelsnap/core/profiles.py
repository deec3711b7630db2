"""The four named profiles: ready-made criteria and constraints a user starts from, then edits.

A profile is only a starting point written into modelsnap.toml by ``modelsnap init`` or the TUI
set-up; after that the file is the truth (``[selection].profile`` becomes a label). Keeping the
profiles as plain data here means the CLI, the TUI and the docs all show the same numbers.

Fairness needs a sensitive column: for a project without one, a profile leaves the
``fairness_gap`` criterion and the ``max_fairness_gap`` limit out and shares the fairness weight
among the remaining criteria in proportion (so the weights still sum to 1), because no snapshot
of such a project can ever have a fairness measure and the ranking would find nothing complete.
"""

from __future__ import annotations

from typing import Any

from modelsnap.core.measures import MEASURE_DIRECTIONS

PROFILES: tuple[str, ...] = ("speed-first", "accuracy-first", "interpretability-first", "balanced")

# What each profile optimises, one line each: the TUI set-up and ``modelsnap init --help`` show
# these, so a person picks a profile knowing what it weighs.
PROFILE_DESCRIPTIONS: dict[str, str] = {
    "speed-first": "fast, small models: latency 60 %, quality 30 %, size 10 %; tight latency, "
    "size and memory limits",
    "accuracy-first": "the best predictions: quality 70 %, a second quality measure 20 %, "
    "latency 10 %; must beat the baseline",
    "interpretability-first": "models a person can explain: quality and interpretability 40 % "
    "each, fairness 20 %",
    "balanced": "a bit of everything: quality 40 %, then latency, size, interpretability and "
    "fairness; moderate limits",
}


def describe_profile(profile: str) -> str:
    """The one-line description of ``profile`` ("" for a name that is not a profile)."""
    return PROFILE_DESCRIPTIONS.get(profile, "")


DEFAULT_PRIMARY_METRIC: dict[str, str] = {"classification": "f1", "regression": "r2"}

# Hard limits per profile. Values are deliberately moderate: they reject clearly unfit models on
# an ordinary CPU without rejecting everything on a noisy shared machine.
_CONSTRAINTS: dict[str, dict[str, Any]] = {
    "speed-first": {
        "max_latency_p95_ms": 10.0,
        "max_size_mb": 50.0,
        "max_peak_memory_mb": 512.0,
        "min_throughput_rows_per_s": 1000.0,
    },
    "accuracy-first": {
        "max_latency_p95_ms": 200.0,
        "max_size_mb": 500.0,
        "min_gain_over_baseline": 0.01,
        "max_overfit_gap": 0.05,
    },
    "interpretability-first": {
        "max_latency_p95_ms": 100.0,
        "min_interpretability": 0.5,
        "max_fairness_gap": 0.1,
    },
    "balanced": {
        "max_latency_p95_ms": 50.0,
        "max_size_mb": 100.0,
        "max_peak_memory_mb": 1024.0,
        "min_gain_over_baseline": 0.01,
        "max_fairness_gap": 0.15,
    },
}


def _secondary_quality_metric(task: str, primary: str) -> str:
    """accuracy-first's second quality measure: roc_auc (classification) or r2 (regression),
    or a close substitute when that is already the primary metric."""
    if task == "regression":
        return "r2" if primary != "r2" else "rmse"
    return "roc_auc" if primary != "roc_auc" else "f1"


def profile_settings(
    profile: str,
    task: str = "classification",
    primary_metric: str | None = None,
    *,
    fairness: bool = True,
) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """Return ``(criteria, constraints)`` for ``profile``: criteria are dicts with metric, weight
    and direction (directions are left to the measure defaults except where a metric is a loss).

    ``fairness=False`` (a project without ``[data].sensitive`` columns) leaves the fairness
    criterion and limit out and renormalises the remaining weights to the profile's total.
    Raises ValueError for an unknown profile or task: callers validate user input first.
    """
    if profile not in PROFILES:
        raise ValueError(f"unknown profile {profile!r}; expected one of {', '.join(PROFILES)}")
    if task not in DEFAULT_PRIMARY_METRIC:
        raise ValueError(f"unknown task {task!r}; expected classification or regression")
    primary = primary_metric or DEFAULT_PRIMARY_METRIC[task]
    if profile == "speed-first":
        weights = [("latency_p95_ms", 0.6), (primary, 0.3), ("size_mb", 0.1)]
    elif profile == "accuracy-first":
        weights = [
            (primary, 0.7),
            (_secondary_quality_metric(task, primary), 0.2),
            ("latency_p95_ms", 0.1),
        ]
    elif profile == "interpretability-first":
        weights = [(primary, 0.4), ("interpretability", 0.4), ("fairness_gap", 0.2)]
    else:
        weights = [
            (primary, 0.4),
            ("latency_p95_ms", 0.2),
            ("size_mb", 0.1),
            ("interpretability", 0.15),
            ("fairness_gap", 0.15),
        ]
    constraints = dict(_CONSTRAINTS[profile])
    if not fairness:
        weights = _without(weights, FAIRNESS_MEASURE)
        constraints.pop("max_" + FAIRNESS_MEASURE, None)
    criteria = [
        {"metric": metric, "weight": weight, "direction": MEASURE_DIRECTIONS[metric]}
        for metric, weight in weights
    ]
    return criteria, constraints


FAIRNESS_MEASURE = "fairness_gap"


def _without(weights: list[tuple[str, float]], metric: str) -> list[tuple[str, float]]:
    """``weights`` without ``metric``, the others scaled so the total stays the same (rounded
    to 4 decimals, so the file shows 0.4706 rather than a 17-digit float)."""
    kept = [(name, weight) for name, weight in weights if name != metric]
    if len(kept) == len(weights):
        return weights
    total = sum(weight for _, weight in weights)
    rest = sum(weight for _, weight in kept)
    return [(name, round(weight * total / rest, 4)) for name, weight in kept]


# Column names that usually hold a protected or sensitive attribute. ``suggest_sensitive`` only
# *suggests* them: fairness is measured on the columns the user names in [data].sensitive.
SENSITIVE_NAMES: tuple[str, ...] = (
    "sex",
    "gender",
    "age",
    "age_band",
    "age_group",
    "race",
    "ethnicity",
    "ethnic_group",
    "region",
    "religion",
    "nationality",
    "citizenship",
    "country_of_birth",
    "native_country",
    "marital_status",
    "disability",
    "disabled",
    "sexual_orientation",
    "pregnancy",
)


def _words(name: str) -> str:
    """``"Applicant Sex"``, ``"applicantSex"`` -> ``"applicant_sex"``: lower-case words."""
    import re

    spaced = re.sub(r"(?<=[a-z0-9])(?=[A-Z])", "_", str(name))
    return "_".join(part for part in re.split(r"[^a-z0-9]+", spaced.lower()) if part)


def suggest_sensitive(columns: list[str] | tuple[str, ...], target: str | None = None) -> list[str]:
    """The columns whose names suggest a sensitive attribute (sex, gender, age, age_band, race,
    region, ... as the whole name or as whole words in it: ``applicant_sex``, ``AgeBand``),
    in column order, never the target. A suggestion for the user to confirm, never applied."""
    found = []
    for column in columns:
        if column == target:
            continue
        words = f"_{_words(column)}_"
        if any(f"_{name}_" in words for name in SENSITIVE_NAMES):
            found.append(column)
    return found
