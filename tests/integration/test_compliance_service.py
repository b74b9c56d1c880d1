"""Compliance and reminder snoozes through the service layer, on both backends."""

from __future__ import annotations

import pytest

from contactguard.bootstrap import Container
from contactguard.domain.compliance import ComplianceState
from contactguard.domain.contacts import ContactKind
from contactguard.errors import AccountNotFound, Conflict
from contactguard.services.accounts import AccountInput, upsert_account
from contactguard.services.compliance import get_compliance, snooze_reminder
from contactguard.services.verification import check_code, start_verification
from contactguard.testing import FrozenClock, RecordingSender
from tests.conftest import latest_code


def test_verifying_both_contacts_makes_an_account_compliant(
        container: Container, sender: RecordingSender, clock: FrozenClock) -> None:
    upsert_account(container.deps, AccountInput(
        external_id="c1", name="Shop", country="GB",
        contacts={"emergency_email": "c1@example.com", "emergency_phone": "+44 7911 123456"}))
    before = get_compliance(container.deps, "c1").compliance
    assert before.state is ComplianceState.ACTION_REQUIRED
    for kind, to in ((ContactKind.EMERGENCY_EMAIL, "c1@example.com"),
                     (ContactKind.EMERGENCY_PHONE, "+447911123456")):
        challenge = start_verification(container.deps, account="c1", contact=kind)
        check_code(container.deps, challenge.id, latest_code(container, sender, to))
    after = get_compliance(container.deps, "c1").compliance
    assert after.state is ComplianceState.COMPLIANT and after.requirements_met
    clock.advance(days=340)
    assert get_compliance(container.deps, "c1").compliance.state is ComplianceState.DUE_SOON
    clock.advance(days=30)
    assert get_compliance(container.deps, "c1").compliance.state is ComplianceState.OVERDUE


def test_a_reminder_can_be_put_off_three_times(container: Container, clock: FrozenClock) -> None:
    upsert_account(container.deps, AccountInput(external_id="c2", name="Shop", country="DE"))
    for left in (2, 1, 0):
        requirement = snooze_reminder(container.deps, "c2", ContactKind.EMERGENCY_PHONE)
        assert requirement.snoozes_left == left
        assert requirement.snoozed_until is not None
        assert requirement.state is ComplianceState.ACTION_REQUIRED  # state does not change
        clock.advance(days=3)
    with pytest.raises(Conflict, match="3 times"):
        snooze_reminder(container.deps, "c2", ContactKind.EMERGENCY_PHONE)
    with pytest.raises(AccountNotFound):
        get_compliance(container.deps, "nobody")
