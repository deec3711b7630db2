"""The layering rules of docs/internals.md, checked in fresh interpreters.

Fast-path modules must not pull in pandas, scikit-learn or scipy (``ls``/``rank``/``review`` and
the TUI's first screen would take over a second to start), and no core module may import the UI
(textual, rich, modelsnap.cli, modelsnap.tui): the CLI and the TUI are front ends over the core.
"""

from __future__ import annotations

import ast
import json
import subprocess
import sys
from pathlib import Path

import pytest

import modelsnap.core

CORE_DIR = Path(modelsnap.core.__file__).parent
FAST_PATH = (
    "errors",
    "project.schema",
    "project.parse",
    "project.edit",
    "measures",
    "files",
    "records.schema",
    "records.shapes",
    "records.store",
    "records.index",
    "selection.criteria",
    "records.decisions",
    "records.decision_log",
    "evaluation.environment",
    "profiles",
    "selection.constraints",
    "selection.ranking",
    "selection.context",
    "followup.monitoring",
    "followup.trying",
)
HEAVY = ("pandas", "sklearn", "scipy", "mlflow")
UI = ("textual", "rich", "modelsnap.cli", "modelsnap.tui")


def _module_file(name: str) -> Path:
    return CORE_DIR.joinpath(*name.split(".")).with_suffix(".py")


def _all_core_modules() -> list[str]:
    return sorted(
        ".".join(p.relative_to(CORE_DIR).with_suffix("").parts)
        for p in CORE_DIR.rglob("*.py")
        if p.stem != "__init__"
    )


def test_every_fast_path_module_exists() -> None:
    # A renamed module must be renamed here too, not silently dropped from the checks below.
    assert [name for name in FAST_PATH if not _module_file(name).is_file()] == []


def _loaded_after_import(modules: list[str]) -> set[str]:
    code = (
        "import importlib, json, sys\n"
        f"for name in {modules!r}: importlib.import_module('modelsnap.core.' + name)\n"
        "print(json.dumps(sorted(sys.modules)))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr
    return set(json.loads(result.stdout))


def _offending(loaded: set[str], roots: tuple[str, ...]) -> list[str]:
    return sorted(m for m in loaded if any(m == r or m.startswith(r + ".") for r in roots))


@pytest.mark.parametrize("module", FAST_PATH)
def test_fast_path_module_imports_no_heavy_library_and_no_ui(module: str) -> None:
    loaded = _loaded_after_import([module])
    assert _offending(loaded, HEAVY + UI) == []


def test_importing_every_core_module_loads_no_ui() -> None:
    # rich is left out here only because scikit-learn 1.9 imports it itself (sklearn.callback);
    # the fast-path test above and the source scan below still hold the core to "no rich".
    loaded = _loaded_after_import(_all_core_modules())
    assert _offending(loaded, tuple(m for m in UI if m != "rich")) == []


def _imported_names(path: Path) -> list[str]:
    names: list[str] = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), filename=str(path))):
        if isinstance(node, ast.Import):
            names.extend(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.append(node.module)
        elif (
            isinstance(node, ast.Call)
            and getattr(node.func, "attr", "") == "import_module"
            and node.args
            and isinstance(node.args[0], ast.Constant)
        ):
            names.append(str(node.args[0].value))
    return names


@pytest.mark.parametrize("module", _all_core_modules())
def test_no_core_module_imports_the_ui_even_inside_functions(module: str) -> None:
    names = _imported_names(_module_file(module))
    assert _offending(set(names), UI) == []


def test_the_checker_itself_sees_a_ui_import(tmp_path: Path) -> None:
    bad = tmp_path / "bad.py"
    bad.write_text("def f():\n    from rich.console import Console\n    import textual.app\n")
    assert _offending(set(_imported_names(bad)), UI) == ["rich.console", "textual.app"]


REPO = Path(__file__).resolve().parents[2]


def test_import_contracts_hold() -> None:
    """The layers (cli > tui > api > profiler > core) and "no circles between the rooms of any
    package" are import-linter contracts in pyproject.toml; this runs them as CI does."""
    code = (
        "import sys; from importlinter.cli import lint_imports; "
        "sys.exit(lint_imports(config_filename='pyproject.toml', no_cache=True))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=300, cwd=REPO
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-2000:]
