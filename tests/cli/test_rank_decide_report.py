"""rank, decide and report on a real project folder: real scikit-learn models, real subprocesses."""

from __future__ import annotations

import csv
import hashlib
import io
import json
import os
import subprocess
import sys
from html.parser import HTMLParser

import numpy as np
import pytest

from modelsnap.core.files import sha256_file
from modelsnap.core.project.parse import load_project
from modelsnap.core.records.decision_log import read_decisions, verify_chain
from modelsnap.core.records.store import write_snapshot
from modelsnap.core.selection.criteria import lock_criteria

PROJECT = """
[project]
name = "Toy <selection>"
[data]
source = "data.csv"
target = "y"
task = "classification"
positive_label = "yes"
[selection]
profile = "custom"
primary_metric = "f1"
rank_split = "validation"
[[criteria]]
metric = "f1"
weight = 0.6
[[criteria]]
metric = "latency_p95_ms"
weight = 0.3
[[criteria]]
metric = "size_mb"
weight = 0.1
[constraints]
max_latency_p95_ms = 50.0
"""

# name, kind, estimator, fake p95 latency (ms), fake size (MB)
MODELS = [
    ("00", "logistic", "baseline", "sklearn.linear_model.LogisticRegression", 0.2, 0.01),
    ("01", "tree", "candidate", "sklearn.tree.DecisionTreeClassifier", 0.3, 0.05),
    ("02", "forest", "candidate", "sklearn.ensemble.RandomForestClassifier", 6.0, 2.0),
    ("03", "slow_forest", "candidate", "sklearn.ensemble.RandomForestClassifier", 80.0, 9.0),
]


def _estimator(path):
    from sklearn.ensemble import RandomForestClassifier
    from sklearn.linear_model import LogisticRegression
    from sklearn.tree import DecisionTreeClassifier

    return {
        "LogisticRegression": LogisticRegression(),
        "DecisionTreeClassifier": DecisionTreeClassifier(max_depth=3, random_state=0),
        "RandomForestClassifier": RandomForestClassifier(n_estimators=30, random_state=0),
    }[path.rsplit(".", 1)[1]]


