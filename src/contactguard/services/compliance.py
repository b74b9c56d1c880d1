"""Use cases for compliance: what an account must do, by when, putting reminders off, and
account health assurance eligibility (requirements plus the platform's own signals)."""

from __future__ import annotations

import base64
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from contactguard.domain.accounts import Account
from contactguard.domain.audit import SYSTEM, Actor
from contactguard.domain.compliance import (
    Compliance,
    ComplianceState,
    Eligibility,
    Policy,
    Requirement,
    Snooze,
    can_snooze,
    eligibility,
    evaluate,
    next_change,
)
from contactguard.domain.contacts import ContactKind
from contactguard.domain.locales import message_locale
from contactguard.domain.policy import SIGNAL_NAME, is_finite_number
from contactguard.domain.webhooks import EventType
from contactguard.errors import Conflict, FieldError, NotFound, ValidationFailed
from contactguard.formatting import iso
from contactguard.ports import UnitOfWork
from contactguard.services import audit, webhooks
from contactguard.services.deps import Deps
from contactguard.services.lookup import require_account

MAX_PAGE = 1000


@dataclass(frozen=True, slots=True)
class AccountCompliance:
    """An account's compliance, and its account health assurance eligibility with reasons."""

    account: Account
    compliance: Compliance
    signals: Mapping[str, float] = field(default_factory=dict)
    policy: Policy = field(default_factory=Policy)

    @property
    def eligibility(self) -> Eligibility:
        return eligibility(self.policy, self.compliance, self.signals)

    @property
    def eligible(self) -> bool:
        return self.eligibility.eligible

    @property
    def eligibility_reasons(self) -> list[str]:
        return self.eligibility.reasons


@dataclass(frozen=True, slots=True)
class ComplianceRow:
    """One account in a listing by state."""

    external_id: str
    name: str
    state: ComplianceState
    deadline: datetime | None
    eligible: bool
    reasons: list[str]
    updated_at: datetime


@dataclass(frozen=True, slots=True)
class ComplianceListing:
    items: list[ComplianceRow]
    next_cursor: str | None


def get_compliance(deps: Deps, external_id: str) -> AccountCompliance:
    """The account's compliance state, requirements, deadlines, eligibility and reasons.

    Raises AccountNotFound.
    """
    policy = deps.policy
    with deps.reader() as uow:
        account = require_account(uow, external_id)
        return AccountCompliance(account, _evaluate(deps, uow, account, policy),
                                 uow.signals.get(account.id), policy)


def snooze_reminder(deps: Deps, external_id: str, kind: ContactKind, *,
                    actor: Actor = SYSTEM) -> Requirement:
    """Put the reminder for one requirement on hold for the policy's snooze length.

    The deadline does not move. Raises AccountNotFound, NotFound (not a requirement),
    Conflict (already met, or no snoozes left).
    """
    now = deps.clock.now()
    policy = deps.policy
    with deps.uow() as uow:
        account = require_account(uow, external_id)
        compliance = _evaluate(deps, uow, account, policy)
        requirement = next((r for r in compliance.requirements if r.kind is kind), None)
        if requirement is None:
            raise NotFound(f"{kind.value} is not a requirement for this account")
        if not can_snooze(requirement):
            reason = ("it is already met" if requirement.state is ComplianceState.COMPLIANT
                      else "its deadline has passed" if requirement.state is ComplianceState.OVERDUE
                      else f"it has been put off {policy.max_snoozes} times already")
            raise Conflict(f"this reminder cannot be put off: {reason}")
        used = policy.max_snoozes - requirement.snoozes_left + 1
        until = now + policy.snooze_length
        uow.snoozes.save(account.id, kind, Snooze(until=until, count=used), now)
        audit.record(deps, uow, actor, "reminder.snoozed", f"account:{account.external_id}",
                     after={"contact": kind.value, "until": until.isoformat(), "count": used})
        uow.commit()
        updated = _evaluate(deps, uow, account, policy)
        return next(r for r in updated.requirements if r.kind is kind)


