"""The ranking methods: one registry entry each, the words for people and the scoring math.

The CLI's ``--method`` choices, the ranking, the report and the decision log all read
``METHODS``; to add a method, add one entry here with its two functions (docs/internals.md).
Pure Python on purpose: no numpy import cost on the ``rank`` fast path.
"""

from __future__ import annotations

import math
import operator
from collections.abc import Callable, Sequence
from dataclasses import dataclass

Matrix = list[list[float]]


def minmax_matrix(values: Sequence[Sequence[float]], directions: Sequence[str]) -> Matrix:
    """Min-max normalise each column: (v-min)/(max-min) for max, (max-v)/(max-min) for min,
    1.0 when max == min."""
    if not values:
        return []
    columns = list(zip(*values, strict=True))
    out_columns = []
    for column, way in zip(columns, directions, strict=True):
        low, high = min(column), max(column)
        span = high - low
        if span == 0:
            out_columns.append([1.0] * len(column))
        elif way == "max":
            out_columns.append([(v - low) / span for v in column])
        else:
            out_columns.append([(high - v) / span for v in column])
    return (
        [list(row) for row in zip(*out_columns, strict=True)]
        if out_columns
        else [[] for _ in values]
    )


def weighted_scores(
    norm: Sequence[Sequence[float]], weights: Sequence[float], directions: Sequence[str] = ()
) -> list[float]:
    """The weighted sum of min-max normalised values (directions are already applied)."""
    if any(len(row) != len(weights) for row in norm):
        raise ValueError("weighted_scores: every row needs one value per weight")
    fsum, mul = math.fsum, operator.mul
    return [fsum(map(mul, weights, row)) for row in norm]  # the products of w * v, summed exactly


def vector_matrix(values: Sequence[Sequence[float]], directions: Sequence[str] = ()) -> Matrix:
    """TOPSIS vector normalisation: each column divided by its Euclidean norm (0 stays 0)."""
    columns = list(zip(*values, strict=True)) if values else []
    norms = [math.sqrt(math.fsum(v * v for v in column)) for column in columns]
    return [[v / n if n else 0.0 for v, n in zip(row, norms, strict=True)] for row in values]


def topsis_scores(
    vector: Sequence[Sequence[float]], weights: Sequence[float], directions: Sequence[str]
) -> list[float]:
    """Closeness to the ideal: d- / (d+ + d-) on weighted vector-normalised values.

    The ideal takes each column's best (max for "max", min for "min"), the anti-ideal its
    worst. When every row is identical (d+ = d- = 0) every score is 1.0, like min-max.
    """
    weighted = [[w * v for w, v in zip(weights, row, strict=True)] for row in vector]
    if not weighted:
        return []
    columns = list(zip(*weighted, strict=True))
    ideal = [max(c) if d == "max" else min(c) for c, d in zip(columns, directions, strict=True)]
    anti = [min(c) if d == "max" else max(c) for c, d in zip(columns, directions, strict=True)]
    scores = []
    for row in weighted:
        plus = math.sqrt(math.fsum((v - i) ** 2 for v, i in zip(row, ideal, strict=True)))
        minus = math.sqrt(math.fsum((v - a) ** 2 for v, a in zip(row, anti, strict=True)))
        scores.append(1.0 if plus + minus == 0 else minus / (plus + minus))
    return scores


@dataclass(frozen=True, slots=True)
class Method:
    """One way to turn the criteria's values into one score per snapshot.

    ``prepare(values, directions)`` normalises the rows x criteria matrix once (the sensitivity
    analysis re-scores it under moved weights); ``score(prepared, weights, directions)`` gives
    one score per row, higher is better. ``label``: the short name people read ("TOPSIS");
    ``description``: the longer one (report); ``help``: the phrase in ``rank --help``;
    ``recorded_as``: the name written into decisions.toml (kept stable: records are forever).
    """

    name: str
    label: str
    description: str
    help: str
    recorded_as: str
    prepare: Callable[[Sequence[Sequence[float]], Sequence[str]], Matrix]
    score: Callable[[Sequence[Sequence[float]], Sequence[float], Sequence[str]], list[float]]


METHODS: dict[str, Method] = {
    m.name: m
    for m in (
        Method(
            "weighted",
            label="weighted sum",
            description="weighted sum of min-max normalised values",
            help="weighted sum of min-max normalised criteria",
            recorded_as="weighted-sum",
            prepare=minmax_matrix,
            score=weighted_scores,
        ),
        Method(
            "topsis",
            label="TOPSIS",
            description="TOPSIS",
            help="TOPSIS",
            recorded_as="topsis",
            prepare=vector_matrix,
            score=topsis_scores,
        ),
    )
}
DEFAULT_METHOD = "weighted"


def method_help() -> str:
    """``rank --method``'s help: each method's phrase, the default one marked."""
    phrases = [m.help + (" (default)" * (m.name == DEFAULT_METHOD)) for m in METHODS.values()]
    return ", ".join(phrases[:-1]) + " or " + phrases[-1] if len(phrases) > 1 else phrases[0]


def method_label(name: str) -> str:
    """The short name people read for a method (the name itself when unknown)."""
    method = METHODS.get(name)
    return method.label if method is not None else name
