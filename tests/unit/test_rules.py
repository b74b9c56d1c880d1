"""Pure rules: cooldowns, code format, masks, channels, locales."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from contactguard.domain.challenges import VerificationRules, normalize_code, seconds_until
from contactguard.domain.contacts import (
    Channel,
    ContactKind,
    LineType,
    allowed_channels,
    mask_email,
    mask_phone,
)
from contactguard.domain.delivery import RetryPolicy
from contactguard.domain.locales import message_locale

T0 = datetime(2026, 1, 1, tzinfo=UTC)


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


def test_cooldown_grows_30_60_120() -> None:
    rules = VerificationRules()
    assert rules.next_send_at([], T0) == T0
    assert rules.next_send_at([at(0)], at(1)) == at(30)
    assert rules.next_send_at([at(0), at(30)], at(31)) == at(90)
    assert rules.next_send_at([at(0), at(30), at(90)], at(91)) == at(210)
    assert rules.next_send_at([at(0), at(30), at(90), at(210)], at(211)) == at(330)


def test_hourly_cap_waits_for_the_oldest_send_to_leave_the_window() -> None:
    rules = VerificationRules()
    sends = [at(0), at(30), at(90), at(210), at(330)]
    assert rules.next_send_at(sends, at(500)) == at(3600)
    assert rules.next_send_at(sends, at(3601)) <= at(3601)  # oldest left the window


def test_codes_are_six_digits_as_people_type_them() -> None:
    """Issue 12: "79 69 52" and full-width digits from a Chinese input method are codes."""
    assert normalize_code(" 123 456 ") == "123456"
    assert normalize_code("123-456") == "123456"
    assert normalize_code("79 69 52") == "796952"
    assert normalize_code("\uff11\uff12\uff13\uff14\uff15\uff16") == "123456"  # full width
    assert normalize_code("\uff11\uff12\uff13\u3000\uff14\uff15\uff16") == "123456"  # CJK space
    assert normalize_code("\u0661\u0662\u0663\u0664\u0665\u0666") == "123456"  # Arabic-Indic
    assert normalize_code("123\u00a0456") == "123456"  # no-break space from a copy
    for bad in ("12345", "1234567", "12345a", "\u4e00\u4e8c\u4e09456", "", "1" * 70, "12 34 5x"):
        assert normalize_code(bad) is None


def test_seconds_until_rounds_up() -> None:
    assert seconds_until(at(10.2), at(0)) == 11
    assert seconds_until(at(0), at(5)) == 1


@pytest.mark.parametrize(("line_type", "channels"), [
    (LineType.MOBILE, (Channel.SMS, Channel.VOICE)),
    (LineType.FIXED_LINE, (Channel.VOICE,)),
    (LineType.FIXED_LINE_OR_MOBILE, (Channel.SMS, Channel.VOICE)),
    (LineType.TOLL_FREE, (Channel.VOICE,)),
    (LineType.PREMIUM_RATE, ()),
])
def test_channels_by_line_type(line_type: LineType, channels: tuple[Channel, ...]) -> None:
    assert allowed_channels(ContactKind.EMERGENCY_PHONE, line_type) == channels


def test_email_takes_only_email() -> None:
    assert allowed_channels(ContactKind.EMERGENCY_EMAIL, None) == (Channel.EMAIL,)


def test_masks_show_enough_to_recognise() -> None:
    assert mask_phone("+14155554567") == "+1 ••• ••• 4567"
    assert mask_phone("+861065529988") == "+86 ••• ••• 9988"
    assert mask_email("jane@example.com") == "j•••@example.com"


@pytest.mark.parametrize(("locale", "expected"), [
    ("zh-Hans", "zh-Hans"), ("zh-Hans-CN", "zh-Hans"), ("zh_CN", "zh-Hans"), ("zh", "zh-Hans"),
    ("zh-Hant-TW", "en"), ("en-GB", "en"), ("de", "en"),
])
def test_message_locale(locale: str, expected: str) -> None:
    assert message_locale(locale) == expected


def test_retry_delay_is_capped_exponential_with_jitter() -> None:
    import random

    policy = RetryPolicy(base=timedelta(seconds=5), cap=timedelta(seconds=60))
    rng = random.Random(1)
    delays = [policy.delay(n, rng).total_seconds() for n in range(1, 8)]
    assert 2.5 <= delays[0] <= 5
    assert all(d <= 60 for d in delays)
    assert delays[5] >= 30  # reached the cap (times jitter >= 0.5)
