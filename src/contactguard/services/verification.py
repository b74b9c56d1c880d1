"""Use cases for one-time-code verification: start, check, resend, look up."""

from __future__ import annotations

import base64
import secrets
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from contactguard.domain.abuse import Quota, destination_key
from contactguard.domain.accounts import Account
from contactguard.domain.audit import SYSTEM, Actor
from contactguard.domain.challenges import (
    Challenge,
    ChallengeStatus,
    normalize_code,
    seconds_until,
)
from contactguard.domain.contacts import (
    Channel,
    Contact,
    ContactKind,
    LineType,
    allowed_channels,
    mask_contact,
)
from contactguard.domain.messages import MessageKind
from contactguard.errors import (
    ChannelNotAllowed,
    ContactNotFound,
    FieldError,
    RateLimited,
    ValidationFailed,
    VerificationClosed,
    VerificationNotFound,
)
from contactguard.ports import UnitOfWork
from contactguard.services import abuse, protection
from contactguard.services.compliance import requirement_params
from contactguard.services.deps import Deps
from contactguard.services.lookup import require_account
from contactguard.services.messages import queue_message

INVALID_CODE = "Invalid or expired code."


@dataclass(frozen=True, slots=True)
class VerificationView:
    """What a caller may know about a challenge (never the code or its hash)."""

    id: str
    account_external_id: str
    contact_kind: ContactKind
    channel: Channel
    status: ChallengeStatus
    attempts_left: int
    expires_at: datetime
    resend_available_at: datetime
    masked_destination: str
    created_at: datetime
    detail: str | None = None


def start_verification(deps: Deps, *, account: str, contact: ContactKind,
                       channel: Channel | None = None) -> VerificationView:
    """Send a new code to the account's contact, cancelling any earlier open challenge for it.

    ``channel`` defaults to the first the contact allows (SMS for mobiles, voice for landlines).
    Raises AccountNotFound, ContactNotFound, ChannelNotAllowed, RateLimited.
    """
    now = deps.clock.now()
    with deps.uow() as uow:
        owner = require_account(uow, account)
        target: Contact | None = uow.contacts.get(owner.id, contact, for_update=True)
        if target is None:
            raise ContactNotFound(
                f"account '{account}' has no {contact.value}; set it first with "
                f"PUT /v1/accounts/{account}/contacts/{contact.value}")
        chosen = _choose_channel(target, channel)
        key = _lock_destination(uow, target.kind, target.value)
        recent = uow.sends.since(key, now - deps.rules.send_window)
        _refuse_until(deps, deps.rules.next_send_at(recent, now), now)
        phone_send = abuse.guard_send(deps, uow, account_id=owner.id, destination_key=key,
                                      channel=chosen, now=now)
        for old_id in uow.challenges.cancel_open(target.id):
            uow.outbox.cancel_for_challenge(old_id)
        challenge_id = _new_challenge_id()
        code = deps.new_code()
        challenge = Challenge(
            id=challenge_id, account_id=owner.id, contact_id=target.id, contact_kind=contact,
            destination=target.value, channel=chosen, status=ChallengeStatus.PENDING,
            code_hash=deps.hasher.hash(challenge_id, code), attempts=0,
            max_attempts=deps.rules.max_attempts, send_count=1, last_sent_at=now,
            expires_at=now + deps.rules.code_ttl,
            resend_available_at=deps.rules.next_send_at([*recent, now], now), created_at=now)
        uow.challenges.add(challenge)
        _record_send(deps, uow, owner, challenge, code, now,
                     to_verified=target.verified_value == target.value)
        abuse.record_send(uow, phone_send, challenge.id, now)
        uow.commit()
        return _view(owner, challenge, now)


