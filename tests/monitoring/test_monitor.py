"""``modelsnap monitor`` as a user runs it: a decided project, data shifted on purpose by the
test, real models scored in the worker process, records sealed and checked."""

from __future__ import annotations

import json
import tomllib
from pathlib import Path

import numpy as np
import pytest

from .conftest import flat, make_rows, modelsnap

pytestmark = pytest.mark.slow


def monitor(root: Path, data: Path, *extra: str) -> tuple[int, dict, str]:
    done = modelsnap("monitor", str(root), "--data", str(data), "--format", "json", *extra)
    return done.returncode, json.loads(done.stdout) if done.stdout.strip() else {}, done.stderr


def drift_by_feature(record: dict) -> dict[str, dict]:
    return {entry["feature"]: entry for entry in record["drift"]}


def test_unshifted_hold_out_holds_and_is_recorded_sealed(decided_project, write_csv) -> None:
    code, record, err = monitor(decided_project, write_csv(make_rows(1500, seed=2), "new.csv"))
    assert code == 0, err
    assert record["verdict"] == "holds" and record["reasons"] == []
    assert record["decision_id"] == "D0001"
    assert not any(p["degraded"] for p in record["performance"])
    assert all(p["new_ci"][0] <= p["new"] <= p["new_ci"][1] for p in record["performance"])
    assert {p["metric"] for p in record["performance"]} >= {"accuracy", "f1", "roc_auc"}
    assert all(d["status"] != "drift" for d in record["drift"])
    assert record["label_shift"]["status"] == "stable"
    assert "next_step" not in record
    path = decided_project / record["path"]
    on_disk = tomllib.loads(path.read_text())
    assert on_disk["verdict"] == "holds" and on_disk["data"]["n_rows"] == 1500
    assert on_disk["data"]["sha256"] == record["data"]["sha256"]
    assert on_disk["snapshot_id"] == record["snapshot_id"]
    assert f'path = "{record["path"]}"' in (decided_project / "ledger.toml").read_text()
    check = modelsnap("check", str(decided_project))
    assert check.returncode == 0, check.stdout + check.stderr


def test_a_numeric_feature_scaled_by_1_3_is_named(decided_project, write_csv) -> None:
    frame = make_rows(1500, seed=2)
    frame["income"] = frame["income"] * 1.3
    code, record, _ = monitor(decided_project, write_csv(frame, "scaled.csv"))
    assert code == 1 and record["verdict"] != "holds"
    drift = drift_by_feature(record)
    assert drift["income"]["status"] == "drift" and drift["income"]["psi"] >= 0.25
    assert drift["age"]["status"] == "stable" and drift["region"]["status"] == "stable"
    assert any(reason.startswith("income drifted: PSI") for reason in record["reasons"])
    assert "re-run the checklist on the new data" in record["next_step"]


def test_one_category_share_doubled_is_named(decided_project, write_csv) -> None:
    frame = make_rows(1500, seed=3, region_shares=(0.3, 0.225, 0.4, 0.075))  # east 0.2 -> 0.4
    code, record, err = monitor(decided_project, write_csv(frame, "east.csv"))
    assert code == 1, err
    drift = drift_by_feature(record)
    assert drift["region"]["status"] == "drift" and drift["region"]["category"] == "east"
    assert drift["region"]["change"] > 0.1
    assert drift["age"]["status"] == "stable" and drift["income"]["status"] == "stable"
    assert record["verdict"] == "drifted"
    assert any("region drifted: the share of 'east'" in r for r in record["reasons"])


def test_labels_flipped_for_20_percent_degrade(decided_project, write_csv) -> None:
    frame = make_rows(1500, seed=4)
    flipped = np.random.default_rng(5).choice(len(frame), size=300, replace=False)
    frame.loc[flipped, "approved"] = np.where(frame.loc[flipped, "approved"] == "yes", "no", "yes")
    done = modelsnap(
        "monitor", str(decided_project), "--data", str(write_csv(frame, "flipped.csv"))
    )
    assert done.returncode == 1, done.stderr
    text = flat(done.stdout)
    assert "verdict: degraded" in text
    assert "accuracy" in text and "below the snapshot's 95 % interval" in text
    assert "next: re-run the checklist on the new data" in text
    [path] = (decided_project / "monitoring").glob("*.toml")
    record = tomllib.loads(path.read_text())
    worse = {p["metric"]: p for p in record["performance"] if p["degraded"]}
    assert worse["accuracy"]["status"] == "below" and worse["accuracy"]["by"] > 0
    assert worse["log_loss"]["status"] == "above"  # a loss is worse above its interval
    assert all(d["status"] != "drift" for d in record["drift"])  # the inputs did not move


def test_the_python_api_records_the_same_verdict(decided_project, write_csv) -> None:
    from modelsnap import Project

    record = Project(decided_project).monitor(write_csv(make_rows(400, seed=11), "n.csv"))
    assert record["verdict"] == "holds" and record["exit_code"] == 0
    assert (decided_project / record["path"]).is_file()


def test_latency_is_re_measured_against_the_decisions_revision(decided_project, write_csv) -> None:
    code, record, err = monitor(
        decided_project, write_csv(make_rows(200, seed=6), "n.csv"), "--profile-latency"
    )
    assert code == 0, err
    latency = record["latency"]
    assert latency["limit_ms"] == 1000.0 and latency["ok"] is True
    assert latency["p95_ms"] > 0 and latency["trials"] == 10


