"""Shared output helpers for CLI commands: errors to stderr, JSON with a stable shape."""

from __future__ import annotations

import contextlib
import gc
import json
import math
import os
import sys
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import is_dataclass
from pathlib import Path
from typing import Any

# A message line longer than this is cut with an ellipsis: a 100,000-character name echoed in
# an error must not flood the terminal.
MESSAGE_LINE_LIMIT = 1000


def clean(text: object, *, limit: int | None = None) -> str:
    """One value from a project folder, safe to print on one line (control characters escaped)."""
    from modelsnap.core.text import printable

    return printable(text, limit=limit)


def clean_message(text: object) -> str:
    """A message (may span lines): control characters escaped, each line cut to a sane length."""
    from modelsnap.core.text import printable

    return "\n".join(printable(line, limit=MESSAGE_LINE_LIMIT) for line in str(text).split("\n"))


def use_color() -> bool:
    """ANSI colour for the plain-text tables: on a terminal, unless ``NO_COLOR`` is set."""
    return sys.stdout.isatty() and not os.environ.get("NO_COLOR")


_ANSI = {"bold": "1", "dim": "2", "red": "31", "green": "32", "yellow": "33"}


def painted(text: str, style: str, *, color: bool = True) -> str:
    """``text`` in an ANSI ``style`` ("bold red", "dim", ...) when ``color``, else as it is:
    the plain-text listings' colour (``use_color`` says whether to use it)."""
    if not color or not style:
        return text
    codes = ";".join(_ANSI[word] for word in style.split())
    return f"\x1b[{codes}m{text}\x1b[0m"


def column_template(
    headers: Sequence[str], right: Sequence[bool], body: Sequence[Sequence[str]], gap: str = "  "
) -> tuple[list[int], str]:
    """The widths of aligned plain-text columns (each the widest of its header and cells) and
    one format string for every line, for the listings that can run to 100,000 lines (``ls``,
    ``rank``): rich's Table needs seconds per 10,000 rows, this a few milliseconds."""
    columns = list(zip(*body, strict=True)) if body else [()] * len(headers)
    widths = [
        max(len(header), max(map(len, column), default=0))
        for header, column in zip(headers, columns, strict=True)
    ]
    template = gap.join(
        f"{{:{'>' if flush_right else '<'}{width}}}"
        for flush_right, width in zip(right, widths, strict=True)
    )
    return widths, template


def echo(text: object = "", *, file=None) -> None:
    """``print`` for text that holds names, notes or paths from a project folder."""
    print(clean_message(text), file=file)


def make_console(**options: Any):
    """A rich Console whose every string (printed, or a table cell) has control characters
    escaped before rendering, so a name holding ESC sequences is shown, never obeyed."""
    from rich.console import Console
    from rich.text import Text

    from modelsnap.core.text import has_control, printable

    class _SafeConsole(Console):
        def render_str(self, text: str, **kwargs: Any):  # type: ignore[override]
            return super().render_str(printable(text, newlines=True), **kwargs)

        def render(self, renderable: Any, options: Any = None):  # type: ignore[override]
            if isinstance(renderable, Text) and has_control(renderable.plain.replace("\n", "")):
                renderable = Text(
                    printable(renderable.plain, newlines=True),
                    style=renderable.style,
                    justify=renderable.justify,
                    overflow=renderable.overflow,
                    no_wrap=renderable.no_wrap,
                    end=renderable.end,
                )
            return super().render(renderable, options)

    return _SafeConsole(**options)


def print_error(error: BaseException) -> None:
    """Print an error on stderr; soft wrap, so file names are never broken mid-word in logs."""
    from rich.markup import escape

    make_console(stderr=True, highlight=False, soft_wrap=True).print(
        f"[bold red]error:[/] {escape(clean_message(error))}"
    )


def print_warning(text: str) -> None:
    from rich.markup import escape

    console = make_console(stderr=True, highlight=False, soft_wrap=True)
    console.print(f"[yellow]warning:[/] {escape(clean_message(text))}")


def json_bytes(value: Any, *, sort_keys: bool = True) -> bytes:
    """Compact JSON (UTF-8, no spaces) of a large answer, for ``ls`` and ``rank``.

    orjson encodes in a tenth of the time of the standard library: 0.07 s against 0.5 s for
    ``ls`` at 100,000 snapshots, where floats' shortest repr is most of the cost. It writes a
    non-finite float as ``null`` (the standard library writes ``NaN``, which is not JSON). What
    orjson refuses (an integer past 64 bits, from a hand-edited file) goes through the standard
    library instead, with the same layout."""
    import orjson

    try:
        return orjson.dumps(value, option=_orjson_option(sort_keys))
    except orjson.JSONEncodeError:
        text = json.dumps(
            _finite(value), sort_keys=sort_keys, ensure_ascii=False, separators=(",", ":")
        )
        return text.encode("utf-8", "surrogateescape")


