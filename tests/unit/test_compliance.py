"""Compliance rules: states, deadlines, reasons, snoozes."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from contactguard.domain.compliance import (
    ComplianceState,
    Policy,
    Snooze,
    can_snooze,
    evaluate,
    next_change,
)
from contactguard.domain.contacts import Channel, Contact, ContactKind

NOW = datetime(2026, 6, 1, tzinfo=UTC)
EMAIL, PHONE = ContactKind.EMERGENCY_EMAIL, ContactKind.EMERGENCY_PHONE


def contact(kind: ContactKind, verified_days_ago: int | None, *, changed: bool = False) -> Contact:
    verified_at = NOW - timedelta(days=verified_days_ago) if verified_days_ago is not None else None
    value = "a@example.com"
    return Contact(id=1, account_id=1, kind=kind, value="new@example.com" if changed else value,
                   line_type=None, verified_value=value if verified_at else None,
                   verified_line_type=None, verified_at=verified_at,
                   verified_channel=Channel.EMAIL if verified_at else None,
                   created_at=NOW, updated_at=NOW)


def test_missing_and_unverified_contacts_require_action() -> None:
    result = evaluate(Policy(), {EMAIL: contact(EMAIL, None)}, NOW)
    assert result.state is ComplianceState.ACTION_REQUIRED
    assert result.reasons == ["emergency email is not verified", "no emergency phone on file"]
    assert not result.requirements_met


def test_verified_contacts_go_due_soon_then_overdue() -> None:
    policy = Policy()
    fresh = evaluate(policy, {EMAIL: contact(EMAIL, 10), PHONE: contact(PHONE, 10)}, NOW)
    assert fresh.state is ComplianceState.COMPLIANT and fresh.requirements_met
    assert fresh.deadline == NOW + timedelta(days=355)
    soon = evaluate(policy, {EMAIL: contact(EMAIL, 340), PHONE: contact(PHONE, 10)}, NOW)
    assert soon.state is ComplianceState.DUE_SOON and soon.requirements_met
    late = evaluate(policy, {EMAIL: contact(EMAIL, 366), PHONE: contact(PHONE, 10)}, NOW)
    assert late.state is ComplianceState.OVERDUE and not late.requirements_met
    assert "expired" in late.reasons[0]


def test_a_changed_contact_keeps_its_old_verification_in_force() -> None:
    result = evaluate(Policy(required=(EMAIL,)), {EMAIL: contact(EMAIL, 5, changed=True)}, NOW)
    assert result.state is ComplianceState.COMPLIANT
    assert "awaits verification" in result.requirements[0].reason


def test_snoozes_hide_the_reminder_but_not_the_deadline() -> None:
    policy = Policy(required=(EMAIL,))
    snoozed = evaluate(policy, {EMAIL: contact(EMAIL, 366)}, NOW,
                       {EMAIL: Snooze(until=NOW + timedelta(days=3), count=3)})
    requirement = snoozed.requirements[0]
    assert requirement.is_snoozed(NOW) and requirement.deadline is not None
    assert requirement.snoozes_left == 0 and not can_snooze(requirement)


def test_a_never_verified_contact_is_due_after_the_grace_period() -> None:
    created = NOW - timedelta(days=10)
    policy = Policy(required=(EMAIL, PHONE))
    result = evaluate(policy, {EMAIL: contact(EMAIL, None)}, NOW, since=created)
    assert [r.state for r in result.requirements] == [ComplianceState.ACTION_REQUIRED] * 2
    assert [r.deadline for r in result.requirements] == [created + timedelta(days=30)] * 2
    assert result.deadline == created + timedelta(days=30)
    late = evaluate(policy, {EMAIL: contact(EMAIL, None)}, created + timedelta(days=30),
                    since=created)
    assert late.state is ComplianceState.OVERDUE
    due = created + timedelta(days=30)
    assert late.reasons[0] == f"emergency email is not verified; it was due on {due:%Y-%m-%d}"
    assert not any(can_snooze(r) for r in late.requirements)  # overdue: no "remind me later"
    assert next_change(policy, {}, NOW, since=created) == created + timedelta(days=30)


def test_an_account_deadline_replaces_the_grace_period() -> None:
    campaign_deadline = NOW + timedelta(days=45)
    result = evaluate(Policy(required=(EMAIL, PHONE)), {}, NOW, since=NOW - timedelta(days=400),
                      deadlines={EMAIL: campaign_deadline})
    email, phone = result.requirements
    assert (email.state, email.deadline) == (ComplianceState.ACTION_REQUIRED, campaign_deadline)
    assert phone.state is ComplianceState.OVERDUE  # grace long over, no campaign for the phone


def test_policy_reasons_fall_back_to_english() -> None:
    policy = Policy()
    assert policy.reasons_for("zh-Hans").locale == "zh-Hans"
    assert policy.reasons_for("zh-CN").locale == "zh-Hans"
    assert policy.reasons_for("de-DE").locale == "en"
