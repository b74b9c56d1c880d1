"""The operator console in a real Chromium against a real dev server: operators created with
the CLI sign in with a password and a TOTP code (enrolled from the QR page's secret, codes
computed with pyotp), failures are throttled, logout and an admin's revocation end sessions,
a support agent is refused every admin page and action, and every page is captured (en,
zh-Hans; phone and desktop)."""

from __future__ import annotations

import os
import re
import secrets
import sqlite3
import subprocess
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import pyotp
import pytest
from playwright.sync_api import expect

from tests.browser.conftest import DESKTOP, PHONE, shot
from tests.conftest import SECRET
from tests.e2e.conftest import BIN

PASSWORD = "a long passphrase for the console"
ADMIN_GETS = ["/console/operators", "/console/sessions", "/console/webhooks",
              "/console/webhooks/1"]
ADMIN_POSTS = ["/console/operators", "/console/operators/1/disable", "/console/operators/1/enable",
               "/console/operators/1/reset-totp", "/console/operators/1/reset-password",
               "/console/operators/1/revoke-sessions", "/console/sessions/1/revoke",
               "/console/sessions/sellers", "/console/policy",
               "/console/webhooks/1/deliveries/1/replay", "/console/accounts/demo-us/sign-out"]


@dataclass
class Op:
    """An operator as the test knows it: what it typed, and the TOTP steps it used."""

    email: str
    password: str
    secret: str = ""
    used_steps: set[int] = field(default_factory=set)

    def code(self) -> str:
        """A code the server accepts now: a step not used yet (codes work once), waiting for
        the clock to move on when both neighbouring steps were used."""
        totp = pyotp.TOTP(self.secret)
        while True:
            now = time.time()
            current = int(now) // 30
            for step in (current, current + 1):
                if step not in self.used_steps and (not self.used_steps or
                                                    step > max(self.used_steps)):
                    self.used_steps.add(step)
                    return totp.at(step * 30)
            time.sleep(30 - now % 30 + 0.05)


def _cli(web_server, *args: str) -> subprocess.CompletedProcess[str]:  # type: ignore[no-untyped-def]
    env = {k: v for k, v in os.environ.items() if not k.startswith("CONTACTGUARD_")}
    env.update({"CONTACTGUARD_VAR_DIR": str(web_server.db_path.parent),
                "CONTACTGUARD_SECRET_KEY": SECRET, "CONTACTGUARD_LOG_JSON": "1"})
    return subprocess.run([str(BIN), *args], env=env, capture_output=True, text=True,
                          timeout=60, check=True)


def _create(web_server, role: str) -> Op:  # type: ignore[no-untyped-def]
    email = f"{role}-{secrets.token_hex(3)}@ops.example.com"
    result = _cli(web_server, "operators", "create", "--email", email, "--role", role)
    password = result.stdout.strip()
    assert re.fullmatch(r"[A-Za-z0-9_-]{20}", password), result.stdout
    assert "One-time password" in result.stderr
    return Op(email, password)


def _watch(page, errors: list[str]) -> None:  # type: ignore[no-untyped-def]
    """The ``page`` fixture's checks: no script error, no CSP violation, no missing asset."""
    page.on("console", lambda m: errors.append(m.text) if m.type == "error"
            and not m.text.startswith("Failed to load resource") else None)
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.on("response", lambda r: errors.append(f"{r.status} {r.url}")
            if "/static/" in r.url and r.status >= 400 else None)


@pytest.fixture
def new_page(browser) -> Iterator[Callable[..., object]]:  # type: ignore[no-untyped-def]
    """Pages in contexts of their own (one browser profile each), checked like ``page``."""
    contexts, errors = [], []

    def make(viewport: dict[str, int] = PHONE):  # type: ignore[no-untyped-def]
        context = browser.new_context(viewport=viewport, locale="en-US")
        context.set_default_timeout(10_000)
        contexts.append(context)
        page = context.new_page()
        _watch(page, errors)
        return page

    yield make
    for context in contexts:
        context.close()
    assert not errors, errors


