"""Deliberately bad estimators, each failing the way a real model can. Copied into a test project
folder and named there by dotted path (``bad_models.Hang``), like a user's own model module.

They take only keyword params stored as-is, so scikit-learn can clone them.
"""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin


class _Majority(ClassifierMixin, BaseEstimator):
    """Predicts the most frequent training class; the base every bad model changes one thing of."""

    def fit(self, X, y):
        values, counts = np.unique(np.asarray(y).astype(str), return_counts=True)
        self.classes_ = values
        self.majority_ = values[int(np.argmax(counts))]
        return self

    def predict(self, X):
        return np.full(len(X), self.majority_, dtype=object)

    def predict_proba(self, X):
        proba = np.zeros((len(X), len(self.classes_)))
        proba[:, list(self.classes_).index(self.majority_)] = 1.0
        return proba


class NoProba(ClassifierMixin, BaseEstimator):
    """A classifier without predict_proba (like LinearSVC)."""

    def fit(self, X, y):
        self._inner = _Majority().fit(X, y)
        self.classes_ = self._inner.classes_
        return self

    def predict(self, X):
        return self._inner.predict(X)


class WrongShape(_Majority):
    """predict returns one value too many."""

    def predict(self, X):
        return np.full(len(X) + 1, self.majority_, dtype=object)


class Hang(_Majority):
    """fit never returns."""

    def fit(self, X, y):
        while True:
            time.sleep(1)


class Crash(_Majority):
    """fit kills its own process, as a segfaulting extension would."""

    def fit(self, X, y):
        os.kill(os.getpid(), signal.SIGKILL)


class Raises(_Majority):
    """fit raises the model's own error."""

    def fit(self, X, y):
        raise ValueError("my message")


class MemoryHog(_Majority):
    """fit allocates (and touches) ``total_mb`` in steps, then holds it and never returns.

    Holding makes the ceiling's verdict independent of how busy the machine is: however late
    the parent's next poll comes, the memory is still there.
    """

    def __init__(self, total_mb=1200, step_mb=50):
        self.total_mb = total_mb
        self.step_mb = step_mb

    def fit(self, X, y):
        blocks = []
        for _ in range(self.total_mb // self.step_mb):
            blocks.append(np.ones(self.step_mb * 2**20 // 8))
            time.sleep(0.01)
        while True:
            time.sleep(1)


class ForksSleeper(_Majority):
    """fit forks a child that sleeps for ten minutes (holding the worker's pipes), then fits.

    The child's pid goes to ``pid_file`` so a test can check nothing outlived the run.
    ``hang`` makes the fit itself hang afterwards too.
    """

    def __init__(self, pid_file="child.pid", hang=False):
        self.pid_file = pid_file
        self.hang = hang

    def fit(self, X, y):
        pid = os.fork()
        if pid == 0:
            time.sleep(600)
            os._exit(0)
        Path(self.pid_file).write_text(str(pid))
        while self.hang:
            time.sleep(1)
        return super().fit(X, y)


class Prints(_Majority):
    """Writes to stdout from Python and from C (fd 1), which must not corrupt the protocol."""

    def fit(self, X, y):
        print("hello from fit")
        os.write(1, b"raw bytes on fd 1\n")
        return super().fit(X, y)


SEEN_BY_THIS_PROCESS = []  # a module-level global a model changes


class LeavesState(_Majority):
    """fit records the state it finds (to ``out``), then changes every kind of process-wide state
    a model can: a global of its own module, an attribute and the global config of an installed
    package, an environment variable, ``sys.path``, numpy's global random state. A model run
    after it must find none of that."""

    def __init__(self, out="state.json"):
        self.out = out

    def fit(self, X, y):
        import json
        import sys

        import psutil
        import sklearn

        reaper = psutil.Process(os.getppid())
        found = {
            "pid": os.getpid(),
            "global": list(SEEN_BY_THIS_PROCESS),
            "sklearn_attribute": getattr(sklearn, "_left_by_a_model", None),
            "assume_finite": sklearn.get_config()["assume_finite"],
            "environment": os.environ.get("LEFT_BY_A_MODEL"),
            "sys_path": list(sys.path),
            "random": float(np.random.random()),
            "lineage": [" ".join(p.cmdline()) for p in (reaper, psutil.Process(reaper.ppid()))],
        }
        Path(self.out).write_text(json.dumps(found))
        SEEN_BY_THIS_PROCESS.append(self.out)
        sklearn._left_by_a_model = self.out
        sklearn.set_config(assume_finite=True)
        os.environ["LEFT_BY_A_MODEL"] = self.out
        sys.path.insert(0, "/left/by/a/model")
        np.random.seed(1234)
        return super().fit(X, y)
