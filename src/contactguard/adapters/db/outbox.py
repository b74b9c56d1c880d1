"""The transactional outbox: messages written with the change that caused them, claimed by workers."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Connection, Row, String, any_, bindparam, insert, or_, select, text, update
from sqlalchemy.dialects.postgresql import ARRAY

from contactguard.adapters.db import tables as t
from contactguard.adapters.db.bulk import bulk_insert
from contactguard.domain.contacts import CODE_CHANNELS, Channel
from contactguard.domain.messages import (
    CODE_KINDS,
    Lane,
    MessageKind,
    MessageStatus,
    OutboundMessage,
    StoredMessage,
)

_OPEN = (MessageStatus.PENDING.value, MessageStatus.SENDING.value)
#: The columns a bulk insert (:meth:`OutboxRepository.add_many`) writes.
MANY_COLUMNS = ("reference", "account_id", "kind", "channel", "recipient", "locale", "params",
                "secret", "status", "attempts", "available_at", "created_at", "lane")


def lane_for(kind: MessageKind | str, channel: Channel | str) -> str:
    """The ``outbox.lane`` value of a message of ``kind`` on ``channel``: use it for every insert.

    ``OutboxRepository.add`` calls it; code that inserts outbox rows in bulk (campaigns:
    ``insert(t.outbox)`` with executemany or COPY) must set ``lane=lane_for(kind, channel)``
    on each row too. One-time codes on a code channel (SMS, voice, email) go to the ``code``
    lane, webhook deliveries to the ``webhook`` lane, and everything else, including any new
    kind, to the ``default`` lane. Each lane has its own delivery threads (``worker.py``), so
    nothing queued in another lane can delay a code.
    """
    channel_value = Channel(channel)
    if channel_value is Channel.WEBHOOK:
        return Lane.WEBHOOK.value
    if MessageKind(kind) in CODE_KINDS and channel_value in CODE_CHANNELS:
        return Lane.CODE.value
    return Lane.DEFAULT.value


class OutboxRepository:
    def __init__(self, conn: Connection, *, on_add: Callable[[str], None] | None = None) -> None:
        self._conn = conn
        self._on_add = on_add

    def add(self, message: OutboundMessage, *, sealed_secret: str | None, now: datetime) -> int:
        lane = lane_for(message.kind, message.channel)
        if self._on_add is not None:
            self._on_add(lane)
        return int(self._conn.execute(insert(t.outbox).values(
            reference=message.reference, account_id=message.account_id, kind=message.kind.value,
            channel=message.channel.value, recipient=message.recipient, locale=message.locale,
            params=message.params, secret=sealed_secret, challenge_id=message.challenge_id,
            not_after=message.not_after, status=MessageStatus.PENDING.value, attempts=0,
            available_at=now, created_at=now, lane=lane,
        ).returning(t.outbox.c.id)).scalar_one())

    def add_many(self, rows: Sequence[Mapping[str, Any]]) -> int:
        """Write many messages in one go (campaign fan-out); returns how many.

        Every bulk write to the outbox goes through here: each row holds the
        :data:`MANY_COLUMNS` but ``lane``, which is computed here with :func:`lane_for`
        (``status`` pending, ``attempts`` 0, secrets already sealed).
        PostgreSQL: one ``COPY``; SQLite: one executemany.
        """
        if not rows:
            return 0
        with_lanes = [{**row, "lane": lane_for(row["kind"], row["channel"])} for row in rows]
        if self._on_add is not None:
            for lane in {row["lane"] for row in with_lanes}:
                self._on_add(lane)
        return bulk_insert(self._conn, t.outbox, MANY_COLUMNS, with_lanes)

    def add_planned(self, *, kind: MessageKind, now: datetime) -> int:
        """Write the email/SMS messages of the campaign notices staged by
        ``CampaignRepository.stage_plan`` and written by ``add_staged_steps`` (PostgreSQL),
        in one INSERT ... SELECT: one row per reachable channel, the notice's reference, the
        parameters with the account's name, lane from :func:`lane_for`, no secret yet
        (:meth:`seal_planned` adds them). Returns how many."""
        lanes = {channel: lane_for(kind, channel) for channel in (Channel.EMAIL, Channel.SMS)}
        added = int(self._conn.execute(_ADD_PLANNED, {
            "kind": kind.value, "now": now, "email_lane": lanes[Channel.EMAIL],
            "sms_lane": lanes[Channel.SMS], "status": MessageStatus.PENDING.value}).rowcount)
        if added and self._on_add is not None:
            for lane in set(lanes.values()):
                self._on_add(lane)
        return added

    def seal_planned(self, secrets: Sequence[tuple[str, str]]) -> int:
        """Set the sealed secret of the planned email of each (reference, sealed secret)."""
        if not secrets:
            return 0
        return int(self._conn.execute(_SEAL_PLANNED, {
            "references": [r for r, _ in secrets], "secrets": [s for _, s in secrets]}).rowcount)

    def claim_due(self, *, now: datetime, owner: str, lease: timedelta, limit: int,
                  lanes: Sequence[Lane] | None = None) -> list[tuple[StoredMessage, str | None]]:
        """Lease up to ``limit`` due messages of ``lanes`` (default: all) to ``owner``.

        Expired leases are taken over. On PostgreSQL, ``FOR UPDATE SKIP LOCKED`` lets any
        number of workers claim disjoint batches. Returns each message with its still-sealed
        secret.
        """
        c = t.outbox.c
        due = or_(
            (c.status == MessageStatus.PENDING.value) & (c.available_at <= now),
            (c.status == MessageStatus.SENDING.value) & (c.lease_expires_at < now),
        )
        if lanes is not None:
            due = (c.lane == lanes[0].value) & due if len(lanes) == 1 else (
                c.lane.in_([lane.value for lane in lanes]) & due)
        ids_query = select(c.id).where(due).order_by(c.available_at, c.id).limit(limit)
        if self._conn.dialect.name == "postgresql":
            ids_query = ids_query.with_for_update(skip_locked=True)
        ids = list(self._conn.execute(ids_query).scalars())
        if not ids:
            return []
        rows = self._conn.execute(
            update(t.outbox).where(c.id.in_(ids), due)
            .values(status=MessageStatus.SENDING.value, lease_owner=owner,
                    lease_expires_at=now + lease, attempts=c.attempts + 1)
            .returning(*t.outbox.c)
        ).all()
        return sorted(((_stored(row), row.secret) for row in rows), key=lambda pair: pair[0].id)

    def finish(self, message_id: int, *, owner: str, status: MessageStatus, now: datetime,
               provider: str | None = None, provider_message_id: str | None = None,
               error: str | None = None) -> bool:
        """Close a leased message (sent, failed, expired); wipes its secret."""
        c = t.outbox.c
        values: dict[str, Any] = {"status": status.value, "secret": None, "lease_owner": None,
                                  "lease_expires_at": None, "last_error": error}
        if provider:
            values["provider"] = provider
        if provider_message_id:
            values["provider_message_id"] = provider_message_id
        if status is MessageStatus.SENT:
            values["sent_at"] = now
        result = self._conn.execute(update(t.outbox).where(
            c.id == message_id, c.status == MessageStatus.SENDING.value, c.lease_owner == owner
        ).values(**values))
        return result.rowcount == 1

    def retry_later(self, message_id: int, *, owner: str, available_at: datetime,
                    error: str) -> bool:
        c = t.outbox.c
        result = self._conn.execute(update(t.outbox).where(
            c.id == message_id, c.status == MessageStatus.SENDING.value, c.lease_owner == owner
        ).values(status=MessageStatus.PENDING.value, available_at=available_at,
                 lease_owner=None, lease_expires_at=None, last_error=error,
                 handed_over_at=None))
        return result.rowcount == 1

    def cancel_webhook_deliveries(self, endpoint_id: int) -> int:
        """Cancel an endpoint's deliveries that are not sent yet (the endpoint is deleted).

        Messages a worker holds right now are canceled too: their ``finish`` then finds no
        lease and records nothing.
        """
        c = t.outbox.c
        result = self._conn.execute(update(t.outbox).where(
            c.channel == Channel.WEBHOOK.value, c.recipient == str(endpoint_id),
            c.status.in_(_OPEN),
        ).values(status=MessageStatus.CANCELED.value, secret=None, lease_owner=None,
                 lease_expires_at=None, last_error="canceled: the endpoint was deleted"))
        return int(result.rowcount)

    def hand_over(self, message_id: int, *, owner: str, now: datetime) -> bool:
        """Record that ``owner`` is about to let the transport accept the message.

        False when the lease was lost (another worker owns the message now): do not send.
        """
        c = t.outbox.c
        result = self._conn.execute(update(t.outbox).where(
            c.id == message_id, c.status == MessageStatus.SENDING.value, c.lease_owner == owner
        ).values(handed_over_at=now))
        return result.rowcount == 1

    def release(self, message_ids: list[int], *, owner: str) -> int:
        """Give claimed, untouched messages back (graceful shutdown); the attempt is not counted."""
        if not message_ids:
            return 0
        c = t.outbox.c
        result = self._conn.execute(update(t.outbox).where(
            c.id.in_(message_ids), c.status == MessageStatus.SENDING.value,
            c.lease_owner == owner, c.handed_over_at.is_(None),
        ).values(status=MessageStatus.PENDING.value, lease_owner=None, lease_expires_at=None,
                 attempts=c.attempts - 1))
        return int(result.rowcount)

    def extend_leases(self, message_ids: list[int], *, owner: str, until: datetime) -> int:
        """Renew the lease of messages still owned by ``owner`` (long batches)."""
        if not message_ids:
            return 0
        c = t.outbox.c
        result = self._conn.execute(update(t.outbox).where(
            c.id.in_(message_ids), c.status == MessageStatus.SENDING.value,
            c.lease_owner == owner).values(lease_expires_at=until))
        return int(result.rowcount)

    def park(self, message_id: int, *, owner: str, status: MessageStatus,
             available_at: datetime) -> bool:
        """Give a claimed, unsent message back as ``status`` (pending later, held, canceled)
        without counting the attempt: a campaign paused, canceled, or in quiet hours now."""
        c = t.outbox.c
        values: dict[str, Any] = {"status": status.value, "available_at": available_at,
                                  "lease_owner": None, "lease_expires_at": None,
                                  "attempts": c.attempts - 1}
        if status is MessageStatus.CANCELED:
            values["secret"] = None
        result = self._conn.execute(update(t.outbox).where(
            c.id == message_id, c.status == MessageStatus.SENDING.value, c.lease_owner == owner,
            c.handed_over_at.is_(None)).values(**values))
        return result.rowcount == 1

    def restatus_references(self, references: Sequence[str], *, from_statuses: Sequence[str],
                            to_status: MessageStatus, available_at: datetime | None = None) -> int:
        """Move the unsent messages of these references (a campaign's steps) to another
        status: held on pause, pending on resume, canceled on cancel."""
        if not references:
            return 0
        c = t.outbox.c
        values: dict[str, Any] = {"status": to_status.value}
        if available_at is not None:
            values["available_at"] = available_at
        if to_status is MessageStatus.CANCELED:
            values["secret"] = None
        if self._conn.dialect.name == "postgresql":  # one array parameter for thousands
            matches = c.reference == any_(bindparam(None, list(references),
                                                    type_=ARRAY(String())))
        else:
            matches = c.reference.in_(list(references))
        result = self._conn.execute(update(t.outbox).where(
            matches, c.status.in_(list(from_statuses)),
            c.challenge_id.is_(None)).values(**values))
        return int(result.rowcount)

    def by_provider_id(self, provider_message_id: str) -> Row[Any] | None:
        c = t.outbox.c
        return self._conn.execute(select(t.outbox).where(
            c.provider_message_id == provider_message_id).order_by(c.id.desc()).limit(1)).first()

    def cancel_for_challenge(self, challenge_id: str) -> int:
        """Drop not-yet-sent codes of a challenge (a resend or a new challenge replaced them)."""
        c = t.outbox.c
        result = self._conn.execute(update(t.outbox).where(
            c.challenge_id == challenge_id, c.status == MessageStatus.PENDING.value
        ).values(status=MessageStatus.CANCELED.value, secret=None))
        return int(result.rowcount)

    def get(self, message_id: int) -> Row[Any] | None:
        return self._conn.execute(select(t.outbox).where(t.outbox.c.id == message_id)).first()

    def for_account(self, account_id: int, *, limit: int) -> list[Row[Any]]:
        c = t.outbox.c
        return list(self._conn.execute(
            select(t.outbox).where(c.account_id == account_id)
            .order_by(c.created_at.desc(), c.id.desc()).limit(limit)))

    def pending_count(self) -> int:
        from contactguard.adapters.db.repositories import count_rows

        return count_rows(self._conn, t.outbox, t.outbox.c.status.in_(_OPEN))


def _stored(row: Row[Any]) -> StoredMessage:
    m = row._mapping
    return StoredMessage(
        id=m["id"], reference=m["reference"], kind=MessageKind(m["kind"]),
        channel=Channel(m["channel"]), recipient=m["recipient"], locale=m["locale"],
        account_id=m["account_id"], params=dict(m["params"] or {}), secret_params={},
        challenge_id=m["challenge_id"], not_after=m["not_after"],
        status=MessageStatus(m["status"]), attempts=m["attempts"], created_at=m["created_at"],
        handed_over_at=m["handed_over_at"],
    )


_ADD_PLANNED = text("""
INSERT INTO outbox (reference, account_id, kind, channel, recipient, locale, params, secret,
                    status, attempts, available_at, created_at, lane)
SELECT p.reference, p.account_id, :kind, ch.channel, ch.recipient, p.locale,
       CAST('{"account_name":' || to_json(p.name)::text || ',' || p.template AS json), NULL,
       :status, 0, :now, :now, ch.lane
FROM cg_plan p CROSS JOIN LATERAL (VALUES ('email', p.email_to, p.email_ok, :email_lane),
                                          ('sms', p.phone_to, p.sms_ok, :sms_lane))
     AS ch(channel, recipient, ok, lane)
WHERE p.written AND ch.ok
""")

_SEAL_PLANNED = text(
    "UPDATE outbox o SET secret = v.secret FROM unnest(CAST(:references AS varchar[]), "
    "CAST(:secrets AS text[])) AS v(reference, secret) "
    "WHERE o.reference = v.reference AND o.channel = 'email'")
