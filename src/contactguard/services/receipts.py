"""Provider delivery receipts (status callbacks): recorded against the message they concern."""

from __future__ import annotations

import logging

from contactguard.domain.contacts import Channel
from contactguard.errors import NotFound
from contactguard.services.deps import Deps

log = logging.getLogger("contactguard.receipts")

#: Final provider states meaning the message did not arrive.
FAILED_STATES = {"failed", "undelivered", "busy", "no-answer", "canceled"}
#: Provider error codes in a failed receipt that mean the destination cannot take the channel.
RECIPIENT_ERROR_CODES = {"30003", "30005", "30006", "21614", "21211", "21610"}


def record_receipt(deps: Deps, *, provider: str, provider_message_id: str, status: str,
                   error_code: str | None = None) -> str:
    """Record a provider's status for one of our messages; returns the message's reference.

    A failure whose error code says the destination cannot take the channel marks the
    contact undeliverable for it. Raises NotFound for an id we never sent.
    """
    now = deps.clock.now()
    state = status.strip().lower()
    with deps.uow() as uow:
        row = uow.outbox.by_provider_id(provider_message_id)
        if row is None:
            raise NotFound("no message was sent with this provider id")
        uow.receipts.add(outbox_id=row.id, provider=provider, status=state,
                         error_code=error_code, now=now)
        if state in FAILED_STATES and error_code in RECIPIENT_ERROR_CODES \
                and row.account_id is not None:
            uow.deliverability.mark(account_id=row.account_id, recipient=row.recipient,
                                    channel=Channel(row.channel),
                                    reason=f"{provider} reported '{state}' (error {error_code})",
                                    now=now)
        uow.commit()
    log.info("delivery receipt", extra={"message_ref": row.reference, "provider": provider,
                                        "status": state, "error_code": error_code})
    return str(row.reference)
