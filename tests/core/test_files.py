"""The safe file primitives every record goes through."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from modelsnap.core.errors import PathError, SnapshotError
from modelsnap.core.files import (
    STATE_DIR,
    atomic_write_bytes,
    clean_stale_tmp,
    create_exclusive_bytes,
    inside,
    read_toml,
    safe_name,
    sha256_file,
)


def test_atomic_write_replaces_and_leaves_no_temp(tmp_path: Path) -> None:
    target = tmp_path / "a" / "record.toml"
    atomic_write_bytes(tmp_path, target, b"x = 1\n")
    atomic_write_bytes(tmp_path, target, b"x = 2\n")
    assert target.read_bytes() == b"x = 2\n"
    assert list((tmp_path / STATE_DIR / "tmp").iterdir()) == []


def test_create_exclusive_never_overwrites(tmp_path: Path) -> None:
    target = tmp_path / "snapshots" / "one.toml"
    assert create_exclusive_bytes(tmp_path, target, b"first")
    assert not create_exclusive_bytes(tmp_path, target, b"second")
    assert target.read_bytes() == b"first"
    assert list((tmp_path / STATE_DIR / "tmp").iterdir()) == []


def test_read_toml_names_the_file_on_every_failure(tmp_path: Path) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text("x = [1,\n")
    with pytest.raises(SnapshotError, match="bad.toml"):
        read_toml(bad)
    binary = tmp_path / "bin.toml"
    binary.write_bytes(b"\xff\xfe\x00")
    with pytest.raises(SnapshotError, match="not UTF-8"):
        read_toml(binary)
    with pytest.raises(SnapshotError, match="not found"):
        read_toml(tmp_path / "missing.toml")


@pytest.mark.parametrize(
    "name", ["", ".", "..", "a/b", "..\\x", ".hidden", "a\x00b", "a\nb", "x" * 201]
)
def test_safe_name_refuses_path_like_names(name: str) -> None:
    with pytest.raises(PathError):
        safe_name(name)


@given(st.text(min_size=1, max_size=40))
def test_safe_name_accepts_only_plain_components(name: str) -> None:
    try:
        accepted = safe_name(name)
    except PathError:
        return
    assert accepted == name
    assert "/" not in name and "\\" not in name and not name.startswith(".")


def test_inside_refuses_escapes_and_symlinks_out(tmp_path: Path) -> None:
    root = tmp_path / "project"
    root.mkdir()
    (root / "data.csv").write_text("a\n1\n")
    assert inside(root, "data.csv") == (root / "data.csv").resolve()
    for bad in ["../x.csv", "/etc/passwd", "sub/../../x"]:
        with pytest.raises(PathError):
            inside(root, bad)
    outside = tmp_path / "secret.csv"
    outside.write_text("s\n")
    (root / "link.csv").symlink_to(outside)
    with pytest.raises(PathError, match="outside"):
        inside(root, "link.csv")


def test_folder_lock_serialises_processes(tmp_path: Path) -> None:
    """Two processes append under the lock; neither sees the other's half-written state."""
    script = (
        "import sys, time\n"
        "from pathlib import Path\n"
        "from modelsnap.core.files import folder_lock\n"
        "root = Path(sys.argv[1]); log = root / 'log.txt'\n"
        "for i in range(50):\n"
        "    with folder_lock(root):\n"
        "        text = log.read_text() if log.exists() else ''\n"
        "        time.sleep(0.001)\n"
        "        log.write_text(text + 'x')\n"
    )
    procs = [subprocess.Popen([sys.executable, "-c", script, str(tmp_path)]) for _ in range(2)]
    assert [p.wait(timeout=60) for p in procs] == [0, 0]
    assert (tmp_path / "log.txt").read_text() == "x" * 100


def test_clean_stale_tmp_keeps_live_writers(tmp_path: Path) -> None:
    tmp = tmp_path / STATE_DIR / "tmp"
    tmp.mkdir(parents=True)
    live = tmp / f".tmp-{os.getpid()}-abc"
    dead = tmp / ".tmp-999999999-abc"
    live.write_text("")
    dead.write_text("")
    assert clean_stale_tmp(tmp_path) == 1
    assert live.exists() and not dead.exists()


def test_sha256_file(tmp_path: Path) -> None:
    path = tmp_path / "f"
    path.write_bytes(b"abc")
    assert sha256_file(path) == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"


# --------------------------------------------------------------------------- the TOML reader

