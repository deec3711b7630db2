"""ledger.toml: seals chained as records are written, verify naming every departure, adopt, and
a parser that never raises whatever the file holds."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from modelsnap.core.errors import IntegrityError
from modelsnap.core.records import ledger, store


@pytest.fixture
def folder(tmp_path: Path, make_body, make_staged) -> Path:
    """Three snapshots written through the store, so sealed as they were written."""
    root = tmp_path / "p"
    root.mkdir()
    for name in ("forest", "tree", "logistic"):
        staged = make_staged(root, name.encode())
        store.write_snapshot(root, make_body(name=name), staged_files=staged)
        shutil.rmtree(staged["artifact"].parent)
    return root


def test_each_write_appends_one_chained_seal(folder: Path) -> None:
    seals = ledger.read_ledger(folder)
    files = sorted(p.name for p in (folder / "snapshots").glob("*.toml"))
    assert sorted(s["path"] for s in seals) == [f"snapshots/{name}" for name in files]
    assert [s["seq"] for s in seals] == [1, 2, 3]
    assert seals[0]["previous_sha256"] == ""
    for before, after in zip(seals, seals[1:], strict=False):
        assert after["previous_sha256"] == before["sha256"]
    for seal in seals:
        assert seal["sha256"] == ledger.entry_hash(seal)
        path = folder / seal["path"]
        assert seal["record_sha256"] == ledger.sha256_file(path)
    assert ledger.verify(folder) == []
    assert ledger.head(folder) == seals[-1]["sha256"]
    assert not (folder / ".modelsnap" / ledger.PENDING_FILE).exists()


def test_verify_with_head_gives_what_verify_and_head_give(folder: Path) -> None:
    """check prints the head of the ledger it verified, from the one read: the same as
    ``head`` for a sealed folder, one without a ledger and one whose ledger is broken."""
    assert ledger.verify_with_head(folder) == (ledger.verify(folder), ledger.head(folder))
    assert ledger.verify_with_head(folder)[1] == ledger.read_ledger(folder)[-1]["sha256"]
    path = folder / ledger.LEDGER_FILE
    text = path.read_text()
    path.write_text("seq = [\n")
    found, head = ledger.verify_with_head(folder)
    assert head is None is ledger.head(folder)
    assert found == ledger.verify(folder) and "no record can be verified" in found[-1].message
    path.unlink()
    assert ledger.verify_with_head(folder) == (ledger.verify(folder), None)
    path.write_text(text)


def test_an_edit_to_a_revision_outside_its_own_hash_is_named(tmp_path: Path) -> None:
    """A revision's own sha256 covers its criteria only; its seal covers every key."""
    from modelsnap.cli import main

    root = tmp_path / "p"
    root.mkdir()
    lines = ["a,b,y"] + [f"{i},{i % 7},{'yes' if i % 3 else 'no'}" for i in range(60)]
    (root / "data.csv").write_text("\n".join(lines) + "\n")
    assert main(["init", str(root), "--data", str(root / "data.csv"), "--target", "y"]) == 0
    assert main(["lock", str(root), "--reason", "agreed before training", "--by", "ana"]) == 0
    assert ledger.verify(root) == []
    path = root / "criteria_revisions.toml"
    path.write_text(path.read_text().replace('locked_by = "ana"', 'locked_by = "ben"'))
    [finding] = ledger.verify(root)
    assert finding.where == "criteria_revisions.toml"
    assert "criteria revision 1 was edited or replaced" in finding.message


def test_adopt_seals_what_is_unsealed_once_and_refuses_a_changed_record(folder: Path) -> None:
    (folder / ledger.LEDGER_FILE).unlink()
    [finding] = ledger.verify(folder)
    assert finding.unsealed and "made before sealing" in finding.message
    assert len(ledger.adopt(folder)) == 3
    assert ledger.adopt(folder) == []
    assert ledger.verify(folder) == []
    path = next((folder / "snapshots").glob("*.toml"))
    path.write_text(path.read_text().replace('notes = ""', 'notes = "later"'))
    with pytest.raises(IntegrityError, match="nothing sealed"):
        ledger.adopt(folder)


