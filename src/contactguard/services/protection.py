"""Contact-change protection and the policy's side of every contact and verification write.

Each function runs inside the caller's transaction: the audit entry, the notices, the webhook
events and the recomputed compliance row commit (or roll back) with the change itself.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from contactguard.domain.accounts import Account
from contactguard.domain.audit import SYSTEM, Actor
from contactguard.domain.challenges import Challenge, ChallengeStatus, seconds_until
from contactguard.domain.contacts import Channel, Contact, ContactKind, mask_contact
from contactguard.domain.messages import MessageKind, new_reference
from contactguard.domain.webhooks import EventType
from contactguard.errors import TooManyContactChanges
from contactguard.formatting import iso
from contactguard.ports import UnitOfWork
from contactguard.services import audit, webhooks
from contactguard.services.compliance import requirement_params, sync_account
from contactguard.services.deps import Deps
from contactguard.services.messages import queue_message

DAY = timedelta(hours=24)


def guard_contact_change(deps: Deps, uow: UnitOfWork, account: Account) -> None:
    """Refuse replacing a verified contact beyond the policy's daily number.

    Only replacements of a verified value count (the protection is against account takeover):
    fixing a typo in a value that was never verified is always allowed.
    Raises TooManyContactChanges (with ``limit`` and ``retry_at`` for pages to word).
    """
    now = deps.clock.now()
    limit = deps.policy.max_contact_changes_per_day
    recent: list[datetime] = uow.contact_changes.since(account.id, now - DAY)
    if len(recent) >= limit:
        retry_at = recent[-limit] + DAY
        raise TooManyContactChanges(
            f"verified contacts may be replaced at most {limit} times in 24 hours and this "
            f"account has reached that limit; try again after {retry_at:%Y-%m-%d %H:%M} UTC",
            retry_at=retry_at, retry_after_seconds=seconds_until(retry_at, now), limit=limit)


def contact_set(deps: Deps, uow: UnitOfWork, account: Account, contact: Contact,
                previous: Contact | None, actor: Actor = SYSTEM) -> None:
    """After a contact was added or changed: log, notify, emit, recompute.

    A change of an existing value is announced to the message center and, when there is
    one, to the verified email ("if this wasn't you"), without any link; replacing a
    verified value also counts against the daily limit.
    """
    subject = f"account:{account.external_id}"
    action = "contact.added" if previous is None else "contact.changed"
    audit.record(deps, uow, actor, action, subject,
                 before=_with_kind(previous), after=_with_kind(contact))
    if previous is not None:
        if previous.is_verified:  # only replacing a verified value counts (not typo fixes)
            uow.contact_changes.record(account.id, contact.kind, deps.clock.now())
        _notify_change(deps, uow, account, contact, previous)
    webhooks.emit(deps, uow, EventType.CONTACT_CHANGED, {
        "account": account.external_id, "contact": contact.kind.value,
        "value": mask_contact(contact.kind, contact.value),
        "previous_value": mask_contact(previous.kind, previous.value) if previous else None,
        "verified": contact.is_verified}, account_id=account.id)
    sync_account(deps, uow, account, actor)


def account_written(deps: Deps, uow: UnitOfWork, account: Account, before: Account | None,
                    actor: Actor = SYSTEM, *, contacts_follow: bool = False) -> None:
    """After an account was created (``before`` None) or updated, before its contacts are set.

    A new account gets its compliance row here unless contacts follow (they write it).
    """
    after = _account_snapshot(account)
    if before is None:
        audit.record(deps, uow, actor, "account.created", f"account:{account.external_id}",
                     after=after)
        if not contacts_follow:
            sync_account(deps, uow, account, actor)
    elif _account_snapshot(before) != after:
        audit.record(deps, uow, actor, "account.updated", f"account:{account.external_id}",
                     before=_account_snapshot(before), after=after)


def verification_finished(deps: Deps, uow: UnitOfWork, account: Account, challenge: Challenge,
                          actor: Actor = SYSTEM) -> None:
    """After a check approved or locked a challenge."""
    subject = f"account:{account.external_id}"
    detail = {"verification": challenge.id, "contact": challenge.contact_kind.value,
              "channel": challenge.channel.value,
              "destination": mask_contact(challenge.contact_kind, challenge.destination)}
    if challenge.status is ChallengeStatus.APPROVED:
        audit.record(deps, uow, actor, "verification.approved", subject, after=detail)
        webhooks.emit(deps, uow, EventType.CONTACT_VERIFIED,
                      {"account": account.external_id, **detail}, account_id=account.id)
        sync_account(deps, uow, account, actor)
    elif challenge.status is ChallengeStatus.LOCKED:
        audit.record(deps, uow, actor, "verification.locked", subject,
                     after={**detail, "attempts": challenge.attempts})
        webhooks.emit(deps, uow, EventType.VERIFICATION_LOCKED,
                      {"account": account.external_id, **detail}, account_id=account.id)


def _notify_change(deps: Deps, uow: UnitOfWork, account: Account, contact: Contact,
                   previous: Contact) -> None:
    """The change notice: to the message center always, by email only to a verified address
    (one never proven to be the seller's, e.g. a mistyped one, learns nothing)."""
    if previous.kind.is_email:
        old_email: str | None = previous.verified_value
    else:
        email: Contact | None = uow.contacts.get(account.id, ContactKind.EMERGENCY_EMAIL)
        old_email = email.verified_value if email is not None else None
    reference = new_reference()
    params = {"contact": contact.kind.value,
              "contact_label": contact.kind.value.replace("_", " "),
              "masked_old": mask_contact(previous.kind, previous.active_value),
              "masked_new": mask_contact(contact.kind, contact.value),
              "changed_at": iso(deps.clock.now()),
              **requirement_params(deps, uow, account, contact.kind)}
    if old_email:
        queue_message(deps, uow, account, kind=MessageKind.CONTACT_CHANGED,
                      channel=Channel.EMAIL, recipient=old_email, params=params,
                      reference=reference, recipient_verified=True)
    queue_message(deps, uow, account, kind=MessageKind.CONTACT_CHANGED, channel=Channel.IN_APP,
                  recipient=account.external_id, params=params, reference=reference)


def _with_kind(contact: Contact | None) -> dict[str, object] | None:
    snapshot = audit.contact_snapshot(contact)
    if snapshot is None or contact is None:
        return None
    return {"contact": contact.kind.value, **snapshot}


def _account_snapshot(account: Account) -> dict[str, object]:
    return {"name": account.name, "country": account.country, "locale": account.locale,
            "time_zone": account.time_zone}


def purge_contact_changes(deps: Deps) -> int:
    """A periodic job: forget contact changes older than the 24-hour window."""
    with deps.uow() as uow:
        removed = int(uow.contact_changes.purge_before(deps.clock.now() - DAY))
        uow.commit()
    return removed
