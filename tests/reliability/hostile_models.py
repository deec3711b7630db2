"""Runaway estimators, copied into a test project and named there by dotted path
(``hostile_models.MemoryHog``), like a user's own model module.

Each holds its bad behaviour until it is stopped from outside, so the verdict never depends on
how busy the machine is. Parameters are stored as given, so scikit-learn can clone them.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin


class _Majority(ClassifierMixin, BaseEstimator):
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


class MemoryHog(_Majority):
    """fit allocates and touches ``total_mb`` in steps, then holds it forever."""

    def __init__(self, total_mb=1500, step_mb=50):
        self.total_mb = total_mb
        self.step_mb = step_mb

    def fit(self, X, y):
        blocks = []
        for _ in range(self.total_mb // self.step_mb):
            blocks.append(np.ones(self.step_mb * 2**20 // 8))
            time.sleep(0.01)
        while True:
            time.sleep(1)


class Sleeper(_Majority):
    """fit sleeps far past any timeout."""

    def fit(self, X, y):
        time.sleep(3600)
        return super().fit(X, y)


class Forker(_Majority):
    """fit forks a child that would run for ten minutes and writes its pid to ``pid_file``.

    ``escape`` makes the child leave the worker's session (``setsid``), as a daemonising
    library would; ``hang`` keeps the fit itself running too.
    """

    def __init__(self, pid_file="child.pid", escape=False, hang=False):
        self.pid_file = pid_file
        self.escape = escape
        self.hang = hang

    def fit(self, X, y):
        pid = os.fork()
        if pid == 0:
            if self.escape:
                os.setsid()
            time.sleep(600)
            os._exit(0)
        Path(self.pid_file).write_text(str(pid))
        while self.hang:
            time.sleep(1)
        return super().fit(X, y)


class Daemonizer(_Majority):
    """fit starts a classic daemon: fork, ``setsid()``, fork again, the middle process exits.

    The daemon (its pid in ``pid_file``) is then nobody's descendant: without a subreaper it is
    adopted by init and would sleep for ``seconds`` after the run. ``hold`` keeps fit running
    after that (so the daemon's memory can be measured); ``hog_mb`` is what the daemon touches.
    """

    def __init__(self, pid_file="daemon.pid", seconds=60, hog_mb=0, hold=0.0):
        self.pid_file = pid_file
        self.seconds = seconds
        self.hog_mb = hog_mb
        self.hold = hold

    def fit(self, X, y):
        pid_file = Path(self.pid_file).resolve()
        middle = os.fork()
        if middle == 0:
            os.setsid()
            if os.fork() == 0:
                tmp = pid_file.with_name(pid_file.name + ".tmp")
                tmp.write_text(str(os.getpid()))
                os.replace(tmp, pid_file)
                block = np.ones(self.hog_mb * 2**20 // 8) if self.hog_mb else None
                time.sleep(self.seconds)
                del block
                os._exit(0)
            os._exit(0)
        os.waitpid(middle, 0)
        deadline = time.monotonic() + 30
        while not pid_file.exists() and time.monotonic() < deadline:
            time.sleep(0.01)
        time.sleep(self.hold)
        return super().fit(X, y)
