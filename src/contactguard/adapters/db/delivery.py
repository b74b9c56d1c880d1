"""Delivery records: provider receipts and contacts a channel cannot reach."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import Connection, and_, delete, insert, select

from contactguard.adapters.db import tables as t
from contactguard.domain.contacts import Channel, Undeliverable


class DeliverabilityRepository:
    """Marks (and reads) channels that permanently failed for a contact's current value."""

    def __init__(self, conn: Connection) -> None:
        self._conn = conn

    def mark(self, *, account_id: int, recipient: str, channel: Channel, reason: str,
             now: datetime) -> int:
        """Mark every contact of the account whose value is ``recipient``; returns how many."""
        c = t.contacts.c
        ids = list(self._conn.execute(select(c.id).where(
            c.account_id == account_id, c.value == recipient)).scalars())
        u = t.contact_undeliverable.c
        for contact_id in ids:
            self._conn.execute(delete(t.contact_undeliverable).where(
                u.contact_id == contact_id, u.channel == channel.value))
            self._conn.execute(insert(t.contact_undeliverable).values(
                contact_id=contact_id, channel=channel.value, value=recipient,
                reason=reason[:2000], since=now))
        return len(ids)

    def for_contacts(self, contacts: Sequence[tuple[int, str]]
                     ) -> dict[int, tuple[Undeliverable, ...]]:
        """Marks by contact id, for ``(contact_id, current value)`` pairs (stale marks ignored)."""
        if not contacts:
            return {}
        values = dict(contacts)
        u = t.contact_undeliverable.c
        rows = self._conn.execute(select(t.contact_undeliverable).where(
            u.contact_id.in_(list(values))).order_by(u.id))
        found: dict[int, list[Undeliverable]] = {}
        for row in rows:
            if values.get(row.contact_id) != row.value:
                continue
            found.setdefault(row.contact_id, []).append(
                Undeliverable(Channel(row.channel), row.reason, row.since))
        return {key: tuple(marks) for key, marks in found.items()}


class ReceiptRepository:
    """Provider delivery receipts (status callbacks), attached to their outbox message."""

    def __init__(self, conn: Connection) -> None:
        self._conn = conn

    def add(self, *, outbox_id: int, provider: str, status: str, error_code: str | None,
            now: datetime) -> None:
        self._conn.execute(insert(t.delivery_receipts).values(
            outbox_id=outbox_id, provider=provider, status=status[:32],
            error_code=error_code[:16] if error_code else None, received_at=now))

    def for_message(self, outbox_id: int) -> list[tuple[str, str | None, datetime]]:
        r = t.delivery_receipts.c
        return [(row.status, row.error_code, row.received_at) for row in self._conn.execute(
            select(t.delivery_receipts).where(and_(r.outbox_id == outbox_id)).order_by(r.id))]
