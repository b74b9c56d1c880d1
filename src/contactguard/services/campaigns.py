"""Campaign use cases: create, preview, launch, pause, resume, cancel, progress and funnel.

The API, the CLI and the operator console call these. Sending is done by the runner
(services/campaign_runner.py) in the worker processes; these functions only decide and record.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

from contactguard.domain.accounts import Account
from contactguard.domain.audit import SYSTEM, Actor
from contactguard.domain.campaign_spec import CampaignSpec, parse_spec, spec_from_row
from contactguard.domain.campaigns import (
    TRANSITIONS,
    CampaignStatus,
    QuietHours,
    TargetState,
    holidays_between,
    notice_working_days,
    plan_group,
)
from contactguard.domain.contacts import Channel, ContactKind
from contactguard.domain.locales import message_locale
from contactguard.domain.messages import MessageKind, MessageStatus, StoredMessage
from contactguard.errors import Conflict, FieldError, NotFound, ValidationFailed
from contactguard.ports import UnitOfWork
from contactguard.services import audit
from contactguard.services.campaign_messages import message_params, zone
from contactguard.services.deps import Deps
from contactguard.services.lookup import require_account

MAX_PAGE = 200
#: launch, pause, resume and cancel share this signature.
Action = Callable[..., "CampaignView"]


class CampaignNotFound(NotFound):
    code = "campaign-not-found"
    title = "Campaign not found"


@dataclass(frozen=True, slots=True)
class Progress:
    """Where a campaign is: accounts by state, steps written, the next send."""

    targeted: int | None
    planned: int
    planning_done: bool
    scheduled: int = 0
    notified: int = 0
    skipped: int = 0
    completed: int = 0
    canceled: int = 0
    notices_sent: int = 0
    reminders_sent: int = 0
    next_send_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class CampaignView:
    id: int
    name: str
    status: CampaignStatus
    spec: CampaignSpec
    announce_at: datetime | None
    effective_at: datetime
    created_by: str
    created_at: datetime
    updated_at: datetime
    launched_at: datetime | None
    paused_at: datetime | None
    finished_at: datetime | None
    canceled_at: datetime | None
    progress: Progress


@dataclass(frozen=True, slots=True)
class CountryPreview:
    country: str
    accounts: int
    first_send_at: datetime
    deadline: datetime
    holidays_skipped: list[date]
    notice_working_days: int
    time_zones: list[str]
    calendar_known: bool


@dataclass(frozen=True, slots=True)
class Sample:
    """One rendered message as a seller in ``locale`` would get it."""

    locale: str
    channel: Channel
    kind: str
    to: str
    subject: str | None
    body: str


@dataclass(frozen=True, slots=True)
class Preview:
    targeted: int
    announce_at: datetime
    countries: list[CountryPreview]
    samples: list[Sample]


@dataclass(frozen=True, slots=True)
class FunnelRow:
    key: str  # a country code or a date (YYYY-MM-DD)
    targeted: int = 0
    notified: int = 0
    seen: int = 0
    started: int = 0
    verified: int = 0


@dataclass(frozen=True, slots=True)
class Funnel:
    targeted: int
    notified: int
    seen: int
    started: int
    verified: int
    skipped: int
    by_channel: dict[str, dict[str, int]]
    by_country: list[FunnelRow]
    by_day: list[FunnelRow]
    bounced: int = 0  # campaign emails that bounced (DSN; inbound mail, issue 9)


@dataclass(frozen=True, slots=True)
class Banner:
    """A campaign's requirement as the seller's dashboard shows it."""

    campaign_id: int
    name: str
    contacts: list[ContactKind]
    deadline: datetime
    reference: str
    notified_at: datetime
    why: str
    consequence: str


@dataclass(frozen=True, slots=True)
class CampaignList:
    items: list[CampaignView]
    next_before: int | None = None
    extra: dict[str, Any] = field(default_factory=dict)


# --- create, read -------------------------------------------------------------------------


def create_campaign(deps: Deps, document: Mapping[str, Any], *,
                    actor: Actor = SYSTEM) -> CampaignView:
    """Store a draft campaign after checking every field and every rule.

    Raises ValidationFailed with one field error per broken rule (``channels`` without
    in_app, ``effective_at`` giving a targeted country less than the policy's minimum notice
    in working days, unknown accounts in ``audience.accounts``, ...).
    """
    now = deps.clock.now()
    spec = parse_spec(document, now=now)
    with deps.uow() as uow:
        _check_audience_accounts(uow, spec)
        errors = _notice_errors(deps, uow, spec, spec.announce_at or now)
        if errors:
            raise ValidationFailed("; ".join(e.message for e in errors[:3]), errors=errors)
        campaign_id = uow.campaigns.add(
            name=spec.name, status=CampaignStatus.DRAFT.value, spec=spec.settings(),
            announce_at=spec.announce_at, effective_at=spec.effective_at,
            created_by=actor.label or actor.kind.value, now=now)
        audit.record(deps, uow, actor, "campaign.created", f"campaign:{campaign_id}",
                     after={"name": spec.name, **spec.settings(),
                            "effective_at": spec.effective_at.isoformat()})
        uow.commit()
    return get_campaign(deps, campaign_id)


def get_campaign(deps: Deps, campaign_id: int) -> CampaignView:
    """The campaign with its progress. Raises CampaignNotFound."""
    with deps.reader() as uow:
        return _view(uow, _require(uow, campaign_id), with_progress=True)


def list_campaigns(deps: Deps, *, limit: int = 50, before: int | None = None,
                   status: CampaignStatus | None = None) -> CampaignList:
    """Campaigns newest first (``before``: an id from the previous page's ``next_before``)."""
    if not 1 <= limit <= MAX_PAGE:
        raise ValidationFailed(f"limit must be between 1 and {MAX_PAGE}",
                               errors=[FieldError("limit", f"1-{MAX_PAGE}", "out_of_range")])
    with deps.reader() as uow:
        rows = uow.campaigns.page(limit=limit + 1, before_id=before,
                                  status=status.value if status else None)
        items = [_view(uow, row, with_progress=True) for row in rows[:limit]]
    return CampaignList(items, next_before=items[-1].id if len(rows) > limit else None)


def preview_campaign(deps: Deps, campaign_id: int) -> Preview:
    """Who would be told, when each country's first message goes out, each country's
    deadline (with the public holidays that extended it) and sample messages.

    Raises CampaignNotFound.
    """
    now = deps.clock.now()
    with deps.reader() as uow:
        row = _require(uow, campaign_id)
        spec = _spec(row)
        announce = max(row.announce_at or now, now) if row.status == "draft" else (
            row.announce_at or now)
        return _preview(deps, uow, row.id, spec, announce,
                        uow.campaigns.audience_groups(spec.audience))


def _preview(deps: Deps, uow: UnitOfWork, campaign_id: int, spec: CampaignSpec,
             announce: datetime, groups: Sequence[Any]) -> Preview:
    samples_for: dict[str, int] = {}
    for group in groups:
        samples_for.setdefault(_lang(group.locale), group.sample_id)
    sample_accounts = {lang: uow.accounts.get(account_id)
                       for lang, account_id in samples_for.items()}
    countries = _country_previews(deps, spec, announce, groups)
    samples = _samples(deps, campaign_id, spec, announce, sample_accounts)
    return Preview(targeted=sum(g.n for g in groups), announce_at=announce, countries=countries,
                   samples=samples)


@dataclass(frozen=True, slots=True)
class DraftCheck:
    """What :func:`create_campaign` would say about a document, without storing anything:
    every field error, the countries short of notice, and the preview when the document
    parses (also when a rule is broken, so the operator sees why)."""

    errors: list[FieldError]
    shortfalls: list[NoticeShortfall]
    preview: Preview | None


def check_campaign(deps: Deps, document: Mapping[str, Any]) -> DraftCheck:
    """Check a campaign document as :func:`create_campaign` does and preview it (the live
    preview of the console's create form). Stores nothing; raises nothing for bad input."""
    now = deps.clock.now()
    try:
        spec = parse_spec(document, now=now)
    except ValidationFailed as exc:
        return DraftCheck(errors=exc.errors, shortfalls=[], preview=None)
    announce = spec.announce_at or now
    with deps.reader() as uow:
        groups = uow.campaigns.audience_groups(spec.audience)
        shortfalls = _notice_shortfalls(deps, spec, announce, groups)
        errors = _audience_account_errors(uow, spec) + _shortfall_errors(shortfalls)
        preview = _preview(deps, uow, 0, spec, announce, groups)
    return DraftCheck(errors=errors, shortfalls=shortfalls, preview=preview)


# --- launch, pause, resume, cancel ----------------------------------------------------------


def launch_campaign(deps: Deps, campaign_id: int, *, actor: Actor = SYSTEM) -> CampaignView:
    """Start a draft: workers plan it and send each account's notice at its first allowed time.

    An ``announce_at`` already past becomes now, and the minimum notice is checked again.
    Raises CampaignNotFound, Conflict (not a draft), ValidationFailed (notice too short now,
    or an audience that matches no account).
    """
    now = deps.clock.now()
    with deps.uow() as uow:
        row = _require(uow, campaign_id, lock=True)
        _check_transition(row, "launch")
        spec = _spec(row)
        announce = max(row.announce_at or now, now)
        errors = _notice_errors(deps, uow, spec, announce)
        targeted = uow.campaigns.count_audience(spec.audience)
        if targeted == 0:
            errors.append(FieldError("audience", "matches no account", "empty"))
        if errors:
            raise ValidationFailed("; ".join(e.message for e in errors[:3]), errors=errors)
        throttle = spec.throttle_per_second
        uow.campaigns.update(campaign_id, when_status=["draft"], status="running",
                             announce_at=announce, launched_at=now, updated_at=now,
                             targeted=targeted, tokens=int(max(throttle, 1.0) * 1000)
                             if throttle else None, tokens_at=now)
        audit.record(deps, uow, actor, "campaign.launched", f"campaign:{campaign_id}",
                     after={"announce_at": announce.isoformat(), "targeted": targeted})
        uow.commit()
    return get_campaign(deps, campaign_id)


def pause_campaign(deps: Deps, campaign_id: int, *, actor: Actor = SYSTEM) -> CampaignView:
    """Stop sending at once: no step is written and queued mail is held until resumed.

    Workers see the new status within seconds (they re-read it at most every 2 s when they
    pick a campaign message). Raises CampaignNotFound, Conflict.
    """
    return _change(deps, campaign_id, "pause", actor, paused_at=deps.clock.now(),
                   sweep="hold")


def resume_campaign(deps: Deps, campaign_id: int, *, actor: Actor = SYSTEM) -> CampaignView:
    """Continue a paused campaign where it stopped; no step is sent twice.

    Raises CampaignNotFound, Conflict.
    """
    return _change(deps, campaign_id, "resume", actor, paused_at=None, sweep="release")


def cancel_campaign(deps: Deps, campaign_id: int, *, actor: Actor = SYSTEM) -> CampaignView:
    """Stop for good: unsent messages are dropped and the campaign's deadlines no longer
    apply. Raises CampaignNotFound, Conflict (finished or already canceled)."""
    return _change(deps, campaign_id, "cancel", actor, canceled_at=deps.clock.now(),
                   sweep="cancel")


def _change(deps: Deps, campaign_id: int, action: str, actor: Actor,
            **values: Any) -> CampaignView:
    now = deps.clock.now()
    with deps.uow() as uow:
        row = _require(uow, campaign_id, lock=True)
        allowed, target = _check_transition(row, action)
        if row.status == "draft":
            values.pop("sweep", None)
        updated = uow.campaigns.update(campaign_id, when_status=[s.value for s in allowed],
                                       status=target.value, updated_at=now, sweep_cursor=0,
                                       sweep_not_before=None, **values)
        if updated is None:
            raise Conflict(f"campaign {campaign_id} changed meanwhile; try again")
        audit.record(deps, uow, actor, f"campaign.{action}d" if action != "cancel"
                     else "campaign.canceled", f"campaign:{campaign_id}",
                     before={"status": row.status}, after={"status": target.value})
        uow.commit()
    return get_campaign(deps, campaign_id)


def _check_transition(row: Any, action: str) -> tuple[frozenset[CampaignStatus], CampaignStatus]:
    allowed, target = TRANSITIONS[action]
    if CampaignStatus(row.status) not in allowed:
        raise Conflict(f"cannot {action} a {row.status} campaign (only "
                       f"{', '.join(sorted(s.value for s in allowed))})")
    return allowed, target


# --- progress and funnel ------------------------------------------------------------------


def campaign_funnel(deps: Deps, campaign_id: int) -> Funnel:
    """Targeted -> notified -> seen -> started -> verified, by channel, country and day.

    ``seen``: the seller opened the notice (dashboard banner or message center);
    ``started``: began verifying a campaign contact after the notice; ``verified``: every
    campaign contact is verified now. Raises CampaignNotFound.
    """
    with deps.reader() as uow:
        row = _require(uow, campaign_id)
        spec = _spec(row)
        fresh_after = deps.clock.now() - deps.policy.reverify_after
        rows = uow.campaigns.funnel_rows(campaign_id, spec.contacts, fresh_after)
        channel_rows = uow.campaigns.channel_counts(campaign_id)
        steps = uow.campaigns.step_counts(campaign_id)
        bounced = uow.inbound.campaign_bounces(campaign_id)
    countries: dict[str, dict[str, int]] = {}
    days: dict[str, dict[str, int]] = {}
    totals = dict.fromkeys(("targeted", "notified", "seen", "started", "verified", "skipped"), 0)
    for r in rows:
        notified = r.notified_day is not None
        counts = {"targeted": r.n, "notified": r.n if notified else 0,
                  "seen": r.n if notified and r.seen_day else 0,
                  "started": r.n if notified and r.started_day else 0,
                  "verified": r.n if notified and r.verified_day else 0}
        for stage, value in counts.items():
            totals[stage] += value
            countries.setdefault(r.country, dict.fromkeys(counts, 0))[stage] += value
        if r.state == TargetState.SKIPPED.value:
            totals["skipped"] += r.n
        for stage, day in (("notified", r.notified_day), ("seen", r.seen_day),
                           ("started", r.started_day), ("verified", r.verified_day)):
            if notified and day:
                days.setdefault(day, dict.fromkeys(counts, 0))[stage] += r.n
    by_channel: dict[str, dict[str, int]] = {}
    for r in channel_rows:
        by_channel.setdefault(r.channel, {})[r.status] = r.n
    in_app = sum(steps.values())
    if in_app:
        by_channel[Channel.IN_APP.value] = {MessageStatus.SENT.value: in_app}
    targeted = max(totals["targeted"], row.targeted or 0)
    return Funnel(targeted=targeted, notified=totals["notified"], seen=totals["seen"],
                  started=totals["started"], verified=totals["verified"],
                  skipped=totals["skipped"], by_channel=by_channel,
                  by_country=[FunnelRow(k, **v) for k, v in sorted(countries.items())],
                  by_day=[FunnelRow(k, **v) for k, v in sorted(days.items())], bounced=bounced)


def funnel_csv(deps: Deps, campaign_id: int) -> str:
    """The funnel as CSV (one row per country, then one per day) for a spreadsheet."""
    funnel = campaign_funnel(deps, campaign_id)
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["table", "key", "targeted", "notified", "seen", "started", "verified"])
    writer.writerow(["total", "all", funnel.targeted, funnel.notified, funnel.seen,
                     funnel.started, funnel.verified])
    for name, rows in (("country", funnel.by_country), ("day", funnel.by_day)):
        for r in rows:
            writer.writerow([name, r.key, r.targeted if name == "country" else "", r.notified,
                             r.seen, r.started, r.verified])
    return out.getvalue()


