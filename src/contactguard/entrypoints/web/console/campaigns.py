"""Campaign pages: the list, the create form with its live preview, a campaign's detail
(progress, funnel, by day, by channel, by country, launch/pause/resume/cancel) and the funnel
as CSV. Everyone signed in reads them; only admins create and act (checked again by the
services in ``services/console.py``, with the operator as the audit actor)."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

from babel.dates import format_skeleton
from fastapi import APIRouter, Request
from fastapi.responses import Response

from contactguard.domain.campaigns import TRANSITIONS, CampaignStatus
from contactguard.domain.operators import Permission
from contactguard.entrypoints.web.console import campaign_form as forms
from contactguard.entrypoints.web.console.charts import (
    NARROW,
    WIDE,
    Bar,
    Series,
    funnel_chart,
    line_chart,
)
from contactguard.entrypoints.web.console.common import Console, formatting, signed_in
from contactguard.entrypoints.web.i18n import Translator
from contactguard.entrypoints.web.pages import PageNotFound
from contactguard.errors import Conflict, FieldError, ValidationFailed
from contactguard.services import console as console_service
from contactguard.services.campaigns import CampaignNotFound, DraftCheck, Funnel

router = APIRouter(prefix="/console", include_in_schema=False)

PAGE = 50
MAX_ID = 2**62
#: Days the by-day chart shows at most (the most recent ones).
MAX_CHART_DAYS = 180
STAGES = ("targeted", "notified", "seen", "started", "verified")


def _number(raw: str) -> int | None:
    """A positive id from a URL (ASCII digits only: ``"²".isdigit()`` is true)."""
    if not (raw.isascii() and raw.isdigit() and len(raw) < 20) or not 1 <= int(raw) <= MAX_ID:
        return None
    return int(raw)


def _campaign_id(raw: str) -> int:
    number = _number(raw)
    if number is None:
        raise PageNotFound
    return number


# --- the list --------------------------------------------------------------------------------


@router.get("/campaigns")
async def list_page(request: Request) -> Response:
    console = await signed_in(request, Permission.READ_CAMPAIGNS)
    before = _number(request.query_params.get("before", ""))
    raw_status = request.query_params.get("status", "")
    status = CampaignStatus(raw_status) if raw_status in set(CampaignStatus) else None
    found = await console.call(console_service.list_campaigns, by=console.me, before=before,
                               status=status, limit=PAGE)
    return console.render("campaigns.html", {
        "campaigns": found.items, "next_before": found.next_before, "status": status,
        "statuses": [s.value for s in CampaignStatus],
        "can_manage": console.me.can(Permission.MANAGE_CAMPAIGNS), **formatting(console.t)})


# --- create, with the live preview -----------------------------------------------------------


def _form_context(console: Console, values: dict[str, Any], check: DraftCheck | None,
                  errors: dict[str, list[str]]) -> dict[str, Any]:
    return {"values": values, "check": check, "errors": errors, "slots": forms.SLOTS,
            "kinds": forms.KINDS, "states": forms.STATES, "zones": forms.time_zones(),
            "optional_channels": forms.OPTIONAL_CHANNELS,
            "min_notice": console.deps.policy.min_notice_days, **formatting(console.t)}


@router.get("/campaigns/new")
async def new_page(request: Request) -> Response:
    console = await signed_in(request, Permission.MANAGE_CAMPAIGNS)
    return console.render("campaign_new.html",
                          _form_context(console, forms.blank_values(), None, {}))


async def _check(console: Console, submitted: forms.Submitted,
                 errors: list[FieldError] | None = None) -> tuple[DraftCheck,
                                                                    dict[str, list[str]]]:
    check = await console.call(console_service.check_campaign, submitted.document,
                               by=console.me)
    shown = submitted.errors + (check.errors or errors or [])
    return check, forms.field_errors(console.t, shown, submitted.document, check.shortfalls)


@router.post("/campaigns/new/preview")
async def preview_fragment(request: Request) -> Response:
    """The live preview (htmx): the figures, and each input's errors swapped in beside it."""
    console = await signed_in(request, Permission.MANAGE_CAMPAIGNS)
    await console.form()
    submitted = forms.read_form(await request.form())
    check, errors = await _check(console, submitted)
    return console.render("_campaign_check.html", {
        **_form_context(console, submitted.values, check, errors), "oob": True})


