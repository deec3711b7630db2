"""Review mode's filter language: words, ``field:text`` and numeric comparisons.

    f1>0.75 kind:candidate name:forest latency_p95_ms<=10 fail

Every term must hold (AND). A term is one of:

- ``measure OP number`` with OP one of ``> >= < <= = !=``: a validation measure (``f1``,
  ``roc_auc``, ``latency_p95_ms``, ``size_mb``, ``interpretability``...), ``test_f1`` for the
  test split; aliases ``p95`` (latency_p95_ms), ``model_p95`` (latency_model_p95_ms: the
  estimator alone), ``mb``/``size`` (size_mb). A snapshot without the
  measure does not match.
- ``field:text``: ``name``, ``kind``, ``version``, ``id``, ``estimator``, ``status``
  (ok/fail), ``created`` (a date prefix such as ``2026-11``), ``compar`` (same, data≠, hw≠)
  contain the text (case-insensitive).
- a bare word: appears anywhere in the row's text (name, kind, version, estimator, status,
  comparability, creation time, id), as before.

A term that cannot be read raises ``FilterError`` with what is wrong and an example; the screen
shows it inline and filters by the other terms meanwhile.
"""

from __future__ import annotations

import math
import operator
import re
from collections.abc import Callable, Iterable
from typing import Any

Row = dict[str, Any]
Predicate = Callable[[Row], bool]

OPERATORS: dict[str, Callable[[float, float], bool]] = {
    ">=": operator.ge,
    "<=": operator.le,
    "!=": operator.ne,
    ">": operator.gt,
    "<": operator.lt,
    "=": operator.eq,
}
ALIASES = {
    "p95": "latency_p95_ms",
    "latency": "latency_p95_ms",
    "model_p95": "latency_model_p95_ms",
    "mb": "size_mb",
    "size": "size_mb",
    "memory": "peak_memory_mb",
}
TEXT_FIELDS: dict[str, Callable[[Row], Any]] = {
    "name": lambda r: r.get("name"),
    "kind": lambda r: r.get("kind"),
    "version": lambda r: r.get("version"),
    "ver": lambda r: r.get("version"),
    "id": lambda r: r.get("id"),
    "estimator": lambda r: r.get("estimator"),
    "status": lambda r: r.get("_status"),
    "created": lambda r: r.get("created_at"),
    "compar": lambda r: r.get("_comparability"),
}
_COMPARISON = re.compile(r"^([A-Za-z_][A-Za-z0-9_.]*)(>=|<=|!=|>|<|=)(.*)$")


class FilterError(ValueError):
    """A term that cannot be read; the message says which and how to write it."""


def row_value(row: Row, name: str) -> float | None:
    """A row's figure for ``name`` (validation split; ``test_`` prefix for test)."""
    split = "validation"
    if name.startswith("test_"):
        split, name = "test", name[len("test_") :]
    measures = (row.get("measures") or {}).get(split) or {}
    value = measures.get(name)
    if value is None and split == "validation":
        value = row.get(name)
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value)


def known_measures(rows: Iterable[Row]) -> set[str]:
    """Every measure name some row has (validation and ``test_`` ones, plus numeric fields)."""
    names: set[str] = set()
    for row in rows:
        measures = row.get("measures") or {}
        names.update(measures.get("validation") or {})
        names.update(f"test_{n}" for n in measures.get("test") or {})
        names.update(
            k
            for k, v in row.items()
            if not k.startswith("_") and isinstance(v, int | float) and not isinstance(v, bool)
        )
    return names


def parse_filter(text: str, known: set[str], haystack: Callable[[Row], str]) -> Predicate:
    """The predicate for ``text`` (every term must hold); ``FilterError`` for a bad term."""
    predicate, errors = parse_terms(text, known, haystack)
    if errors:
        raise errors[0]
    return predicate


def parse_terms(
    text: str, known: set[str], haystack: Callable[[Row], str]
) -> tuple[Predicate, list[FilterError]]:
    """Lenient form for typing: the predicate of the terms that read, and why the others did
    not (so ``f1>0.7 p95<`` keeps filtering by f1 while the number is being typed)."""
    tests: list[Predicate] = []
    errors: list[FilterError] = []
    for term in text.split():
        try:
            tests.append(_term(term, known, haystack))
        except FilterError as error:
            errors.append(error)
    if not tests:
        return (lambda row: True), errors
    return (lambda row: all(test(row) for test in tests)), errors


def _term(term: str, known: set[str], haystack: Callable[[Row], str]) -> Predicate:
    match = _COMPARISON.match(term)
    if match:
        name, op, raw = match.groups()
        name = ALIASES.get(name.lower(), name)
        if not raw:
            raise FilterError(f"'{term}': a number is missing after {op} (e.g. {name}{op}0.75)")
        try:
            limit = float(raw)
        except ValueError:
            raise FilterError(f"'{term}': '{raw}' is not a number (e.g. {name}{op}0.75)") from None
        if not math.isfinite(limit):
            raise FilterError(f"'{term}': the limit must be a finite number")
        if name not in known:
            nearby = sorted(n for n in known if not n.startswith("test_"))[:8]
            raise FilterError(
                f"'{term}': no snapshot has a measure '{name}' "
                f"(known: {', '.join(nearby)}{', …' if len(known) > 8 else ''})"
            )
        compare = OPERATORS[op]

        def numeric(row: Row) -> bool:
            value = row_value(row, name)
            return value is not None and compare(value, limit)

        return numeric
    if ":" in term:
        field, _, wanted = term.partition(":")
        getter = TEXT_FIELDS.get(field.lower())
        if getter is None:
            raise FilterError(
                f"'{term}': no field '{field}' (fields: {', '.join(sorted(TEXT_FIELDS))})"
            )
        if not wanted:
            raise FilterError(f"'{term}': text is missing after ':' (e.g. {field}:forest)")
        wanted = wanted.lower()
        return lambda row: wanted in str(getter(row) or "").lower()
    word = term.lower()
    return lambda row: word in haystack(row)
