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