def _first_sign_in(page, base: str, op: Op, *, shots: str | None = None) -> None:  # type: ignore[no-untyped-def]
    """One-time password, then enrolment from the page's secret, then a password of one's own."""
    page.goto(f"{base}/console/accounts")
    expect(page).to_have_url(re.compile(r"/console/login\?next=%2Fconsole%2Faccounts$"))
    if shots:
        shot(page, f"console/login-en-{shots}")
    page.get_by_label("Email").fill(op.email)
    page.get_by_label("Password").fill(op.password)
    page.get_by_role("button", name="Continue").click()
    expect(page.locator("h1")).to_have_text("Set up your second factor")
    qr = page.locator("img.qr")
    expect(qr).to_have_attribute("src", re.compile(r"^data:image/svg\+xml"))
    assert page.evaluate("img => img.complete && img.naturalWidth > 0", qr.element_handle())
    if shots:
        shot(page, f"console/enrol-en-{shots}")
    op.secret = str(page.locator("#totp-secret").get_attribute("data-secret"))
    assert page.locator("#totp-secret").inner_text().replace(" ", "") == op.secret
    page.get_by_label("6-digit code from your authenticator app").fill("000000")
    page.get_by_role("button", name="Turn on and continue").click()
    expect(page.locator(".flash.bad")).to_have_text("Wrong email, password or code.")
    page.get_by_label("6-digit code from your authenticator app").fill(op.code())
    page.get_by_role("button", name="Turn on and continue").click()
    expect(page.locator("h1")).to_have_text("Choose your password")
    page.get_by_label("New password").fill("a" * 16)  # long enough for the browser's check
    page.get_by_label("The same password again").fill("a" * 16)
    page.get_by_role("button", name="Save and sign in").click()
    expect(page.locator("#err-password")).to_contain_text("Too repetitive")
    if shots:
        shot(page, f"console/password-en-{shots}")
    op.password = PASSWORD
    page.get_by_label("New password").fill(PASSWORD)
    page.get_by_label("The same password again").fill(PASSWORD)
    page.get_by_role("button", name="Save and sign in").click()
    expect(page).to_have_url(re.compile(r"/console/accounts$"))  # back where it started


def _sign_in(page, base: str, op: Op) -> None:  # type: ignore[no-untyped-def]
    page.goto(f"{base}/console/login")
    page.get_by_label("Email").fill(op.email)
    page.get_by_label("Password").fill(op.password)
    page.get_by_role("button", name="Continue").click()
    page.get_by_label("6-digit code from your authenticator app").fill(op.code())
    page.get_by_role("button", name="Sign in").click()
    expect(page).to_have_url(re.compile(r"/console$"))


def _audit(web_server, subject: str) -> list[dict]:  # type: ignore[no-untyped-def]
    response = web_server.api("GET", "/v1/audit", params={"subject": subject, "limit": 100})
    assert response.status_code == 200, response.text
    return list(response.json()["data"])


def _operator_id(web_server, email: str) -> int:  # type: ignore[no-untyped-def]
    entries = web_server.api("GET", "/v1/audit", params={"limit": 500}).json()["data"]
    created = next(e for e in entries if e["action"] == "operator.created"
                   and e["after"]["email"] == email)
    return int(created["subject"].split(":")[1])