# --- what a seller sees ---------------------------------------------------------------------


def account_deadlines(uow: UnitOfWork, account: Account) -> dict[ContactKind, datetime]:
    """The deadline each campaign announced to this account, per contact kind.

    Only campaigns whose notice reached the account count (nothing counts against a seller
    before then), canceled ones do not, and the newest announcement wins.
    """
    deadlines: dict[ContactKind, datetime] = {}
    for row in uow.campaigns.deadlines_for_account(account.id):
        for kind in row.spec.get("contacts", ()):
            deadlines[ContactKind(kind)] = row.deadline
    return deadlines


def account_banners(deps: Deps, external_id: str, *, locale: str | None = None) -> list[Banner]:
    """Campaign requirements to show on the seller's dashboard: every campaign whose notice
    reached the account, still running or finished, with contacts left to verify.

    Raises AccountNotFound.
    """
    now = deps.clock.now()
    policy = deps.policy
    with deps.reader() as uow:
        account = require_account(uow, external_id)
        notices = uow.campaigns.notices_for_account(account.id, limit=200)
        contacts = {c.kind: c for c in uow.contacts.for_account(account.id)}
    reasons = policy.reasons_for(locale or account.locale)
    banners: dict[int, Banner] = {}
    for n in notices:
        if n.campaign_id in banners or n.status == CampaignStatus.CANCELED.value:
            continue
        kinds = [ContactKind(k) for k in n.spec.get("contacts", ())]
        open_kinds = [k for k in kinds if not _done(contacts.get(k), now, policy.reverify_after)]
        if not open_kinds:
            continue
        banners[n.campaign_id] = Banner(
            campaign_id=n.campaign_id, name=n.campaign_name, contacts=open_kinds,
            deadline=n.deadline, reference=n.reference, notified_at=n.created_at,
            why=reasons.why, consequence=reasons.consequence)
    return list(banners.values())