@pytest.fixture(scope="module")
def project(tmp_path_factory):
    from sklearn.datasets import make_classification
    from sklearn.metrics import accuracy_score, f1_score

    root = tmp_path_factory.mktemp("proj")
    x, y = make_classification(
        n_samples=300, n_features=5, n_informative=3, flip_y=0.1, random_state=1
    )
    labels = np.where(y == 1, "yes", "no")
    with open(root / "data.csv", "w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow([f"f{i}" for i in range(5)] + ["y"])
        for row, label in zip(x, labels, strict=True):
            writer.writerow([f"{v:.6f}" for v in row] + [label])
    (root / "modelsnap.toml").write_text(PROJECT)
    lock_criteria(load_project(root))
    order = np.random.default_rng(0).permutation(300)
    train, val, test = (np.sort(order[:180]), np.sort(order[180:240]), np.sort(order[240:]))
    np.savez(root / "split.npz", train=train, validation=val, test=test)
    split_hash = hashlib.sha256(
        b"".join(a.astype("<i8").tobytes() for a in (train, val, test))
    ).hexdigest()
    data_hash = sha256_file(root / "data.csv")
    # read back as the tool does, so feature values match the CSV exactly
    table = np.loadtxt(root / "data.csv", delimiter=",", skiprows=1, usecols=range(5))
    for stamp, name, kind, estimator, p95, size in MODELS:
        sid = f"20261126T06{stamp}00-{name}-abcd"
        model = _estimator(estimator).fit(table[train], labels[train])
        pred = {
            s: model.predict(table[idx]).astype(str)
            for s, idx in (("validation", val), ("test", test))
        }
        staging = root / ".modelsnap" / "tmp" / f".tmp-stage-{name}"
        staging.mkdir(parents=True)
        npz = staging / "predictions.npz"
        np.savez(
            npz,
            validation_pred=pred["validation"],
            test_pred=pred["test"],
            test_proba=model.predict_proba(table[test]),
        )
        (staging / "model.skops").write_bytes(b"not loaded by these commands")
        metrics = {
            s: {
                "accuracy": accuracy_score(labels[idx], pred[s]),
                "f1": f1_score(labels[idx], pred[s], pos_label="yes"),
            }
            for s, idx in (("validation", val), ("test", test))
        }
        snapshot = {
            "schema": 1,
            "id": sid,
            "name": name,
            "kind": kind,
            "version": "v1",
            "created_at": f"2026-11-26T06:{stamp}:00+00:00",
            "notes": "<b>not bold</b>",
            "criteria_revision": 1,
            "model": {"estimator": estimator, "params": {"random_state": 0}, "source": "project"},
            "data": {
                "source": "data.csv",
                "target": "y",
                "task": "classification",
                "dataset_sha256": data_hash,
                "split_sha256": split_hash,
                "seed": 42,
                "n_train": 180,
                "n_validation": 60,
                "n_test": 60,
                "classes": ["no", "yes"],
                "positive_label": "yes",
            },
            "metrics": metrics,
            "resources": {"latency_p95_ms": p95, "size_mb": size, "fit_seconds": 0.1},
            "environment": {
                "python": "3.11.7",
                "platform": "Linux",
                "packages": {"numpy": np.__version__},
                "git_dirty": False,
            },
            "hardware": {
                "cpu": "test cpu",
                "cores": 2,
                "memory_gb": 8.0,
                "fingerprint": "0123456789abcdef",
            },
        }
        write_snapshot(
            root, snapshot, staged_files={"artifact": staging / "model.skops", "predictions": npz}
        )
    return root


def cli(*args, env=None):
    full_env = {**os.environ, "MODELSNAP_USER": "tester", "COLUMNS": "250", **(env or {})}
    return subprocess.run(
        [sys.executable, "-m", "modelsnap", *map(str, args)],
        capture_output=True,
        text=True,
        env=full_env,
        timeout=120,
    )


def sid(name):
    stamp = next(m[0] for m in MODELS if m[1] == name)
    return f"20261126T06{stamp}00-{name}-abcd"


def test_rank_json_shape_and_rejection(project):
    out = cli("rank", project, "--format", "json", "--sensitivity")
    assert out.returncode == 0, out.stderr
    body = json.loads(out.stdout)
    ranked = [e["id"] for e in body["ranked"]]
    assert set(ranked) == {sid("logistic"), sid("tree"), sid("forest")}
    assert body["rejected"] == [
        {
            "id": sid("slow_forest"),
            "name": "slow_forest",
            "kind": "candidate",
            "reasons": ["latency_p95_ms 80 > 50"],
            "missing": [],
        }
    ]
    assert body["weights"] == pytest.approx({"f1": 0.6, "latency_p95_ms": 0.3, "size_mb": 0.1})
    assert body["baseline_id"] == sid("logistic")
    assert body["sensitivity"]["n"] == 12
    assert all(e["test_primary"] is not None for e in body["ranked"])


def test_what_if_weights_change_nothing_on_disk(project):
    def state():
        return {
            p.relative_to(project): p.read_bytes()
            for p in project.rglob("*")
            if p.is_file() and ".modelsnap" not in p.parts
        }

    before = state()
    out = cli("rank", project, "--weights", "size_mb=1", "--format", "json")
    assert out.returncode == 0, out.stderr
    body = json.loads(out.stdout)
    assert body["weights"] == {"size_mb": 1.0}
    assert body["ranked"][0]["id"] == sid("logistic")  # the smallest model
    assert state() == before


def test_rank_csv_and_table(project):
    out = cli("rank", project, "--format", "csv", "--method", "topsis")
    assert out.returncode == 0, out.stderr
    rows = list(csv.DictReader(io.StringIO(out.stdout)))
    assert [r["status"] for r in rows] == ["ranked"] * 3 + ["rejected"]
    assert rows[-1]["notes"] == "latency_p95_ms 80 > 50"
    table = cli("rank", project, "--significance")
    assert table.returncode == 0, table.stderr
    assert "Rejected" in table.stdout and "Significance vs runner-up" in table.stdout


def test_rank_table_lines_up_with_the_json_answer(project):
    """The table is plain aligned text (rich's Table took 26 s for 71,000 entries): the
    entries of the JSON answer in its order, numbers flush right under their headers, notes
    in a column on a wide terminal and below the table on a narrow one, and one line per
    snapshot set aside, however long, never wrapped."""
    answer = cli("rank", project, "--format", "json")
    ranked = json.loads(answer.stdout)["ranked"]
    for columns, wide in (("250", True), ("80", False)):
        out = cli("rank", project, env={"COLUMNS": columns, "NO_COLOR": "1"})
        assert out.returncode == 0, out.stderr
        assert "\x1b[" not in out.stdout
        lines = out.stdout.splitlines()
        at = next(i for i, line in enumerate(lines) if line.startswith("#"))
        head, rule = lines[at], lines[at + 1]
        assert head.split()[:3] == ["#", "id", "score"]
        assert ("notes" in head) is wide
        assert set(rule) == {"\u2500"} and len(rule) >= len(head)
        rows = lines[at + 2 : at + 2 + len(ranked)]
        score_end = head.index("score") + len("score")
        for line, entry in zip(rows, ranked, strict=True):
            cells = line.split()
            score = f"{entry['score']:.4f}"
            assert cells[:3] == [str(entry["rank"]), entry["id"], score]
            assert line.index(score) + len(score) == score_end
        after = lines[at + 2 + len(ranked) :]
        baseline_rank = next(e["rank"] for e in ranked if e["kind"] == "baseline")
        if wide:
            assert "baseline" in rows[baseline_rank - 1]
        else:
            assert any(
                line.startswith(f"  {baseline_rank}: ") and "baseline" in line for line in after
            )
        assert after[after.index("Rejected (1):") + 1] == (
            f"  {sid('slow_forest')}: latency_p95_ms 80 > 50"
        )


LEAVING = """
import atexit, gc, sys
atexit.register(lambda: print("atexit ran; frozen:", gc.get_freeze_count() > 0))
from modelsnap.cli import program
sys.argv = ["modelsnap", *sys.argv[1:]]
raise SystemExit(program())
"""


@pytest.mark.parametrize("command", [["rank", "--all-versions"], ["ls"]])
def test_the_program_leaves_its_answer_to_the_system_and_ends_as_always(project, command):
    """The ``modelsnap`` program does not free ``rank``'s and ``ls``'s answer object by object
    at exit (``output.left_to_exit``): the output is whole, atexit handlers still run."""
    name, *options = command
    out = subprocess.run(
        [sys.executable, "-c", LEAVING, name, str(project), *options, "--format", "json"],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "MODELSNAP_USER": "tester"},
    )
    assert out.returncode == 0, out.stderr
    answer, ended = out.stdout.rstrip("\n").rsplit("\n", 1)
    assert json.loads(answer) == json.loads(cli(name, project, *options, "--format", "json").stdout)
    assert ended == "atexit ran; frozen: True"


