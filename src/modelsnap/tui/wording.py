"""Core messages in the TUI's words.

The core's hints are written for the command line ("lock a new revision first: modelsnap lock
DIR --reason ..."), which is right for ``modelsnap`` in a shell and wrong on a screen where the
same thing is a key or a button. Every error and warning the TUI shows passes through
:func:`tui_words`, so the mapping lives in one place and the core keeps one text.
"""

from __future__ import annotations

import re

# (pattern, replacement), applied in order. Paths in commands are whatever follows the command
# up to the closing quote/bracket or the end of the clause.
_RULES: tuple[tuple[re.Pattern[str], str], ...] = tuple(
    (re.compile(pattern), replacement)
    for pattern, replacement in (
        (r"\(modelsnap lock [^\s)]+(?: --reason \"[^\"]*\")?\)", "(Save & lock in step 1)"),
        (r"(?:run: )?modelsnap lock [^\s)]+(?: --reason \"[^\"]*\")?", "Save & lock in step 1"),
        (r"modelsnap run DIR", "run them in steps 2 and 3"),
        (r"pick an id shown by 'modelsnap rank'", "pick a model from the list in step 5"),
        (r"raise it with --timeout or timeout_seconds", "raise timeout_seconds"),
        (r"raise it with --memory-limit or memory_limit_mb", "raise memory_limit_mb"),
        (r" ?\(--allow-mixed ranks them with a warning\)", ""),
        (r"give (?:an )?--override", "fill in Override"),
        (r"give an override", "fill in Override"),
        (r"run --baseline first", "run the baseline first (step 2)"),
        (r"set \[data\]\.stratify = false", "untick stratify in step 1"),
    )
)


def tui_words(text: str) -> str:
    """``text`` with command-line instructions replaced by what to do on screen."""
    for pattern, replacement in _RULES:
        text = pattern.sub(replacement, text)
    return text
