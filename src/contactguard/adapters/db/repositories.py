"""Repositories: the only code that writes SQL. One class per aggregate, SQLAlchemy Core."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Row, and_, delete, func, insert, select, update
from sqlalchemy.exc import IntegrityError

from contactguard.adapters.db import tables as t
from contactguard.domain.accounts import Account
from contactguard.domain.challenges import Challenge, ChallengeStatus
from contactguard.domain.compliance import Snooze
from contactguard.domain.contacts import Channel, Contact, ContactKind, LineType


def _account(row: Row[Any]) -> Account:
    m = row._mapping
    return Account(id=m["id"], external_id=m["external_id"], name=m["name"], country=m["country"],
                   locale=m["locale"], time_zone=m["time_zone"], created_at=m["created_at"],
                   updated_at=m["updated_at"], security_phrase=m["security_phrase"])


def _contact(row: Row[Any]) -> Contact:
    m = row._mapping
    return Contact(
        id=m["id"], account_id=m["account_id"], kind=ContactKind(m["kind"]), value=m["value"],
        line_type=LineType(m["line_type"]) if m["line_type"] else None,
        verified_value=m["verified_value"],
        verified_line_type=LineType(m["verified_line_type"]) if m["verified_line_type"] else None,
        verified_at=m["verified_at"],
        verified_channel=Channel(m["verified_channel"]) if m["verified_channel"] else None,
        created_at=m["created_at"], updated_at=m["updated_at"],
    )


def _challenge(row: Row[Any]) -> Challenge:
    m = row._mapping
    return Challenge(
        id=m["id"], account_id=m["account_id"], contact_id=m["contact_id"],
        contact_kind=ContactKind(m["contact_kind"]), destination=m["destination"],
        channel=Channel(m["channel"]), status=ChallengeStatus(m["status"]),
        code_hash=m["code_hash"], attempts=m["attempts"], max_attempts=m["max_attempts"],
        send_count=m["send_count"], last_sent_at=m["last_sent_at"], expires_at=m["expires_at"],
        resend_available_at=m["resend_available_at"], created_at=m["created_at"],
        approved_at=m["approved_at"],
    )


class AccountRepository:
    def __init__(self, conn: Connection) -> None:
        self._conn = conn

    def by_external_id(self, external_id: str) -> Account | None:
        row = self._conn.execute(
            select(t.accounts).where(t.accounts.c.external_id == external_id)
        ).first()
        return _account(row) if row else None

    def by_external_ids(self, external_ids: Sequence[str]) -> dict[str, Account]:
        if not external_ids:
            return {}
        rows = self._conn.execute(
            select(t.accounts).where(t.accounts.c.external_id.in_(list(external_ids)))
        )
        return {row.external_id: _account(row) for row in rows}

    def get(self, account_id: int) -> Account | None:
        row = self._conn.execute(select(t.accounts).where(t.accounts.c.id == account_id)).first()
        return _account(row) if row else None

    def add(self, *, external_id: str, name: str, country: str, locale: str, time_zone: str,
            now: datetime) -> Account:
        new_id = self._conn.execute(
            insert(t.accounts).values(external_id=external_id, name=name, country=country,
                                      locale=locale, time_zone=time_zone, created_at=now,
                                      updated_at=now).returning(t.accounts.c.id)
        ).scalar_one()
        return Account(id=new_id, external_id=external_id, name=name, country=country,
                       locale=locale, time_zone=time_zone, created_at=now, updated_at=now)

    def update(self, account: Account, now: datetime) -> None:
        account.updated_at = now
        self._conn.execute(
            update(t.accounts).where(t.accounts.c.id == account.id).values(
                name=account.name, country=account.country, locale=account.locale,
                time_zone=account.time_zone, security_phrase=account.security_phrase,
                updated_at=now)
        )

    def page(self, *, limit: int, after_id: int = 0) -> list[Account]:
        rows = self._conn.execute(
            select(t.accounts).where(t.accounts.c.id > after_id)
            .order_by(t.accounts.c.id).limit(limit)
        )
        return [_account(row) for row in rows]


class ContactRepository:
    def __init__(self, conn: Connection) -> None:
        self._conn = conn

    def for_account(self, account_id: int) -> list[Contact]:
        rows = self._conn.execute(
            select(t.contacts).where(t.contacts.c.account_id == account_id)
            .order_by(t.contacts.c.kind)
        )
        return [_contact(row) for row in rows]

    def for_accounts(self, account_ids: Iterable[int]) -> dict[int, list[Contact]]:
        ids = list(account_ids)
        result: dict[int, list[Contact]] = {i: [] for i in ids}
        if ids:
            rows = self._conn.execute(
                select(t.contacts).where(t.contacts.c.account_id.in_(ids))
            )
            for row in rows:
                result[row.account_id].append(_contact(row))
        return result

    def get(self, account_id: int, kind: ContactKind, *, for_update: bool = False) -> Contact | None:
        query = select(t.contacts).where(
            t.contacts.c.account_id == account_id, t.contacts.c.kind == kind.value
        )
        if for_update:
            query = query.with_for_update()
        row = self._conn.execute(query).first()
        return _contact(row) if row else None

    def add(self, *, account_id: int, kind: ContactKind, value: str, line_type: LineType | None,
            now: datetime) -> Contact:
        new_id = self._conn.execute(
            insert(t.contacts).values(
                account_id=account_id, kind=kind.value, value=value,
                line_type=line_type.value if line_type else None, created_at=now, updated_at=now,
            ).returning(t.contacts.c.id)
        ).scalar_one()
        return Contact(id=new_id, account_id=account_id, kind=kind, value=value,
                       line_type=line_type, verified_value=None, verified_line_type=None,
                       verified_at=None, verified_channel=None, created_at=now, updated_at=now)

    def set_value(self, contact: Contact, value: str, line_type: LineType | None,
                  now: datetime) -> None:
        contact.value, contact.line_type, contact.updated_at = value, line_type, now
        self._conn.execute(
            update(t.contacts).where(t.contacts.c.id == contact.id).values(
                value=value, line_type=line_type.value if line_type else None, updated_at=now)
        )

    def mark_verified(self, contact_id: int, *, value: str, channel: Channel,
                      now: datetime) -> bool:
        """Record ``value`` as verified, only if it is still the contact's current value."""
        result = self._conn.execute(
            update(t.contacts)
            .where(t.contacts.c.id == contact_id, t.contacts.c.value == value)
            .values(verified_value=value, verified_line_type=t.contacts.c.line_type,
                    verified_at=now, verified_channel=channel.value, updated_at=now)
        )
        return result.rowcount == 1