_KEYS = st.text(min_size=1, max_size=8)
_SCALARS = (
    st.integers(-(2**63), 2**63 - 1)
    | st.floats(allow_nan=False)
    | st.booleans()
    | st.text(max_size=20)
    | st.datetimes()
)
_VALUES = st.recursive(
    _SCALARS,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(_KEYS, inner, max_size=4),
    max_leaves=12,
)


def _stdlib(text: str):
    import tomllib

    try:
        return ("ok", tomllib.loads(text))
    except tomllib.TOMLDecodeError:
        return ("refused", None)


def _ours(text: str):
    from modelsnap.core.files import TOMLDecodeError, toml_loads

    try:
        return ("ok", toml_loads(text))
    except TOMLDecodeError:
        return ("refused", None)


@given(st.dictionaries(_KEYS, _VALUES, max_size=6), st.data())
def test_the_toml_reader_reads_what_tomllib_reads(document, data) -> None:
    """Records are read with tomli (compiled, 2.2x tomllib): on what tomli-w writes, and on
    that text with a few characters changed, it must accept, refuse and read exactly as
    Python's tomllib does."""
    import tomli_w

    text = tomli_w.dumps(document)
    assert _ours(text) == _stdlib(text) == ("ok", document)
    for _ in range(3):
        at = data.draw(st.integers(0, len(text)))
        cut = data.draw(st.integers(0, 3))
        insert = data.draw(st.sampled_from(["", "[", "]", "=", '"', "\n", "{", ",", ".", "#"]))
        changed = text[:at] + insert + text[at + cut :]
        assert _ours(changed) == _stdlib(changed)


@pytest.mark.parametrize(
    "text",
    [
        "a = {\n b = 1,\n}\n",  # a newline in an inline table
        'a = "\\e"\n',  # the escape character
        'a = "\\x41"\n',  # a two-digit hex escape
        "a = 07:32\n",  # a time without seconds
        "a = 2026-12-01 07:32\n",
    ],
)
def test_toml_1_1_is_refused_like_any_invalid_file(tmp_path: Path, text: str) -> None:
    """TOML 1.1 (what tomli 2.4 reads) is not valid in a record: other TOML 1.0 readers,
    Python 3.11's tomllib among them, could not read it."""
    path = tmp_path / "snapshot.toml"
    path.write_text(text)
    with pytest.raises(SnapshotError, match="not valid TOML"):
        read_toml(path)


_PARSED = st.recursive(
    st.one_of(
        st.text(max_size=6), st.integers(), st.floats(allow_nan=False), st.booleans(), st.dates()
    ),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=6), inner),
    max_leaves=30,
)


@given(st.lists(_PARSED, max_size=4))
def test_shared_strings_keep_every_value_and_each_string_once(documents: list) -> None:
    """``share_strings`` changes no value and no type; after it, equal strings are one object
    across every document it saw (keys and values alike)."""
    from modelsnap.core.files import share_strings

    memo: dict[str, str] = {}
    shared = [share_strings(document, memo) for document in documents]
    assert shared == documents

    def walk(value, out: list) -> None:
        assert type(value) in (str, int, float, bool, list, dict) or hasattr(value, "year")
        if isinstance(value, dict):
            for key, item in value.items():
                out.append(key)
                walk(item, out)
        elif isinstance(value, list):
            for item in value:
                walk(item, out)
        elif isinstance(value, str):
            out.append(value)

    strings: list[str] = []
    for document in shared:
        walk(document, strings)
    assert all(text is memo[text] for text in strings)


def test_a_resolved_root_refuses_what_an_unresolved_one_refuses(tmp_path: Path) -> None:
    """``inside(..., resolved_root=True)`` (a folder resolved once for thousands of records)
    answers as ``inside`` resolving it itself: escapes and links out are refused the same."""
    from modelsnap.core.files import inside

    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "secret.npz").write_bytes(b"x")
    real = tmp_path / "project"
    (real / "models").mkdir(parents=True)
    (real / "models" / "ok.skops").write_bytes(b"y")
    (real / "models" / "link.skops").symlink_to(outside / "secret.npz")
    linked = tmp_path / "linked-project"
    linked.symlink_to(real)  # the folder reached through a link
    for root in (real, linked):
        base = root.resolve()
        assert inside(base, "models/ok.skops", resolved_root=True) == inside(
            root, "models/ok.skops"
        )
        for bad in ("../outside/secret.npz", "models/link.skops", "/etc/passwd"):
            with pytest.raises(PathError) as unresolved:
                inside(root, bad)
            with pytest.raises(PathError) as resolved:
                inside(base, bad, resolved_root=True)
            assert resolved.value.message == unresolved.value.message
