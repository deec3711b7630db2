"""The command line: ``modelsnap [DIR]`` opens the TUI, ``modelsnap COMMAND ...`` runs one job.

Each command lives in its own module under ``modelsnap.cli`` and exposes
``register(subparsers)``, which adds its parser and sets ``handler`` to a function
``handler(args) -> int``. Command modules import only argparse-level things at module level;
heavy imports (pandas, scikit-learn) happen inside handlers, so ``ls``/``rank``/``review``
start fast.
"""

from __future__ import annotations

import argparse
import importlib
import sys

from modelsnap import __version__

# command name -> module that registers it; order is the order shown in --help.
COMMAND_MODULES: dict[str, str] = {
    "init": "modelsnap.cli.init_cmd",
    "lock": "modelsnap.cli.lock_cmd",
    "run": "modelsnap.cli.run_cmd",
    "profile": "modelsnap.cli.profile_cmd",
    "edge": "modelsnap.cli.edge_cmd",
    "predict": "modelsnap.cli.predict_cmd",
    "monitor": "modelsnap.cli.monitor_cmd",
    "ls": "modelsnap.cli.ls_cmd",
    "show": "modelsnap.cli.show_cmd",
    "diff": "modelsnap.cli.diff_cmd",
    "check": "modelsnap.cli.check_cmd",
    "seal": "modelsnap.cli.seal_cmd",
    "rank": "modelsnap.cli.rank_cmd",
    "decide": "modelsnap.cli.decide_cmd",
    "report": "modelsnap.cli.report_cmd",
    "export": "modelsnap.cli.export_cmd",
    "import": "modelsnap.cli.import_cmd",
    "review": "modelsnap.cli.review_cmd",
    "tui": "modelsnap.cli.tui_cmd",
}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="modelsnap",
        description=(
            "Model selection as a five-step checklist: criteria, baseline, candidates, "
            "edge cases, ranking and decision. 'modelsnap DIR' opens the guided TUI."
        ),
        epilog="Run 'modelsnap COMMAND --help' for a command's options.",
    )
    parser.add_argument("--version", action="version", version=f"modelsnap {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for module_name in COMMAND_MODULES.values():
        importlib.import_module(module_name).register(sub)
    return parser


def program() -> int:
    """The ``modelsnap`` program (the console script and ``python -m modelsnap``): ``main``, in
    a process that ends when it returns (so a command may leave its answer to the operating
    system: ``output.left_to_exit``)."""
    from modelsnap.cli.output import process_ends_after_command

    process_ends_after_command()
    return main()


def main(argv: list[str] | None = None) -> int:
    from modelsnap.core.errors import ModelsnapError

    argv = list(sys.argv[1:] if argv is None else argv)
    # 'modelsnap' or 'modelsnap DIR' opens the TUI.
    if not argv or (argv[0] not in COMMAND_MODULES and not argv[0].startswith("-")):
        argv = ["tui", *argv]
    parser = build_parser()
    args = parser.parse_args(argv)
    handler = getattr(args, "handler", None)
    if handler is None:
        parser.print_help()
        return 2
    try:
        return int(handler(args) or 0)
    except ModelsnapError as error:
        from modelsnap.cli.output import print_error

        print_error(error)
        return error.exit_code
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        # The reader went away (`modelsnap ls DIR | head`): stop quietly, as Unix tools do.
        import os

        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 141
    except OSError as exc:
        # A write the command did not expect to fail (read-only file system, full disk):
        # records are written atomically, so the ones on disk are unchanged.
        import errno

        from modelsnap.cli.output import print_error
        from modelsnap.core.errors import storage_error

        writing = {
            errno.EROFS,
            errno.ENOSPC,
            errno.EDQUOT,
            errno.EACCES,
            errno.EPERM,
            errno.EFBIG,
            errno.EIO,
        }
        print_error(
            storage_error(exc)
            if exc.errno in writing
            else ModelsnapError(exc.strerror or str(exc), where=exc.filename)
        )
        return 1
