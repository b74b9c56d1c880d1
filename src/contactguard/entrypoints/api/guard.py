"""The request guard: pure ASGI middleware in front of every route.

In this order, before any handler runs or any body is read:

1. **Body size.** A ``Content-Length`` over the route's limit is answered 413 at once; a
   chunked body is counted and reading stops at the limit (413). Limits: ``max_body_bytes``
   (1 MiB), urlencoded forms ``max_form_bytes`` (64 KiB), larger ones per route in
   :data:`LARGE_BODY_ROUTES`.
2. **API key.** Every ``/v1`` path except those of :data:`NO_API_KEY_PREFIXES` (signed
   provider callbacks) needs a valid bearer key, checked through the cached
   ``ApiKeyAuthenticator`` (no database round trip for a key seen in the last seconds);
   otherwise 401, and the body is never read.
   Then the shared rate limits (services/abuse.py): per API key on ``/v1``, per client
   address on sign-ins and Seller Center pages (429 with ``Retry-After``, ``RateLimit``,
   ``RateLimit-Policy``).
3. **Input the database cannot store.** NUL characters in the path, the query, a JSON body
   (keys and values) or an urlencoded form, lone surrogates and NaN/Infinity in JSON: a 422
   problem naming the field (``control_characters``, ``invalid_unicode``, ``not_finite``).

Text fields shown in messages and pages are checked further by the services
(``normalize.text_error``), for every entry point.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from contactguard.bootstrap import Container
from contactguard.entrypoints.api.deps import API_KEY_SCOPE, run
from contactguard.entrypoints.api.problems import error_response
from contactguard.errors import (
    ContactGuardError,
    FieldError,
    PayloadTooLarge,
    Unauthorized,
    ValidationFailed,
)
from contactguard.services import abuse

MiB = 1024 * 1024

#: Routes that take larger bodies than the defaults: (method, path) -> bytes. The one place
#: to raise a route's limit (a raw email to judge or to receive may be as big as mail gets).
LARGE_BODY_ROUTES: dict[tuple[str, str], int] = {
    ("POST", "/v1/messages/check"): 25 * MiB,
    ("POST", "/v1/inbound/email"): 25 * MiB,
    # The "Is this message genuine?" pages: an .eml upload (multipart) as big as the API takes.
    ("POST", "/seller/check"): 25 * MiB + 256 * 1024,
    ("POST", "/console/check"): 25 * MiB + 256 * 1024,
}

#: ``/v1`` paths authenticated otherwise than by an API key (here: by a provider signature).
NO_API_KEY_PREFIXES: tuple[str, ...] = ("/v1/providers/",)

#: Paths limited per client address (issue 11): sign-ins, then every Seller Center page.
SIGN_IN_PREFIXES: tuple[str, ...] = ("/seller/session/", "/console/login", "/dev/login")
ADDRESS_LIMITED_PREFIXES: tuple[str, ...] = ("/seller", "/console/login", "/dev/login")
#: What every open Seller Center page polls (the verify-the-caller banner, every 3 s): it needs
#: a signed-in session and is not counted per address, so sellers sharing one address (an
#: office, a carrier's NAT) never reach the page limit by merely keeping tabs open.
POLLED_PATHS: frozenset[str] = frozenset({"/seller/call"})

_URLENCODED = b"application/x-www-form-urlencoded"
_NUL = "must not contain NUL characters (U+0000)"


@dataclass(frozen=True, slots=True)
class BodyLimits:
    """How many bytes a request body may have: per route, else forms, else everything else."""

    default: int = 1 * MiB
    form: int = 64 * 1024
    routes: Mapping[tuple[str, str], int] = field(default_factory=lambda: dict(LARGE_BODY_ROUTES))

    def limit(self, method: str, path: str, content_type: bytes) -> int:
        routed = self.routes.get((method, path))
        if routed is not None:
            return max(routed, self.default)
        return self.form if content_type.startswith(_URLENCODED) else self.default


class RequestGuard:
    """The middleware described in the module docstring."""

    def __init__(self, app: ASGIApp, container: Container, limits: BodyLimits) -> None:
        self.app = app
        self.container = container
        self.limits = limits

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        length: int | None = None
        content_type = authorization = b""
        chunked = False
        for name, value in scope["headers"]:
            if name == b"content-length":
                length = int(value) if value.isdigit() else None
            elif name == b"transfer-encoding":
                chunked = True
            elif name == b"content-type":
                content_type = value.lower()
            elif name == b"authorization":
                authorization = value
        path: str = scope["path"]
        limit = self.limits.limit(scope["method"], path, content_type)
        if length is None:  # chunked (or no body): count, stop reading at the limit
            receive = _counting(receive, limit)
        inspect = scope["method"] not in ("GET", "HEAD") and (
            b"json" in content_type or content_type.startswith(_URLENCODED))
        unread = chunked or bool(length)  # a refusal below leaves the body unread
        try:
            if length is not None and length > limit:
                raise _too_large(limit)
            if path.startswith("/v1/") and not path.startswith(NO_API_KEY_PREFIXES):
                key = scope[API_KEY_SCOPE] = await self._authenticate(authorization)
                abuse.enforce(self.container.deps, "api_key", f"api_key:{key.id}")
            else:
                self._limit_address(scope, path)
            query: bytes = scope["query_string"]
            if "\x00" in path or b"%00" in query or b"\x00" in query:
                _refuse(_path_and_query_errors(path, query))
            if inspect:  # JSON and forms are read here (bounded), checked, then replayed
                body = await _read_body(receive)
                unread = False
                _refuse(_json_errors(body) if b"json" in content_type else _form_errors(body))
                receive = _replay(body, receive)
        except ContactGuardError as exc:
            await self._answer(scope, receive, send, exc, close=unread)
            return
        except _TooLargeHTTP:
            await self._answer(scope, receive, send, _too_large(limit), close=True)
            return
        await self.app(scope, receive, send)  # other bodies (raw mail...) are read as they come

    def _limit_address(self, scope: Scope, path: str) -> None:
        """Per client address: sign-ins (seller session links, console and dev sign-in
        forms), then every Seller Center request (limits of the policy's ``protection``)."""
        if not path.startswith(ADDRESS_LIMITED_PREFIXES):
            return
        client = scope.get("client")
        address = str(client[0]) if client else "unknown"
        deps = self.container.deps
        if path.startswith(SIGN_IN_PREFIXES) and (
                scope["method"] == "POST" or path.startswith("/seller/session/")):
            abuse.enforce(deps, "login_ip", f"login:{address}")
        if path.startswith("/seller") and path not in POLLED_PATHS:
            abuse.enforce(deps, "seller_ip", f"seller:{address}")

    async def _authenticate(self, authorization: bytes) -> Any:
        scheme, _, token = authorization.decode("latin-1").partition(" ")
        secret = token.strip()
        if scheme.lower() != "bearer" or not secret:
            raise Unauthorized("send an operator API key as 'Authorization: Bearer cgk_...'")
        authenticator = self.container.authenticator
        known = authenticator.cached(secret)
        if known is not None:
            return known
        return await run(self.container, authenticator.authenticate, secret)

    @staticmethod
    async def _answer(scope: Scope, receive: Receive, send: Send, exc: ContactGuardError, *,
                      close: bool) -> None:
        response = error_response(Request(scope), exc)
        if close:  # the server then drops the connection instead of reading the body
            response.headers["Connection"] = "close"
        await response(scope, receive, send)


def _too_large(limit: int) -> PayloadTooLarge:
    return PayloadTooLarge(f"the request body is larger than this route accepts ({limit} bytes)")


class _TooLargeHTTP(HTTPException):
    """Raised from ``receive`` mid-body; an HTTPException, so the routes pass it through to
    the problem handlers (which answer 413) wherever the body is read."""

    def __init__(self, limit: int) -> None:
        super().__init__(413, _too_large(limit).detail, headers={"Connection": "close"})


def _counting(receive: Receive, limit: int) -> Receive:
    """``receive`` that raises once more than ``limit`` body bytes arrived."""
    seen = 0

    async def counted() -> Message:
        nonlocal seen
        if seen > limit:
            raise _TooLargeHTTP(limit)
        message = await receive()
        if message["type"] == "http.request":
            seen += len(message.get("body", b""))
            if seen > limit:  # stop here: the rest of the body is never read
                raise _TooLargeHTTP(limit)
        return message

    return counted


async def _read_body(receive: Receive) -> bytes:
    chunks: list[bytes] = []
    while True:
        message = await receive()
        if message["type"] != "http.request":
            break
        chunks.append(message.get("body", b""))
        if not message.get("more_body", False):
            break
    return b"".join(chunks)


def _replay(body: bytes, receive: Receive) -> Receive:
    """``receive`` that hands out ``body`` once, then waits on the real one (disconnects)."""
    pending = True

    async def replayed() -> Message:
        nonlocal pending
        if pending:
            pending = False
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return replayed


# --- what is refused ---------------------------------------------------------------------------


def _refuse(errors: list[FieldError]) -> None:
    if errors:
        detail = "; ".join(f"{e.field or 'body'}: {e.message}" for e in errors[:5])
        raise ValidationFailed(detail, errors=errors)


def _path_and_query_errors(path: str, query: bytes) -> list[FieldError]:
    errors = [FieldError("path", f"the URL path {_NUL}", "control_characters")] \
        if "\x00" in path else []
    return errors + _form_errors(query)


def _form_errors(encoded: bytes) -> list[FieldError]:
    """NUL characters in an urlencoded query string or form, by field name."""
    if b"%00" not in encoded and b"\x00" not in encoded:
        return []
    return [FieldError(name.replace("\x00", "\\u0000"), _NUL, "control_characters")
            for name, value in parse_qsl(encoded.decode("latin-1"), keep_blank_values=True)
            if "\x00" in name or "\x00" in value]


#: Cheap pre-check of a JSON body: only bodies with a \u0000 or surrogate escape, a NaN or
#: Infinity literal, or an exponent big enough to overflow a float are parsed here.
_SUSPECT_JSON = re.compile(rb"\\u(?:0000|[dD][89a-fA-F])|NaN|Infinity|\d[eE][+-]?\d{3}")


class _NotFinite:
    __slots__ = ()


_NOT_FINITE = _NotFinite()


def _finite_float(text: str) -> float | _NotFinite:
    value = float(text)
    return value if abs(value) != float("inf") else _NOT_FINITE


def _json_errors(body: bytes) -> list[FieldError]:
    if not _SUSPECT_JSON.search(body):
        return []
    try:
        document = json.loads(body, parse_constant=lambda _: _NOT_FINITE,
                              parse_float=_finite_float)
    except ValueError:
        return []  # not JSON: the route's own parsing answers it
    return list(_walk(document, ()))


def _walk(value: Any, path: tuple[str, ...]) -> Iterator[FieldError]:
    if isinstance(value, str):
        error = _string_error(value, ".".join(path))
        if error is not None:
            yield error
    elif value is _NOT_FINITE:
        yield FieldError(".".join(path), "must be a finite number (NaN and Infinity are not "
                         "JSON numbers)", "not_finite")
    elif isinstance(value, dict):
        for key, item in value.items():
            key_error = _string_error(key, ".".join(path))
            if key_error is not None:
                yield key_error
            else:
                yield from _walk(item, (*path, key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from _walk(item, (*path, str(index)))


def _string_error(value: str, field_name: str) -> FieldError | None:
    if "\x00" in value:
        return FieldError(field_name, _NUL, "control_characters")
    if any("\ud800" <= ch <= "\udfff" for ch in value):
        return FieldError(field_name, "must be valid Unicode (a lone surrogate escape "
                          "\\ud800-\\udfff was sent)", "invalid_unicode")
    return None
