"""Repositories for policy, per-account compliance, signals, webhooks and the audit log."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Connection, Row, delete, func, insert, select, tuple_, update
from sqlalchemy.dialects import postgresql, sqlite

from contactguard.adapters.db import tables as t
from contactguard.domain.audit import GENESIS, Actor, ActorKind, AuditEntry
from contactguard.domain.contacts import Channel, ContactKind
from contactguard.domain.messages import MessageStatus
from contactguard.domain.webhooks import EventType, WebhookEndpoint

#: Stored instead of NULL so that (state, deadline, account_id) is a total order.
NO_DEADLINE = datetime(9999, 12, 31, tzinfo=UTC)


class PolicyRepository:
    def __init__(self, conn: Connection) -> None:
        self._conn = conn

    def current(self) -> dict[str, Any] | None:
        row = self._conn.execute(select(t.policy_versions.c.document)
                                 .order_by(t.policy_versions.c.id.desc()).limit(1)).first()
        return dict(row.document) if row else None

    def save(self, document: dict[str, Any], now: datetime) -> None:
        self._conn.execute(insert(t.policy_versions).values(document=document, created_at=now))


class ComplianceRepository:
    """The denormalised compliance row of each account (listing by state, periodic rechecks)."""

    def __init__(self, conn: Connection) -> None:
        self._conn = conn

    def get(self, account_id: int, *, for_update: bool = False) -> Row[Any] | None:
        query = select(t.account_compliance).where(t.account_compliance.c.account_id == account_id)
        if for_update:
            query = query.with_for_update()
        return self._conn.execute(query).first()

    def save(self, account_id: int, *, state: str, deadline: datetime | None, eligible: bool,
             reasons: list[str], recheck_at: datetime | None, now: datetime,
             exists: bool) -> None:
        values = {"state": state, "deadline": deadline or NO_DEADLINE, "eligible": eligible,
                  "reasons": reasons, "recheck_at": recheck_at, "updated_at": now}
        c = t.account_compliance.c
        if exists:
            self._conn.execute(update(t.account_compliance).where(c.account_id == account_id)
                               .values(**values))
        else:
            self._conn.execute(insert(t.account_compliance).values(account_id=account_id,
                                                                   **values))

    def due_for_recheck(self, now: datetime, limit: int) -> list[int]:
        c = t.account_compliance.c
        query = (select(c.account_id).where(c.recheck_at <= now)
                 .order_by(c.recheck_at, c.account_id).limit(limit))
        if self._conn.dialect.name == "postgresql":
            query = query.with_for_update(skip_locked=True)
        return list(self._conn.execute(query).scalars())

    def recheck_all(self, now: datetime) -> int:
        """Mark every account for recomputation (after a policy change)."""
        result = self._conn.execute(update(t.account_compliance).values(recheck_at=now))
        return int(result.rowcount)

    def page(self, *, state: str, limit: int,
             after: tuple[datetime, int] | None) -> list[Row[Any]]:
        """Accounts in ``state`` by deadline then id, after the keyset ``after``."""
        c = t.account_compliance.c
        query = (select(c.account_id, c.state, c.deadline, c.eligible, c.reasons, c.updated_at,
                        t.accounts.c.external_id, t.accounts.c.name)
                 .join(t.accounts, t.accounts.c.id == c.account_id)
                 .where(c.state == state))
        if after is not None:
            query = query.where(tuple_(c.deadline, c.account_id) > tuple_(after[0], after[1]))
        return list(self._conn.execute(query.order_by(c.deadline, c.account_id).limit(limit)))

    def counts(self) -> dict[str, int]:
        c = t.account_compliance.c
        return {row.state: row.n for row in self._conn.execute(
            select(c.state, func.count().label("n")).group_by(c.state))}


class SignalRepository:
    def __init__(self, conn: Connection) -> None:
        self._conn = conn

    def get(self, account_id: int) -> dict[str, float]:
        row = self._conn.execute(select(t.account_signals.c.signals)
                                 .where(t.account_signals.c.account_id == account_id)).first()
        return dict(row.signals) if row else {}

    def save(self, account_id: int, signals: dict[str, float], now: datetime) -> None:
        c = t.account_signals.c
        done = self._conn.execute(update(t.account_signals).where(c.account_id == account_id)
                                  .values(signals=signals, updated_at=now))
        if done.rowcount == 0:
            self._conn.execute(insert(t.account_signals).values(
                account_id=account_id, signals=signals, updated_at=now))


class ContactChangeRepository:
    def __init__(self, conn: Connection) -> None:
        self._conn = conn

    def record(self, account_id: int, kind: ContactKind, now: datetime) -> None:
        self._conn.execute(insert(t.contact_changes).values(account_id=account_id,
                                                            kind=kind.value, changed_at=now))

    def since(self, account_id: int, since: datetime) -> list[datetime]:
        c = t.contact_changes.c
        return list(self._conn.execute(
            select(c.changed_at).where(c.account_id == account_id, c.changed_at > since)
            .order_by(c.changed_at)).scalars())

    def purge_before(self, moment: datetime) -> int:
        result = self._conn.execute(delete(t.contact_changes)
                                    .where(t.contact_changes.c.changed_at < moment))
        return int(result.rowcount)


def _endpoint(row: Row[Any]) -> WebhookEndpoint:
    m = row._mapping
    return WebhookEndpoint(
        id=m["id"], url=m["url"], events=[EventType(e) for e in m["events"]],
        description=m["description"], enabled=m["enabled"], disabled_reason=m["disabled_reason"],
        failure_streak=m["failure_streak"], created_at=m["created_at"],
        updated_at=m["updated_at"])


class WebhookRepository:
    def __init__(self, conn: Connection) -> None:
        self._conn = conn

    def add(self, *, url: str, description: str, events: Sequence[EventType], sealed_secret: str,
            now: datetime) -> WebhookEndpoint:
        new_id = self._conn.execute(insert(t.webhook_endpoints).values(
            url=url, description=description, events=[e.value for e in events],
            secret=sealed_secret, enabled=True, failure_streak=0, created_at=now, updated_at=now,
        ).returning(t.webhook_endpoints.c.id)).scalar_one()
        return WebhookEndpoint(id=new_id, url=url, events=list(events), description=description,
                               enabled=True, disabled_reason=None, failure_streak=0,
                               created_at=now, updated_at=now)

    def get(self, endpoint_id: int) -> WebhookEndpoint | None:
        row = self._conn.execute(select(t.webhook_endpoints)
                                 .where(t.webhook_endpoints.c.id == endpoint_id)).first()
        return _endpoint(row) if row else None

    def sealed_secret(self, endpoint_id: int) -> str | None:
        return self._conn.execute(select(t.webhook_endpoints.c.secret)
                                  .where(t.webhook_endpoints.c.id == endpoint_id)).scalar()

    def all(self) -> list[WebhookEndpoint]:
        return [_endpoint(r) for r in self._conn.execute(
            select(t.webhook_endpoints).order_by(t.webhook_endpoints.c.id))]

    def enabled_for(self, event: EventType) -> list[WebhookEndpoint]:
        rows = self._conn.execute(select(t.webhook_endpoints)
                                  .where(t.webhook_endpoints.c.enabled.is_(True)))
        return [e for e in map(_endpoint, rows) if e.wants(event)]

    def update(self, endpoint_id: int, now: datetime, **values: Any) -> bool:
        if "events" in values:
            values["events"] = [EventType(e).value for e in values["events"]]
        result = self._conn.execute(update(t.webhook_endpoints)
                                    .where(t.webhook_endpoints.c.id == endpoint_id)
                                    .values(updated_at=now, **values))
        return result.rowcount == 1

    def delete(self, endpoint_id: int) -> bool:
        result = self._conn.execute(delete(t.webhook_endpoints)
                                    .where(t.webhook_endpoints.c.id == endpoint_id))
        return result.rowcount == 1

    def record_outcome(self, endpoint_id: int, *, failed: bool, now: datetime) -> int:
        """Reset or grow the endpoint's run of failed deliveries; returns the new run."""
        c = t.webhook_endpoints.c
        streak = 0 if not failed else c.failure_streak + 1
        self._conn.execute(update(t.webhook_endpoints).where(c.id == endpoint_id)
                           .values(failure_streak=streak, updated_at=now))
        return int(self._conn.execute(select(c.failure_streak).where(c.id == endpoint_id))
                   .scalar() or 0)

    def deliveries(self, endpoint_id: int, *, limit: int, before_id: int | None) -> list[Row[Any]]:
        c = t.outbox.c
        query = select(t.outbox).where(c.channel == Channel.WEBHOOK.value,
                                       c.recipient == str(endpoint_id))
        if before_id is not None:
            query = query.where(c.id < before_id)
        return list(self._conn.execute(query.order_by(c.id.desc()).limit(limit)))

    def delivery(self, delivery_id: int) -> Row[Any] | None:
        c = t.outbox.c
        return self._conn.execute(select(t.outbox).where(
            c.id == delivery_id, c.channel == Channel.WEBHOOK.value)).first()

    def requeue(self, delivery_id: int, now: datetime) -> bool:
        """Send a delivery again from scratch (a replay); not while a worker holds it."""
        c = t.outbox.c
        result = self._conn.execute(update(t.outbox).where(
            c.id == delivery_id, c.channel == Channel.WEBHOOK.value,
            c.status != MessageStatus.SENDING.value,
        ).values(status=MessageStatus.PENDING.value, attempts=0, available_at=now,
                 last_error=None, lease_owner=None, lease_expires_at=None))
        return result.rowcount == 1


