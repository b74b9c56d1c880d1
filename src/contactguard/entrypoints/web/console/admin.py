"""Admin pages: operators (create, disable, enable, reset password or second factor, end
sessions) and sessions (console sessions; signing a seller out everywhere)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response

from contactguard.domain.operators import Permission, Role
from contactguard.entrypoints.web.console.common import Console, signed_in
from contactguard.entrypoints.web.pages import PageNotFound
from contactguard.errors import AccountNotFound, Conflict, NotFound, ValidationFailed
from contactguard.services import console as console_service
from contactguard.services import operators

router = APIRouter(prefix="/console", include_in_schema=False)

_ACTIONS = {"disable", "enable", "reset-totp", "reset-password", "revoke-sessions"}


async def _operators_page(console: Console, *, status: int = 200,
                          **context: Any) -> Response:
    found = await console.call(operators.list_operators, by=console.me)
    sessions = await console.call(console_service.operator_sessions, by=console.me)
    open_by: dict[str, int] = {}
    for record in sessions:
        open_by[record.subject] = open_by.get(record.subject, 0) + 1
    values: dict[str, Any] = {"operators": found, "roles": [r.value for r in Role],
                              "open_by": open_by, "created": None, "reset": None,
                              "errors": {}, "form": {}, "problem": None}
    values.update(context)
    return console.render("operators.html", values, status=status)


@router.get("/operators")
async def list_operators(request: Request) -> Response:
    console = await signed_in(request, Permission.MANAGE_OPERATORS)
    return await _operators_page(console)


@router.post("/operators")
async def create_operator(request: Request) -> Response:
    console = await signed_in(request, Permission.MANAGE_OPERATORS)
    form = await console.form()
    values = {"email": form.get("email", "")[:254], "role": form.get("role", "")}
    try:
        created = await console.hashing(operators.create_operator, values["email"],
                                        values["role"], by=console.me)
    except (ValidationFailed, Conflict) as exc:
        errors = {e.field: e.message for e in exc.errors} or {"email": exc.detail}
        return await _operators_page(console, status=422, errors=errors, form=values)
    # Shown once, in this answer only (never in a URL, a log or the audit trail).
    return await _operators_page(console, created=created)


@router.post("/operators/{operator_id}/{action}")
async def operator_action(request: Request, operator_id: int, action: str) -> Response:
    console = await signed_in(request, Permission.MANAGE_OPERATORS)
    if action not in _ACTIONS:
        raise PageNotFound
    await console.form()
    me = console.me
    try:
        if action == "disable":
            await console.call(operators.disable_operator, operator_id, by=me)
        elif action == "enable":
            await console.call(operators.enable_operator, operator_id, by=me)
        elif action == "reset-totp":
            await console.call(operators.reset_second_factor, operator_id, by=me)
        elif action == "revoke-sessions":
            await console.call(console_service.revoke_operator_sessions, operator_id, by=me)
        else:
            reset = await console.hashing(operators.reset_password, operator_id, by=me)
            return await _operators_page(console, reset=reset)
    except NotFound:
        raise PageNotFound from None
    except Conflict as exc:
        return await _operators_page(console, status=409, problem=exc.detail)
    return console.redirect(f"/console/operators?done={action}")


async def _sessions_page(console: Console, *, status: int = 200, **context: Any) -> Response:
    sessions = await console.call(console_service.operator_sessions, by=console.me)
    found = await console.call(operators.list_operators, by=console.me)
    emails = {str(o.id): o.email for o in found}
    values: dict[str, Any] = {"sessions": sessions, "emails": emails, "seller_error": None,
                              "seller": "", "seller_done": None}
    values.update(context)
    return console.render("sessions.html", values, status=status)


@router.get("/sessions")
async def sessions(request: Request) -> Response:
    console = await signed_in(request, Permission.MANAGE_SESSIONS)
    return await _sessions_page(console)


@router.post("/sessions/{session_id}/revoke")
async def revoke(request: Request, session_id: int) -> Response:
    console = await signed_in(request, Permission.MANAGE_SESSIONS)
    await console.form()
    try:
        await console.call(console_service.revoke_operator_session, session_id, by=console.me)
    except NotFound:
        raise PageNotFound from None
    if session_id == console.session.session_id:
        return console.redirect("/console/login")
    return console.redirect("/console/sessions?done=revoked")


@router.post("/sessions/sellers")
async def sign_seller_out(request: Request) -> Response:
    console = await signed_in(request, Permission.MANAGE_SESSIONS)
    form = await console.form()
    external_id = form.get("account", "").strip()[:128]
    try:
        count = await console.call(console_service.sign_seller_out, external_id, by=console.me)
    except AccountNotFound:
        return await _sessions_page(console, status=404, seller=external_id,
                                    seller_error="not_found")
    return await _sessions_page(console, seller=external_id,
                                seller_done={"account": external_id, "count": count})