def test_an_unreadable_ledger_refuses_the_next_write_before_it_happens(
    folder: Path, make_body, make_staged
) -> None:
    (folder / ledger.LEDGER_FILE).write_text("schema = 1\n\n[[seal]]\nseq = \n")
    before = sorted(p.name for p in (folder / "snapshots").iterdir())
    with pytest.raises(IntegrityError):
        store.write_snapshot(
            folder, make_body(name="late"), staged_files=make_staged(folder, b"late")
        )
    assert sorted(p.name for p in (folder / "snapshots").iterdir()) == before
    assert not list((folder / "models").glob("*late*"))


@settings(
    max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(data=st.data())
def test_any_change_to_the_ledger_is_reported_and_verify_never_raises(folder: Path, data) -> None:
    path = folder / ledger.LEDGER_FILE
    original = path.read_bytes()
    try:
        kind = data.draw(
            st.sampled_from(["bytes", "flip", "drop_line", "swap", "truncate", "retype"])
        )
        lines = original.split(b"\n")
        if kind == "bytes":
            changed = data.draw(st.binary(max_size=400))
        elif kind == "flip":
            at = data.draw(st.integers(0, len(original) - 1))
            changed = (
                original[:at]
                + bytes([original[at] ^ data.draw(st.integers(1, 255))])
                + original[at + 1 :]
            )
        elif kind == "drop_line":
            at = data.draw(st.integers(0, len(lines) - 1))
            changed = b"\n".join(lines[:at] + lines[at + 1 :])
        elif kind == "swap":
            header, *blocks = original.split(b"\n[[seal]]\n")
            order = data.draw(st.permutations(range(len(blocks))))
            changed = header + b"".join(b"\n[[seal]]\n" + blocks[i] for i in order)
        elif kind == "retype":  # any key's value becomes another TOML type
            keyed = [i for i, line in enumerate(lines) if b" = " in line]
            at = data.draw(st.sampled_from(keyed))
            value = data.draw(
                st.sampled_from(
                    [
                        b"[1, { a = 2 }]",
                        b"true",
                        b"-0.0",
                        b"{}",
                        b"1979-05-27T07:32:00Z",
                        b'"../../etc"',
                    ]
                )
            )
            lines[at] = lines[at].split(b" = ")[0] + b" = " + value
            changed = b"\n".join(lines)
        else:
            changed = original[: data.draw(st.integers(0, len(original) - 1))]
        path.write_bytes(changed)
        findings = ledger.verify(folder)
        assert all(isinstance(f, ledger.Finding) for f in findings)
        try:
            same = ledger.parse_ledger(changed.decode("utf-8")) == ledger.parse_ledger(
                original.decode("utf-8")
            )
        except (IntegrityError, UnicodeDecodeError):
            same = False
        if not same:
            assert ledger.errors(findings), changed
    finally:
        path.write_bytes(original)


@settings(
    max_examples=100, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    st.binary(max_size=200)
    | st.recursive(
        st.none() | st.booleans() | st.integers() | st.text(max_size=8),
        lambda children: (
            st.lists(children, max_size=3)
            | st.dictionaries(
                st.sampled_from(["pid", "kind", "ref", "sha256"]), children, max_size=4
            )
        ),
        max_leaves=10,
    ).map(lambda value: __import__("json").dumps(value).encode())
)
def test_any_pending_marker_is_harmless(folder: Path, content: bytes) -> None:
    """.modelsnap/ledger.pending comes with a copied folder too: whatever it holds, verify and
    the next write neither raise nor seal anything that is not an unsealed record."""
    marker = folder / ".modelsnap" / ledger.PENDING_FILE
    marker.write_bytes(content)
    before = ledger.read_ledger(folder)
    assert ledger.errors(ledger.verify(folder)) == []
    with ledger.sealing(folder):
        pass
    assert ledger.read_ledger(folder) == before
    assert not marker.exists()
