"""Request and response bodies for campaigns and the message center."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from pydantic import BaseModel, Field

from contactguard.entrypoints.api.schemas import _In
from contactguard.services.campaigns import (
    CampaignView,
    CountryPreview,
    Funnel,
    FunnelRow,
    Preview,
    Progress,
    Sample,
)
from contactguard.services.message_center import Notice


class AudienceIn(_In):
    accounts: list[str] | None = Field(None, max_length=10_000, examples=[["seller-1042"]],
                                       description="External ids (at most 10,000).")
    countries: list[str] | None = Field(None, max_length=300, examples=[["CN", "GB"]])
    states: list[str] | None = Field(None, examples=[["action_required", "overdue"]],
                                     description="Compliance states.")


class QuietHoursIn(_In):
    start: str = Field(examples=["21:00"])
    end: str = Field(examples=["09:00"])


class CampaignIn(_In):
    """A draft campaign. Every rule is checked on create (field-level 422 problems)."""

    name: str = Field(max_length=200, examples=["Verify your emergency contacts"])
    contacts: list[str] = Field(max_length=10, examples=[["emergency_email", "emergency_phone"]])
    audience: AudienceIn | None = Field(None, description="Every filter given must match; none: "
                                                          "every account.")
    announce_at: str | None = Field(None, examples=["2027-02-06T09:00:00+08:00"],
                                    description="ISO 8601 with offset; default: at launch.")
    effective_at: str = Field(examples=["2027-03-08T18:00:00+08:00"], description=(
        "When the requirement takes effect; at least the policy's min_notice_days working days "
        "after announce_at in every targeted country. Each account's deadline is this, moved on "
        "by its country's public holidays in between."))
    channels: list[str] = Field(max_length=5, examples=[["in_app", "email", "sms"]],
                                description="in_app is mandatory.")
    reminders: list[int] | None = Field(None, max_length=20, examples=[[14, 7, 2, 1]],
                                        description="Days before the deadline.")
    quiet_hours: QuietHoursIn | None = Field(None, description=(
        "Seller-local hours with nothing sent (default 21:00-09:00); null: any hour."))
    throttle_per_second: float | None = Field(None, examples=[200],
                                              description="Accounts messaged per second.")

    def document(self) -> dict[str, Any]:
        """The fields the client sent (null quiet_hours kept: it turns them off)."""
        return self.model_dump(exclude_unset=True)


class ProgressOut(BaseModel):
    targeted: int | None
    planned: int
    planning_done: bool
    scheduled: int
    notified: int
    skipped: int
    completed: int
    canceled: int
    notices_sent: int
    reminders_sent: int
    next_send_at: datetime | None

    @classmethod
    def of(cls, p: Progress) -> ProgressOut:
        return cls(targeted=p.targeted, planned=p.planned, planning_done=p.planning_done,
                   scheduled=p.scheduled, notified=p.notified, skipped=p.skipped,
                   completed=p.completed, canceled=p.canceled, notices_sent=p.notices_sent,
                   reminders_sent=p.reminders_sent, next_send_at=p.next_send_at)


class CampaignOut(BaseModel):
    id: int
    name: str
    status: str = Field(examples=["draft"])
    contacts: list[str]
    audience: dict[str, list[str]]
    announce_at: datetime | None
    effective_at: datetime
    channels: list[str]
    reminders: list[int]
    quiet_hours: dict[str, str] | None
    throttle_per_second: float | None
    created_by: str
    created_at: datetime
    launched_at: datetime | None
    paused_at: datetime | None
    finished_at: datetime | None
    canceled_at: datetime | None
    progress: ProgressOut

    @classmethod
    def of(cls, c: CampaignView) -> CampaignOut:
        settings = c.spec.settings()
        return cls(id=c.id, name=c.name, status=c.status.value, contacts=settings["contacts"],
                   audience=settings["audience"], announce_at=c.announce_at,
                   effective_at=c.effective_at, channels=settings["channels"],
                   reminders=settings["reminders"], quiet_hours=settings["quiet_hours"],
                   throttle_per_second=settings["throttle_per_second"],
                   created_by=c.created_by, created_at=c.created_at,
                   launched_at=c.launched_at, paused_at=c.paused_at,
                   finished_at=c.finished_at, canceled_at=c.canceled_at,
                   progress=ProgressOut.of(c.progress))


class CampaignList(BaseModel):
    data: list[CampaignOut]
    next_before: int | None = Field(description="Pass as ?before= for the next page.")


class CountryOut(BaseModel):
    country: str
    accounts: int
    first_send_at: datetime
    deadline: datetime
    holidays_skipped: list[date]
    notice_working_days: int
    time_zones: list[str]
    calendar_known: bool = Field(description="False: no holiday data for this country "
                                             "(weekends only).")

    @classmethod
    def of(cls, c: CountryPreview) -> CountryOut:
        return cls(country=c.country, accounts=c.accounts, first_send_at=c.first_send_at,
                   deadline=c.deadline, holidays_skipped=c.holidays_skipped,
                   notice_working_days=c.notice_working_days, time_zones=c.time_zones,
                   calendar_known=c.calendar_known)


class SampleOut(BaseModel):
    locale: str
    channel: str
    kind: str
    to: str
    subject: str | None
    body: str

    @classmethod
    def of(cls, s: Sample) -> SampleOut:
        return cls(locale=s.locale, channel=s.channel.value, kind=s.kind, to=s.to,
                   subject=s.subject, body=s.body)


class PreviewOut(BaseModel):
    targeted: int
    announce_at: datetime
    countries: list[CountryOut]
    samples: list[SampleOut]

    @classmethod
    def of(cls, p: Preview) -> PreviewOut:
        return cls(targeted=p.targeted, announce_at=p.announce_at,
                   countries=[CountryOut.of(c) for c in p.countries],
                   samples=[SampleOut.of(s) for s in p.samples])


class FunnelRowOut(BaseModel):
    targeted: int | None = None
    notified: int
    seen: int
    started: int
    verified: int


class CountryFunnelOut(FunnelRowOut):
    country: str


class DayFunnelOut(FunnelRowOut):
    date: str


class FunnelOut(BaseModel):
    targeted: int
    notified: int
    seen: int
    started: int
    verified: int
    skipped: int = Field(description="Already compliant when their notice was due: not messaged.")
    bounced: int = Field(0, description="Campaign emails that bounced (a DSN came back): the "
                         "email contact is marked undeliverable.")
    by_channel: dict[str, dict[str, int]] = Field(examples=[{"email": {"sent": 10},
                                                              "in_app": {"sent": 10}}])
    by_country: list[CountryFunnelOut]
    by_day: list[DayFunnelOut]

    @classmethod
    def of(cls, f: Funnel) -> FunnelOut:
        def counts(r: FunnelRow) -> dict[str, int]:
            return {"notified": r.notified, "seen": r.seen, "started": r.started,
                    "verified": r.verified}

        return cls(targeted=f.targeted, notified=f.notified, seen=f.seen, started=f.started,
                   verified=f.verified, skipped=f.skipped, bounced=f.bounced,
                   by_channel=f.by_channel,
                   by_country=[CountryFunnelOut(country=r.key, targeted=r.targeted, **counts(r))
                               for r in f.by_country],
                   by_day=[DayFunnelOut(date=r.key, **counts(r)) for r in f.by_day])


class MessageOut(BaseModel):
    reference: str = Field(examples=["CG-7KQ4-M9XD"])
    kind: str
    title: str
    body: str | None = Field(description="The in-app text (campaign notices).")
    campaign: int | None
    channels: list[str]
    created_at: datetime
    read_at: datetime | None = Field(description="When the seller first saw it in Seller Center.")

    @classmethod
    def of(cls, n: Notice) -> MessageOut:
        return cls(reference=n.reference, kind=n.kind, title=n.title, body=n.body,
                   campaign=n.campaign, channels=list(n.channels), created_at=n.created_at,
                   read_at=n.read_at)


class MessageList(BaseModel):
    data: list[MessageOut]
    next_cursor: str | None
