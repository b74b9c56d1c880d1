"""Account search and an account's file: contacts, eligibility with reasons and deadlines,
verifications, messages with reference codes, audit trail; signing a seller out everywhere."""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import quote

from fastapi import APIRouter, Request
from fastapi.responses import Response

from contactguard.domain.accounts import is_valid_external_id
from contactguard.domain.compliance import ComplianceState
from contactguard.domain.operators import Permission
from contactguard.entrypoints.web.console import calls
from contactguard.entrypoints.web.console.common import formatting, signed_in
from contactguard.entrypoints.web.pages import PageNotFound
from contactguard.errors import AccountNotFound, ValidationFailed
from contactguard.services import call_sessions
from contactguard.services import console as console_service

router = APIRouter(prefix="/console", include_in_schema=False)


@router.get("/accounts")
async def search(request: Request) -> Response:
    console = await signed_in(request, Permission.READ_ACCOUNTS)
    query = request.query_params.get("q", "").strip()[:254]
    hits = None
    listing = None
    state = request.query_params.get("state", "")
    if query:
        try:
            hits = await console.call(console_service.search_accounts, query, by=console.me)
        except ValidationFailed:
            hits = []
    elif state in {s.value for s in ComplianceState}:
        try:
            listing = await console.call(console_service.accounts_in_state, ComplianceState(state),
                                         by=console.me,
                                         cursor=request.query_params.get("cursor") or None)
        except ValidationFailed:
            raise PageNotFound from None
    return console.render("accounts.html", {"q": query, "hits": hits, "listing": listing,
                                            "state": state if listing else None,
                                            "limit": console_service.SEARCH_LIMIT})


def _external_id(value: str) -> str:
    if not is_valid_external_id(value):
        raise PageNotFound
    return value


@router.get("/accounts/{external_id}")
async def account(request: Request, external_id: str) -> Response:
    console = await signed_in(request, Permission.READ_ACCOUNTS)
    try:
        file = await console.call(console_service.account_file, _external_id(external_id),
                                  by=console.me, locale=console.t.lang)
    except AccountNotFound:
        raise PageNotFound from None
    now = console.deps.clock.now()
    requirements = file.state.compliance.requirements
    call = (await console.call(call_sessions.latest_call, external_id)
            if console.me.can(Permission.VERIFY_CALLERS) else None)
    return console.render("account.html", {
        "file": file, "a": file.view.account, "now": now, "requirements": requirements,
        "contacts": {c.contact.kind: c for c in file.view.contacts},
        "days_left": {r.kind: (r.deadline - now).days if r.deadline else None
                      for r in requirements},
        "signed_out": request.query_params.get("done") == "signed_out",
        "revoked": request.query_params.get("n") or "0",
        "details": {e.seq: _details(e.before, e.after) for e in file.audit},
        "seen": {n.reference: n.read_at for n in file.notices},
        # verify-the-caller (issue 9): the newest call session, the agent's remembered name
        "call": call, "call_key": calls.call_key(call), "external_id": external_id,
        "agent_name": console.session.extra.get(calls.AGENT_NAME, ""),
        "call_error": request.query_params.get("call_error"),
        **formatting(console.t),
    })


def _details(before: dict[str, Any] | None, after: dict[str, Any] | None) -> tuple[str, str]:
    def show(value: dict[str, Any] | None) -> str:
        return json.dumps(value, ensure_ascii=False, separators=(", ", ": "),
                          default=str)[:600] if value else ""
    return show(before), show(after)


@router.post("/accounts/{external_id}/sign-out")
async def sign_seller_out(request: Request, external_id: str) -> Response:
    console = await signed_in(request, Permission.MANAGE_SESSIONS)
    await console.form()
    try:
        count = await console.call(console_service.sign_seller_out, _external_id(external_id),
                                   by=console.me)
    except AccountNotFound:
        raise PageNotFound from None
    return console.redirect(f"/console/accounts/{quote(external_id)}?done=signed_out&n={count}")
