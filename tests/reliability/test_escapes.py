"""Control characters in names, notes and rationale are shown escaped, never obeyed: by the CLI,
the TUI, the Markdown model card and the HTML report. A name of 100,000 characters is cut where
it is echoed. ``init`` quotes the folder it suggests pasting into a shell."""

from __future__ import annotations

import shlex
import subprocess
import tomllib
from pathlib import Path

import pytest
import tomli_w

from modelsnap.core.records import ledger
from modelsnap.core.text import printable

from .conftest import cli, snapshot_id_of, write_data

# Clear screen, cursor home, OSC window title ended by BEL, a C1 CSI, a right-to-left override.
HOSTILE = "evil\x1b[2J\x1b[1;1Hok\x1b]0;pwned\x07\x9b31m\u202eLIAF"
RAW = ("\x1b", "\x07", "\x9b", "\u202e")


def _rename(root: Path, snapshot_id: str, name: str, notes: str = "") -> None:
    path = root / "snapshots" / f"{snapshot_id}.toml"
    doc = tomllib.loads(path.read_text())
    doc["name"], doc["notes"] = name, notes
    path.write_text(tomli_w.dumps(doc))


def _assert_no_raw(text: str, where: str) -> None:
    for char in RAW:
        assert char not in text, (where, repr(char), text[:2000])


@pytest.fixture
def hostile_project(ranked_project: Path) -> Path:
    tree = snapshot_id_of(ranked_project, "tree")
    _rename(ranked_project, tree, HOSTILE, notes=f"note {HOSTILE}\nsecond line")
    # A folder produced that way by its author, hostile names and all, and sealed as it is:
    # the names must still never reach a terminal raw.
    (ranked_project / "ledger.toml").unlink()
    ledger.adopt(ranked_project)
    return ranked_project


def test_the_helper_escapes_controls_and_keeps_other_text() -> None:
    assert printable("a\x1b[2Jb") == "a\\x1b[2Jb"
    assert printable("ok\u202etxt") == "ok\\u202etxt"
    assert printable("naïve 模型 🚀") == "naïve 模型 🚀"
    assert printable("a\nb") == "a\\x0ab" and printable("a\nb", newlines=True) == "a\nb"
    assert printable("x" * 100_000, limit=50) == "x" * 50 + "…"


def test_cli_prints_hostile_names_escaped(hostile_project: Path, tmp_path: Path) -> None:
    root = hostile_project
    tree, base = snapshot_id_of(root, "tree"), snapshot_id_of(root, "logistic")
    commands = [
        ("ls", str(root)),
        ("show", str(root), tree),
        ("show", str(root), tree, "--format", "toml"),
        ("diff", str(root), base, tree),
        ("rank", str(root)),
        ("rank", str(root), "--format", "csv"),
        ("check", str(root)),
        (
            "decide",
            str(root),
            tree,
            "--rationale",
            f"because {HOSTILE} <b>bold</b>",
            "--by",
            HOSTILE,
            "--override",
            f"why {HOSTILE}",
        ),
        ("report", str(root), "-o", str(tmp_path / "r.html"), "--no-significance"),
        ("report", str(root), "-o", str(tmp_path / "card.md"), "--no-significance"),
    ]
    for args in commands:
        proc = cli(*args)
        assert "Traceback" not in proc.stderr, (args, proc.stderr)
        _assert_no_raw(proc.stdout + proc.stderr, " ".join(args[:1]))
    listing = cli("ls", str(root)).stdout
    assert "evil\\x1b[2J\\x1b[1;1Hok" in listing  # shown, visibly
    assert "\\x1b[2J" in cli("show", str(root), tree).stdout
    html = (tmp_path / "r.html").read_text()
    card = (tmp_path / "card.md").read_text()
    _assert_no_raw(html, "html")
    _assert_no_raw(card, "markdown")
    assert "<b>bold</b>" not in card and "&lt;b&gt;bold&lt;/b&gt;" in card
    assert "<b>bold</b>" not in html


def test_a_100k_character_name_is_cut_where_echoed(ranked_project: Path) -> None:
    root = ranked_project
    tree = snapshot_id_of(root, "tree")
    _rename(root, tree, "N" * 100_000)
    listing = cli("ls", str(root))
    assert listing.returncode == 0
    assert max(len(line) for line in listing.stdout.splitlines()) < 400
    refused = cli("show", str(root), "x" * 100_000)
    assert refused.returncode != 0 and "Traceback" not in refused.stderr
    assert len(refused.stderr) < 3000, len(refused.stderr)
    text = (root / "modelsnap.toml").read_text()
    (root / "modelsnap.toml").write_text(text.replace('name = "tree"', f'name = "{"t" * 100_000}"'))
    run = cli("run", str(root), "--candidate", "tree")
    assert run.returncode != 0 and "Traceback" not in run.stderr
    assert len(run.stderr) < 3000, len(run.stderr)


def test_init_quotes_the_folder_in_its_hint(tmp_path: Path) -> None:
    source = tmp_path / "src"
    source.mkdir()
    write_data(source)
    folder = tmp_path / "$(touch pwned)"
    proc = cli("init", str(folder), "--data", str(source / "data.csv"), "--target", "label")
    assert proc.returncode == 0, proc.stderr
    hint = next(line for line in proc.stdout.splitlines() if line.startswith("next:"))
    assert f"modelsnap run {shlex.quote(str(folder))} --baseline" in hint
    # pasted into a shell, the quoted folder is a plain argument
    start = hint.index("(modelsnap run ") + len("(modelsnap run ")
    command = "echo " + hint[start : hint.index(" --baseline)")]
    subprocess.run(["sh", "-c", command], cwd=tmp_path, check=True, capture_output=True)
    assert not (tmp_path / "pwned").exists()


async def test_review_shows_hostile_names_escaped(hostile_project: Path) -> None:
    from modelsnap.tui.review_app import ReviewApp
    from modelsnap.tui.widgets.review_table import SnapshotTable

    root = hostile_project
    app = ReviewApp(root)
    async with app.run_test(size=(160, 30)) as pilot:
        await pilot.pause()
        table = app.screen.query_one(SnapshotTable)
        lines = ["".join(s.text for s in table.render_line(y)) for y in range(4)]
        _assert_no_raw("\n".join(lines), "review table")
        assert any("evil\\x1b" in line for line in lines)
        for index, row in enumerate(table.view):
            if row["id"] == snapshot_id_of(root, "tree"):
                table.move_to(index)
        for _ in range(100):
            shown = str(app.screen.query_one("#review-detail-body").render())
            if "evil" in shown:
                break
            await pilot.pause(0.05)
        _assert_no_raw(shown, "review detail")
        assert "evil\\x1b" in shown


def test_cards_and_views_escape(hostile_project: Path) -> None:
    from rich.console import Console

    from modelsnap.core.records.store import read_snapshot
    from modelsnap.tui.widgets.snapshot_card import render_snapshot

    root = hostile_project
    snapshot = read_snapshot(root, snapshot_id_of(root, "tree"))
    console = Console(file=None, width=200, record=True, force_terminal=False)
    with console.capture() as captured:
        console.print(render_snapshot(snapshot, primary="f1"))
    _assert_no_raw(captured.get(), "card")
    assert "evil\\x1b" in captured.get()
