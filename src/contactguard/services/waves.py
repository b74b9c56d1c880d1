"""Phishing waves (issue 9): reports grouped by sender domain, link domains and a MinHash
fingerprint of subject and body; counts over time; warnings an admin publishes to every
seller or one country (a Seller Center banner and a message-center notice).
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from contactguard.domain.audit import SYSTEM, Actor
from contactguard.domain.messages import new_reference
from contactguard.domain.webhooks import EventType
from contactguard.errors import FieldError, NotFound, ValidationFailed
from contactguard.ports import UnitOfWork
from contactguard.services import audit, webhooks
from contactguard.services.deps import Deps

log = logging.getLogger("contactguard.waves")

#: Reports join a wave seen within this window.
WAVE_WINDOW = timedelta(days=30)
#: A published warning stays on the seller's dashboard this long (it stays in the messages).
WARNING_BANNER_DAYS = 30
_CANDIDATES = 500
_MAX_DOMAINS = 20
_COUNTRY = re.compile(r"^[A-Z]{2}$")
#: Similarity above which reports are one wave even with other sender and link domains.
_ALONE_MARGIN = 0.25


@dataclass(frozen=True, slots=True)
class WarningView:
    id: int
    wave_id: int
    country: str | None  # None: every seller
    subject: str
    reference: str
    created_by: str
    created_at: datetime


@dataclass(frozen=True, slots=True)
class WaveView:
    id: int
    subject: str
    sender_domains: list[str]
    link_domains: list[str]
    reports: int
    first_seen: datetime
    last_seen: datetime
    detected_at: datetime | None
    warnings: list[WarningView]


@dataclass(frozen=True, slots=True)
class ReportSample:
    id: int
    received_at: datetime
    subject: str
    sender_domain: str
    link_domains: list[str]
    verdict: str
    reasons: list[str]
    reporter: str  # masked


@dataclass(frozen=True, slots=True)
class WaveDetail:
    wave: WaveView
    samples: list[ReportSample]
    by_day: list[tuple[date, int]]  # the last 14 days, oldest first


def assign_wave(deps: Deps, uow: UnitOfWork, *, subject: str, sender_domain: str,
                link_domains: list[str], fingerprint: list[int], reporter_hash: str = "") -> int:
    """Put one report in its wave (a recent wave it resembles, else a new one), in the
    caller's transaction; returns the wave's id. A reporter counts once per wave (forwarding
    the same campaign again does not grow it). A wave reaching the threshold is announced
    once (webhook ``phishing.wave_detected``, audited)."""
    fingerprints = deps.fingerprints
    assert fingerprints is not None
    now = deps.clock.now()
    threshold = deps.inbound.wave_similarity
    best: tuple[float, Any] | None = None
    for wave in uow.inbound.recent_waves(now - WAVE_WINDOW, limit=_CANDIDATES):
        similarity = fingerprints.similarity(fingerprint, list(wave.signature or []))
        if similarity < threshold:
            continue
        related = (sender_domain and sender_domain in (wave.sender_domains or [])) or \
            bool(set(link_domains) & set(wave.link_domains or []))
        if not related and similarity < min(1.0, threshold + _ALONE_MARGIN):
            continue
        if best is None or similarity > best[0]:
            best = (similarity, wave)
    if best is None:
        return int(uow.inbound.add_wave(
            subject=subject[:300], sender_domains=[sender_domain] if sender_domain else [],
            link_domains=link_domains[:_MAX_DOMAINS], signature=fingerprint, reports=1,
            first_seen=now, last_seen=now, detected_at=None))
    wave = best[1]
    if reporter_hash and uow.inbound.reported_in_wave(wave.id, reporter_hash):
        return int(wave.id)
    senders = _merged(wave.sender_domains, [sender_domain] if sender_domain else [])
    links = _merged(wave.link_domains, link_domains)
    reports = uow.inbound.grow_wave(wave.id, now=now, sender_domains=senders, link_domains=links)
    if reports >= deps.inbound.wave_threshold and uow.inbound.mark_detected(wave.id, now):
        data = {"wave_id": wave.id, "subject": wave.subject, "reports": reports,
                "sender_domains": senders, "link_domains": links,
                "first_seen": wave.first_seen.isoformat().replace("+00:00", "Z")}
        audit.record(deps, uow, SYSTEM, "phishing.wave_detected", f"wave:{wave.id}",
                     after={"reports": reports, "sender_domains": senders[:5]})
        webhooks.emit(deps, uow, EventType.PHISHING_WAVE_DETECTED, data)
        log.warning("phishing wave detected", extra={"wave": wave.id, "reports": reports})
    return int(wave.id)


def _merged(current: list[str] | None, new: list[str]) -> list[str]:
    return list(dict.fromkeys([*(current or []), *new]))[:_MAX_DOMAINS]


def list_waves(deps: Deps, *, limit: int = 50) -> list[WaveView]:
    """The ``limit`` most recently active waves, newest activity first. Raises
    ValidationFailed (limit out of 1..200)."""
    if not 1 <= limit <= 200:
        raise ValidationFailed("limit must be between 1 and 200",
                               errors=[FieldError("limit", "1-200", "out_of_range")])
    with deps.reader() as uow:
        rows = uow.inbound.waves(limit=limit)
        warnings = uow.inbound.warnings_of([r.id for r in rows])
    return [_wave(row, warnings) for row in rows]


def get_wave(deps: Deps, wave_id: int) -> WaveDetail:
    """A wave with its newest reports (samples) and reports per day. Raises NotFound."""
    now = deps.clock.now()
    with deps.reader() as uow:
        row = uow.inbound.wave(wave_id)
        if row is None:
            raise NotFound(f"no phishing wave {wave_id}")
        samples = uow.inbound.reports_of_wave(wave_id, limit=10)
        warnings = uow.inbound.warnings_of([wave_id])
        first_day = now.date() - timedelta(days=13)
        times = uow.inbound.report_times(wave_id, datetime.combine(
            first_day, datetime.min.time(), tzinfo=now.tzinfo))
    counts: dict[date, int] = {}
    for moment in times:
        counts[moment.date()] = counts.get(moment.date(), 0) + 1
    by_day = [(first_day + timedelta(days=i), counts.get(first_day + timedelta(days=i), 0))
              for i in range(14)]
    return WaveDetail(
        wave=_wave(row, warnings),
        samples=[ReportSample(id=s.id, received_at=s.received_at, subject=s.subject,
                              sender_domain=s.sender_domain, link_domains=list(s.link_domains),
                              verdict=s.verdict, reasons=list(s.reasons),
                              reporter=s.reporter_masked) for s in samples],
        by_day=by_day)


def publish_warning(deps: Deps, wave_id: int, *, country: str | None = None,
                    actor: Actor = SYSTEM) -> WarningView:
    """Warn every seller (``country`` None) or one country's about a wave: a dashboard banner
    and a message-center notice linking to the checker. Audited.

    Raises NotFound (no such wave), ValidationFailed (country not two letters).
    """
    code = (country or "").strip().upper() or None
    if code is not None and not _COUNTRY.match(code):
        raise ValidationFailed("country must be a two-letter code such as DE",
                               errors=[FieldError("country", "two letters (ISO 3166-1)",
                                                  "invalid_country")])
    now = deps.clock.now()
    with deps.uow() as uow:
        row = uow.inbound.wave(wave_id, for_update=True)
        if row is None:
            raise NotFound(f"no phishing wave {wave_id}")
        reference = new_reference()
        warning_id = uow.inbound.add_warning(
            wave_id=wave_id, country=code, subject=row.subject[:300], reference=reference,
            created_by=(actor.label or actor.id)[:200], created_at=now)
        audit.record(deps, uow, actor, "phishing.warning_published", f"wave:{wave_id}",
                     after={"country": code or "all", "reference": reference})
        uow.commit()
    return WarningView(warning_id, wave_id, code, row.subject, reference,
                       (actor.label or actor.id)[:200], now)


def warnings_for_account(deps: Deps, country: str, *, since: datetime | None = None,
                         limit: int = 20) -> list[WarningView]:
    """Warnings that reach sellers of ``country`` (newest first), published after ``since``
    (default: the banner period)."""
    start = since or deps.clock.now() - timedelta(days=WARNING_BANNER_DAYS)
    with deps.reader() as uow:
        rows = uow.inbound.warnings_for(country, start, limit=limit)
    return [_warning(r) for r in rows]


@dataclass(frozen=True, slots=True)
class InboundStats:
    totals: dict[str, int]
    by_day: list[tuple[str, dict[str, int]]]  # newest last


def inbound_stats(deps: Deps, *, days: int = 30) -> InboundStats:
    """How many reports, bounces, replies (and answers), dropped messages: all time and per
    day for the last ``days`` days."""
    since = (deps.clock.now().date() - timedelta(days=days - 1)).isoformat()
    with deps.reader() as uow:
        totals = uow.inbound.totals()
        rows = uow.inbound.counts(since)
    by_day: dict[str, dict[str, int]] = {}
    for row in rows:
        by_day.setdefault(row.day, {})[row.kind] = int(row.count)
    return InboundStats(totals=totals, by_day=sorted(by_day.items()))


def _warning(row: Any) -> WarningView:
    return WarningView(row.id, row.wave_id, row.country, row.subject, row.reference,
                       row.created_by, row.created_at)


def _wave(row: Any, warnings: list[Any]) -> WaveView:
    return WaveView(id=row.id, subject=row.subject, sender_domains=list(row.sender_domains),
                    link_domains=list(row.link_domains), reports=row.reports,
                    first_seen=row.first_seen, last_seen=row.last_seen,
                    detected_at=row.detected_at,
                    warnings=[_warning(w) for w in warnings if w.wave_id == row.id])
