"""Whose domain is it? Brand domains, look-alikes, and the brand's name in free text.

- Public suffixes from ``tldextract``'s bundled snapshot (``suffix_list_urls=()``: never a
  download), private suffixes included, so ``acme.github.io`` is not GitHub's.
- Look-alikes compare a *skeleton* of each name with the brand's: Unicode confusables
  (``confusable-homoglyphs``: Cyrillic ``а`` is ``a``), accents dropped, and the ASCII tricks
  of typosquatters (``0``/``o``, ``1``/``l``, ``rn``/``m``, ``vv``/``w``). Then:
  same skeleton (homoglyph or IDN), a small edit distance (``rapidfuzz``'s optimal string
  alignment: omission, insertion, repetition, swap, replacement, bit flips; the ideas of
  dnstwist's fuzzers, checked rather than enumerated), the brand with extra words
  (``acme-seller-support.xyz``), or the brand's name in front of someone else's domain
  (``acme.com.evil.example``).
"""

from __future__ import annotations

import contextlib
import ipaddress
import re
import threading
import unicodedata
from collections.abc import Iterable
from functools import lru_cache
from itertools import pairwise

import tldextract
from rapidfuzz.distance import OSA

from contactguard.domain.ledger import clean_text
from contactguard.domain.phishing import DomainClass, DomainKind

_COMBINING = re.compile(r"[\u0300-\u036f\u1ab0-\u1aff\u1dc0-\u1dff\u20d0-\u20ff\ufe20-\ufe2f]")
_CJK_CHARS = r"\u2e80-\u9fff\uac00-\ud7af\uf900-\ufaff\u3000-\u303f\uff00-\uffef"
_CJK = re.compile(rf"[{_CJK_CHARS}]")
#: One letter or digit of a script that separates words with spaces (a word character that is
#: not CJK): what may not touch a brand name on either side.
_LATIN_LETTER = rf"(?![{_CJK_CHARS}])[^\W_]"
_LEET = str.maketrans({"0": "o", "1": "l", "3": "e", "4": "a", "5": "s", "7": "t", "8": "b",
                       "@": "a", "$": "s", "|": "l", "!": "i"})
_PAIRS = (("rn", "m"), ("vv", "w"), ("cl", "d"), ("nn", "m"), ("ii", "u"))


def _words(text: str) -> list[str]:
    return text.split()


#: Words phishing domains add to a brand (``acmesupport``, ``secure-acme-login``).
KEYWORDS = tuple(sorted(_words("""
support help helpdesk service services customer customers care team secure security verify
verification verified validate validation login signin logon sign account accounts seller
sellers central center centre update updates billing payment payments pay alert alerts notice
notices notification notifications info mail email online web official safe auth check confirm
portal my the id hub desk admin policy compliance contact recovery unlock limited review case
appeal store shop partner partners merchant vendor market marketplace app api www cn us uk eu
global intl hk tw de fr es br jp new now com net org co reset protect protection access member
members client clients health manage notify message messages inbox service-center
"""), key=len, reverse=True))

_GENERIC_LABELS = frozenset({"www", "mail", "email", "smtp", "mx", "m", "web", "app", "api"})


@lru_cache(maxsize=1)
def _extractor() -> tldextract.TLDExtract:
    """One per process: the bundled Public Suffix List snapshot, never downloaded."""
    return tldextract.TLDExtract(suffix_list_urls=(), cache_dir=None,
                                 include_psl_private_domains=True)


class _Skeletons:
    """The confusables table, built once per process on first use (it is ~1 MB of JSON)."""

    _lock = threading.Lock()
    _table: dict[int, str] | None = None

    @classmethod
    def table(cls) -> dict[int, str]:
        if cls._table is None:
            with cls._lock:
                if cls._table is None:
                    cls._table = _build_table()
        return cls._table


def _build_table() -> dict[int, str]:
    from confusable_homoglyphs.confusables import confusables_data

    table: dict[int, str] = {}
    for char, entries in confusables_data.items():
        if len(char) != 1 or char.isascii() or _CJK.match(char):
            continue
        for entry in entries:
            glyph = entry.get("c", "")
            if len(glyph) == 1 and glyph.isascii() and glyph.isalnum():
                table[ord(char)] = glyph.lower()
                break
    return table


