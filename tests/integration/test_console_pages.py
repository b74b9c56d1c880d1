"""Console pages through the app on SQLite and PostgreSQL: sign-in steps (the session opens
only after both factors), logout, policy edits with field errors, search on normalized values,
the dashboard's daily figures, CSRF, and a support agent refused on every admin route."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import timedelta

import pyotp
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from contactguard.adapters.db import tables as t
from contactguard.adapters.operator_auth import Argon2Passwords
from contactguard.bootstrap import Container
from contactguard.domain.audit import CLI
from contactguard.domain.contacts import ContactKind
from contactguard.domain.sessions import Realm
from contactguard.entrypoints.api.app import create_app
from contactguard.services import audit, console, operator_auth, operators, web_sessions, webhooks
from contactguard.services.accounts import AccountInput, set_contact, upsert_account
from contactguard.services.verification import check_code, start_verification
from contactguard.testing import FrozenClock, RecordingSender
from tests.conftest import latest_code
from tests.integration.conftest import LANDLINE_CN, csrf_token_in

PASSWORD = "a long passphrase for the console"
ADMIN_GETS = ["/console/operators", "/console/sessions", "/console/webhooks", "/console/webhooks/1"]
ADMIN_POSTS = ["/console/operators", "/console/operators/1/disable", "/console/operators/1/enable",
               "/console/operators/1/reset-totp", "/console/operators/1/reset-password",
               "/console/operators/1/revoke-sessions", "/console/sessions/1/revoke",
               "/console/sessions/sellers", "/console/policy",
               "/console/webhooks/1/deliveries/1/replay", "/console/accounts/s1/sign-out"]


@pytest.fixture(autouse=True)
def _cheap_hashes(container: Container) -> None:
    container.deps.passwords = Argon2Passwords(time_cost=1, memory_cost=1024, parallelism=1)


@pytest.fixture
def web(container: Container) -> Iterator[TestClient]:
    with TestClient(create_app(container), base_url="https://sellers.acme.test",
                    raise_server_exceptions=False, follow_redirects=False) as client:
        yield client



def _sign_in(web: TestClient, container: Container, clock: FrozenClock, email: str,
             role: str = "admin") -> str:
    """Create an operator, sign in for the first time (enrol, new password); returns its secret."""
    created = operators.create_operator(container.deps, email, role, actor=CLI)
    page = web.get("/console/login")
    csrf = csrf_token_in(page.text)
    answer = web.post("/console/login", data={"csrf_token": csrf, "email": email,
                                               "password": created.password})
    assert answer.status_code == 303 and answer.headers["location"] == "/console/login/enrol"
    enrol = web.get("/console/login/enrol")
    secret = re.search(r'data-secret="([A-Z2-7]+)"', enrol.text).group(1)
    assert 'src="data:image/svg+xml' in enrol.text
    answer = web.post("/console/login/enrol", data={
        "csrf_token": csrf, "code": pyotp.TOTP(secret).at(clock.now())})
    assert answer.headers["location"] == "/console/login/password"
    answer = web.post("/console/login/password", data={"csrf_token": csrf, "password": PASSWORD,
                                                        "confirm": PASSWORD})
    assert answer.status_code == 303 and answer.headers["location"] == "/console"
    return secret


def _open_sessions(container: Container) -> int:
    with container.engine.connect() as conn:
        return int(conn.execute(select(func.count()).select_from(t.web_sessions).where(
            t.web_sessions.c.realm == "operator", t.web_sessions.c.ended_at.is_(None))).scalar_one())


def test_the_session_opens_after_both_factors_and_ends_at_logout(
        web: TestClient, container: Container, clock: FrozenClock) -> None:
    first = web.get("/console/accounts?q=x")
    assert first.status_code == 303
    assert first.headers["location"] == "/console/login?next=%2Fconsole%2Faccounts%3Fq%3Dx"
    secret = _sign_in(web, container, clock, "lead@acme.example.com")
    assert _open_sessions(container) == 1
    assert web.get("/console").status_code == 200
    old = dict(web.cookies)
    web.post("/console/logout", data={"csrf_token": csrf_token_in(web.get("/console").text)})
    assert _open_sessions(container) == 0
    web.cookies.clear()
    for name, value in old.items():
        web.cookies.set(name, value)
    assert web.get("/console").status_code == 303  # the old cookie opens nothing any more

    # Password only: no session yet; the half-way step expires after five minutes.
    clock.advance(seconds=60)
    csrf = csrf_token_in(web.get("/console/login").text)
    answer = web.post("/console/login", data={"csrf_token": csrf, "email": "lead@acme.example.com",
                                               "password": PASSWORD, "next": "//evil.example"})
    assert answer.headers["location"] == "/console/login/code"
    assert _open_sessions(container) == 0
    assert web.get("/console").status_code == 303
    clock.advance(minutes=6)
    assert web.get("/console/login/code").headers["location"] == "/console/login?expired=1"
    answer = web.post("/console/login/code", data={
        "csrf_token": csrf, "code": pyotp.TOTP(secret).at(clock.now())})
    assert answer.headers["location"] == "/console/login?expired=1"
    assert _open_sessions(container) == 0
    # Again in time: the code opens the session, and ``next`` never leaves the console.
    csrf = csrf_token_in(web.get("/console/login").text)
    web.post("/console/login", data={"csrf_token": csrf, "email": "lead@acme.example.com",
                                     "password": PASSWORD, "next": "//evil.example"})
    answer = web.post("/console/login/code", data={"csrf_token": csrf,
                                                   "code": pyotp.TOTP(secret).at(clock.now())})
    assert answer.headers["location"] == "/console"
    assert _open_sessions(container) == 1


def test_forms_need_the_csrf_token_and_failures_say_nothing_more(
        web: TestClient, container: Container, clock: FrozenClock) -> None:
    _sign_in(web, container, clock, "lead@acme.example.com")
    assert web.post("/console/operators", data={"email": "x@acme.example.com",
                                                "role": "admin"}).status_code == 403
    assert web.post("/console/policy", data={"csrf_token": "nope"}).status_code == 403
    assert len(operators.list_operators(container.deps)) == 1
    web.cookies.clear()
    csrf = csrf_token_in(web.get("/console/login").text)
    for email in ("lead@acme.example.com", "ghost@acme.example.com"):
        page = web.post("/console/login", data={"csrf_token": csrf, "email": email,
                                                 "password": "not the password"})
        assert page.status_code == 401 and "Wrong email, password or code." in page.text
    for _ in range(4):
        web.post("/console/login", data={"csrf_token": csrf, "email": "lead@acme.example.com",
                                         "password": "not the password"})
    page = web.post("/console/login", data={"csrf_token": csrf, "email": "lead@acme.example.com",
                                             "password": PASSWORD})
    assert page.status_code == 429 and "Try again in 15 minutes" in page.text


def test_support_is_refused_every_admin_page_and_action(
        web: TestClient, container: Container, clock: FrozenClock) -> None:
    upsert_account(container.deps, AccountInput(external_id="s1", name="Lotus Tea House",
                                                country="CN"))
    _sign_in(web, container, clock, "agent@acme.example.com", role="support")
    assert web.get("/console").status_code == 200
    assert web.get("/console/accounts/s1").status_code == 200
    policy_page = web.get("/console/policy")
    assert policy_page.status_code == 200 and 'id="policy-form"' not in policy_page.text
    csrf = csrf_token_in(policy_page.text)
    for path in ADMIN_GETS:
        page = web.get(path)
        assert page.status_code == 403 and "Not allowed for your role" in page.text, path
    for path in ADMIN_POSTS:
        assert web.post(path, data={"csrf_token": csrf, "email": "x@acme.example.com",
                                    "role": "admin", "account": "s1"}).status_code == 403, path
    assert [o.email for o in operators.list_operators(container.deps)] == ["agent@acme.example.com"]


def test_an_admin_edits_the_policy_with_each_bad_field_named(
        web: TestClient, container: Container, clock: FrozenClock) -> None:
    _sign_in(web, container, clock, "lead@acme.example.com")
    page = web.get("/console/policy")
    csrf = csrf_token_in(page.text)
    form = {"csrf_token": csrf, "required": ["emergency_email"], "reverify_after_days": "180",
            "due_soon_days": "200", "grace_days": "0", "min_notice_days": "10",
            "snooze_days": "3", "max_snoozes": "x", "max_contact_changes_per_day": "3",
            "min_signals": "account_health_rating = 200", "locale": ["en", "zh-Hans"],
            "reasons.en.why": "", "reasons.en.consequence": "you lose protection",
            "reasons.zh-Hans.why": "", "reasons.zh-Hans.consequence": ""}
    refused = web.post("/console/policy", data=form)
    assert refused.status_code == 422
    for field in ("err-due_soon_days", "err-grace_days", "err-max_snoozes", "err-reasons-en-why"):
        assert f'id="{field}"' in refused.text, field
    assert 'value="180"' in refused.text  # what was typed is shown again
    assert container.deps.policy.grace_period == timedelta(days=30)  # nothing saved

    form.update({"due_soon_days": "20", "grace_days": "10", "max_snoozes": "2",
                 "reasons.en.why": "so that we can reach you"})
    saved = web.post("/console/policy", data=form)
    assert saved.status_code == 303 and saved.headers["location"] == "/console/policy?done=saved"
    policy = container.deps.policy
    assert (policy.grace_period, policy.max_snoozes, policy.min_signals) == (
        timedelta(days=10), 2, (("account_health_rating", 200.0),))
    assert [r.locale for r in policy.reasons] == ["en"]  # the empty language was left out
    entry = audit.list_entries(container.deps, limit=5, subject="policy")[0]
    assert (entry.action, entry.actor.kind.value, entry.actor.label) == (
        "policy.updated", "operator", "lead@acme.example.com")


def test_search_matches_normalized_values_and_shows_them_masked(
        web: TestClient, container: Container, clock: FrozenClock) -> None:
    upsert_account(container.deps, AccountInput(
        external_id="seller-1042", name="Lotus Tea House", country="CN",
        contacts={"emergency_email": "Owner@Lotus.Example.com", "emergency_phone": LANDLINE_CN}))
    upsert_account(container.deps, AccountInput(external_id="other", name="Blue Harbor",
                                                country="GB"))
    _sign_in(web, container, clock, "agent@acme.example.com", role="support")
    for query in ("seller-1042", "owner@LOTUS.example.COM", "+86 10 6552 9988",
                  "0086-10-6552-9988", "tea hou", "LOTUS"):
        page = web.get("/console/accounts", params={"q": query})
        assert page.status_code == 200
        assert "/console/accounts/seller-1042" in page.text, query
        assert "/console/accounts/other" not in page.text, query
        results = page.text.split('id="results"', 1)[1]
        assert "O•••@lotus.example.com" in results and "+86 ••• ••• 9988" in results
        assert "9988" not in results.replace("+86 ••• ••• 9988", "")
        assert "Owner@" not in results
    assert "No account matches" in web.get("/console/accounts", params={"q": "10 6552 9988"}).text
    assert "No account matches" in web.get("/console/accounts", params={"q": "100%_"}).text
    listing = web.get("/console/accounts", params={"state": "action_required"})
    assert "/console/accounts/seller-1042" in listing.text


def test_the_account_file_answers_what_by_when_and_why(
        web: TestClient, container: Container, clock: FrozenClock, sender: RecordingSender) -> None:
    upsert_account(container.deps, AccountInput(
        external_id="s1", name="Lotus Tea House", country="CN", locale="zh-Hans",
        contacts={"emergency_email": "owner@lotus.example.com", "emergency_phone": LANDLINE_CN}))
    started = start_verification(container.deps, account="s1", contact=ContactKind.EMERGENCY_EMAIL)
    check_code(container.deps, started.id, latest_code(container, sender, "owner@lotus.example.com"))
    _sign_in(web, container, clock, "agent@acme.example.com", role="support")
    page = web.get("/console/accounts/s1")
    text = page.text
    assert page.status_code == 200
    assert 'id="req-emergency_phone"' in text and "The emergency phone is not verified." in text
    assert "<strong>April 1, 2026</strong> (in 30 days)" in text  # 30 days of grace
    assert "so that we can reach you at once" in text and "leaves the account health" in text
    assert "以便在您的账户出现问题" in text  # the seller's own language, for reading out
    assert "Verification code sent to o•••@lotus.example.com" in text and "CG-" in text
    assert "123456" not in text and "owner@lotus.example.com" not in text
    entry = audit.list_entries(container.deps, limit=1, subject="account:s1")[0]
    assert (entry.action, entry.actor.label) == ("account.viewed", "agent@acme.example.com")


def test_the_dashboard_keeps_one_row_per_day(web: TestClient, container: Container,
                                             clock: FrozenClock, sender: RecordingSender) -> None:
    upsert_account(container.deps, AccountInput(
        external_id="s1", name="Lotus Tea House", country="CN",
        contacts={"emergency_email": "owner@lotus.example.com"}))
    upsert_account(container.deps, AccountInput(external_id="s2", name="Blue Harbor",
                                                country="GB"))
    console.record_daily_figures(container.deps)
    console.record_daily_figures(container.deps)  # the same day: rewritten, not added
    clock.advance(days=1)
    started = start_verification(container.deps, account="s1", contact=ContactKind.EMERGENCY_EMAIL)
    check_code(container.deps, started.id, latest_code(container, sender, "owner@lotus.example.com"))
    clock.advance(days=1)
    admin = operators.create_operator(container.deps, "lead@acme.example.com", "admin",
                                      actor=CLI).operator
    board = console.dashboard(container.deps, by=admin)
    recorded = [f for f in board.trend if f is not None]
    assert len(board.trend) == 30 and len(recorded) == 2
    assert (recorded[0].accounts, recorded[0].email_verified) == (2, 0)
    assert (board.today.accounts, board.today.email_verified) == (2, 1)
    assert board.trend[-2] is None  # yesterday was not recorded: a gap, not a guess
    with container.engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(t.compliance_daily)).scalar_one() == 1
    _sign_in(web, container, clock, "agent@acme.example.com", role="support")
    page = web.get("/console")
    assert page.status_code == 200
    assert page.text.count('class="dot s-email"') == 2 * 2  # both days, in both chart sizes
    assert 'id="email-verified">50%<' in page.text


def test_demo_credentials_show_in_dev_mode_only(container: Container) -> None:
    container.extras["dev_console"] = {
        "admin_email": "admin@console.example.com", "support_email": "support@console.example.com",
        "password": "dev-password-123", "totp_secret": pyotp.random_base32(32)}
    for dev in (True, False):
        container.settings = container.settings.model_copy(update={"dev": dev})
        with TestClient(create_app(container), raise_server_exceptions=False) as client:
            page = client.get("/console/login")
        assert page.status_code == 200
        assert ("dev-password-123" in page.text) is dev
        assert ('id="dev-code"' in page.text) is dev


def test_admin_pages_manage_operators_sessions_and_webhooks(
        web: TestClient, container: Container, clock: FrozenClock) -> None:
    deps = container.deps
    upsert_account(deps, AccountInput(external_id="s1", name="Lotus Tea House", country="CN",
                                      contacts={"emergency_email": "owner@lotus.example.com"}))
    endpoint = webhooks.create_endpoint(deps, url="https://hooks.example.com/cg",
                                        events=["contact.changed"]).endpoint
    set_contact(deps, "s1", ContactKind.EMERGENCY_EMAIL, "new@lotus.example.com")
    _sign_in(web, container, clock, "lead@acme.example.com")
    csrf = csrf_token_in(web.get("/console/operators").text)

    created = web.post("/console/operators", data={"csrf_token": csrf,
                                                   "email": "agent@acme.example.com",
                                                   "role": "support"})
    assert created.status_code == 200
    password = re.search(r'id="one-time-password">([^<]+)<', created.text).group(1)
    agent = operators.find_operator(deps, "agent@acme.example.com")
    assert operator_auth.check_password(deps, agent.email, password, ip=None)
    refused = web.post("/console/operators", data={"csrf_token": csrf, "email": "nope",
                                                   "role": "support"})
    assert refused.status_code == 422 and 'id="err-email"' in refused.text
    me = operators.find_operator(deps, "lead@acme.example.com")
    assert web.post(f"/console/operators/{me.id}/disable",
                    data={"csrf_token": csrf}).status_code == 409  # not oneself
    for action in ("reset-totp", "disable", "enable"):
        answer = web.post(f"/console/operators/{agent.id}/{action}", data={"csrf_token": csrf})
        assert answer.headers["location"] == f"/console/operators?done={action}", action
    reset = web.post(f"/console/operators/{agent.id}/reset-password", data={"csrf_token": csrf})
    assert 'id="one-time-password"' in reset.text
    assert web.post("/console/operators/999/disable", data={"csrf_token": csrf}).status_code == 404

    # Sessions: a seller signed out everywhere; a console session ended.
    token, _ = web_sessions.open_session(deps, realm=Realm.SELLER, subject="s1",
                                         lifetime=timedelta(hours=8))
    page = web.post("/console/sessions/sellers", data={"csrf_token": csrf, "account": "s1"})
    assert page.status_code == 200 and "s1: 1 session ended." in page.text
    assert web_sessions.resolve_session(deps, realm=Realm.SELLER, token=token) is None
    missing = web.post("/console/sessions/sellers", data={"csrf_token": csrf, "account": "nobody"})
    assert missing.status_code == 404 and 'id="err-account"' in missing.text
    other, record = web_sessions.open_session(deps, realm=Realm.OPERATOR, subject=str(agent.id),
                                              lifetime=timedelta(hours=8))
    assert web.post(f"/console/sessions/{record.id}/revoke",
                    data={"csrf_token": csrf}).headers["location"] == "/console/sessions?done=revoked"
    assert web_sessions.resolve_session(deps, realm=Realm.OPERATOR, token=other) is None

    # Webhooks: the delivery is listed and sent again.
    listed = web.get(f"/console/webhooks/{endpoint.id}")
    delivery_id = int(re.search(r'id="delivery-(\d+)"', listed.text).group(1))
    answer = web.post(f"/console/webhooks/{endpoint.id}/deliveries/{delivery_id}/replay",
                      data={"csrf_token": csrf})
    assert answer.headers["location"] == f"/console/webhooks/{endpoint.id}?done=replayed"
    actions = {(e.action, e.actor.label) for e in audit.list_entries(deps, limit=100)}
    for action in ("operator.created", "operator.totp_reset", "operator.disabled",
                   "operator.enabled", "operator.password_reset", "sessions.revoked",
                   "session.revoked", "webhook.delivery_replayed"):
        assert (action, "lead@acme.example.com") in actions, action


def test_digits_of_other_scripts_are_a_field_error_not_a_server_error(
        web: TestClient, container: Container, clock: FrozenClock) -> None:
    """``"²".isdigit()`` is true but ``int("²")`` fails: such input is refused like any other."""
    _sign_in(web, container, clock, "lead@acme.example.com")
    page = web.get("/console/policy")
    form = {"csrf_token": csrf_token_in(page.text), "required": ["emergency_email"],
            "reverify_after_days": "365", "due_soon_days": "30", "grace_days": "²",
            "min_notice_days": "14", "snooze_days": "3", "max_snoozes": "٣",
            "max_contact_changes_per_day": "3", "min_signals": "", "locale": ["en"],
            "reasons.en.why": "so that we can reach you", "reasons.en.consequence": "you lose"}
    refused = web.post("/console/policy", data=form)
    assert refused.status_code == 422
    assert 'id="err-grace_days"' in refused.text and 'id="err-max_snoozes"' in refused.text
    assert web.get("/console/webhooks/1?before=²").status_code == 404
    assert web.get("/console/campaigns?before=²").status_code == 200
    assert web.get("/console/campaigns/²").status_code == 404
