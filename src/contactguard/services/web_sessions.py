"""Server-side web sessions: opened at sign-in, ended by logout or revocation, everywhere at once.

The browser holds a random 256-bit token (inside the signed session cookie); the database
holds only its SHA-256. Every signed-in page resolves the token, so ending the row ends the
session in every process immediately. Used by the Seller Center (realm ``seller``, subject =
the account's external id) and the operator console (realm ``operator``, subject = the
operator's id).
"""

from __future__ import annotations

import hashlib
import secrets
from datetime import timedelta

from contactguard.domain.audit import SYSTEM, Actor
from contactguard.domain.sessions import Realm, WebSessionRecord
from contactguard.errors import NotFound
from contactguard.services import audit
from contactguard.services.deps import Deps
from contactguard.services.lookup import require_account

#: ``last_seen_at`` is written at most this often per session (reads stay reads).
TOUCH_EVERY = timedelta(minutes=5)
#: Ended and expired sessions are kept this long (for the console's history), then purged.
KEEP_ENDED = timedelta(days=30)
_MAX_TOKEN = 100


def open_session(deps: Deps, *, realm: Realm, subject: str, lifetime: timedelta,
                 user_agent: str | None = None) -> tuple[str, WebSessionRecord]:
    """Start a session; returns the token for the cookie (shown once) and the stored record."""
    now = deps.clock.now()
    token = secrets.token_urlsafe(32)
    with deps.uow() as uow:
        record: WebSessionRecord = uow.web_sessions.add(
            token_hash=_hash(token), realm=realm.value, subject=subject,
            user_agent=(user_agent or "")[:200] or None, expires_at=now + lifetime, now=now)
        uow.commit()
    return token, record


def resolve_session(deps: Deps, *, realm: Realm, token: str | None) -> WebSessionRecord | None:
    """The open session for ``token`` in ``realm``, or None (unknown, ended or expired)."""
    if not token or len(token) > _MAX_TOKEN:
        return None
    now = deps.clock.now()
    with deps.reader() as uow:
        record: WebSessionRecord | None = uow.web_sessions.by_token(_hash(token), realm.value)
    if record is None or not record.is_open(now):
        return None
    if now - record.last_seen_at >= TOUCH_EVERY:
        with deps.uow() as uow:
            uow.web_sessions.touch(record.id, now)
            uow.commit()
    return record


def end_session(deps: Deps, *, realm: Realm, token: str | None, reason: str = "logout") -> bool:
    """End the session of ``token`` (logout). True if an open session was ended."""
    if not token or len(token) > _MAX_TOKEN:
        return False
    now = deps.clock.now()
    with deps.uow() as uow:
        record: WebSessionRecord | None = uow.web_sessions.by_token(_hash(token), realm.value)
        if record is None:
            return False
        ended: int = uow.web_sessions.end([record.id], reason=reason, now=now)
        uow.commit()
    return ended == 1


def revoke_session(deps: Deps, session_id: int, *, reason: str = "revoked",
                   actor: Actor = SYSTEM) -> WebSessionRecord:
    """End one session by its id (an admin's revocation). Raises NotFound."""
    now = deps.clock.now()
    with deps.uow() as uow:
        record: WebSessionRecord | None = uow.web_sessions.get(session_id)
        if record is None:
            raise NotFound(f"no session {session_id}")
        if uow.web_sessions.end([record.id], reason=reason, now=now):
            audit.record(deps, uow, actor, "session.revoked", _subject(record.realm, record.subject),
                         after={"session": record.id, "reason": reason})
        uow.commit()
        ended: WebSessionRecord = uow.web_sessions.get(session_id)
        return ended


def revoke_sessions(deps: Deps, *, realm: Realm, subject: str, reason: str = "revoked",
                    actor: Actor = SYSTEM) -> int:
    """End every open session of ``subject`` in ``realm``; returns how many were open."""
    now = deps.clock.now()
    with deps.uow() as uow:
        ids = [r.id for r in uow.web_sessions.open_for(realm.value, subject, now, limit=10_000)]
        count: int = uow.web_sessions.end(ids, reason=reason, now=now)
        if count:
            audit.record(deps, uow, actor, "sessions.revoked", _subject(realm.value, subject),
                         after={"sessions": count, "reason": reason})
        uow.commit()
    return count


def revoke_account_sessions(deps: Deps, external_id: str, *, actor: Actor = SYSTEM) -> int:
    """Sign a seller out everywhere (the platform's call, e.g. after an account takeover).

    Raises AccountNotFound.
    """
    with deps.reader() as uow:
        require_account(uow, external_id)
    return revoke_sessions(deps, realm=Realm.SELLER, subject=external_id,
                           reason="revoked by the platform", actor=actor)


def list_sessions(deps: Deps, *, realm: Realm, subject: str | None = None,
                  limit: int = 100) -> list[WebSessionRecord]:
    """Open sessions, newest first (``subject`` None: everyone's in the realm)."""
    with deps.reader() as uow:
        found: list[WebSessionRecord] = uow.web_sessions.open_for(
            realm.value, subject, deps.clock.now(), limit=limit)
    return found


def purge_sessions(deps: Deps) -> int:
    """The periodic job: forget sessions that ended or expired more than 30 days ago."""
    with deps.uow() as uow:
        count: int = uow.web_sessions.purge_before(deps.clock.now() - KEEP_ENDED)
        uow.commit()
    return count


def _subject(realm: str, subject: str) -> str:
    return f"account:{subject}" if realm == Realm.SELLER.value else f"operator:{subject}"


def _hash(token: str) -> str:
    # 256 random bits: a plain hash makes a stolen table useless, and lookups stay indexed.
    return hashlib.sha256(token.encode()).hexdigest()
