"""Wiring of the Seller Center into the FastAPI app: templates, sessions, headers, errors."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape

from contactguard.bootstrap import Container
from contactguard.domain.contacts import mask_contact
from contactguard.entrypoints.web.i18n import LANGUAGE_NAMES, Translator, pick_language
from contactguard.entrypoints.web.session import SessionCodec, WebSession

STATIC_DIR = Path(__file__).resolve().parents[2] / "static"


class LoginRequired(Exception):
    """No valid seller session: show the "open the Seller Center again" page."""


class PageNotFound(Exception):
    """Shown as the friendly 404 page."""


class CsrfFailed(Exception):
    """A POST without the session's CSRF token."""


@dataclass
class WebContext:
    """What every page handler needs; stored on ``app.state.web``."""

    container: Container
    env: Environment
    codec: SessionCodec
    csp: str

    def session(self, request: Request) -> WebSession:
        """The request's session (signed cookie), or a new anonymous one."""
        cached = request.scope.get("cg.session")
        if cached is not None:
            return cached  # type: ignore[no-any-return]
        now = self.container.deps.clock.now()
        found = self.codec.loads(request.cookies.get(self.codec.cookie_name), now)
        session = found or WebSession.anonymous(now)
        request.scope["cg.session"] = session
        return session

    def seller(self, request: Request) -> WebSession:
        session = self.session(request)
        if session.account is None:
            raise LoginRequired
        return session

    async def check_csrf(self, request: Request) -> dict[str, str]:
        """The submitted form, once its CSRF token matched the session's (else CsrfFailed)."""
        form = await request.form()
        values = {k: v for k, v in form.items() if isinstance(v, str)}
        if not self.session(request).csrf_ok(values.get("csrf_token")):
            raise CsrfFailed
        return values

    def translator(self, session: WebSession, account: Any | None = None) -> Translator:
        locale = getattr(account, "locale", None)
        return Translator(pick_language(session.lang, locale),
                          getattr(account, "time_zone", "UTC"))

    def render(self, request: Request, template: str, context: dict[str, Any], *,
               status: int = 200, t: Translator | None = None) -> Response:
        session = self.session(request)
        t = t or self.translator(session)
        html = self.env.get_template(f"web/{template}").render(
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

    def finish(self, request: Request, response: Response,
               session: WebSession | None = None) -> Response:
        """Add the security headers and (re)issue the session cookie when it changed."""
        session = session or request.scope.get("cg.session")
        if session is not None and session.changed:
            self.set_cookie(response, session)
        headers = response.headers
        headers["Content-Security-Policy"] = self.csp
        headers["Referrer-Policy"] = "no-referrer"
        headers["X-Content-Type-Options"] = "nosniff"
        headers["Cache-Control"] = "no-store"
        headers["Permissions-Policy"] = "camera=(), microphone=(), geolocation=()"
        return response

    def set_cookie(self, response: Response, session: WebSession) -> None:
        framed = bool(self.container.settings.frame_ancestors) and self.codec.secure
        response.set_cookie(
            self.codec.cookie_name, self.codec.dumps(session),
            max_age=int(self.codec.lifetime.total_seconds()), path="/", secure=self.codec.secure,
            httponly=True, samesite="none" if framed else "lax")


def install(app: FastAPI, container: Container) -> None:
    """Add the Seller Center pages (and, in dev mode, the dev login and inbox) to ``app``."""
    from contactguard.entrypoints.web import dev, seller

    settings = container.settings
    env = Environment(loader=PackageLoader("contactguard", "templates"),
                      autoescape=select_autoescape(["html"]), undefined=StrictUndefined,
                      trim_blocks=True, lstrip_blocks=True)
    env.globals["mask"] = mask_contact
    codec = SessionCodec(settings.secret_key, lifetime=timedelta(hours=settings.session_hours),
                         secure=settings.public_url.startswith("https://"))
    ancestors = settings.frame_ancestors or "'none'"
    csp = ("default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
           "connect-src 'self'; form-action 'self'; base-uri 'none'; "
           f"frame-ancestors {ancestors}")
    web = WebContext(container=container, env=env, codec=codec, csp=csp)
    app.state.web = web
    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")
    app.include_router(seller.router)
    if settings.dev:
        app.include_router(dev.router)

    @app.exception_handler(LoginRequired)
    async def login_required(request: Request, exc: LoginRequired) -> Response:
        return web.render(request, "signed_out.html", {}, status=401)

    @app.exception_handler(PageNotFound)
    async def page_not_found(request: Request, exc: PageNotFound) -> Response:
        return web.render(request, "error.html", {"kind": "not_found"}, status=404)

    @app.exception_handler(CsrfFailed)
    async def csrf_failed(request: Request, exc: CsrfFailed) -> Response:
        return web.render(request, "error.html", {"kind": "csrf"}, status=403)


def web_of(request: Request) -> WebContext:
    web: WebContext = request.app.state.web
    return web
