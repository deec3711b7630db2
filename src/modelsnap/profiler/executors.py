"""Where the fits of a run happen: here (``local``, the default) or on a Dask cluster (``dask``).

The choice is made once per run, most specific first: ``--executor`` / ``--scheduler`` (or the
API's ``Overrides``), then ``[run].executor`` / ``[run].scheduler`` in modelsnap.toml, then
``local``. A ``--scheduler`` given alone means the Dask executor. Latency, throughput and memory
are always measured here, on the machine that records the snapshot (docs/distributed.md).

This module imports nothing heavy: Dask is imported only when the Dask executor is chosen, and a
missing install is a clear error naming the extra to install.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from modelsnap.core.errors import ModelsnapError

EXECUTORS = ("local", "dask")
INSTALL_HINT = "install it with: pip install 'modelsnap[dask]' (dask and distributed)"


class ExecutorError(ModelsnapError):
    """The chosen executor cannot be used: Dask missing, no scheduler, scheduler unreachable.

    Nothing is run and nothing is written. CLI exit code 2."""

    exit_code = 2


@dataclass(frozen=True)
class ExecutorChoice:
    name: str  # "local" | "dask"
    scheduler: str | None = None
    where: str = "[run]"  # where the choice came from, for messages


def choose(config: Any, overrides: Any = None) -> ExecutorChoice:
    """The executor of this run (see the module docstring for the order)."""
    run = config.run
    flag_executor = getattr(overrides, "executor", None)
    flag_scheduler = getattr(overrides, "scheduler", None)
    if flag_executor is not None:
        name, where = flag_executor, "--executor"
    elif flag_scheduler is not None:
        name, where = "dask", "--scheduler"
    else:
        name, where = getattr(run, "executor", "local") or "local", "modelsnap.toml: [run].executor"
    if name not in EXECUTORS:
        raise ExecutorError(f"unknown executor {name!r}", where=where, hint="use 'local' or 'dask'")
    if name == "local":
        return ExecutorChoice("local")
    require_dask()
    scheduler = flag_scheduler or getattr(run, "scheduler", None)
    if not scheduler:
        raise ExecutorError(
            "the Dask executor needs the address of a Dask scheduler",
            where=where,
            hint='pass --scheduler tcp://HOST:8786 or set scheduler = "tcp://HOST:8786" under '
            "[run] in modelsnap.toml (docs/distributed.md)",
        )
    return ExecutorChoice(
        "dask",
        scheduler,
        "--scheduler" if flag_scheduler else "modelsnap.toml: [run].scheduler",
    )


def require_dask() -> None:
    """Raise ExecutorError (with the install command) when dask.distributed is not installed."""
    try:
        import distributed  # noqa: F401
    except ImportError:
        raise ExecutorError(
            "the Dask executor needs dask.distributed, which is not installed",
            where="--executor dask",
            hint=INSTALL_HINT,
        ) from None
