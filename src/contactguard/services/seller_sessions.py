"""Account-session links: how a seller gets into the Seller Center from the platform.

The platform's backend asks for a link for one account; the seller opens it once, within
five minutes, and gets a session for that account only. Only a hash of the token is stored.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from contactguard.errors import SessionLinkInvalid
from contactguard.services.deps import Deps
from contactguard.services.lookup import require_account

LINK_TTL = timedelta(minutes=5)
LINK_PATH = "/seller/session/"


@dataclass(frozen=True, slots=True)
class SessionLink:
    url: str
    expires_at: datetime


def create_session_link(deps: Deps, external_id: str, *, base_url: str) -> SessionLink:
    """A single-use link valid for five minutes that opens a session for ``external_id``.

    Raises AccountNotFound.
    """
    now = deps.clock.now()
    token = secrets.token_urlsafe(32)
    with deps.uow() as uow:
        account = require_account(uow, external_id)
        uow.session_links.purge_before(now - timedelta(days=1))
        uow.session_links.add(token_hash=_hash(token), account_id=account.id,
                              expires_at=now + LINK_TTL, now=now)
        uow.commit()
    return SessionLink(url=f"{base_url.rstrip('/')}{LINK_PATH}{token}", expires_at=now + LINK_TTL)


def redeem_session_link(deps: Deps, token: str) -> str:
    """Use up a link; returns the external id of its account.

    Raises SessionLinkInvalid when the link is unknown, already used or expired.
    """
    if not token or len(token) > 100:
        raise SessionLinkInvalid("this sign-in link is not valid")
    now = deps.clock.now()
    with deps.uow() as uow:
        account_id = uow.session_links.consume(_hash(token), now)
        account = uow.accounts.get(account_id) if account_id is not None else None
        if account is None:
            raise SessionLinkInvalid("this sign-in link has been used or has expired; "
                                     "open the Seller Center again from the platform")
        uow.commit()
        return str(account.external_id)


def _hash(token: str) -> str:
    # The token carries 256 random bits: a plain hash is enough to make a stolen table useless.
    return hashlib.sha256(token.encode()).hexdigest()