@router.post("/campaigns/new")
async def create(request: Request) -> Response:
    console = await signed_in(request, Permission.MANAGE_CAMPAIGNS)
    await console.form()
    submitted = forms.read_form(await request.form())
    if not submitted.errors:
        try:
            view = await console.call(console_service.create_campaign, submitted.document,
                                      by=console.me)
        except ValidationFailed as exc:
            refused = exc.errors or [FieldError("form", exc.detail)]
        else:
            return console.redirect(f"/console/campaigns/{view.id}?done=created")
    else:
        refused = []
    check, errors = await _check(console, submitted, refused)
    return console.render("campaign_new.html",
                          _form_context(console, submitted.values, check, errors), status=422)


# --- one campaign ----------------------------------------------------------------------------


async def _detail_page(console: Console, campaign_id: int, *, status: int = 200,
                       problem: str | None = None,
                       refused: list[FieldError] | None = None) -> Response:
    try:
        detail = await console.call(console_service.campaign_detail, campaign_id, by=console.me)
    except CampaignNotFound:
        raise PageNotFound from None
    t = console.t
    view, funnel = detail.view, detail.funnel
    check = detail.check
    launch_errors: dict[str, list[str]] = {}
    if check is not None or refused:
        document = console_service.launch_document(view, console.deps.clock.now())
        shown = refused or (check.errors if check else [])
        launch_errors = forms.field_errors(t, shown, document,
                                           check.shortfalls if check else ())
    helpers = formatting(t)
    countries = {c.country: c for c in detail.preview.countries}
    funnel_rows = {r.key: r for r in funnel.by_country} if funnel else {}
    return console.render("campaign.html", {
        "c": view, "p": view.progress, "detail": detail, "funnel": funnel,
        "problem": problem, "launch_errors": launch_errors,
        "country_keys": sorted(set(countries) | set(funnel_rows)), "countries": countries,
        "funnel_rows": funnel_rows,
        "actions": [a for a, (allowed, _) in TRANSITIONS.items() if view.status in allowed],
        "can_manage": console.me.can(Permission.MANAGE_CAMPAIGNS),
        "funnel_svg": _funnel_svg(t, funnel, helpers) if funnel else None,
        "by_day": _by_day(t, funnel, console.deps.clock.now().date(), view.status)
        if funnel else None,
        "stages": STAGES, **helpers}, status=status)


@router.get("/campaigns/{campaign_id}")
async def detail_page(request: Request, campaign_id: str) -> Response:
    console = await signed_in(request, Permission.READ_CAMPAIGNS)
    return await _detail_page(console, _campaign_id(campaign_id))


@router.get("/campaigns/{campaign_id}/progress")
async def progress_fragment(request: Request, campaign_id: str) -> Response:
    """The progress card alone (htmx polls it while the campaign runs)."""
    console = await signed_in(request, Permission.READ_CAMPAIGNS)
    try:
        view = await console.call(console_service.get_campaign, _campaign_id(campaign_id),
                                  by=console.me)
    except CampaignNotFound:
        raise PageNotFound from None
    response = console.render("_campaign_progress.html",
                              {"c": view, "p": view.progress, **formatting(console.t)})
    if "HX-Push-Url" in response.headers:  # a fragment, not a page to go back to
        del response.headers["HX-Push-Url"]
    return response


@router.get("/campaigns/{campaign_id}/funnel.csv")
async def funnel_csv(request: Request, campaign_id: str) -> Response:
    console = await signed_in(request, Permission.READ_CAMPAIGNS)
    number = _campaign_id(campaign_id)
    try:
        body = await console.call(console_service.campaign_funnel_csv, number, by=console.me)
    except CampaignNotFound:
        raise PageNotFound from None
    response = Response(body, media_type="text/csv; charset=utf-8", headers={
        "Content-Disposition": f'attachment; filename="campaign-{number}-funnel.csv"'})
    return console.web.finish(request, response)


@router.get("/campaigns/{campaign_id}/cancel")
async def cancel_page(request: Request, campaign_id: str) -> Response:
    """The confirmation step before a cancel (which cannot be undone)."""
    console = await signed_in(request, Permission.MANAGE_CAMPAIGNS)
    return await _cancel_page(console, _campaign_id(campaign_id))


