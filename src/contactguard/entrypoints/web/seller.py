"""Seller pages: account health, contacts, verification, message center, security phrase.

Every handler calls the same service functions as the REST API; a session only ever names
its own account, and verifications are checked to belong to it before anything is done.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response

from contactguard.domain import phrases
from contactguard.domain.call_sessions import CallAnswer, ReportReason
from contactguard.domain.challenges import ChallengeStatus
from contactguard.domain.compliance import ComplianceState, Requirement, can_snooze
from contactguard.domain.contacts import Channel, ContactKind
from contactguard.domain.locales import SUPPORTED_LOCALES
from contactguard.domain.sessions import Realm
from contactguard.entrypoints.api.deps import run
from contactguard.entrypoints.web import texts
from contactguard.entrypoints.web.check_form import CheckOutcome, judge_form
from contactguard.entrypoints.web.i18n import Translator
from contactguard.entrypoints.web.pages import LoginRequired, PageNotFound, web_of
from contactguard.entrypoints.web.session import WebSession
from contactguard.errors import (
    AccountNotFound,
    CallSessionClosed,
    CallSessionNotFound,
    ChannelNotAllowed,
    Conflict,
    ContactNotFound,
    DestinationBlocked,
    NotFound,
    RateLimited,
    SessionLinkInvalid,
    TooManyContactChanges,
    ValidationFailed,
    VerificationClosed,
    VerificationNotFound,
)
from contactguard.services import (
    accounts,
    call_sessions,
    campaigns,
    compliance,
    message_center,
    verification,
    waves,
)
from contactguard.services.seller_sessions import redeem_session_link

router = APIRouter(prefix="/seller", include_in_schema=False)

_KINDS = {kind.value: kind for kind in ContactKind}
_DONE = {"saved", "verified", "snoozed", "phrase", "resent", "sent"}


async def _account(request: Request, session: WebSession) -> accounts.AccountView:
    web = web_of(request)
    try:
        return await run(web.container, accounts.get_account, web.container.deps, session.account)
    except AccountNotFound:
        raise LoginRequired from None


def _kind(value: str) -> ContactKind:
    if value not in _KINDS:
        raise PageNotFound
    return _KINDS[value]


def _contact(view: accounts.AccountView, kind: ContactKind) -> accounts.ContactView | None:
    return next((c for c in view.contacts if c.contact.kind is kind), None)


def _done(request: Request) -> str | None:
    value = request.query_params.get("done")
    return value if value in _DONE else None


@router.get("/session/{token}")
async def open_session(request: Request, token: str) -> Response:
    """Open an account-session link: one use, five minutes, then a cookie and the dashboard."""
    web = web_of(request)
    try:
        external_id = await run(web.container, redeem_session_link, web.container.deps, token)
    except SessionLinkInvalid:
        return web.render(request, "link_invalid.html", {}, status=410)
    await web.sign_in(request, Realm.SELLER, external_id)
    return web.redirect(request, "/seller")


@router.get("")
async def health(request: Request) -> Response:
    """Account health: every open requirement with its deadline, why and what is at stake;
    what the seller must do apart from what depends on the platform."""
    web = web_of(request)
    session = await web.seller(request)
    view = await _account(request, session)
    state = await run(web.container, compliance.get_compliance, web.container.deps,
                      session.account)
    t = web.translator(session, view.account)
    result = state.eligibility
    banners = await run(web.container, campaigns.account_banners, web.container.deps,
                        session.account, locale=t.lang)
    if banners:  # the dashboard shows the campaign's notice: the seller has seen it
        await run(web.container, campaigns.mark_seen, web.container.deps, session.account,
                  [b.reference for b in banners])
    warnings = await run(web.container, waves.warnings_for_account, web.container.deps,
                         view.account.country)
    return web.render(request, "health.html", {
        "campaign_banners": banners,
        # Inbound mail and phishing waves (issue 9): published warnings, bounced email contacts
        "phishing_warnings": warnings,
        "bounced_emails": [c for c in view.contacts if c.contact.kind.is_email
                           and any(u.channel is Channel.EMAIL for u in c.undeliverable)],
        "account": view.account, "state": state,
        "contacts": {c.contact.kind: c for c in view.contacts},
        "open_requirements": [r for r in state.compliance.requirements
                              if r.state is not ComplianceState.COMPLIANT],
        "seller_actions": result.seller_actions,
        "platform_conditions": [texts.platform_condition(t, r)
                                for r in result.platform_conditions],
        "reasons": state.policy.reasons_for(t.lang), "can_snooze": can_snooze,
        "now": web.container.deps.clock.now(), "done": _done(request),
        "error": request.query_params.get("error") == "snooze",
    }, t=t)


@router.post("/reminders/{kind}/snooze")
async def snooze(request: Request, kind: str) -> Response:
    web = web_of(request)
    session = await web.seller(request)
    await web.check_csrf(request)
    try:
        await run(web.container, compliance.snooze_reminder, web.container.deps,
                  session.account, _kind(kind), actor=session.actor)
    except (Conflict, NotFound):
        return web.redirect(request, "/seller?error=snooze")
    return web.redirect(request, "/seller?done=snoozed")


@router.get("/contacts")
async def contacts(request: Request) -> Response:
    web = web_of(request)
    session = await web.seller(request)
    view = await _account(request, session)
    state = await run(web.container, compliance.get_compliance, web.container.deps,
                      session.account)
    requirements: dict[ContactKind, Requirement] = {
        r.kind: r for r in state.compliance.requirements}
    return web.render(request, "contacts.html", {
        "account": view.account, "contacts": view.contacts, "kinds": list(ContactKind),
        "by_kind": {c.contact.kind: c for c in view.contacts}, "done": _done(request),
        "done_kind": request.query_params.get("kind"), "requirements": requirements,
    }, t=web.translator(session, view.account))


@router.api_route("/contacts/{kind}/edit", methods=["GET", "POST"])
async def edit_contact(request: Request, kind: str) -> Response:
    web = web_of(request)
    session = await web.seller(request)
    contact_kind = _kind(kind)
    view = await _account(request, session)
    context: dict[str, Any] = {"account": view.account, "kind": contact_kind,
                               "current": _contact(view, contact_kind), "error": None,
                               "limit": None, "value": ""}
    t = web.translator(session, view.account)
    if request.method == "POST":
        form = await web.check_csrf(request)
        context["value"] = form.get("value", "")[:320]
        try:
            await run(web.container, accounts.set_contact, web.container.deps, session.account,
                      contact_kind, context["value"], actor=session.actor)
        except ValidationFailed as exc:
            context["error"] = (texts.field_error(t, exc.errors[0], contact_kind) if exc.errors
                                else t.gettext(texts.UNKNOWN))
            return web.render(request, "contact_edit.html", context, status=422, t=t)
        except TooManyContactChanges as exc:  # replaced verified contacts too often today
            context["limit"] = texts.change_limit(t, exc)
            return web.render(request, "contact_edit.html", context, status=429, t=t)
        return web.redirect(request, f"/seller/contacts/{contact_kind.value}/verify?done=saved")
    return web.render(request, "contact_edit.html", context, t=t)


@router.api_route("/contacts/{kind}/verify", methods=["GET", "POST"])
async def start(request: Request, kind: str) -> Response:
    """Send a code; while one sent earlier can still be answered (also inside the resend
    cooldown, and for a voice call already taken), its code field is right here."""
    web = web_of(request)
    session = await web.seller(request)
    contact_kind = _kind(kind)
    view = await _account(request, session)
    current = _contact(view, contact_kind)
    if current is None:
        return web.redirect(request, f"/seller/contacts/{contact_kind.value}/edit")
    t = web.translator(session, view.account)
    context: dict[str, Any] = {"account": view.account, "kind": contact_kind, "current": current,
                               "error": None, "retry_after": None, "blocked": None, "done": _done(request)}
    if request.method == "GET":
        return await _start_page(request, context, contact_kind, t=t)
    form = await web.check_csrf(request)
    channel = form.get("channel") or None
    if channel not in {c.value for c in Channel} | {None}:
        channel = None
    try:
        started = await run(web.container, verification.start_verification, web.container.deps,
                            account=session.account, contact=contact_kind,
                            channel=Channel(channel) if channel else None)
    except RateLimited as exc:
        context["retry_after"] = exc.retry_after_seconds
        return await _start_page(request, context, contact_kind, t=t, status=429)
    except ChannelNotAllowed:
        context["error"] = "channel"
        return await _start_page(request, context, contact_kind, t=t, status=422)
    except DestinationBlocked as exc:  # the SMS-pumping guard (issue 11)
        context["blocked"] = exc.reason
        return await _start_page(request, context, contact_kind, t=t, status=403)
    except ContactNotFound:
        return web.redirect(request, f"/seller/contacts/{contact_kind.value}/edit")
    session.verifications[contact_kind.value] = started.id
    session.changed = True
    return web.redirect(request, f"/seller/verifications/{started.id}?done=sent")


async def _start_page(request: Request, context: dict[str, Any], kind: ContactKind, *,
                      t: Translator, status: int = 200) -> Response:
    web = web_of(request)
    session = web.session(request)
    open_v = await run(web.container, verification.open_verification, web.container.deps,
                       session.account, kind)
    now = web.container.deps.clock.now()
    context["open_v"] = open_v
    context["resend_wait"] = (max(0, int((open_v.resend_available_at - now).total_seconds()
                                         + 0.999)) if open_v else 0)
    return web.render(request, "verify_start.html", context, status=status, t=t)


async def _own_verification(request: Request, session: WebSession,
                            verification_id: str) -> verification.VerificationView | None:
    """The verification if it belongs to the session's account; None otherwise (shown as 404)."""
    web = web_of(request)
    if not verification_id.startswith("vrf_") or len(verification_id) > 40:
        return None
    try:
        found = await run(web.container, verification.get_verification, web.container.deps,
                          verification_id)
    except VerificationNotFound:
        return None
    return found if found.account_external_id == session.account else None


