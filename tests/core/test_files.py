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