def check_code(deps: Deps, verification_id: str, raw_code: str, *,
               actor: Actor = SYSTEM) -> VerificationView:
    """Check a code. The attempt is counted before the comparison; the right code wins once.

    Returns the challenge with status ``approved``, ``pending`` (wrong code, attempts left),
    ``locked`` or ``expired``. Raises VerificationNotFound, VerificationClosed (already used),
    ValidationFailed (not a 6-digit code; not counted).
    """
    code = normalize_code(raw_code)
    if code is None:
        raise ValidationFailed("the code is 6 digits", errors=[
            FieldError("code", "enter the 6-digit code you received", "invalid_code")])
    now = deps.clock.now()
    with deps.uow() as uow:
        counted: Challenge | None = uow.challenges.count_attempt(verification_id, now)
        if counted is None:
            return _closed_result(uow, verification_id, now)
        owner = _owner(uow, counted)
        if deps.hasher.matches(counted.id, code, counted.code_hash):
            if not uow.challenges.transition(counted.id, ChallengeStatus.APPROVED, now):
                raise VerificationClosed("this verification has already been used")
            uow.contacts.mark_verified(counted.contact_id, value=counted.destination,
                                       channel=counted.channel, now=now)
            abuse.note_verified(uow, counted.id, counted.channel, now)
            counted.status, counted.approved_at = ChallengeStatus.APPROVED, now
        elif counted.attempts >= counted.max_attempts:
            uow.challenges.transition(counted.id, ChallengeStatus.LOCKED, now)
            counted.status = ChallengeStatus.LOCKED
        if counted.status is not ChallengeStatus.PENDING:  # audit, webhooks, compliance
            protection.verification_finished(deps, uow, owner, counted, actor)
        uow.commit()
        view = _view(owner, counted, now)
        if view.status is ChallengeStatus.APPROVED:
            return view
        return _with_detail(view, INVALID_CODE)


def resend_code(deps: Deps, verification_id: str) -> VerificationView:
    """Send a new code for an open challenge; the previous code stops working at once.

    Allowed while the challenge is pending (also after it timed out), not once it is
    approved, locked or replaced. Raises VerificationNotFound, VerificationClosed, RateLimited.
    """
    now = deps.clock.now()
    with deps.uow() as uow:
        # The destination's lock first, then the challenge row: the order start_verification
        # takes them in (contact row, destination, then the open challenges), so the two
        # cannot wait for each other on PostgreSQL. A challenge's destination never changes.
        peek: Challenge | None = uow.challenges.get(verification_id)
        if peek is None:
            raise VerificationNotFound(f"no verification '{verification_id}'")
        key = _lock_destination(uow, peek.contact_kind, peek.destination)
        challenge: Challenge | None = uow.challenges.get(verification_id, for_update=True)
        if challenge is None:
            raise VerificationNotFound(f"no verification '{verification_id}'")
        if challenge.status is not ChallengeStatus.PENDING or (
                challenge.attempts >= challenge.max_attempts):
            raise VerificationClosed(
                f"this verification is {challenge.status_at(now).value}; start a new one")
        owner = _owner(uow, challenge)
        recent = uow.sends.since(key, now - deps.rules.send_window)
        _refuse_until(deps, deps.rules.next_send_at(recent, now), now)
        phone_send = abuse.guard_send(deps, uow, account_id=owner.id, destination_key=key,
                                      channel=challenge.channel, now=now)
        uow.outbox.cancel_for_challenge(challenge.id)
        code = deps.new_code()
        challenge.code_hash = deps.hasher.hash(challenge.id, code)
        challenge.send_count += 1
        challenge.last_sent_at = now
        challenge.expires_at = now + deps.rules.code_ttl
        challenge.resend_available_at = deps.rules.next_send_at([*recent, now], now)
        if not uow.challenges.replace_code(challenge):
            raise VerificationClosed("this verification was closed meanwhile; start a new one")
        _record_send(deps, uow, owner, challenge, code, now)
        abuse.record_send(uow, phone_send, challenge.id, now)
        uow.commit()
        return _view(owner, challenge, now)


def get_verification(deps: Deps, verification_id: str) -> VerificationView:
    """Raises VerificationNotFound."""
    now = deps.clock.now()
    with deps.reader() as uow:
        challenge: Challenge | None = uow.challenges.get(verification_id)
        if challenge is None:
            raise VerificationNotFound(f"no verification '{verification_id}'")
        return _view(_owner(uow, challenge), challenge, now)


