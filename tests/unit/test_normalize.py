"""Phone and email parsing (libphonenumber, email-validator; no DNS)."""

from __future__ import annotations

import pytest

from contactguard.adapters.crypto import FernetSecretBox, HmacCodeHasher
from contactguard.domain.contacts import LineType
from contactguard.errors import ValidationFailed
from contactguard.normalize import (
    default_time_zone,
    normalize_country,
    normalize_email,
    normalize_locale,
    parse_phone,
)


@pytest.mark.parametrize(("raw", "region", "e164", "line_type"), [
    ("010 6552 9988", "CN", "+861065529988", LineType.FIXED_LINE),
    ("138 0013 8000", "CN", "+8613800138000", LineType.MOBILE),
    ("+44 7911 123456", "US", "+447911123456", LineType.MOBILE),
    ("(415) 555-0123", "US", "+14155550123", LineType.FIXED_LINE_OR_MOBILE),
    ("+1 800 555 0100", "US", "+18005550100", LineType.TOLL_FREE),
])
def test_phones_become_e164_with_line_type(raw: str, region: str, e164: str,
                                           line_type: LineType) -> None:
    parsed = parse_phone(raw, default_region=region, field="phone")
    assert (parsed.e164, parsed.line_type) == (e164, line_type)


@pytest.mark.parametrize(("raw", "code"), [
    ("+1 900 555 0100", "premium_rate"), ("12", "invalid_phone"), ("hello", "invalid_phone"),
    ("", "required"),
])
def test_bad_phones_are_refused_with_a_reason(raw: str, code: str) -> None:
    with pytest.raises(ValidationFailed) as info:
        parse_phone(raw, default_region="US", field="contacts.emergency_phone")
    assert info.value.errors[0].field == "contacts.emergency_phone"
    assert info.value.errors[0].code == code


def test_emails_are_normalized_without_dns() -> None:
    assert normalize_email(" Jane@Example.COM ", field="e") == "Jane@example.com"
    with pytest.raises(ValidationFailed):
        normalize_email("jane@", field="e")


def test_country_locale_time_zone() -> None:
    assert normalize_country("cn") == "CN"
    assert normalize_locale("zh_cn") == "zh-Hans-CN"
    assert default_time_zone("US") == "America/New_York"
    assert default_time_zone("ZZ") == "UTC"
    with pytest.raises(ValidationFailed):
        normalize_country("XQ")


def test_code_hash_is_keyed_and_bound_to_the_challenge() -> None:
    hasher = HmacCodeHasher("k" * 40)
    stored = hasher.hash("vrf_a", "123456")
    assert hasher.matches("vrf_a", "123456", stored)
    assert not hasher.matches("vrf_b", "123456", stored)
    assert not HmacCodeHasher("j" * 40).matches("vrf_a", "123456", stored)


def test_secret_box_round_trip_and_tamper_detection() -> None:
    box = FernetSecretBox("k" * 40)
    token = box.seal(b'{"code": "123456"}')
    assert "123456" not in token
    assert box.open(token) == b'{"code": "123456"}'
    with pytest.raises(Exception, match="cannot be decrypted"):
        FernetSecretBox("j" * 40).open(token)