def _not_found(request: Request) -> Response:
    raise PageNotFound


@router.get("/verifications/{verification_id}")
async def code_page(request: Request, verification_id: str) -> Response:
    web = web_of(request)
    session = await web.seller(request)
    found = await _own_verification(request, session, verification_id)
    if found is None:
        return _not_found(request)
    return await _code_page(request, session, found, problem=None, done=_done(request))


async def _code_page(request: Request, session: WebSession, view: verification.VerificationView,
                     *, problem: str | None, done: str | None = None,
                     retry_after: int | None = None, status: int = 200,
                     blocked: str | None = None) -> Response:
    web = web_of(request)
    account = await _account(request, session)
    now = web.container.deps.clock.now()
    wait = max(0, int((view.resend_available_at - now).total_seconds() + 0.999))
    return web.render(request, "verify_code.html", {
        "account": account.account, "v": view, "problem": problem, "done": done,
        "blocked": blocked,
        "resend_wait": retry_after if retry_after is not None else wait,
        "open": view.status is ChallengeStatus.PENDING and view.attempts_left > 0,
    }, status=status, t=web.translator(session, account.account))


@router.post("/verifications/{verification_id}/check")
async def check(request: Request, verification_id: str) -> Response:
    web = web_of(request)
    session = await web.seller(request)
    form = await web.check_csrf(request)
    found = await _own_verification(request, session, verification_id)
    if found is None:
        return _not_found(request)
    try:
        result = await run(web.container, verification.check_code, web.container.deps,
                           verification_id, form.get("code", "")[:40], actor=session.actor)
    except ValidationFailed:
        return await _code_page(request, session, found, problem="format", status=422)
    except VerificationClosed:
        return web.redirect(request, "/seller/contacts")
    if result.status is ChallengeStatus.APPROVED:
        session.verifications.pop(result.contact_kind.value, None)
        session.changed = True
        return web.redirect(request, f"/seller/contacts?done=verified&kind={result.contact_kind.value}")
    problem = {ChallengeStatus.LOCKED: "locked", ChallengeStatus.EXPIRED: "expired"}.get(
        result.status, "wrong")
    return await _code_page(request, session, result, problem=problem, status=422)


