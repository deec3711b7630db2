"""A long JSON array encoded in memory order (cli.output.json_array_by_address) is the very
bytes ``json_bytes`` writes, whatever the objects hold; and where that cannot hold, it says so."""

from __future__ import annotations

import random
from dataclasses import dataclass, field

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from modelsnap.cli import output
from modelsnap.cli.output import json_array_by_address, json_bytes, json_parts_with
from modelsnap.core.selection.ranking import RankedEntry

HOSTILE = [
    "",
    '},{"gain":',
    '"},{"gain":{',
    '\\"},{\\"gain\\":',
    "\x00\x1b[2J\u202e",
    "ünïcødé 模型 🚀",
    "\\",
]


def entry(n: int, rng: random.Random) -> RankedEntry:
    text = rng.choice(HOSTILE) + str(n)
    return RankedEntry(
        id=f"{n:06d}-{text}",
        name=rng.choice(HOSTILE),
        kind=rng.choice(["candidate", "baseline"]),
        rank=n,
        score=rng.choice([rng.random(), 0.0, -0.0, 1e16, 5e-324, float("nan"), float("inf")]),
        values={"f1": rng.random(), text: 0.5},
        normalised={"f1": rng.random()},
        gain={"baseline_id": text, "relative": rng.random()} if n % 3 else {},
        warnings=[rng.choice(HOSTILE) for _ in range(n % 3)],
        hardware_flags=["size_mb"] if n % 5 == 0 else [],
        primary=None if n % 7 == 0 else rng.random(),
    )


@pytest.fixture
def low_threshold(monkeypatch):
    monkeypatch.setattr(output, "BY_ADDRESS_FROM", 2)


def joined(parts) -> bytes:
    return b"".join(parts)


def test_entries_made_in_one_order_and_listed_in_another_give_the_same_bytes(low_threshold):
    rng = random.Random(5)
    made = [entry(n, rng) for n in range(400)]  # memory order: the order they were made
    listed = made[:]
    rng.shuffle(listed)  # the answer's order (best first)
    parts = json_array_by_address(listed, first_key="gain")
    assert parts is not None
    assert joined(parts) == json_bytes(listed)


@settings(max_examples=60, deadline=None)
@given(
    st.lists(
        st.tuples(st.text(max_size=12), st.floats(allow_nan=True), st.text(max_size=12)),
        min_size=2,
        max_size=30,
    ),
    st.randoms(use_true_random=False),
)
def test_any_texts_and_numbers_give_the_same_bytes(rows, rng):
    output_threshold = output.BY_ADDRESS_FROM
    output.BY_ADDRESS_FROM = 2
    try:
        items = [
            RankedEntry(
                id=ident,
                name=name,
                kind="candidate",
                rank=i,
                score=score,
                values={name: score},
                normalised={},
                warnings=[ident, name],
                gain={"baseline_id": name},
            )
            for i, (ident, score, name) in enumerate(rows)
        ]
        rng.shuffle(items)
        parts = json_array_by_address(items, first_key="gain")
        assert parts is not None and joined(parts) == json_bytes(items)
    finally:
        output.BY_ADDRESS_FROM = output_threshold


def test_a_short_list_is_left_to_json_bytes():
    rng = random.Random(1)
    assert json_array_by_address([entry(n, rng) for n in range(10)], first_key="gain") is None


@dataclass
class Nested:
    gain: int
    inner: list[dict[str, int]] = field(default_factory=list)


def test_objects_that_hold_the_separator_in_a_nested_list_are_left_as_they_are(low_threshold):
    items = [Nested(1, [{"gain": 1}, {"gain": 2}]), Nested(2), Nested(3)]
    assert json_array_by_address(items, first_key="gain") is None
    assert json_array_by_address([Nested(1), Nested(2)], first_key="other") is None


def test_objects_orjson_refuses_are_left_to_the_standard_library(low_threshold):
    items = [Nested(2**70), Nested(1)]  # past 64 bits: orjson refuses it
    assert json_array_by_address(items, first_key="gain") is None


def test_the_answer_around_the_array_is_the_one_json_bytes_writes(low_threshold):
    rng = random.Random(9)
    listed = [entry(n, rng) for n in range(50)]
    rng.shuffle(listed)
    body = {"method": "weighted", "ranked": listed, "warnings": ['"ranked":', "\x00ranked"]}
    parts = json_parts_with(body, "ranked", json_array_by_address(listed, first_key="gain"))
    assert parts is not None and joined(parts) == json_bytes(body)
    body["problems"] = [2**70]  # the rest cannot go through orjson: the caller's plain path
    assert json_parts_with(body, "ranked", (b"[", b"]")) is None


calls: list[int] = []  # the batches os.writev was given, when counted


def written_to_a_file(tmp_path, parts, monkeypatch, *, most: int | None = None) -> bytes:
    """What ``write_bytes`` leaves in a file given as stdout, after a line already buffered
    there; ``most``: the most bytes each ``os.writev`` takes (a pipe or a signal can stop a
    batch partway)."""
    calls.clear()
    if most is not None:
        writev = output.os.writev
        enough = sum(map(len, parts)) // most + len(parts) + 10  # calls, were each one to count

        def partial(fd, buffers):
            calls.append(len(buffers))
            if len(calls) > enough:  # a writer that makes no progress fails here, never hangs
                raise AssertionError("os.writev asked again and again for the same bytes")
            taken, left = [], most
            for part in buffers:
                if left <= 0:
                    break
                taken.append(memoryview(part)[:left])
                left -= len(taken[-1])
            return writev(fd, taken)

        monkeypatch.setattr(output.os, "writev", partial)
    path = tmp_path / "out.json"
    with open(path, "w", encoding="utf-8") as stream:
        monkeypatch.setattr(output.sys, "stdout", stream)
        print("before", file=stream)  # buffered, not yet written: it must come first
        output.write_bytes(parts)
        monkeypatch.undo()
    return path.read_bytes()


@pytest.mark.parametrize("most", [None, 1, 7, 1000])
def test_many_parts_reach_the_file_whole_and_in_order(tmp_path, monkeypatch, low_threshold, most):
    rng = random.Random(3)
    listed = [entry(n, rng) for n in range(300)]
    rng.shuffle(listed)
    parts = json_array_by_address(listed, first_key="gain")
    assert parts is not None and len(parts) > output.WRITEV_FROM
    written = written_to_a_file(tmp_path, (*parts, b"\n"), monkeypatch, most=most)
    assert written == b"before\n" + json_bytes(listed) + b"\n"
    if most is not None:  # through os.writev, in batches of at most IOV_MAX parts
        assert len(calls) >= len(written) // most - 8 and max(calls) <= output._IOV_MAX


def test_many_parts_without_a_file_descriptor_are_written_one_by_one(monkeypatch):
    import io

    stream = io.TextIOWrapper(io.BytesIO(), encoding="utf-8")
    monkeypatch.setattr(output.sys, "stdout", stream)
    parts = tuple(f"{n},".encode() for n in range(200))
    output.write_bytes(parts)
    assert stream.buffer.getvalue() == b"".join(parts)
