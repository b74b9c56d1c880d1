"""Which of our languages to use for a given account locale."""

from __future__ import annotations

SUPPORTED_LOCALES = ("en", "zh-Hans")
DEFAULT_LOCALE = "en"

_TRADITIONAL = ("hant", "tw", "hk", "mo")


def message_locale(locale: str) -> str:
    """Best supported locale for an account locale (``zh-CN`` -> ``zh-Hans``, ``de`` -> ``en``)."""
    parts = locale.replace("_", "-").lower().split("-")
    if parts[0] == "zh" and not any(p in _TRADITIONAL for p in parts[1:]):
        return "zh-Hans"
    return DEFAULT_LOCALE


def from_accept_language(header: str | None) -> str | None:
    """The supported locale a browser asks for first (``zh-CN,zh;q=0.9,en;q=0.8`` ->
    ``zh-Hans``), or None when it asks for none of ours (or sends no header)."""
    if not header:
        return None
    wanted: list[tuple[float, int, str]] = []
    for index, part in enumerate(header[:500].split(",")):
        tag, _, params = part.strip().partition(";")
        quality = 1.0
        for param in params.split(";"):
            name, _, value = param.strip().partition("=")
            if name.strip().lower() == "q":
                try:
                    quality = float(value)
                except ValueError:
                    quality = 0.0
        if tag and quality > 0:
            wanted.append((-quality, index, tag.strip()))
    for _, _, tag in sorted(wanted):
        language = tag.replace("_", "-").split("-")[0].lower()
        if language == "zh":
            if message_locale(tag) == "zh-Hans":
                return "zh-Hans"
            continue  # Traditional Chinese: look further down the list
        if language == "en":
            return DEFAULT_LOCALE
    return None
