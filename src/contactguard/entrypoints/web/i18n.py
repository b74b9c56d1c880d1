"""Languages of the Seller Center: Babel catalogs, compiled in memory when first needed.

Catalogs live in ``contactguard/locale/<lang>/LC_MESSAGES/web.po``; they are compiled with
Babel when the web app starts (milliseconds), so a fresh clone needs no build step and the
``.po`` file is the single source of truth. English is the source language.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from datetime import datetime as DateTime
from functools import cache
from pathlib import Path
from typing import Any

from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from babel.numbers import format_decimal
from babel.support import NullTranslations, Translations
from markupsafe import Markup, escape

from contactguard.domain.locales import (
    DEFAULT_LOCALE,
    SUPPORTED_LOCALES,
    from_accept_language,
    message_locale,
)
from contactguard.formatting import format_day, format_locale, format_moment

LOCALE_DIR = Path(__file__).resolve().parents[2] / "locale"
DOMAIN = "web"
LANGUAGE_NAMES = {"en": "English", "zh-Hans": "简体中文"}
_BABEL_LOCALE = {"en": "en", "zh-Hans": "zh_Hans_CN"}


@cache
def translations(lang: str, domain: str = DOMAIN) -> NullTranslations:
    """The compiled catalog ``domain`` for ``lang`` (English: the identity)."""
    path = LOCALE_DIR / lang.replace("-", "_") / "LC_MESSAGES" / f"{domain}.po"
    if lang == DEFAULT_LOCALE or not path.exists():
        return NullTranslations()
    with path.open("rb") as handle:
        catalog = read_po(handle, locale=_BABEL_LOCALE[lang].split("_CN")[0])
    buffer = io.BytesIO()
    write_mo(buffer, catalog)
    buffer.seek(0)
    return Translations(fp=buffer, domain=domain)


def pick_language(chosen: str | None, account_locale: str | None,
                  accept_language: str | None = None) -> str:
    """The session's choice if supported, else the account's locale, else the browser's
    ``Accept-Language`` (signed-out pages), else English."""
    if chosen in SUPPORTED_LOCALES:
        return str(chosen)
    if account_locale:
        return message_locale(account_locale)
    return from_accept_language(accept_language) or DEFAULT_LOCALE


@dataclass(frozen=True, slots=True)
class Translator:
    """What templates call: ``_``, ``ngettext`` and locale-aware date formatting.

    Texts are in ``lang``; dates and numbers follow ``account_locale`` when it is written in
    that language (an ``en-GB`` seller reads ``29 November 2026, 13:27``), in ``time_zone``.
    """

    lang: str
    time_zone: str = "UTC"
    #: The message catalog: ``web`` (Seller Center), ``console`` (operator console), ...
    domain: str = DOMAIN
    account_locale: str | None = None

    def gettext(self, message: str, **values: Any) -> str:
        text = translations(self.lang, self.domain).gettext(message)
        return _fill(text, values)

    def ngettext(self, singular: str, plural: str, n: int, **values: Any) -> str:
        text = translations(self.lang, self.domain).ngettext(singular, plural, n)
        return _fill(text, {"n": n, **values})

    def datetime(self, moment: DateTime | None) -> str:
        """Date, time and the zone's name, in the seller's zone and locale formats."""
        if moment is None:
            return ""
        return format_moment(moment, locale=self.babel_locale, time_zone=self.time_zone)

    def date(self, moment: DateTime | None) -> str:
        """The date in the seller's zone and locale formats."""
        if moment is None:
            return ""
        return format_day(moment, locale=self.babel_locale, time_zone=self.time_zone)

    def number(self, value: float | None) -> str:
        return "" if value is None else format_decimal(value, locale=self.babel_locale)

    @property
    def babel_locale(self) -> str:
        return format_locale(self.lang, self.account_locale)

    @property
    def html_lang(self) -> str:
        return self.lang



def _fill(text: str, values: dict[str, Any]) -> str:
    """``%(name)s`` placeholders, with the values HTML-escaped when the text is markup."""
    if not values:
        return text
    if isinstance(text, Markup):
        return text % {k: escape(v) for k, v in values.items()}
    return text % values
