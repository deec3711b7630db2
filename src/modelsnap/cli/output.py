"""Shared output helpers for CLI commands: errors to stderr, JSON with a stable shape."""

from __future__ import annotations

import json
import sys
from typing import Any


def print_error(error: BaseException) -> None:
    """Print an error on stderr; soft wrap, so file names are never broken mid-word in logs."""
    from rich.console import Console
    from rich.markup import escape

    Console(stderr=True, highlight=False, soft_wrap=True).print(
        f"[bold red]error:[/] {escape(str(error))}"
    )


def print_warning(text: str) -> None:
    from rich.console import Console
    from rich.markup import escape

    console = Console(stderr=True, highlight=False, soft_wrap=True)
    console.print(f"[yellow]warning:[/] {escape(text)}")


def print_json(data: Any) -> None:
    """Print JSON for machines: sorted keys, 2-space indent, UTF-8, newline-terminated."""
    sys.stdout.write(json.dumps(data, indent=2, sort_keys=True, ensure_ascii=False, default=str))
    sys.stdout.write("\n")


def add_format_option(parser, choices=("table", "json")) -> None:
    parser.add_argument(
        "--format", choices=list(choices), default="table",
        help="output format; json has a stable shape documented in docs/cli.md",
    )


def add_dir_argument(parser) -> None:
    parser.add_argument("dir", metavar="DIR", help="the project folder (holds modelsnap.toml)")
