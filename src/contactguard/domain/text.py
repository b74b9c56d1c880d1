"""Which characters a text field shown in messages and pages may hold (pure rules, stdlib only).

Names, descriptions, phrases and the like end up in emails, SMS, voice scripts, web pages and
logs. Control characters (CR/LF, NUL, escape sequences), invisible format controls (bidi
overrides, isolates and embeddings such as U+202E, zero-width spaces, tag characters) and
line/paragraph separators can forge extra lines, reorder what a reader sees, hide text or
break storage, so they are refused. Zero-width (non-)joiners U+200C and U+200D stay allowed:
Persian, Indic scripts and emoji sequences need them.
"""

from __future__ import annotations

import re
import unicodedata

#: The FieldError code of a text refused for one of these characters.
CONTROL_CHARACTERS = "control_characters"

_ALLOWED_FORMAT = frozenset("\u200c\u200d")  # ZWNJ, ZWJ: needed to spell words and emoji
_REFUSED_CATEGORIES = frozenset({"Cc", "Cf", "Cs", "Zl", "Zp"})
_ASCII_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


def unsafe_character(text: str) -> str | None:
    """The first character of ``text`` a displayed text field may not hold, or None."""
    if text.isascii():
        found = _ASCII_CONTROL.search(text)
        return found.group() if found else None
    for ch in text:
        if unicodedata.category(ch) in _REFUSED_CATEGORIES and ch not in _ALLOWED_FORMAT:
            return ch
    return None


def describe_character(ch: str) -> str:
    """``U+202E RIGHT-TO-LEFT OVERRIDE``: how an error message names a character."""
    name = unicodedata.name(ch, "")
    if not name and unicodedata.category(ch) == "Cc":
        name = _CONTROL_NAMES.get(ch, "control character")
    return f"U+{ord(ch):04X} {name}".rstrip()


def control_characters_message(ch: str) -> str:
    """The error message for a text holding ``ch``."""
    return ("must not contain control characters, line breaks or invisible formatting "
            f"characters (found {describe_character(ch)})")


_CONTROL_NAMES = {"\x00": "NULL", "\t": "CHARACTER TABULATION", "\n": "LINE FEED",
                  "\r": "CARRIAGE RETURN", "\x1b": "ESCAPE", "\x7f": "DELETE"}
