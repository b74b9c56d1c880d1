"""Delivering the outbox: claim due messages, render, hand to a transport, record the outcome."""

from __future__ import annotations

import json
import logging
import random
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from datetime import timedelta
from functools import partial
from typing import Any

from contactguard.domain.contacts import Channel, mask_email, mask_phone
from contactguard.domain.delivery import RetryPolicy
from contactguard.domain.messages import MessageStatus, Receipt, RenderedMessage, StoredMessage
from contactguard.errors import HandoverRefused, PermanentDeliveryError, TransientDeliveryError
from contactguard.ports import DeliveryMetrics, Renderer, Sender
from contactguard.services.deps import Deps
from contactguard.services.ledger import record_sent

log = logging.getLogger("contactguard.delivery")

UNCONFIRMED = ("delivery unconfirmed: the worker that handed it to the transport stopped before "
               "recording the answer; not sent again, to avoid a duplicate")


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

    def retry_for(self, channel: Channel) -> RetryPolicy:
        return self.retry_by_channel.get(channel, self.retry)


@dataclass(slots=True)
class BatchResult:
    claimed: int = 0
    sent: int = 0
    retried: int = 0
    failed: int = 0
    expired: int = 0
    unconfirmed: int = 0  # handed over by a worker that died before recording the answer
    lost_lease: int = 0  # another worker took the message over before it was handed over
    released: int = 0  # given back unsent on shutdown


def deliver_due(deps: Deps, transports: Transports, *, owner: str, limit: int = 50,
                should_stop: Callable[[], bool] | None = None) -> BatchResult:
    """Claim up to ``limit`` due messages for ``owner`` and try each once.

    A code that could only arrive after its challenge expired is not sent (``expired``);
    transient failures are retried with backoff; permanent ones fail with the reason (and
    mark the contact undeliverable on that channel when the destination is at fault).
    Senders that support it record a hand-over point in the database just before the
    transport can accept the message: a message whose worker died after that point is never
    sent again. When ``should_stop()`` turns true, unsent claimed messages are released.
    """
    result = BatchResult()
    with deps.uow() as uow:
        claimed = uow.outbox.claim_due(now=deps.clock.now(), owner=owner, lease=transports.lease,
                                       limit=limit)
        uow.commit()
    result.claimed = len(claimed)
    renew_at = deps.clock.now() + transports.lease / 2
    for index, (message, sealed) in enumerate(claimed):
        rest = [m.id for m, _ in claimed[index:]]
        if should_stop is not None and should_stop():
            with deps.uow() as uow:
                result.released = uow.outbox.release(rest, owner=owner)
                uow.commit()
            break
        if deps.clock.now() >= renew_at:
            with deps.uow() as uow:
                uow.outbox.extend_leases(rest, owner=owner, until=deps.clock.now() + transports.lease)
                uow.commit()
            renew_at = deps.clock.now() + transports.lease / 2
        outcome = _deliver_one(deps, transports, owner, message, sealed)
        setattr(result, outcome, getattr(result, outcome) + 1)
        hook = transports.on_outcome.get(message.channel)
        if hook is not None:
            try:
                hook(message, outcome)
            except Exception:
                log.exception("delivery outcome hook failed", extra={
                    "message_ref": message.reference, "channel": message.channel.value})
    return result


def _deliver_one(deps: Deps, transports: Transports, owner: str, message: StoredMessage,
                 sealed: str | None) -> str:
    now = deps.clock.now()
    if message.handed_over_at is not None:
        _finish(deps, transports, message, owner, MessageStatus.SENT, error=UNCONFIRMED,
                outcome="unconfirmed")
        return "unconfirmed"
    if message.not_after is not None and now >= message.not_after:
        _finish(deps, transports, message, owner, MessageStatus.EXPIRED,
                error="not sent: its code expired before it could be delivered")
        return "expired"
    if sealed:
        message.secret_params = json.loads(deps.box.open(sealed))
    sender = transports.senders.get(message.channel)
    try:
        if sender is None:
            raise TransientDeliveryError(
                f"no transport is configured for channel {message.channel.value}")
        rendered = replace(transports.renderer.render(message), outbox_id=message.id)
        if getattr(sender, "supports_handover", False):
            answer = sender.send(rendered, handover=partial(_hand_over, deps, message.id, owner))  # type: ignore[call-arg]
        else:
            answer = sender.send(rendered)
    except HandoverRefused:
        log.warning("delivery abandoned: lease lost", extra=_log_fields(message))
        return "lost_lease"
    except TransientDeliveryError as exc:
        policy = transports.retry_for(message.channel)
        if policy.gives_up_after(message.attempts):
            _finish(deps, transports, message, owner, MessageStatus.FAILED, sender=sender,
                    error=f"gave up after {message.attempts} attempts: {exc.detail}")
            return "failed"
        delay = policy.delay(message.attempts, transports.rng)
        with deps.uow() as uow:
            uow.outbox.retry_later(message.id, owner=owner, available_at=deps.clock.now() + delay,
                                   error=exc.detail)
            uow.commit()
        _count(transports, message, sender.name if sender else "none", "retried")
        log.warning("delivery retry", extra={**_log_fields(message), "attempt": message.attempts,
                                             "retry_in_s": round(delay.total_seconds(), 1),
                                             "error": exc.detail})
        return "retried"
    except PermanentDeliveryError as exc:
        _finish(deps, transports, message, owner, MessageStatus.FAILED, error=exc.detail,
                sender=sender, undeliverable=exc.recipient_fault)
        return "failed"
    receipt = answer if isinstance(answer, Receipt) else Receipt(
        sender.name, answer if isinstance(answer, str) else None)
    _finish(deps, transports, message, owner, MessageStatus.SENT, receipt=receipt, rendered=rendered)
    return "sent"


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
            outcome: str | None = None, rendered: RenderedMessage | None = None) -> None:
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
        if owned and status is MessageStatus.SENT:  # the sent ledger (issue 9), same transaction
            record_sent(uow, deps, message, rendered, receipt, now)
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
