"""``modelsnap predict``: rows typed by hand or read from a CSV, every competing model's answer
side by side, models loaded only in the worker process."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from modelsnap import Project
from modelsnap.api.trying import predict_rows
from modelsnap.core.followup.trying import rows_from_texts

from .conftest import flat, modelsnap

pytestmark = pytest.mark.slow


def predict(root: Path, *args: str) -> tuple[int, dict, str]:
    done = modelsnap("predict", str(root), *args, "--format", "json")
    return done.returncode, json.loads(done.stdout) if done.stdout.strip() else {}, done.stderr


def test_rows_typed_by_hand_get_every_models_answer(decided_project: Path) -> None:
    code, result, err = predict(
        decided_project,
        "--row",
        "age=41,income=52000,region=west",
        "--row",
        "age=70, income=10000, region=north",
    )
    assert code == 0, err
    assert [m["name"] for m in result["models"]] == ["logistic", "tree"]
    assert [m["kind"] for m in result["models"]] == ["baseline", "candidate"]
    assert len(result["rows"]) == 2
    first = result["rows"][0]
    assert first["label"] == "row 1"
    assert first["input"] == {"age": 41.0, "income": 52000.0, "region": "west"}
    for answer in first["predictions"]:
        assert answer["prediction"] in ("yes", "no")
        assert set(answer["proba"]) == {"no", "yes"}
        assert abs(sum(answer["proba"].values()) - 1.0) < 1e-9
        assert answer["proba"][answer["prediction"]] >= 0.5
    for row in result["rows"]:
        answers = {a["prediction"] for a in row["predictions"]}
        assert row["disagree"] is (len(answers) > 1)
    # The rich table: one column per model, the disagreement marked.
    table = modelsnap("predict", str(decided_project), "--row", "age=70,income=10000,region=north")
    assert table.returncode == 0 and "logistic" in table.stdout and "tree" in table.stdout
    assert ("│ ! │" in table.stdout) is result["rows"][1]["disagree"]


def test_a_csv_of_cases_names_its_rows_and_shows_the_expected_answer(
    decided_project: Path, tmp_path: Path
) -> None:
    rows = tmp_path / "rows.csv"
    rows.write_text(
        "case,severity,age,income,region,approved\n"
        "young low income,high,21,9000,south,no\n"
        "missing region,normal,50,60000,,yes\n"
    )
    code, result, err = predict(decided_project, "--csv", str(rows))
    assert code == 0, err
    assert [r["label"] for r in result["rows"]] == ["young low income", "missing region"]
    assert [r["expected"] for r in result["rows"]] == ["no", "yes"]
    assert result["rows"][1]["input"]["region"] is None


def test_snapshot_option_picks_the_models(decided_project: Path) -> None:
    listed = json.loads(modelsnap("ls", str(decided_project), "--format", "json").stdout)
    tree = next(s["id"] for s in listed if s["name"] == "tree")
    code, result, err = predict(
        decided_project, "--row", "age=30,income=40000,region=east", "--snapshot", tree
    )
    assert code == 0, err
    assert [m["id"] for m in result["models"]] == [tree]
    assert result["rows"][0]["disagree"] is False
    unknown = modelsnap(
        "predict",
        str(decided_project),
        "--row",
        "age=30,income=1,region=east",
        "--snapshot",
        "nope",
    )
    assert unknown.returncode != 0 and "nope" in unknown.stderr


def test_the_python_function_gives_the_cli_answer(decided_project: Path) -> None:
    text = "age=55,income=30000,region=west"
    _, cli, _ = predict(decided_project, "--row", text)
    core = predict_rows(decided_project, rows_from_texts([text]))
    assert json.loads(json.dumps(core)) == cli
    api = Project(decided_project).predict([{"age": 55, "income": 30000, "region": "west"}])
    assert [a["prediction"] for a in api["rows"][0]["predictions"]] == [
        a["prediction"] for a in cli["rows"][0]["predictions"]
    ]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--row", "age=41,income=52000"], "row 1: missing column(s) 'region'"),
        (
            ["--row", "age=41,income=52000,region=west,colour=red"],
            "row 1: unknown column(s) 'colour'",
        ),
        (
            ["--row", "age=forty,income=52000,region=west"],
            "row 1: column 'age' is numeric, 'forty' is not a finite number",
        ),
        (["--row", "age=41,income,region=west"], "'income' is not column=value"),
    ],
)
def test_bad_rows_exit_2_before_any_model_is_loaded(
    decided_project: Path, args: list[str], message: str
) -> None:
    done = modelsnap("predict", str(decided_project), *args)
    assert done.returncode == 2
    text = flat(done.stderr)
    assert message in text and "Traceback" not in done.stderr
    assert "give every feature column: age, income, region" in text or "column=value" in text


def test_bad_csv_names_the_line(decided_project: Path, tmp_path: Path) -> None:
    rows = tmp_path / "rows.csv"
    rows.write_text("age,income,region\n41,52000,west\n42,oops,east\n")
    done = modelsnap("predict", str(decided_project), "--csv", str(rows))
    assert done.returncode == 2
    assert "line 3: column 'income' is numeric, 'oops' is not a finite number" in flat(done.stderr)
    assert str(rows) in flat(done.stderr)


def test_an_unseen_category_is_a_warning(decided_project: Path) -> None:
    code, result, err = predict(decided_project, "--row", "age=41,income=52000,region=mars")
    assert code == 0
    assert "region='mars' never occurs in the data" in flat(err)
    assert result["warnings"]