class ChallengeRepository:
    def __init__(self, conn: Connection) -> None:
        self._conn = conn

    def add(self, challenge: Challenge) -> None:
        self._conn.execute(insert(t.challenges).values(
            id=challenge.id, account_id=challenge.account_id, contact_id=challenge.contact_id,
            contact_kind=challenge.contact_kind.value, destination=challenge.destination,
            channel=challenge.channel.value, status=challenge.status.value,
            code_hash=challenge.code_hash, attempts=challenge.attempts,
            max_attempts=challenge.max_attempts, send_count=challenge.send_count,
            last_sent_at=challenge.last_sent_at, expires_at=challenge.expires_at,
            resend_available_at=challenge.resend_available_at, created_at=challenge.created_at,
        ))

    def get(self, challenge_id: str, *, for_update: bool = False) -> Challenge | None:
        query = select(t.challenges).where(t.challenges.c.id == challenge_id)
        if for_update:
            query = query.with_for_update()
        row = self._conn.execute(query).first()
        return _challenge(row) if row else None

    def count_attempt(self, challenge_id: str, now: datetime) -> Challenge | None:
        """Count one check attempt, atomically, if the challenge can still be checked.

        Returns the challenge as it is after the count, or None when it is not pending,
        expired or out of attempts (the caller then reads it to report why).
        """
        c = t.challenges.c
        row = self._conn.execute(
            update(t.challenges)
            .where(c.id == challenge_id, c.status == ChallengeStatus.PENDING.value,
                   c.attempts < c.max_attempts, c.expires_at > now)
            .values(attempts=c.attempts + 1)
            .returning(*t.challenges.c)
        ).first()
        return _challenge(row) if row else None

    def transition(self, challenge_id: str, status: ChallengeStatus, now: datetime) -> bool:
        """Move a pending challenge to ``status``; False if another request got there first."""
        values: dict[str, Any] = {"status": status.value}
        if status is ChallengeStatus.APPROVED:
            values["approved_at"] = now
        result = self._conn.execute(
            update(t.challenges)
            .where(t.challenges.c.id == challenge_id,
                   t.challenges.c.status == ChallengeStatus.PENDING.value)
            .values(**values)
        )
        return result.rowcount == 1

    def replace_code(self, challenge: Challenge) -> bool:
        """Store a resent code (new hash, send count and times) on a still-pending challenge."""
        result = self._conn.execute(
            update(t.challenges)
            .where(t.challenges.c.id == challenge.id,
                   t.challenges.c.status == ChallengeStatus.PENDING.value)
            .values(code_hash=challenge.code_hash, send_count=challenge.send_count,
                    last_sent_at=challenge.last_sent_at, expires_at=challenge.expires_at,
                    resend_available_at=challenge.resend_available_at)
        )
        return result.rowcount == 1

    def cancel_open(self, contact_id: int) -> list[str]:
        """Cancel every pending challenge of a contact; returns their ids."""
        c = t.challenges.c
        ids = list(self._conn.execute(
            select(c.id).where(c.contact_id == contact_id,
                               c.status == ChallengeStatus.PENDING.value)
        ).scalars())
        if ids:
            self._conn.execute(
                update(t.challenges).where(c.id.in_(ids), c.status == ChallengeStatus.PENDING.value)
                .values(status=ChallengeStatus.CANCELED.value)
            )
        return ids

    def open_for_contact(self, contact_id: int, now: datetime) -> Challenge | None:
        """The newest challenge of a contact that one could still answer, if any."""
        c = t.challenges.c
        row = self._conn.execute(
            select(t.challenges).where(
                c.contact_id == contact_id, c.status == ChallengeStatus.PENDING.value,
                c.expires_at > now, c.attempts < c.max_attempts)
            .order_by(c.created_at.desc()).limit(1)
        ).first()
        return _challenge(row) if row else None

    def open_contact_ids(self, contact_ids: Sequence[int], now: datetime) -> set[int]:
        """Contacts among ``contact_ids`` that have a challenge one could still answer."""
        if not contact_ids:
            return set()
        c = t.challenges.c
        return set(self._conn.execute(
            select(c.contact_id).where(
                c.contact_id.in_(list(contact_ids)), c.status == ChallengeStatus.PENDING.value,
                c.expires_at > now, c.attempts < c.max_attempts)
        ).scalars())


