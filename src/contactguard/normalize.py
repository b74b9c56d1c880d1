"""Parse and normalize contact values with libphonenumber and email-validator (no I/O).

Raises ValidationFailed with a field-level error naming ``field``.
"""

from __future__ import annotations

import zoneinfo
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from typing import NoReturn

import phonenumbers
from babel import Locale, UnknownLocaleError
from email_validator import EmailNotValidError, validate_email
from phonenumbers import PhoneNumberType

from contactguard.domain.contacts import PHONE_CHANNELS, REFUSED_LINE_TYPES, LineType
from contactguard.errors import FieldError, ValidationFailed

_LINE_TYPES = {
    PhoneNumberType.MOBILE: LineType.MOBILE,
    PhoneNumberType.FIXED_LINE: LineType.FIXED_LINE,
    PhoneNumberType.FIXED_LINE_OR_MOBILE: LineType.FIXED_LINE_OR_MOBILE,
    PhoneNumberType.VOIP: LineType.VOIP,
    PhoneNumberType.TOLL_FREE: LineType.TOLL_FREE,
    PhoneNumberType.PREMIUM_RATE: LineType.PREMIUM_RATE,
    PhoneNumberType.SHARED_COST: LineType.SHARED_COST,
    PhoneNumberType.PERSONAL_NUMBER: LineType.PERSONAL_NUMBER,
    PhoneNumberType.PAGER: LineType.PAGER,
    PhoneNumberType.UAN: LineType.UAN,
    PhoneNumberType.VOICEMAIL: LineType.VOICEMAIL,
    PhoneNumberType.UNKNOWN: LineType.UNKNOWN,
}

MAX_RAW_LENGTH = 254


@dataclass(frozen=True, slots=True)
class ParsedPhone:
    e164: str
    line_type: LineType
    region: str | None


def parse_phone(
    raw: str, *, default_region: str, field: str, allow_unknown: bool = False
) -> ParsedPhone:
    """Parse ``raw`` (national or international form) into E.164 with its line type."""
    text = raw.strip()
    if not text or len(text) > MAX_RAW_LENGTH:
        _fail(field, "enter a phone number, e.g. +14155550123", "required")
    try:
        number = phonenumbers.parse(text, default_region.upper())
    except phonenumbers.NumberParseException:
        _fail(field, f"'{_preview(text)}' is not a phone number", "invalid_phone",
              value=_preview(text))
    if not phonenumbers.is_valid_number(number):
        region = phonenumbers.region_code_for_number(number) or default_region
        _fail(field, f"'{_preview(text)}' is not a valid number for region {region}", "invalid_phone",
              value=_preview(text), region=region)
    line_type = _LINE_TYPES.get(phonenumbers.number_type(number), LineType.UNKNOWN)
    if line_type in REFUSED_LINE_TYPES:
        _fail(field, REFUSED_LINE_TYPES[line_type], line_type.value)
    if line_type is LineType.UNKNOWN and not allow_unknown:
        _fail(field, "the type of this number (mobile or landline) cannot be told; "
              "use another number", "unknown_line_type")
    if line_type not in PHONE_CHANNELS and line_type is not LineType.UNKNOWN:
        _fail(field, f"{line_type.value.replace('_', ' ')} numbers cannot receive codes", line_type.value)
    e164 = phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)
    return ParsedPhone(e164=e164, line_type=line_type,
                       region=phonenumbers.region_code_for_number(number))


def normalize_email(raw: str, *, field: str, check_deliverability: bool = False) -> str:
    """Normalize an address (lower-case domain, IDNA, Unicode NFC); never looks up DNS unless asked."""
    text = raw.strip()
    if not text or len(text) > MAX_RAW_LENGTH:
        _fail(field, "enter an email address, e.g. name@example.com", "required")
    try:
        result = validate_email(text, check_deliverability=check_deliverability)
    except EmailNotValidError as exc:
        _fail(field, str(exc), "invalid_email", value=_preview(text), reason=_email_reason(str(exc)))
    return str(result.normalized)


