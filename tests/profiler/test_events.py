"""The worker protocol: every line round-trips, and garbage is refused with a ProtocolError."""

from __future__ import annotations

import contextlib
import json

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from modelsnap.profiler.events import STAGES, ProgressEvent, ProtocolError, decode, encode


@given(st.sampled_from(STAGES), st.floats(0.0, 1.0), st.text())
def test_progress_event_round_trips(stage: str, fraction: float, message: str) -> None:
    event = ProgressEvent(stage, fraction, message)
    line = event.to_json()
    assert "\n" not in line
    assert ProgressEvent.from_json(line) == event


@pytest.mark.parametrize(
    "stage,fraction",
    [("fitting", 0.5), ("fit", 1.5), ("fit", -0.1), ("fit", float("nan")), ("fit", True)],
)
def test_progress_event_refuses_bad_values(stage: str, fraction: float) -> None:
    with pytest.raises(ProtocolError):
        ProgressEvent(stage, fraction)


@given(st.one_of(st.text(), st.binary()))
def test_decode_never_raises_anything_but_protocol_error(line) -> None:
    try:
        message = decode(line)
    except ProtocolError:
        return
    assert message["type"] in {"progress", "warning", "result", "error"}


@given(
    st.recursive(
        st.none() | st.booleans() | st.integers() | st.text(),
        lambda inner: st.lists(inner) | st.dictionaries(st.text(), inner),
    )
)
# a type that is a list or a table: found by a CI run (TypeError: unhashable type)
@example({"type": []})
@example({"type": {}})
@example({"type": "progress", "stage": [], "fraction": {}})
def test_decode_arbitrary_json_is_validated(value) -> None:
    with contextlib.suppress(ProtocolError):
        decode(json.dumps(value))


def test_decode_checks_each_message_type() -> None:
    assert decode(encode({"type": "warning", "message": "x"}))["message"] == "x"
    assert decode(encode({"type": "result", "snapshot": {}, "staged": {"artifact": "m"}}))
    assert decode(encode({"type": "error", "error_type": "ValueError", "message": "m"}))
    with pytest.raises(ProtocolError, match="staged"):
        decode(encode({"type": "result", "snapshot": {}, "staged": {"artifact": 3}}))
    with pytest.raises(ProtocolError, match="error_type"):
        decode(encode({"type": "error", "message": "m"}))
    with pytest.raises(ProtocolError, match="unknown type"):
        decode('{"type": "hello"}')
    with pytest.raises(ProtocolError, match="not JSON"):
        decode("Fitting 3 folds for each of 2 candidates")


def test_encode_refuses_nan() -> None:
    with pytest.raises(ValueError):
        encode({"type": "warning", "message": float("nan")})
