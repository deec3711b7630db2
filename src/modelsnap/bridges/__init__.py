"""Bridges to other tools: a layer above ``core`` and ``profiler`` (never imported by them).

``mlflow_export`` sends snapshots and decisions to an MLflow tracking store; ``mlflow_import``
turns the scikit-learn models of MLflow runs into candidates through the ordinary worker path.
MLflow itself is an optional extra (``pip install 'modelsnap[mlflow]'``) and is imported only
inside these functions, never on a start-up path.
"""