def _entry(row: Row[Any]) -> AuditEntry:
    m = row._mapping
    return AuditEntry(seq=m["seq"], at=m["at"],
                      actor=Actor(ActorKind(m["actor_kind"]), m["actor_id"], m["actor_label"]),
                      action=m["action"], subject=m["subject"], before=m["before"],
                      after=m["after"], prev_hash=m["prev_hash"], hash=m["hash"])


class AuditRepository:
    def __init__(self, conn: Connection) -> None:
        self._conn = conn

    def lock_head(self) -> tuple[int, str]:
        """The chain's head, locked until the transaction ends (appends are serialised)."""
        c = t.audit_head.c
        query = select(c.seq, c.hash).where(c.id == 1)
        if self._conn.dialect.name == "postgresql":
            query = query.with_for_update()
        row = self._conn.execute(query).first()
        if row is None:
            dialect = postgresql if self._conn.dialect.name == "postgresql" else sqlite
            self._conn.execute(dialect.insert(t.audit_head).values(id=1, seq=0, hash=GENESIS)
                               .on_conflict_do_nothing())
            row = self._conn.execute(query).one()
        return int(row.seq), str(row.hash)

    def head(self) -> tuple[int, str]:
        row = self._conn.execute(select(t.audit_head.c.seq, t.audit_head.c.hash)
                                 .where(t.audit_head.c.id == 1)).first()
        return (int(row.seq), str(row.hash)) if row else (0, GENESIS)

    def append(self, entry: AuditEntry) -> None:
        self._conn.execute(insert(t.audit_log).values(
            seq=entry.seq, at=entry.at, actor_kind=entry.actor.kind.value,
            actor_id=entry.actor.id, actor_label=entry.actor.label, action=entry.action,
            subject=entry.subject, before=entry.before, after=entry.after,
            prev_hash=entry.prev_hash, hash=entry.hash))
        self._conn.execute(update(t.audit_head).where(t.audit_head.c.id == 1)
                           .values(seq=entry.seq, hash=entry.hash))

    def after(self, seq: int, limit: int) -> list[AuditEntry]:
        c = t.audit_log.c
        return [_entry(r) for r in self._conn.execute(
            select(t.audit_log).where(c.seq > seq).order_by(c.seq).limit(limit))]

    def newest(self, *, limit: int, before_seq: int | None, subject: str | None
               ) -> list[AuditEntry]:
        c = t.audit_log.c
        query = select(t.audit_log)
        if before_seq is not None:
            query = query.where(c.seq < before_seq)
        if subject is not None:
            query = query.where(c.subject == subject)
        return [_entry(r) for r in self._conn.execute(query.order_by(c.seq.desc()).limit(limit))]
