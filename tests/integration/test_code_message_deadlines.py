"""Issue 12.1: every message carries the deadline of the open requirement, SMS and voice
codes included (briefly), in the seller's language, formats and time zone."""

from __future__ import annotations

from contactguard.bootstrap import Container
from contactguard.domain.contacts import ContactKind
from contactguard.services.accounts import AccountInput, upsert_account
from contactguard.services.verification import check_code, start_verification
from contactguard.testing import FrozenClock, RecordingSender
from tests.conftest import deliver, latest_code
from tests.integration.conftest import LANDLINE_CN, MOBILE_GB


def _code_message(container: Container, sender: RecordingSender, external_id: str,
                  to: str) -> tuple[str, str]:
    """Start a phone verification; its id and the message that carried the code."""
    started = start_verification(container.deps, account=external_id,
                                 contact=ContactKind.EMERGENCY_PHONE)
    deliver(container)
    return started.id, sender.to(to)[-1].body


def test_sms_codes_say_by_when_and_stay_short(container: Container, clock: FrozenClock,
                                              sender: RecordingSender) -> None:
    upsert_account(container.deps, AccountInput(
        external_id="gb", name="Thames Tea", country="GB", locale="en-GB",
        time_zone="Europe/London", contacts={"emergency_phone": MOBILE_GB}))
    _, body = _code_message(container, sender, "gb", "+447911123456")
    text = body.split("\n")[0]  # the line before the one-time-code autofill line
    # Created 2026-03-02 09:00 UTC: due 30 days later, in British format
    assert " Verify by 1 April 2026. " in text, body
    assert len(body) <= 2 * 153, len(body)  # still two concatenated GSM-7 parts, as before

    clock.advance(days=31)  # overdue
    verification_id, body = _code_message(container, sender, "gb", "+447911123456")
    assert " It was due by 1 April 2026. " in body and "Verify by" not in body

    code = latest_code(container, sender, "+447911123456")
    assert check_code(container.deps, verification_id, code
                      ).status.value == "approved"
    clock.advance(minutes=5)  # past the resend cooldown
    _, body = _code_message(container, sender, "gb", "+447911123456")  # compliant: no deadline
    assert "Verify by" not in body and "due by" not in body


def test_voice_codes_say_by_when_in_chinese(container: Container,
                                            sender: RecordingSender) -> None:
    upsert_account(container.deps, AccountInput(
        external_id="cn", name="莲花茶馆", country="CN", locale="zh-Hans",
        contacts={"emergency_phone": LANDLINE_CN}))
    _, body = _code_message(container, sender, "cn", "+861065529988")
    assert "请于 2026年4月1日前完成紧急联系人验证。" in body, body
    assert "verify" not in body.lower()


def test_chinese_sms_codes_say_by_when(container: Container, sender: RecordingSender) -> None:
    upsert_account(container.deps, AccountInput(
        external_id="cn2", name="莲花茶馆", country="GB", locale="zh-Hans",
        time_zone="Asia/Shanghai", contacts={"emergency_phone": MOBILE_GB}))
    _, body = _code_message(container, sender, "cn2", "+447911123456")
    assert "请于 2026年4月1日前完成验证。" in body, body
