"""Who must verify what by when: requirements, compliance state and reminder snoozes."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum

from contactguard.domain.contacts import Contact, ContactKind


class ComplianceState(StrEnum):
    COMPLIANT = "compliant"
    DUE_SOON = "due_soon"
    ACTION_REQUIRED = "action_required"
    OVERDUE = "overdue"


#: Worst last: an account's state is the worst of its requirements'.
_SEVERITY = [ComplianceState.COMPLIANT, ComplianceState.DUE_SOON,
             ComplianceState.ACTION_REQUIRED, ComplianceState.OVERDUE]


@dataclass(frozen=True, slots=True)
class Policy:
    """Which contacts must be verified and how often; how long reminders may be put off."""

    required: tuple[ContactKind, ...] = (ContactKind.EMERGENCY_EMAIL, ContactKind.EMERGENCY_PHONE)
    reverify_after: timedelta = timedelta(days=365)
    due_soon_window: timedelta = timedelta(days=30)
    snooze_length: timedelta = timedelta(days=3)
    max_snoozes: int = 3
    # Policy and eligibility (issue 5): platform signals and contact-change protection.
    #: Minimum value of each platform signal for eligibility, e.g. (("account_health_rating", 200),).
    min_signals: tuple[tuple[str, float], ...] = ()
    #: Contact changes an account may make in 24 hours; more are refused.
    max_contact_changes_per_day: int = 3


@dataclass(frozen=True, slots=True)
class Snooze:
    until: datetime
    count: int


@dataclass(frozen=True, slots=True)
class Requirement:
    """One required contact: its state, the deadline if there is one, and why."""

    kind: ContactKind
    state: ComplianceState
    reason: str
    deadline: datetime | None = None
    snoozed_until: datetime | None = None
    snoozes_left: int = 0

    @property
    def is_met(self) -> bool:
        return self.state in (ComplianceState.COMPLIANT, ComplianceState.DUE_SOON)

    def is_snoozed(self, now: datetime) -> bool:
        return self.snoozed_until is not None and self.snoozed_until > now


@dataclass(frozen=True, slots=True)
class Compliance:
    state: ComplianceState
    requirements: list[Requirement] = field(default_factory=list)

    @property
    def deadline(self) -> datetime | None:
        """The earliest deadline among the requirements that have one."""
        deadlines = [r.deadline for r in self.requirements if r.deadline is not None]
        return min(deadlines) if deadlines else None

    @property
    def reasons(self) -> list[str]:
        return [r.reason for r in self.requirements if r.state is not ComplianceState.COMPLIANT]

    @property
    def requirements_met(self) -> bool:
        return all(r.is_met for r in self.requirements)


def evaluate(policy: Policy, contacts: Mapping[ContactKind, Contact], now: datetime,
             snoozes: Mapping[ContactKind, Snooze] | None = None) -> Compliance:
    """The compliance of an account from its contacts at ``now``."""
    snoozes = snoozes or {}
    requirements = []
    for kind in policy.required:
        requirement = _requirement(policy, kind, contacts.get(kind), now)
        snooze = snoozes.get(kind)
        requirements.append(Requirement(
            kind=kind, state=requirement.state, reason=requirement.reason,
            deadline=requirement.deadline,
            snoozed_until=snooze.until if snooze and snooze.until > now else None,
            snoozes_left=max(policy.max_snoozes - (snooze.count if snooze else 0), 0)))
    state = max((r.state for r in requirements), key=_SEVERITY.index,
                default=ComplianceState.COMPLIANT)
    return Compliance(state=state, requirements=requirements)


def can_snooze(requirement: Requirement) -> bool:
    return requirement.state is not ComplianceState.COMPLIANT and requirement.snoozes_left > 0


def _requirement(policy: Policy, kind: ContactKind, contact: Contact | None,
                 now: datetime) -> Requirement:
    label = kind.value.replace("_", " ")
    if contact is None:
        return Requirement(kind, ComplianceState.ACTION_REQUIRED, f"no {label} on file")
    if contact.verified_at is None:
        return Requirement(kind, ComplianceState.ACTION_REQUIRED, f"{label} is not verified")
    expires = contact.verified_at + policy.reverify_after
    pending_change = "" if contact.is_verified else "; the new value awaits verification"
    if now >= expires:
        return Requirement(kind, ComplianceState.OVERDUE,
                           f"{label} verification expired on {expires:%Y-%m-%d}{pending_change}",
                           deadline=expires)
    if now >= expires - policy.due_soon_window:
        return Requirement(kind, ComplianceState.DUE_SOON,
                           f"{label} must be confirmed again by {expires:%Y-%m-%d}"
                           f"{pending_change}", deadline=expires)
    if pending_change:
        return Requirement(kind, ComplianceState.COMPLIANT,
                           f"{label} is verified{pending_change}", deadline=expires)
    return Requirement(kind, ComplianceState.COMPLIANT, f"{label} is verified", deadline=expires)


@dataclass(frozen=True, slots=True)
class Eligibility:
    """Account health assurance eligibility: all requirements met and every signal high enough."""

    eligible: bool
    reasons: list[str]


def eligibility(policy: Policy, compliance: Compliance,
                signals: Mapping[str, float] | None = None) -> Eligibility:
    """Eligibility from the requirements and the platform's own signals (missing = not met)."""
    signals = signals or {}
    reasons = [r.reason for r in compliance.requirements if not r.is_met]
    for name, minimum in policy.min_signals:
        value = signals.get(name)
        label = name.replace("_", " ")
        if value is None:
            reasons.append(f"{label} has not been reported (at least {minimum:g} is required)")
        elif value < minimum:
            reasons.append(f"{label} is {value:g}, below the required {minimum:g}")
    return Eligibility(eligible=not reasons, reasons=reasons)


def next_change(policy: Policy, contacts: Mapping[ContactKind, Contact],
                now: datetime) -> datetime | None:
    """The next moment at which time alone changes the state (due soon, then overdue)."""
    moments = []
    for kind in policy.required:
        contact = contacts.get(kind)
        if contact is None or contact.verified_at is None:
            continue
        expires = contact.verified_at + policy.reverify_after
        moments += [m for m in (expires - policy.due_soon_window, expires) if m > now]
    return min(moments) if moments else None