@router.post("/verifications/{verification_id}/resend")
async def resend(request: Request, verification_id: str) -> Response:
    web = web_of(request)
    session = await web.seller(request)
    await web.check_csrf(request)
    found = await _own_verification(request, session, verification_id)
    if found is None:
        return _not_found(request)
    try:
        await run(web.container, verification.resend_code, web.container.deps, verification_id)
    except RateLimited as exc:
        return await _code_page(request, session, found, problem="rate_limited",
                                retry_after=exc.retry_after_seconds, status=429)
    except VerificationClosed:
        return await _code_page(request, session, found, problem="closed", status=409)
    except DestinationBlocked as exc:
        return await _code_page(request, session, found, problem="blocked", status=403,
                                blocked=exc.reason)
    return web.redirect(request, f"/seller/verifications/{verification_id}?done=resent")


@router.get("/messages")
async def messages(request: Request) -> Response:
    web = web_of(request)
    session = await web.seller(request)
    view = await _account(request, session)
    t = web.translator(session, view.account)
    notices = await run(web.container, message_center.list_notices, web.container.deps,
                        session.account, locale=t.lang)
    await run(web.container, campaigns.mark_seen, web.container.deps, session.account,
              [n.reference for n in notices if n.read_at is None])
    ref = request.query_params.get("ref", "").strip()[:20]
    lookup = None
    if ref:
        wanted = ref.upper()
        lookup = next((n for n in notices if n.reference == wanted), False)
    return web.render(request, "messages.html", {
        "account": view.account, "notices": notices, "ref": ref, "lookup": lookup}, t=t)


