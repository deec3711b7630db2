"""Everything that measures a model on the frozen split.

The data and its split (``data``), the shared pipeline (``pipeline``), metrics, fairness by
group, interpretability, leakage checks, significance, edge cases, the environment a run
records, and ``recompute`` (``check`` doing the sums again).
"""