async def _cancel_page(console: Console, campaign_id: int) -> Response:
    try:
        view = await console.call(console_service.get_campaign, campaign_id, by=console.me)
    except CampaignNotFound:
        raise PageNotFound from None
    if view.status not in TRANSITIONS["cancel"][0]:
        return console.redirect(f"/console/campaigns/{campaign_id}")
    return console.render("campaign_cancel.html", {"c": view, "p": view.progress,
                                                   **formatting(console.t)})


@router.post("/campaigns/{campaign_id}/{action}")
async def act(request: Request, campaign_id: str, action: str) -> Response:
    console = await signed_in(request, Permission.MANAGE_CAMPAIGNS)
    number = _campaign_id(campaign_id)
    if action not in console_service.CAMPAIGN_ACTIONS:
        raise PageNotFound
    form = await console.form()
    if action == "cancel" and form.get("confirm") != "yes":
        return await _cancel_page(console, number)
    try:
        await console.call(console_service.change_campaign, number, action, by=console.me)
    except CampaignNotFound:
        raise PageNotFound from None
    except Conflict:
        return await _detail_page(console, number, status=409, problem="conflict")
    except ValidationFailed as exc:
        return await _detail_page(console, number, status=422, problem="refused",
                                  refused=exc.errors or [FieldError("form", exc.detail)])
    console.web.container.wake_worker()
    return console.redirect(f"/console/campaigns/{number}?done={action}")


# --- charts ----------------------------------------------------------------------------------


def _funnel_svg(t: Translator, funnel: Funnel, helpers: dict[str, Any]) -> Any:
    labels = {"targeted": t.gettext("Targeted"), "notified": t.gettext("Notified"),
              "seen": t.gettext("Seen"), "started": t.gettext("Started verifying"),
              "verified": t.gettext("Verified")}
    bars = [Bar(f"s-{stage}", labels[stage], getattr(funnel, stage)) for stage in STAGES]
    title = t.gettext("Funnel: from targeted to verified")
    number = helpers["number"]
    return (funnel_chart(bars, total=funnel.targeted, title=title, size=NARROW,
                         css="chart-narrow", number=number)
            + funnel_chart(bars, total=funnel.targeted, title=title, size=WIDE,
                           css="chart-wide", number=number))


def _by_day(t: Translator, funnel: Funnel, today: date, status: CampaignStatus) -> Any:
    """Cumulative shares of the targeted accounts notified, seen, started and verified per
    UTC day, from the first notice to the last event (or today while the campaign runs)."""
    if not funnel.by_day or not funnel.targeted:
        return None
    rows = {date.fromisoformat(r.key): r for r in funnel.by_day}
    first, last = min(rows) - timedelta(days=1), max(rows)  # from 0 % the day before
    if status in (CampaignStatus.RUNNING, CampaignStatus.PAUSED) and today > last:
        last = today
    first = max(first, last - timedelta(days=MAX_CHART_DAYS - 1))
    days = [first + timedelta(days=i) for i in range((last - first).days + 1)]
    earlier = [r for d, r in rows.items() if d < first]
    totals = {stage: sum(getattr(r, stage) for r in earlier) for stage in STAGES[1:]}
    values: dict[str, list[float | None]] = {stage: [] for stage in STAGES[1:]}
    for d in days:
        row = rows.get(d)
        for stage in STAGES[1:]:
            totals[stage] += getattr(row, stage) if row else 0
            values[stage].append(totals[stage] / funnel.targeted)
    labels = {"notified": t.gettext("Notified"), "seen": t.gettext("Seen"),
              "started": t.gettext("Started verifying"), "verified": t.gettext("Verified")}
    series = [Series(f"s-{stage}", labels[stage], values[stage]) for stage in STAGES[1:]]
    title = t.gettext("Share of targeted accounts, day by day")

    def label(d: date) -> str:
        return str(format_skeleton("MMMd", d, locale=t.babel_locale))

    chart = (line_chart(days, series, title=title, day_label=label, size=NARROW,
                        css="chart-narrow")
             + line_chart(days, series, title=title, day_label=label, size=WIDE,
                          css="chart-wide"))
    return {"chart": chart, "series": series,
            "rows": [(d, rows[d]) for d in sorted(rows, reverse=True)]}