def mark_seen(deps: Deps, external_id: str, references: Sequence[str]) -> int:
    """Record that the seller saw these notices (first time only); feeds ``read_at`` and the
    funnel's ``seen``. Raises AccountNotFound."""
    if not references:
        return 0
    with deps.uow() as uow:
        account = require_account(uow, external_id)
        count: int = uow.campaigns.mark_read(account.id, list(references), deps.clock.now())
        uow.commit()
    return count


# --- helpers -------------------------------------------------------------------------------


def _require(uow: UnitOfWork, campaign_id: int, *, lock: bool = False) -> Any:
    row = uow.campaigns.get(campaign_id, lock=lock)
    if row is None:
        raise CampaignNotFound(f"no campaign {campaign_id}")
    return row


def _spec(row: Any) -> CampaignSpec:
    return spec_from_row(row.name, row.spec, row.announce_at, row.effective_at)


def _lang(locale: str) -> str:
    return message_locale(locale)


def _done(contact: Any, now: datetime, reverify_after: timedelta) -> bool:
    return bool(contact is not None and contact.is_verified and contact.verified_at is not None
                and contact.verified_at + reverify_after > now)


def _view(uow: UnitOfWork, row: Any, *, with_progress: bool) -> CampaignView:
    progress = Progress(targeted=row.targeted, planned=row.planned,
                        planning_done=row.planned_at is not None)
    if with_progress and row.status != "draft":
        counts = uow.campaigns.target_counts(row.id)
        steps = uow.campaigns.step_counts(row.id)
        planned = row.planned if row.planned_at else uow.campaigns.planned_count(row.id)
        progress = Progress(
            targeted=row.targeted, planned=planned, planning_done=row.planned_at is not None,
            scheduled=counts.get(TargetState.SCHEDULED.value, 0),
            notified=counts.get(TargetState.NOTIFIED.value, 0)
            + counts.get(TargetState.COMPLETED.value, 0),
            skipped=counts.get(TargetState.SKIPPED.value, 0),
            completed=counts.get(TargetState.COMPLETED.value, 0),
            canceled=counts.get(TargetState.CANCELED.value, 0),
            notices_sent=steps.get(MessageKind.CAMPAIGN_NOTICE.value, 0),
            reminders_sent=steps.get(MessageKind.CAMPAIGN_REMINDER.value, 0),
            next_send_at=uow.campaigns.next_step_at(row.id))
    return CampaignView(
        id=row.id, name=row.name, status=CampaignStatus(row.status), spec=_spec(row),
        announce_at=row.announce_at, effective_at=row.effective_at, created_by=row.created_by,
        created_at=row.created_at, updated_at=row.updated_at, launched_at=row.launched_at,
        paused_at=row.paused_at, finished_at=row.finished_at, canceled_at=row.canceled_at,
        progress=progress)