#: email-validator's message -> a short reason pages can word in any language.
_EMAIL_REASONS = (
    ("must have an @-sign", "no_at_sign"),
    ("something before the @-sign", "missing_local_part"),
    ("something after the @-sign", "missing_domain"),
    ("characters before the @-sign", "local_part_characters"),
    ("after the @-sign contains invalid characters", "domain_characters"),
    ("should have a period", "domain_without_period"),
    ("special-use or reserved", "reserved_domain"),
    ("too long", "too_long"),
)


def _email_reason(message: str) -> str:
    return next((reason for text, reason in _EMAIL_REASONS if text in message), "syntax")


def normalize_recipient(raw: str) -> str:
    """Best-effort normalization of a recipient filter: E.164 digits or a lower-cased email."""
    text = raw.strip()
    if "@" in text:
        local, _, domain = text.rpartition("@")
        return f"{local}@{domain.lower()}"
    return "+" + "".join(ch for ch in text if ch.isdigit()) if text else text


def _preview(text: str) -> str:
    return text if len(text) <= 40 else text[:37] + "..."


def _fail(field: str, message: str, code: str, **params: str) -> NoReturn:
    raise ValidationFailed(message, errors=[FieldError(field=field, message=message, code=code,
                                                       params=params or None)])


@lru_cache(maxsize=1)
def _countries() -> frozenset[str]:
    codes = (str(code) for code in Locale("en").territories)
    return frozenset(code for code in codes if len(code) == 2 and code.isalpha() and code != "ZZ")


@lru_cache(maxsize=1)
def _time_zones() -> frozenset[str]:
    return frozenset(zoneinfo.available_timezones())


def normalize_country(raw: str, *, field: str = "country") -> str:
    """ISO 3166-1 alpha-2 code, upper-cased (``us`` -> ``US``)."""
    code = raw.strip().upper()
    if code not in _countries():
        _fail(field, f"'{_preview(raw)}' is not an ISO 3166-1 alpha-2 country code, e.g. US or CN",
              "invalid_country")
    return code


def normalize_locale(raw: str, *, field: str = "locale") -> str:
    """A BCP 47 tag that Babel knows, in canonical form (``zh_cn`` -> ``zh-Hans-CN``)."""
    text = raw.strip().replace("-", "_")
    try:
        locale = Locale.parse(text)
    except (ValueError, TypeError, UnknownLocaleError):
        _fail(field, f"'{_preview(raw)}' is not a known locale, e.g. en, en-GB or zh-Hans",
              "invalid_locale")
    return "-".join(p for p in (locale.language, locale.script, locale.territory) if p)


def normalize_time_zone(raw: str, *, field: str = "time_zone") -> str:
    """An IANA time zone name such as ``Asia/Shanghai``."""
    name = raw.strip()
    if name not in _time_zones():
        _fail(field, f"'{_preview(raw)}' is not an IANA time zone, e.g. Europe/Berlin",
              "invalid_time_zone")
    return name


def default_time_zone(country: str) -> str:
    """The main time zone of a country per the tz database's zone.tab, or UTC."""
    return _main_zones().get(country, "UTC")


@lru_cache(maxsize=1)
def _main_zones() -> dict[str, str]:
    """Country -> its zone marked "(most areas)" in zone.tab, else the first one listed."""
    text = resources.files("tzdata").joinpath("zoneinfo", "zone.tab").read_text("utf-8")
    main: dict[str, str] = {}
    for line in text.splitlines():
        if line.startswith("#") or not line.strip():
            continue
        fields = line.split("\t")
        country, zone = fields[0], fields[2]
        comment = fields[3] if len(fields) > 3 else ""
        if country not in main or ("most" in comment and "most" not in main[country + "#"]):
            main[country] = zone
            main[country + "#"] = comment
    return {k: v for k, v in main.items() if not k.endswith("#")}
