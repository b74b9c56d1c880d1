"""The sent ledger's fingerprints: what we keep of every message sent, without keeping it.

A ledger row holds keyed hashes only (the key is derived from the secret key): a plain hash
of a text containing a 6-digit code could be reversed by trying every code.

- ``body_hash``: HMAC-SHA256 of the body as it went out (for email, of the DKIM body hash
  over the relaxed-canonical MIME body; for other channels, of the text).
- ``text_key``: HMAC of the text's *canonical* form (letters and digits only, casefolded),
  so a pasted SMS is found whatever its spacing.
- ``shingles``: short keyed hashes of every run of :data:`SHINGLE` consecutive words of the
  text, HTML and subject. A copy that was re-wrapped, quoted (``>``), forwarded inline or
  pasted from a mail client keeps its words; a changed code, link or sentence does not.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import html
import re
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime

#: Words per shingle: short enough to resync right after a changed word.
SHINGLE = 3
_SHINGLE_BYTES = 4

#: Reference codes as printed in our messages (``CG-7KQ4-M9XD``); any case, any dash.
REFERENCE_RE = re.compile(r"(?<![A-Za-z0-9])CG[-\u2010-\u2015 ]?([34679ACDEFGHJKMNPQRTUVWXY]{4})"
                          r"[-\u2010-\u2015 ]?([34679ACDEFGHJKMNPQRTUVWXY]{4})(?![A-Za-z0-9])",
                          re.IGNORECASE)
_URL_RE = re.compile(r"(?i)\b(?:https?://|www\.)[^\s<>\"'()\[\]{}]+|\bmailto:[^\s<>\"']+")
_HREF_RE = re.compile(r"""(?i)\bhref\s*=\s*(?:"([^"]*)"|'([^']*)'|([^\s>]+))""")
_INVISIBLE = dict.fromkeys(map(ord, "\u00ad\u034f\u061c\u115f\u1160\u17b4\u17b5\u180e"
                               "\u200b\u200c\u200d\u200e\u200f\u202a\u202b\u202c\u202d\u202e"
                               "\u2060\u2061\u2062\u2063\u2064\u2066\u2067\u2068\u2069\ufeff"))
_CJK = ("\u2e80-\u2fff\u3040-\u30ff\u3100-\u312f\u3190-\u31ff\u3400-\u4dbf\u4e00-\u9fff"
        "\uac00-\ud7af\uf900-\ufaff")
_TOKEN_RE = re.compile(rf"[{_CJK}]|[^\W_{_CJK}]+")
_HEAD_RE = re.compile(r"(?is)<(head|style|script|title)\b.*?</\1\s*>|<!--.*?-->")
_TAG_RE = re.compile(r"(?s)<[^>]*>")


def normalize_reference(value: str) -> str | None:
    """``cg 7kq4m9xd`` -> ``CG-7KQ4-M9XD``; None when it is not a reference code."""
    match = REFERENCE_RE.fullmatch(value.strip())
    return f"CG-{match.group(1)}-{match.group(2)}".upper() if match else None


def find_references(text: str, limit: int = 5) -> list[str]:
    """The distinct reference codes in ``text``, in order of appearance."""
    found: dict[str, None] = {}
    for match in REFERENCE_RE.finditer(text):
        found[f"CG-{match.group(1)}-{match.group(2)}".upper()] = None
        if len(found) >= limit:
            break
    return list(found)


def clean_text(text: str) -> str:
    """NFKC, casefolded, with invisible characters (zero-width, bidi controls) removed."""
    return unicodedata.normalize("NFKC", text).translate(_INVISIBLE).casefold()


def strip_urls(text: str) -> str:
    return _URL_RE.sub(" ", text) if _may_link(text) else text


def tokens(text: str) -> list[str]:
    """Words of ``text`` for fingerprints: letters/digits runs, one token per CJK character,
    links removed (they are compared as links)."""
    return _TOKEN_RE.findall(clean_text(strip_urls(text)))


def visible_text(markup: str) -> str:
    """The text a reader sees in simple HTML (our own templates): no head, style or script."""
    return html.unescape(_TAG_RE.sub(" ", _HEAD_RE.sub(" ", markup)))


def urls_in(text: str) -> list[str]:
    """Links written out in plain text (``https://...``, ``www....``, ``mailto:``)."""
    return [m.group(0).rstrip(".,;:!?") for m in _URL_RE.finditer(text)]


def links_in(text: str, markup: str | None = None) -> list[str]:
    """Every distinct link of a message we send: hrefs of its HTML and URLs in its text."""
    found: dict[str, None] = {}
    if markup and "href" in markup.lower():
        for match in _HREF_RE.finditer(markup):
            value = html.unescape(next(g for g in match.groups() if g is not None)).strip()
            if value and not value.startswith("#"):
                found[value] = None
    if markup and _may_link(markup):
        for url in urls_in(visible_text(markup)):
            found[url] = None
    for url in urls_in(text) if _may_link(text) else ():
        found[url] = None
    return list(found)


def _may_link(text: str) -> bool:
    lowered = text.lower()
    return "http" in lowered or "www." in lowered or "mailto:" in lowered


