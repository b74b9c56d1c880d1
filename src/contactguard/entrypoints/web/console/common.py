"""What every console page shares: the signed-in operator, role checks, rendering, calls."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime
from functools import partial
from typing import Any, TypeVar
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import anyio
from babel.dates import (
    format_datetime,
    format_skeleton,
    get_date_format,
    get_datetime_format,
    get_time_format,
)
from babel.numbers import format_decimal
from fastapi import Request
from fastapi.responses import Response

from contactguard.domain.operators import Operator, Permission
from contactguard.domain.sessions import Realm
from contactguard.entrypoints.api.deps import run
from contactguard.entrypoints.web.i18n import Translator
from contactguard.entrypoints.web.pages import AccessDenied, LoginRequired, WebContext, web_of
from contactguard.entrypoints.web.session import WebSession
from contactguard.errors import Forbidden
from contactguard.services import operators

T = TypeVar("T")
REALM = Realm.OPERATOR


@dataclass
class Console:
    """One request's view of the console: context, session, operator and translator."""

    request: Request
    web: WebContext
    session: WebSession
    operator: Operator | None
    t: Translator

    @property
    def me(self) -> Operator:
        assert self.operator is not None, "page needs a signed-in operator"
        return self.operator

    @property
    def deps(self) -> Any:
        return self.web.container.deps

    async def call(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        """Run a service; a role refusal from the service becomes the 403 page."""
        try:
            return await run(self.web.container, fn, self.deps, *args, **kwargs)
        except Forbidden:
            raise AccessDenied from None

    async def hashing(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        """Run a service that hashes a password (argon2id: tens of milliseconds of CPU) on a
        worker thread, so the event loop keeps serving other requests meanwhile."""
        try:
            return await anyio.to_thread.run_sync(partial(fn, self.deps, *args, **kwargs))
        except Forbidden:
            raise AccessDenied from None

    async def form(self) -> dict[str, str]:
        return await self.web.check_csrf(self.request, REALM)

    def render(self, template: str, context: dict[str, Any] | None = None, *,
               status: int = 200) -> Response:
        operator = self.operator
        perms = {p.value for p in Permission if operator is not None and operator.can(p)}
        return self.web.render(self.request, template, {
            "operator": operator, "perms": perms, "done": self.request.query_params.get("done"),
            **(context or {})}, status=status, t=self.t, realm=REALM)

    def redirect(self, url: str) -> Response:
        return self.web.redirect(self.request, url)


def anonymous(request: Request) -> Console:
    """The console for a visitor who may not be signed in (sign-in pages)."""
    web = web_of(request)
    session = web.session(request, REALM)
    return Console(request, web, session, None, web.translator(session, realm=REALM))


async def signed_in(request: Request, permission: Permission | None = None) -> Console:
    """The console of the signed-in operator (else the sign-in page), allowed ``permission``
    (else the 403 page). The role is read from the database on every request."""
    web = web_of(request)
    session = await web.signed_in(request, REALM)
    try:
        operator_id = int(session.account or "")
    except ValueError:
        raise LoginRequired(REALM) from None
    operator = await run(web.container, operators.active_operator, web.container.deps,
                         operator_id)
    if operator is None:
        raise LoginRequired(REALM)
    console = Console(request, web, session, operator, web.translator(session, realm=REALM))
    if permission is not None and not operator.can(permission):
        request.scope["cg.console.operator"] = operator
        raise AccessDenied
    request.scope["cg.console.operator"] = operator
    return console


def client_ip(request: Request) -> str | None:
    return request.client.host if request.client else None


def local_path(value: str | None, default: str = "/console") -> str:
    """``value`` if it is a console path on this site (no open redirects), else ``default``."""
    if not value or not value.startswith("/console") or value.startswith("//") or "\\" in value:
        return default
    return value


def formatting(t: Translator) -> dict[str, Callable[..., str]]:
    """Template helpers in the operator's language: ``number``, ``share`` (a percentage),
    ``at`` (a moment in a given time zone, e.g. the seller's; ``medium``: the date in words
    and the time to the minute) and ``day``."""
    locale = t.babel_locale
    minutes = str(get_datetime_format("medium", locale=locale)).replace(
        "{1}", get_date_format("medium", locale=locale).pattern).replace(
        "{0}", get_time_format("short", locale=locale).pattern)

    def number(n: int | float | None) -> str:
        return "—" if n is None else str(format_decimal(n, locale=locale))

    def share(part: int, whole: int | None) -> str:
        return f"{part / whole * 100:.0f}%" if whole else "—"

    def at(moment: datetime | None, zone: str = "UTC", fmt: str = "medium") -> str:
        if moment is None:
            return ""
        try:
            tz = ZoneInfo(zone)
        except (ZoneInfoNotFoundError, ValueError):
            tz = ZoneInfo("UTC")
        pattern = minutes if fmt == "medium" else fmt
        return str(format_datetime(moment, pattern, tzinfo=tz, locale=locale))

    def day(value: date | str) -> str:
        value = date.fromisoformat(value) if isinstance(value, str) else value
        return str(format_skeleton("yMMMd", value, locale=locale))

    return {"number": number, "share": share, "at": at, "day": day}
