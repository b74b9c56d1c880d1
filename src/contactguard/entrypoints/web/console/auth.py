"""Signing in to the console: password, then a TOTP code (enrolled with a QR code at the first
sign-in), then a new password when the current one was a one-time password; signing out.

Until both factors passed, the only state is a short-lived step in the signed cookie's
``extra`` (operator id, step, deadline): the server-side session is opened last.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response

from contactguard.domain.locales import SUPPORTED_LOCALES
from contactguard.domain.operators import MIN_PASSWORD_LENGTH, Operator
from contactguard.entrypoints.web.console.common import (
    REALM,
    Console,
    anonymous,
    client_ip,
    local_path,
    signed_in,
)
from contactguard.entrypoints.web.console.qr import qr_data_uri
from contactguard.entrypoints.web.pages import LoginRequired
from contactguard.errors import Conflict, SignInFailed, SignInThrottled, ValidationFailed
from contactguard.services import operator_auth

router = APIRouter(prefix="/console", include_in_schema=False)

#: How long the half-way state (password checked, code not yet) lasts.
STEP_SECONDS = 300
_STEP_PAGES = {"totp": "/console/login/code", "enrol": "/console/login/enrol",
               "password": "/console/login/password"}


def _pending(console: Console, step: str) -> int | None:
    """The operator id of the half-way sign-in if it is at ``step`` and not expired."""
    extra = console.session.extra
    now = console.deps.clock.now().timestamp()
    if extra.get("s") != step or not isinstance(extra.get("p"), int) or now > extra.get("u", 0):
        return None
    return int(extra["p"])


def _set_step(console: Console, operator_id: int, step: str, next_url: str) -> None:
    until = int(console.deps.clock.now().timestamp()) + STEP_SECONDS
    console.session.extra = {"p": operator_id, "s": step, "u": until, "n": next_url}
    console.session.changed = True


def _restart(console: Console) -> Response:
    console.session.extra = {}
    console.session.changed = True
    return console.redirect("/console/login?expired=1")


def _dev_help(console: Console) -> dict[str, Any] | None:
    """Dev mode only: the demo operators' credentials and the demo admin's current code."""
    container = console.web.container
    demo = container.extras.get("dev_console")
    if not container.settings.dev or not demo:
        return None
    factor = container.deps.second_factor
    code = factor.code_at(demo["totp_secret"], container.deps.clock.now()) if factor else ""
    return {**demo, "code": code}


def _login_page(console: Console, *, error: str | None = None, email: str = "",
                retry_minutes: int | None = None, status: int = 200) -> Response:
    return console.render("login.html", {
        "error": error, "email": email, "retry_minutes": retry_minutes,
        "next": local_path(console.request.query_params.get("next")),
        "expired": console.request.query_params.get("expired") == "1",
        "dev_help": _dev_help(console)}, status=status)


def _throttled(exc: SignInThrottled) -> int:
    return max(1, (exc.retry_after_seconds + 59) // 60)


@router.get("/login")
async def login_page(request: Request) -> Response:
    console = anonymous(request)
    if console.session.account is not None:
        try:
            await signed_in(request)
            return console.redirect(local_path(request.query_params.get("next")))
        except LoginRequired:
            pass
    return _login_page(console)


@router.post("/login")
async def login(request: Request) -> Response:
    console = anonymous(request)
    form = await console.form()
    email = form.get("email", "")[:254]
    next_url = local_path(form.get("next"))
    try:
        checked = await console.hashing(operator_auth.check_password, email,
                                        form.get("password", ""), ip=client_ip(request))
    except SignInThrottled as exc:
        return _login_page(console, error="throttled", email=email,
                           retry_minutes=_throttled(exc), status=429)
    except SignInFailed:
        return _login_page(console, error="failed", email=email, status=401)
    _set_step(console, checked.operator_id, checked.next_step.value, next_url)
    return console.redirect(_STEP_PAGES[checked.next_step.value])


@router.get("/login/code")
async def code_page(request: Request) -> Response:
    console = anonymous(request)
    if _pending(console, "totp") is None:
        return _restart(console)
    return console.render("login_code.html", {"error": None})


@router.post("/login/code")
async def check_code(request: Request) -> Response:
    console = anonymous(request)
    form = await console.form()
    operator_id = _pending(console, "totp")
    if operator_id is None:
        return _restart(console)
    try:
        operator = await console.call(operator_auth.check_code, operator_id,
                                      form.get("code", ""), ip=client_ip(request))
    except SignInThrottled as exc:
        return console.render("login_code.html", {"error": "throttled",
                                                  "retry_minutes": _throttled(exc)}, status=429)
    except SignInFailed:
        return console.render("login_code.html", {"error": "failed"}, status=401)
    return await _after_factors(console, operator)


@router.get("/login/enrol")
async def enrol_page(request: Request) -> Response:
    console = anonymous(request)
    operator_id = _pending(console, "enrol")
    if operator_id is None:
        return _restart(console)
    return await _enrol_page(console, operator_id, error=None)


async def _enrol_page(console: Console, operator_id: int, *, error: str | None,
                      status: int = 200, retry_minutes: int | None = None) -> Response:
    try:
        enrolment = await console.call(operator_auth.enrolment, operator_id)
    except (SignInFailed, Conflict):
        return _restart(console)
    return console.render("login_enrol.html", {
        "secret": enrolment.secret, "qr": qr_data_uri(enrolment.uri),
        "secret_groups": " ".join(enrolment.secret[i:i + 4]
                                  for i in range(0, len(enrolment.secret), 4)),
        "email": enrolment.email, "error": error, "retry_minutes": retry_minutes,
    }, status=status)


@router.post("/login/enrol")
async def confirm_enrolment(request: Request) -> Response:
    console = anonymous(request)
    form = await console.form()
    operator_id = _pending(console, "enrol")
    if operator_id is None:
        return _restart(console)
    try:
        operator = await console.call(operator_auth.confirm_enrolment, operator_id,
                                      form.get("code", ""), ip=client_ip(request))
    except SignInThrottled as exc:
        return await _enrol_page(console, operator_id, error="throttled", status=429,
                                 retry_minutes=_throttled(exc))
    except SignInFailed:
        return await _enrol_page(console, operator_id, error="failed", status=401)
    return await _after_factors(console, operator)


async def _after_factors(console: Console, operator: Operator) -> Response:
    """Both factors passed: a one-time password is changed first, then the session opens."""
    next_url = local_path(console.session.extra.get("n"))
    if operator.must_change_password:
        _set_step(console, operator.id, "password", next_url)
        return console.redirect("/console/login/password")
    return await _finish(console, operator, next_url)


async def _finish(console: Console, operator: Operator, next_url: str) -> Response:
    request = console.request
    session = await console.web.sign_in(request, REALM, str(operator.id))
    await console.call(operator_auth.complete_sign_in, operator, session_id=session.session_id,
                       ip=client_ip(request), user_agent=request.headers.get("user-agent"))
    return console.redirect(next_url)


@router.get("/login/password")
async def password_page(request: Request) -> Response:
    console = anonymous(request)
    if _pending(console, "password") is None:
        return _restart(console)
    return console.render("login_password.html", {"errors": {}, "min": MIN_PASSWORD_LENGTH})


@router.post("/login/password")
async def change_password(request: Request) -> Response:
    console = anonymous(request)
    form = await console.form()
    operator_id = _pending(console, "password")
    if operator_id is None:
        return _restart(console)
    password = form.get("password", "")
    if password != form.get("confirm", ""):
        return console.render("login_password.html", {
            "errors": {"confirm": "mismatch"}, "min": MIN_PASSWORD_LENGTH}, status=422)
    try:
        operator = await console.hashing(operator_auth.change_password, operator_id, password)
    except ValidationFailed as exc:
        message = exc.errors[0].message if exc.errors else exc.detail
        return console.render("login_password.html", {
            "errors": {"password": message}, "min": MIN_PASSWORD_LENGTH}, status=422)
    except SignInFailed:
        return _restart(console)
    return await _finish(console, operator, local_path(console.session.extra.get("n")))


@router.post("/logout")
async def logout(request: Request) -> Response:
    """Sign out: the session ends server-side, so the old cookie no longer works anywhere."""
    console = anonymous(request)
    await console.form()
    try:
        me = await signed_in(request)
    except LoginRequired:
        return console.redirect("/console/login")
    await console.call(operator_auth.record_sign_out, me.me, session_id=me.session.session_id)
    await console.web.sign_out(request, REALM)
    return console.redirect("/console/login?done=signed_out")


@router.post("/language")
async def language(request: Request) -> Response:
    console = anonymous(request)
    form = await console.form()
    lang = form.get("lang")
    if lang in SUPPORTED_LOCALES:
        console.session.lang = lang
        console.session.changed = True
    return console.redirect(local_path(form.get("next")))
