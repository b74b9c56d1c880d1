"""Security phrases: the personal phrase every genuine email shows, and which ones are refused.

A phrase only helps if a phisher cannot guess it: the Seller Center's own examples and very
common phrases (a small bundled list, compared without case, spaces or punctuation) are
refused, as are links, long numbers (they could pass for a code) and markup.
"""

from __future__ import annotations

import re
import unicodedata
from functools import cache
from importlib import resources

MIN_LENGTH, MAX_LENGTH = 4, 60

#: The examples the phrase page shows (English and Chinese): refused, whoever types them.
EXAMPLES = ("blue teapot on the windowsill", "窗台上的蓝色茶壶")

_LOOKS_LIKE_LINK = re.compile(r"(://|www\.|\.(com|net|org|cn)\b)", re.IGNORECASE)
_LONG_NUMBER = re.compile(r"\d{6,}")


def clean_phrase(raw: str) -> str:
    """The phrase as stored: inner runs of spaces collapsed, ends trimmed."""
    return " ".join(raw.split())


def phrase_problem(phrase: str) -> str | None:
    """Why ``phrase`` (already cleaned) cannot be used, as a code; None when it can.

    Codes: ``phrase_length``, ``phrase_characters``, ``phrase_link``, ``phrase_number``,
    ``phrase_example``, ``phrase_common``.
    """
    if not MIN_LENGTH <= len(phrase) <= MAX_LENGTH:
        return "phrase_length"
    if not all(ch.isprintable() for ch in phrase) or any(ch in "<>" for ch in phrase):
        return "phrase_characters"
    if _LOOKS_LIKE_LINK.search(phrase):
        return "phrase_link"
    if _LONG_NUMBER.search(unicodedata.normalize("NFKC", phrase)):
        return "phrase_number"
    key = phrase_key(phrase)
    if key in {phrase_key(example) for example in EXAMPLES}:
        return "phrase_example"
    if key in _common_phrases() or len(set(key)) <= 2:
        return "phrase_common"
    return None


def phrase_key(text: str) -> str:
    """``text`` compared as people would: width, case, spaces and punctuation ignored."""
    folded = unicodedata.normalize("NFKC", text).casefold()
    return "".join(ch for ch in folded if unicodedata.category(ch)[0] in "LN")


def phrase_hint(phrase: str) -> str:
    """The first letters of a saved phrase, to remind the seller what to look for."""
    shown = max(1, min(4, len(phrase) // 4))
    return phrase[:shown]


@cache
def _common_phrases() -> frozenset[str]:
    text = resources.files("contactguard.domain").joinpath("common_phrases.txt").read_text("utf-8")
    return frozenset(phrase_key(line) for line in text.splitlines()
                     if line.strip() and not line.startswith("#"))