@router.api_route("/security-phrase", methods=["GET", "POST"])
async def security_phrase(request: Request) -> Response:
    """Set the phrase; the saved one is shown by its first letters, never in full."""
    web = web_of(request)
    session = await web.seller(request)
    view = await _account(request, session)
    t = web.translator(session, view.account)
    saved = view.account.security_phrase
    context: dict[str, Any] = {"account": view.account, "error": None, "done": _done(request),
                               "value": "", "saved_hint": phrases.phrase_hint(saved) if saved
                               else None, "saved_length": len(saved or "")}
    if request.method == "POST":
        form = await web.check_csrf(request)
        context["value"] = form.get("security_phrase", "")[:200]
        try:
            await run(web.container, accounts.set_security_phrase, web.container.deps,
                      session.account, context["value"], actor=session.actor)
        except ValidationFailed as exc:
            context["error"] = (texts.field_error(t, exc.errors[0]) if exc.errors
                                else t.gettext(texts.UNKNOWN))
            return web.render(request, "security_phrase.html", context, status=422, t=t)
        return web.redirect(request, "/seller/security-phrase?done=phrase")
    return web.render(request, "security_phrase.html", context, t=t)


@router.api_route("/check", methods=["GET", "POST"])
async def check_message(request: Request) -> Response:
    """Is this message genuine? A pasted text, an .eml file or a reference code, judged
    against what this account was sent; the verdict and each reason in the seller's language."""
    web = web_of(request)
    session = await web.seller(request)
    view = await _account(request, session)
    t = web.translator(session, view.account)
    outcome = CheckOutcome(mode=request.query_params.get("mode", "text"))
    if request.method == "POST":
        outcome = await judge_form(web, request, Realm.SELLER, locale=t.lang,
                                   account=session.account)
    return web.render(request, "check.html", {"account": view.account, "c": outcome},
                      status=outcome.status, t=t)


@router.get("/call")
async def call_banner(request: Request) -> Response:
    """The verify-the-caller banner every signed-in page polls (htmx, every 3 s): who from
    Account Health is calling and the code they must say; 204 while nothing changed."""
    web = web_of(request)
    try:
        session = await web.seller(request)
    except LoginRequired:  # signed out meanwhile: the page says so at the next click
        return web.finish(request, Response(status_code=204))
    found = await run(web.container, call_sessions.seller_call, web.container.deps,
                      session.account)
    if request.query_params.get("seen") == _call_key(found):
        return web.finish(request, Response(status_code=204))
    return await _call_fragment(request, session, found)


