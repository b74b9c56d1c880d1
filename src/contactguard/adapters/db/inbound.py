"""Inbound mail and phishing waves (issue 9): reports, waves, warnings, reply answers, counts."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Row, func, insert, or_, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from contactguard.adapters.db import tables as t
from contactguard.domain.contacts import ContactKind

_EMAIL_KINDS = [k.value for k in ContactKind if k.is_email]


class InboundRepository:
    def __init__(self, conn: Connection) -> None:
        self._conn = conn

    # --- counts ------------------------------------------------------------------------------
    def count(self, day: str, kind: str, n: int = 1) -> None:
        """Add ``n`` to the day's count of ``kind`` (an upsert: safe from parallel listeners)."""
        maker = pg_insert if self._conn.dialect.name == "postgresql" else sqlite_insert
        statement = maker(t.inbound_counts).values(day=day, kind=kind[:32], count=n)
        self._conn.execute(statement.on_conflict_do_update(
            index_elements=["day", "kind"],
            set_={"count": t.inbound_counts.c.count + statement.excluded.count}))

    def counts(self, since_day: str) -> list[Row[Any]]:
        c = t.inbound_counts.c
        return list(self._conn.execute(select(t.inbound_counts).where(c.day >= since_day)
                                       .order_by(c.day, c.kind)))

    def totals(self) -> dict[str, int]:
        c = t.inbound_counts.c
        return {row.kind: int(row.total) for row in self._conn.execute(
            select(c.kind, func.sum(c.count).label("total")).group_by(c.kind))}

    # --- who an address is ---------------------------------------------------------------------
    def email_contacts(self, address: str) -> list[Row[Any]]:
        """Email contacts (any account) whose current or verified value is ``address``."""
        c = t.contacts.c
        return list(self._conn.execute(
            select(c.id, c.account_id, c.value, c.verified_value)
            .where(c.kind.in_(_EMAIL_KINDS),
                   or_(func.lower(c.value) == address, func.lower(c.verified_value) == address))
            .order_by(c.account_id).limit(20)))

    # --- reports -------------------------------------------------------------------------------
    def add_report(self, **values: Any) -> int:
        return int(self._conn.execute(insert(t.inbound_reports).values(**values)
                                      .returning(t.inbound_reports.c.id)).scalar_one())

    def answered_since(self, reporter_hash: str, since: datetime) -> int:
        r = t.inbound_reports.c
        return int(self._conn.execute(select(func.count()).select_from(t.inbound_reports).where(
            r.reporter_hash == reporter_hash, r.received_at >= since, r.answered.is_(True))
        ).scalar_one())

    def reports_of_wave(self, wave_id: int, *, limit: int) -> list[Row[Any]]:
        r = t.inbound_reports.c
        return list(self._conn.execute(select(t.inbound_reports).where(r.wave_id == wave_id)
                                       .order_by(r.id.desc()).limit(limit)))

    def reported_in_wave(self, wave_id: int, reporter_hash: str) -> bool:
        r = t.inbound_reports.c
        return self._conn.execute(select(r.id).where(
            r.wave_id == wave_id, r.reporter_hash == reporter_hash).limit(1)).first() is not None

    def report_times(self, wave_id: int, since: datetime) -> list[datetime]:
        r = t.inbound_reports.c
        return list(self._conn.execute(select(r.received_at).where(
            r.wave_id == wave_id, r.received_at >= since).order_by(r.received_at)).scalars())

    # --- waves ---------------------------------------------------------------------------------
    def recent_waves(self, since: datetime, *, limit: int) -> list[Row[Any]]:
        w = t.phishing_waves.c
        return list(self._conn.execute(select(t.phishing_waves).where(w.last_seen >= since)
                                       .order_by(w.last_seen.desc()).limit(limit)))

    def wave(self, wave_id: int, *, for_update: bool = False) -> Row[Any] | None:
        query = select(t.phishing_waves).where(t.phishing_waves.c.id == wave_id)
        if for_update and self._conn.dialect.name == "postgresql":
            query = query.with_for_update()
        return self._conn.execute(query).first()

    def waves(self, *, limit: int) -> list[Row[Any]]:
        w = t.phishing_waves.c
        return list(self._conn.execute(select(t.phishing_waves)
                                       .order_by(w.last_seen.desc(), w.id.desc()).limit(limit)))

    def add_wave(self, **values: Any) -> int:
        return int(self._conn.execute(insert(t.phishing_waves).values(**values)
                                      .returning(t.phishing_waves.c.id)).scalar_one())

    def grow_wave(self, wave_id: int, *, now: datetime, sender_domains: list[str],
                  link_domains: list[str]) -> int:
        """Count one more report (atomically); returns the wave's new number of reports."""
        w = t.phishing_waves.c
        self._conn.execute(update(t.phishing_waves).where(w.id == wave_id).values(
            reports=w.reports + 1, last_seen=now, sender_domains=sender_domains,
            link_domains=link_domains))
        return int(self._conn.execute(select(w.reports).where(w.id == wave_id)).scalar_one())

    def mark_detected(self, wave_id: int, now: datetime) -> bool:
        """Set ``detected_at`` once; True for the caller that set it."""
        w = t.phishing_waves.c
        return bool(self._conn.execute(update(t.phishing_waves).where(
            w.id == wave_id, w.detected_at.is_(None)).values(detected_at=now)).rowcount)

    # --- warnings ------------------------------------------------------------------------------
    def add_warning(self, **values: Any) -> int:
        return int(self._conn.execute(insert(t.phishing_warnings).values(**values)
                                      .returning(t.phishing_warnings.c.id)).scalar_one())

    def warnings_for(self, country: str, since: datetime, *, limit: int = 20) -> list[Row[Any]]:
        """Warnings to every seller or to ``country``, published after ``since``, newest first."""
        p = t.phishing_warnings.c
        return list(self._conn.execute(select(t.phishing_warnings).where(
            or_(p.country.is_(None), p.country == country), p.created_at >= since)
            .order_by(p.created_at.desc(), p.id.desc()).limit(limit)))

    def warnings_of(self, wave_ids: Sequence[int]) -> list[Row[Any]]:
        if not wave_ids:
            return []
        p = t.phishing_warnings.c
        return list(self._conn.execute(select(t.phishing_warnings).where(
            p.wave_id.in_(list(wave_ids))).order_by(p.id)))

    # --- replies -------------------------------------------------------------------------------
    def claim_reply_answer(self, account_id: int, original: str, now: datetime) -> bool:
        """Record that the reply to ``original`` is answered; False when it already was (also
        when a parallel reply claimed it a moment earlier: the primary key decides)."""
        maker = pg_insert if self._conn.dialect.name == "postgresql" else sqlite_insert
        claimed = self._conn.execute(
            maker(t.reply_answers).values(account_id=account_id, original=original[:255],
                                          answered_at=now)
            .on_conflict_do_nothing().returning(t.reply_answers.c.account_id)).first()
        return claimed is not None

    # --- campaigns ---------------------------------------------------------------------------
    def campaign_bounces(self, campaign_id: int) -> int:
        """Campaign emails whose recipient bounced afterwards (the contact is still marked)."""
        s, o, c, u = (t.campaign_steps.c, t.outbox.c, t.contacts.c, t.contact_undeliverable.c)
        joined = (t.campaign_steps
                  .join(t.outbox, (o.reference == s.reference) & (o.account_id == s.account_id))
                  .join(t.contacts, (c.account_id == o.account_id) & (c.value == o.recipient))
                  .join(t.contact_undeliverable,
                        (u.contact_id == c.id) & (u.channel == "email")
                        & (u.value == o.recipient) & (u.since >= o.created_at)))
        return int(self._conn.execute(
            select(func.count(func.distinct(o.id))).select_from(joined)
            .where(s.campaign_id == campaign_id, o.channel == "email")).scalar_one())
