"""Canonical forms: the same bytes for the same content on every machine (for hashing), and
the one conversion of a value into what a TOML record can hold (``toml_value``).

Fast path: standard library only at import (numpy is imported when a numpy value comes).
"""

from __future__ import annotations

import json
import math
from typing import Any


def canonical_json(value: Any) -> bytes:
    """Sorted keys, no spaces, UTF-8: the same bytes for the same content on every machine."""
    return json.dumps(
        value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str
    ).encode("utf-8")


def normalise_numbers(value: Any) -> Any:
    """Numbers as floats so that ``weight = 1`` and ``weight = 1.0`` hash alike."""
    if isinstance(value, dict):
        return {key: normalise_numbers(item) for key, item in value.items()}
    if isinstance(value, list):
        return [normalise_numbers(item) for item in value]
    if isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    return value


def toml_value(value: Any) -> Any:
    """Any value as one a TOML record (and strict JSON) can hold, or None: leave it out.

    The one rule for everything a run records (a snapshot's tables, an estimator's params):
    TOML has no null, so None and non-finite numbers (NaN, inf) are left out rather than written
    as text; in an array they are dropped, in a table their key is. numpy scalars and arrays
    become Python numbers and arrays; classes and functions their dotted name; any other object
    its ``repr`` (a nested estimator reads ``LinearSVC(C=0.5)``). Keys become strings.
    """
    if value is None or isinstance(value, bool | str):
        return value
    if isinstance(value, int):
        return int(value)
    if isinstance(value, float):
        number = float(value)
        return number if math.isfinite(number) else None
    if isinstance(value, list | tuple):
        items = (toml_value(item) for item in value)
        return [item for item in items if item is not None]
    if isinstance(value, dict):
        pairs = ((str(key), toml_value(item)) for key, item in value.items())
        return {key: item for key, item in pairs if item is not None}
    return _toml_object(value)


def _toml_object(value: Any) -> Any:
    """numpy values as Python ones; classes and functions by dotted name; else the repr."""
    import inspect

    import numpy as np

    if isinstance(value, np.generic | np.ndarray):
        return toml_value(value.tolist())
    if inspect.isclass(value) or inspect.isfunction(value) or inspect.isbuiltin(value):
        return f"{getattr(value, '__module__', '')}.{getattr(value, '__qualname__', repr(value))}"
    return repr(value)
