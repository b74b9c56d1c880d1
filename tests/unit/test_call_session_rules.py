"""Verify-the-caller rules (pure): codes, ids, first names, expiry, what the seller is shown."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

from contactguard.domain.call_sessions import (
    LIFETIME,
    CallSession,
    CallStatus,
    first_name,
    is_call_id,
    new_code,
    new_id,
)

NOW = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


def _session(status: CallStatus = CallStatus.ACTIVE, answered: datetime | None = None
             ) -> CallSession:
    return CallSession(id=new_id(), account_id=1, account="s1", agent_name="Mei Lin",
                       code="0042", status=status, created_at=NOW, expires_at=NOW + LIFETIME,
                       answered_at=answered)


def test_codes_are_four_digits_and_ids_are_recognised() -> None:
    codes = {new_code() for _ in range(2000)}
    assert all(re.fullmatch(r"\d{4}", code) for code in codes)
    assert len(codes) > 1500 and any(code.startswith("0") for code in codes)
    assert is_call_id(new_id()) and not is_call_id("call_") and not is_call_id("vrf_" + "a" * 20)
    assert not is_call_id("call_" + "²" * 20) and not is_call_id("call_" + "A" * 20)


def test_the_seller_is_told_the_first_name() -> None:
    assert first_name("Mei Lin") == "Mei" and first_name("王小明") == "王小明"
    assert _session().agent_first_name == "Mei"


def test_expiry_and_what_the_seller_sees() -> None:
    open_session = _session()
    assert open_session.status_at(NOW + LIFETIME - timedelta(seconds=1)) is CallStatus.ACTIVE
    assert open_session.status_at(NOW + LIFETIME) is CallStatus.EXPIRED
    assert open_session.shown_to_seller(NOW) and not open_session.shown_to_seller(NOW + LIFETIME)
    answered = _session(CallStatus.CONFIRMED, answered=NOW + timedelta(minutes=1))
    assert answered.status_at(NOW + timedelta(hours=1)) is CallStatus.CONFIRMED
    assert answered.shown_to_seller(NOW + timedelta(minutes=2, seconds=59))
    assert not answered.shown_to_seller(NOW + timedelta(minutes=3))
    assert not _session(CallStatus.REPLACED).shown_to_seller(NOW)