def test_main_run_by_a_caller_leaves_nothing_behind(project, capsys):
    """In a caller's own process (``main``), nothing is kept: the process goes on."""
    import gc

    from modelsnap.cli import main

    before = gc.get_freeze_count()
    assert main(["rank", str(project), "--all-versions", "--format", "json"]) == 0
    assert json.loads(capsys.readouterr().out)["ranked"]
    assert gc.get_freeze_count() == before


class Terminal(io.StringIO):
    """stderr as a terminal: what a user running the command by hand has."""

    def isatty(self) -> bool:
        return True


def test_check_decide_and_report_count_their_reading_on_a_terminal(
    project, capsys, monkeypatch, tmp_path
):
    """On a terminal, check, decide and report (which parse every snapshot file) show how far
    the reading is on stderr and erase the line before their answer or their error; stdout is
    the same as without it."""
    from modelsnap.cli import main
    from modelsnap.core.records import store

    assert main(["check", str(project), "--format", "json"]) in (0, 1)
    plain = capsys.readouterr().out
    monkeypatch.setattr(store, "PROGRESS_SECONDS", 0.0)
    monkeypatch.setattr(store, "PROGRESS_FROM", 1)
    terminal = Terminal()
    monkeypatch.setattr(sys, "stderr", terminal)
    assert main(["check", str(project), "--format", "json"]) in (0, 1)
    assert capsys.readouterr().out == plain
    total = len(list((project / "snapshots").glob("*.toml")))
    drawn = terminal.getvalue().split("\r")
    last = f"read {total} snapshots; checking them ..."
    assert drawn[0] == "" and drawn[-1] == ""  # each line drawn over the last, then erased
    assert drawn[1] == f"reading 0 of {total} snapshots"
    assert drawn[-3] == last and drawn[-2] == " " * len(last)  # blanks, no escape codes
    assert all(len(line) <= len(last) for line in drawn)

    terminal.seek(0)
    terminal.truncate()
    why = "fastest model to ship now"
    assert main(["decide", str(project), sid("slow_forest"), "--rationale", why]) == 1
    shown = terminal.getvalue()
    last = f"read {total} snapshots; ranking them ..."
    erased = shown.index(f"{last}\r{' ' * len(last)}\r")
    assert "was rejected: latency_p95_ms 80 > 50" in shown[erased:]  # the error after it

    terminal.seek(0)
    terminal.truncate()
    assert main(["report", str(project), "-o", str(tmp_path / "r.md")]) == 0
    last = f"read {total} snapshots; writing the report ..."
    assert terminal.getvalue().endswith(f"{last}\r{' ' * len(last)}\r")
    assert capsys.readouterr().out == f"report written: {tmp_path / 'r.md'}\n"


