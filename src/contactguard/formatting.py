"""Dates and times as a seller reads them: Babel's formats for the seller's locale, in the
seller's time zone, with the zone named. Pages (``Translator``) and messages (the renderer)
both use these, so an email and the Seller Center show a moment the same way.
"""

from __future__ import annotations

from datetime import UTC, datetime
from functools import cache
from zoneinfo import ZoneInfo

from babel import Locale, UnknownLocaleError
from babel.dates import (
    format_date,
    format_time,
    get_datetime_format,
    get_timezone_name,
)

#: The Babel locale for a text language when the account's own locale does not fit it.
_DEFAULT_FORMATS = {"en": "en_US", "zh-Hans": "zh_Hans_CN"}


@cache
def format_locale(text_language: str, account_locale: str | None = None) -> str:
    """The Babel locale for dates: the account's (``en-GB`` -> ``en_GB``) when it is written in
    ``text_language``, else that language's default (``en`` -> ``en_US``)."""
    default = _DEFAULT_FORMATS.get(text_language, "en_US")
    if not account_locale:
        return default
    try:
        parsed = Locale.parse(account_locale.replace("-", "_"))
    except (ValueError, TypeError, UnknownLocaleError):
        return default
    wanted = Locale.parse(default)
    if parsed.language != wanted.language or (parsed.script or wanted.script) != wanted.script:
        return default
    if parsed.territory is None:
        return default
    return str(parsed)


def zone(name: str | None) -> ZoneInfo:
    """The IANA zone ``name``, or UTC when it is missing or unknown."""
    try:
        return ZoneInfo(name or "UTC")
    except (KeyError, ValueError):
        return ZoneInfo("UTC")


def format_moment(moment: datetime, *, locale: str, time_zone: str | None) -> str:
    """Date, time and the zone's name: ``29 November 2026, 13:27 Greenwich Mean Time``,
    ``November 29, 2026, 5:27 AM Pacific Standard Time``, ``2026年11月29日 21:27 中国标准时间``."""
    local = _aware(moment).astimezone(zone(time_zone))
    time = f"{format_time(local, 'short', locale=locale)} {get_timezone_name(local, 'long', locale=locale)}"
    pattern = str(get_datetime_format("medium", locale=locale))
    return pattern.replace("{1}", format_date(local, "long", locale=locale)).replace("{0}", time)


def format_day(moment: datetime, *, locale: str, time_zone: str | None) -> str:
    """The date in the seller's zone: ``29 November 2026`` / ``November 29, 2026`` / ``2026年11月29日``."""
    return format_date(_aware(moment).astimezone(zone(time_zone)), "long", locale=locale)


def parse_moment(value: object) -> datetime | None:
    """A moment stored in a message's params (ISO 8601), or None."""
    if isinstance(value, datetime):
        return _aware(value)
    if not isinstance(value, str) or not value:
        return None
    try:
        return _aware(datetime.fromisoformat(value.replace("Z", "+00:00")))
    except ValueError:
        return None


def iso(moment: datetime | None) -> str | None:
    """How params store a moment: ISO 8601 in UTC."""
    return _aware(moment).astimezone(UTC).isoformat() if moment is not None else None


def _aware(moment: datetime) -> datetime:
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)
