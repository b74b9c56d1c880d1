"""FastAPI dependencies: the container, the service runner, API-key auth and scopes,
Idempotency-Key."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from functools import partial
from typing import Annotated, Any, TypeVar

import anyio
from fastapi import Depends, FastAPI, Request
from fastapi.responses import Response
from fastapi.routing import APIRoute, iter_route_contexts
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from pydantic import BaseModel

from contactguard.bootstrap import Container
from contactguard.domain.apikeys import Scope
from contactguard.domain.audit import Actor
from contactguard.entrypoints.api.problems import error_response
from contactguard.errors import ContactGuardError, Unauthorized
from contactguard.services import idempotency
from contactguard.services.apikeys import ApiKeyInfo, require_scope

T = TypeVar("T")

_bearer = HTTPBearer(auto_error=False, description="An operator API key: `cgk_...`")
_REPLAYED_HEADERS = ("location", "retry-after")
_NOT_STORED = {409, 429}
#: Scope key under which the route guard (guard.py) leaves the authenticated API key.
API_KEY_SCOPE = "contactguard.api_key"


def get_container(request: Request) -> Container:
    container: Container = request.app.state.container
    return container


async def run(container: Container, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
    """Call a (blocking) service function.

    SQLite: inline on the event loop; its statements take microseconds and a thread hop would
    cost more than the work. PostgreSQL: in a worker thread, bounded by the pool size.
    """
    call = partial(fn, *args, **kwargs)
    limiter = container.extras.get("limiter")
    if limiter is None:
        return call()
    return await anyio.to_thread.run_sync(call, limiter=limiter)


async def api_key(
    request: Request,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> ApiKeyInfo:
    known: ApiKeyInfo | None = request.scope.get(API_KEY_SCOPE)
    if known is not None:  # checked by the route guard before the body was read
        return known
    container = get_container(request)
    if credentials is None:
        raise Unauthorized("send an operator API key as 'Authorization: Bearer cgk_...'")
    return await run(container, container.authenticator.authenticate, credentials.credentials)


ContainerDep = Annotated[Container, Depends(get_container)]
#: An authenticated key, scope not checked. Routes use the scoped forms below instead, so that
#: each declares what it needs (tests/integration/test_api_key_scopes.py enforces it).
ApiKeyDep = Annotated[ApiKeyInfo, Depends(api_key)]


def requires(scope: Scope) -> Callable[..., Awaitable[ApiKeyInfo]]:
    """A dependency: the request's API key, refused (403 ``insufficient-scope``) unless it has
    ``scope``. The function carries ``required_scope`` so that :func:`route_scope` finds it."""

    async def scoped(request: Request, key: ApiKeyDep) -> ApiKeyInfo:
        require_scope(key, scope, f"{request.method} {request.url.path}")
        return key

    scoped.required_scope = scope  # type: ignore[attr-defined]
    scoped.__name__ = f"api_key_with_{scope.value}_scope"
    return scoped


ReadKey = Annotated[ApiKeyInfo, Depends(requires(Scope.READ))]
WriteKey = Annotated[ApiKeyInfo, Depends(requires(Scope.WRITE))]
SessionsKey = Annotated[ApiKeyInfo, Depends(requires(Scope.SESSIONS))]
AdminKey = Annotated[ApiKeyInfo, Depends(requires(Scope.ADMIN))]


@dataclass(frozen=True, slots=True)
class ScopedRoute:
    path: str
    methods: frozenset[str]
    scope: Scope | None


def scoped_routes(app: FastAPI) -> list[ScopedRoute]:
    """Every API route of ``app`` (included routers too) with the scope it declares."""
    found = []
    for context in iter_route_contexts(app.routes):
        route = context.original_route
        if isinstance(route, APIRoute):
            found.append(ScopedRoute(str(context.path), frozenset(context.methods or ()),
                                     route_scope(route)))
    return found


def route_scope(route: APIRoute) -> Scope | None:
    """The scope ``route`` declares through its dependencies (None: it declares none)."""
    stack = list(route.dependant.dependencies)
    while stack:
        dependency = stack.pop()
        scope: Scope | None = getattr(dependency.call, "required_scope", None)
        if scope is not None:
            return scope
        stack.extend(dependency.dependencies)
    return None


def actor_of(key: ApiKeyInfo) -> Actor:
    """The audit log's actor for a request made with ``key``."""
    return Actor.api_key(key.id, key.name)


async def idempotent(request: Request, key: ApiKeyInfo,
                     handler: Callable[[], Awaitable[Response]]) -> Response:
    """Run ``handler`` once per ``Idempotency-Key``; later calls with the key get its response.

    Responses are kept for 24 hours, except 409 and 429 (worth retrying) and server errors.
    """
    header = request.headers.get("idempotency-key")
    if header is None:
        return await handler()
    container = get_container(request)
    fingerprint = idempotency.request_fingerprint(request.method, request.url.path,
                                                  await request.body())
    claim = await run(container, idempotency.claim_key, container.deps, api_key_id=key.id,
                      key=header, fingerprint=fingerprint)
    if claim.replay is not None:
        replay = claim.replay
        return Response(replay.body, status_code=replay.status_code,
                        headers={**replay.headers, "Idempotent-Replayed": "true"},
                        media_type=replay.headers.get("content-type", "application/json"))
    assert claim.row_id is not None
    try:
        response = await handler()
    except ContactGuardError as exc:
        if exc.status >= 500 or exc.status in _NOT_STORED:
            await run(container, idempotency.release_key, container.deps, claim.row_id)
            raise
        response = error_response(request, exc)
    except BaseException:
        await run(container, idempotency.release_key, container.deps, claim.row_id)
        raise
    headers = {k: v for k, v in response.headers.items() if k in _REPLAYED_HEADERS}
    headers["content-type"] = response.media_type or "application/json"
    stored = idempotency.StoredResponse(response.status_code, bytes(response.body).decode(),
                                        headers)
    await run(container, idempotency.complete_key, container.deps, claim.row_id, stored)
    return response


def json_response(model: BaseModel, status_code: int = 200,
                  headers: dict[str, str] | None = None) -> Response:
    """Serialize a response model straight to bytes (pydantic-core, no second pass)."""
    return Response(model.model_dump_json(), status_code=status_code, headers=headers,
                    media_type="application/json")
