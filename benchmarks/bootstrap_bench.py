"""Bootstrap benchmark: the exact multinomial bootstrap against the rule the profiler uses.

For a binary classifier with probabilities (all nine metrics, roc_auc and log_loss included), a
three-class one and a regression, at 600 / 5,000 / 50,000 / 200,000 test rows, times in one
run ``metrics.bootstrap_ci`` with ``method="multinomial"`` (every resample draws all the rows:
what every size got before) and with the default rule (``metrics.bootstrap_method``: the same
multinomial draws up to ``metrics.EXACT_ROWS`` rows, the bag of little bootstraps above), and
the largest difference between the two intervals' ends, in units of the exact interval's width.
Both use 1,000 resamples and the same seed; up to ``EXACT_ROWS`` the two are the same
computation, so their difference is 0 and only the timing noise differs.

    python benchmarks/bootstrap_bench.py [--rows 600 5000 50000 200000] [--tasks binary ...]
                                         [--paired]

``--paired`` also times the paired bootstrap of the significance test (2,000 resamples) at each
size, both ways, and prints both p-values. Prints the machine load first (``os.getloadavg``).
"""

from __future__ import annotations

import argparse
import os
import time
from functools import partial
from typing import Any

import numpy as np

from modelsnap.core.evaluation import metrics
from modelsnap.core.evaluation.significance import paired_bootstrap


def synthetic(task: str, rows: int, seed: int = 1) -> tuple[Any, ...]:
    rng = np.random.default_rng(seed)
    if task == "regression":
        y = rng.normal(size=rows)
        return "regression", y, y + rng.normal(0, 0.5, rows), None, None, None
    k = 2 if task == "binary" else 3
    labels = np.array([f"c{i}" for i in range(k)])
    drawn = rng.integers(0, k, rows)
    proba = rng.dirichlet(np.ones(k), rows)
    proba[np.arange(rows), drawn] += 0.5
    proba /= proba.sum(axis=1, keepdims=True)
    return "classification", labels[drawn], labels[proba.argmax(axis=1)], proba, list(labels), None


def timed(call: Any) -> tuple[float, Any]:
    start = time.perf_counter()
    out = call()
    return time.perf_counter() - start, out


def largest_gap(fast: dict[str, list[float]], exact: dict[str, list[float]]) -> tuple[float, str]:
    gaps = {
        name: max(abs(fast[name][0] - low), abs(fast[name][1] - high)) / (high - low)
        for name, (low, high) in exact.items()
        if high > low and name in fast
    }
    name = max(gaps, key=gaps.__getitem__)
    return gaps[name], name


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, nargs="+", default=[600, 5_000, 50_000, 200_000])
    parser.add_argument(
        "--tasks", nargs="+", default=["binary", "multiclass", "regression"],
        choices=["binary", "multiclass", "regression"],
    )  # fmt: skip
    parser.add_argument("--paired", action="store_true")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    load = ", ".join(f"{x:.2f}" for x in os.getloadavg())
    print(f"load average {load} on {os.cpu_count()} cores; 1,000 resamples, seed {args.seed}")
    print(
        f"rule: multinomial up to {metrics.EXACT_ROWS:,} rows, above: {metrics.BAGS} bags "
        f"of {metrics.BAG_ROWS:,} rows"
    )
    print(f"{'task':<11} {'rows':>8} {'method':<12} {'exact s':>8} {'rule s':>8} {'speed-up':>8}"
          f"  largest end gap (x exact width)")  # fmt: skip
    for task in args.tasks:
        for rows in args.rows:
            data = synthetic(task, rows)
            exact_s, exact = timed(
                partial(metrics.bootstrap_ci, *data, seed=args.seed, method="multinomial")
            )
            rule_s, fast = timed(partial(metrics.bootstrap_ci, *data, seed=args.seed))
            gap, name = largest_gap(fast, exact)
            print(
                f"{task:<11} {rows:>8,} {metrics.bootstrap_method(rows):<12} {exact_s:>8.2f} "
                f"{rule_s:>8.2f} {exact_s / rule_s:>7.1f}x  {gap:.3f} ({name})",
                flush=True,
            )
    if args.paired:
        print("\npaired bootstrap, 2,000 resamples (binary, roc_auc; B = A with noise added)")
        for rows in args.rows:
            kind, y, a, pa, classes, _ = synthetic("binary", rows)
            rng = np.random.default_rng(2)
            noisy = np.clip(pa[:, 1] + rng.normal(0, 0.05, rows), 0, 1)
            pb = np.c_[1 - noisy, noisy]
            b = np.array(classes)[(noisy > 0.5).astype(int)]
            common: dict[str, Any] = {"classes": classes, "seed": args.seed}
            test = partial(paired_bootstrap, kind, "roc_auc", y, a, b, pa, pb, **common)
            exact_s, exact = timed(partial(test, method="multinomial"))
            rule_s, fast = timed(test)
            print(
                f"{rows:>8,} {fast['draw']:<12} exact {exact_s:6.2f} s p={exact['p_value']:.4f}  "
                f"rule {rule_s:6.2f} s p={fast['p_value']:.4f}",
                flush=True,
            )


if __name__ == "__main__":
    main()
