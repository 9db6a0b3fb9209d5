"""Text both backends of the app store take alike: the one place that says what that is.

PostgreSQL's text type cannot hold NUL (SQLite would keep it), and a lone surrogate (what Python
makes of bytes that are not UTF-8, or of a JSON escape such as "\\ud800") is not text either driver
can encode. What a person types (a decision, a search) is refused with `text_problem`'s sentence;
what a sync brings is stored with `storable`'s U+FFFD in place of each such character, so the row is
kept on both backends, and a recommendation's suggestion is made an error that says why.
"""

from __future__ import annotations

import re

REPLACEMENT = "\ufffd"
_NOT_TEXT = re.compile(r"[\x00\ud800-\udfff]")


def text_problem(value: str, label: str) -> str | None:
    """Why `value` is not text both backends store alike, as a sentence starting with `label`;
    None when it is."""
    if "\x00" in value:
        return f"{label} cannot contain a NUL character."
    surrogate = None if value.isascii() else _NOT_TEXT.search(value)
    if surrogate is not None:
        return f"{label} holds U+{ord(surrogate.group()):04X}, a lone surrogate, which is not text."
    return None


def storable(value: str) -> str:
    """`value` with U+FFFD in place of every character `text_problem` objects to."""
    # the common case, cheaply: isascii() reads a flag, and ASCII holds no surrogate
    if value.isascii() and "\x00" not in value:
        return value
    return _NOT_TEXT.sub(REPLACEMENT, value)
