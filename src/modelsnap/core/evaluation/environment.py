"""The [environment] and [hardware] tables of a snapshot.

Results drift with library versions and timings drift with hardware, so every snapshot records
both; comparisons can then warn when two snapshots came from different set-ups. Nothing here
imports scikit-learn: versions come from package metadata.
"""

from __future__ import annotations

import functools
import hashlib
import os
import platform
import shutil
from collections.abc import Mapping
from pathlib import Path
from typing import Any

CORE_PACKAGES = ("scikit-learn", "numpy", "pandas", "scipy", "skops", "modelsnap")
GIT_TIMEOUT_SECONDS = 3.0


def _version(distribution: str) -> str | None:
    from importlib import metadata  # 30 ms: only where versions are read, not for the hardware

    try:
        return metadata.version(distribution)
    except metadata.PackageNotFoundError:
        return None


@functools.cache
def _packages_distributions() -> Mapping[str, list[str]]:
    """Top-level module -> distributions; scanning every installed package is slow, so once."""
    from importlib import metadata

    return metadata.packages_distributions()


def distribution_of(module: str) -> str | None:
    """The installed distribution that provides top-level module ``module`` (``sklearn`` ->
    ``scikit-learn``), or None for modules that are not installed packages (the user's own)."""
    top = module.split(".", 1)[0]
    names = _packages_distributions().get(top, [])
    return names[0] if names else None


def package_versions(extra_modules: tuple[str, ...] | list[str] = ()) -> dict[str, str]:
    """Versions of the core libraries plus the distributions providing ``extra_modules``."""
    names = list(CORE_PACKAGES)
    for module in extra_modules:
        distribution = distribution_of(module)
        if distribution and distribution not in names:
            names.append(distribution)
    return {name: version for name in names if (version := _version(name)) is not None}


def _git(root: Path, *args: str) -> str | None:
    if shutil.which("git") is None:
        return None
    import subprocess

    try:
        completed = subprocess.run(
            ["git", "-C", str(root), *args],
            capture_output=True,
            text=True,
            timeout=GIT_TIMEOUT_SECONDS,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    return completed.stdout if completed.returncode == 0 else None


def git_state(root: Path) -> dict[str, Any]:
    """``git_commit`` and ``git_dirty`` of the project folder; {} when it is not in a git repo.

    Dirty means a tracked file under the folder has uncommitted changes; untracked files do
    not count (snapshots modelsnap writes itself would otherwise always make it dirty).
    """
    commit = _git(root, "rev-parse", "HEAD")
    if not commit:
        return {}
    status = _git(root, "status", "--porcelain", "--untracked-files=no", "--", ".")
    state: dict[str, Any] = {"git_commit": commit.strip()}
    if status is not None:
        state["git_dirty"] = bool(status.strip())
    return state


def environment_table(root: Path | None = None, *, estimator: str | None = None) -> dict[str, Any]:
    """The snapshot's [environment] table. ``estimator`` is the dotted path of the model, whose
    top-level package's version is recorded too."""
    table: dict[str, Any] = {
        "python": platform.python_version(),
        "platform": platform.platform(),
        "packages": package_versions((estimator,) if estimator else ()),
    }
    if root is not None:
        table.update(git_state(Path(root)))
    return table


def cpu_model() -> str:
    try:
        with open("/proc/cpuinfo", encoding="utf-8", errors="replace") as handle:
            for line in handle:
                if line.lower().startswith(("model name", "hardware", "cpu model")):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine() or "unknown"


def gpu_names() -> str | None:
    """GPU model(s) as nvidia-smi reports them, or None when there is no NVIDIA GPU."""
    if shutil.which("nvidia-smi") is None:
        return None
    import subprocess

    try:
        completed = subprocess.run(
            ["nvidia-smi", "--query-gpu=name", "--format=csv,noheader"],
            capture_output=True,
            text=True,
            timeout=GIT_TIMEOUT_SECONDS,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    names = [line.strip() for line in completed.stdout.splitlines() if line.strip()]
    return ", ".join(names) if completed.returncode == 0 and names else None


def hardware_table() -> dict[str, Any]:
    """The snapshot's [hardware] table, with a short fingerprint to spot different machines."""
    import psutil

    cpu = cpu_model()
    cores = os.cpu_count() or 1
    memory_gb = round(psutil.virtual_memory().total / 2**30, 1)
    gpu = gpu_names()
    table: dict[str, Any] = {"cpu": cpu, "cores": cores, "memory_gb": memory_gb}
    if gpu:
        table["gpu"] = gpu
    table["fingerprint"] = hardware_fingerprint(cpu, cores, memory_gb, gpu)
    return table


def hardware_fingerprint(cpu: str, cores: int, memory_gb: float, gpu: str | None) -> str:
    """sha256 of ``cpu|cores|memory_gb|gpu``, first 16 hex digits."""
    text = f"{cpu}|{cores}|{memory_gb}|{gpu or ''}"
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]


def short_cpu(cpu: str) -> str:
    """'Intel(R) Xeon(R) CPU @ 2.20GHz' -> 'Intel Xeon': the words a person recognises."""
    import re

    text = re.sub(r"\((R|TM|tm|r)\)", "", str(cpu))
    text = re.split(r"\s+(CPU|Processor|@)\b|\s+@", text)[0]
    words = [w for w in text.split() if not re.fullmatch(r"\d+-Core", w)]
    return " ".join(words[:4]) or "unknown CPU"


def describe_machine(hardware: Any, *, here: str | None = None) -> str:
    """A snapshot's ``[hardware]`` table in plain words: "this machine" when its fingerprint is
    ``here`` (the machine looking at it), else "another machine (Intel Xeon, 2 cores)"."""
    table = hardware if isinstance(hardware, dict) else {}
    fingerprint = table.get("fingerprint")
    if here is not None and fingerprint == here:
        return "this machine"
    parts = []
    if table.get("cpu"):
        parts.append(short_cpu(str(table["cpu"])))
    if isinstance(table.get("cores"), int):
        parts.append(f"{table['cores']} core{'s' if table['cores'] != 1 else ''}")
    if table.get("gpu"):
        parts.append(str(table["gpu"]))
    return f"another machine ({', '.join(parts)})" if parts else "another machine"