def test_operator_signs_in_with_totp_and_logout_ends_the_session(web_server, new_page) -> None:
    base = web_server.base_url
    admin = _create(web_server, "admin")
    page = new_page()
    _first_sign_in(page, base, admin, shots="phone")
    expect(page.locator(".who-email")).to_have_text(admin.email)
    page.get_by_role("link", name="Dashboard").click()
    expect(page.locator("h1")).to_have_text("Dashboard")
    old_cookies = page.context.cookies()
    assert any(c["name"] == "cg_console" and c["httpOnly"] for c in old_cookies)

    page.locator("#sign-out").click()
    expect(page.locator(".flash")).to_have_text("You are signed out.")
    page.goto(f"{base}/console")
    expect(page).to_have_url(re.compile(r"/console/login"))
    # The cookie from before the logout no longer opens anything (the session ended server-side).
    replay = new_page()
    replay.context.add_cookies(old_cookies)
    replay.goto(f"{base}/console/operators")
    expect(replay).to_have_url(re.compile(r"/console/login\?next="))

    # A second sign-in asks for the password and a fresh code only.
    _sign_in(page, base, admin)
    expect(page.locator("h1")).to_have_text("Dashboard")
    operator_id = _operator_id(web_server, admin.email)
    actions = [(e["action"], e["actor"]["kind"], e["actor"]["label"])
               for e in _audit(web_server, f"operator:{operator_id}")]
    assert ("operator.created", "cli", "command line") in actions
    for action in ("operator.totp_enrolled", "operator.password_changed", "operator.signed_in",
                   "operator.signed_out"):
        assert (action, "operator", admin.email) in actions, (action, actions)
    # Looking at an account is an action too, recorded with the operator.
    page.goto(f"{base}/console/accounts/demo-landline")
    viewed = [e for e in _audit(web_server, "account:demo-landline")
              if e["action"] == "account.viewed"]
    assert viewed and viewed[0]["actor"] == {"kind": "operator", "id": str(operator_id),
                                             "label": admin.email}


def test_wrong_passwords_and_codes_are_refused_then_throttled(web_server, new_page) -> None:
    base = web_server.base_url
    agent = _create(web_server, "support")
    page = new_page()
    _first_sign_in(page, base, agent)
    page.locator("#sign-out").click()
    # Wait for the sign-out's new cookie: a login page fetched before it carries the old token.
    expect(page.locator(".flash")).to_have_text("You are signed out.")
    # Unknown email and wrong password: the same words.
    for email, password in (("nobody@ops.example.com", PASSWORD), (agent.email, "wrong " * 3)):
        page.goto(f"{base}/console/login")
        page.get_by_label("Email").fill(email)
        page.get_by_label("Password").fill(password)
        page.get_by_role("button", name="Continue").click()
        expect(page.locator(".flash.bad")).to_have_text("Wrong email, password or code.")
    # A wrong code after the right password.
    page.get_by_label("Email").fill(agent.email)
    page.get_by_label("Password").fill(agent.password)
    page.get_by_role("button", name="Continue").click()
    page.get_by_label("6-digit code from your authenticator app").fill("000000")
    page.get_by_role("button", name="Sign in").click()
    expect(page.locator(".flash.bad")).to_have_text("Wrong email, password or code.")
    # Three more failures make five for this email: now even the right password is refused.
    for _ in range(3):
        page.goto(f"{base}/console/login")
        page.get_by_label("Email").fill(agent.email)
        page.get_by_label("Password").fill("still wrong, sorry")
        page.get_by_role("button", name="Continue").click()
        expect(page.locator(".flash.bad")).to_have_text("Wrong email, password or code.")
    page.get_by_label("Email").fill(agent.email)
    page.get_by_label("Password").fill(agent.password)
    page.get_by_role("button", name="Continue").click()
    expect(page.locator(".flash.bad")).to_contain_text("Too many failed attempts. Try again in")
    shot(page, "console/login-throttled-en-phone")


def test_admin_revokes_another_operators_session(web_server, new_page) -> None:
    base = web_server.base_url
    admin, agent = _create(web_server, "admin"), _create(web_server, "support")
    admin_page, agent_page = new_page(DESKTOP), new_page()
    _first_sign_in(admin_page, base, admin)
    _first_sign_in(agent_page, base, agent)
    admin_page.goto(f"{base}/console/sessions")
    row = admin_page.locator("#sessions tr", has_text=agent.email)
    expect(row).to_have_count(1)
    row.get_by_role("button", name="End").click()
    expect(admin_page.locator(".flash")).to_have_text("Session ended.")
    expect(admin_page.locator("#sessions tr", has_text=agent.email)).to_have_count(0)
    agent_page.reload()
    expect(agent_page).to_have_url(re.compile(r"/console/login"))
    # The admin's own session is untouched; the revocation is in the audit log as the admin.
    admin_page.goto(f"{base}/console")
    expect(admin_page.locator("h1")).to_have_text("Dashboard")
    agent_id = _operator_id(web_server, agent.email)
    revoked = [e for e in _audit(web_server, f"operator:{agent_id}")
               if e["action"] == "session.revoked"]
    assert revoked and revoked[0]["actor"]["label"] == admin.email


