"""modelsnap: model selection as a repeatable, auditable five-step checklist.

``import modelsnap`` stays cheap: the Python API (which needs pandas and
scikit-learn) is imported only when ``modelsnap.Project`` is first used.
"""

from __future__ import annotations

__version__ = "0.1.0"
SCHEMA_VERSION = 1

__all__ = ["Project", "RunFailed", "ModelsnapError", "__version__", "SCHEMA_VERSION"]


def __getattr__(name: str):
    if name == "Project":
        from modelsnap.api import Project

        return Project
    if name in ("ModelsnapError", "RunFailed"):
        from modelsnap.core import errors

        return getattr(errors, name)
    raise AttributeError(f"module 'modelsnap' has no attribute {name!r}")
