"""Paths: no name, id or path in a project file, on the command line or as a symlink in a copied
folder makes modelsnap read or write outside the project folder."""

from __future__ import annotations

import os
import shutil
import tomllib
from pathlib import Path

import pytest
import tomli_w

from modelsnap.core.errors import ModelsnapError, ProjectFileError
from modelsnap.core.project.parse import load_project
from modelsnap.core.records.store import list_snapshots, read_snapshot, write_snapshot

from .conftest import assert_clean_failure, cli, snapshot_id_of

pytestmark = pytest.mark.slow

HOSTILE_IDS = [
    "../../etc/passwd",
    "/etc/passwd",
    "..",
    ".",
    "a/b",
    "snapshots/../x",
    "..\\..\\x",
    "\u202etxt.sh",
    "x" * 300,
    "~root",
]


def outside_files(outside: Path) -> list[str]:
    return sorted(str(p.relative_to(outside)) for p in outside.rglob("*") if p.is_file())


@pytest.fixture
def outside(tmp_path: Path) -> Path:
    """A folder next to the project that must stay exactly as it is."""
    folder = tmp_path / "outside"
    folder.mkdir()
    (folder / "secret.csv").write_text("a,b,label\n1,2,pos\n")
    return folder


@pytest.mark.parametrize("bad", HOSTILE_IDS)
def test_hostile_snapshot_ids_on_the_cli(ranked_project: Path, outside: Path, bad: str) -> None:
    root = ranked_project
    good = snapshot_id_of(root, "tree")
    before = outside_files(outside)
    for args in (
        ("show", str(root), bad),
        ("diff", str(root), bad, good),
        ("diff", str(root), good, bad),
        ("profile", str(root), bad),
        ("decide", str(root), bad, "--rationale", "chosen for the test: best trade-off"),
    ):
        proc = cli(*args)
        assert_clean_failure(proc, code=2 if ("/" in bad or bad in (".", "..")) else None)
        assert "error:" in proc.stderr, (args, proc.stderr)
    assert outside_files(outside) == before
    assert not (root / "decisions.toml").exists()


def _edited(root: Path, edit) -> None:
    doc = tomllib.loads((root / "modelsnap.toml").read_text())
    edit(doc)
    (root / "modelsnap.toml").write_text(tomli_w.dumps(doc))


@pytest.mark.parametrize(
    "label, edit",
    [
        ("source ..", lambda d: d["data"].update(source="../outside/secret.csv")),
        ("source absolute", lambda d: d["data"].update(source="{outside}/secret.csv")),
        ("source symlink", lambda d: d["data"].update(source="link.csv")),
        ("edge_cases ..", lambda d: d["data"].update(edge_cases="../outside/secret.csv")),
        ("edge_cases absolute", lambda d: d["data"].update(edge_cases="{outside}/secret.csv")),
        ("edge_cases symlink", lambda d: d["data"].update(edge_cases="link.csv")),
        ("name ..", lambda d: d["candidates"][0].update(name="../../evil")),
        ("name absolute", lambda d: d["candidates"][0].update(name="/tmp/evil")),
        ("name NUL", lambda d: d["candidates"][0].update(name="tree\x00.toml")),
        ("name very long", lambda d: d["candidates"][0].update(name="x" * 5000)),
        ("estimator path", lambda d: d["candidates"][0].update(estimator="../../evil.Model")),
    ],
)
def test_project_file_paths_stay_inside(
    ranked_project: Path, outside: Path, label: str, edit
) -> None:
    root = ranked_project
    (root / "link.csv").symlink_to(outside / "secret.csv")

    def apply(doc: dict) -> None:
        edit(doc)
        for table in (doc["data"], doc["candidates"][0]):
            for key, value in table.items():
                if isinstance(value, str):
                    table[key] = value.replace("{outside}", str(outside))

    _edited(root, apply)
    with pytest.raises(ProjectFileError) as refused:
        load_project(root)
    assert "modelsnap.toml" in str(refused.value)
    proc = cli("run", str(root), "--candidate", "tree")
    assert_clean_failure(proc, code=2)


def test_odd_unicode_name_stays_a_plain_file_name(ranked_project: Path) -> None:
    """A right-to-left mark or emoji in a model name is kept as the name, never in a path."""
    root = ranked_project
    template = read_snapshot(root, snapshot_id_of(root, "tree"))
    for name in ("tree\u202egnp.exe", "модель/../../x", "🌲" * 100, "a\tb\nc"):
        body = {k: v for k, v in template.items() if k not in ("id",)}
        body["name"] = name
        snapshot_id = write_snapshot(root, body)
        assert snapshot_id.isascii() and "/" not in snapshot_id and ".." not in snapshot_id
        assert read_snapshot(root, snapshot_id)["name"] == name
    assert (
        sorted(p.parent.name for p in root.rglob("*.toml") if p.parent != root) == ["snapshots"] * 6
    )


