"""The message checker for support (issue 9): the seller's "Is this message genuine?" page in
the console, with an optional account (a message sent to another account is not genuine for
the seller who asks)."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import Response

from contactguard.domain.operators import Permission
from contactguard.entrypoints.web.check_form import CheckOutcome, judge_form
from contactguard.entrypoints.web.console.common import REALM, signed_in

router = APIRouter(prefix="/console", include_in_schema=False)


@router.api_route("/check", methods=["GET", "POST"])
async def check_message(request: Request) -> Response:
    console = await signed_in(request, Permission.CHECK_MESSAGES)
    outcome = CheckOutcome(mode=request.query_params.get("mode", "text"),
                           account=request.query_params.get("account", "")[:128])
    if request.method == "POST":
        outcome = await judge_form(console.web, request, REALM, locale=console.t.lang)
    return console.render("check.html", {"c": outcome},
                          status=outcome.status)