def skeleton(text: str) -> str:
    """How ``text`` looks: casefolded, accents dropped, confusables mapped to ASCII."""
    text = clean_text(text)
    if text.isascii():
        return text
    text = _COMBINING.sub("", unicodedata.normalize("NFKD", text))
    return text.translate(_Skeletons.table())


def _variants(name: str) -> set[str]:
    """A domain label's skeleton, with typosquatters' digit and letter-pair tricks undone."""
    base = skeleton(name)
    out = {base, base.translate(_LEET), base.replace("1", "i").translate(_LEET)}
    for variant in list(out):
        swapped = variant
        for pair, single in _PAIRS:
            swapped = swapped.replace(pair, single)
        out.add(swapped)
    return {v for v in out if v}


def _compact(text: str) -> str:
    return re.sub(r"[\s\-_.·'’]+", "", text)


class BrandDomains:
    """Classifies hosts against the brand's domains and names (thread-safe, cached)."""

    def __init__(self, names: Iterable[str], domains: Iterable[str]) -> None:
        self._extract = _extractor()
        self.domains = sorted({d.strip().lower().strip(".") for d in domains if d and d.strip()})
        ordered = [d.strip().lower().strip(".") for d in domains if d and d.strip()]
        self._ordered = list(dict.fromkeys(
            self.registered(d) for d in ordered if not _is_ip(normalize_host(d))))
        self.registered_domains = frozenset(self._ordered)
        tokens: dict[str, None] = {}
        for domain in self.registered_domains:
            label = self._name(domain)
            if len(label) >= 3 and label not in _GENERIC_LABELS:
                tokens[skeleton(label)] = None
        phrases: dict[str, None] = {}
        for name in names:
            name = name.strip()
            if not name:
                continue
            phrases[name] = None
            compact = _compact(skeleton(name))
            if len(compact) >= 3 and not _CJK.search(compact):
                tokens[compact] = None
        self.tokens = tuple(tokens)
        self.names = tuple(phrases)
        self._mention = _mention_pattern(list(phrases) + [t for t in tokens if len(t) >= 4])
        self.classify = lru_cache(maxsize=8192)(self._classify)

    # --- public suffixes ---

    def registered(self, host: str) -> str:
        """The registrable domain (``acme.co.uk``); for unknown suffixes the last two labels."""
        host = host.lower().strip(".")
        parts = self._extract(host)
        if parts.domain and parts.suffix:
            return f"{parts.domain}.{parts.suffix}"
        labels = host.split(".")
        return ".".join(labels[-2:]) if len(labels) >= 2 else host

    def _name(self, registered: str) -> str:
        parts = self._extract(registered)
        if parts.domain and parts.suffix:
            return parts.domain
        return registered.split(".")[0]

    def is_brand(self, host: str) -> bool:
        return bool(host) and not _is_ip(host) and self.registered(host) in self.registered_domains

    # --- classification ---

    def _classify(self, host: str) -> DomainClass:
        host = normalize_host(host)
        if not host or ("." not in host and not host.endswith("localhost")):
            return DomainClass(DomainKind.NONE, host)
        if _is_ip(host):
            return DomainClass(DomainKind.NONE, host, "an IP address instead of a name")
        registered = self.registered(host)
        if registered in self.registered_domains:
            return DomainClass(DomainKind.BRAND, registered)
        name = self._name(registered)
        why = self._lookalike(name)
        if why:
            return DomainClass(DomainKind.LOOKALIKE, registered, f"{host} {why}")
        sub = host[: -len(registered)].strip(".") if host.endswith(registered) else ""
        if sub:
            hit = self._brand_in_labels(sub)
            if hit:
                return DomainClass(DomainKind.BRAND_IN_SUBDOMAIN, registered,
                                   f"{host} (the site is {registered}, not {hit})")
        return DomainClass(DomainKind.FOREIGN, registered)

    def _brand_domain_for(self, token: str) -> str:
        for domain in self._ordered:
            if skeleton(self._name(domain)) == token:
                return domain
        return self._ordered[0] if self._ordered else token

    def _lookalike(self, name: str) -> str | None:
        """Why the registrable name ``name`` imitates the brand, or None."""
        raw = name.lower()
        variants = _variants(raw) | _variants(re.sub(r"[-_]+", "", raw))
        idn = not raw.isascii()
        parts = [p for p in re.split(r"[-_]+", raw) if p]
        for token in self.tokens:
            target = self._brand_domain_for(token)
            for variant in variants:
                if variant == token:
                    kind = "uses look-alike characters" if (idn or raw != token) else \
                        "has the brand's name on another ending"
                    return f"{kind} (like {target})"
            for variant in variants:
                if _typo(variant, token):
                    return f"is a misspelling of {target}"
            for variant in variants:
                if len(token) >= 4 and token in variant and _combo(variant, token):
                    return f"adds words to {target}'s name"
            for part in parts:
                for variant in _variants(part):
                    if variant == token or _typo(variant, token):
                        return f"adds words to an imitation of {target}'s name"
        return None

    def _brand_in_labels(self, sub: str) -> str | None:
        labels = [label for label in sub.split(".") if label]
        joined = ".".join(labels)
        for domain in self.registered_domains:
            if joined == domain or joined.endswith("." + domain) or f".{domain}." in f".{joined}.":
                return domain
        for label in labels:
            for piece in [label, *re.split(r"[-_]+", label)]:
                for variant in _variants(piece):
                    for token in self.tokens:
                        if variant == token or (len(token) >= 5 and token in variant
                                                and _combo(variant, token)) or _typo(variant, token):
                            return self._brand_domain_for(token)
        return None

    # --- names in text ---

    def mention(self, text: str) -> str | None:
        """The brand name or domain mentioned in free text (look-alike letters too), or None."""
        if self._mention is None or not text:
            return None
        match = self._mention.search(skeleton(text[:300_000]))
        return match.group(0).strip() if match else None

    def in_display_name(self, name: str) -> str | None:
        """The brand as a sender's name shows it, also misspelt or run together ("Amazn
        Support", "Arnazon", "AmazonSellerSupport"), or None. Longer real words that merely
        contain the brand ("Amazonas") do not count."""
        found = self.mention(name)
        if found:
            return found
        words = [w for w in re.split(r"[\W_]+", skeleton(name)) if w]
        candidates = {*words, *(a + b for a, b in pairwise(words)),
                      _compact(skeleton(name))}
        for candidate in candidates:
            for variant in _variants(candidate):
                for token in self.tokens:
                    if len(token) >= 4 and (variant == token or _typo(variant, token) or (
                            token in variant and _combo(variant, token))):
                        return name.strip()
        return None