def test_support_cannot_reach_admin_pages_or_actions(web_server, new_page) -> None:
    base = web_server.base_url
    agent = _create(web_server, "support")
    page = new_page()
    _first_sign_in(page, base, agent)
    nav = page.locator("nav.nav")
    expect(nav.get_by_role("link")).to_have_text(
        ["Dashboard", "Accounts", "Campaigns", "Check a message", "Policy"])
    for path in ADMIN_GETS:
        response = page.goto(f"{base}{path}")
        assert response is not None and response.status == 403, path
        expect(page.locator("h1")).to_have_text("Not allowed for your role")
    shot(page, "console/forbidden-en-phone")
    # The policy is readable, but offers no form; posting one anyway is refused.
    page.goto(f"{base}/console/policy")
    expect(page.locator("#policy-in-force")).to_be_visible()
    expect(page.locator("#policy-form")).to_have_count(0)
    expect(page.locator("#sign-seller-out")).to_have_count(0)
    csrf = page.locator("input[name=csrf_token]").first.get_attribute("value")
    before = web_server.api("GET", "/v1/policy").json()
    for path in ADMIN_POSTS:
        answer = page.request.post(f"{base}{path}", form={
            "csrf_token": csrf, "email": "evil@ops.example.com", "role": "admin",
            "account": "demo-us", "grace_days": "1", "required": "emergency_email",
            "reasons.en.why": "x", "reasons.en.consequence": "y"}, max_redirects=0)
        assert answer.status == 403, (path, answer.status)
    assert web_server.api("GET", "/v1/policy").json() == before
    listed = _cli(web_server, "operators", "list", "--json").stdout
    assert "evil@ops.example.com" not in listed


def _verified_sellers(web_server) -> str:  # type: ignore[no-untyped-def]
    """A few sellers, some verified through the API (codes read from the dev capture), so the
    dashboard has something to show; returns one that still has to act."""
    for i in range(4):
        phone = f"+44 7911 12{secrets.randbelow(10_000):04d}"
        seller = web_server.seller(country="GB", phone=phone, name=f"Harbour Goods {i}")
        contacts = [("emergency_email", f"{seller}@shop.example.com")]
        if i % 2 == 0:
            contacts.append(("emergency_phone", "+" + re.sub(r"\D", "", phone)))
        for contact, to in contacts:
            started = web_server.api("POST", "/v1/verifications",
                                     json={"account": seller, "contact": contact})
            assert started.status_code == 201, started.text
            checked = web_server.api("POST", f"/v1/verifications/{started.json()['id']}/check",
                                     json={"code": web_server.wait_code(to)})
            assert checked.json()["status"] == "approved", checked.text
    return web_server.seller(country="CN", phone="+86 10 6552 9917", locale="zh-Hans",
                             email="owner@lotus-c1.example.com", name="Lotus Tea House")


