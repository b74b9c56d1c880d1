"""The sent ledger: recorded when a transport accepts a message, purged after the retention."""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from contactguard.domain.contacts import Channel, mask_email, mask_phone
from contactguard.domain.ledger import fingerprint
from contactguard.domain.messages import Receipt, RenderedMessage, StoredMessage
from contactguard.ports import UnitOfWork
from contactguard.services.deps import Deps

log = logging.getLogger("contactguard.ledger")

#: Channels whose messages reach a person (webhooks go to the platform's own servers).
LEDGER_CHANNELS = frozenset({Channel.EMAIL, Channel.SMS, Channel.VOICE, Channel.IN_APP})
_PURGE_BATCH = 5000


def masked_recipient(channel: Channel | str, recipient: str) -> str:
    """``o•••@example.com``, ``+86 ••• ••• 9988``; in-app notices name no address."""
    if "@" in recipient:
        return mask_email(recipient)
    if recipient.startswith("+"):
        return mask_phone(recipient)
    return "Seller Center" if str(channel) == Channel.IN_APP.value else "•••"


def record_sent(uow: UnitOfWork, deps: Deps, message: StoredMessage,
                rendered: RenderedMessage | None, receipt: Receipt | None, now: datetime) -> None:
    """Add ``message`` to the ledger in the caller's transaction (the one marking it sent).

    ``rendered`` is None for a message closed as sent after a crash (its content is not
    known again): the entry then has the reference but no fingerprint.
    """
    if message.channel not in LEDGER_CHANNELS:
        return
    shingles, body_hash, text_key, links = "", None, None, []
    if rendered is not None:
        print_ = fingerprint(deps.ledger_key, text=rendered.body, html_body=rendered.html,
                             subject=rendered.subject,
                             body_digest=receipt.body_digest if receipt else None)
        shingles, body_hash, text_key, links = (print_.shingles, print_.body_hash,
                                                print_.text_key, print_.links)
    uow.ledger.add(
        outbox_id=message.id, reference=message.reference,
        message_id=receipt.message_id if receipt else None, account_id=message.account_id,
        channel=message.channel.value, kind=message.kind.value,
        recipient_masked=masked_recipient(message.channel, message.recipient), sent_at=now,
        body_hash=body_hash, text_key=text_key, shingles=shingles, links=links,
        dkim_selectors=list(receipt.dkim_selectors) if receipt else [])


def purge_ledger(deps: Deps, *, retention_days: int) -> int:
    """Delete entries older than the retention, in batches; returns how many were removed."""
    cutoff = deps.clock.now() - timedelta(days=retention_days)
    removed = 0
    while True:
        with deps.uow() as uow:
            count: int = uow.ledger.purge_before(cutoff, limit=_PURGE_BATCH)
            uow.commit()
        removed += count
        if count < _PURGE_BATCH:
            break
    if removed:
        log.info("sent ledger purged", extra={"removed": removed, "retention_days": retention_days})
    return removed
