"""Fit, evaluate and profile models in a separate, killable worker process.

``runner.run_model`` (parent side) spawns ``python -m modelsnap.profiler.worker`` and streams
``events.ProgressEvent``s back; ``timing`` and ``memory`` hold the measurements.
See docs/profiler.md.
"""
