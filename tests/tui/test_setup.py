"""Set-up for a new folder: refresh, the target guess and its reason, the column summary, the
profile descriptions, and the same refusal ``modelsnap init`` gives for a class too small."""

from __future__ import annotations

import subprocess
import sys
import tomllib
from functools import partial
from pathlib import Path

import tui_fixtures
from tui_fixtures import write_credit_csv

from modelsnap.core.profiles import PROFILE_DESCRIPTIONS
from modelsnap.tui.app import ModelsnapApp

settle = partial(tui_fixtures.settle, rounds=5)  # 5 rounds, as this file's flows always had


def text_of(app, selector: str) -> str:
    return str(app.screen.query_one(selector).content)


async def test_ctrl_r_lists_a_csv_copied_in_after_the_screen_opened(tmp_path):
    app = ModelsnapApp(tmp_path)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(app, pilot)
        assert app.current_mode == "setup"
        assert "no CSV file in this folder" in text_of(app, "#setup-error")
        write_credit_csv(tmp_path / "credit.csv", rows=60)  # as the message says: copy it in
        await pilot.press("ctrl+r")
        await settle(app, pilot)
        select = app.screen.query_one("#setup-file")
        assert [value for _label, value in select._options if value != select.NULL] == [
            "credit.csv"
        ]
        assert select.value == "credit.csv"  # the only file is chosen, and read
        assert app.screen.query_one("#setup-target").value == "default"
        assert not app.screen.query_one("#setup-error").display  # the old message is gone

        write_credit_csv(tmp_path / "more.csv", rows=30)  # a second file keeps the first chosen
        await pilot.press("ctrl+r")
        await settle(app, pilot)
        assert select.value == "credit.csv"
        assert app.screen.query_one("#setup-target").value == "default"


async def test_the_target_guess_prefers_a_conventional_name_and_says_why(tmp_path):
    rows = "".join(f"{i % 7},{i % 3},{'ab'[i % 2]},{i}\n" for i in range(40))
    (tmp_path / "wine.csv").write_text("alcohol,hue,target,vineyard\n" + rows, encoding="utf-8")
    app = ModelsnapApp(tmp_path)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(app, pilot)
        assert app.screen.query_one("#setup-target").value == "target"  # not the last column
        assert text_of(app, "#setup-target-why") == "guessed from the name 'target'"
        assert app.screen.query_one("#setup-task").value == "classification"
        app.screen.query_one("#setup-target").value = "vineyard"
        await settle(app, pilot)
        assert text_of(app, "#setup-target-why") == "chosen by you"


async def test_the_column_summary_shows_kinds_missing_values_and_the_target(tmp_path):
    lines = ["income,region,note,label"]
    for i in range(20):
        income = "" if i % 4 == 0 else f"{i * 1.5}"
        lines.append(f"{income},{'ns'[i % 2]},{'NA' if i < 3 else 'x'},{'yn'[i % 2]}")
    (tmp_path / "d.csv").write_text("\n".join(lines) + "\n", encoding="utf-8")
    app = ModelsnapApp(tmp_path)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(app, pilot)
        table = app.screen.query_one("#setup-columns")
        rows = {
            str(table.get_row_at(i)[0]): [str(cell) for cell in table.get_row_at(i)]
            for i in range(table.row_count)
        }
        assert rows["income"][1:4] == ["number", "5 (25%)", "15"]
        assert rows["region"][1:4] == ["text", "0", "2"]
        assert rows["note"][2] == "3 (15%)"
        assert rows["label"][4] == "target"
        assert "class balance of 'label'" in text_of(app, "#setup-balance")


async def test_every_profile_is_described_where_it_is_chosen(tmp_path):
    write_credit_csv(tmp_path / "credit.csv", rows=60)
    app = ModelsnapApp(tmp_path)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(app, pilot)
        assert text_of(app, "#setup-profile-note") == PROFILE_DESCRIPTIONS["balanced"]
        for name, description in PROFILE_DESCRIPTIONS.items():
            app.screen.query_one("#setup-profile").value = name
            await settle(app, pilot, rounds=2)
            assert text_of(app, "#setup-profile-note") == description


async def test_a_one_row_class_is_refused_as_init_refuses_it(tmp_path):
    rows = "".join(f"{i},{'ab'[i % 2]}\n" for i in range(20)) + "99,c\n"
    (tmp_path / "in.csv").write_text("x,y\n" + rows, encoding="utf-8")
    outside = tmp_path / "elsewhere"
    outside.mkdir()
    init = subprocess.run(
        [
            sys.executable,
            "-m",
            "modelsnap",
            "init",
            str(outside / "p"),
            "--data",
            str(tmp_path / "in.csv"),
            "--target",
            "y",
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert init.returncode == 2
    init_message = " ".join(init.stderr.split()).split(" hint: ")[0].removeprefix("error: ")

    root = tmp_path / "new"
    root.mkdir()
    (root / "in.csv").write_text("x,y\n" + rows, encoding="utf-8")
    app = ModelsnapApp(root)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(app, pilot)
        error = " ".join(text_of(app, "#setup-error").split())
        assert error.startswith("✗ " + init_message), (error, init_message)
        assert "untick Stratify" in error
        await pilot.press("ctrl+s")
        await settle(app, pilot)
        assert not (root / "modelsnap.toml").exists()
        assert app.current_mode == "setup"

        app.screen.query_one("#setup-stratify").value = False  # the way out the hint names
        await settle(app, pilot, rounds=2)
        assert not app.screen.query_one("#setup-error").display
        await pilot.press("ctrl+s")
        await settle(app, pilot, rounds=8)
        assert app.current_mode == "criteria"
    doc = tomllib.loads((root / "modelsnap.toml").read_text(encoding="utf-8"))
    assert doc["data"]["stratify"] is False


async def test_create_runs_init_checks_the_preview_cannot_make(tmp_path):
    """A rule the csv preview does not apply (a missing target value) still stops the create,
    in the loader's words, and nothing is written."""
    rows = "".join(f"{i},{'ab'[i % 2]}\n" for i in range(20)) + "99,\n"
    (tmp_path / "in.csv").write_text("x,y\n" + rows, encoding="utf-8")
    app = ModelsnapApp(tmp_path)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(app, pilot)
        await pilot.press("ctrl+s")
        await settle(app, pilot, rounds=8)
        assert "target column 'y' has 1 missing value(s)" in text_of(app, "#setup-error")
        assert not (Path(tmp_path) / "modelsnap.toml").exists()


async def test_ctrl_r_after_the_chosen_csv_was_removed_clears_its_preview(tmp_path):
    write_credit_csv(tmp_path / "credit.csv", rows=60)
    write_credit_csv(tmp_path / "other.csv", rows=30)
    app = ModelsnapApp(tmp_path)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(app, pilot)
        app.screen.query_one("#setup-file").value = "credit.csv"
        await settle(app, pilot)
        assert app.screen.query_one("#setup-target").value == "default"
        (tmp_path / "credit.csv").unlink()
        await pilot.press("ctrl+r")
        await settle(app, pilot)
        assert app.screen.query_one("#setup-file").value == "other.csv"  # the only one left
        (tmp_path / "other.csv").unlink()
        await pilot.press("ctrl+r")
        await settle(app, pilot)
        assert app.screen.preview is None
        assert app.screen.query_one("#setup-columns").row_count == 0
        assert "no CSV file in this folder" in text_of(app, "#setup-error")
