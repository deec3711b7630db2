"""analyze(): the four issue-4 tables for a real project folder, planted problems found."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import tomli_w
from sklearn.ensemble import RandomForestClassifier
from sklearn.linear_model import LogisticRegression

from modelsnap.core.evaluation.analysis import analyze
from modelsnap.core.evaluation.data import ensure_split, load_dataset
from modelsnap.core.evaluation.pipeline import make_pipeline
from modelsnap.core.project.parse import load_project


def _project(
    root: Path,
    *,
    leak: bool = False,
    sensitive: str = '["group"]',
    edge_cases: str | None = "edge_cases.csv",
    n: int = 1000,
) -> Path:
    """Credit-like data: income and debt decide; group B's labels are noise (a group gap);
    branch_code tracks the outcome in this sample (a spurious feature the user suspects)."""
    rng = np.random.default_rng(7)
    income = rng.normal(50, 15, n).round(1)
    debt = rng.uniform(0, 1, n).round(3)
    group = rng.choice(["A", "B"], n, p=[0.7, 0.3])
    signal = income / 50 - 1.5 * debt + rng.normal(0, 0.15, n)
    label = np.where(signal < 0.4, "yes", "no")
    noisy = group == "B"
    label[noisy] = rng.choice(["no", "yes"], int(noisy.sum()))
    branch = np.where(
        (label == "yes") & (rng.uniform(size=n) < 0.6), "B99", rng.choice(["B01", "B02", "B03"], n)
    )
    frame = pd.DataFrame(
        {
            "customer_id": [f"C{i}" for i in range(n)],
            "income": income,
            "debt": debt,
            "group": group,
            "branch_code": branch,
            "default": label,
        }
    )
    if leak:
        frame["days_in_collections"] = np.where(label == "yes", rng.integers(30, 90, n), 0)
    frame.to_csv(root / "data.csv", index=False)
    lines = [
        "[data]",
        'source = "data.csv"',
        'target = "default"',
        'positive_label = "yes"',
        'drop = ["customer_id"]',
        f"sensitive = {sensitive}",
        'suspect_features = ["branch_code"]',
    ]
    if edge_cases:
        lines.append(f'edge_cases = "{edge_cases}"')
    lines += ["[selection]", 'primary_metric = "f1"']
    (root / "modelsnap.toml").write_text("\n".join(lines) + "\n")
    return root


EDGE = (
    "case,income,debt,group,branch_code,default,severity\n"
    "broke and indebted,5,0.95,A,B01,yes,must-pass\n"
    "wealthy,120,0.05,A,B02,no,must-pass\n"
    "wealthy but in collections branch,120,0.05,A,B99,no,high\n"
)


def _proba(model, X):
    return model.predict_proba(X) if hasattr(model, "predict_proba") else None


def _run(root: Path, estimator, **kwargs):
    config = load_project(root)
    dataset = load_dataset(config)
    split = ensure_split(config, dataset)
    model = make_pipeline(config, dataset.frame, estimator)
    model.fit(dataset.frame.iloc[split.train], dataset.target.iloc[split.train])
    test_x = dataset.frame.iloc[split.test]
    val_x = dataset.frame.iloc[split.validation]
    tables = analyze(
        model,
        dataset,
        split,
        config,
        val_pred=model.predict(val_x),
        test_pred=model.predict(test_x),
        val_proba=_proba(model, val_x),
        test_proba=_proba(model, test_x),
        metrics_validation=kwargs.pop("metrics_validation", {"f1": 0.80}),
        metrics_test=kwargs.pop("metrics_test", {"f1": 0.78}),
        **kwargs,
    )
    return tables


def test_planted_spurious_feature_group_gap_and_edge_failure(tmp_path: Path) -> None:
    root = _project(tmp_path)
    (root / "edge_cases.csv").write_text(EDGE)
    seen: list[float] = []
    tables = _run(
        root,
        RandomForestClassifier(n_estimators=40, random_state=0),
        on_progress=lambda fraction, message: seen.append(fraction),
    )
    assert set(tables) == {"interpretability", "fairness", "edge_cases", "checks"}

    interpretability = tables["interpretability"]
    assert "branch_code" in interpretability["suspect_hits"]
    assert interpretability["family"] == "post_hoc"

    fairness = tables["fairness"]
    groups = {g["group"]: g for g in fairness["columns"]["group"]["groups"]}
    assert groups["A"]["metric"] - groups["B"]["metric"] > 0.2
    assert fairness["max_gap"] == fairness["columns"]["group"]["gap"]

    edge = tables["edge_cases"]
    assert edge["n_cases"] == 3 and edge["file"] == "edge_cases.csv"
    assert [f["case"] for f in edge["failures"]] == ["wealthy but in collections branch"]
    assert edge["must_pass_failed"] == 0

    checks = tables["checks"]
    assert checks == {"overfit_gap": 0.02, "overfit_flag": False, "leakage": []}
    assert seen[0] == 0.0 and seen[-1] == 1.0 and seen == sorted(seen)
    tomli_w.dumps(tables)  # the worker writes these tables into the snapshot as they are


def test_planted_leak_is_recorded_and_overfit_flagged(tmp_path: Path) -> None:
    root = _project(tmp_path, leak=True, sensitive="[]", edge_cases=None)
    tables = _run(
        root,
        LogisticRegression(max_iter=1000),
        metrics_validation={"f1": 0.95},
        metrics_test={"f1": 0.85},
    )
    assert set(tables) == {"interpretability", "checks"}
    leakage = tables["checks"]["leakage"]
    assert len(leakage) == 1 and "'days_in_collections' alone predicts" in leakage[0]
    assert tables["checks"]["overfit_flag"] is True
    assert tables["interpretability"]["top_features"][0]["name"] == "days_in_collections"
    assert tables["interpretability"]["family"] == "linear"


def test_given_leakage_warnings_are_used_as_they_are(tmp_path: Path) -> None:
    root = _project(tmp_path, edge_cases=None)
    tables = _run(root, LogisticRegression(max_iter=1000), leakage=["from set-up"])
    assert tables["checks"]["leakage"] == ["from set-up"]
    assert not (root / ".modelsnap").exists() or not list(
        (root / ".modelsnap").glob("leakage-*.json")
    )


def test_bad_edge_file_and_missing_file_are_unavailable_not_raised(tmp_path: Path) -> None:
    root = _project(tmp_path)
    tables = _run(root, LogisticRegression(max_iter=1000))
    assert tables["edge_cases"]["file"] == "edge_cases.csv"
    assert "edge-case file not found" in tables["edge_cases"]["unavailable"]
    (root / "edge_cases.csv").write_text("income,debt,default,customer_id\n1,2,yes,C1\n")
    unavailable = _run(root, LogisticRegression(max_iter=1000))["edge_cases"]["unavailable"]
    assert "missing column(s) 'group', 'branch_code'" in unavailable
    assert "unknown column(s) 'customer_id'" in unavailable


class _Refuses:
    """A model whose predictions were made elsewhere and which now refuses to predict."""

    def predict(self, X):
        raise RuntimeError("the scoring service is down")


def test_a_model_that_cannot_be_scored_still_gives_every_table(tmp_path: Path) -> None:
    root = _project(tmp_path)
    (root / "edge_cases.csv").write_text(EDGE)
    config = load_project(root)
    dataset = load_dataset(config)
    split = ensure_split(config, dataset)
    model = make_pipeline(config, dataset.frame, LogisticRegression(max_iter=1000))
    model.fit(dataset.frame.iloc[split.train], dataset.target.iloc[split.train])
    test_pred = model.predict(dataset.frame.iloc[split.test])
    tables = analyze(
        _Refuses(),
        dataset,
        split,
        config,
        val_pred=None,
        test_pred=test_pred,
        metrics_validation={},
        metrics_test={},
    )
    assert "the scoring service is down" in tables["interpretability"]["unavailable"]
    assert tables["edge_cases"]["n_passed"] == 0
    assert all(f["predicted"] == "(error)" for f in tables["edge_cases"]["failures"])
    assert "gap" in tables["fairness"]["columns"]["group"]
    assert "overfit_gap" not in tables["checks"]
    tomli_w.dumps(tables)


def test_regression_project_with_a_numeric_sensitive_column(tmp_path: Path) -> None:
    from sklearn.linear_model import Ridge

    (tmp_path / "modelsnap.toml").write_text(
        '[data]\nsource = "sklearn:diabetes"\ntarget = "target"\nsensitive = ["sex", "age"]\n'
        'edge_cases = "edge.csv"\n[selection]\nprimary_metric = "mae"\n'
    )
    config = load_project(tmp_path)
    dataset = load_dataset(config)
    columns = list(dataset.frame.columns)
    row = dataset.frame.iloc[0]
    expected = float(dataset.target.iloc[0])
    (tmp_path / "edge.csv").write_text(
        ",".join([*columns, "target", "tolerance", "case"])
        + "\n"
        + ",".join([*(repr(float(row[c])) for c in columns), repr(expected), "1000", "wide"])
        + "\n"
        + ",".join([*(repr(float(row[c])) for c in columns), repr(expected + 500), "", "far"])
        + "\n"
    )
    tables = _run(tmp_path, Ridge(), metrics_validation={"mae": 40.0}, metrics_test={"mae": 44.0})
    sex = tables["fairness"]["columns"]["sex"]
    assert len(sex["groups"]) == 2 and "gap" in sex
    assert "positive_rate_gap" not in sex
    assert any("quantile bands" in w for w in tables["fairness"]["columns"]["age"]["warnings"])
    assert tables["interpretability"]["metric"] == "mae"
    assert tables["edge_cases"]["n_passed"] == 1
    assert [f["case"] for f in tables["edge_cases"]["failures"]] == ["far"]
    assert tables["checks"]["overfit_gap"] == 0.1 and tables["checks"]["overfit_flag"] is True
