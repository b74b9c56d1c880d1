"""Delivering the outbox: claim due messages, render, hand to a transport, record the outcome."""

from __future__ import annotations

import json
import logging
import random
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import timedelta

from contactguard.domain.contacts import Channel
from contactguard.domain.delivery import RetryPolicy
from contactguard.domain.messages import MessageStatus, StoredMessage
from contactguard.errors import PermanentDeliveryError, TransientDeliveryError
from contactguard.ports import Renderer, Sender
from contactguard.services.deps import Deps

log = logging.getLogger("contactguard.delivery")


@dataclass(slots=True)
class Transports:
    """The sender for each channel, the renderer, and how to retry."""

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

    def retry_for(self, channel: Channel) -> RetryPolicy:
        return self.retry_by_channel.get(channel, self.retry)


@dataclass(slots=True)
class BatchResult:
    claimed: int = 0
    sent: int = 0
    retried: int = 0
    failed: int = 0
    expired: int = 0


def deliver_due(deps: Deps, transports: Transports, *, owner: str, limit: int = 50) -> BatchResult:
    """Claim up to ``limit`` due messages for ``owner`` and try each once.

    A code that could only arrive after its challenge expired is not sent (``expired``);
    transient failures are retried with backoff; permanent ones fail with the reason.
    """
    result = BatchResult()
    with deps.uow() as uow:
        claimed = uow.outbox.claim_due(now=deps.clock.now(), owner=owner, lease=transports.lease,
                                       limit=limit)
        uow.commit()
    result.claimed = len(claimed)
    for message, sealed in claimed:
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
    if message.not_after is not None and now >= message.not_after:
        _finish(deps, message, owner, MessageStatus.EXPIRED,
                error="not sent: its code expired before it could be delivered")
        return "expired"
    if sealed:
        message.secret_params = json.loads(deps.box.open(sealed))
    sender = transports.senders.get(message.channel)
    try:
        if sender is None:
            raise TransientDeliveryError(
                f"no transport is configured for channel {message.channel.value}")
        rendered = transports.renderer.render(message)
        provider_id = sender.send(rendered)
    except TransientDeliveryError as exc:
        retry = transports.retry_for(message.channel)
        if retry.gives_up_after(message.attempts):
            _finish(deps, message, owner, MessageStatus.FAILED,
                    error=f"gave up after {message.attempts} attempts: {exc.detail}")
            return "failed"
        delay = retry.delay(message.attempts, transports.rng)
        with deps.uow() as uow:
            uow.outbox.retry_later(message.id, owner=owner, available_at=deps.clock.now() + delay,
                                   error=exc.detail)
            uow.commit()
        log.warning("delivery retry", extra={"message_ref": message.reference,
                                             "channel": message.channel.value,
                                             "attempt": message.attempts, "error": exc.detail})
        return "retried"
    except PermanentDeliveryError as exc:
        _finish(deps, message, owner, MessageStatus.FAILED, error=exc.detail, sender=sender)
        return "failed"
    _finish(deps, message, owner, MessageStatus.SENT, sender=sender, provider_id=provider_id)
    return "sent"


def _finish(deps: Deps, message: StoredMessage, owner: str, status: MessageStatus, *,
            error: str | None = None, sender: Sender | None = None,
            provider_id: str | None = None) -> None:
    with deps.uow() as uow:
        uow.outbox.finish(message.id, owner=owner, status=status, now=deps.clock.now(),
                          provider=sender.name if sender else None,
                          provider_message_id=provider_id, error=error)
        uow.commit()
    log_method = log.info if status is MessageStatus.SENT else log.warning
    log_method("delivery %s", status.value, extra={
        "message_ref": message.reference, "channel": message.channel.value,
        "kind": message.kind.value, "error": error})
