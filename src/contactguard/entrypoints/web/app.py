"""Assembles the web surfaces into the FastAPI app: templates, static files, routers, errors.

Shared page plumbing lives in ``pages.py``; this module only builds the context and wires
the surfaces' routers and exception handlers.
"""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from fastapi import FastAPI, Request
from fastapi.responses import Response
from fastapi.staticfiles import StaticFiles
from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape

from contactguard.bootstrap import Container
from contactguard.domain.contacts import mask_contact
from contactguard.domain.sessions import Realm
from contactguard.entrypoints.web import console, dev, seller
from contactguard.entrypoints.web.pages import (
    AccessDenied,
    CsrfFailed,
    LoginRequired,
    PageNotFound,
    Surface,
    WebContext,
    web_of,
)
from contactguard.entrypoints.web.session import SessionCodec

STATIC_DIR = Path(__file__).resolve().parents[2] / "static"


def install(app: FastAPI, container: Container) -> WebContext:
    """Add the Seller Center pages, the operator console (and, in dev mode, the dev login and
    inbox) to ``app``."""
    settings = container.settings
    env = Environment(loader=PackageLoader("contactguard", "templates"),
                      autoescape=select_autoescape(["html"]), undefined=StrictUndefined,
                      trim_blocks=True, lstrip_blocks=True)
    env.globals["mask"] = mask_contact
    ancestors = settings.frame_ancestors or "'none'"
    csp = ("default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
           "connect-src 'self'; form-action 'self'; base-uri 'none'; "
           f"frame-ancestors {ancestors}")
    web = WebContext(container=container, env=env, csp=csp)
    web.add_surface(Surface(
        realm=Realm.SELLER, prefix="/seller",
        codec=SessionCodec(settings.secret_key, lifetime=timedelta(hours=settings.session_hours),
                           secure=settings.public_url.startswith("https://")),
        login_required=lambda request: web_of(request).render(
            request, "signed_out.html", {}, status=401, realm=Realm.SELLER)))
    web.add_surface(console.surface(settings))  # the operator console (/console)
    app.state.web = web
    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")
    app.include_router(seller.router)
    for router in console.routers:
        app.include_router(router)
    if settings.dev:
        app.include_router(dev.router)

    @app.exception_handler(LoginRequired)
    async def login_required(request: Request, exc: LoginRequired) -> Response:
        return web.surfaces[exc.realm].login_required(request)

    @app.exception_handler(PageNotFound)
    async def page_not_found(request: Request, exc: PageNotFound) -> Response:
        return web.error_page(request, "not_found", 404)

    @app.exception_handler(AccessDenied)
    async def access_denied(request: Request, exc: AccessDenied) -> Response:
        return web.error_page(request, "forbidden", 403)

    @app.exception_handler(CsrfFailed)
    async def csrf_failed(request: Request, exc: CsrfFailed) -> Response:
        return web.error_page(request, "csrf", 403)

    return web