class SendLogRepository:
    """Codes sent per destination, for cooldowns and the hourly cap."""

    def __init__(self, conn: Connection) -> None:
        self._conn = conn

    def record(self, destination: str, challenge_id: str, now: datetime) -> None:
        self._conn.execute(insert(t.verification_sends).values(
            destination=destination, challenge_id=challenge_id, sent_at=now))

    def since(self, destination: str, since: datetime) -> list[datetime]:
        c = t.verification_sends.c
        return list(self._conn.execute(
            select(c.sent_at).where(c.destination == destination, c.sent_at > since)
        ).scalars())


class ApiKeyRepository:
    def __init__(self, conn: Connection) -> None:
        self._conn = conn

    def add(self, *, name: str, prefix: str, key_hash: str, now: datetime,
            scopes: str = "full") -> int:
        return int(self._conn.execute(insert(t.api_keys).values(
            name=name, prefix=prefix, key_hash=key_hash, created_at=now, scopes=scopes
        ).returning(t.api_keys.c.id)).scalar_one())

    def active_by_hash(self, key_hash: str) -> Row[Any] | None:
        return self._conn.execute(
            select(t.api_keys).where(t.api_keys.c.key_hash == key_hash,
                                     t.api_keys.c.revoked_at.is_(None))
        ).first()

    def all(self) -> list[Row[Any]]:
        return list(self._conn.execute(select(t.api_keys).order_by(t.api_keys.c.id)))

    def revoke(self, key_id: int, now: datetime) -> bool:
        result = self._conn.execute(
            update(t.api_keys).where(t.api_keys.c.id == key_id, t.api_keys.c.revoked_at.is_(None))
            .values(revoked_at=now))
        return result.rowcount == 1