def set_signals(deps: Deps, external_id: str, signals: Mapping[str, float | None], *,
                actor: Actor = SYSTEM) -> AccountCompliance:
    """Merge the platform's signals for an account (``None`` removes one); eligibility follows.

    Raises AccountNotFound, ValidationFailed.
    """
    errors = [FieldError(name, "signal names are lowercase letters, digits and _", "invalid")
              for name in signals if not SIGNAL_NAME.match(name)]
    errors += [FieldError(name, "a number or null", "invalid") for name, value in signals.items()
               if value is not None and (isinstance(value, bool) or
                                         not isinstance(value, int | float))]
    errors += [FieldError(name, "a finite number (not NaN or infinity)", "not_finite")
               for name, value in signals.items()
               if isinstance(value, int | float) and not isinstance(value, bool)
               and not is_finite_number(value)]
    if errors:
        raise ValidationFailed(errors[0].message, errors=errors)
    with deps.uow() as uow:
        account = require_account(uow, external_id)
        before: dict[str, float] = uow.signals.get(account.id)
        after = {k: v for k, v in {**before, **signals}.items() if v is not None}
        uow.signals.save(account.id, after, deps.clock.now())
        audit.record(deps, uow, actor, "signals.updated", f"account:{account.external_id}",
                     before=before, after=after)
        sync_account(deps, uow, account, actor)
        uow.commit()
    return get_compliance(deps, external_id)


def sync_account(deps: Deps, uow: UnitOfWork, account: Account, actor: Actor = SYSTEM) -> None:
    """Recompute the account's stored compliance row in the caller's transaction.

    Emits ``account.compliance_changed`` when the state changes and
    ``account.eligibility_changed`` only when the stored eligibility actually flips.
    """
    policy = deps.policy
    now = deps.clock.now()
    contacts = {c.kind: c for c in uow.contacts.for_account(account.id)}
    deadlines = account_deadlines(uow, account)
    compliance = evaluate(policy, contacts, now, uow.snoozes.for_account(account.id),
                          since=account.created_at, deadlines=deadlines)
    result = eligibility(policy, compliance, uow.signals.get(account.id))
    row = uow.compliance.get(account.id, for_update=True)
    uow.compliance.save(account.id, state=compliance.state.value, deadline=compliance.deadline,
                        eligible=result.eligible, reasons=result.reasons,
                        recheck_at=next_change(policy, contacts, now, since=account.created_at,
                                               deadlines=deadlines), now=now,
                        exists=row is not None)
    was_state = row.state if row is not None else None
    was_eligible = bool(row.eligible) if row is not None else False
    subject = f"account:{account.external_id}"
    deadline = (compliance.deadline.isoformat().replace("+00:00", "Z")
                if compliance.deadline else None)
    if was_state is not None and was_state != compliance.state.value:
        audit.record(deps, uow, actor, "compliance.changed", subject,
                     before={"state": was_state}, after={"state": compliance.state.value})
        webhooks.emit(deps, uow, EventType.ACCOUNT_COMPLIANCE_CHANGED, {
            "account": account.external_id, "state": compliance.state.value,
            "previous_state": was_state, "deadline": deadline}, account_id=account.id)
    if was_eligible != result.eligible:
        audit.record(deps, uow, actor, "eligibility.changed", subject,
                     before={"eligible": was_eligible},
                     after={"eligible": result.eligible, "reasons": result.reasons})
        webhooks.emit(deps, uow, EventType.ACCOUNT_ELIGIBILITY_CHANGED, {
            "account": account.external_id, "eligible": result.eligible,
            "reasons": result.reasons, "state": compliance.state.value,
            "deadline": deadline}, account_id=account.id)


def refresh_due_states(deps: Deps, *, batch: int = 500,
                       budget_seconds: float | None = None) -> int:
    """The periodic job: recompute accounts whose state time alone has changed (verified ->
    due soon -> overdue) or that a policy change (or a campaign notice) marked. Returns how
    many were recomputed; stops after ``budget_seconds`` so other jobs get their turn."""
    done = 0
    stop_at = None if budget_seconds is None else time.monotonic() + budget_seconds
    while True:
        with deps.uow() as uow:
            ids = uow.compliance.due_for_recheck(deps.clock.now(), batch)
            for account_id in ids:
                account = uow.accounts.get(account_id)
                if account is not None:
                    sync_account(deps, uow, account, SYSTEM)
            uow.commit()
        done += len(ids)
        if len(ids) < batch or (stop_at is not None and time.monotonic() >= stop_at):
            return done