@pytest.mark.parametrize("folder", ["snapshots", "models", "predictions", ".modelsnap/tmp"])
def test_a_folder_linked_outside_is_never_written(
    ranked_project: Path, outside: Path, folder: str
) -> None:
    root = ranked_project
    template = read_snapshot(root, snapshot_id_of(root, "tree"))
    artifact = (root / template["model"]["artifact"]).read_bytes()
    predictions = (root / template["predictions"]["path"]).read_bytes()
    staging = root / "staging"  # staged outside .modelsnap/tmp, so the links under test matter
    staging.mkdir()
    (staging / "model.skops").write_bytes(artifact)
    (staging / "predictions.npz").write_bytes(predictions)
    target = outside / folder.replace("/", "_")
    shutil.copytree(root / folder, target)
    shutil.rmtree(root / folder)
    os.symlink(target, root / folder)
    before = outside_files(outside)
    body = {k: v for k, v in template.items() if k != "id"}
    with pytest.raises(ModelsnapError) as refused:
        write_snapshot(
            root,
            body,
            staged_files={
                "artifact": staging / "model.skops",
                "predictions": staging / "predictions.npz",
            },
        )
    assert "outside the project folder" in str(refused.value)
    assert outside_files(outside) == before


def test_a_decision_log_or_state_folder_linked_outside_is_never_written(
    ranked_project: Path, outside: Path
) -> None:
    root = ranked_project
    tree = snapshot_id_of(root, "tree")
    shutil.copytree(root / ".modelsnap", outside / "state")
    shutil.rmtree(root / ".modelsnap")
    os.symlink(outside / "state", root / ".modelsnap")
    before = {p: p.read_bytes() for p in (outside / "state").rglob("*") if p.is_file()}
    proc = cli("decide", str(root), tree, "--rationale", "chosen for the test: best trade-off")
    assert_clean_failure(proc)
    assert "outside the project folder" in " ".join(proc.stderr.split())
    after = {p: p.read_bytes() for p in (outside / "state").rglob("*") if p.is_file()}
    assert after == before and not (root / "decisions.toml").exists()


def test_ls_and_rank_never_write_an_index_through_a_state_folder_linked_outside(
    ranked_project: Path, outside: Path
) -> None:
    """The index is only a cache: with ``.modelsnap`` linked outside the folder, ``ls`` and
    ``rank`` answer from the snapshot files and write nothing there (not even the index they
    would otherwise fold), while a record's write is refused by name (the test above)."""
    root = ranked_project
    shutil.rmtree(root / ".modelsnap")
    (outside / "state").mkdir()
    os.symlink(outside / "state", root / ".modelsnap")
    before = outside_files(outside)
    for command in ("ls", "rank"):
        proc = cli(command, str(root), "--format", "json")
        assert proc.returncode == 0 and "Traceback" not in proc.stderr, proc.stderr
        assert proc.stdout.strip()
    assert outside_files(outside) == before == ["secret.csv"]


def test_a_snapshot_file_linked_outside_is_not_read(ranked_project: Path, outside: Path) -> None:
    root = ranked_project
    victim = snapshot_id_of(root, "tree")
    path = root / "snapshots" / f"{victim}.toml"
    shutil.move(path, outside / path.name)
    path.symlink_to(outside / path.name)
    snapshots, problems = list_snapshots(root)
    assert [s["name"] for s in snapshots] == ["logistic"]
    assert [p.path.name for p in problems] == [path.name]
    assert "outside the project folder" in problems[0].message
    with pytest.raises(ModelsnapError):
        read_snapshot(root, victim)
    listing = cli("ls", str(root))
    assert listing.returncode == 1 and "Traceback" not in listing.stderr
    assert path.name in listing.stderr
    assert_clean_failure(cli("show", str(root), victim))


def test_an_artifact_linked_outside_is_not_loaded(ranked_project: Path, outside: Path) -> None:
    root = ranked_project
    tree = snapshot_id_of(root, "tree")
    artifact = root / "models" / f"{tree}.skops"
    shutil.move(artifact, outside / artifact.name)
    artifact.symlink_to(outside / artifact.name)  # same bytes, same hash: only the link differs
    proc = cli("profile", str(root), tree, "--latency-trials", "2")
    assert_clean_failure(proc)
    assert "outside the project folder" in " ".join(proc.stderr.split())
    check = cli("check", str(root))
    assert check.returncode == 1 and "outside the project folder" in " ".join(check.stdout.split())
