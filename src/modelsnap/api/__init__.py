"""The Python API, above the profiler: what notebooks, scripts and the front ends call to run
models in the worker process.

``Project`` (``api.project``) is the notebook face of a project folder; ``edge``, ``trying`` and
``monitoring`` run the edge cases, new rows and new labelled data through stored models. The
core below never imports this package.
"""

from __future__ import annotations

from modelsnap.api.project import Project

__all__ = ["Project"]