class IdempotencyRepository:
    def __init__(self, conn: Connection) -> None:
        self._conn = conn

    def find(self, api_key_id: int, key: str) -> Row[Any] | None:
        c = t.idempotency_keys.c
        return self._conn.execute(
            select(t.idempotency_keys).where(c.api_key_id == api_key_id, c.key == key)
        ).first()

    def claim(self, api_key_id: int, key: str, request_hash: str, now: datetime) -> int | None:
        """Insert a claim; None if another request holds the same key already."""
        try:
            with self._conn.begin_nested():
                return int(self._conn.execute(insert(t.idempotency_keys).values(
                    api_key_id=api_key_id, key=key, request_hash=request_hash, completed=False,
                    created_at=now).returning(t.idempotency_keys.c.id)).scalar_one())
        except IntegrityError:
            return None

    def complete(self, row_id: int, status_code: int, body: str,
                 headers: dict[str, str]) -> None:
        self._conn.execute(update(t.idempotency_keys).where(t.idempotency_keys.c.id == row_id)
                           .values(status_code=status_code, response_body=body,
                                   response_headers=headers, completed=True))

    def release(self, row_id: int) -> None:
        self._conn.execute(delete(t.idempotency_keys).where(t.idempotency_keys.c.id == row_id))

    def purge_before(self, moment: datetime) -> int:
        result = self._conn.execute(
            delete(t.idempotency_keys).where(t.idempotency_keys.c.created_at < moment))
        return int(result.rowcount)


class CapturedMessageRepository:
    def __init__(self, conn: Connection) -> None:
        self._conn = conn

    def add(self, *, channel: str, recipient: str, subject: str | None, body: str,
            html: str | None, raw: bytes | None, reference: str | None, now: datetime) -> None:
        self._conn.execute(insert(t.captured_messages).values(
            channel=channel, recipient=recipient, subject=subject, body=body, html=html, raw=raw,
            reference=reference, created_at=now))

    def get(self, message_id: int) -> Row[Any] | None:
        return self._conn.execute(select(t.captured_messages).where(
            t.captured_messages.c.id == message_id)).first()

    def newest(self, *, recipient: str | None, limit: int) -> list[Row[Any]]:
        c = t.captured_messages.c
        query = select(t.captured_messages).order_by(c.id.desc()).limit(limit)
        if recipient:
            query = query.where(c.recipient == recipient)
        return list(self._conn.execute(query))


def count_rows(conn: Connection, table: Any, *where: Any) -> int:
    query = select(func.count()).select_from(table)
    if where:
        query = query.where(and_(*where))
    return int(conn.execute(query).scalar_one())


class SnoozeRepository:
    """Reminder snoozes per account and requirement."""

    def __init__(self, conn: Connection) -> None:
        self._conn = conn

    def for_account(self, account_id: int) -> dict[ContactKind, Snooze]:
        c = t.reminder_snoozes.c
        rows = self._conn.execute(select(t.reminder_snoozes).where(c.account_id == account_id))
        return {ContactKind(r.contact_kind): Snooze(until=r.snoozed_until, count=r._mapping["count"])
                for r in rows}

    def save(self, account_id: int, kind: ContactKind, snooze: Snooze, now: datetime) -> None:
        c = t.reminder_snoozes.c
        updated = self._conn.execute(
            update(t.reminder_snoozes).where(c.account_id == account_id,
                                             c.contact_kind == kind.value)
            .values(snoozed_until=snooze.until, count=snooze.count, updated_at=now))
        if updated.rowcount == 0:
            self._conn.execute(insert(t.reminder_snoozes).values(
                account_id=account_id, contact_kind=kind.value, snoozed_until=snooze.until,
                count=snooze.count, updated_at=now))
