"""Artifacts: skops only, hash checked first, untrusted types refused unless trusted explicitly."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest
import skops.io
from sklearn.ensemble import HistGradientBoostingClassifier, RandomForestClassifier
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import FunctionTransformer, StandardScaler

from modelsnap.core.errors import IntegrityError, SnapshotError, UnsafeArtifactError
from modelsnap.core.evaluation.artifacts import load_artifact, save_artifact, untrusted_types
from modelsnap.core.files import sha256_file


def fitted(estimator):
    rng = np.random.default_rng(0)
    X = rng.normal(size=(80, 3))
    y = np.where(X[:, 0] > 0, "yes", "no")
    return Pipeline([("scale", StandardScaler()), ("model", estimator)]).fit(X, y), X


@pytest.mark.parametrize(
    "estimator",
    [
        RandomForestClassifier(n_estimators=5, random_state=0),
        HistGradientBoostingClassifier(max_iter=10),
    ],
)
def test_round_trip_predicts_the_same(tmp_path: Path, estimator) -> None:
    pipeline, X = fitted(estimator)
    path = tmp_path / "models" / "m.skops"
    digest, size = save_artifact(pipeline, path)
    assert digest == sha256_file(path) and size == path.stat().st_size
    assert not [p for p in path.parent.iterdir() if p.name.startswith(".tmp-")]
    loaded = load_artifact(path, digest)
    assert (loaded.predict(X) == pipeline.predict(X)).all()
    assert path.read_bytes()[:2] == b"PK"  # a skops zip, never a pickle


def test_tampered_artifact_is_refused_before_parsing(tmp_path: Path) -> None:
    pipeline, _ = fitted(RandomForestClassifier(n_estimators=3, random_state=0))
    path = tmp_path / "m.skops"
    digest, _ = save_artifact(pipeline, path)
    path.write_bytes(path.read_bytes() + b"x")
    with pytest.raises(IntegrityError, match="does not match the recorded"):
        load_artifact(path, digest)


def test_missing_artifact(tmp_path: Path) -> None:
    with pytest.raises(SnapshotError, match="model artifact not found"):
        load_artifact(tmp_path / "nope.skops", "0" * 64)


def test_crafted_artifact_with_os_system_is_refused(tmp_path: Path) -> None:
    """An artifact that would call os.system on load/transform is not loaded."""
    crafted = Pipeline([("evil", FunctionTransformer(func=os.system))])
    path = tmp_path / "evil.skops"
    path.write_bytes(skops.io.dumps(crafted))
    digest = sha256_file(path)
    with pytest.raises(UnsafeArtifactError) as info:
        load_artifact(path, digest)
    assert "posix.system" in str(info.value) or "os.system" in str(info.value)
    assert info.value.where == str(path)
    names = untrusted_types(path.read_bytes())
    loaded = load_artifact(path, digest, trusted=names)  # explicit trust is the caller's choice
    assert loaded.named_steps["evil"].func is os.system


def test_garbage_with_matching_hash_is_an_integrity_error(tmp_path: Path) -> None:
    path = tmp_path / "junk.skops"
    path.write_bytes(b"not a zip file at all")
    with pytest.raises(IntegrityError, match="not a valid skops file"):
        load_artifact(path, sha256_file(path))
