"""What every server-rendered page shares: rendering, sessions, CSRF, redirects, error pages.

This module imports no page module. The web surfaces (the Seller Center under ``/seller``,
the operator console under ``/console``) each register a :class:`Surface` (its session
realm, cookie, sign-in page and error template) with the one :class:`WebContext`;
``entrypoints/web/app.py`` only assembles routers.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from fastapi import Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from jinja2 import Environment

from contactguard.bootstrap import Container
from contactguard.domain.sessions import Realm, WebSessionRecord
from contactguard.entrypoints.api.deps import run
from contactguard.entrypoints.web.i18n import LANGUAGE_NAMES, Translator, pick_language
from contactguard.entrypoints.web.session import SessionCodec, WebSession
from contactguard.services import web_sessions


class LoginRequired(Exception):
    """No valid session for the page's surface: show that surface's sign-in page."""

    def __init__(self, realm: Realm = Realm.SELLER) -> None:
        super().__init__(realm.value)
        self.realm = realm


class PageNotFound(Exception):
    """Shown as the surface's friendly 404 page."""


class CsrfFailed(Exception):
    """A POST without the session's CSRF token."""


class AccessDenied(Exception):
    """The signed-in user's role does not allow the page or action: the surface's 403 page."""


@dataclass
class Surface:
    """One web surface: URL prefix, session realm and cookie, what to show when signed out."""

    realm: Realm
    prefix: str
    codec: SessionCodec
    #: Builds the answer for a visitor without a valid session (a page or a redirect).
    login_required: Callable[[Request], Response]
    error_template: str = "error.html"
    #: Folder of the surface's templates under ``templates/`` and its Babel catalog.
    template_dir: str = "web"
    i18n_domain: str = "web"


