"""Shared limits and abuse protection (issue 11): rate limits and the SMS-pumping guard.

* :func:`enforce` — count one hit of a named limit (API key, client address, account,
  destination, prefix); RateLimited (429 with ``Retry-After``, ``RateLimit`` and
  ``RateLimit-Policy``) once it is spent. Counted in Redis when it is configured, else in the
  process's memory; when Redis does not answer, the hit passes (see adapters/ratelimit.py).
* :func:`guard_send` — before a code goes out by SMS or voice: the country must be allowed,
  non-geographic and costly numbers are refused, and a prefix whose codes are not entered
  (velocity, conversion) is blocked; a country has a daily budget. All counted in the
  database (``phone_sends``, ``protection_blocks``), so the guard holds across processes
  with or without Redis; the prefix's sends are serialised by a lock on the prefix.
* Blocks: listed and lifted by operators (audited), announced by ``fraud.prefix_blocked``.

``CONTACTGUARD_RATE_LIMITS=off`` (``deps.limiter`` is None) turns all of this off; the
per-contact cooldowns and attempt limits of services/verification.py are never off.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta

from contactguard.domain.abuse import (
    ALTERNATIVES,
    Block,
    BlockReason,
    Quota,
    judge_prefix,
    number_risk,
    phone_prefix,
)
from contactguard.domain.audit import SYSTEM, Actor
from contactguard.domain.contacts import Channel
from contactguard.domain.webhooks import EventType
from contactguard.errors import DestinationBlocked, FieldError, NotFound, RateLimited
from contactguard.normalize import phone_facts
from contactguard.ports import UnitOfWork
from contactguard.services import audit, webhooks
from contactguard.services.deps import Deps

log = logging.getLogger("contactguard.protection")

PHONE_CHANNELS = frozenset({Channel.SMS, Channel.VOICE})

_LIMIT_TEXT = {
    "api_key": "too many requests with this API key",
    "seller_ip": "too many requests from this address",
    "login_ip": "too many sign-in attempts from this address",
    "account": "too many codes were sent for this account",
    "destination": "too many codes were sent to this address or number",
    "prefix": "too many codes were sent to numbers like this one",
}

_REASON_TEXT = {
    BlockReason.COUNTRY_NOT_ALLOWED: "codes are not sent by SMS or phone call to numbers of "
                                     "this country",
    BlockReason.NON_GEOGRAPHIC: "codes are not sent to non-geographic numbers (such as +800 "
                                "or +882)",
    BlockReason.COSTLY_NUMBER: "codes are not sent to premium-rate or shared-cost numbers",
    BlockReason.PREFIX_VELOCITY: "codes to numbers like this one are paused: many were sent "
                                 "and not entered",
    BlockReason.LOW_CONVERSION: "codes to numbers like this one are paused: few of those sent "
                                "were entered",
    BlockReason.COUNTRY_BUDGET: "today's codes by SMS and phone call for this country are used up",
    BlockReason.PREFIX_BLOCKED: "codes to numbers like this one are paused after suspicious "
                                "traffic",
}


def enabled(deps: Deps) -> bool:
    return deps.limiter is not None


def enforce(deps: Deps, name: str, key: str, *, quota: Quota | None = None) -> None:
    """Count one hit of limit ``name`` for ``key``; raise RateLimited when it is spent.

    Does nothing when limits are off or the store does not answer (fail open, counted).
    """
    limiter = deps.limiter
    if limiter is None:
        return
    quota = quota or deps.policy.protection.quota(name)
    verdict = limiter.hit(quota, key)
    if verdict is None or verdict.allowed:
        return
    deps.protection_event("rate_limited", name)
    wait = max(verdict.reset_seconds, 1)
    raise RateLimited(
        f"{_LIMIT_TEXT.get(name, 'too many requests')} (at most {quota.limit} per "
        f"{_window(quota.window_seconds)}); try again in {wait} s",
        retry_at=deps.clock.now() + timedelta(seconds=wait), retry_after_seconds=wait,
        headers={"RateLimit-Policy": quota.policy_header,
                 "RateLimit": quota.header(verdict.remaining, wait)})


def _window(seconds: int) -> str:
    return {60: "minute", 3600: "hour"}.get(seconds, f"{seconds} s")


@dataclass(frozen=True, slots=True)
class PhoneSend:
    """What :func:`record_send` logs for a code that passed the guard."""

    prefix: str
    country: str


def guard_send(deps: Deps, uow: UnitOfWork, *, account_id: int, destination_key: str,
               channel: Channel, now: datetime) -> PhoneSend | None:
    """The limits and the pumping guard for one code about to be sent, in the caller's
    transaction (after the destination's lock). Returns what to log for a phone send.

    Raises RateLimited (account, destination, prefix limits) or DestinationBlocked. A new
    block is committed before DestinationBlocked is raised (the caller has written nothing).
    """
    if not enabled(deps):
        return None
    policy = deps.policy.protection
    enforce(deps, "account", f"account:{account_id}")
    enforce(deps, "destination", f"destination:{destination_key}")
    if channel not in PHONE_CHANNELS:
        return None
    calling_code, region, line_type = phone_facts(destination_key)
    if policy.allowed_countries and region not in policy.allowed_countries:
        _refuse(deps, BlockReason.COUNTRY_NOT_ALLOWED)
    risk = number_risk(calling_code, line_type, policy)
    if risk is not None:
        _refuse(deps, risk)
    prefix = phone_prefix(destination_key)
    uow.protection.lock(f"prefix:{prefix}")  # one send at a time per prefix, every process
    if uow.protection.active_block(prefix, now) is not None:
        _refuse(deps, BlockReason.PREFIX_BLOCKED)
    stats = uow.protection.prefix_stats(prefix, now - timedelta(hours=policy.prefix_window_hours))
    reason = judge_prefix(stats, policy)
    if reason is not None:
        block: Block = uow.protection.add_block(
            prefix=prefix, country=region, reason=reason, stats=stats, now=now,
            expires_at=now + timedelta(hours=policy.block_hours))
        webhooks.emit(deps, uow, EventType.FRAUD_PREFIX_BLOCKED, _block_data(block))
        audit.record(deps, uow, SYSTEM, "protection.prefix_blocked", f"block:{block.id}",
                     after=_block_data(block))
        uow.commit()
        deps.protection_event("prefix_blocked", reason.value)
        log.warning("SMS-pumping guard blocked prefix %s (%s): %d sent, %d verified",
                    prefix, reason.value, stats.sent, stats.verified)
        _refuse(deps, reason)
    if policy.country_daily_budget:
        # not locked (a lock per country would serialise every send of a country): on
        # PostgreSQL concurrent sends may pass the budget by a few
        midnight = now.replace(hour=0, minute=0, second=0, microsecond=0)
        if uow.protection.country_sends(region, midnight) >= policy.country_daily_budget:
            _refuse(deps, BlockReason.COUNTRY_BUDGET)
    enforce(deps, "prefix", f"prefix:{prefix}")
    return PhoneSend(prefix=prefix, country=region)


def record_send(uow: UnitOfWork, send: PhoneSend | None, challenge_id: str, now: datetime) -> None:
    """Log a phone code that passed :func:`guard_send` (same transaction as the send)."""
    if send is not None:
        uow.protection.record_phone_send(send.prefix, send.country, challenge_id, now)


def note_verified(uow: UnitOfWork, challenge_id: str, channel: Channel, now: datetime) -> None:
    """A phone challenge was approved: its sends count as converted."""
    if channel in PHONE_CHANNELS:
        uow.protection.mark_verified(challenge_id, now)


def _refuse(deps: Deps, reason: BlockReason) -> None:
    deps.protection_event("refused", reason.value)
    alternative = ALTERNATIVES[reason]
    message = f"{_REASON_TEXT[reason]}; {alternative}"
    raise DestinationBlocked(message, reason=reason.value, alternative=alternative, errors=[
        FieldError("destination", message, "destination_blocked", {"reason": reason.value})])


def _block_data(block: Block) -> dict[str, object]:
    return {"id": block.id, "prefix": block.prefix, "country": block.country,
            "reason": block.reason.value, "sent": block.sent, "verified": block.verified,
            "created_at": block.created_at.isoformat(),
            "expires_at": block.expires_at.isoformat(),
            "lifted_at": block.lifted_at.isoformat() if block.lifted_at else None,
            "lifted_by": block.lifted_by}


def list_blocks(deps: Deps, *, include_inactive: bool = False, limit: int = 100) -> list[Block]:
    """Blocks in force (newest first); with ``include_inactive`` also lifted and expired ones."""
    with deps.reader() as uow:
        blocks: list[Block] = uow.protection.list_blocks(
            deps.clock.now(), include_inactive=include_inactive, limit=limit)
        return blocks


def lift_block(deps: Deps, block_id: int, *, actor: Actor = SYSTEM) -> Block:
    """Lift a block at once (audited). Lifting a lifted block changes nothing.

    Raises NotFound.
    """
    now = deps.clock.now()
    with deps.uow() as uow:
        block: Block | None = uow.protection.get_block(block_id)
        if block is None:
            raise NotFound(f"no block {block_id}")
        if uow.protection.lift_block(block_id, f"{actor.kind.value}:{actor.label}"[:200], now):
            lifted: Block | None = uow.protection.get_block(block_id)
            assert lifted is not None
            audit.record(deps, uow, actor, "protection.block_lifted", f"block:{block_id}",
                         before=_block_data(block), after=_block_data(lifted))
            block = lifted
        uow.commit()
        return block


def purge_phone_sends(deps: Deps, *, keep_days: int = 31) -> int:
    """Drop phone sends older than any window the guard looks at (periodic job)."""
    with deps.uow() as uow:
        removed = int(uow.protection.purge(deps.clock.now() - timedelta(days=keep_days)))
        uow.commit()
        return removed
