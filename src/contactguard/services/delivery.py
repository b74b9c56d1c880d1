"""Delivering the outbox: claim due messages, render, hand to a transport, record the outcome."""

from __future__ import annotations

import contextlib
import json
import logging
import random
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from functools import partial
from typing import Any

from contactguard.domain.contacts import Channel, mask_email, mask_phone
from contactguard.domain.delivery import RetryPolicy
from contactguard.domain.messages import Lane, MessageStatus, Receipt, StoredMessage
from contactguard.errors import HandoverRefused, PermanentDeliveryError, TransientDeliveryError
from contactguard.ports import DeliveryMetrics, Renderer, Sender
from contactguard.services.deps import Deps

log = logging.getLogger("contactguard.delivery")

#: Noted on a message sent again after a hand-over whose result is unknown (its worker died
#: after the hand-over mark): delivery is at least once, so the receiver may get it twice,
#: with the same Message-ID / reference, and can drop the copy.
POSSIBLE_DUPLICATE = ("sent again after an unconfirmed hand-over (the previous worker stopped "
                      "before recording the answer): the receiver may get it twice, with the "
                      "same Message-ID")
#: Kept for readers of older rows: the message was closed as sent without a resend.
UNCONFIRMED = ("delivery unconfirmed: the worker that handed it to the transport stopped before "
               "recording the answer; not sent again, to avoid a duplicate")
#: Attempts for a message whose sending raised an unexpected exception (a bug, not a
#: transport's answer) before it is failed for good.
UNEXPECTED_ATTEMPTS = 3


@dataclass(slots=True)
class Transports:
    """The sender for each channel, the renderer, and how to retry (per channel if set)."""

    senders: Mapping[Channel, Sender]
    renderer: Renderer
    retry: RetryPolicy = field(default_factory=RetryPolicy)
    lease: timedelta = timedelta(seconds=60)
    rng: random.Random = field(default_factory=random.Random)
    #: Retry policy per channel (e.g. webhooks retry for over 24 h); ``retry`` otherwise.
    retry_by_channel: Mapping[Channel, RetryPolicy] = field(default_factory=dict)
    #: Called after each attempt on a channel with the message and its outcome
    #: (``sent``, ``retried``, ``failed``, ``expired``); webhooks track failing endpoints.
    on_outcome: Mapping[Channel, Callable[[StoredMessage, str], None]] = field(
        default_factory=dict)
    metrics: DeliveryMetrics | None = None
    #: Attempts before a message whose sending keeps raising unexpected exceptions fails.
    unexpected_attempts: int = UNEXPECTED_ATTEMPTS
    #: Campaigns (issue 8): asked before a message is rendered; a (status, available_at) answer
    #: parks it unsent (campaign paused -> held, canceled, or quiet hours -> pending later).
    gate: Callable[[StoredMessage], tuple[MessageStatus, datetime] | None] | None = None

    def retry_for(self, channel: Channel) -> RetryPolicy:
        return self.retry_by_channel.get(channel, self.retry)


@dataclass(slots=True)
class BatchResult:
    claimed: int = 0
    sent: int = 0
    retried: int = 0
    failed: int = 0
    expired: int = 0
    resent: int = 0  # sent again after a worker died past the hand-over point (maybe twice)
    crashed: int = 0  # an unexpected exception: retried (bounded) or failed, never the batch
    lost_lease: int = 0  # another worker took the message over before it was handed over
    released: int = 0  # given back unsent on shutdown
    held: int = 0  # parked by the gate (campaign paused or canceled, quiet hours)


