"""Policy (everyone reads it; admins change it through the policy service, with each bad field
named) and webhooks (admins: endpoints, deliveries, replay)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response

from contactguard.domain.compliance import Policy
from contactguard.domain.contacts import ContactKind
from contactguard.domain.operators import Permission
from contactguard.domain.policy import policy_to_document
from contactguard.entrypoints.web.console.common import Console, signed_in
from contactguard.entrypoints.web.pages import PageNotFound
from contactguard.errors import Conflict, NotFound, ValidationFailed
from contactguard.services import console as console_service

router = APIRouter(prefix="/console", include_in_schema=False)

NUMBERS = ("reverify_after_days", "due_soon_days", "grace_days", "min_notice_days",
           "snooze_days", "max_snoozes", "max_contact_changes_per_day")
BASE_LOCALES = ("en", "zh-Hans")


def _form_values(policy: Policy) -> dict[str, Any]:
    document = policy_to_document(policy)
    locales = list(dict.fromkeys([*BASE_LOCALES, *document["reasons"]]))
    return {
        "required": set(document["required"]),
        **{key: str(document[key]) for key in NUMBERS},
        "min_signals": "\n".join(f"{k} = {v:g}" for k, v in document["min_signals"].items()),
        "reasons": {loc: document["reasons"].get(loc, {"why": "", "consequence": ""})
                    for loc in locales},
    }


async def _policy_page(console: Console, *, values: dict[str, Any] | None = None,
                       errors: dict[str, str] | None = None, status: int = 200) -> Response:
    policy = await console.call(console_service.read_policy, by=console.me)
    return console.render("policy.html", {
        "policy": policy, "document": policy_to_document(policy),
        "values": values or _form_values(policy), "errors": errors or {},
        "numbers": NUMBERS, "kinds": [k.value for k in ContactKind],
        "can_edit": console.me.can(Permission.EDIT_POLICY)}, status=status)


@router.get("/policy")
async def policy_page(request: Request) -> Response:
    console = await signed_in(request, Permission.READ_POLICY)
    return await _policy_page(console)


def _document(form: Any) -> tuple[dict[str, Any], dict[str, Any], dict[str, str]]:
    """The policy document from the form, the values to show again, and parse errors."""
    errors: dict[str, str] = {}
    document: dict[str, Any] = {"required": [k for k in form.getlist("required")
                                             if isinstance(k, str)]}
    values: dict[str, Any] = {"required": set(document["required"]), "reasons": {}}
    for key in NUMBERS:
        raw = str(form.get(key) or "").strip()[:12]
        values[key] = raw
        digits = raw.lstrip("-")
        document[key] = int(raw) if digits.isascii() and digits.isdigit() else raw
    signals: dict[str, Any] = {}
    text = str(form.get("min_signals") or "")[:4000]
    values["min_signals"] = text
    for line in text.splitlines():
        if not line.strip():
            continue
        name, sep, number = line.replace(":", "=").partition("=")
        try:
            signals[name.strip()] = float(number) if sep else None
        except ValueError:
            signals[name.strip()] = None
        if signals[name.strip()] is None:
            errors["min_signals"] = "one 'name = number' per line"
    document["min_signals"] = signals
    reasons: dict[str, Any] = {}
    locales = [str(v) for v in form.getlist("locale")][:20]
    for loc in dict.fromkeys([*BASE_LOCALES, *locales]):
        why = str(form.get(f"reasons.{loc}.why") or "")[:2000]
        consequence = str(form.get(f"reasons.{loc}.consequence") or "")[:2000]
        values["reasons"][loc] = {"why": why, "consequence": consequence}
        if loc == "en" or why.strip() or consequence.strip():
            reasons[loc] = {"why": why, "consequence": consequence}
    document["reasons"] = reasons
    return document, values, errors


@router.post("/policy")
async def save_policy(request: Request) -> Response:
    console = await signed_in(request, Permission.EDIT_POLICY)
    await console.form()
    document, values, errors = _document(await request.form())
    if not errors:
        try:
            await console.call(console_service.set_policy, document, by=console.me)
        except ValidationFailed as exc:
            errors = {e.field: e.message for e in exc.errors} or {"policy": exc.detail}
    if errors:
        return await _policy_page(console, values=values, errors=errors, status=422)
    return console.redirect("/console/policy?done=saved")


@router.get("/webhooks")
async def webhooks_page(request: Request) -> Response:
    console = await signed_in(request, Permission.MANAGE_WEBHOOKS)
    endpoints = await console.call(console_service.list_webhooks, by=console.me)
    return console.render("webhooks.html", {"endpoints": endpoints})


async def _deliveries_page(console: Console, endpoint_id: int, *, problem: str | None = None,
                           status: int = 200) -> Response:
    raw_before = console.request.query_params.get("before", "")
    before = int(raw_before) if raw_before.isascii() and raw_before.isdigit() else None
    try:
        endpoint, deliveries = await console.call(console_service.webhook_deliveries, endpoint_id,
                                                  by=console.me, limit=50, before=before)
    except NotFound:
        raise PageNotFound from None
    return console.render("webhook.html", {
        "endpoint": endpoint, "deliveries": deliveries, "problem": problem,
        "older": deliveries[-1].id if len(deliveries) == 50 else None}, status=status)


@router.get("/webhooks/{endpoint_id}")
async def deliveries(request: Request, endpoint_id: int) -> Response:
    console = await signed_in(request, Permission.MANAGE_WEBHOOKS)
    return await _deliveries_page(console, endpoint_id)


@router.post("/webhooks/{endpoint_id}/deliveries/{delivery_id}/replay")
async def replay(request: Request, endpoint_id: int, delivery_id: int) -> Response:
    console = await signed_in(request, Permission.MANAGE_WEBHOOKS)
    await console.form()
    try:
        replayed = await console.call(console_service.replay_webhook, delivery_id, by=console.me)
    except NotFound:
        raise PageNotFound from None
    except Conflict as exc:
        return await _deliveries_page(console, endpoint_id, problem=exc.detail, status=409)
    return console.redirect(f"/console/webhooks/{replayed.endpoint_id}?done=replayed")