def test_ls_rank_and_review_count_the_files_they_parse_on_a_terminal(
    project, capsys, monkeypatch, tmp_path
):
    """A folder whose index is not this user's (here: another key): ``ls``, ``rank`` and
    review parse its files, counting them on stderr, the line erased before the answer; a read
    that parses nothing draws no line."""
    from modelsnap.cli import main
    from modelsnap.core.records import index, store
    from modelsnap.tui.review_app import ReviewApp

    monkeypatch.setattr(store, "PROGRESS_FROM", 1)
    monkeypatch.setattr(index, "PROGRESS_SECONDS", 0.0)
    total = len(list((project / "snapshots").glob("*.toml")))
    for command, then in (("ls", "listing them"), ("rank", "ranking them")):
        assert main([command, str(project), "--format", "json"]) == 0
        plain = capsys.readouterr().out
        monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / f"other-{command}"))
        terminal = Terminal()
        monkeypatch.setattr(sys, "stderr", terminal)
        assert main([command, str(project), "--format", "json"]) == 0
        assert capsys.readouterr().out == plain
        last = f"read {total} snapshots; {then} ..."
        assert terminal.getvalue().endswith(f"{last}\r{' ' * len(last)}\r"), terminal.getvalue()
        terminal.seek(0)
        terminal.truncate()
        assert main([command, str(project), "--format", "json"]) == 0  # the index is theirs now
        assert capsys.readouterr().out == plain and terminal.getvalue() == ""
        monkeypatch.undo()
        monkeypatch.setattr(store, "PROGRESS_FROM", 1)
        monkeypatch.setattr(index, "PROGRESS_SECONDS", 0.0)

    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "reviewer"))
    told: list[tuple[int, int]] = []
    first = ReviewApp(project, progress=lambda done, of: told.append((done, of)))
    assert told[-1] == (total, total) and len(first.data.rows) == total
    told.clear()
    again = ReviewApp(project, progress=lambda done, of: told.append((done, of)))
    assert told == [] and len(again.data.rows) == total  # its own index of the folder


