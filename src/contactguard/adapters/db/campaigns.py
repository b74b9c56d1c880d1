"""Campaigns, their targeted accounts and steps, and notice reads (SQLAlchemy Core)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    Connection,
    Integer,
    Row,
    String,
    and_,
    any_,
    bindparam,
    case,
    cast,
    exists,
    func,
    insert,
    literal,
    or_,
    select,
    text,
    update,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.sql.elements import ColumnElement

from contactguard.adapters.db import tables as t
from contactguard.adapters.db.bulk import bulk_insert
from contactguard.adapters.db.campaign_plan import PlanRepositoryMixin
from contactguard.domain.campaign_spec import Audience
from contactguard.domain.campaigns import TargetState
from contactguard.domain.contacts import ContactKind
from contactguard.domain.messages import MessageStatus

TARGET_COLUMNS = ("campaign_id", "account_id", "country", "state", "deadline", "notified_at",
                  "next_step", "next_step_at")
_UNSENT = (MessageStatus.PENDING.value, MessageStatus.SENDING.value, MessageStatus.HELD.value)
_ACTIVE = (TargetState.SCHEDULED.value, TargetState.NOTIFIED.value)


def _in(conn: Connection, column: Any, values: Sequence[Any]) -> ColumnElement[bool]:
    """``column IN values``; on PostgreSQL one array parameter (``= ANY``), which stays cheap
    for thousands of values (an expanded IN list is parsed anew for each batch)."""
    if conn.dialect.name == "postgresql":
        item = BigInteger() if isinstance(column.type, Integer | BigInteger) else String()
        matches: ColumnElement[bool] = column == any_(bindparam(None, list(values),
                                                                type_=ARRAY(item)))
        return matches
    within: ColumnElement[bool] = column.in_(list(values))
    return within


def _audience_where(audience: Audience) -> list[ColumnElement[bool]]:
    a = t.accounts.c
    where: list[ColumnElement[bool]] = []
    if audience.accounts:
        where.append(a.external_id.in_(list(audience.accounts)))
    if audience.countries:
        where.append(a.country.in_(list(audience.countries)))
    if audience.states:
        ac = t.account_compliance.c
        where.append(a.id.in_(select(ac.account_id).where(
            ac.state.in_([s.value for s in audience.states]))))
    return where


class CampaignRepository(PlanRepositoryMixin):
    def __init__(self, conn: Connection) -> None:
        self._conn = conn

    @property
    def is_postgres(self) -> bool:
        return self._conn.dialect.name == "postgresql"

    # --- the campaign row -----------------------------------------------------------------

    def add(self, *, name: str, status: str, spec: dict[str, Any], announce_at: datetime | None,
            effective_at: datetime, created_by: str, now: datetime) -> int:
        return int(self._conn.execute(insert(t.campaigns).values(
            name=name, status=status, spec=spec, announce_at=announce_at,
            effective_at=effective_at, created_by=created_by, created_at=now, updated_at=now,
            planned=0, sweep_cursor=0).returning(t.campaigns.c.id)).scalar_one())

    def get(self, campaign_id: int, *, lock: bool = False, skip_locked: bool = False,
            share: bool = False) -> Row[Any] | None:
        """The row; ``lock``: FOR UPDATE (``share``: FOR SHARE, many holders at once)."""
        query = select(t.campaigns).where(t.campaigns.c.id == campaign_id)
        if lock and self.is_postgres:
            query = query.with_for_update(skip_locked=skip_locked, read=share)
        return self._conn.execute(query).first()

    # --- planning ranges ------------------------------------------------------------------

    def open_ranges(self, campaign_id: int, *, span: int) -> int:
        """Split the account ids that exist now into ranges of ``span``; returns the last id."""
        last = int(self._conn.execute(select(func.coalesce(func.max(t.accounts.c.id), 0)))
                   .scalar_one())
        rows = [{"campaign_id": campaign_id, "range_no": n, "first_id": start,
                 "last_id": min(start + span - 1, last)}
                for n, start in enumerate(range(1, last + 1, span))]
        bulk_insert(self._conn, t.campaign_ranges,
                    ("campaign_id", "range_no", "first_id", "last_id"), rows)
        return last

    def claim_range(self, campaign_id: int) -> Row[Any] | None:
        """The next range nobody is planning (locked until the transaction ends)."""
        r = t.campaign_ranges.c
        query = (select(t.campaign_ranges).where(r.campaign_id == campaign_id,
                                                 r.done_at.is_(None))
                 .order_by(r.range_no).limit(1))
        if self.is_postgres:
            query = query.with_for_update(skip_locked=True)
        return self._conn.execute(query).first()

    def finish_range(self, campaign_id: int, range_no: int, *, accounts: int,
                     now: datetime) -> None:
        r = t.campaign_ranges.c
        self._conn.execute(update(t.campaign_ranges).where(
            r.campaign_id == campaign_id, r.range_no == range_no).values(
            accounts=accounts, done_at=now))

    def ranges_left(self, campaign_id: int) -> int:
        r = t.campaign_ranges.c
        return int(self._conn.execute(select(func.count()).where(
            r.campaign_id == campaign_id, r.done_at.is_(None))).scalar_one())

    def planned_count(self, campaign_id: int) -> int:
        r = t.campaign_ranges.c
        return int(self._conn.execute(select(func.coalesce(func.sum(r.accounts), 0)).where(
            r.campaign_id == campaign_id)).scalar_one())

    def page(self, *, limit: int, before_id: int | None = None,
             status: str | None = None) -> list[Row[Any]]:
        c = t.campaigns.c
        query = select(t.campaigns)
        if before_id is not None:
            query = query.where(c.id < before_id)
        if status is not None:
            query = query.where(c.status == status)
        return list(self._conn.execute(query.order_by(c.id.desc()).limit(limit)))

    def update(self, campaign_id: int, *, when_status: Sequence[str] | None = None,
               **values: Any) -> Row[Any] | None:
        """Change the row (only while its status is one of ``when_status``); the new row."""
        c = t.campaigns.c
        query = update(t.campaigns).where(c.id == campaign_id)
        if when_status is not None:
            query = query.where(c.status.in_(list(when_status)))
        return self._conn.execute(query.values(**values).returning(*t.campaigns.c)).first()

    def with_work(self, now: datetime) -> list[int]:
        """Campaigns a runner has something to do for: planning, due steps, sweeps, finishing."""
        c = t.campaigns.c
        tc = t.campaign_targets.c
        due = exists().where(tc.campaign_id == c.id, tc.next_step_at <= now)
        query = select(c.id).where(or_(
            and_(c.status == "running", or_(c.planned_at.is_(None), due,
                                            c.checked_at.is_(None), c.checked_at <= now)),
            and_(c.sweep.is_not(None), or_(c.sweep_not_before.is_(None),
                                           c.sweep_not_before <= now)),
        )).order_by(c.id)
        return list(self._conn.execute(query).scalars())

    def statuses(self, campaign_ids: Iterable[int]) -> dict[int, str]:
        c = t.campaigns.c
        return {row.id: row.status for row in self._conn.execute(
            select(c.id, c.status).where(c.id.in_(list(campaign_ids))))}

    # --- the audience ---------------------------------------------------------------------

    def audience_groups(self, audience: Audience) -> list[Row[Any]]:
        """Accounts of the audience by (country, time zone, locale): the preview's figures."""
        a = t.accounts.c
        return list(self._conn.execute(
            select(a.country, a.time_zone, a.locale, func.count().label("n"),
                   func.min(a.id).label("sample_id"))
            .where(*_audience_where(audience))
            .group_by(a.country, a.time_zone, a.locale)
            .order_by(a.country, a.time_zone, a.locale)))

    def count_audience(self, audience: Audience) -> int:
        return int(self._conn.execute(select(func.count()).select_from(t.accounts).where(
            *_audience_where(audience))).scalar_one())

    def known_external_ids(self, external_ids: Sequence[str]) -> set[str]:
        a = t.accounts.c
        found: set[str] = set()
        for start in range(0, len(external_ids), 1000):
            chunk = list(external_ids[start:start + 1000])
            found.update(self._conn.execute(select(a.external_id).where(
                a.external_id.in_(chunk))).scalars())
        return found

    def audience_range(self, audience: Audience, *, first_id: int,
                       last_id: int) -> list[Row[Any]]:
        """The audience's accounts with ids in [first_id, last_id], with both emergency
        contacts."""
        a = t.accounts.c
        query = (_with_contacts(select(a.id, a.external_id, a.name, a.country, a.locale,
                                       a.time_zone, a.security_phrase, a.created_at))
                 .where(a.id >= first_id, a.id <= last_id, *_audience_where(audience))
                 .order_by(a.id))
        return list(self._conn.execute(query))

    def undeliverable(self, contact_values: Mapping[int, str]) -> set[tuple[int, str]]:
        """(contact id, channel) pairs that permanently failed for the contact's current value."""
        if not contact_values:
            return set()
        u = t.contact_undeliverable.c
        rows = self._conn.execute(select(u.contact_id, u.channel, u.value).where(
            _in(self._conn, u.contact_id, list(contact_values))))
        return {(r.contact_id, r.channel) for r in rows if contact_values.get(r.contact_id) == r.value}

    # --- targets and steps ----------------------------------------------------------------

    def add_targets(self, rows: Sequence[Mapping[str, Any]]) -> int:
        return bulk_insert(self._conn, t.campaign_targets, TARGET_COLUMNS, rows)

    def add_steps(self, rows: Sequence[Mapping[str, Any]]) -> set[int]:
        """Insert steps, skipping any (campaign, account, step) that exists; the account ids
        whose step was written now (only those get their messages)."""
        if not rows:
            return set()
        if self.is_postgres:  # one fixed statement, rows as arrays: no per-row SQL to build
            result = self._conn.execute(_ADD_STEPS, {
                "campaign_id": [r["campaign_id"] for r in rows],
                "account_id": [r["account_id"] for r in rows],
                "step": [r["step"] for r in rows], "kind": [r["kind"] for r in rows],
                "reference": [r["reference"] for r in rows],
                "channels": [r["channels"] for r in rows],
                "created_at": [r["created_at"] for r in rows]})
            return set(result.scalars())
        dialect = sqlite
        written: set[int] = set()
        for start in range(0, len(rows), 2000):
            chunk = [dict(r) for r in rows[start:start + 2000]]
            statement = (dialect.insert(t.campaign_steps).values(chunk)
                         .on_conflict_do_nothing().returning(t.campaign_steps.c.account_id))
            written.update(self._conn.execute(statement).scalars())
        return written

    def update_targets(self, campaign_id: int, rows: Sequence[Mapping[str, Any]]) -> None:
        """Per-account changes: each row has ``account_id`` and the columns to set."""
        c = t.campaign_targets.c
        by_shape: dict[tuple[str, ...], list[Mapping[str, Any]]] = {}
        for row in rows:
            by_shape.setdefault(tuple(sorted(row)), []).append(row)
        for shape, group in by_shape.items():
            columns = [name for name in shape if name != "account_id"]
            statement = (update(t.campaign_targets)
                         .where(c.campaign_id == campaign_id, c.account_id == bindparam("_account"))
                         .values({name: bindparam(f"_{name}") for name in columns}))
            self._conn.execute(statement, [
                {"_account": row["account_id"], **{f"_{n}": row[n] for n in columns}}
                for row in group])

    def due_targets(self, campaign_id: int, *, now: datetime, limit: int) -> list[Row[Any]]:
        """Targets whose next step is due, with their account and contacts (locked)."""
        a = t.accounts.c
        tc = t.campaign_targets.c
        query = (_with_contacts(select(
            a.id, a.external_id, a.name, a.country, a.locale, a.time_zone, a.security_phrase,
            a.created_at, tc.state.label("target_state"), tc.deadline.label("target_deadline"),
            tc.notified_at.label("target_notified_at"), tc.next_step, tc.next_step_at))
                 .join(t.campaign_targets, tc.account_id == a.id)
                 .where(tc.campaign_id == campaign_id, tc.next_step_at <= now)
                 .order_by(tc.next_step_at, tc.account_id).limit(limit))
        if self.is_postgres:
            query = query.with_for_update(of=t.campaign_targets, skip_locked=True)
        return list(self._conn.execute(query))

    def snoozed_until(self, account_ids: Sequence[int], kinds: Sequence[ContactKind],
                      now: datetime) -> dict[int, dict[ContactKind, datetime]]:
        if not account_ids:
            return {}
        s = t.reminder_snoozes.c
        found: dict[int, dict[ContactKind, datetime]] = {}
        for row in self._conn.execute(select(s.account_id, s.contact_kind, s.snoozed_until).where(
                _in(self._conn, s.account_id, account_ids),
                s.contact_kind.in_([k.value for k in kinds]),
                s.snoozed_until > now)):
            found.setdefault(row.account_id, {})[ContactKind(row.contact_kind)] = row.snoozed_until
        return found

    def mark_recheck(self, account_ids: Sequence[int], now: datetime) -> int:
        """Ask the compliance job to recompute these accounts (their deadline changed)."""
        if not account_ids:
            return 0
        c = t.account_compliance.c
        result = self._conn.execute(update(t.account_compliance).where(
            _in(self._conn, c.account_id, account_ids),
            or_(c.recheck_at.is_(None), c.recheck_at > now)).values(recheck_at=now))
        return int(result.rowcount)

    def step_page(self, campaign_id: int, *, after_account: int,
                  limit: int) -> tuple[list[int], list[str]]:
        """The next targets of the campaign (keyset on account id) and their steps' references."""
        tc = t.campaign_targets.c
        s = t.campaign_steps.c
        accounts = list(self._conn.execute(
            select(tc.account_id).where(tc.campaign_id == campaign_id,
                                        tc.account_id > after_account)
            .order_by(tc.account_id).limit(limit)).scalars())
        if not accounts:
            return [], []
        references = list(self._conn.execute(select(s.reference).where(
            s.campaign_id == campaign_id, _in(self._conn, s.account_id, accounts))).scalars())
        return accounts, references

    def cancel_targets(self, campaign_id: int, account_ids: Sequence[int]) -> list[int]:
        """Stop the given targets; returns those that had been notified (deadline lifted)."""
        if not account_ids:
            return []
        c = t.campaign_targets.c
        notified = list(self._conn.execute(select(c.account_id).where(
            c.campaign_id == campaign_id, c.account_id.in_(list(account_ids)),
            c.notified_at.is_not(None))).scalars())
        self._conn.execute(update(t.campaign_targets).where(
            c.campaign_id == campaign_id, c.account_id.in_(list(account_ids)),
            c.state.in_(_ACTIVE)).values(state=TargetState.CANCELED.value, next_step=None,
                                         next_step_at=None))
        return notified

    def has_unsent_messages(self, campaign_id: int) -> bool:
        s = t.campaign_steps.c
        o = t.outbox.c
        return self._conn.execute(select(literal(1)).where(exists().where(
            s.campaign_id == campaign_id, o.reference == s.reference,
            o.status.in_(_UNSENT)))).first() is not None

    def has_open_targets(self, campaign_id: int) -> bool:
        c = t.campaign_targets.c
        return self._conn.execute(select(literal(1)).where(exists().where(
            c.campaign_id == campaign_id, c.next_step_at.is_not(None)))).first() is not None

    # --- progress and funnel --------------------------------------------------------------

    def target_counts(self, campaign_id: int) -> dict[str, int]:
        c = t.campaign_targets.c
        return {row.state: row.n for row in self._conn.execute(
            select(c.state, func.count().label("n")).where(c.campaign_id == campaign_id)
            .group_by(c.state))}

    def step_counts(self, campaign_id: int) -> dict[str, int]:
        s = t.campaign_steps.c
        return {row.kind: row.n for row in self._conn.execute(
            select(s.kind, func.count().label("n")).where(s.campaign_id == campaign_id)
            .group_by(s.kind))}

    def next_step_at(self, campaign_id: int) -> datetime | None:
        c = t.campaign_targets.c
        value: datetime | None = self._conn.execute(select(func.min(c.next_step_at)).where(
            c.campaign_id == campaign_id)).scalar_one()
        if value is not None and value.tzinfo is None:  # aggregate skips the column type
            value = t.UTCDateTime().process_result_value(value, self._conn.dialect)
        return value

    def funnel_rows(self, campaign_id: int, kinds: Sequence[ContactKind],
                    fresh_after: datetime) -> list[Row[Any]]:
        """Per (country, day of each stage): counts of notified, seen, started and verified.

        ``started``: a verification of a campaign contact began after the notice;
        ``verified``: every campaign contact is verified (and its verification is newer than
        ``fresh_after``); the day is the one of the last verification.
        """
        tc = t.campaign_targets.c
        ch = t.challenges.c
        co = t.contacts.c
        kind_values = [k.value for k in kinds]
        started = (select(func.min(ch.created_at)).where(
            ch.account_id == tc.account_id, ch.contact_kind.in_(kind_values),
            ch.created_at >= tc.notified_at).scalar_subquery())
        verified_count = (select(func.count()).where(
            co.account_id == tc.account_id, co.kind.in_(kind_values),
            co.verified_at.is_not(None), co.verified_value == co.value,
            co.verified_at > fresh_after).scalar_subquery())
        verified_last = (select(func.max(co.verified_at)).where(
            co.account_id == tc.account_id, co.kind.in_(kind_values)).scalar_subquery())
        inner = (select(tc.country, tc.state, tc.notified_at, tc.seen_at,
                        started.label("started_at"),
                        case((verified_count == len(kind_values), verified_last),
                             else_=None).label("verified_at"))
                 .where(tc.campaign_id == campaign_id).subquery())
        day = self._day
        rows = select(inner.c.country, inner.c.state, day(inner.c.notified_at).label("notified_day"),
                      day(inner.c.seen_at).label("seen_day"),
                      day(inner.c.started_at).label("started_day"),
                      day(inner.c.verified_at).label("verified_day"),
                      func.count().label("n")).group_by(
            inner.c.country, inner.c.state, "notified_day", "seen_day", "started_day",
            "verified_day")
        return list(self._conn.execute(rows))

    def channel_counts(self, campaign_id: int) -> list[Row[Any]]:
        """Outbox messages of the campaign by channel and status."""
        s = t.campaign_steps.c
        o = t.outbox.c
        return list(self._conn.execute(
            select(o.channel, o.status, func.count().label("n"))
            .select_from(t.campaign_steps.join(t.outbox, o.reference == s.reference))
            .where(s.campaign_id == campaign_id, o.account_id == s.account_id)
            .group_by(o.channel, o.status)))

    def _day(self, column: Any) -> Any:
        if self.is_postgres:
            return func.to_char(func.timezone("UTC", column), "YYYY-MM-DD")
        return func.substr(cast(column, String), 1, 10)

    # --- what an account sees --------------------------------------------------------------

    def deadlines_for_account(self, account_id: int) -> list[Row[Any]]:
        """The account's notified targets in campaigns that still hold, oldest notice first."""
        tc = t.campaign_targets.c
        c = t.campaigns.c
        return list(self._conn.execute(
            select(c.spec, tc.deadline, tc.notified_at)
            .join(t.campaigns, c.id == tc.campaign_id)
            .where(tc.account_id == account_id, tc.notified_at.is_not(None),
                   c.status != "canceled")
            .order_by(tc.notified_at, tc.campaign_id)))

    def notices_for_account(self, account_id: int, *, limit: int) -> list[Row[Any]]:
        """The account's campaign steps (its in-app notices), newest first."""
        s = t.campaign_steps.c
        tc = t.campaign_targets.c
        c = t.campaigns.c
        return list(self._conn.execute(
            select(s.campaign_id, s.step, s.kind, s.reference, s.channels, s.created_at,
                   tc.deadline, c.name.label("campaign_name"), c.spec, c.status)
            .join(t.campaign_targets, and_(tc.campaign_id == s.campaign_id,
                                           tc.account_id == s.account_id))
            .join(t.campaigns, c.id == s.campaign_id)
            .where(s.account_id == account_id)
            .order_by(s.created_at.desc(), s.campaign_id.desc(), s.step.desc()).limit(limit)))

    def reads(self, account_id: int, references: Sequence[str]) -> dict[str, datetime]:
        if not references:
            return {}
        r = t.notice_reads.c
        return {row.reference: row.read_at for row in self._conn.execute(
            select(r.reference, r.read_at).where(r.account_id == account_id,
                                                 r.reference.in_(list(references))))}

    def mark_read(self, account_id: int, references: Sequence[str], now: datetime) -> int:
        """Record the first time the seller saw these notices; later views change nothing."""
        unread = [ref for ref in dict.fromkeys(references)
                  if ref not in self.reads(account_id, list(references))]
        if not unread:
            return 0
        dialect = postgresql if self.is_postgres else sqlite
        self._conn.execute(dialect.insert(t.notice_reads).on_conflict_do_nothing(), [
            {"account_id": account_id, "reference": ref, "read_at": now} for ref in unread])
        tc = t.campaign_targets.c
        s = t.campaign_steps.c
        self._conn.execute(update(t.campaign_targets).where(
            tc.account_id == account_id, tc.seen_at.is_(None), tc.notified_at.is_not(None),
            tc.campaign_id.in_(select(s.campaign_id).where(
                s.account_id == account_id, s.reference.in_(unread)))).values(seen_at=now))
        return len(unread)


