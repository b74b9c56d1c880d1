"""Repositories of the operator console: operators, sign-in failures, dashboard figures,
account search and an account's verifications."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Row, delete, func, insert, or_, select, update

from contactguard.adapters.db import tables as t
from contactguard.adapters.db.repositories import _account, _challenge
from contactguard.domain.accounts import Account
from contactguard.domain.challenges import Challenge
from contactguard.domain.contacts import ContactKind
from contactguard.domain.operators import Operator, Role


def _operator(row: Row[Any]) -> Operator:
    m = row._mapping
    return Operator(id=int(m["id"]), email=m["email"], role=Role(m["role"]),
                    created_at=m["created_at"], must_change_password=bool(m["must_change_password"]),
                    totp_enrolled=m["totp_enabled_at"] is not None,
                    disabled_at=m["disabled_at"], last_login_at=m["last_login_at"])


class OperatorRepository:
    """Operators; credentials are only read by :meth:`credentials`."""

    def __init__(self, conn: Connection) -> None:
        self._conn = conn

    def add(self, *, email: str, role: Role, password_hash: str, must_change_password: bool,
            now: datetime) -> Operator:
        row = self._conn.execute(insert(t.operators).values(
            email=email, role=role.value, password_hash=password_hash,
            must_change_password=must_change_password, created_at=now, updated_at=now,
        ).returning(*t.operators.c)).one()
        return _operator(row)

    def get(self, operator_id: int, *, for_update: bool = False) -> Operator | None:
        query = select(t.operators).where(t.operators.c.id == operator_id)
        if for_update:
            query = query.with_for_update()
        row = self._conn.execute(query).first()
        return _operator(row) if row else None

    def by_email(self, email: str) -> Operator | None:
        row = self._conn.execute(select(t.operators).where(t.operators.c.email == email)).first()
        return _operator(row) if row else None

    def credentials(self, operator_id: int) -> tuple[str, str | None, int | None]:
        """(password hash, sealed TOTP secret or None, last TOTP step used or None)."""
        c = t.operators.c
        row = self._conn.execute(select(c.password_hash, c.totp_secret, c.totp_last_step)
                                 .where(c.id == operator_id)).one()
        return row.password_hash, row.totp_secret, row.totp_last_step

    def all(self) -> list[Operator]:
        rows = self._conn.execute(select(t.operators).order_by(t.operators.c.id))
        return [_operator(row) for row in rows]

    def count_active_admins(self) -> int:
        c = t.operators.c
        return int(self._conn.execute(select(func.count()).select_from(t.operators).where(
            c.role == Role.ADMIN.value, c.disabled_at.is_(None))).scalar_one())

    def update(self, operator_id: int, now: datetime, **values: Any) -> None:
        self._conn.execute(update(t.operators).where(t.operators.c.id == operator_id)
                           .values(updated_at=now, **values))

    def use_totp_step(self, operator_id: int, step: int) -> bool:
        """Record ``step`` as used unless it (or a later one) already was: one use per code."""
        c = t.operators.c
        result = self._conn.execute(update(t.operators).where(
            c.id == operator_id, or_(c.totp_last_step.is_(None), c.totp_last_step < step),
        ).values(totp_last_step=step))
        return result.rowcount == 1


class LoginFailureRepository:
    def __init__(self, conn: Connection) -> None:
        self._conn = conn

    def add(self, keys: Sequence[tuple[str, str]], now: datetime) -> None:
        self._conn.execute(insert(t.login_failures),
                           [{"scope": scope, "key_hash": key, "at": now} for scope, key in keys])

    def recent(self, scope: str, key_hash: str, since: datetime, *, limit: int) -> list[datetime]:
        """Failure times for the key since ``since``, oldest first (at most ``limit``... newest)."""
        c = t.login_failures.c
        rows = self._conn.execute(select(c.at).where(
            c.scope == scope, c.key_hash == key_hash, c.at > since).order_by(c.at.desc())
            .limit(limit))
        return sorted(row.at for row in rows)

    def clear(self, scope: str, key_hash: str) -> None:
        c = t.login_failures.c
        self._conn.execute(delete(t.login_failures).where(c.scope == scope, c.key_hash == key_hash))

    def purge_before(self, moment: datetime) -> int:
        return int(self._conn.execute(delete(t.login_failures).where(
            t.login_failures.c.at < moment)).rowcount)


class ConsoleRepository:
    """Read models of the console: figures, the daily trend, search, verifications."""

    def __init__(self, conn: Connection) -> None:
        self._conn = conn

    def account_count(self) -> int:
        return int(self._conn.execute(select(func.count()).select_from(t.accounts)).scalar_one())

    def verified_counts(self) -> dict[ContactKind, int]:
        """Accounts whose contact of each kind is verified in its current value."""
        c = t.contacts.c
        rows = self._conn.execute(select(c.kind, func.count().label("n")).where(
            c.verified_value.is_not(None), c.verified_value == c.value).group_by(c.kind))
        found = {row.kind: int(row.n) for row in rows}
        return {kind: found.get(kind.value, 0) for kind in ContactKind}

    def save_day(self, day: str, values: dict[str, int], now: datetime) -> None:
        table = t.compliance_daily
        done = self._conn.execute(update(table).where(table.c.day == day)
                                  .values(updated_at=now, **values)).rowcount
        if not done:
            self._conn.execute(insert(table).values(day=day, updated_at=now, **values))

    def days(self, first: str, last: str) -> list[Row[Any]]:
        c = t.compliance_daily.c
        return list(self._conn.execute(select(t.compliance_daily).where(
            c.day >= first, c.day <= last).order_by(c.day)))

    def search(self, *, external_id: str | None, name: str | None,
               contact_values: Sequence[str], limit: int) -> list[Account]:
        """Accounts matching any criterion: the exact external id, a contact value (current or
        verified, normalized, any case), or a name containing ``name`` (any case). Contacts and
        names are scanned (no index serves them): the console's search is for people, not load."""
        a, c = t.accounts.c, t.contacts.c
        found: dict[int, Account] = {}
        if external_id:
            for row in self._conn.execute(select(t.accounts).where(a.external_id == external_id)):
                found[row.id] = _account(row)
        if contact_values:
            lowered = sorted({v.lower() for v in contact_values})  # addresses: any case
            ids = select(c.account_id).where(or_(func.lower(c.value).in_(lowered),
                                                 func.lower(c.verified_value).in_(lowered)))
            for row in self._conn.execute(select(t.accounts).where(a.id.in_(ids))
                                          .order_by(a.id).limit(limit)):
                found[row.id] = _account(row)
        if name and len(found) < limit:
            pattern = "%" + name.lower().replace("\\", "\\\\").replace("%", "\\%").replace(
                "_", "\\_") + "%"
            for row in self._conn.execute(select(t.accounts).where(
                    func.lower(a.name).like(pattern, escape="\\")).order_by(a.id)
                    .limit(limit - len(found))):
                found[row.id] = _account(row)
        return list(found.values())[:limit]

    def challenges_for(self, account_id: int, *, limit: int) -> list[Challenge]:
        c = t.challenges.c
        rows = self._conn.execute(select(t.challenges).where(c.account_id == account_id)
                                  .order_by(c.created_at.desc()).limit(limit))
        return [_challenge(row) for row in rows]