def _orjson_option(sort_keys: bool) -> int:
    import orjson

    option = orjson.OPT_NON_STR_KEYS | orjson.OPT_SERIALIZE_NUMPY
    return option | orjson.OPT_SORT_KEYS if sort_keys else option


# From this many objects, ``json_array_by_address`` encodes them in the order they lie in
# memory (below, sorting them by address costs more than it saves).
BY_ADDRESS_FROM = 5_000


def json_array_by_address(
    items: Sequence[Any], first_key: str
) -> tuple[bytes | memoryview, ...] | None:
    """``json_bytes(list(items))`` in parts (the same bytes once joined; not joined here, which
    would copy 58 MB), made faster for a long list of objects that lie in memory in another
    order than the list's; None below ``BY_ADDRESS_FROM`` objects, or when the list cannot be
    made so (``json_bytes`` then makes it as it is).

    The 71,413 entries of ``rank --all-versions`` at 100,000 snapshots are made in the rows'
    order, then put best first; encoding them best first missed the cache on nearly every
    object (0.43 s, against 0.14 s in the order they lie in memory). So they are encoded in
    memory order, in one call, and the encoded objects are then copied out in the list's order.
    Each object must encode as a JSON object whose first key is ``first_key`` (a dataclass whose
    first field it is): the text between two of them, ``},{"first_key":``, cannot occur inside
    one unless a nested list of objects holds it, and then the pieces outnumber the objects and
    None is returned."""
    import orjson

    if len(items) < BY_ADDRESS_FROM:
        return None
    # the positions of the objects in the order they lie in memory (CPython: their id)
    order = sorted(range(len(items)), key=list(map(id, items)).__getitem__)
    try:
        text = orjson.dumps([items[k] for k in order], option=_orjson_option(True))
    except orjson.JSONEncodeError:
        return None  # json_bytes then writes the whole answer through the standard library
    opening = b'{"' + first_key.encode() + b'":'
    separator = b"}," + opening
    if not (text.startswith(b"[" + opening) and text.endswith(b"}]")):
        return None
    # where each object starts, in memory order (the comma before it, for all but the first)
    find, starts, at = text.find, [1], 1
    while (at := find(separator, at)) >= 0:
        at += 1  # the comma
        starts.append(at + 1)
    if len(starts) != len(items):
        return None
    ends = [start - 1 for start in starts[1:]]
    ends.append(len(text) - 1)
    view = memoryview(text)
    # "[", the first object, ",", the second, ..., "]": not joined (another 58 MB to copy,
    # and as many new pages, which cost this VM 2 µs each); write_bytes writes them as they are
    parts: list[bytes | memoryview] = [b","] * (2 * len(items) + 1)
    parts[0], parts[-1] = b"[", b"]"
    for k, start, end in zip(order, starts, ends, strict=True):
        parts[2 * k + 1] = view[start:end]
    return tuple(parts)


def json_parts_with(
    body: dict[str, Any], key: str, array: tuple[bytes | memoryview, ...]
) -> tuple[bytes | memoryview, ...] | None:
    """The parts of ``json_bytes(body)`` when ``body[key]`` is the JSON array whose parts are
    ``array`` (``json_array_by_address``): the rest of ``body`` is encoded around a unique
    marker, so the array is written as it is, not copied into the answer. None when orjson
    cannot encode the rest (``json_bytes(body)`` then writes it all through the standard
    library)."""
    import secrets

    import orjson

    marker = f"\x00{key}:{secrets.token_hex(16)}"
    try:
        text = orjson.dumps({**body, key: marker}, option=_orjson_option(True))
    except orjson.JSONEncodeError:
        return None
    encoded = orjson.dumps(marker)
    at = text.find(encoded)
    if at < 0 or text.find(encoded, at + 1) >= 0:  # a 128-bit marker: never, but not assumed
        return None
    return text[:at], *array, text[at + len(encoded) :]


