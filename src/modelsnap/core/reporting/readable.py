"""Values in words for people: no Python or JSON repr ever reaches a reader.

Shared by the CLI tables (``show``, ``diff``), the HTML report and the Markdown model card.
Lists become comma-separated words, inline tables ``key = value`` pairs, arrays of tables their
first few labels and figures with "… N more", constraint limits "recall ≥ 0.5". Plain Python.
"""

from __future__ import annotations

import math
from typing import Any

TOP_FEATURES = 5

# The order a reader wants: how good, how costly, does it pass, then why, then provenance.
SECTION_ORDER = (
    "metrics",
    "resources",
    "constraints",
    "gain",
    "fairness",
    "interpretability",
    "edge_cases",
    "checks",
    "model",
    "data",
    "predictions",
    "environment",
    "hardware",
    "origin",
)
# Sections that go last whatever else a snapshot holds.
_LAST = ("model", "data", "predictions", "environment", "hardware", "origin")


def section_rank(name: str) -> tuple[int, int]:
    """Sort key for a snapshot section: known ones in SECTION_ORDER, unknown ones just before
    the provenance sections (model, data, environment, hardware)."""
    if name == "snapshot":
        return (-1, 0)
    if name in SECTION_ORDER:
        index = SECTION_ORDER.index(name)
        return (index if name not in _LAST else index + 100, 0)
    return (len(SECTION_ORDER) - len(_LAST) - 1, 1)


def number(value: float | int, digits: int = 6) -> str:
    """A number for people: ints with thousands separators, floats to ``digits`` significant
    digits without scientific notation for ordinary magnitudes."""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int):
        return f"{value:,d}" if abs(value) >= 10_000 else str(value)
    if not math.isfinite(value):
        return str(value)
    if abs(value) >= 10**digits:
        return f"{value:,.0f}"
    return f"{value:.{digits}g}"


def plain(value: Any, *, digits: int = 6) -> str:
    """One value as words: never a Python or JSON repr."""
    if value is None:
        return "-"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, (int, float)):
        return number(value, digits)
    if isinstance(value, list):
        if not value:
            return "none"
        if is_table_list(value):
            return table_list_summary(value, digits=min(digits, 4))
        return ", ".join(plain(item, digits=digits) for item in value)
    if isinstance(value, dict):
        if not value:
            return "none"
        return ", ".join(f"{key} = {plain(item, digits=digits)}" for key, item in value.items())
    return str(value)


_LABEL_KEYS = ("name", "case", "group", "id")
_FIGURE_KEYS = ("importance", "metric", "value", "score")


def table_list_summary(
    items: list[dict[str, Any]], *, limit: int = TOP_FEATURES, digits: int = 4
) -> str:
    """An array of inline tables in one line: each item's label and first figure, the first
    ``limit`` of them, then "… N more" (``income 0.1803, branch_code 0.1312, … 8 more``)."""
    words = []
    # a figure column the items share (a group's metric), even where one item lacks it
    shared = next((k for k in _FIGURE_KEYS if any(k in item for item in items)), None)
    for item in items[:limit]:
        label = next((str(item[k]) for k in _LABEL_KEYS if k in item), None)
        key = shared
        if key is None:
            key = next(
                (
                    k
                    for k, v in item.items()
                    if isinstance(v, (int, float)) and not isinstance(v, bool)
                ),
                None,
            )
        figure = item.get(key) if key is not None else None
        if label is None:
            words.append(plain({k: v for k, v in item.items()}, digits=digits))
        elif "expected" in item and "predicted" in item:
            words.append(
                f"{label} (expected {plain(item['expected'])}, "
                f"predicted {plain(item['predicted'])})"
            )
        else:
            words.append(label if key is None else f"{label} {plain(figure, digits=digits)}")
    if len(items) > limit:
        words.append(f"… {len(items) - limit} more")
    return ", ".join(words)


def is_table_list(value: Any) -> bool:
    return isinstance(value, list) and bool(value) and all(isinstance(v, dict) for v in value)