@dataclass
class WebContext:
    """What every page handler needs; stored on ``app.state.web``."""

    container: Container
    env: Environment
    csp: str
    surfaces: dict[Realm, Surface] = field(default_factory=dict)

    def add_surface(self, surface: Surface) -> None:
        self.surfaces[surface.realm] = surface

    def surface_for(self, request: Request) -> Surface:
        """The surface whose prefix the path is under (the Seller Center by default)."""
        path = request.url.path
        for surface in sorted(self.surfaces.values(), key=lambda s: -len(s.prefix)):
            if path == surface.prefix or path.startswith(surface.prefix + "/"):
                return surface
        return self.surfaces[Realm.SELLER]

    # --- sessions --------------------------------------------------------------------------

    def session(self, request: Request, realm: Realm = Realm.SELLER) -> WebSession:
        """The request's session cookie for ``realm`` (unverified), or a new anonymous one."""
        key = f"cg.session.{realm.value}"
        cached = request.scope.get(key)
        if cached is not None:
            return cached  # type: ignore[no-any-return]
        now = self.container.deps.clock.now()
        codec = self.surfaces[realm].codec
        found = codec.loads(request.cookies.get(codec.cookie_name), now)
        session = found or WebSession.anonymous(now)
        request.scope[key] = session
        return session

    async def signed_in(self, request: Request, realm: Realm = Realm.SELLER) -> WebSession:
        """The session if it is signed in and its server-side row is open; else LoginRequired."""
        session = self.session(request, realm)
        checked_key = f"cg.session.{realm.value}.checked"
        if request.scope.get(checked_key):
            return session
        if session.account is None or session.token is None:
            raise LoginRequired(realm)
        record: WebSessionRecord | None = await run(
            self.container, web_sessions.resolve_session, self.container.deps, realm=realm,
            token=session.token)
        if record is None or record.subject != session.account:
            raise LoginRequired(realm)
        request.scope[checked_key] = True
        return session

    async def seller(self, request: Request) -> WebSession:
        """The signed-in seller's session (raises LoginRequired)."""
        return await self.signed_in(request, Realm.SELLER)

    async def sign_in(self, request: Request, realm: Realm, subject: str) -> WebSession:
        """Open a server-side session for ``subject`` and make it the request's session."""
        surface = self.surfaces[realm]
        previous = self.session(request, realm)
        token, record = await run(
            self.container, web_sessions.open_session, self.container.deps, realm=realm,
            subject=subject, lifetime=surface.codec.lifetime,
            user_agent=request.headers.get("user-agent"))
        session = WebSession.signed_in(subject, self.container.deps.clock.now(), previous.lang,
                                       token=token, session_id=record.id)
        request.scope[f"cg.session.{realm.value}"] = session
        request.scope[f"cg.session.{realm.value}.checked"] = True
        return session

    async def sign_out(self, request: Request, realm: Realm) -> WebSession:
        """End the session server-side (the old cookie stops working) and start an anonymous one."""
        old = self.session(request, realm)
        if old.token is not None:
            await run(self.container, web_sessions.end_session, self.container.deps, realm=realm,
                      token=old.token)
        session = WebSession.anonymous(self.container.deps.clock.now(), old.lang)
        request.scope[f"cg.session.{realm.value}"] = session
        request.scope.pop(f"cg.session.{realm.value}.checked", None)
        return session

    async def check_csrf(self, request: Request, realm: Realm = Realm.SELLER) -> dict[str, str]:
        """The submitted form, once its CSRF token matched the session's (else CsrfFailed)."""
        form = await request.form()
        values = {k: v for k, v in form.items() if isinstance(v, str)}
        if not self.session(request, realm).csrf_ok(values.get("csrf_token")):
            raise CsrfFailed
        return values

    # --- rendering -------------------------------------------------------------------------

    def translator(self, session: WebSession, account: Any | None = None, *,
                   realm: Realm = Realm.SELLER, request: Request | None = None) -> Translator:
        """Texts in the session's chosen language, else the account's, else the browser's
        (``Accept-Language``, for pages without an account); dates in the account's zone."""
        locale = getattr(account, "locale", None)
        accept = request.headers.get("accept-language") if request is not None else None
        return Translator(pick_language(session.lang, locale, accept),
                          getattr(account, "time_zone", "UTC"),
                          domain=self.surfaces[realm].i18n_domain, account_locale=locale)

    def render(self, request: Request, template: str, context: dict[str, Any], *,
               status: int = 200, t: Translator | None = None,
               realm: Realm | None = None) -> Response:
        surface = self.surfaces[realm] if realm else self.surface_for(request)
        session = self.session(request, surface.realm)
        t = t or self.translator(session, realm=surface.realm, request=request)
        html = self.env.get_template(f"{surface.template_dir}/{template}").render(
            request=request, session=session, t=t, _=t.gettext, ngettext=t.ngettext,
            csrf_token=session.csrf, languages=LANGUAGE_NAMES,
            platform_name=self.container.settings.platform_name,
            dev=self.container.settings.dev, path=request.url.path, **context)
        response = HTMLResponse(html, status_code=status)
        if request.method == "GET" and request.headers.get("hx-request"):
            target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
            response.headers["HX-Push-Url"] = target
        return self.finish(request, response)

    def redirect(self, request: Request, url: str) -> Response:
        return self.finish(request, RedirectResponse(url, status_code=303))

    def error_page(self, request: Request, kind: str, status: int) -> Response:
        surface = self.surface_for(request)
        return self.render(request, surface.error_template, {"kind": kind}, status=status,
                           realm=surface.realm)

    def finish(self, request: Request, response: Response) -> Response:
        """Add the security headers and (re)issue each session cookie that changed."""
        for realm, surface in self.surfaces.items():
            session = request.scope.get(f"cg.session.{realm.value}")
            if session is not None and session.changed:
                self.set_cookie(response, session, surface.codec)
                session.changed = False
        headers = response.headers
        headers["Content-Security-Policy"] = self.csp
        headers["Referrer-Policy"] = "no-referrer"
        headers["X-Content-Type-Options"] = "nosniff"
        headers["Cache-Control"] = "no-store"
        headers["Permissions-Policy"] = "camera=(), microphone=(), geolocation=()"
        return response

    def set_cookie(self, response: Response, session: WebSession, codec: SessionCodec) -> None:
        framed = bool(self.container.settings.frame_ancestors) and codec.secure
        response.set_cookie(
            codec.cookie_name, codec.dumps(session),
            max_age=int(codec.lifetime.total_seconds()), path="/", secure=codec.secure,
            httponly=True, samesite="none" if framed else "lax")


def web_of(request: Request) -> WebContext:
    web: WebContext = request.app.state.web
    return web
