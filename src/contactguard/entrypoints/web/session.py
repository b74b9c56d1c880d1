"""Web sessions in a signed cookie: who is signed in, a CSRF secret, the language, open challenges.

The cookie is HMAC-SHA256-signed with a key derived from the secret key, per realm (seller
pages, operator console). Being signed in is decided server-side: a signed-in cookie carries
the token of a ``web_sessions`` row (services/web_sessions.py), checked on every page, so
logout and revocation end a session at once everywhere. The CSRF secret only has to be
unguessable by other sites; the cookie is HTTP-only. Anonymous visitors get a cookie with a
CSRF secret and a language only: no database row.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from contactguard.adapters.crypto import derive_key
from contactguard.domain.audit import Actor


@dataclass(slots=True)
class WebSession:
    """``account`` is the signed-in subject (a seller's external id, or an operator id in the
    console); ``token`` names its server-side row and ``session_id`` is that row's id."""

    account: str | None
    csrf: str
    issued_at: int
    lang: str | None = None
    verifications: dict[str, str] = field(default_factory=dict)  # contact kind -> challenge id
    changed: bool = False
    token: str | None = None
    session_id: int | None = None
    #: Free-form per-realm state (the console keeps its sign-in steps here); not secret.
    extra: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def anonymous(cls, now: datetime, lang: str | None = None) -> WebSession:
        return cls(account=None, csrf=secrets.token_urlsafe(24), issued_at=int(now.timestamp()),
                   lang=lang, changed=True)

    @classmethod
    def signed_in(cls, account: str, now: datetime, lang: str | None = None, *,
                  token: str | None = None, session_id: int | None = None) -> WebSession:
        """A new session (new CSRF secret: a sign-in never keeps the anonymous one)."""
        return cls(account=account, csrf=secrets.token_urlsafe(24),
                   issued_at=int(now.timestamp()), lang=lang, changed=True, token=token,
                   session_id=session_id)

    @property
    def actor(self) -> Actor:
        """The audit-log actor for this seller session: its server-side id, never its secret."""
        if self.session_id is not None:
            return Actor.seller(f"web-session:{self.session_id}", self.account or "")
        session_id = hashlib.sha256(f"{self.csrf}:{self.issued_at}".encode()).hexdigest()[:16]
        return Actor.seller(session_id, self.account or "")

    def csrf_ok(self, token: str | None) -> bool:
        return bool(token) and hmac.compare_digest(self.csrf.encode(), (token or "").encode())


class SessionCodec:
    """Turns a :class:`WebSession` into a cookie value and back, refusing forged or old ones."""

    def __init__(self, secret_key: str, *, lifetime: timedelta, secure: bool,
                 name: str = "cg_session", purpose: str = "web-session/v1") -> None:
        self._key = derive_key(secret_key, purpose)
        self.lifetime = lifetime
        self.secure = secure
        # __Host- cookies must be Secure, host-only and for path /: the browser enforces it.
        self.cookie_name = f"__Host-{name}" if secure else name

    def dumps(self, session: WebSession) -> str:
        payload: dict[str, Any] = {"a": session.account, "c": session.csrf,
                                   "i": session.issued_at, "l": session.lang,
                                   "v": session.verifications}
        if session.token is not None:
            payload["s"], payload["n"] = session.token, session.session_id
        if session.extra:
            payload["x"] = session.extra
        body = _b64(json.dumps(payload, separators=(",", ":")).encode())
        return f"{body}.{_b64(self._sign(body))}"

    def loads(self, value: str | None, now: datetime) -> WebSession | None:
        if not value or value.count(".") != 1 or len(value) > 4000:
            return None
        body, signature = value.split(".")
        try:
            if not hmac.compare_digest(_unb64(signature), self._sign(body)):
                return None
            data = json.loads(_unb64(body))
            issued = int(data["i"])
            session = WebSession(account=data["a"], csrf=str(data["c"]), issued_at=issued,
                                 lang=data.get("l"), verifications=dict(data.get("v") or {}),
                                 token=data.get("s"), session_id=data.get("n"),
                                 extra=dict(data.get("x") or {}))
        except (ValueError, KeyError, TypeError):
            return None
        if not 0 <= now.timestamp() - issued < self.lifetime.total_seconds():
            return None
        return session

    def _sign(self, body: str) -> bytes:
        return hmac.new(self._key, body.encode(), hashlib.sha256).digest()


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