def flatten(table: dict[str, Any], prefix: str = "") -> list[tuple[str, Any]]:
    """Scalars and arrays as (dotted key, value); sub-tables are walked into (``params`` is kept
    whole: it is shown as one wrapped line of ``key = value`` pairs)."""
    rows: list[tuple[str, Any]] = []
    for key, value in table.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict) and value and key != "params":
            rows.extend(flatten(value, f"{name}."))
        else:
            rows.append((name, value))
    return rows


CONSTRAINT_WORDS = {
    "max_latency_p95_ms": ("latency_p95_ms", "≤"),
    "max_size_mb": ("size_mb", "≤"),
    "max_peak_memory_mb": ("peak_memory_mb", "≤"),
    "min_gain_over_baseline": ("gain over the baseline", "≥"),
    "max_fairness_gap": ("fairness_gap", "≤"),
}


def constraint_lines(constraints: dict[str, Any]) -> list[tuple[str, str]]:
    """Hard limits as (measure, "≤ 50") pairs: ``max_X``/``min_X`` keys read as ≤/≥, and
    ``min_metric = {recall = 0.5}`` as ("recall", "≥ 0.5")."""
    lines: list[tuple[str, str]] = []
    for key, value in constraints.items():
        if isinstance(value, dict) and key in ("min_metric", "max_metric"):
            sign = "≥" if key == "min_metric" else "≤"
            lines += [(str(metric), f"{sign} {plain(limit)}") for metric, limit in value.items()]
        elif key in CONSTRAINT_WORDS:
            name, sign = CONSTRAINT_WORDS[key]
            lines.append((name, f"{sign} {plain(value)}"))
        elif key.startswith(("max_", "min_")):
            lines.append((key[4:], f"{'≤' if key.startswith('max_') else '≥'} {plain(value)}"))
        else:
            lines.append((key, plain(value)))
    return lines


def constraint_text(constraints: dict[str, Any]) -> str:
    """``latency_p95_ms ≤ 50, recall ≥ 0.5``."""
    return ", ".join(f"{name} {limit}" for name, limit in constraint_lines(constraints))


def latency_split_text(resources: Any) -> str | None:
    """The latency split of one snapshot's ``[resources]`` in words, or None without it:
    ``"whole pipeline p50 5.52 ms, p95 6.1 ms; estimator alone p50 0.106 ms, p95 0.21 ms;
    preprocessing 98 % of the p50"``. Snapshots recorded before the split (or whose estimator
    could not be timed alone) have no model-only figures."""
    if not isinstance(resources, dict):
        return None

    def figure(key: str) -> str | None:
        value = resources.get(key)
        if isinstance(value, bool) or not isinstance(value, int | float):
            return None
        return f"{number(float(value), 3)} ms"

    model = [(p, figure(f"latency_model_{p}_ms")) for p in ("p50", "p95")]
    if not any(value for _, value in model):
        return None
    whole = [(p, figure(f"latency_{p}_ms")) for p in ("p50", "p95")]
    parts = [
        f"{label} " + ", ".join(f"{p} {v}" for p, v in pairs if v)
        for label, pairs in (("whole pipeline", whole), ("estimator alone", model))
        if any(v for _, v in pairs)
    ]
    share = resources.get("preprocess_share")
    if isinstance(share, int | float) and not isinstance(share, bool) and math.isfinite(share):
        parts.append(f"preprocessing {share * 100:.0f} % of the p50")
    return "; ".join(parts)


def from_little_bags(metrics: Any) -> bool:
    """The test interval of a snapshot's ``[metrics]`` was drawn by the bag of little
    bootstraps (a test split above ``metrics.EXACT_ROWS`` rows), not the plain bootstrap."""
    return isinstance(metrics, dict) and metrics.get("test_ci_method") == "little-bags"


def ci_method_text(metrics: Any) -> str | None:
    """How the test interval was drawn, in words, when it is not the plain bootstrap
    (``from_little_bags``); None otherwise."""
    if not from_little_bags(metrics):
        return None
    resamples = metrics.get("test_ci_resamples")
    count = f", {resamples} resamples" if type(resamples) is int else ""
    return f"test 95 % CI from the bag of little bootstraps{count} (a large test split)"