def _history(web_server) -> None:  # type: ignore[no-untyped-def]
    """29 earlier days of figures, as the worker's daily job would have recorded them, rising
    towards today's real figures (two days left out: the chart shows a gap)."""
    today = datetime.now(UTC).date()
    with sqlite3.connect(web_server.db_path) as db:
        total = db.execute("SELECT count(*) FROM accounts").fetchone()[0]
        email, phone = (db.execute(
            "SELECT count(*) FROM contacts WHERE kind = ? AND verified_value = value",
            (kind,)).fetchone()[0] for kind in ("emergency_email", "emergency_phone"))
        for back in range(1, 30):
            if back in (12, 13):
                continue
            day = today - timedelta(days=back)
            share = 0.3 + 0.7 * (30 - back) / 30
            db.execute(
                "INSERT OR REPLACE INTO compliance_daily (day, accounts, compliant, due_soon, "
                "action_required, overdue, email_verified, phone_verified, updated_at) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (day.isoformat(), total * 100, int(phone * 100 * share), 0,
                 total * 100 - int(phone * 100 * share), 0, int(email * 100 * share),
                 int(phone * 100 * share), f"{day.isoformat()} 23:50:00.000000"))


def test_screenshots_of_every_console_page(web_server, new_page) -> None:
    base = web_server.base_url
    seller = _verified_sellers(web_server)
    _history(web_server)
    hook = web_server.api("POST", "/v1/webhooks", json={
        "url": "http://127.0.0.1:9/hooks/contactguard", "description": "Risk system",
        "events": ["contact.changed", "account.compliance_changed"]})
    assert hook.status_code == 201, hook.text
    changed = web_server.api("PUT", f"/v1/accounts/{seller}/contacts/emergency_email",
                             json={"value": "new-owner@lotus-c1.example.com"})
    assert changed.status_code == 200, changed.text
    admin, agent = _create(web_server, "admin"), _create(web_server, "support")
    page = new_page()
    _first_sign_in(page, base, admin)
    agent_page = new_page()
    _first_sign_in(agent_page, base, agent)
    page.goto(f"{base}/console/operators")
    page.get_by_label("Email").fill(f"new-{secrets.token_hex(2)}@ops.example.com")
    page.get_by_role("button", name="Create and show the one-time password").click()
    expect(page.locator("#one-time-password")).to_have_text(re.compile(r"^[A-Za-z0-9_-]{20}$"))

    pages = {"dashboard": "/console", "accounts": "/console/accounts?q=lotus",
             "accounts-state": "/console/accounts?state=action_required",
             "account": f"/console/accounts/{seller}", "operators": "/console/operators",
             "sessions": "/console/sessions", "policy": "/console/policy",
             "webhooks": "/console/webhooks",
             "webhook-deliveries": f"/console/webhooks/{hook.json()['id']}"}
    for lang in ("en", "zh-Hans"):
        for who in (page, agent_page):
            who.goto(f"{base}/console")
            who.locator("select#lang").select_option(lang)
            who.locator("footer .lang button").click()
            expect(who.locator("html")).to_have_attribute("lang", lang)
        for width, viewport in (("phone", PHONE), ("desktop", DESKTOP)):
            page.set_viewport_size(viewport)
            for name, path in pages.items():
                response = page.goto(f"{base}{path}")
                assert response is not None and response.status == 200, (name, response.status)
                shot(page, f"console/{name}-{lang}-{width}")
            agent_page.set_viewport_size(viewport)
            response = agent_page.goto(f"{base}/console/webhooks")
            assert response is not None and response.status == 403
            shot(agent_page, f"console/forbidden-{lang}-{width}")
            agent_page.goto(f"{base}/console/accounts/{seller}")
            shot(agent_page, f"console/account-support-{lang}-{width}")
    # The dashboard draws the recorded days and today, with a gap where nothing was recorded.
    page.goto(f"{base}/console")
    chart = page.locator("svg.chart-wide")
    expect(chart.locator("polyline.s-met")).to_have_count(2)
    expect(chart.locator("circle.s-met")).to_have_count(28)
    # Signed out, the sign-in pages in Chinese.
    login = new_page(DESKTOP)
    login.goto(f"{base}/console/login")
    login.locator("select#lang").select_option("zh-Hans")
    login.locator("footer .lang button").click()
    expect(login.locator("html")).to_have_attribute("lang", "zh-Hans")
    for width, viewport in (("phone", PHONE), ("desktop", DESKTOP)):
        login.set_viewport_size(viewport)
        shot(login, f"console/login-zh-Hans-{width}")