def _check_audience_accounts(uow: UnitOfWork, spec: CampaignSpec) -> None:
    errors = _audience_account_errors(uow, spec)
    if errors:
        raise ValidationFailed(
            f"{len(errors)} account(s) in audience.accounts do not exist", errors=errors)


def _audience_account_errors(uow: UnitOfWork, spec: CampaignSpec) -> list[FieldError]:
    wanted = list(spec.audience.accounts)
    if not wanted:
        return []
    known = uow.campaigns.known_external_ids(wanted)
    missing = [(i, e) for i, e in enumerate(wanted) if e not in known]
    return [FieldError(f"audience.accounts.{i}", f"no account '{e}'", "not_found")
            for i, e in missing[:20]]


@dataclass(frozen=True, slots=True)
class NoticeShortfall:
    """A targeted country given fewer working days of notice than the policy's minimum (the
    time zone of its accounts that gets the fewest)."""

    country: str
    working_days: int
    minimum: int
    time_zone: str
    announce_day: date
    effective_day: date
    holidays: list[date]


def _notice_shortfalls(deps: Deps, spec: CampaignSpec, announce: datetime,
                       groups: Sequence[Any]) -> list[NoticeShortfall]:
    """Each targeted country with fewer working days of notice than the policy's
    (``groups``: the audience's accounts by country, time zone and locale)."""
    minimum = deps.policy.min_notice_days
    zones: dict[str, set[str]] = {c: set() for c in spec.audience.countries}
    for group in groups:
        zones.setdefault(group.country, set()).add(group.time_zone)
    found = []
    for country in sorted(zones):
        calendar = deps.calendars(country)
        worst: tuple[int, str] | None = None
        for name in sorted(zones[country]) or ["UTC"]:
            days = notice_working_days(announce, spec.effective_at, zone(name), calendar)
            if worst is None or days < worst[0]:
                worst = (days, name)
        assert worst is not None
        if worst[0] >= minimum:
            continue
        here = zone(worst[1])
        start, end = announce.astimezone(here).date(), spec.effective_at.astimezone(here).date()
        found.append(NoticeShortfall(country, worst[0], minimum, worst[1], start, end,
                                     holidays_between(start, end, calendar)))
    return found


