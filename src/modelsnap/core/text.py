"""Text from a project folder made safe to show: control characters escaped, long values cut.

A name, note or rationale comes from a file that anyone with write access to the folder may
have edited. Printed raw, an ESC sequence in it can clear the screen, move the cursor over
another row's "FAIL", or retitle the terminal. Every front end (CLI, TUI, the Markdown card and
the HTML report) shows such text through ``printable``, which replaces each control character
with a visible escape (``\\x1b``, ``\\u202e``) and leaves all other text (accents, CJK, emoji)
as it is. Plain Python, cheap: a string without control characters is returned unchanged after
one ``str.isprintable`` call.
"""

from __future__ import annotations

import re

# C0 controls, DEL, C1 controls, and the bidirectional overrides/isolates/marks and the
# line/paragraph separators that reorder or break what is shown without being visible.
_UNSAFE = re.compile("[\x00-\x1f\x7f-\x9f\u061c\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069]")
_UNSAFE_KEEP_LINES = re.compile(
    "[\x00-\x08\x0b-\x1f\x7f-\x9f\u061c\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069]"
)

ELLIPSIS = "…"
# How many characters of a value an error message or a one-line echo shows.
ECHO_LIMIT = 200


def _escape(match: re.Match[str]) -> str:
    code = ord(match.group())
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def printable(value: object, *, limit: int | None = None, newlines: bool = False) -> str:
    """``value`` as text with every control character shown as an escape.

    ``newlines=True`` keeps line feeds and tabs (multi-line notes and rationale); otherwise
    they are escaped too, so a value stays on its line. ``limit`` cuts the result to that many
    characters with an ellipsis (for values echoed in messages).
    """
    text = value if isinstance(value, str) else str(value)
    if limit is not None and len(text) > limit:
        text = text[:limit]
        cut = True
    else:
        cut = False
    if not text.isprintable():  # fast path (C): every character we escape is non-printable
        pattern = _UNSAFE_KEEP_LINES if newlines else _UNSAFE
        text = pattern.sub(_escape, text)
    if cut:
        text = text[:limit] + ELLIPSIS
    return text


def short(value: object, limit: int = ECHO_LIMIT) -> str:
    """A value echoed in a message: escaped, and cut to ``limit`` characters with an ellipsis."""
    return printable(value, limit=limit)


def has_control(text: str) -> bool:
    """Whether ``printable`` would change ``text`` (ignoring length)."""
    return not text.isprintable() and _UNSAFE.search(text) is not None


def printable_with_map(text: str, *, newlines: bool = True) -> tuple[str, list[int]]:
    """``printable(text)`` and, for each offset of ``text`` (and its end), the offset in the
    result: front ends that style ranges of a text (spans) move the ranges with it."""
    pattern = _UNSAFE_KEEP_LINES if newlines else _UNSAFE
    pieces: list[str] = []
    offsets: list[int] = []
    position = 0
    for char in text:
        offsets.append(position)
        unsafe = pattern.match(char)
        piece = _escape(unsafe) if unsafe else char
        pieces.append(piece)
        position += len(piece)
    offsets.append(position)
    return "".join(pieces), offsets


def column_mismatch(missing: list[str], unknown: list[str]) -> list[str]:
    """How a file's or a row's columns differ from the project's, in the words every reader
    uses (edge cases, new data for ``monitor``, rows for ``predict``): one phrase per kind."""
    parts = []
    if missing:
        parts.append(f"missing column(s) {', '.join(map(repr, missing))}")
    if unknown:
        parts.append(f"unknown column(s) {', '.join(map(repr, unknown))}")
    return parts
