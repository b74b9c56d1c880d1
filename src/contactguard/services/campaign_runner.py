"""The campaign runner (a periodic job of every worker) and the delivery gate.

Each call takes a campaign (row lock, ``SKIP LOCKED``: one worker per campaign at a time,
any number of campaigns in parallel) and does one batch in one transaction:

* planning: the next accounts of the audience in id order get their target row (deadline,
  first send time); those whose notice is due now get it at once;
* steps: due notices and reminders of planned accounts;
* sweeps: queued mail of a paused campaign is held, released on resume, dropped on cancel;
* finishing: nothing left to send or deliver -> ``finished`` and ``campaign.finished``.

Writing a step is: the step row (the in-app notice, unique per campaign, account and step),
the account's email/SMS outbox rows with the step's reference, and the target's next step,
all in the batch's transaction. A worker killed mid-batch leaves the whole batch unwritten.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from contactguard.domain.audit import SYSTEM
from contactguard.domain.campaign_spec import CampaignSpec, spec_from_row
from contactguard.domain.campaigns import (
    NOTICE_STEP,
    GroupPlan,
    QuietHours,
    Reminder,
    TargetState,
    deadline_after_notice,
    next_allowed,
    next_reminder,
    plan_group,
)
from contactguard.domain.contacts import Channel, ContactKind, LineType, allowed_channels
from contactguard.domain.messages import (
    JsonText,
    MessageKind,
    MessageStatus,
    StoredMessage,
    new_reference,
)
from contactguard.domain.webhooks import EventType
from contactguard.ports import UnitOfWork
from contactguard.services import audit, webhooks
from contactguard.services.campaign_messages import CAMPAIGN_KINDS, message_params, zone
from contactguard.services.deps import Deps

log = logging.getLogger("contactguard.campaigns")

#: How often a running campaign with nothing due checks whether it has finished.
FINISH_CHECK = timedelta(seconds=30)
#: A second pass over held mail after resume, for messages a worker held while it still saw
#: the campaign paused (its cached status is at most GATE_TTL old).
RELEASE_AGAIN_AFTER = timedelta(seconds=10)
GATE_TTL = 2.0


@dataclass(slots=True)
class _Plans:
    """Group plans (country, time zone) of one campaign, computed once per process."""

    key: tuple[Any, ...]
    groups: dict[tuple[str, str], GroupPlan] = field(default_factory=dict)


class CampaignRunner:
    """``run()`` is the periodic job; ``batch`` accounts per transaction."""

    def __init__(self, deps: Deps, *, batch: int = 2000) -> None:
        self._deps = deps
        self.batch = batch
        #: Plan ranges set-based where possible (PostgreSQL, no throttle); False: row by row.
        self.set_based = True
        self._plans: dict[int, _Plans] = {}
        self._lock = threading.Lock()

    def run(self, *, budget_seconds: float | None = None) -> int:
        """Work on every campaign that has something to do, one batch at a time, until
        nothing is left or (if given) the time budget is spent. Returns the accounts handled."""
        stop_at = None if budget_seconds is None else time.monotonic() + budget_seconds
        handled = 0
        while True:
            with self._deps.reader() as uow:
                ids = uow.campaigns.with_work(self._deps.clock.now())
            progressed = False
            for campaign_id in ids:
                done = self.work_once(campaign_id)
                handled += done
                progressed = progressed or done > 0
                if stop_at is not None and time.monotonic() >= stop_at:
                    return handled
            if not progressed:
                return handled

    def work_once(self, campaign_id: int) -> int:
        """One batch for one campaign, in one transaction; 0 when there was nothing to do.

        Sweeps, opening the plan and finishing lock the campaign row (one worker at a time);
        planning ranges and due steps hold it shared (any number of workers in parallel, a
        pause or cancel waits for the batches in flight), or exclusively when the campaign is
        throttled (its token bucket is in the row).
        """
        deps = self._deps
        with deps.reader() as uow:
            peek = uow.campaigns.get(campaign_id)
        if peek is None:
            return 0
        now = deps.clock.now()
        if peek.sweep and (peek.sweep_not_before is None or peek.sweep_not_before <= now):
            return self._locked(campaign_id, self._sweep)
        if peek.status != "running":
            return 0
        if peek.planned_at is None and peek.plan_last_id is None:
            return self._locked(campaign_id, self._open_plan)
        spec = spec_from_row(peek.name, peek.spec, peek.announce_at, peek.effective_at)
        throttled = spec.throttle_per_second is not None
        with deps.uow() as uow:
            row = uow.campaigns.get(campaign_id, lock=True, share=not throttled)
            if row is None or row.status != "running":
                return 0
            now = deps.clock.now()
            allowance, tokens = self._allowance(row, spec, now)
            if row.planned_at is None:
                done, used = self._plan(uow, row, spec, now, allowance)
            elif allowance:
                done, used = self._step(uow, row, spec, now, allowance)
            else:
                done, used = 0, 0
            if tokens is not None:
                uow.campaigns.update(campaign_id, tokens=max(tokens - used * 1000, 0),
                                     tokens_at=now)
            uow.commit()
        if done == 0 and peek.planned_at is None:
            done = self._locked(campaign_id, self._close_plan)
        elif done == 0 and (peek.checked_at is None or peek.checked_at <= now):
            done = self._locked(campaign_id, self._finish_or_wait)
        return done

    def _locked(self, campaign_id: int, action: Callable[[UnitOfWork, Any, datetime], int]
                ) -> int:
        with self._deps.uow() as uow:
            row = uow.campaigns.get(campaign_id, lock=True, skip_locked=True)
            if row is None:
                return 0  # another worker has it
            done = action(uow, row, self._deps.clock.now())
            uow.commit()
            return done

    # --- planning -------------------------------------------------------------------------

    def _open_plan(self, uow: UnitOfWork, row: Any, now: datetime) -> int:
        """Split the audience's account ids into ranges that workers plan in parallel."""
        if row.status != "running" or row.plan_last_id is not None or row.planned_at is not None:
            return 0
        last = uow.campaigns.open_ranges(row.id, span=self.batch)
        uow.campaigns.update(row.id, plan_last_id=last, updated_at=now)
        return 1

    def _close_plan(self, uow: UnitOfWork, row: Any, now: datetime) -> int:
        if row.planned_at is not None or uow.campaigns.ranges_left(row.id):
            return 0
        planned = uow.campaigns.planned_count(row.id)
        uow.campaigns.update(row.id, planned_at=now, planned=planned, updated_at=now)
        log.info("campaign planned", extra={"campaign": row.id, "targets": planned})
        return 1

    def _plan(self, uow: UnitOfWork, row: Any, spec: CampaignSpec, now: datetime,
              allowance: int) -> tuple[int, int]:
        """Plan one range: every account gets its target row (deadline, first send time);
        those whose notice is due now get it in the same transaction."""
        claimed = uow.campaigns.claim_range(row.id)
        if claimed is None:  # all planned, or the rest is being planned by other workers
            return 0, 0
        if self.set_based and uow.campaigns.is_postgres and spec.throttle_per_second is None:
            return self._plan_in_sql(uow, row, spec, now, claimed)
        accounts = uow.campaigns.audience_range(spec.audience, first_id=claimed.first_id,
                                                last_id=claimed.last_id)
        plans = self._group_plans(row, spec)
        due: list[tuple[Any, int, datetime]] = []
        targets: dict[int, dict[str, Any]] = {}
        for account in accounts:
            plan = self._plan_for(plans, spec, account.country, account.time_zone)
            targets[account.id] = {
                "campaign_id": row.id, "account_id": account.id, "country": account.country,
                "state": TargetState.SCHEDULED.value, "deadline": plan.deadline.at,
                "notified_at": None, "next_step": NOTICE_STEP, "next_step_at": plan.notice_at}
            if plan.notice_at <= now and len(due) < allowance:
                due.append((account, NOTICE_STEP, plan.deadline.at))
        decided = self._decide(uow, row, spec, due, now)
        for d in decided:
            targets[d.account_id].update(d.target)
        uow.campaigns.add_targets(list(targets.values()))
        used = self._write(uow, row, decided, now)
        uow.campaigns.finish_range(row.id, claimed.range_no, accounts=len(accounts), now=now)
        return max(len(accounts), 1), used

    def _plan_in_sql(self, uow: UnitOfWork, row: Any, spec: CampaignSpec, now: datetime,
                     claimed: Any) -> tuple[int, int]:
        """:meth:`_plan` done set-based (PostgreSQL, no throttle): the decision of
        :meth:`_decide` is the same for every account of a (country, time zone, locale) whose
        open contacts are the same, so Python decides those few groups and the database
        applies them to the range: targets, notices (steps, unique key), their email/SMS rows
        and the compliance marks, all in this transaction."""
        deps = self._deps
        first, last = claimed.first_id, claimed.last_id
        plans = self._group_plans(row, spec)
        groups = []
        allowed_now: dict[tuple[str, str], datetime] = {}
        for country, time_zone, locale in uow.campaigns.staged_groups(
                spec.audience, first_id=first, last_id=last):
            plan = self._plan_for(plans, spec, country, time_zone)
            for open_kinds in _open_subsets(spec.contacts):
                group = {"country": country, "time_zone": time_zone, "locale": locale,
                         "open_mask": _mask(open_kinds), "state": TargetState.SCHEDULED.value,
                         "deadline": plan.deadline.at, "notified_at": None,
                         "next_step": NOTICE_STEP, "next_step_at": plan.notice_at,
                         "send": False, "template": None}
                groups.append(group)
                if plan.notice_at > now:
                    continue
                if not open_kinds:
                    group.update(state=TargetState.SKIPPED.value, next_step=None,
                                 next_step_at=None)
                    continue
                zone_info, calendar = zone(time_zone), deps.calendars(country)
                allowed_at = allowed_now.get((country, time_zone))
                if allowed_at is None:
                    allowed_at = allowed_now[(country, time_zone)] = next_allowed(
                        now, zone_info, calendar, spec.quiet_hours)
                if allowed_at > now:
                    group["next_step_at"] = allowed_at
                    continue
                deadline = deadline_after_notice(plan.deadline.at, now, zone_info, calendar,
                                                 deps.policy.min_notice_days)
                reminder = next_reminder(deadline, spec.reminders, now, zone_info, calendar,
                                         spec.quiet_hours, after_step=NOTICE_STEP)
                shared = message_params(
                    deps, account_name="", campaign_id=row.id, campaign_name=row.name,
                    step=NOTICE_STEP, deadline=deadline, kinds=open_kinds, locale=locale,
                    time_zone=time_zone, country=country)
                del shared["account_name"]
                group.update(state=TargetState.NOTIFIED.value, deadline=deadline,
                             notified_at=now, next_step=reminder.step if reminder else None,
                             next_step_at=reminder.at if reminder else None, send=True,
                             template=json.dumps(shared, ensure_ascii=False)[1:])
        phone_kind = ContactKind.EMERGENCY_PHONE
        staged = uow.campaigns.stage_plan(
            spec.audience, first_id=first, last_id=last, groups=groups,
            references=[new_reference() for _ in range(last - first + 1)],
            contacts=spec.contacts, email=Channel.EMAIL in spec.channels,
            sms=Channel.SMS in spec.channels,
            sms_line_types=[t.value for t in LineType
                            if Channel.SMS in allowed_channels(phone_kind, t)],
            fresh_after=now - deps.policy.reverify_after)
        uow.campaigns.add_staged_targets(row.id)
        kind = _kind(NOTICE_STEP)
        written = uow.campaigns.add_staged_steps(row.id, step=NOTICE_STEP, kind=kind.value,
                                                 now=now)
        uow.outbox.add_planned(kind=kind, now=now)
        uow.outbox.seal_planned([
            (reference, deps.box.seal(json.dumps({"security_phrase": phrase}).encode()))
            for reference, phrase in uow.campaigns.staged_phrases()])
        uow.campaigns.mark_staged_recheck(now)
        uow.campaigns.finish_range(row.id, claimed.range_no, accounts=staged, now=now)
        return max(staged, 1), written

    # --- due steps ------------------------------------------------------------------------

    def _step(self, uow: UnitOfWork, row: Any, spec: CampaignSpec, now: datetime,
              allowance: int) -> tuple[int, int]:
        targets = uow.campaigns.due_targets(row.id, now=now, limit=min(self.batch, allowance))
        if not targets:
            return 0, 0
        due = [(t, t.next_step, t.target_deadline) for t in targets]
        decided = self._decide(uow, row, spec, due, now)
        used = self._write(uow, row, decided, now)
        uow.campaigns.update_targets(row.id, [{"account_id": d.account_id, **d.target}
                                              for d in decided])
        return len(targets), used

    # --- deciding and writing steps ---------------------------------------------------------

    def _decide(self, uow: UnitOfWork, row: Any, spec: CampaignSpec,
                due: Sequence[tuple[Any, int, datetime]], now: datetime) -> list[_Decision]:
        deps = self._deps
        policy = deps.policy
        fresh_after = now - policy.reverify_after
        ids = [a.id for a, _, _ in due]
        snoozes = uow.campaigns.snoozed_until(ids, spec.contacts, now) if any(
            step != NOTICE_STEP for _, step, _ in due) else {}
        undeliverable = uow.campaigns.undeliverable(
            {cid: value for a, _, _ in due for cid, value in (
                (a.email_id, a.email_value), (a.phone_id, a.phone_value)) if cid is not None})
        decisions: list[_Decision] = []
        # the same answers for every account of a country and time zone in this batch
        allowed_now: dict[tuple[str, str], datetime] = {}
        after_notice: dict[tuple[datetime, str, str], datetime] = {}
        reminders: dict[tuple[datetime, str, str, int], Reminder | None] = {}
        for account, step, deadline in due:
            zone_info = zone(account.time_zone)
            calendar = deps.calendars(account.country)
            group = (account.time_zone, account.country)
            open_kinds = [k for k in spec.contacts if not _contact_done(account, k, fresh_after)]
            notified_at = getattr(account, "target_notified_at", None)
            decision = _Decision(account.id, account.country, account)
            decisions.append(decision)
            if not open_kinds:
                decision.target = {"state": (TargetState.SKIPPED if step == NOTICE_STEP
                                             else TargetState.COMPLETED).value,
                                   "next_step": None, "next_step_at": None}
                continue
            if step != NOTICE_STEP and now >= deadline:
                decision.target = {"next_step": None, "next_step_at": None}
                continue
            allowed_at = allowed_now.get(group)
            if allowed_at is None:
                allowed_at = allowed_now[group] = next_allowed(now, zone_info, calendar,
                                                               spec.quiet_hours)
            snoozed = snoozes.get(account.id, {})
            if step != NOTICE_STEP and all(k in snoozed for k in open_kinds):
                # "remind me later": this reminder waits, the deadline does not move
                allowed_at = max(allowed_at, next_allowed(max(snoozed[k] for k in open_kinds),
                                                          zone_info, calendar, spec.quiet_hours))
                if allowed_at >= deadline:
                    decision.target = {"next_step": None, "next_step_at": None}
                    continue
            if allowed_at > now:
                decision.target = {"next_step": step, "next_step_at": allowed_at}
                continue
            if step == NOTICE_STEP:
                key = (deadline, *group)
                if key not in after_notice:
                    after_notice[key] = deadline_after_notice(deadline, now, zone_info, calendar,
                                                              policy.min_notice_days)
                deadline = after_notice[key]
                notified_at = now
            decision.step = step
            decision.deadline = deadline
            decision.open_kinds = open_kinds
            decision.reference = new_reference()
            decision.channels = self._channels(spec, account, undeliverable)
            reminder_key = (deadline, *group, step)
            if reminder_key not in reminders:
                reminders[reminder_key] = next_reminder(deadline, spec.reminders, now, zone_info,
                                                        calendar, spec.quiet_hours,
                                                        after_step=step)
            reminder = reminders[reminder_key]
            decision.target = {"state": TargetState.NOTIFIED.value, "deadline": deadline,
                               "notified_at": notified_at,
                               "next_step": reminder.step if reminder else None,
                               "next_step_at": reminder.at if reminder else None}
        return decisions

    @staticmethod
    def _channels(spec: CampaignSpec, account: Any,
                  undeliverable: set[tuple[int, str]]) -> dict[Channel, str]:
        """Where each channel of the campaign reaches this account (in-app always)."""
        out: dict[Channel, str] = {Channel.IN_APP: ""}
        if (Channel.EMAIL in spec.channels and account.email_id is not None
                and (account.email_id, Channel.EMAIL.value) not in undeliverable):
            out[Channel.EMAIL] = account.email_verified_value or account.email_value
        if Channel.SMS in spec.channels and account.phone_id is not None:
            verified = account.phone_verified_value is not None
            line = account.phone_verified_line_type if verified else account.phone_line_type
            line_type = LineType(line) if line else None
            if (Channel.SMS in allowed_channels(ContactKind.EMERGENCY_PHONE, line_type)
                    and (account.phone_id, Channel.SMS.value) not in undeliverable):
                out[Channel.SMS] = account.phone_verified_value or account.phone_value
        return out

    def _write(self, uow: UnitOfWork, row: Any, decisions: Sequence[_Decision],
               now: datetime) -> int:
        """Steps first (unique key), then the messages of the steps actually written.
        Returns how many steps were written."""
        deps = self._deps
        sending = [d for d in decisions if d.reference]
        if not sending:
            return 0
        steps = [{"campaign_id": row.id, "account_id": d.account_id, "step": d.step,
                  "kind": _kind(d.step).value, "reference": d.reference,
                  "channels": ",".join(c.value for c in d.channels), "created_at": now}
                 for d in sending]
        written = uow.campaigns.add_steps(steps)
        messages: list[dict[str, Any]] = []
        recheck: list[int] = []
        templates: dict[tuple[Any, ...], str] = {}
        for d in sending:
            if d.account_id not in written:
                log.warning("campaign step already written; not sent again",
                            extra={"campaign": row.id, "step": d.step})
                continue
            account = d.account
            assert d.deadline is not None and d.reference is not None
            key = (d.step, d.deadline, tuple(d.open_kinds), account.locale, account.time_zone,
                   account.country)
            template = templates.get(key)
            if template is None:  # the parameters but the name, shared by the whole group
                shared = message_params(
                    deps, account_name="", campaign_id=row.id, campaign_name=row.name,
                    step=d.step, deadline=d.deadline, kinds=d.open_kinds, locale=account.locale,
                    time_zone=account.time_zone, country=account.country)
                del shared["account_name"]
                template = templates[key] = json.dumps(shared, ensure_ascii=False)[1:]
            params = JsonText('{"account_name":' + json.dumps(account.name, ensure_ascii=False)
                              + "," + template)
            for channel, recipient in d.channels.items():
                if channel is Channel.IN_APP:
                    continue
                secret = None
                if (channel is Channel.EMAIL and account.security_phrase
                        and recipient == account.email_verified_value):
                    secret = deps.box.seal(json.dumps(
                        {"security_phrase": account.security_phrase}).encode())
                messages.append({"reference": d.reference, "account_id": d.account_id,
                                 "kind": _kind(d.step).value, "channel": channel.value,
                                 "recipient": recipient, "locale": account.locale,
                                 "params": params, "secret": secret,
                                 "status": MessageStatus.PENDING.value, "attempts": 0,
                                 "available_at": now, "created_at": now})
            if d.step == NOTICE_STEP and any(
                    getattr(account, f"{_prefix(k)}_verified_at") is None for k in d.open_kinds):
                recheck.append(d.account_id)
        uow.outbox.add_many(messages)
        uow.campaigns.mark_recheck(recheck, now)
        return len(written)

    # --- sweeps (pause, resume, cancel) and finishing ----------------------------------------

    def _sweep(self, uow: UnitOfWork, row: Any, now: datetime) -> int:
        accounts, references = uow.campaigns.step_page(row.id, after_account=row.sweep_cursor,
                                                       limit=self.batch)
        pending, held = MessageStatus.PENDING.value, MessageStatus.HELD.value
        if row.sweep == "hold":
            uow.outbox.restatus_references(references, from_statuses=[pending],
                                           to_status=MessageStatus.HELD)
        elif row.sweep in ("release", "release_again"):
            uow.outbox.restatus_references(references, from_statuses=[held],
                                           to_status=MessageStatus.PENDING, available_at=now)
        elif row.sweep == "cancel":
            uow.outbox.restatus_references(references, from_statuses=[pending, held],
                                           to_status=MessageStatus.CANCELED)
            uow.campaigns.mark_recheck(uow.campaigns.cancel_targets(row.id, accounts), now)
        if accounts:
            uow.campaigns.update(row.id, sweep_cursor=accounts[-1])
            return len(accounts)
        if row.sweep == "release":
            uow.campaigns.update(row.id, sweep="release_again", sweep_cursor=0,
                                 sweep_not_before=now + RELEASE_AGAIN_AFTER)
        else:
            uow.campaigns.update(row.id, sweep=None, sweep_cursor=0, sweep_not_before=None)
        return 1

    def _finish_or_wait(self, uow: UnitOfWork, row: Any, now: datetime) -> int:
        if uow.campaigns.has_open_targets(row.id) or uow.campaigns.has_unsent_messages(row.id):
            uow.campaigns.update(row.id, checked_at=now + FINISH_CHECK)
            return 0
        uow.campaigns.update(row.id, when_status=["running"], status="finished",
                             finished_at=now, updated_at=now)
        counts = uow.campaigns.target_counts(row.id)
        summary = {"campaign": row.id, "name": row.name, "targeted": row.targeted,
                   "notified": counts.get(TargetState.NOTIFIED.value, 0)
                   + counts.get(TargetState.COMPLETED.value, 0),
                   "skipped": counts.get(TargetState.SKIPPED.value, 0),
                   "finished_at": now.isoformat().replace("+00:00", "Z")}
        audit.record(self._deps, uow, SYSTEM, "campaign.finished", f"campaign:{row.id}",
                     before={"status": "running"}, after={"status": "finished", **summary})
        webhooks.emit(self._deps, uow, EventType.CAMPAIGN_FINISHED, summary)
        log.info("campaign finished", extra={"campaign": row.id})
        return 1

    # --- throttle and plans ---------------------------------------------------------------

    def _allowance(self, row: Any, spec: CampaignSpec, now: datetime) -> tuple[int, int | None]:
        """How many accounts may be messaged in this batch (token bucket, 1 s of burst)."""
        rate = spec.throttle_per_second
        if not rate:
            return self.batch, None
        capacity = int(max(rate, 1.0) * 1000)
        tokens = row.tokens if row.tokens is not None else capacity
        if row.tokens_at is not None:
            elapsed = max((now - row.tokens_at).total_seconds(), 0.0)
            tokens = min(capacity, tokens + int(elapsed * rate * 1000))
        return min(self.batch, tokens // 1000), tokens

    def _group_plans(self, row: Any, spec: CampaignSpec) -> _Plans:
        key = (row.announce_at, row.effective_at, spec.quiet_hours, spec.reminders)
        with self._lock:
            found = self._plans.get(row.id)
            if found is None or found.key != key:
                if len(self._plans) > 100:
                    self._plans.clear()
                found = self._plans[row.id] = _Plans(key)
            return found

    def _plan_for(self, plans: _Plans, spec: CampaignSpec, country: str,
                  time_zone: str) -> GroupPlan:
        found = plans.groups.get((country, time_zone))
        if found is None:
            announce_at, effective_at = plans.key[0], plans.key[1]
            found = plans.groups[(country, time_zone)] = plan_group(
                announce_at=announce_at, effective_at=effective_at, zone=zone(time_zone),
                calendar=self._deps.calendars(country), quiet=spec.quiet_hours,
                reminders=spec.reminders)
        return found


@dataclass(slots=True)
class _Decision:
    account_id: int
    country: str
    account: Any
    target: dict[str, Any] = field(default_factory=dict)
    step: int = NOTICE_STEP
    deadline: datetime | None = None
    open_kinds: list[ContactKind] = field(default_factory=list)
    reference: str | None = None
    channels: dict[Channel, str] = field(default_factory=dict)


def _open_subsets(contacts: Sequence[ContactKind]) -> list[list[ContactKind]]:
    """Every subset of the campaign's contacts (in the campaign's order), empty included."""
    subsets: list[list[ContactKind]] = [[]]
    for kind in contacts:
        subsets += [[*subset, kind] for subset in subsets]
    return [[k for k in contacts if k in subset] for subset in subsets]


def _mask(kinds: Sequence[ContactKind]) -> int:
    """The ``open_mask`` of ``stage_plan``: 1 the email, 2 the phone still to verify."""
    return ((1 if ContactKind.EMERGENCY_EMAIL in kinds else 0)
            | (2 if ContactKind.EMERGENCY_PHONE in kinds else 0))


def _kind(step: int) -> MessageKind:
    return MessageKind.CAMPAIGN_NOTICE if step == NOTICE_STEP else MessageKind.CAMPAIGN_REMINDER


def _prefix(kind: ContactKind) -> str:
    return "email" if kind is ContactKind.EMERGENCY_EMAIL else "phone"


def _contact_done(account: Any, kind: ContactKind, fresh_after: datetime) -> bool:
    prefix = _prefix(kind)
    value = getattr(account, f"{prefix}_value")
    verified_value = getattr(account, f"{prefix}_verified_value")
    verified_at = getattr(account, f"{prefix}_verified_at")
    return bool(value is not None and verified_value == value and verified_at is not None
                and verified_at > fresh_after)


# --- the delivery gate ------------------------------------------------------------------------


class CampaignGate:
    """Asked by the delivery worker before it renders a campaign message: hold it (campaign
    paused), drop it (canceled), or wait (quiet hours or a public holiday where the seller
    is now). Campaign statuses are cached for at most ``ttl`` seconds per process."""

    def __init__(self, deps: Deps, *, ttl: float = GATE_TTL,
                 monotonic: Callable[[], float] = time.monotonic) -> None:
        self._deps = deps
        self._ttl = ttl
        self._monotonic = monotonic
        self._cache: dict[int, tuple[float, str, QuietHours | None]] = {}
        self._lock = threading.Lock()

    def __call__(self, message: StoredMessage) -> tuple[MessageStatus, datetime] | None:
        if message.kind not in CAMPAIGN_KINDS:
            return None
        campaign_id = message.params.get("campaign")
        now = self._deps.clock.now()
        if not isinstance(campaign_id, int):
            return None
        status, quiet = self._status(campaign_id)
        if status == "paused":
            status, quiet = self._status(campaign_id, fresh=True)
        if status == "paused":
            return MessageStatus.HELD, now
        if status in ("canceled", "missing"):
            return MessageStatus.CANCELED, now
        country = str(message.params.get("country") or "")
        time_zone = str(message.params.get("time_zone") or "UTC")
        allowed = next_allowed(now, zone(time_zone), self._deps.calendars(country), quiet)
        if allowed > now:
            return MessageStatus.PENDING, allowed
        return None

    def _status(self, campaign_id: int, *, fresh: bool = False) -> tuple[str, QuietHours | None]:
        clock = self._monotonic()
        with self._lock:
            cached = self._cache.get(campaign_id)
        if cached is not None and not fresh and cached[0] > clock:
            return cached[1], cached[2]
        with self._deps.reader() as uow:
            row = uow.campaigns.get(campaign_id)
        if row is None:
            entry: tuple[float, str, QuietHours | None] = (clock + self._ttl, "missing", None)
        else:
            spec = spec_from_row(row.name, row.spec, row.announce_at, row.effective_at)
            entry = (clock + self._ttl, row.status, spec.quiet_hours)
        with self._lock:
            if len(self._cache) > 1000:
                self._cache.clear()
            self._cache[campaign_id] = entry
        return entry[1], entry[2]