def open_verification(deps: Deps, account: str, contact: ContactKind) -> VerificationView | None:
    """The challenge of the account's ``contact`` that can still be answered (a code was sent,
    it has not expired and attempts are left), so a seller can come back to it; else None.

    Raises AccountNotFound.
    """
    now = deps.clock.now()
    with deps.reader() as uow:
        owner = require_account(uow, account)
        target: Contact | None = uow.contacts.get(owner.id, contact)
        if target is None:
            return None
        challenge: Challenge | None = uow.challenges.open_for_contact(target.id, now)
        return _view(owner, challenge, now) if challenge is not None else None


def email_link_view(deps: Deps, verification_id: str, token: str) -> VerificationView:
    """The verification an email link names, if the link is genuine (nothing changes).

    Raises VerificationNotFound (unknown, or not this challenge's current link).
    """
    now = deps.clock.now()
    with deps.reader() as uow:
        challenge = _linked_challenge(deps, uow, verification_id, token)
        return _view(_owner(uow, challenge), challenge, now)


def confirm_email_link(deps: Deps, verification_id: str, token: str, *,
                       actor: Actor = SYSTEM) -> VerificationView:
    """Verify an email address through the link in its verification email (the POST of the
    link's confirm page; opening the link alone changes nothing, so a mail scanner that
    fetches links verifies nothing).

    The link is bound to the challenge and to the code sent with it (a resend replaces
    both), works once, and expires with the code. Raises VerificationNotFound (not a
    genuine link), VerificationClosed (already used, expired, locked or replaced).
    """
    now = deps.clock.now()
    with deps.uow() as uow:
        challenge = _linked_challenge(deps, uow, verification_id, token, for_update=True)
        status = challenge.status_at(now)
        if status is not ChallengeStatus.PENDING or not uow.challenges.transition(
                challenge.id, ChallengeStatus.APPROVED, now):
            closed = "approved" if status is ChallengeStatus.APPROVED else status.value
            raise VerificationClosed(f"this verification is {closed}; start a new one")
        owner = _owner(uow, challenge)
        uow.contacts.mark_verified(challenge.contact_id, value=challenge.destination,
                                   channel=challenge.channel, now=now)
        challenge.status, challenge.approved_at = ChallengeStatus.APPROVED, now
        protection.verification_finished(deps, uow, owner, challenge, actor)
        uow.commit()
        return _view(owner, challenge, now)


def _link_token(deps: Deps, challenge: Challenge) -> str:
    """A keyed hash of the challenge's current code hash: nothing more is stored, a resend
    (new code) invalidates the old link, and no one without the secret key can make one."""
    return deps.hasher.hash(challenge.id, f"email-link:{challenge.code_hash}")


def _linked_challenge(deps: Deps, uow: UnitOfWork, verification_id: str, token: str, *,
                      for_update: bool = False) -> Challenge:
    challenge: Challenge | None = uow.challenges.get(verification_id, for_update=for_update)
    if (challenge is None or challenge.channel is not Channel.EMAIL or len(token) > 128
            or not deps.hasher.matches(challenge.id, f"email-link:{challenge.code_hash}",
                                       token)):
        raise VerificationNotFound("this link is not valid")
    return challenge


