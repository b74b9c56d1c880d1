"""Use cases for one-time-code verification: start, check, resend, look up."""

from __future__ import annotations

import base64
import secrets
from dataclasses import dataclass, replace
from datetime import datetime

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
from contactguard.services import protection
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
        recent = uow.sends.since(target.value, now - deps.rules.send_window)
        _refuse_until(deps.rules.next_send_at(recent, now), now)
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
        _record_send(deps, uow, owner, challenge, code, now)
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
        challenge: Challenge | None = uow.challenges.get(verification_id, for_update=True)
        if challenge is None:
            raise VerificationNotFound(f"no verification '{verification_id}'")
        if challenge.status is not ChallengeStatus.PENDING or (
                challenge.attempts >= challenge.max_attempts):
            raise VerificationClosed(
                f"this verification is {challenge.status_at(now).value}; start a new one")
        owner = _owner(uow, challenge)
        recent = uow.sends.since(challenge.destination, now - deps.rules.send_window)
        _refuse_until(deps.rules.next_send_at(recent, now), now)
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


def _record_send(deps: Deps, uow: UnitOfWork, owner: Account, challenge: Challenge, code: str,
                 now: datetime) -> None:
    """Log the send and queue the message carrying ``code``, in the caller's transaction."""
    uow.sends.record(challenge.destination, challenge.id, now)
    queue_message(
        deps, uow, owner, kind=MessageKind.VERIFICATION_CODE, channel=challenge.channel,
        recipient=challenge.destination,
        params={"ttl_minutes": int(deps.rules.code_ttl.total_seconds() // 60),
                "masked_to": mask_contact(challenge.contact_kind, challenge.destination)},
        secret_params={"code": code}, challenge_id=challenge.id, not_after=challenge.expires_at)


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


def _refuse_until(next_at: datetime, now: datetime) -> None:
    if next_at > now:
        wait = seconds_until(next_at, now)
        raise RateLimited(f"a code was sent to this contact recently; try again in {wait} s",
                          retry_at=next_at, retry_after_seconds=wait)



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
