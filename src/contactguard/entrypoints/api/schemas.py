"""Request and response bodies of the REST API (pydantic), kept apart from the domain."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from contactguard.domain.challenges import ChallengeStatus
from contactguard.domain.contacts import Channel, ContactKind, ContactStatus, LineType
from contactguard.services.accounts import AccountView, ContactView
from contactguard.services.dev import CapturedMessage
from contactguard.services.verification import VerificationView


class _In(BaseModel):
    model_config = ConfigDict(extra="forbid", str_max_length=1000)


class FieldErrorOut(BaseModel):
    field: str = Field(examples=["contacts.emergency_phone"])
    message: str
    code: str = Field(examples=["invalid_phone"])


class Problem(BaseModel):
    """An RFC 9457 problem detail."""

    type: str = Field(examples=["/problems/validation-error"])
    title: str
    status: int
    detail: str
    instance: str | None = None
    errors: list[FieldErrorOut] = Field(default_factory=list)
    retry_after: int | None = Field(None, description="Seconds to wait (429 only).")


def problem_responses(*statuses: int, **descriptions: str) -> dict[int | str, dict[str, Any]]:
    """OpenAPI ``responses`` for routes that answer problem details with these statuses
    (``descriptions`` by ``s<status>``, e.g. ``s429="Cooldown; see Retry-After"``)."""
    return {status: {"model": Problem, **({"description": descriptions[f"s{status}"]}
                                           if f"s{status}" in descriptions else {})}
            for status in statuses}


class AccountIn(_In):
    external_id: str = Field(max_length=128, examples=["seller-1042"],
                             description="The platform's own id for the account.")
    name: str | None = Field(None, max_length=200, examples=["Lotus Tea House"])
    country: str | None = Field(None, max_length=2, examples=["CN"],
                                description="ISO 3166-1 alpha-2; required on create.")
    locale: str | None = Field(None, max_length=35, examples=["zh-Hans"],
                               description="BCP 47; default en.")
    time_zone: str | None = Field(None, max_length=64, examples=["Asia/Shanghai"],
                                  description="IANA name; default: the country's main zone.")
    contacts: dict[str, str] | None = Field(
        None, examples=[{"emergency_email": "owner@example.com",
                         "emergency_phone": "+86 10 6552 9988"}],
        description="Contact values by kind (emergency_email, emergency_phone).")


class ContactIn(_In):
    value: str = Field(max_length=320, examples=["+14155550123"])


class UndeliverableOut(BaseModel):
    channel: Channel
    reason: str = Field(examples=["twilio HTTP 400 error 21614: the number is a landline or "
                                  "otherwise cannot receive SMS"])
    since: datetime


class ContactOut(BaseModel):
    kind: ContactKind
    value: str = Field(description="The latest value set (E.164 for phones).")
    line_type: LineType | None = None
    status: ContactStatus
    channels: list[Channel] = Field(description="Channels that can carry a code to it.")
    verified_at: datetime | None = Field(None, description="When the value in force was verified.")
    verified_channel: Channel | None = None
    active_value: str = Field(description="The value in force: the last verified value while a "
                                          "changed one awaits verification.")
    undeliverable_channels: list[UndeliverableOut] = Field(
        default_factory=list, description="Channels that permanently failed for the current "
        "value, with the reason (status is 'undeliverable' when every channel failed).")
    lookalike_domain: bool = Field(
        False, description="The email's domain can imitate another one (it mixes scripts, or "
        "is made of letters that look like Latin ones); its value is then shown in ASCII "
        "(punycode) form. Check it with the seller before trusting it.")
    domain_warnings: list[str] = Field(
        default_factory=list, description="Why: 'mixed_scripts', 'imitates_ascii'.")

    @classmethod
    def of(cls, view: ContactView) -> ContactOut:
        c = view.contact
        return cls(kind=c.kind, value=c.value, line_type=c.line_type, status=view.status,
                   channels=[Channel(ch) for ch in view.channels], verified_at=c.verified_at,
                   verified_channel=c.verified_channel, active_value=c.active_value,
                   undeliverable_channels=[UndeliverableOut(channel=m.channel, reason=m.reason,
                                                            since=m.since)
                                           for m in view.undeliverable],
                   lookalike_domain=view.lookalike_domain,
                   domain_warnings=list(view.domain_warnings))


class AccountOut(BaseModel):
    external_id: str
    name: str
    country: str
    locale: str
    time_zone: str
    created_at: datetime
    updated_at: datetime
    contacts: list[ContactOut]

    @classmethod
    def of(cls, view: AccountView) -> AccountOut:
        a = view.account
        return cls(external_id=a.external_id, name=a.name, country=a.country, locale=a.locale,
                   time_zone=a.time_zone, created_at=a.created_at, updated_at=a.updated_at,
                   contacts=[ContactOut.of(c) for c in view.contacts])


class ContactList(BaseModel):
    data: list[ContactOut]


CodeChannel = Literal["sms", "voice", "email"]


class VerificationIn(_In):
    account: str = Field(max_length=128, examples=["seller-1042"], description="external_id")
    contact: ContactKind
    channel: CodeChannel | None = Field(None, description="Default: SMS for mobiles, voice for "
                                                      "landlines, email for email.")


class CheckIn(_In):
    code: str = Field(max_length=32, examples=["123456"])


class VerificationOut(BaseModel):
    id: str = Field(examples=["vrf_k3m2x7q4w9d2b6n5r8t1y3c7"])
    account: str
    contact: ContactKind
    channel: Channel
    status: ChallengeStatus
    attempts_left: int
    expires_at: datetime
    resend_available_at: datetime
    to: str = Field(description="The destination, masked.", examples=["+1 ••• ••• 4567"])
    created_at: datetime
    detail: str | None = Field(None, examples=["Invalid or expired code."])

    @classmethod
    def of(cls, view: VerificationView) -> VerificationOut:
        return cls(id=view.id, account=view.account_external_id, contact=view.contact_kind,
                   channel=view.channel, status=view.status, attempts_left=view.attempts_left,
                   expires_at=view.expires_at, resend_available_at=view.resend_available_at,
                   to=view.masked_destination, created_at=view.created_at, detail=view.detail)


class DevMessageOut(BaseModel):
    id: int
    channel: str
    to: str
    subject: str | None
    body: str
    html: str | None
    reference: str | None
    created_at: datetime

    @classmethod
    def of(cls, message: CapturedMessage) -> DevMessageOut:
        return cls(id=message.id, channel=message.channel, to=message.to,
                   subject=message.subject, body=message.body, html=message.html,
                   reference=message.reference, created_at=message.created_at)


class DevMessageList(BaseModel):
    data: list[DevMessageOut]