def deliver_due(deps: Deps, transports: Transports, *, owner: str, limit: int = 50,
                should_stop: Callable[[], bool] | None = None,
                lanes: Sequence[Lane] | None = None) -> BatchResult:
    """Claim up to ``limit`` due messages of ``lanes`` (default: all) for ``owner``; try each once.

    A code that could only arrive after its challenge expired is not sent (``expired``);
    transient failures are retried with backoff; permanent ones fail with the reason (and
    mark the contact undeliverable on that channel when the destination is at fault).
    Senders that support it record a hand-over point in the database, with the lease still
    held, just before the transport can accept the message (a worker that lost its lease never
    sends). Delivery is at least once: a message whose worker died after that point is sent
    again with the same Message-ID (noted as a possible duplicate), unless it is a code past
    its expiry. Any exception while sending one message retries (a bounded number of times)
    or fails that message alone; the rest of the batch goes on at once, and if the loop itself
    is interrupted the unsent rest is released. When ``should_stop()`` turns true, unsent
    claimed messages are released.
    """
    result = BatchResult()
    with deps.uow() as uow:
        claimed = uow.outbox.claim_due(now=deps.clock.now(), owner=owner, lease=transports.lease,
                                       limit=limit, lanes=lanes)
        uow.commit()
    result.claimed = len(claimed)
    renew_at = deps.clock.now() + transports.lease / 2
    done = 0
    try:
        for index, (message, sealed) in enumerate(claimed):
            rest = [m.id for m, _ in claimed[index:]]
            if should_stop is not None and should_stop():
                with deps.uow() as uow:
                    result.released = uow.outbox.release(rest, owner=owner)
                    uow.commit()
                done = len(claimed)
                break
            if deps.clock.now() >= renew_at:
                with deps.uow() as uow:
                    uow.outbox.extend_leases(rest, owner=owner,
                                             until=deps.clock.now() + transports.lease)
                    uow.commit()
                renew_at = deps.clock.now() + transports.lease / 2
            try:
                outcome = _deliver_one(deps, transports, owner, message, sealed)
            except Exception as exc:  # recording the outcome failed (e.g. the database)
                log.error("delivery could not be recorded", extra={
                    **_log_fields(message), "error_type": type(exc).__name__})
                outcome = "crashed"
            done = index + 1
            setattr(result, outcome, getattr(result, outcome) + 1)
            hook = transports.on_outcome.get(message.channel)
            if hook is not None:
                try:
                    hook(message, outcome)
                except Exception:
                    log.exception("delivery outcome hook failed", extra={
                        "message_ref": message.reference, "channel": message.channel.value})
    finally:
        if done < len(claimed):  # interrupted: give the untouched rest back at once
            with contextlib.suppress(Exception), deps.uow() as uow:
                result.released += uow.outbox.release([m.id for m, _ in claimed[done:]],
                                                      owner=owner)
                uow.commit()
    return result


def _deliver_one(deps: Deps, transports: Transports, owner: str, message: StoredMessage,
                 sealed: str | None) -> str:
    now = deps.clock.now()
    if transports.gate is not None:
        parked = transports.gate(message)
        if parked is not None:
            with deps.uow() as uow:
                uow.outbox.park(message.id, owner=owner, status=parked[0], available_at=parked[1])
                uow.commit()
            return "held"
    if message.not_after is not None and now >= message.not_after:
        _finish(deps, transports, message, owner, MessageStatus.EXPIRED,
                error="not sent: its code expired before it could be delivered")
        return "expired"
    resend = message.handed_over_at is not None  # its worker died after the hand-over point
    if resend:
        _count(transports, message, "none", "resent")
        log.warning("delivery resent after an unconfirmed hand-over", extra=_log_fields(message))
    sender = transports.senders.get(message.channel)
    try:
        if sender is None:
            raise TransientDeliveryError(
                f"no transport is configured for channel {message.channel.value}")
        if sealed:
            message.secret_params = json.loads(deps.box.open(sealed))
        rendered = replace(transports.renderer.render(message), outbox_id=message.id)
        if getattr(sender, "supports_handover", False):
            answer = sender.send(rendered, handover=partial(_hand_over, deps, message.id, owner))  # type: ignore[call-arg]
        else:
            answer = sender.send(rendered)
    except HandoverRefused:
        log.warning("delivery abandoned: lease lost", extra=_log_fields(message))
        return "lost_lease"
    except TransientDeliveryError as exc:
        return _retry_or_fail(deps, transports, owner, message, sender, exc.detail,
                              transports.retry_for(message.channel).max_attempts)
    except PermanentDeliveryError as exc:
        _finish(deps, transports, message, owner, MessageStatus.FAILED, error=exc.detail,
                sender=sender, undeliverable=exc.recipient_fault)
        return "failed"
    except Exception as exc:  # a bug or an unforeseen input: this message only, retried a little
        reset = getattr(sender, "reset", None)
        if reset is not None:
            with contextlib.suppress(Exception):
                reset()  # the next message starts on a clean connection
        where = _innermost(exc)
        log.error("delivery raised an unexpected error", extra={
            **_log_fields(message), "error_type": type(exc).__name__, "where": where})
        _count(transports, message, sender.name if sender else "none", "crashed")
        detail = (f"unexpected error in the {message.channel.value} transport "
                  f"({type(exc).__name__} at {where}); see the logs for reference "
                  f"{message.reference}")
        attempts = min(transports.unexpected_attempts,
                       transports.retry_for(message.channel).max_attempts)
        outcome = _retry_or_fail(deps, transports, owner, message, sender, detail, attempts)
        return "crashed" if outcome == "retried" else outcome
    receipt = answer if isinstance(answer, Receipt) else Receipt(
        sender.name, answer if isinstance(answer, str) else None)
    _finish(deps, transports, message, owner, MessageStatus.SENT, receipt=receipt,
            error=POSSIBLE_DUPLICATE if resend else None)
    return "resent" if resend else "sent"


