"""The operator console (``/console``): its surface (session realm, cookie, sign-in page) and
routers. Imports only the shared page plumbing (``web/pages.py``), never other page modules.

Campaign pages (issue 8: list, create with live preview, detail with funnel, CSV export) are
``campaigns.py``. The phishing pages (issue 9: waves, message checker for support,
verify-the-caller) are added here as routers of their own when their services land; see
``templates/console/base.html`` for the navigation entries they take.
"""

from __future__ import annotations

from datetime import timedelta
from urllib.parse import quote

from fastapi import APIRouter, Request
from fastapi.responses import Response

from contactguard.config import Settings
from contactguard.domain.sessions import Realm
from contactguard.entrypoints.web.console import (
    accounts,
    admin,
    auth,
    calls,
    campaigns,
    check,
    dashboard,
    phishing,
    settings_pages,
)
from contactguard.entrypoints.web.pages import PageNotFound, Surface, web_of
from contactguard.entrypoints.web.session import SessionCodec

PREFIX = "/console"


def _login_required(request: Request) -> Response:
    """Signed-out visitors go to the sign-in page, and back to where they were afterwards."""
    target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    suffix = f"?next={quote(target, safe='')}" if request.method == "GET" else ""
    return web_of(request).redirect(request, f"{PREFIX}/login{suffix}")


def surface(settings: Settings) -> Surface:
    return Surface(
        realm=Realm.OPERATOR, prefix=PREFIX,
        codec=SessionCodec(settings.secret_key,
                           lifetime=timedelta(hours=settings.console_session_hours),
                           secure=settings.public_url.startswith("https://"),
                           name="cg_console", purpose="console-session/v1"),
        login_required=_login_required, template_dir="console", i18n_domain="console")


fallback = APIRouter(prefix=PREFIX, include_in_schema=False)


@fallback.api_route("/{rest:path}", methods=["GET", "POST"])
async def not_found(request: Request, rest: str) -> Response:
    """Unknown console paths get the console's own 404 page (after the other routers)."""
    raise PageNotFound


routers: list[APIRouter] = [auth.router, dashboard.router, accounts.router, admin.router,
                            settings_pages.router, campaigns.router, check.router,
                            calls.router, phishing.router, fallback]