_ADD_STEPS = text(
    "INSERT INTO campaign_steps (campaign_id, account_id, step, kind, reference, channels, "
    "created_at) SELECT * FROM unnest(CAST(:campaign_id AS bigint[]), "
    "CAST(:account_id AS bigint[]), CAST(:step AS integer[]), CAST(:kind AS varchar[]), "
    "CAST(:reference AS varchar[]), CAST(:channels AS varchar[]), "
    "CAST(:created_at AS timestamptz[])) ON CONFLICT DO NOTHING RETURNING account_id")


def _with_contacts(query: Any) -> Any:
    """Add the emergency email and phone of ``accounts`` (outer joins) to ``query``."""
    a = t.accounts.c
    email = t.contacts.alias("email")
    phone = t.contacts.alias("phone")
    return (query.add_columns(
        email.c.id.label("email_id"), email.c.value.label("email_value"),
        email.c.verified_value.label("email_verified_value"),
        email.c.verified_at.label("email_verified_at"),
        phone.c.id.label("phone_id"), phone.c.value.label("phone_value"),
        phone.c.line_type.label("phone_line_type"),
        phone.c.verified_value.label("phone_verified_value"),
        phone.c.verified_line_type.label("phone_verified_line_type"),
        phone.c.verified_at.label("phone_verified_at"))
        .outerjoin(email, and_(email.c.account_id == a.id,
                               email.c.kind == ContactKind.EMERGENCY_EMAIL.value))
        .outerjoin(phone, and_(phone.c.account_id == a.id,
                               phone.c.kind == ContactKind.EMERGENCY_PHONE.value)))