def _retry_or_fail(deps: Deps, transports: Transports, owner: str, message: StoredMessage,
                   sender: Sender | None, detail: str, max_attempts: int) -> str:
    """Schedule another attempt with backoff, or fail the message after ``max_attempts``."""
    if message.attempts >= max_attempts:
        _finish(deps, transports, message, owner, MessageStatus.FAILED, sender=sender,
                error=f"gave up after {message.attempts} attempts: {detail}")
        return "failed"
    delay = transports.retry_for(message.channel).delay(message.attempts, transports.rng)
    with deps.uow() as uow:
        uow.outbox.retry_later(message.id, owner=owner, available_at=deps.clock.now() + delay,
                               error=detail)
        uow.commit()
    _count(transports, message, sender.name if sender else "none", "retried")
    log.warning("delivery retry", extra={**_log_fields(message), "attempt": message.attempts,
                                         "retry_in_s": round(delay.total_seconds(), 1),
                                         "error": detail})
    return "retried"


def _innermost(exc: BaseException) -> str:
    """``module:line`` where ``exc`` was raised: enough to find the bug, no personal data."""
    tb = exc.__traceback__
    while tb is not None and tb.tb_next is not None:
        tb = tb.tb_next
    if tb is None:
        return "?"
    module = tb.tb_frame.f_globals.get("__name__", "?")
    return f"{module}:{tb.tb_lineno}"


def _hand_over(deps: Deps, message_id: int, owner: str) -> None:
    """Commit the point of no return; raises HandoverRefused if the lease was lost."""
    with deps.uow() as uow:
        owned = uow.outbox.hand_over(message_id, owner=owner, now=deps.clock.now())
        uow.commit()
    if not owned:
        raise HandoverRefused("the lease on this message was lost")


def _finish(deps: Deps, transports: Transports, message: StoredMessage, owner: str,
            status: MessageStatus, *, error: str | None = None, sender: Sender | None = None,
            receipt: Receipt | None = None, undeliverable: bool = False,
            outcome: str | None = None) -> None:
    provider = receipt.provider if receipt else (sender.name if sender else None)
    now = deps.clock.now()
    with deps.uow() as uow:
        owned = uow.outbox.finish(message.id, owner=owner, status=status, now=now,
                                  provider=provider,
                                  provider_message_id=receipt.provider_message_id if receipt else None,
                                  error=error)
        if owned and undeliverable and message.account_id is not None:
            uow.deliverability.mark(account_id=message.account_id, recipient=message.recipient,
                                    channel=message.channel, reason=error or "undeliverable",
                                    now=now)
        uow.commit()
    latency = (now - message.created_at).total_seconds() if status is MessageStatus.SENT else None
    _count(transports, message, provider or "none", outcome or status.value, latency)
    log_method = log.info if status is MessageStatus.SENT and not error else log.warning
    log_method("delivery %s", outcome or status.value, extra={
        **_log_fields(message), "provider": provider, "error": error,
        "undeliverable": undeliverable or None})


def _count(transports: Transports, message: StoredMessage, provider: str, outcome: str,
           latency: float | None = None) -> None:
    if transports.metrics is not None:
        transports.metrics.record(channel=message.channel.value, provider=provider,
                                  outcome=outcome, latency_seconds=latency)


def _log_fields(message: StoredMessage) -> dict[str, Any]:
    masked = (mask_email(message.recipient) if message.channel is Channel.EMAIL
              else mask_phone(message.recipient) if message.recipient.startswith("+") else "•••")
    return {"message_ref": message.reference, "channel": message.channel.value,
            "kind": message.kind.value, "to": masked}
