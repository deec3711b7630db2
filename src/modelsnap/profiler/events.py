"""The worker's wire protocol: progress events and the messages around them, as JSON lines.

The worker writes one JSON object per line on its (private) stdout; the parent reads them in a
thread. Keeping the protocol in one small module means the CLI, the TUI and the Python API all
consume the same ``ProgressEvent`` and nothing else has to know the line format. Every line the
parent cannot decode becomes a ``ProtocolError`` naming the line, never a traceback.

Messages (``type`` key):

- ``progress``: ``stage``, ``fraction`` (0..1 within the stage), ``message``
- ``warning``:  ``message`` (something the user should know; the run goes on)
- ``item``:     ``id``, ``result`` (one model's outcome in an edge-case job, in job order)
- ``result``:   ``snapshot`` (the snapshot body), ``staged`` (staged file key -> file name)
- ``error``:    ``error_type``, ``message``, optional ``stage``, ``where``, ``hint``, ``modelsnap``
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from typing import Any

from modelsnap.core.errors import ModelsnapError

# The stages a run goes through, in order. ``search`` only when a grid is given;
# ``fit``/``search`` are skipped by re-profiling.
STAGES: tuple[str, ...] = (
    "load",
    "split",
    "search",
    "fit",
    "evaluate",
    "analyse",
    "latency",
    "batch",
    "save",
)

MESSAGE_TYPES = frozenset({"progress", "warning", "item", "result", "error"})


class ProtocolError(ModelsnapError):
    """A line from the worker is not a valid protocol message (a bug or a corrupted stream)."""


@dataclass(frozen=True)
class ProgressEvent:
    """One step of progress: ``stage`` (one of STAGES), ``fraction`` done within it, a message.

    A stage's first event has fraction 0.0 and its last 1.0, so a front end can show one bar per
    stage without knowing how long each takes.
    """

    stage: str
    fraction: float
    message: str = ""

    def __post_init__(self) -> None:
        if self.stage not in STAGES:
            raise ProtocolError(
                f"unknown progress stage {self.stage!r}",
                hint=f"expected one of {', '.join(STAGES)}",
            )
        if (
            not isinstance(self.fraction, (int, float))
            or isinstance(self.fraction, bool)
            or not math.isfinite(self.fraction)
            or not 0.0 <= self.fraction <= 1.0
        ):
            raise ProtocolError(f"progress fraction {self.fraction!r} is not a number in [0, 1]")
        if not isinstance(self.message, str):
            raise ProtocolError(f"progress message {self.message!r} is not text")

    def to_dict(self) -> dict[str, Any]:
        return {
            "type": "progress",
            "stage": self.stage,
            "fraction": float(self.fraction),
            "message": self.message,
        }

    def to_json(self) -> str:
        return encode(self.to_dict())

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ProgressEvent:
        # Values off the wire, of any type: __post_init__ checks each one (ProtocolError).
        stage: Any = data.get("stage")
        fraction: Any = data.get("fraction")
        return cls(stage=stage, fraction=fraction, message=data.get("message", ""))

    @classmethod
    def from_json(cls, line: str) -> ProgressEvent:
        message = decode(line)
        if message["type"] != "progress":
            raise ProtocolError(f"expected a progress message, got {message['type']!r}")
        return cls.from_dict(message)


def encode(message: dict[str, Any]) -> str:
    """One message as one line of JSON: no embedded newlines, NaN refused (strict JSON)."""
    return json.dumps(message, ensure_ascii=True, allow_nan=False, separators=(",", ":"))


def decode(line: str | bytes) -> dict[str, Any]:
    """Parse and validate one protocol line; raises ProtocolError naming what was wrong."""
    if isinstance(line, bytes):
        try:
            line = line.decode("utf-8")
        except UnicodeDecodeError:
            raise ProtocolError("worker output is not UTF-8") from None
    shown = line.strip()[:200]
    try:
        message = json.loads(line)
    except (json.JSONDecodeError, RecursionError):
        raise ProtocolError(f"worker wrote a line that is not JSON: {shown!r}") from None
    if not isinstance(message, dict):
        raise ProtocolError(f"worker message is not a JSON object: {shown!r}")
    kind = message.get("type")
    if not isinstance(kind, str) or kind not in MESSAGE_TYPES:  # [] or {} cannot be looked up
        raise ProtocolError(f"worker message has unknown type {kind!r}: {shown!r}")
    if kind == "progress":
        ProgressEvent.from_dict(message)
    elif kind == "warning":
        _require(message, "message", str)
    elif kind == "item":
        _require(message, "id", str)
        _require(message, "result", dict)
    elif kind == "result":
        _require(message, "snapshot", dict)
        _require(message, "staged", dict)
        if not all(isinstance(k, str) and isinstance(v, str) for k, v in message["staged"].items()):
            raise ProtocolError("result 'staged' must map names to file names")
    elif kind == "error":
        _require(message, "error_type", str)
        _require(message, "message", str)
    return message


def _require(message: dict[str, Any], key: str, kind: type) -> None:
    if not isinstance(message.get(key), kind):
        raise ProtocolError(
            f"worker {message['type']} message lacks {key!r} of type {kind.__name__}"
        )
