"""The FastAPI application. ``create_app(container)`` wires routers to an existing container."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from importlib import resources
from pathlib import Path

import anyio
from fastapi import APIRouter, FastAPI, Request
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import HTMLResponse, JSONResponse, Response
from fastapi.routing import APIRoute
from fastapi.staticfiles import StaticFiles

from contactguard import __version__
from contactguard.bootstrap import Container
from contactguard.entrypoints import web
from contactguard.entrypoints.api.deps import route_scope
from contactguard.entrypoints.api.guard import BodyLimits, RequestGuard
from contactguard.entrypoints.api.problems import install_problem_handlers, problem_catalog
from contactguard.entrypoints.api.routers import account_sessions, accounts, dev, providers, verifications
from contactguard.entrypoints.api.routers import audit as audit_routes
from contactguard.entrypoints.api.routers import call_sessions as call_routes
from contactguard.entrypoints.api.routers import campaigns as campaign_routes
from contactguard.entrypoints.api.routers import inbound as inbound_routes
from contactguard.entrypoints.api.routers import messages as message_routes
from contactguard.entrypoints.api.routers import policy as policy_routes
from contactguard.entrypoints.api.routers import protection as protection_routes
from contactguard.entrypoints.api.routers import webhooks as webhook_routes
from contactguard.entrypoints.api.schemas import Problem
from contactguard.errors import NotFound

DESCRIPTION = """
Verify account holders' emergency contacts (email, SMS, voice call for landlines) with
one-time codes.

Authenticate with an operator API key: `Authorization: Bearer cgk_...`
(`contactguard apikeys create --name NAME [--scope read|write|sessions|admin]`). Each
route names the scope it needs (`x-required-scope`); a key without it gets a 403
`insufficient-scope` problem. Errors are RFC 9457 problem details.
POSTs that create things honour an `Idempotency-Key` header for 24 hours.
"""


def create_app(container: Container, *, own_container: bool = False) -> FastAPI:
    """Build the app around ``container``; with ``own_container`` it is closed on shutdown."""

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        try:
            yield
        finally:
            if own_container:
                container.close()

    if not container.settings.is_sqlite:
        container.extras.setdefault("limiter", anyio.CapacityLimiter(10))
    app = FastAPI(title="ContactGuard", version=__version__, description=DESCRIPTION,
                  lifespan=lifespan, docs_url=None, redoc_url=None)
    app.state.container = container
    install_problem_handlers(app)
    for router in (accounts.router, verifications.router, account_sessions.router,
                   policy_routes.router, webhook_routes.router, audit_routes.router,
                   campaign_routes.router, message_routes.router, call_routes.router,
                   protection_routes.router, inbound_routes.router, dev.router):
        _document_scopes(router)

    # Routes are matched in order, and matching the whole table costs more than some
    # handlers: the hot path (liveness, verifications, the dev inbox a client polls) first.
    @app.get("/healthz", tags=["meta"], summary="Liveness")
    async def healthz() -> dict[str, str]:
        return {"status": "ok", "version": __version__}

    app.include_router(verifications.router)
    if container.settings.dev:
        app.include_router(dev.router)
    _install_docs(app)
    app.include_router(accounts.router)
    app.include_router(account_sessions.router)
    web.install(app, container)
    app.include_router(policy_routes.router)
    app.include_router(webhook_routes.router)
    app.include_router(audit_routes.router)
    app.include_router(providers.router)
    app.include_router(campaign_routes.router)
    app.include_router(message_routes.router)  # the message checker (issue 9)
    app.include_router(call_routes.router)  # verify-the-caller (issue 9)
    app.include_router(protection_routes.router)  # the SMS-pumping guard's blocks (issue 11)
    app.include_router(inbound_routes.router)  # inbound mail and phishing waves (issue 9)
    catalog = problem_catalog()

    @app.get("/metrics", tags=["meta"], summary="Prometheus metrics")
    async def metrics() -> Response:
        collector = container.extras["metrics"]
        return Response(collector.exposition(), media_type=collector.content_type)

    @app.get("/problems/{code}", tags=["meta"], summary="Describe a problem type")
    async def problem(code: str) -> JSONResponse:
        if code not in catalog:
            raise NotFound(f"no problem type '{code}'")
        return JSONResponse(catalog[code])

    @app.get("/", include_in_schema=False)
    async def index(request: Request) -> HTMLResponse:
        return HTMLResponse(_INDEX.format(name=container.settings.platform_name,
                                          version=__version__))

    # Body limits, API keys before bodies, input the database cannot store (guard.py).
    app.add_middleware(RequestGuard, container=container, limits=BodyLimits(
        default=container.settings.max_body_bytes, form=container.settings.max_form_bytes))
    return app


def _document_scopes(router: APIRouter) -> None:
    """Name each route's API key scope in the OpenAPI document (``x-required-scope``), once
    per router (before it is included: included routes copy these fields)."""
    for route in router.routes:
        if not isinstance(route, APIRoute):
            continue
        scope = route_scope(route)
        if scope is None or "x-required-scope" in (route.openapi_extra or {}):
            continue
        route.openapi_extra = {**(route.openapi_extra or {}), "x-required-scope": scope.value}
        route.responses.setdefault(403, {"model": Problem, "description": "The API key lacks "
                                         f"the `{scope.value}` scope (`insufficient-scope`)"})
        note = f"Requires an API key with the `{scope.value}` scope."
        route.description = f"{route.description}\n\n{note}" if route.description else note


#: Swagger UI's files, shipped by the fastapi-offline package: /docs works offline.
DOCS_ASSETS = "/docs/assets"


def _install_docs(app: FastAPI) -> None:
    """``/docs`` (Swagger UI) with its script and styles served by this server: nothing is
    loaded from a CDN, so the docs work on a machine without internet. (ReDoc is off: its
    bundle fetches its logo from a CDN.)"""
    assets = Path(str(resources.files("fastapi_offline").joinpath("static")))
    app.mount(DOCS_ASSETS, StaticFiles(directory=assets), name="docs-assets")

    @app.get("/docs", include_in_schema=False)
    async def swagger_ui() -> HTMLResponse:
        return get_swagger_ui_html(
            openapi_url="/openapi.json", title="ContactGuard API",
            swagger_js_url=f"{DOCS_ASSETS}/swagger-ui-bundle.js",
            swagger_css_url=f"{DOCS_ASSETS}/swagger-ui.css",
            swagger_favicon_url="/static/web/favicon.svg")


_INDEX = """<!doctype html><html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>ContactGuard</title></head><body style="font-family:system-ui;max-width:40rem;margin:2rem auto">
<h1>ContactGuard</h1><p>{name} &middot; version {version}</p>
<ul><li><a href="/seller">Seller Center</a></li><li><a href="/console">Operator console</a></li>
<li><a href="/docs">API documentation</a></li><li><a href="/openapi.json">OpenAPI schema</a></li>
</ul></body></html>"""