def _typo(variant: str, token: str) -> bool:
    """One edit away (two for long names): omission, insertion, swap, replacement."""
    if len(token) < 5 or variant == token or abs(len(variant) - len(token)) > 2:
        return False
    limit = 1 if len(token) < 9 else 2
    return OSA.distance(variant, token, score_cutoff=limit) <= limit


def _combo(variant: str, token: str) -> bool:
    """``token`` plus only delimiters, digits or phishing keywords (not a longer real word)."""
    for rest in variant.split(token):
        rest = rest.strip("-_0123456789")
        if rest and not _only_keywords(rest.replace("-", "").replace("_", "")):
            return False
    return True


@lru_cache(maxsize=4096)
def _only_keywords(text: str) -> bool:
    if not text:
        return True
    return any(text.startswith(word) and _only_keywords(text[len(word):]) for word in KEYWORDS)


_DOTS = str.maketrans({"\u3002": ".", "\uff0e": ".", "\uff61": "."})


def normalize_host(host: str) -> str:
    """Lowercased, NFKC, full-width dots as dots, punycode labels decoded."""
    host = unicodedata.normalize("NFKC", host).translate(_DOTS).strip().strip(".").lower()
    if "xn--" in host:
        labels = []
        for label in host.split("."):
            if label.startswith("xn--"):
                with contextlib.suppress(UnicodeError, ValueError):
                    label = label[4:].encode("ascii").decode("punycode")
            labels.append(label)
        host = ".".join(labels)
    return host


def _is_ip(host: str) -> bool:
    try:
        ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        return False
    return True


def _mention_pattern(phrases: list[str]) -> re.Pattern[str] | None:
    parts = []
    for phrase in sorted(set(phrases), key=len, reverse=True):
        words = skeleton(phrase).split()
        if not words:
            continue
        body = r"[\s\-_.·]*".join(re.escape(word) for word in words)
        if _CJK.search(phrase):
            parts.append(body)
        else:
            # a name ends where a letter of another word would go on; CJK characters are
            # word characters to ``re`` but Chinese and Japanese put no space before a Latin
            # name ("您的Amazon店铺"), so they are boundaries too
            parts.append(rf"(?<!{_LATIN_LETTER}){body}(?!{_LATIN_LETTER})")
    return re.compile("|".join(parts)) if parts else None
