"""Request and response bodies for policy, eligibility, webhooks and the audit log."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, Field

from contactguard.domain.audit import AuditEntry, ChainReport
from contactguard.domain.compliance import ComplianceState, Requirement, RequirementCode
from contactguard.domain.contacts import ContactKind
from contactguard.domain.messages import MessageStatus
from contactguard.domain.webhooks import WebhookEndpoint
from contactguard.entrypoints.api.schemas import _In
from contactguard.services.compliance import AccountCompliance, ComplianceListing, ComplianceRow
from contactguard.services.webhooks import Delivery


class PolicyReasonsDocument(BaseModel):
    why: str
    consequence: str


class ProtectionDocument(BaseModel):
    """Rate limits and the SMS-pumping guard (issue 11; README "Shared limits and the
    SMS-pumping guard"). Every setting is optional on PUT (left out: the default)."""

    api_key_per_minute: int = Field(examples=[1200], description="Requests per API key.")
    seller_ip_per_minute: int = Field(examples=[300],
                                      description="Seller Center requests per client address.")
    login_ip_per_minute: int = Field(examples=[20], description=(
        "Sign-ins (seller session links, console and dev sign-in) per client address."))
    account_sends_per_hour: int = Field(examples=[20], description="Codes sent per account.")
    destination_sends_per_hour: int = Field(examples=[10], description=(
        "Codes sent per destination (normalized address or number), all accounts."))
    prefix_sends_per_hour: int = Field(examples=[60], description=(
        "SMS/voice codes per number prefix (the E.164 number without its last 4 digits)."))
    allowed_countries: list[str] = Field(examples=[["US", "DE", "CN"]], description=(
        "Regions whose numbers get codes by SMS or voice; empty: every country."))
    allow_costly_numbers: bool = Field(examples=[False], description=(
        "Allow non-geographic (+800, +882, ...), premium-rate and shared-cost numbers."))
    prefix_unverified_limit: int = Field(examples=[30], description=(
        "Codes to one prefix not entered within the window before the prefix is blocked."))
    prefix_window_hours: int = Field(examples=[24])
    conversion_min_sends: int = Field(examples=[20], description=(
        "Conversion alarm: after this many codes to a prefix in the window ..."))
    conversion_min_percent: int = Field(examples=[10], description=(
        "... fewer than this percentage entered blocks the prefix."))
    country_daily_budget: int = Field(examples=[5000], description=(
        "SMS and voice codes per country per UTC day; 0: no budget."))
    block_hours: int = Field(examples=[24], description="How long a prefix stays blocked.")


class PolicyDocument(BaseModel):
    """The policy in force. Every setting is optional on PUT (left out: the default)."""

    required: list[ContactKind] = Field(examples=[["emergency_email", "emergency_phone"]])
    reverify_after_days: int = Field(examples=[365])
    due_soon_days: int = Field(examples=[30])
    snooze_days: int = Field(examples=[3])
    max_snoozes: int = Field(examples=[3])
    max_contact_changes_per_day: int = Field(examples=[3])
    grace_days: int = Field(examples=[30], description=(
        "A required contact that is missing or was never verified is due this many days "
        "after the account was created (a campaign may set another deadline)."))
    min_notice_days: int = Field(examples=[14], description=(
        "Campaigns: the least notice between announcement and deadline, in working days of "
        "each targeted seller's country."))
    min_signals: dict[str, float] = Field(examples=[{"account_health_rating": 200}])
    reasons: dict[str, PolicyReasonsDocument] = Field(
        description="Per language: why contacts must be verified and what a seller loses if "
                    "not; shown on every banner and in every message. English is required.",
        examples=[{"en": {"why": "so that we can reach you at once if something goes wrong",
                          "consequence": "your account leaves the account health assurance "
                                         "program"}}])
    email_link: bool = Field(False, description=(
        "Verification emails also carry a link to a page with a confirm button (the code "
        "keeps working). Off by default."))
    protection: ProtectionDocument | None = Field(None, description=(
        "Rate limits and the SMS-pumping guard (issue 11); left out on PUT: the defaults."))


class RequirementOut(BaseModel):
    contact: ContactKind
    state: ComplianceState
    reason: str
    deadline: datetime | None
    snoozed_until: datetime | None
    snoozes_left: int
    code: RequirementCode = Field(description=(
        "What the requirement is about: `contact_missing`, `contact_unverified`, "
        "`reverification_due`, `reverification_overdue` or `verified`."))

    @classmethod
    def of(cls, r: Requirement) -> RequirementOut:
        return cls(contact=r.kind, state=r.state, reason=r.reason, deadline=r.deadline,
                   snoozed_until=r.snoozed_until, snoozes_left=r.snoozes_left, code=r.code)


class SellerActionOut(BaseModel):
    """Something the seller must do: an open requirement, with its deadline."""

    code: RequirementCode
    contact: ContactKind
    state: ComplianceState
    deadline: datetime | None
    blocks_eligibility: bool = Field(description=(
        "true while the account is not eligible because of it; false when it is due soon "
        "(eligible until the deadline)"))
    message: str = Field(description="The same sentence as in `reasons` (English).")


class PlatformConditionOut(BaseModel):
    """A condition on the platform's side (a signal in `min_signals`): not the seller's to act on."""

    code: str = Field(description="`signal_missing` (not reported) or `signal_too_low`",
                      examples=["signal_missing"])
    signal: str
    minimum: float
    value: float | None
    message: str = Field(description="The same sentence as in `reasons` (English).")


class EligibilityOut(BaseModel):
    account: str
    eligible: bool
    reasons: list[str] = Field(description="Why the account is not eligible (empty if it is).")
    state: ComplianceState
    deadline: datetime | None
    requirements: list[RequirementOut]
    signals: dict[str, float]
    seller_actions: list[SellerActionOut] = Field(description=(
        "What the seller must do: every open requirement with its deadline (also those due "
        "soon, to stay eligible)."))
    platform_conditions: list[PlatformConditionOut] = Field(description=(
        "Why the account is not eligible on the platform's side (its signals): nothing the "
        "seller can do in the Seller Center."))
    why: str = Field(description="The policy's reason for the requirements, in the account's "
                                 "language.")
    consequence: str = Field(description="What the seller loses without verified contacts, "
                                         "in the account's language.")

    @classmethod
    def of(cls, view: AccountCompliance) -> EligibilityOut:
        result = view.eligibility
        texts = view.policy.reasons_for(view.account.locale)
        return cls(account=view.account.external_id, eligible=result.eligible,
                   reasons=result.reasons, state=view.compliance.state,
                   deadline=view.compliance.deadline,
                   requirements=[RequirementOut.of(r) for r in view.compliance.requirements],
                   signals=dict(view.signals),
                   seller_actions=[
                       SellerActionOut(code=r.code, contact=r.kind, state=r.state,
                                       deadline=r.deadline, blocks_eligibility=not r.is_met,
                                       message=r.reason)
                       for r in view.compliance.requirements
                       if r.state is not ComplianceState.COMPLIANT],
                   platform_conditions=[
                       PlatformConditionOut(code=c.code, signal=c.signal or "",
                                            minimum=c.minimum or 0.0, value=c.value,
                                            message=c.text)
                       for c in result.platform_conditions],
                   why=texts.why, consequence=texts.consequence)


class ComplianceRowOut(BaseModel):
    external_id: str
    name: str
    state: ComplianceState
    deadline: datetime | None
    eligible: bool
    reasons: list[str]
    updated_at: datetime

    @classmethod
    def of(cls, row: ComplianceRow) -> ComplianceRowOut:
        return cls(external_id=row.external_id, name=row.name, state=row.state,
                   deadline=row.deadline, eligible=row.eligible, reasons=row.reasons,
                   updated_at=row.updated_at)


class ComplianceListOut(BaseModel):
    data: list[ComplianceRowOut]
    next_cursor: str | None = Field(description="Pass as `cursor` for the next page; null at "
                                                "the end.")

    @classmethod
    def of(cls, listing: ComplianceListing) -> ComplianceListOut:
        return cls(data=[ComplianceRowOut.of(r) for r in listing.items],
                   next_cursor=listing.next_cursor)


class WebhookIn(_In):
    url: str = Field(max_length=2000, examples=["https://platform.example.com/hooks/contactguard"])
    events: list[str] = Field(examples=[["contact.verified", "account.eligibility_changed"]])
    description: str = Field("", max_length=200)


class WebhookPatch(_In):
    url: str | None = Field(None, max_length=2000)
    events: list[str] | None = None
    description: str | None = Field(None, max_length=200)
    enabled: bool | None = Field(None, description="true re-enables a disabled endpoint.")


class WebhookOut(BaseModel):
    id: int
    url: str
    events: list[str]
    description: str
    enabled: bool
    disabled_reason: str | None
    failure_streak: int
    created_at: datetime
    updated_at: datetime
    secret: str | None = Field(None, description="The whsec_ signing secret: only in the answer "
                                                 "to the POST that created the endpoint.")

    @classmethod
    def of(cls, e: WebhookEndpoint, secret: str | None = None) -> WebhookOut:
        return cls(id=e.id, url=e.url, events=[x.value for x in e.events],
                   description=e.description, enabled=e.enabled,
                   disabled_reason=e.disabled_reason, failure_streak=e.failure_streak,
                   created_at=e.created_at, updated_at=e.updated_at, secret=secret)


class WebhookList(BaseModel):
    data: list[WebhookOut]


class DeliveryOut(BaseModel):
    id: int
    endpoint_id: int
    event_id: str
    event_type: str
    status: MessageStatus
    attempts: int
    last_error: str | None
    created_at: datetime
    next_attempt_at: datetime | None
    sent_at: datetime | None

    @classmethod
    def of(cls, d: Delivery) -> DeliveryOut:
        return cls(id=d.id, endpoint_id=d.endpoint_id, event_id=d.event_id,
                   event_type=d.event_type, status=d.status, attempts=d.attempts,
                   last_error=d.last_error, created_at=d.created_at,
                   next_attempt_at=d.next_attempt_at, sent_at=d.sent_at)


class DeliveryList(BaseModel):
    data: list[DeliveryOut]


class AuditEntryOut(BaseModel):
    seq: int
    at: datetime
    actor: dict[str, str] = Field(examples=[{"kind": "api_key", "id": "1", "label": "backend"}])
    action: str
    subject: str
    before: dict[str, Any] | None
    after: dict[str, Any] | None
    hash: str

    @classmethod
    def of(cls, e: AuditEntry) -> AuditEntryOut:
        return cls(seq=e.seq, at=e.at, actor={"kind": e.actor.kind.value, "id": e.actor.id,
                                              "label": e.actor.label},
                   action=e.action, subject=e.subject, before=e.before, after=e.after,
                   hash=e.hash)


class AuditList(BaseModel):
    data: list[AuditEntryOut]


class ChainReportOut(BaseModel):
    ok: bool
    checked: int
    broken_at: int | None
    reason: str

    @classmethod
    def of(cls, r: ChainReport) -> ChainReportOut:
        return cls(ok=r.ok, checked=r.checked, broken_at=r.broken_at, reason=r.reason)
