"""Verify-the-caller in the console (issue 9): on an account's page a support agent starts a
call session, reads the code to say on the phone, and sees the seller's answer as soon as it
is given (the status fragment is polled every 2 s while the session is open)."""

from __future__ import annotations

from urllib.parse import quote

from fastapi import APIRouter, Request
from fastapi.responses import Response

from contactguard.domain.accounts import is_valid_external_id
from contactguard.domain.operators import Permission
from contactguard.entrypoints.web.console.common import Console, formatting, signed_in
from contactguard.entrypoints.web.pages import LoginRequired, PageNotFound, web_of
from contactguard.errors import AccountNotFound, ConcurrentWrite, ValidationFailed
from contactguard.services import call_sessions

router = APIRouter(prefix="/console", include_in_schema=False)

#: The console session remembers the name the agent introduces themselves with.
AGENT_NAME = "agent_name"


def _external_id(value: str) -> str:
    if not is_valid_external_id(value):
        raise PageNotFound
    return value


def call_key(view: call_sessions.CallView | None) -> str:
    return f"{view.id}:{view.status.value}" if view is not None else "none"


@router.get("/accounts/{external_id}/call")
async def call_status(request: Request, external_id: str) -> Response:
    """The status fragment of the account's newest call session; 204 while unchanged."""
    try:
        console = await signed_in(request, Permission.VERIFY_CALLERS)
    except LoginRequired:  # signed out meanwhile: no sign-in page inside the fragment
        return web_of(request).finish(request, Response(status_code=204))
    try:
        found = await console.call(call_sessions.latest_call, _external_id(external_id))
    except AccountNotFound:
        raise PageNotFound from None
    if request.query_params.get("seen") == call_key(found):
        return console.web.finish(request, Response(status_code=204))
    return _fragment(console, external_id, found)


@router.post("/accounts/{external_id}/call")
async def start_call(request: Request, external_id: str) -> Response:
    console = await signed_in(request, Permission.VERIFY_CALLERS)
    form = await console.form()
    name = form.get("agent_name", "")[:200]
    target = f"/console/accounts/{quote(_external_id(external_id))}"
    try:
        await console.call(call_sessions.start_call_for_operator, external_id, name,
                           by=console.me)
    except AccountNotFound:
        raise PageNotFound from None
    except (ValidationFailed, ConcurrentWrite) as exc:
        error = exc.errors[0].code if exc.errors else "concurrent"
        return console.redirect(f"{target}?call_error={quote(error)}#call")
    console.session.extra[AGENT_NAME] = " ".join(name.split())[:60]
    console.session.changed = True
    return console.redirect(f"{target}?done=call_started#call")


def _fragment(console: Console, external_id: str, found: call_sessions.CallView | None
              ) -> Response:
    response = console.render("_call.html", {
        "call": found, "call_key": call_key(found), "external_id": external_id,
        "now": console.deps.clock.now(), **formatting(console.t)})
    if "HX-Push-Url" in response.headers:
        del response.headers["HX-Push-Url"]
    return response
