"""Operator API keys: created once, shown once, stored as SHA-256 hashes."""

from __future__ import annotations

import hashlib
import secrets
import time
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from contactguard.domain.apikeys import Scope, allows, from_text, parse_scopes, to_text
from contactguard.domain.audit import SYSTEM, Actor
from contactguard.errors import (
    FieldError,
    InsufficientScope,
    NotFound,
    Unauthorized,
    ValidationFailed,
)
from contactguard.normalize import check_text
from contactguard.services import audit
from contactguard.services.deps import Deps

KEY_PREFIX = "cgk_"


@dataclass(frozen=True, slots=True)
class ApiKeyInfo:
    id: int
    name: str
    prefix: str
    created_at: datetime
    revoked_at: datetime | None
    #: What the key may do (see domain/apikeys.py); keys made before scopes: ``(FULL,)``.
    scopes: tuple[Scope, ...] = (Scope.FULL,)


@dataclass(frozen=True, slots=True)
class CreatedApiKey:
    info: ApiKeyInfo
    secret: str  # shown once, never stored


def create_api_key(deps: Deps, name: str, *, scopes: list[str] | None = None,
                   actor: Actor = SYSTEM) -> CreatedApiKey:
    """Create a key with ``scopes`` (names of :class:`Scope`; default: full access).

    Raises ValidationFailed for an empty or overlong name, or an unknown or empty scope list.
    """
    clean = name.strip()
    if not 0 < len(clean) <= 100:
        raise ValidationFailed("a key needs a name of 1-100 characters",
                               errors=[FieldError("name", "1-100 characters", "invalid")])
    check_text(clean, field="name")
    try:
        chosen = parse_scopes(scopes) if scopes is not None else (Scope.FULL,)
    except ValueError as exc:
        raise ValidationFailed(str(exc), errors=[FieldError("scopes", str(exc),
                                                            "unknown_scope")]) from None
    secret = KEY_PREFIX + secrets.token_urlsafe(32)
    now = deps.clock.now()
    with deps.uow() as uow:
        key_id = uow.api_keys.add(name=clean, prefix=secret[:10], key_hash=_digest(secret),
                                  now=now, scopes=to_text(chosen))
        audit.record(deps, uow, actor, "api_key.created", f"api_key:{key_id}",
                     after={"name": clean, "prefix": secret[:10], "scopes": to_text(chosen)})
        uow.commit()
    return CreatedApiKey(ApiKeyInfo(key_id, clean, secret[:10], now, None, chosen), secret)


def require_scope(key: ApiKeyInfo, needed: Scope, action: str) -> None:
    """Raises InsufficientScope (403) unless ``key`` may do what ``needed`` covers.

    ``action`` names what was refused (e.g. ``POST /v1/accounts``) for the message.
    """
    if not allows(key.scopes, needed):
        raise InsufficientScope(
            f"this API key does not have the '{needed.value}' scope, which {action} needs "
            f"(its scopes: {to_text(key.scopes)}); create a key with '--scope {needed.value}'",
            required=needed.value, granted=[s.value for s in key.scopes])


def list_api_keys(deps: Deps) -> list[ApiKeyInfo]:
    with deps.reader() as uow:
        return [_info(row) for row in uow.api_keys.all()]


def revoke_api_key(deps: Deps, key_id: int, *, actor: Actor = SYSTEM) -> None:
    """Raises NotFound when no active key has this id."""
    with deps.uow() as uow:
        if not uow.api_keys.revoke(key_id, deps.clock.now()):
            raise NotFound(f"no active API key with id {key_id}")
        audit.record(deps, uow, actor, "api_key.revoked", f"api_key:{key_id}",
                     after={"revoked": True})
        uow.commit()


class ApiKeyAuthenticator:
    """Checks bearer keys, caching good ones briefly so most requests skip the database.

    A revoked key stops working within ``ttl`` seconds in every process.
    """

    def __init__(self, deps: Deps, ttl: float = 10.0) -> None:
        self._deps = deps
        self._ttl = ttl
        self._cache: dict[str, tuple[float, ApiKeyInfo]] = {}

    def cached(self, secret: str) -> ApiKeyInfo | None:
        """The key's info if it was checked in the last ``ttl`` seconds (no database access)."""
        cached = self._cache.get(_digest(secret)) if secret.startswith(KEY_PREFIX) else None
        return cached[1] if cached and cached[0] > time.monotonic() else None

    def authenticate(self, secret: str | None) -> ApiKeyInfo:
        """Raises Unauthorized for a missing, malformed, unknown or revoked key."""
        if not secret or not secret.startswith(KEY_PREFIX) or len(secret) > 200:
            raise Unauthorized("send an operator API key as 'Authorization: Bearer cgk_...'")
        digest = _digest(secret)
        cached = self._cache.get(digest)
        if cached and cached[0] > time.monotonic():
            return cached[1]
        with self._deps.reader() as uow:
            row = uow.api_keys.active_by_hash(digest)
        if row is None:
            self._cache.pop(digest, None)
            raise Unauthorized("this API key is not valid or has been revoked")
        info = _info(row)
        if len(self._cache) > 1000:
            self._cache.clear()
        self._cache[digest] = (time.monotonic() + self._ttl, info)
        return info


def _digest(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def _info(row: Any) -> ApiKeyInfo:
    return ApiKeyInfo(row.id, row.name, row.prefix, row.created_at, row.revoked_at,
                      from_text(row.scopes))
