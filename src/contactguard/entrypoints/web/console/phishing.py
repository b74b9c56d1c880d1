"""Phishing pages (issue 9): the waves of reported mail with their counts and samples, and
the one-click warning to every seller or one country. Admins only (``MANAGE_PHISHING``);
publishing is audited with the operator as the actor."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import Response

from contactguard.domain.operators import Permission
from contactguard.entrypoints.web.console.common import formatting, signed_in
from contactguard.entrypoints.web.pages import PageNotFound
from contactguard.errors import NotFound, ValidationFailed
from contactguard.services import waves

router = APIRouter(prefix="/console", include_in_schema=False)

MAX_ID = 2**62


def _wave_id(raw: str) -> int:
    if not (raw.isascii() and raw.isdigit() and len(raw) < 20) or not 1 <= int(raw) <= MAX_ID:
        raise PageNotFound
    return int(raw)


@router.get("/phishing")
async def list_page(request: Request) -> Response:
    console = await signed_in(request, Permission.MANAGE_PHISHING)
    found = await console.call(waves.list_waves, limit=100)
    stats = await console.call(waves.inbound_stats)
    return console.render("phishing.html", {
        "waves": found, "totals": stats.totals, **formatting(console.t)})


@router.get("/phishing/{wave_id}")
async def wave_page(request: Request, wave_id: str) -> Response:
    console = await signed_in(request, Permission.MANAGE_PHISHING)
    try:
        detail = await console.call(waves.get_wave, _wave_id(wave_id))
    except NotFound:
        raise PageNotFound from None
    peak = max((n for _, n in detail.by_day), default=0)
    return console.render("phishing_wave.html", {
        "d": detail, "w": detail.wave, "peak": peak,
        "error": request.query_params.get("error") == "country", **formatting(console.t)})


@router.post("/phishing/{wave_id}/warnings")
async def warn(request: Request, wave_id: str) -> Response:
    console = await signed_in(request, Permission.MANAGE_PHISHING)
    form = await console.form()
    number = _wave_id(wave_id)
    country = form.get("country", "").strip() if form.get("scope") == "country" else None
    try:
        await console.call(waves.publish_warning, number, country=country or None,
                           actor=console.me.actor)
    except NotFound:
        raise PageNotFound from None
    except ValidationFailed:
        return console.redirect(f"/console/phishing/{number}?error=country")
    return console.redirect(f"/console/phishing/{number}?done=warned")