def _notice_errors(deps: Deps, uow: UnitOfWork, spec: CampaignSpec,
                   announce: datetime) -> list[FieldError]:
    """One error per targeted country with fewer working days of notice than the policy's."""
    return _shortfall_errors(_notice_shortfalls(
        deps, spec, announce, uow.campaigns.audience_groups(spec.audience)))


def _shortfall_errors(shortfalls: Sequence[NoticeShortfall]) -> list[FieldError]:
    errors = []
    for s in shortfalls:
        holidays = (f"; public holidays in between: {', '.join(d.isoformat() for d in s.holidays)}"
                    if s.holidays else "")
        errors.append(FieldError(
            "effective_at", f"{s.country}: only {s.working_days} working day(s) from announce_at "
            f"({s.announce_day:%Y-%m-%d}) to effective_at ({s.effective_day:%Y-%m-%d}) in "
            f"{s.time_zone}; the policy requires at least {s.minimum}{holidays}",
            "notice_too_short"))
    return errors


def _country_previews(deps: Deps, spec: CampaignSpec, announce: datetime,
                      groups: Sequence[Any]) -> list[CountryPreview]:
    by_country: dict[str, list[Any]] = {}
    for group in groups:
        by_country.setdefault(group.country, []).append(group)
    out = []
    for country, members in sorted(by_country.items()):
        calendar = deps.calendars(country)
        plans = []
        for name in sorted({g.time_zone for g in members}):
            plans.append(plan_group(announce_at=announce, effective_at=spec.effective_at,
                                    zone=zone(name), calendar=calendar, quiet=spec.quiet_hours,
                                    reminders=spec.reminders))
        skipped = sorted({d for p in plans for d in p.deadline.holidays_skipped})
        known = getattr(deps.calendars, "knows", None)
        out.append(CountryPreview(
            country=country, accounts=sum(g.n for g in members),
            first_send_at=min(p.notice_at for p in plans),
            deadline=max(p.deadline.at for p in plans), holidays_skipped=skipped,
            notice_working_days=min(p.notice_days for p in plans),
            time_zones=sorted({g.time_zone for g in members}),
            calendar_known=bool(known(country)) if callable(known) else True))
    return out