def rebuild_compliance(deps: Deps, *, batch: int = 500) -> int:
    """Recompute every account's row (after an upgrade, or to repair). Returns the count."""
    done, after_id = 0, 0
    while True:
        with deps.uow() as uow:
            accounts: list[Account] = uow.accounts.page(limit=batch, after_id=after_id)
            for account in accounts:
                sync_account(deps, uow, account, SYSTEM)
            uow.commit()
        done += len(accounts)
        if len(accounts) < batch:
            return done
        after_id = accounts[-1].id


def list_by_state(deps: Deps, state: ComplianceState, *, limit: int = 100,
                  cursor: str | None = None) -> ComplianceListing:
    """Accounts in ``state``, earliest deadline first, a page at a time (keyset cursor).

    Raises ValidationFailed for a bad cursor or limit.
    """
    if not 1 <= limit <= MAX_PAGE:
        raise ValidationFailed(f"limit must be between 1 and {MAX_PAGE}",
                               errors=[FieldError("limit", f"1-{MAX_PAGE}", "out_of_range")])
    after = _decode_cursor(cursor) if cursor else None
    with deps.reader() as uow:
        rows = uow.compliance.page(state=state.value, limit=limit + 1, after=after)
    more = len(rows) > limit
    rows = rows[:limit]
    items = [ComplianceRow(external_id=r.external_id, name=r.name, state=ComplianceState(r.state),
                           deadline=None if r.deadline.year == 9999 else r.deadline,
                           eligible=bool(r.eligible), reasons=list(r.reasons),
                           updated_at=r.updated_at) for r in rows]
    next_cursor = _encode_cursor(rows[-1].deadline, rows[-1].account_id) if more else None
    return ComplianceListing(items, next_cursor)


def state_counts(deps: Deps) -> dict[str, int]:
    with deps.reader() as uow:
        counts: dict[str, int] = uow.compliance.counts()
    return {s.value: counts.get(s.value, 0) for s in ComplianceState}


def _encode_cursor(deadline: datetime, account_id: int) -> str:
    raw = f"{deadline.isoformat()}|{account_id}".encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _decode_cursor(cursor: str) -> tuple[datetime, int]:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        moment, _, ident = raw.partition("|")
        parsed = datetime.fromisoformat(moment)
        if parsed.tzinfo is None:
            raise ValueError("naive")
        return parsed, int(ident)
    except (ValueError, UnicodeDecodeError):
        raise ValidationFailed("this cursor is not valid; use next_cursor from a previous page",
                               errors=[FieldError("cursor", "invalid cursor", "invalid")]
                               ) from None


def account_deadlines(uow: UnitOfWork, account: Account) -> dict[ContactKind, datetime]:
    """Deadlines set for this account by something other than the policy's grace period.

    Campaigns (issue 8) put each targeted account's own, holiday-adjusted deadline here;
    a requirement that is missing or never verified is due then instead of after the grace
    period.
    """
    from contactguard.services import campaigns

    return campaigns.account_deadlines(uow, account)


def _evaluate(deps: Deps, uow: UnitOfWork, account: Account,
              policy: Policy | None = None) -> Compliance:
    contacts = {c.kind: c for c in uow.contacts.for_account(account.id)}
    return evaluate(policy or deps.policy, contacts, deps.clock.now(),
                    uow.snoozes.for_account(account.id), since=account.created_at,
                    deadlines=account_deadlines(uow, account))



def requirement_params(deps: Deps, uow: UnitOfWork, account: Account,
                       kind: ContactKind) -> dict[str, Any]:
    """What a message about ``kind`` says of its requirement, as safe message params.

    ``why`` and ``consequence`` (the policy's reasons in the account's language) always; for
    an open requirement also ``requirement_state`` and ``deadline`` (ISO 8601, UTC), which
    the renderer writes in the seller's locale and time zone.
    """
    policy = deps.policy
    reasons = policy.reasons_for(message_locale(account.locale))
    params: dict[str, Any] = {"why": reasons.why, "consequence": reasons.consequence}
    compliance = _evaluate(deps, uow, account, policy)
    requirement = next((r for r in compliance.requirements if r.kind is kind), None)
    if requirement is not None and requirement.state is not ComplianceState.COMPLIANT:
        params["requirement_state"] = requirement.state.value
        params["deadline"] = iso(requirement.deadline)
    return params