def _finite(value: Any) -> Any:
    """``value`` with every non-finite float as None, as orjson writes it."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {key: _finite(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_finite(item) for item in value]
    to_dict = getattr(value, "to_dict", None)
    if is_dataclass(value) and callable(to_dict):
        return _finite(to_dict())  # e.g. a RankedEntry
    return value


# From this many parts, ``write_bytes`` hands them to the system in batches (``os.writev``):
# one buffered write each would cost more than joining them.
WRITEV_FROM = 64


def write_bytes(parts: Iterable[bytes | memoryview]) -> None:
    """Write encoded output to stdout, part by part, after what is already buffered there
    (no copy of the whole: at 100,000 snapshots joining 60 MB cost ``ls`` 0.1 s). A long
    sequence of parts (``json_array_by_address``'s objects) goes to the file descriptor in
    batches, where there is one."""
    buffer = getattr(sys.stdout, "buffer", None)
    if buffer is None:  # a text-only stream (a test's StringIO)
        for part in parts:
            sys.stdout.write(bytes(part).decode("utf-8", "surrogateescape"))
        return
    sys.stdout.flush()
    if isinstance(parts, list | tuple) and len(parts) >= WRITEV_FROM:
        buffer.flush()
        fd = _file_descriptor(buffer)
        if fd is not None:
            _write_all(fd, list(parts))
            return
    for part in parts:
        buffer.write(part)
    buffer.flush()


def _file_descriptor(stream: Any) -> int | None:
    """The descriptor ``stream`` writes to, where ``os.writev`` can take the parts."""
    if not hasattr(os, "writev"):  # Windows
        return None
    try:
        return int(stream.fileno())
    except (AttributeError, OSError, ValueError):  # io.UnsupportedOperation: a test's stream
        return None


def _write_all(fd: int, parts: list[bytes | memoryview]) -> None:
    """Every byte of ``parts`` to ``fd``, in order, in ``os.writev`` batches; a batch the
    system takes in part (a pipe, a signal) goes on from the first byte it did not take."""
    batch = _IOV_MAX
    at = 0
    while at < len(parts):
        written = os.writev(fd, parts[at : at + batch])
        while at < len(parts) and written >= len(parts[at]):
            written -= len(parts[at])
            at += 1
        if written:
            parts[at] = memoryview(parts[at])[written:]


def _iov_max() -> int:
    try:
        return max(16, min(os.sysconf("SC_IOV_MAX"), 1024))
    except (AttributeError, ValueError, OSError):
        return 16


_IOV_MAX = _iov_max()


def print_json(data: Any) -> None:
    """Print JSON for machines: sorted keys, 2-space indent, UTF-8, newline-terminated."""
    sys.stdout.write(json.dumps(data, indent=2, sort_keys=True, ensure_ascii=False, default=str))
    sys.stdout.write("\n")


def add_format_option(parser, choices=("table", "json")) -> None:
    parser.add_argument(
        "--format",
        choices=list(choices),
        default="table",
        help="output format; json has a stable shape documented in docs/cli.md",
    )


def add_dir_argument(parser) -> None:
    parser.add_argument("dir", metavar="DIR", help="the project folder (holds modelsnap.toml)")


def project_root(value: str) -> Path:
    """The project folder named on the command line; a clear error when it is not a folder."""
    from modelsnap.core.errors import PathError

    root = Path(value).expanduser()
    if not root.is_dir():
        raise PathError(
            "no such project folder",
            where=str(root),
            hint="give the folder that holds modelsnap.toml",
        )
    return root


# Set by the program's entry point (``modelsnap.cli.program``): the process ends when the
# command returns. Never set when a caller runs ``main`` in a process of its own.
_PROCESS = {"ends_after_command": False}


def process_ends_after_command() -> None:
    _PROCESS["ends_after_command"] = True


def left_to_exit(*values: object) -> None:
    """Never free ``values``, when the process ends right after this command: the operating
    system takes the memory back at once at exit, where freeing the rows and the answer of
    ``rank --all-versions`` at 100,000 snapshots object by object cost 0.2-0.3 s. The values
    are put in a reference cycle (reference counting never frees it) that ``gc.freeze`` puts
    out of the collector's reach, the final collection at exit included; atexit handlers and
    the flushing of output run as always. A no-op for a caller that runs ``main`` in its own
    process."""
    if not _PROCESS["ends_after_command"]:
        return
    holder: list[object] = [*values]
    holder.append(holder)
    gc.freeze()


@contextlib.contextmanager
def reading_progress(then: str) -> Iterator[Callable[[int, int], None] | None]:
    """A counting line on stderr while a command parses many snapshot files ("reading 45,000
    of 100,000 snapshots", then "read 100,000 snapshots; <then> ..."), erased when the block
    ends, before the command writes its answer. ``None`` (no line at all) when stderr is not a
    terminal; nothing is shown for fewer than ``store.PROGRESS_FROM`` files."""
    from modelsnap.core.records import store

    stream = sys.stderr
    try:
        terminal = stream.isatty()
    except (AttributeError, ValueError):  # a closed or odd stream
        terminal = False
    if not terminal:
        yield None
        return
    width = 0  # of the line on screen: each line is drawn over the last, blanks covering the
    # rest (no escape codes: a dumb terminal shows them as text)

    def tell(done: int, total: int) -> None:
        nonlocal width
        if total < store.PROGRESS_FROM:
            return
        line = (
            f"read {total:,} snapshots; {then} ..."
            if done >= total
            else f"reading {done:,} of {total:,} snapshots"
        )
        stream.write(f"\r{line.ljust(width)}")
        stream.flush()
        width = max(width, len(line))

    try:
        yield tell
    finally:
        if width:
            stream.write(f"\r{' ' * width}\r")
            stream.flush()


def cyclic_gc_paused() -> contextlib.AbstractContextManager[None]:
    """The cyclic garbage collector off for one command that loads ~10^6 small objects (index
    rows) with no reference cycles: it would only walk them again and again (20-40 % of
    ``ls`` and ``rank`` at 10,000-100,000 snapshots). See ``core.collector.paused``."""
    from modelsnap.core import collector

    return collector.paused()