def _record_send(deps: Deps, uow: UnitOfWork, owner: Account, challenge: Challenge, code: str,
                 now: datetime, *, to_verified: bool | None = None) -> None:
    """Log the send and queue the message carrying ``code``, in the caller's transaction.

    Every message says by when the requirement is due (SMS and calls briefly; an email also
    why, from the policy's reasons); an email carries a confirm link when the policy turns
    ``email_link`` on.
    """
    uow.sends.record(destination_key(challenge.destination,
                                     is_email=challenge.contact_kind.is_email), challenge.id, now)
    params: dict[str, Any] = {
        "ttl_minutes": int(deps.rules.code_ttl.total_seconds() // 60),
        "masked_to": mask_contact(challenge.contact_kind, challenge.destination),
        "contact": challenge.contact_kind.value}
    secret_params = {"code": code}
    params.update(requirement_params(deps, uow, owner, challenge.contact_kind))
    if challenge.channel is Channel.EMAIL and deps.policy.email_link:
        secret_params["link"] = (f"{deps.branding.public_url}/seller/email-link/"
                                 f"{challenge.id}/{_link_token(deps, challenge)}")
    queue_message(
        deps, uow, owner, kind=MessageKind.VERIFICATION_CODE, channel=challenge.channel,
        recipient=challenge.destination, params=params, secret_params=secret_params,
        challenge_id=challenge.id, not_after=challenge.expires_at, recipient_verified=to_verified)


def _closed_result(uow: UnitOfWork, verification_id: str, now: datetime) -> VerificationView:
    challenge: Challenge | None = uow.challenges.get(verification_id)
    if challenge is None:
        raise VerificationNotFound(f"no verification '{verification_id}'")
    status = challenge.status_at(now)
    if status is ChallengeStatus.APPROVED:
        raise VerificationClosed("this verification has already been used")
    if status is ChallengeStatus.LOCKED and challenge.status is ChallengeStatus.PENDING:
        uow.challenges.transition(challenge.id, ChallengeStatus.LOCKED, now)
        uow.commit()
    view = _view(_owner(uow, challenge), challenge, now)
    return _with_detail(view, INVALID_CODE)


def _choose_channel(contact: Contact, requested: Channel | None) -> Channel:
    allowed = allowed_channels(contact.kind, contact.line_type)
    if requested is None:
        return allowed[0]
    if requested in allowed:
        return requested
    names = " or ".join(f"'{c.value}'" for c in allowed)
    if contact.kind.is_phone and requested is Channel.SMS:
        kind = (contact.line_type or LineType.UNKNOWN).value.replace("_", " ")
        message = (f"this number is a {kind} and cannot receive SMS; use channel {names} "
                   "to get the code by phone call")
    else:
        message = f"a {contact.kind.value} cannot receive codes by {requested.value}; use {names}"
    raise ChannelNotAllowed(message, errors=[FieldError("channel", message, "channel_not_allowed")])


def _lock_destination(uow: UnitOfWork, kind: ContactKind, value: str) -> str:
    """One destination, one cooldown: the normalized key of ``value``, locked until the
    transaction ends so that two accounts sharing it cannot both send (PostgreSQL advisory
    lock; SQLite's writing transactions are serial already). Returns the key."""
    key = destination_key(value, is_email=kind.is_email)
    uow.protection.lock(f"destination:{key}")
    return key


def _refuse_until(deps: Deps, next_at: datetime, now: datetime) -> None:
    """The per-destination cooldown and hourly cap (never turned off); the headers describe
    the cap as a ``RateLimit-Policy`` (``"destination_cooldown";q=5;w=3600``)."""
    if next_at > now:
        wait = seconds_until(next_at, now)
        quota = Quota("destination_cooldown", deps.rules.max_sends_per_window,
                      int(deps.rules.send_window.total_seconds()))
        raise RateLimited(f"a code was sent to this contact recently; try again in {wait} s",
                          retry_at=next_at, retry_after_seconds=wait,
                          headers={"RateLimit-Policy": quota.policy_header,
                                   "RateLimit": quota.header(0, wait)})



def _owner(uow: UnitOfWork, challenge: Challenge) -> Account:
    account: Account | None = uow.accounts.get(challenge.account_id)
    if account is None:  # cascading deletes make this unreachable
        raise VerificationNotFound(f"no verification '{challenge.id}'")
    return account


def _view(owner: Account, challenge: Challenge, now: datetime) -> VerificationView:
    status = challenge.status_at(now)
    if status is ChallengeStatus.CANCELED:
        status = ChallengeStatus.EXPIRED  # replaced by a newer code: to the caller, expired
    return VerificationView(
        id=challenge.id, account_external_id=owner.external_id,
        contact_kind=challenge.contact_kind, channel=challenge.channel, status=status,
        attempts_left=0 if status is ChallengeStatus.LOCKED else challenge.attempts_left,
        expires_at=challenge.expires_at, resend_available_at=challenge.resend_available_at,
        masked_destination=mask_contact(challenge.contact_kind, challenge.destination),
        created_at=challenge.created_at)


def _with_detail(view: VerificationView, detail: str) -> VerificationView:
    return replace(view, detail=detail)


def _new_challenge_id() -> str:
    return "vrf_" + base64.b32encode(secrets.token_bytes(15)).decode("ascii").lower()