@router.post("/call/{session_id}/answer")
async def answer_call(request: Request, session_id: str) -> Response:
    """The seller's answer: the caller said the code, or the call is reported."""
    web = web_of(request)
    session = await web.seller(request)
    form = await web.check_csrf(request)
    answer = CallAnswer.REPORT if form.get("answer") == "report" else CallAnswer.CONFIRM
    reason = (ReportReason.ASKED_FOR_SECRETS if form.get("reason") == "asked_for_secrets"
              else ReportReason.WRONG_CODE)
    problem = None
    try:
        await run(web.container, call_sessions.answer_call, web.container.deps, session.account,
                  session_id[:64], answer, reason=reason, actor=session.actor)
    except CallSessionNotFound:
        problem = "not_found"
    except CallSessionClosed:
        problem = "closed"
    if not request.headers.get("hx-request"):
        return web.redirect(request, "/seller")
    found = await run(web.container, call_sessions.seller_call, web.container.deps,
                      session.account)
    return await _call_fragment(request, session, found, problem=problem)


def _call_key(found: call_sessions.CallView | None) -> str:
    return f"{found.id}:{found.status.value}" if found is not None else "none"


async def _call_fragment(request: Request, session: WebSession,
                         found: call_sessions.CallView | None, *,
                         problem: str | None = None) -> Response:
    web = web_of(request)
    view = await _account(request, session)
    response = web.render(request, "_call.html", {
        "call": found, "call_key": _call_key(found), "call_problem": problem,
        "account": view.account}, t=web.translator(session, view.account))
    if "HX-Push-Url" in response.headers:  # a fragment, not a page to remember
        del response.headers["HX-Push-Url"]
    return response


@router.get("/email-link/{verification_id}/{token}")
async def email_link(request: Request, verification_id: str, token: str) -> Response:
    """The page an email's verification link opens: a confirm button, nothing more. Opening
    it (as mail scanners do) verifies nothing; the button's POST does."""
    return await _email_link_page(request, verification_id, token)


@router.post("/email-link/{verification_id}/{token}")
async def confirm_email_link(request: Request, verification_id: str, token: str) -> Response:
    web = web_of(request)
    await web.check_csrf(request)
    session = web.session(request)
    try:
        done = await run(web.container, verification.confirm_email_link, web.container.deps,
                         verification_id, token, actor=session.actor)
    except (VerificationNotFound, VerificationClosed):
        return await _email_link_page(request, verification_id, token)
    if session.account == done.account_external_id:
        session.verifications.pop(done.contact_kind.value, None)
        session.changed = True
        return web.redirect(request, f"/seller/contacts?done=verified&kind={done.contact_kind.value}")
    return await _email_link_page(request, verification_id, token, confirmed=True)


async def _email_link_page(request: Request, verification_id: str, token: str, *,
                           confirmed: bool = False) -> Response:
    web = web_of(request)
    session = web.session(request)
    try:
        found = await run(web.container, verification.email_link_view, web.container.deps,
                          verification_id, token)
    except VerificationNotFound:
        return web.render(request, "email_link.html", {"v": None, "state": "invalid"},
                          status=404)
    try:
        owner = await run(web.container, accounts.get_account, web.container.deps,
                          found.account_external_id)
        t = web.translator(session, owner.account)
    except AccountNotFound:
        t = None
    state = ("confirmed" if confirmed else "open" if found.status is ChallengeStatus.PENDING
             else "approved" if found.status is ChallengeStatus.APPROVED else "closed")
    status = 410 if state in ("approved", "closed") else 200
    return web.render(request, "email_link.html", {"v": found, "state": state},
                      status=status, t=t)


@router.post("/language")
async def language(request: Request) -> Response:
    web = web_of(request)
    session = web.session(request)
    form = await web.check_csrf(request)
    lang = form.get("lang")
    if lang in SUPPORTED_LOCALES:
        session.lang = lang
        session.changed = True
    back = form.get("next") or "/seller"
    if not back.startswith("/") or back.startswith("//") or "\\" in back:
        back = "/seller"
    return web.redirect(request, back)


@router.post("/logout")
async def logout(request: Request) -> Response:
    """Sign out: the session ends server-side, so the old cookie no longer works anywhere."""
    web = web_of(request)
    await web.check_csrf(request)
    await web.sign_out(request, Realm.SELLER)
    return web.render(request, "signed_out.html", {"logged_out": True})