def test_no_reading_line_off_a_terminal_or_for_a_few_files(monkeypatch):
    from modelsnap.cli.output import reading_progress

    with reading_progress("checking them") as progress:  # pytest's stderr: not a terminal
        assert progress is None
    terminal = Terminal()
    monkeypatch.setattr(sys, "stderr", terminal)
    with reading_progress("checking them") as progress:
        assert progress is not None
        progress(0, 499)
        progress(499, 499)
    assert terminal.getvalue() == ""  # under store.PROGRESS_FROM (500) files: no line


def test_rank_significance_from_stored_predictions(project):
    out = cli("rank", project, "--format", "json", "--significance")
    assert out.returncode == 0, out.stderr
    sig = json.loads(out.stdout)["significance"]
    runner = sig["vs_runner_up"]
    assert "error" not in runner, runner
    assert runner["method"] == "paired-bootstrap" and runner["n_rows"] == 60
    assert runner["verdict"] in ("significant", "not significant")
    assert 0.0 <= runner["p_value"] <= 1.0


def test_bad_options_are_clear_errors(project):
    out = cli("rank", project, "--weights", "speed=1")
    assert out.returncode == 2 and "unknown measure 'speed'" in out.stderr
    assert "Traceback" not in out.stderr
    out = cli("rank", project / "nope")
    assert out.returncode == 2 and "no such project folder" in out.stderr


def test_decide_refusals_then_a_chained_decision(project):
    refused = cli("decide", project, sid("slow_forest"), "--rationale", "fastest model to ship now")
    assert refused.returncode == 1 and "was rejected: latency_p95_ms 80 > 50" in refused.stderr
    assert (
        cli(
            "decide", project, "nope", "--rationale", "chosen for the test: best trade-off"
        ).returncode
        == 1
    )
    assert "rationale" in cli("decide", project, sid("tree"), "--rationale", " ").stderr
    assert not (project / "decisions.toml").exists()

    ok = cli(
        "decide",
        project,
        sid("tree")[:18],
        "--rationale",
        "small and accurate enough",
        "--caveat",
        "60 test rows",
        "--monitor",
        "weekly f1",
    )
    assert ok.returncode == 0, ok.stderr
    over = cli(
        "decide",
        project,
        sid("slow_forest"),
        "--rationale",
        "batch scoring only, overnight",
        "--override",
        "latency is irrelevant overnight",
        "--by",
        "lead",
    )
    assert over.returncode == 0, over.stderr
    entries = read_decisions(project)
    assert [e["snapshot_id"] for e in entries] == [sid("tree"), sid("slow_forest")]
    assert entries[0]["decided_by"] == "tester" and entries[1]["decided_by"] == "lead"
    assert entries[1]["override"] == "latency is irrelevant overnight"
    assert verify_chain(project) == []


class Collector(HTMLParser):
    def __init__(self):
        super().__init__()
        self.tags: list[str] = []
        self.refs: list[tuple[str, str, str]] = []
        self.text: list[str] = []

    def handle_starttag(self, tag, attrs):
        self.tags.append(tag)
        for key, value in attrs:
            if key in ("src", "href", "xlink:href", "action", "srcset", "data") or (
                value and "url(" in value
            ):
                self.refs.append((tag, key, value or ""))

    def handle_data(self, data):
        self.text.append(data)


def test_report_html_is_self_contained(project, tmp_path):
    output = tmp_path / "report.html"
    out = cli("report", project, "-o", output)
    assert out.returncode == 0, out.stderr
    text = output.read_text("utf-8")
    parser = Collector()
    parser.feed(text)
    parser.close()
    assert parser.refs == []
    assert "script" not in parser.tags and "link" not in parser.tags
    assert "http://" not in text and "https://" not in text and "@import" not in text
    assert "svg" in parser.tags and parser.tags.count("circle") == 3  # ranked points
    assert text.count('class="rejected"') == 1  # the slow forest
    body = "".join(parser.text)
    for heading in (
        "Criteria and constraints",
        "Ranking",
        "Trade-off",
        "Significance",
        "Sensitivity",
        "Decision history",
        "Snapshots",
    ):
        assert heading in body
    assert "latency_p95_ms 80 > 50" in body
    assert "Toy <selection>" in body and "<b>not bold</b>" in body  # escaped, shown as text
    assert "Hash chain intact" in body or "No decision" in body
    assert not list(tmp_path.glob(".tmp-*"))