def test_thresholds_come_from_the_monitoring_table(decided_project, write_csv) -> None:
    with (decided_project / "modelsnap.toml").open("a") as handle:
        handle.write("\n[monitoring]\npsi_watch = 1.0\npsi_drift = 5.0\n")
    frame = make_rows(1500, seed=2)
    frame["income"] = frame["income"] * 1.3
    _, record, _ = monitor(decided_project, write_csv(frame, "scaled.csv"))
    assert drift_by_feature(record)["income"]["status"] == "stable"
    assert record["thresholds"]["psi_drift"] == 5.0


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (
            lambda f: f.drop(columns=["approved"]),
            "the target column 'approved' is missing from the new data",
        ),
        (lambda f: f.drop(columns=["region"]), "missing column(s) 'region'"),
        (lambda f: f.assign(colour="red"), "unknown column(s) 'colour'"),
        (
            lambda f: f.assign(age=["old"] * len(f)),
            "numeric column(s) hold values that are not numbers: 'age' (e.g. 'old')",
        ),
        (lambda f: f.head(12), "the new data has 12 row(s); every figure"),
        (
            lambda f: f.assign(approved=["maybe"] * len(f)),
            "holds class(es) the model never saw: 'maybe'",
        ),
    ],
)
def test_bad_new_data_exits_2_and_writes_nothing(
    decided_project, write_csv, change, message
) -> None:
    path = write_csv(change(make_rows(200, seed=8)), "bad.csv")
    done = modelsnap("monitor", str(decided_project), "--data", str(path))
    assert done.returncode == 2, done.stderr
    assert message in flat(done.stderr) and "Traceback" not in done.stderr
    assert not (decided_project / "monitoring").exists()


def test_unknown_decision_and_no_decision_exit_2(decided_project, write_csv) -> None:
    path = write_csv(make_rows(100, seed=9), "new.csv")
    unknown = modelsnap("monitor", str(decided_project), "--data", str(path), "--decision", "D0042")
    assert unknown.returncode == 2
    assert "unknown decision 'D0042'" in flat(unknown.stderr) and "D0001" in unknown.stderr
    (decided_project / "decisions.toml").unlink()
    none = modelsnap("monitor", str(decided_project), "--data", str(path))
    assert none.returncode == 2 and "no decision yet" in flat(none.stderr)
    assert not (decided_project / "monitoring").exists()


def test_a_small_unshifted_batch_outside_by_chance_is_a_note_not_degraded(
    decided_project, write_csv
) -> None:
    # 300 rows of the same applicants: recall and f1 land just below the snapshot's interval,
    # well within the sampling noise of 300 rows.
    code, record, err = monitor(decided_project, write_csv(make_rows(300, seed=2), "new.csv"))
    assert code == 0, err
    assert record["verdict"] == "holds"
    outside = [p for p in record["performance"] if p["worse"]]
    assert outside and not any(p["degraded"] for p in outside)
    assert all(p["margin"] > abs(p["difference"]) for p in outside)
    assert any("within the sampling noise" in note for note in record["notes"])


def test_an_edited_monitoring_record_is_named_by_check(decided_project, write_csv) -> None:
    code, record, _ = monitor(decided_project, write_csv(make_rows(300, seed=2), "new.csv"))
    assert code == 0
    path = decided_project / record["path"]
    path.write_text(path.read_text().replace('verdict = "holds"', 'verdict = "degraded"'))
    check = modelsnap("check", str(decided_project))
    assert check.returncode == 1
    assert f"{record['path']} was edited or replaced after it was sealed" in flat(check.stdout)


def test_the_report_and_the_card_show_the_monitoring_history(
    decided_project, write_csv, tmp_path
) -> None:
    frame = make_rows(600, seed=3, region_shares=(0.3, 0.225, 0.4, 0.075))
    code, record, _ = monitor(decided_project, write_csv(frame, "east.csv"))
    assert code == 1
    html, card = tmp_path / "report.html", tmp_path / "card.md"
    for out in (html, card):
        done = modelsnap("report", str(decided_project), "-o", str(out), "--no-significance")
        assert done.returncode == 0, done.stderr
    page = html.read_text()
    assert "<h2>Monitoring</h2>" in page and "drifted" in page and record["path"] in page
    text = card.read_text()
    assert "## Monitoring" in text and "| drifted |" in text.replace("  ", " ")
    assert "region drifted: the share of &#x27;east&#x27;" in page or "share of 'east'" in page


def test_a_changed_data_file_or_split_is_refused(decided_project, write_csv) -> None:
    path = write_csv(make_rows(200, seed=12), "new.csv")
    split = decided_project / "split.npz"
    kept = split.read_bytes()
    split.unlink()
    missing = modelsnap("monitor", str(decided_project), "--data", str(path))
    assert missing.returncode == 2 and "split.npz not found" in flat(missing.stderr)
    assert not split.exists(), "monitor never draws a split"
    split.write_bytes(kept)
    with (decided_project / "data.csv").open("a") as handle:
        handle.write("50.0,40000,north,yes\n")
    changed = modelsnap("monitor", str(decided_project), "--data", str(path))
    assert changed.returncode == 2
    assert "the data file changed since snapshot" in flat(changed.stderr)
    assert not (decided_project / "monitoring").exists()


def test_a_missing_data_file_is_named(decided_project, tmp_path) -> None:
    done = modelsnap("monitor", str(decided_project), "--data", str(tmp_path / "nope.csv"))
    assert done.returncode == 2
    assert "the new data file is not found" in flat(done.stderr)
    assert "[data].source" not in done.stderr
