"""Who must verify what by when: requirements, compliance state and reminder snoozes."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum

from contactguard.domain.abuse import ProtectionPolicy
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
class PolicyReasons:
    """Why the requirement exists and what a seller loses without it, in one language.

    Shown to sellers on every banner and in every message about the requirement.
    """

    locale: str
    why: str
    consequence: str


DEFAULT_REASONS: tuple[PolicyReasons, ...] = (
    PolicyReasons(
        "en",
        why="so that we can reach you at once if something goes wrong with your account "
            "(a suspended listing, a policy strike, a stolen login)",
        consequence="your account leaves the account health assurance program: no priority "
                    "support from account health specialists and no protection from "
                    "avoidable disruptions"),
    PolicyReasons(
        "zh-Hans",
        why="以便在您的账户出现问题（商品被下架、违反政策、登录信息被盗）时我们能立即联系到您",
        consequence="您的账户将退出账户健康保障计划：不再享有账户健康专员的优先支持，"
                    "也不再受保护以免遭受可避免的业务中断"),
)


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
    #: A required contact that is missing or was never verified must be verified within this
    #: long of the account's creation (unless a campaign set the account another deadline).
    grace_period: timedelta = timedelta(days=30)
    #: Campaigns: the least notice between announcement and deadline, in working days of
    #: each targeted seller's country (public holidays and weekends do not count).
    min_notice_days: int = 14
    #: Why contacts must be verified and what a seller loses if not, per language.
    reasons: tuple[PolicyReasons, ...] = DEFAULT_REASONS
    #: Seller Center (issue 12): verification emails also carry a confirmation link (opt-in).
    email_link: bool = False
    # Shared limits and abuse protection (issue 11): rate limits and the SMS-pumping guard.
    protection: ProtectionPolicy = field(default_factory=ProtectionPolicy)

    def reasons_for(self, locale: str) -> PolicyReasons:
        """The reasons in ``locale`` (language match), else English, else the first given."""
        language = locale.split("-")[0].lower()
        for wanted in (locale, language, "en"):
            for entry in self.reasons:
                if entry.locale == wanted or entry.locale.split("-")[0].lower() == wanted:
                    return entry
        return self.reasons[0] if self.reasons else DEFAULT_REASONS[0]


@dataclass(frozen=True, slots=True)
class Snooze:
    until: datetime
    count: int


class RequirementCode(StrEnum):
    """What a requirement is about, for callers that word it themselves (pages, messages)."""

    CONTACT_MISSING = "contact_missing"  # no value on file
    CONTACT_UNVERIFIED = "contact_unverified"  # a value that was never verified
    REVERIFICATION_DUE = "reverification_due"  # verified, to be confirmed again soon
    REVERIFICATION_OVERDUE = "reverification_overdue"  # the last verification expired
    VERIFIED = "verified"


@dataclass(frozen=True, slots=True)
class Requirement:
    """One required contact: its state, the deadline if there is one, and why."""

    kind: ContactKind
    state: ComplianceState
    reason: str
    deadline: datetime | None = None
    snoozed_until: datetime | None = None
    snoozes_left: int = 0
    code: RequirementCode = RequirementCode.VERIFIED

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
             snoozes: Mapping[ContactKind, Snooze] | None = None, *,
             since: datetime | None = None,
             deadlines: Mapping[ContactKind, datetime] | None = None) -> Compliance:
    """The compliance of an account from its contacts at ``now``.

    Every open requirement has a deadline: re-verification is due ``reverify_after`` after the
    last verification; a missing or never-verified contact is due at the account's own
    deadline for it in ``deadlines`` (set by a campaign that announced it), else
    ``grace_period`` after ``since`` (when the account was created). Past that deadline the
    requirement is overdue.
    """
    snoozes = snoozes or {}
    requirements = []
    for kind in policy.required:
        requirement = _requirement(policy, kind, contacts.get(kind), now,
                                   first_deadline(policy, kind, since, deadlines))
        snooze = snoozes.get(kind)
        requirements.append(Requirement(
            kind=kind, state=requirement.state, reason=requirement.reason,
            deadline=requirement.deadline, code=requirement.code,
            snoozed_until=snooze.until if snooze and snooze.until > now else None,
            snoozes_left=max(policy.max_snoozes - (snooze.count if snooze else 0), 0)))
    state = max((r.state for r in requirements), key=_SEVERITY.index,
                default=ComplianceState.COMPLIANT)
    return Compliance(state=state, requirements=requirements)


def can_snooze(requirement: Requirement) -> bool:
    """A reminder may be put off while the requirement is open and not yet overdue."""
    return (requirement.state in (ComplianceState.DUE_SOON, ComplianceState.ACTION_REQUIRED)
            and requirement.snoozes_left > 0)


def first_deadline(policy: Policy, kind: ContactKind, since: datetime | None,
                   deadlines: Mapping[ContactKind, datetime] | None = None) -> datetime | None:
    """When a missing or never-verified contact of ``kind`` must be verified by."""
    if deadlines and kind in deadlines:
        return deadlines[kind]
    return since + policy.grace_period if since is not None else None


def _requirement(policy: Policy, kind: ContactKind, contact: Contact | None,
                 now: datetime, first: datetime | None) -> Requirement:
    label = kind.value.replace("_", " ")
    if contact is None or contact.verified_at is None:
        missing = f"no {label} on file" if contact is None else f"{label} is not verified"
        code = (RequirementCode.CONTACT_MISSING if contact is None
                else RequirementCode.CONTACT_UNVERIFIED)
        if first is not None and now >= first:
            return Requirement(kind, ComplianceState.OVERDUE,
                               f"{missing}; it was due on {first:%Y-%m-%d}", deadline=first,
                               code=code)
        return Requirement(kind, ComplianceState.ACTION_REQUIRED, missing, deadline=first,
                           code=code)
    expires = contact.verified_at + policy.reverify_after
    pending_change = "" if contact.is_verified else "; the new value awaits verification"
    if now >= expires:
        return Requirement(kind, ComplianceState.OVERDUE,
                           f"{label} verification expired on {expires:%Y-%m-%d}{pending_change}",
                           deadline=expires, code=RequirementCode.REVERIFICATION_OVERDUE)
    if now >= expires - policy.due_soon_window:
        return Requirement(kind, ComplianceState.DUE_SOON,
                           f"{label} must be confirmed again by {expires:%Y-%m-%d}"
                           f"{pending_change}", deadline=expires,
                           code=RequirementCode.REVERIFICATION_DUE)
    if pending_change:
        return Requirement(kind, ComplianceState.COMPLIANT,
                           f"{label} is verified{pending_change}", deadline=expires)
    return Requirement(kind, ComplianceState.COMPLIANT, f"{label} is verified", deadline=expires)


class Party(StrEnum):
    """Who can clear a reason for not being eligible."""

    SELLER = "seller"  # the seller acts: add or verify a contact
    PLATFORM = "platform"  # a condition on the platform's side (its own signals)


@dataclass(frozen=True, slots=True)
class EligibilityReason:
    """One reason an account is not eligible, structured for callers that word it themselves.

    ``code`` is a requirement code (``contact_missing``, ``contact_unverified``,
    ``reverification_overdue``) for the seller's part, or ``signal_missing`` /
    ``signal_too_low`` for the platform's; ``text`` is the English sentence of ``reasons``.
    """

    code: str
    party: Party
    text: str
    contact: ContactKind | None = None
    deadline: datetime | None = None
    signal: str | None = None
    minimum: float | None = None
    value: float | None = None


@dataclass(frozen=True, slots=True)
class Eligibility:
    """Account health assurance eligibility: all requirements met and every signal high enough."""

    eligible: bool
    reasons: list[str]
    details: tuple[EligibilityReason, ...] = ()

    @property
    def seller_actions(self) -> tuple[EligibilityReason, ...]:
        """What the seller must do (each with its contact and deadline)."""
        return tuple(r for r in self.details if r.party is Party.SELLER)

    @property
    def platform_conditions(self) -> tuple[EligibilityReason, ...]:
        """Conditions on the platform's side, which the seller cannot act on."""
        return tuple(r for r in self.details if r.party is Party.PLATFORM)


