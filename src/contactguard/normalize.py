"""Parse and normalize contact values with libphonenumber and email-validator (no I/O).

Raises ValidationFailed with a field-level error naming ``field``.
"""

from __future__ import annotations

import unicodedata
import zoneinfo
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from typing import NoReturn

import idna
import phonenumbers
from babel import Locale, UnknownLocaleError
from email_validator import EmailNotValidError, validate_email
from phonenumbers import PhoneMetadata, PhoneNumberType
from phonenumbers.phonenumberutil import _number_type_helper

from contactguard.domain.contacts import PHONE_CHANNELS, REFUSED_LINE_TYPES, LineType
from contactguard.domain.text import (
    CONTROL_CHARACTERS,
    control_characters_message,
    describe_character,
    unsafe_character,
)
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
    # is_valid_number() and number_type() each look the region up again (the costliest step
    # of an import row): look it up once and ask the same questions with it
    number_region = phonenumbers.region_code_for_number(number)
    if not phonenumbers.is_valid_number_for_region(number, number_region):  # type: ignore[arg-type]
        region = number_region or default_region
        _fail(field, f"'{_preview(text)}' is not a valid number for region {region}", "invalid_phone",
              value=_preview(text), region=region)
    line_type = _LINE_TYPES.get(_number_type(number, number_region), LineType.UNKNOWN)
    if line_type in REFUSED_LINE_TYPES:
        _fail(field, REFUSED_LINE_TYPES[line_type], line_type.value)
    if line_type is LineType.UNKNOWN and not allow_unknown:
        _fail(field, "the type of this number (mobile or landline) cannot be told; "
              "use another number", "unknown_line_type")
    if line_type not in PHONE_CHANNELS and line_type is not LineType.UNKNOWN:
        _fail(field, f"{line_type.value.replace('_', ' ')} numbers cannot receive codes", line_type.value)
    e164 = phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)
    return ParsedPhone(e164=e164, line_type=line_type, region=number_region)


def _number_type(number: phonenumbers.PhoneNumber, region: str | None) -> int:
    """``phonenumbers.number_type(number)`` with the number's region already known."""
    metadata = PhoneMetadata.metadata_for_region_or_calling_code(
        number.country_code, region)  # type: ignore[arg-type]
    if metadata is None:
        return int(phonenumbers.PhoneNumberType.UNKNOWN)
    return int(_number_type_helper(phonenumbers.national_significant_number(number), metadata))


def normalize_email(raw: str, *, field: str, check_deliverability: bool = False) -> str:
    """Normalize an address (lower-case domain, IDNA, Unicode NFC); never looks up DNS unless asked.

    Internationalized addresses are accepted: a domain in another script is kept in Unicode
    (sent in its ASCII form), a non-ASCII local part is kept too (it needs a mail server
    with SMTPUTF8). A look-alike domain (see :func:`domain_warnings`) is stored in its ASCII
    (punycode) form, so it never shows as the domain it imitates.
    """
    text = raw.strip()
    if not text or len(text) > MAX_RAW_LENGTH:
        _fail(field, "enter an email address, e.g. name@example.com", "required")
    try:
        result = validate_email(text, check_deliverability=check_deliverability)
    except EmailNotValidError as exc:
        _fail(field, str(exc), "invalid_email", value=_preview(text), reason=_email_reason(str(exc)))
    if domain_warnings(result.domain):
        return f"{result.local_part}@{result.ascii_domain}"
    return str(result.normalized)


#: A domain label mixes writing systems (e.g. Latin with one Cyrillic letter).
MIXED_SCRIPTS = "mixed_scripts"
#: A non-ASCII label made only of letters that look like ASCII ones (``ape`` in Cyrillic).
IMITATES_ASCII = "imitates_ascii"
# Script mixes that are normal in one language (UTS #39 "highly restrictive").
_USUAL_MIXES = (frozenset({"LATIN", "HAN", "HIRAGANA", "KATAKANA"}),
                frozenset({"LATIN", "HAN", "BOPOMOFO"}), frozenset({"LATIN", "HAN", "HANGUL"}))
_NOT_A_SCRIPT = frozenset({"COMMON", "INHERITED"})


@lru_cache(maxsize=4096)
def domain_warnings(domain: str) -> tuple[str, ...]:
    """Why an email domain may imitate another one: ``mixed_scripts``, ``imitates_ascii``.

    Plain ASCII domains get none (look-alikes such as ``paypa1.com`` are the message
    checker's business); each label of an internationalized one (Unicode or ``xn--``) is
    checked with the Unicode confusables data (``confusable-homoglyphs``).
    """
    if domain.isascii() and "xn--" not in domain.lower():
        return ()
    from confusable_homoglyphs import categories  # loads its data on first use

    found: set[str] = set()
    for label in (_unicode_label(part) for part in domain.split(".")):
        if label.isascii():
            continue
        scripts = {categories.alias(ch) for ch in label} - _NOT_A_SCRIPT
        if len(scripts) > 1 and not any(scripts <= usual for usual in _USUAL_MIXES):
            found.add(MIXED_SCRIPTS)
        if _imitates_ascii(label):
            found.add(IMITATES_ASCII)
    return tuple(sorted(found))


def email_warnings(address: str) -> tuple[str, ...]:
    """:func:`domain_warnings` of an address's domain."""
    return domain_warnings(address.rpartition("@")[2])


def _unicode_label(label: str) -> str:
    if not label.lower().startswith("xn--"):
        return label
    try:
        return str(idna.decode(label))
    except (idna.IDNAError, UnicodeError):
        try:
            return label[4:].encode("ascii").decode("punycode")
        except UnicodeError:
            return label


def _imitates_ascii(label: str) -> bool:
    """True when every character of ``label`` is ASCII or confusable with an ASCII letter/digit."""
    from confusable_homoglyphs.confusables import confusables_data

    for ch in unicodedata.normalize("NFD", label):
        if ch.isascii():
            continue
        if not any(h["c"].isascii() and h["c"].isalnum() for h in confusables_data.get(ch, ())):
            return False
    return True

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


def text_error(value: str, *, field: str) -> FieldError | None:
    """The field error of a text that may not be shown in messages or pages, else None.

    Every free-text field that reaches a message, a page or the log (account name, webhook
    description, security phrase, API key name, ...) goes through this check: control
    characters (CR/LF, NUL...), bidi overrides/isolates/embeddings and other invisible format
    characters are refused with the code ``control_characters``.
    """
    found = unsafe_character(value)
    if found is None:
        return None
    return FieldError(field, control_characters_message(found), CONTROL_CHARACTERS,
                      params={"character": describe_character(found)})


def check_text(value: str, *, field: str) -> str:
    """``value`` if :func:`text_error` finds nothing. Raises ValidationFailed."""
    error = text_error(value, field=field)
    if error is not None:
        raise ValidationFailed(f"{field}: {error.message}", errors=[error])
    return value


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


@lru_cache(maxsize=4096)
def phone_facts(e164: str) -> tuple[str, str, str]:
    """Country calling code, region ("001" for non-geographic ranges, "ZZ" if unknown) and
    line type (LineType value) of a stored E.164 number (the SMS-pumping guard's inputs)."""
    try:
        number = phonenumbers.parse(e164, None)
    except phonenumbers.NumberParseException:
        return "", "ZZ", LineType.UNKNOWN.value
    region = phonenumbers.region_code_for_number(number) or "ZZ"
    line_type = _LINE_TYPES.get(phonenumbers.number_type(number), LineType.UNKNOWN)
    return str(number.country_code), region, line_type.value
