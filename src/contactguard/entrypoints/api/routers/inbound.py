"""/v1/inbound/email (mail posted by the platform's MTA), /v1/inbound/stats, and the
phishing waves: /v1/phishing/waves and their warnings (issue 9)."""

from __future__ import annotations

from datetime import date, datetime
from functools import partial
from typing import Annotated, Literal

import anyio
from fastapi import APIRouter, Path, Query, Request
from fastapi.responses import Response
from pydantic import BaseModel, ConfigDict, Field

from contactguard.entrypoints.api.deps import (
    AdminKey,
    ContainerDep,
    ReadKey,
    WriteKey,
    actor_of,
    json_response,
    run,
)
from contactguard.entrypoints.api.routers.messages import _read_body
from contactguard.entrypoints.api.schemas import problem_responses
from contactguard.errors import UnsupportedMediaType
from contactguard.services import waves
from contactguard.services.checker import MAX_MESSAGE_BYTES
from contactguard.services.inbound import receive_inbound

router = APIRouter(tags=["inbound mail and phishing waves"])

WaveId = Annotated[int, Path(ge=1, le=2**62)]
_RAW_TYPES = {"message/rfc822", "application/octet-stream", "text/plain"}


class InboundOut(BaseModel):
    kind: Literal["report", "bounce", "reply", "dropped"] = Field(
        description="What the message was: a report (to the report address), a bounce (DSN), "
        "a reply to our mail, or anything else (dropped, counted).")
    detail: str = Field(examples=["answered", "contact_marked", "unknown_sender", "unrelated"])
    verdict: Literal["genuine", "phishing", "unrelated"] | None = Field(
        None, description="Reports: the checker's verdict.")
    wave_id: int | None = Field(None, description="Reports: the phishing wave it joined.")


_INBOUND_BODY = {"required": True, "content": {
    "message/rfc822": {"schema": {"type": "string", "format": "binary"}},
    "application/octet-stream": {"schema": {"type": "string", "format": "binary"}},
    "text/plain": {"schema": {"type": "string"}}}}


@router.post("/v1/inbound/email", response_model=InboundOut, status_code=202,
             openapi_extra={"requestBody": _INBOUND_BODY},
             responses=problem_responses(401, 413, 415), summary="Receive one email")
async def inbound_email(request: Request, container: ContainerDep, key: WriteKey,
                        mail_from: Annotated[str | None, Query(
                            max_length=320, description="The SMTP envelope sender (MAIL FROM); "
                            "empty for a bounce.")] = None,
                        rcpt_to: Annotated[list[str] | None, Query(
                            max_length=50, description="The envelope recipients (repeat the "
                            "parameter); default: the message's Delivered-To/To/Cc.")] = None,
                        ) -> Response:
    """For platforms whose MTA posts mail over HTTP (e.g. a pipe or a webhook of the mail
    service): the raw message as ``message/rfc822``, up to 25 MB. Mail to the report address
    is checked and stored; a DSN marks the bounced email contact undeliverable; a reply to
    our mail is answered once. Anything else is dropped (and counted). Malformed mail is
    never an error: it is dropped with ``detail: unparseable``.
    """
    media = (request.headers.get("content-type") or "").split(";")[0].strip().lower()
    if media not in _RAW_TYPES:
        raise UnsupportedMediaType("send the message as message/rfc822")
    body = await _read_body(request, MAX_MESSAGE_BYTES)
    envelope_from = mail_from if mail_from is not None else request.headers.get(
        "x-envelope-from")
    rcpts = list(rcpt_to or [])
    if not rcpts and request.headers.get("x-envelope-to"):
        rcpts = [r.strip() for r in request.headers["x-envelope-to"].split(",")][:50]
    call = partial(receive_inbound, container.deps, body, envelope_from, rcpts)
    outcome = await anyio.to_thread.run_sync(call, limiter=container.extras.get("limiter"))
    return json_response(InboundOut(kind=outcome.kind.value, detail=outcome.detail,
                                    verdict=outcome.verdict,  # type: ignore[arg-type]
                                    wave_id=outcome.wave_id), status_code=202)


class InboundDay(BaseModel):
    day: date
    counts: dict[str, int]


class InboundStatsOut(BaseModel):
    totals: dict[str, int] = Field(description="All time, by kind: report, report_answered, "
                                   "bounce, bounce_contact_marked, reply, reply_answered, dropped.")
    days: list[InboundDay] = Field(description="The last 30 days that had inbound mail.")


