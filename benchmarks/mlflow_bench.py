"""What does the MLflow bridge cost? A benchmark, not a test: it prints figures.

Export: the sample project's 5 snapshots and its decision sent with ``export_mlflow`` to a
fresh SQLite tracking store, against the same data sent with plain MLflow calls (per snapshot:
``start_run``, ``log_params``, ``log_metrics``, ``set_tags``, two ``log_artifact``), both into
a store whose database and experiment exist already (MLflow's one-off table creation is left
out of both), and the time of a second export, which sends nothing.

Import: two scikit-learn pipelines logged with ``mlflow.sklearn.log_model`` (skops and
cloudpickle) imported with ``import_mlflow`` (download, a worker process each: evaluation on
the frozen split, interpretability, fairness, latency profiling, skops save, the snapshot
write), against plain MLflow loading the same models (``mlflow.sklearn.load_model``) and
predicting the test split, which is the least an import could do.

    python benchmarks/mlflow_bench.py [--repeats 3] [--latency-trials 300]

Needs ``pip install 'modelsnap[mlflow]'``. Figures drift on a shared machine: the load average
is printed beside them; compare the ratios of one run.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")
ROOT = Path(__file__).resolve().parents[1]
SAMPLE = ROOT / "sample_project"
sys.path.insert(0, str(ROOT / "src"))


def _fresh_store(work: Path, tag: str) -> str:
    import mlflow

    uri = f"sqlite:///{work / f'{tag}.db'}"
    client = mlflow.MlflowClient(uri)
    client.create_experiment("bench", artifact_location=str(work / f"{tag}-artifacts"))
    return uri


def bench_export(work: Path, repeats: int) -> dict[str, list[float]]:
    import mlflow

    from modelsnap.bridges.mlflow_export import export_mlflow, run_payload
    from modelsnap.core.records.store import list_snapshots

    project = work / "sample"
    shutil.copytree(SAMPLE, project)
    snapshots, _ = list_snapshots(project)
    times: dict[str, list[float]] = {"modelsnap": [], "again": [], "plain": []}
    for n in range(repeats):
        uri = _fresh_store(work, f"export-{n}")
        start = time.perf_counter()
        export_mlflow(project, uri, experiment="bench")
        times["modelsnap"].append((time.perf_counter() - start) / len(snapshots))
        start = time.perf_counter()
        export_mlflow(project, uri, experiment="bench")
        times["again"].append((time.perf_counter() - start) / len(snapshots))

        uri = _fresh_store(work, f"plain-{n}")
        mlflow.set_tracking_uri(uri)
        mlflow.set_experiment("bench")
        payloads = [(s, run_payload(s)) for s in snapshots]
        start = time.perf_counter()
        for snapshot, payload in payloads:
            with mlflow.start_run(run_name=snapshot["name"]):
                mlflow.log_params(payload["params"])
                mlflow.log_metrics(payload["metrics"])
                mlflow.set_tags(payload["tags"])
                mlflow.log_artifact(str(project / "snapshots" / f"{snapshot['id']}.toml"))
                mlflow.log_artifact(str(project / snapshot["model"]["artifact"]))
        times["plain"].append((time.perf_counter() - start) / len(snapshots))
    return times


def _pipeline(X):
    from sklearn.compose import ColumnTransformer
    from sklearn.ensemble import RandomForestClassifier
    from sklearn.impute import SimpleImputer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import OneHotEncoder, StandardScaler

    numeric = X.select_dtypes("number").columns.tolist()
    categorical = [c for c in X.columns if c not in numeric]

    def pre():
        return ColumnTransformer(
            [
                ("num", make_pipeline(SimpleImputer(strategy="median"), StandardScaler()), numeric),
                (
                    "cat",
                    make_pipeline(
                        SimpleImputer(strategy="most_frequent"),
                        OneHotEncoder(handle_unknown="ignore"),
                    ),
                    categorical,
                ),
            ]
        )

    return (
        make_pipeline(pre(), RandomForestClassifier(n_estimators=100, random_state=0)),
        make_pipeline(pre(), LogisticRegression(max_iter=1000)),
    )


def bench_import(work: Path, repeats: int, trials: int) -> dict[str, list[float]]:
    import mlflow
    import mlflow.sklearn
    import numpy as np
    import pandas as pd

    from modelsnap.bridges.mlflow_import import import_mlflow

    times: dict[str, list[float]] = {"modelsnap": [], "plain": []}
    for n in range(repeats):
        project = work / f"import-{n}"
        shutil.copytree(SAMPLE, project)
        toml = project / "modelsnap.toml"
        toml.write_text(
            toml.read_text().replace("latency_trials = 300", f"latency_trials = {trials}")
        )
        frame = pd.read_csv(project / "credit.csv")
        y = frame.pop("default")
        X = frame.drop(columns=["customer_id"])
        uri = _fresh_store(work, f"import-{n}")
        mlflow.set_tracking_uri(uri)
        mlflow.set_experiment("bench")
        run_ids = []
        for model, fmt in zip(_pipeline(X), ("skops", "cloudpickle"), strict=True):
            model.fit(X, y)
            with mlflow.start_run() as run:
                options = {"serialization_format": fmt, "pip_requirements": ["scikit-learn"]}
                if fmt == "skops":
                    options["skops_trusted_types"] = ["numpy.dtype", "sklearn.tree._tree.Tree"]
                mlflow.sklearn.log_model(model, name="model", input_example=X.head(3), **options)
            run_ids.append(run.info.run_id)
        start = time.perf_counter()
        result = import_mlflow(project, uri, run_ids=run_ids, trust_pickle=True)
        times["modelsnap"].append((time.perf_counter() - start) / len(run_ids))
        assert len(result["imported"]) == len(run_ids), result["skipped"]

        with np.load(project / "split.npz") as split:
            test = split["test"]
        os.environ["MLFLOW_ALLOW_PICKLE_DESERIALIZATION"] = "true"
        start = time.perf_counter()
        for run_id in run_ids:
            loaded = mlflow.sklearn.load_model(f"runs:/{run_id}/model")
            loaded.predict(X.iloc[test])
        times["plain"].append((time.perf_counter() - start) / len(run_ids))
    return times


def _show(label: str, values: list[float]) -> str:
    return (
        f"{label:<44} {statistics.median(values) * 1000:9.1f} ms  (runs: "
        + ", ".join(f"{v * 1000:.0f}" for v in values)
        + ")"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--latency-trials", type=int, default=300)
    args = parser.parse_args()
    import logging

    logging.getLogger("mlflow").setLevel(logging.WARNING)
    logging.getLogger("alembic").setLevel(logging.WARNING)
    with tempfile.TemporaryDirectory(prefix="modelsnap-mlflow-bench-") as tmp:
        work = Path(tmp)
        os.chdir(work)
        print(f"load average before: {os.getloadavg()[0]:.1f}")
        export = bench_export(work, args.repeats)
        print("export, per snapshot (median of repeats):")
        print(_show("  modelsnap export mlflow", export["modelsnap"]))
        print(_show("  the same with plain mlflow.log_* calls", export["plain"]))
        print(_show("  modelsnap export mlflow again (sends nothing)", export["again"]))
        imported = bench_import(work, args.repeats, args.latency_trials)
        print(f"import, per run (median of repeats; latency trials {args.latency_trials}):")
        print(_show("  modelsnap import mlflow", imported["modelsnap"]))
        print(_show("  plain mlflow.sklearn.load_model + predict", imported["plain"]))
        print(f"load average after: {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
