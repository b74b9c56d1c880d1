"""Queueing messages to account holders: every notice goes through here into the outbox."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from contactguard.domain.accounts import Account
from contactguard.domain.contacts import Channel, Contact
from contactguard.domain.messages import MessageKind, OutboundMessage, new_reference
from contactguard.ports import UnitOfWork
from contactguard.services.deps import Deps


def queue_message(deps: Deps, uow: UnitOfWork, account: Account, *, kind: MessageKind,
                  channel: Channel, recipient: str, params: dict[str, Any] | None = None,
                  secret_params: dict[str, str] | None = None, challenge_id: str | None = None,
                  not_after: datetime | None = None, reference: str | None = None,
                  recipient_verified: bool | None = None) -> str:
    """Write one message to the outbox in the caller's transaction; returns its reference.

    Adds what every message carries: the platform's name and host, the account's name and
    time zone (dates are written in it) and, for an email to an address the seller has
    verified, the security phrase. An email to an address not verified yet never carries
    the phrase (whoever owns a mistyped address must not learn it): it says why instead
    (``phrase_withheld``). ``recipient_verified`` spares the lookup when the caller knows.
    Secrets are sealed; they never reach the plain columns. Pass the same ``reference`` for
    the deliveries of one notice (email + message center).
    """
    safe: dict[str, Any] = {"platform_name": deps.branding.platform_name,
                            "host": deps.branding.public_host, "account_name": account.name,
                            "time_zone": account.time_zone, **(params or {})}
    secrets = dict(secret_params or {})
    if channel is Channel.EMAIL and account.security_phrase:
        if recipient_verified is None:
            recipient_verified = is_verified_email(uow, account, recipient)
        if recipient_verified:
            secrets["security_phrase"] = account.security_phrase
        else:
            safe["phrase_withheld"] = True
    message = OutboundMessage(kind=kind, channel=channel, recipient=recipient,
                              locale=account.locale, account_id=account.id, params=safe,
                              secret_params=secrets, challenge_id=challenge_id,
                              not_after=not_after, reference=reference or new_reference())
    sealed = deps.box.seal(json.dumps(secrets).encode()) if secrets else None
    uow.outbox.add(message, sealed_secret=sealed, now=deps.clock.now())
    return message.reference


def is_verified_email(uow: UnitOfWork, account: Account, address: str) -> bool:
    """True when ``address`` is an email contact of the account proven by a code or link."""
    contacts: list[Contact] = uow.contacts.for_account(account.id)
    return any(c.kind.is_email and c.verified_value == address for c in contacts)
