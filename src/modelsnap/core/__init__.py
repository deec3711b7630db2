"""The core: plain Python, no UI imports (a test in tests/core/test_import_hygiene.py proves it).

Modules on the fast path (store, index, ranking, decisions, measures, toml_io, errors) must not
import pandas, scikit-learn or scipy at module level; the model path (data, pipeline, metrics,
analysis modules, artifacts) may.
"""
