"""MinHash fingerprints of reported mail (``datasketch``), to group reports into waves.

The text is normalised first so that what a phishing campaign varies per recipient does not
count: links and addresses are removed, digits become ``0``, case and spacing are ignored.
Shingles are word 3-grams (Chinese and Japanese characters count as words), plus the
subject's words, so a campaign's mails match whatever name or link each one carries.
"""

from __future__ import annotations

import re

import numpy as np
from datasketch import MinHash

_URL = re.compile(r"(?i)\b(?:https?://|www\.)\S+|\S+@\S+\.\w+")
_WORD = re.compile(r"[\u3040-\u30ff\u3400-\u9fff\uac00-\ud7af]|[^\W\d_]+|\d+")
_DIGITS = re.compile(r"\d+")
_MAX_WORDS = 3000


class MinHashFingerprints:
    """Signatures of ``num_perm`` 32-bit values; similarity estimates the Jaccard index."""

    def __init__(self, num_perm: int = 128, seed: int = 9) -> None:
        self._num_perm = num_perm
        self._template = MinHash(num_perm=num_perm, seed=seed, scheme="affine32")  # made once

    def signature(self, subject: str, text: str) -> list[int]:
        """The MinHash of the message's shingles; [] when it has no words (never grouped)."""
        shingles = _shingles(subject, text)
        if not shingles:
            return []
        minhash = MinHash(num_perm=self._num_perm, permutations=self._template.permutations,
                          scheme="affine32")
        minhash.update_batch([s.encode("utf-8", "surrogatepass") for s in shingles])
        return [int(v) for v in minhash.hashvalues]

    def similarity(self, a: list[int], b: list[int]) -> float:
        if not a or len(a) != len(b):
            return 0.0
        return float(np.count_nonzero(np.asarray(a) == np.asarray(b))) / len(a)


def _words(text: str) -> list[str]:
    text = _URL.sub(" ", text.lower())
    return [_DIGITS.sub("0", w) for w in _WORD.findall(text)][:_MAX_WORDS]


def _shingles(subject: str, text: str) -> set[str]:
    words = _words(text)
    found = {" ".join(words[i:i + 3]) for i in range(max(len(words) - 2, 0))}
    if 0 < len(words) < 3:
        found.add(" ".join(words))
    found.update(f"s:{w}" for w in _words(subject))
    return found