def _samples(deps: Deps, campaign_id: int, spec: CampaignSpec, announce: datetime,
             accounts: Mapping[str, Account | None]) -> list[Sample]:
    renderer = deps.renderer
    if renderer is None:
        return []
    samples = []
    for lang, account in sorted(accounts.items()):
        if account is None:
            continue
        calendar = deps.calendars(account.country)
        plan = plan_group(announce_at=announce, effective_at=spec.effective_at,
                          zone=zone(account.time_zone), calendar=calendar,
                          quiet=spec.quiet_hours, reminders=spec.reminders)
        params = message_params(deps, account_name=account.name, campaign_id=campaign_id,
                                campaign_name=spec.name, step=0, deadline=plan.deadline.at,
                                kinds=spec.contacts, locale=account.locale,
                                time_zone=account.time_zone, country=account.country)
        for channel in spec.channels:
            message = StoredMessage(
                id=0, reference="CG-PREV-IEW0", kind=MessageKind.CAMPAIGN_NOTICE, channel=channel,
                recipient=f"<{channel.value} of {account.external_id}>", locale=account.locale,
                account_id=account.id, params=params, secret_params={}, challenge_id=None,
                not_after=None, status=MessageStatus.PENDING, attempts=0, created_at=announce)
            rendered = renderer.render(message)
            samples.append(Sample(locale=lang, channel=channel, kind=message.kind.value,
                                  to=message.recipient, subject=rendered.subject,
                                  body=rendered.body))
    return samples


def quiet_hours_dict(quiet: QuietHours | None) -> dict[str, str] | None:
    return quiet.as_dict() if quiet else None