def eligibility(policy: Policy, compliance: Compliance,
                signals: Mapping[str, float] | None = None) -> Eligibility:
    """Eligibility from the requirements and the platform's own signals (missing = not met)."""
    signals = signals or {}
    details = [EligibilityReason(r.code.value, Party.SELLER, r.reason, contact=r.kind,
                                 deadline=r.deadline)
               for r in compliance.requirements if not r.is_met]
    for name, minimum in policy.min_signals:
        value = signals.get(name)
        label = name.replace("_", " ")
        if value is None:
            details.append(EligibilityReason(
                "signal_missing", Party.PLATFORM,
                f"{label} has not been reported (at least {minimum:g} is required)",
                signal=name, minimum=minimum))
        elif value < minimum:
            details.append(EligibilityReason(
                "signal_too_low", Party.PLATFORM,
                f"{label} is {value:g}, below the required {minimum:g}",
                signal=name, minimum=minimum, value=value))
    return Eligibility(eligible=not details, reasons=[d.text for d in details],
                       details=tuple(details))


def next_change(policy: Policy, contacts: Mapping[ContactKind, Contact],
                now: datetime, *, since: datetime | None = None,
                deadlines: Mapping[ContactKind, datetime] | None = None) -> datetime | None:
    """The next moment at which time alone changes the state (due soon, then overdue)."""
    moments = []
    for kind in policy.required:
        contact = contacts.get(kind)
        if contact is None or contact.verified_at is None:
            first = first_deadline(policy, kind, since, deadlines)
            if first is not None and first > now:
                moments.append(first)
            continue
        expires = contact.verified_at + policy.reverify_after
        moments += [m for m in (expires - policy.due_soon_window, expires) if m > now]
    return min(moments) if moments else None