def test_report_markdown_model_card(project, tmp_path):
    output = tmp_path / "card.md"
    out = cli("report", project, "-o", output, "--no-significance")
    assert out.returncode == 0, out.stderr
    text = output.read_text("utf-8")
    assert text.startswith("# Model card: Toy &lt;selection&gt;")  # no raw HTML
    assert "## Metrics" in text and "| f1 |" in text
    assert "sklearn." in text


def test_report_refuses_a_missing_output_folder(project, tmp_path):
    out = cli("report", project, "-o", tmp_path / "no" / "r.html")
    assert out.returncode == 1 and "output folder does not exist" in out.stderr


def test_rank_table_rows_say_every_note_and_escape_a_hostile_id():
    """Each ranked line, for every combination of notes and a hostile id, is the plain
    helpers' text (``_notes``, ``printable``): the loop's common case skips them, never
    changes them."""
    import itertools

    from rich.console import Console

    from modelsnap.cli import rank_cmd
    from modelsnap.core.selection.ranking import RankedEntry, RankingResult
    from modelsnap.core.text import printable

    entries = []
    combos = itertools.product([False, True], ["candidate", "baseline"], [[], ["size_mb"]])
    for n, ((pareto, kind, flags), older, mixed) in enumerate(
        itertools.product(combos, [False, True], [False, True]), start=1
    ):
        entries.append(
            RankedEntry(
                id=f"2026-{n:02d}-m\x1b[2J" if n % 5 == 0 else f"2026-{n:02d}-m",
                name="m",
                kind=kind,
                rank=n,
                score=1.0 / n,
                values={},
                normalised={},
                pareto=pareto,
                hardware_flags=flags,
                older_revision=older,
                mixed=mixed,
                primary=None if n % 3 == 0 else 0.5,
            )
        )
    result = RankingResult(
        entries, [], [], [], [], {"f1": 1.0}, {"f1": "max"}, "weighted", "validation", "f1",
        None, None, None, None, 1,
    )  # fmt: skip
    for width in (200, 80):
        out = io.StringIO()
        console = Console(file=out, width=width, color_system=None)
        rank_cmd._print_ranked(console, result)
        text = out.getvalue()
        assert "\x1b" not in text
        lines = text.splitlines()
        for entry in entries:
            notes = printable("; ".join(rank_cmd._notes(entry)))
            line = lines[1 + entry.rank]
            assert line.split()[1] == printable(entry.id)
            if width == 200:
                assert line.endswith(notes) if notes else line.rstrip() == line
            else:
                assert (f"  {entry.rank}: {notes}" in lines) == bool(notes)
        assert sum(bool(rank_cmd._notes(e)) for e in entries) == 31  # all but the bare one


def test_rank_json_by_address_is_the_plain_answer(project, capsys, monkeypatch):
    """The entries encoded in memory order (from ``BY_ADDRESS_FROM``) and put back best first:
    the same answer, byte for byte, as encoding them best first."""
    from modelsnap.cli import main, output

    args = ["rank", str(project), "--all-versions", "--format", "json"]
    assert main(args) == 0
    plain = capsys.readouterr().out
    used = []
    real = output.json_array_by_address

    def spy(items, first_key):
        parts = real(items, first_key)
        used.append(len(items) if parts is not None else None)
        return parts

    monkeypatch.setattr(output, "BY_ADDRESS_FROM", 2)
    monkeypatch.setattr("modelsnap.cli.rank_cmd.json_array_by_address", spy)
    assert main(args) == 0
    assert capsys.readouterr().out == plain
    assert used == [len(json.loads(plain)["ranked"])] and used[0] >= 2