@router.get("/v1/inbound/stats", response_model=InboundStatsOut, responses=problem_responses(401),
            summary="Inbound mail counts")
async def inbound_stats(container: ContainerDep, key: ReadKey) -> Response:
    """How many reports, bounces and replies to our mail arrived (and how many were
    answered), and how much was dropped."""
    stats = await run(container, waves.inbound_stats, container.deps)
    return json_response(InboundStatsOut(
        totals=stats.totals,
        days=[InboundDay(day=date.fromisoformat(d), counts=c) for d, c in stats.by_day]))


class WarningOut(BaseModel):
    id: int
    wave_id: int
    country: str | None = Field(description="null: every seller.")
    subject: str
    reference: str = Field(description="The message-center notice's reference code.")
    created_by: str
    created_at: datetime


class WaveOut(BaseModel):
    id: int
    subject: str
    sender_domains: list[str]
    link_domains: list[str]
    reports: int
    first_seen: datetime
    last_seen: datetime
    detected_at: datetime | None = Field(description="When it reached the threshold "
                                         "(webhook phishing.wave_detected).")
    warnings: list[WarningOut]

    @classmethod
    def of(cls, view: waves.WaveView) -> WaveOut:
        return cls(id=view.id, subject=view.subject, sender_domains=view.sender_domains,
                   link_domains=view.link_domains, reports=view.reports,
                   first_seen=view.first_seen, last_seen=view.last_seen,
                   detected_at=view.detected_at,
                   warnings=[_warning(w) for w in view.warnings])


def _warning(view: waves.WarningView) -> WarningOut:
    return WarningOut(id=view.id, wave_id=view.wave_id, country=view.country,
                      subject=view.subject, reference=view.reference,
                      created_by=view.created_by, created_at=view.created_at)


class SampleOut(BaseModel):
    received_at: datetime
    subject: str
    sender_domain: str
    link_domains: list[str]
    verdict: str
    reasons: list[str]


class WaveList(BaseModel):
    items: list[WaveOut]


class WaveDetailOut(WaveOut):
    samples: list[SampleOut]
    by_day: list[InboundDay] = Field(description="Reports per day, the last 14 days.")


@router.get("/v1/phishing/waves", response_model=WaveList, responses=problem_responses(401, 422),
            summary="Phishing waves")
async def list_waves(container: ContainerDep, key: ReadKey,
                     limit: Annotated[int, Query(ge=1, le=200)] = 50) -> Response:
    """Reports grouped by sender domain, link domains and a fingerprint of subject and body,
    most recently active first (the ``limit`` most recent)."""
    items = await run(container, waves.list_waves, container.deps, limit=limit)
    return json_response(WaveList(items=[WaveOut.of(w) for w in items]))


@router.get("/v1/phishing/waves/{wave_id}", response_model=WaveDetailOut,
            responses=problem_responses(401, 404), summary="One phishing wave")
async def get_wave(wave_id: WaveId, container: ContainerDep, key: ReadKey) -> Response:
    detail = await run(container, waves.get_wave, container.deps, wave_id)
    base = WaveOut.of(detail.wave)
    return json_response(WaveDetailOut(
        **base.model_dump(), samples=[SampleOut(
            received_at=s.received_at, subject=s.subject, sender_domain=s.sender_domain,
            link_domains=s.link_domains, verdict=s.verdict, reasons=s.reasons)
            for s in detail.samples],
        by_day=[InboundDay(day=d, counts={"reports": n}) for d, n in detail.by_day]))


class WarningIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    country: str | None = Field(None, min_length=2, max_length=2, examples=["DE"],
                                description="Warn the sellers of one country; null: everyone.")


@router.post("/v1/phishing/waves/{wave_id}/warnings", response_model=WarningOut, status_code=201,
             responses=problem_responses(401, 404, 422), summary="Warn sellers about a wave")
async def publish_warning(wave_id: WaveId, body: WarningIn, container: ContainerDep,
                          key: AdminKey) -> Response:
    """A Seller Center banner and a message-center notice ("a fake email titled … is
    circulating; we never ask you to reply with your password or codes") for every seller,
    or the sellers of ``country``, linking to the checker page."""
    view = await run(container, waves.publish_warning, container.deps, wave_id,
                     country=body.country, actor=actor_of(key))
    return json_response(_warning(view), status_code=201)