def derive_key(secret: str, purpose: str) -> bytes:
    return hmac.new(secret.encode(), purpose.encode(), hashlib.sha256).digest()


def keyed_hash(key: bytes, data: str | bytes) -> str:
    """HMAC-SHA256, hex."""
    raw = data.encode() if isinstance(data, str) else data
    return hmac.new(key, raw, hashlib.sha256).hexdigest()


def text_key(key: bytes, text: str) -> str | None:
    """Keyed hash of the canonical words of ``text`` (None for a text without words)."""
    words = tokens(text)
    return keyed_hash(key, " ".join(words)) if words else None


def shingle_hashes(key: bytes, words: list[str]) -> list[bytes]:
    """One short keyed hash (BLAKE2b in keyed mode) per run of SHINGLE words."""
    if not words:
        return []
    runs = ["\x1f".join(words)] if len(words) < SHINGLE else [
        "\x1f".join(words[i:i + SHINGLE]) for i in range(len(words) - SHINGLE + 1)]
    base = hashlib.blake2b(key=key[:32], digest_size=_SHINGLE_BYTES)
    cache: dict[str, bytes] = {}
    out = []
    for run in runs:
        found = cache.get(run)
        if found is None:
            hasher = base.copy()
            hasher.update(run.encode())
            found = cache[run] = hasher.digest()
        out.append(found)
    return out


def pack_shingles(hashes: Iterable[bytes]) -> str:
    """Distinct shingle hashes, packed as base64 text for one column."""
    return base64.b64encode(b"".join(sorted(set(hashes)))).decode()


def unpack_shingles(packed: str | None) -> frozenset[bytes]:
    if not packed:
        return frozenset()
    raw = base64.b64decode(packed)
    return frozenset(raw[i:i + _SHINGLE_BYTES] for i in range(0, len(raw), _SHINGLE_BYTES))


@dataclass(frozen=True, slots=True)
class Fingerprint:
    """What the ledger keeps of a message's content."""

    body_hash: str | None
    text_key: str | None
    shingles: str
    links: list[str] = field(default_factory=list)


def fingerprint(key: bytes, *, text: str, html_body: str | None = None,
                subject: str | None = None, body_digest: str | None = None) -> Fingerprint:
    """The ledger's fingerprint of a rendered message.

    ``body_digest`` is the transport's digest of the body as sent (SMTP: the DKIM body
    hash); without one the text itself is hashed.
    """
    words = tokens(text)
    hashes = shingle_hashes(key, words)
    if html_body:
        html_words = tokens(visible_text(html_body))
        if html_words != words:
            hashes += shingle_hashes(key, html_words)
    if subject:
        hashes += shingle_hashes(key, tokens(subject))
    body_hash = keyed_hash(key, body_digest if body_digest is not None else text)
    return Fingerprint(body_hash=body_hash, text_key=text_key(key, text),
                       shingles=pack_shingles(hashes), links=links_in(text, html_body))


@dataclass(frozen=True, slots=True)
class LedgerEntry:
    """One message ContactGuard sent, as the ledger remembers it."""

    id: int
    reference: str
    message_id: str | None
    account_id: int | None
    channel: str
    kind: str
    recipient: str  # masked
    sent_at: datetime
    body_hash: str | None
    text_key: str | None
    shingles: frozenset[bytes]
    links: tuple[str, ...]
    dkim_selectors: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class ContentMatch:
    """How a copy's words compare with a ledger entry's shingles."""

    matched: int  # shingles of the copy found in the entry
    total: int  # shingles of the copy
    gap: bool  # unmatched words between the first and the last matched ones
    lead: int  # unmatched shingles before the first match
    tail: int  # unmatched shingles after the last match
    lead_text: str = ""
    tail_text: str = ""

    @property
    def full(self) -> bool:
        return self.total > 0 and self.matched == self.total


def compare_words(key: bytes, words: list[str], entry_shingles: frozenset[bytes]) -> ContentMatch:
    """Which of the copy's shingles the entry has, and where the unmatched ones are."""
    hashes = shingle_hashes(key, words)
    hits = [h in entry_shingles for h in hashes]
    if not any(hits):
        return ContentMatch(0, len(hashes), False, len(hashes), 0, join_words(words[:60]), "")
    first = hits.index(True)
    last = len(hits) - 1 - hits[::-1].index(True)
    gap = not all(hits[first:last + 1])
    tail = len(hits) - 1 - last
    # Shingle i covers words i..i+SHINGLE-1: words outside the matched span.
    lead_words = words[:first]
    tail_words = words[last + SHINGLE:] if tail else []
    return ContentMatch(sum(hits), len(hits), gap, first, tail, join_words(lead_words[-60:]),
                        join_words(tail_words[:60]))


_CJK_CHAR = re.compile(rf"[{_CJK}]")


def join_words(words: list[str]) -> str:
    """Words back into text: spaces between words, none between CJK characters."""
    out: list[str] = []
    for index, word in enumerate(words):
        if index and not (_CJK_CHAR.fullmatch(word) and _CJK_CHAR.fullmatch(words[index - 1])):
            out.append(" ")
        out.append(word)
    return "".join(out)
