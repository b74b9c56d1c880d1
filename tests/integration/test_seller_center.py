"""Seller Center services and pages through the app, on SQLite and PostgreSQL."""

from __future__ import annotations

import re
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from urllib.parse import urlsplit

import pytest
from fastapi.testclient import TestClient

from contactguard.bootstrap import Container
from contactguard.domain.contacts import ContactKind
from contactguard.entrypoints.api.app import create_app
from contactguard.errors import NotFound, SessionLinkInvalid, ValidationFailed
from contactguard.services.accounts import (
    AccountInput,
    get_account,
    set_security_phrase,
    upsert_account,
)
from contactguard.services.audit import list_entries
from contactguard.services.message_center import find_notice, list_notices
from contactguard.services.seller_sessions import create_session_link, redeem_session_link
from contactguard.services.verification import check_code, resend_code, start_verification
from contactguard.testing import FrozenClock, RecordingSender
from tests.conftest import deliver, latest_code
from tests.integration.conftest import LANDLINE_CN, MOBILE_GB, make_account

BASE = "https://sellers.acme.test"


def _seller(container: Container, external_id: str = "s1", **contacts: str) -> None:
    upsert_account(container.deps, AccountInput(
        external_id=external_id, name="Lotus Tea House", country="CN", locale="zh-Hans",
        contacts=contacts or {"emergency_email": "owner@lotus.example.com",
                              "emergency_phone": LANDLINE_CN}))


def _token(url: str) -> str:
    return urlsplit(url).path.rsplit("/", 1)[1]


# --- account-session links ------------------------------------------------------------------

def test_a_session_link_works_once_and_for_five_minutes(container: Container,
                                                        clock: FrozenClock) -> None:
    _seller(container)
    link = create_session_link(container.deps, "s1", base_url=BASE)
    assert link.url.startswith(f"{BASE}/seller/session/")
    assert (link.expires_at - clock.now()).total_seconds() == 300
    assert redeem_session_link(container.deps, _token(link.url)) == "s1"
    with pytest.raises(SessionLinkInvalid):
        redeem_session_link(container.deps, _token(link.url))

    late = create_session_link(container.deps, "s1", base_url=BASE)
    clock.advance(minutes=5)
    with pytest.raises(SessionLinkInvalid):
        redeem_session_link(container.deps, _token(late.url))
    with pytest.raises(SessionLinkInvalid):
        redeem_session_link(container.deps, "not-a-token")


def test_only_one_of_many_racing_openers_gets_a_session(container: Container) -> None:
    _seller(container)
    token = _token(create_session_link(container.deps, "s1", base_url=BASE).url)

    def attempt(_: int) -> bool:
        try:
            redeem_session_link(container.deps, token)
            return True
        except SessionLinkInvalid:
            return False

    with ThreadPoolExecutor(8) as pool:
        results = list(pool.map(attempt, range(16)))
    assert results.count(True) == 1


def test_only_the_hash_of_a_link_is_stored(container: Container) -> None:
    _seller(container)
    token = _token(create_session_link(container.deps, "s1", base_url=BASE).url)
    with container.engine.connect() as conn:
        stored = conn.exec_driver_sql("SELECT token_hash FROM account_session_links").scalars().all()
    assert stored and token not in stored[0] and len(stored[0]) == 64


def test_the_api_creates_session_links(client: TestClient) -> None:
    make_account(client, "s2")
    response = client.post("/v1/account_sessions", json={"account": "s2"})
    assert response.status_code == 201, response.text
    body = response.json()
    assert body["url"].startswith(f"{BASE}/seller/session/") and body["expires_at"]
    assert response.headers["cache-control"] == "no-store"
    assert client.post("/v1/account_sessions", json={"account": "nobody"}).status_code == 404
    assert client.post("/v1/account_sessions", json={}).status_code == 422
    assert client.post("/v1/account_sessions", json={"account": "s2"},
                       headers={"Authorization": ""}).status_code == 401


# --- security phrase ------------------------------------------------------------------------

@pytest.mark.parametrize("phrase", ["ab", "x" * 61, "see www.evil.example", "code 123456 here",
                                    "<b>bold</b>", "tab\x07bell"])
def test_bad_security_phrases_are_refused(container: Container, phrase: str) -> None:
    _seller(container)
    with pytest.raises(ValidationFailed) as caught:
        set_security_phrase(container.deps, "s1", phrase)
    assert caught.value.errors[0].field == "security_phrase"
    assert get_account(container.deps, "s1").account.security_phrase is None


def test_the_security_phrase_appears_in_the_next_email_to_a_verified_address(
        container: Container, sender: RecordingSender, clock: FrozenClock) -> None:
    _seller(container)
    saved = set_security_phrase(container.deps, "s1", "  blue   teapot on the sill ")
    assert saved.security_phrase == "blue teapot on the sill"
    first = start_verification(container.deps, account="s1", contact=ContactKind.EMERGENCY_EMAIL)
    code = latest_code(container, sender, "owner@lotus.example.com")
    assert "blue teapot" not in sender.to("owner@lotus.example.com")[-1].body  # not verified
    check_code(container.deps, first.id, code)
    clock.advance(seconds=31)
    start_verification(container.deps, account="s1", contact=ContactKind.EMERGENCY_EMAIL)
    deliver(container)
    assert "blue teapot on the sill" in sender.to("owner@lotus.example.com")[-1].body


# --- message center -------------------------------------------------------------------------

def test_the_message_center_lists_sent_notices_without_secrets(
        container: Container, sender: RecordingSender, clock: FrozenClock) -> None:
    _seller(container)
    _seller(container, "other", emergency_email="other@example.com")
    start_verification(container.deps, account="other", contact=ContactKind.EMERGENCY_EMAIL)
    first = start_verification(container.deps, account="s1", contact=ContactKind.EMERGENCY_PHONE)
    code = latest_code(container, sender, "+861065529988")
    clock.advance(seconds=31)
    resend_code(container.deps, first.id)
    clock.advance(seconds=1)
    start_verification(container.deps, account="s1", contact=ContactKind.EMERGENCY_EMAIL)

    notices = list_notices(container.deps, "s1")
    assert [n.kind for n in notices] == ["verification_code"] * 3
    assert notices[0].created_at > notices[1].created_at > notices[2].created_at
    assert notices[0].title == "验证码已发送至 o•••@lotus.example.com"  # the account's language
    assert notices[0].channels == ("email",) and notices[1].channels == ("voice",)
    english = list_notices(container.deps, "s1", locale="en")
    assert english[1].title == "Verification code sent to +86 ••• ••• 9988"
    assert code not in repr(notices) and "code" not in notices[0].params
    found = find_notice(container.deps, "s1", notices[1].reference.lower())
    assert found.reference == notices[1].reference
    other = list_notices(container.deps, "other")[0].reference
    with pytest.raises(NotFound):
        find_notice(container.deps, "s1", other)


def test_a_code_replaced_before_it_was_sent_is_not_a_notice(container: Container,
                                                            clock: FrozenClock) -> None:
    _seller(container)
    first = start_verification(container.deps, account="s1", contact=ContactKind.EMERGENCY_PHONE)
    clock.advance(seconds=31)
    resend_code(container.deps, first.id)  # the first message, never sent, is canceled
    assert len(list_notices(container.deps, "s1")) == 1


# --- pages ----------------------------------------------------------------------------------

@pytest.fixture
def web(container: Container, api_key: str) -> Iterator[TestClient]:
    with TestClient(create_app(container), base_url=BASE, follow_redirects=False,
                    raise_server_exceptions=False) as browser:
        yield browser


def _sign_in(container: Container, web: TestClient, external_id: str = "s1") -> str:
    link = create_session_link(container.deps, external_id, base_url=BASE)
    response = web.get(urlsplit(link.url).path)
    assert response.status_code == 303 and response.headers["location"] == "/seller"
    cookie = response.headers["set-cookie"]
    assert cookie.startswith("__Host-cg_session=")
    assert all(flag in cookie for flag in ("HttpOnly", "Secure", "Path=/", "SameSite=lax"))
    page = web.get("/seller/contacts")
    assert page.status_code == 200
    match = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
    assert match
    return match.group(1)


def test_pages_need_a_session_and_send_strict_headers(container: Container,
                                                      web: TestClient) -> None:
    _seller(container)
    signed_out = web.get("/seller")
    assert signed_out.status_code == 401
    _sign_in(container, web)
    page = web.get("/seller")
    assert page.status_code == 200 and 'lang="zh-Hans"' in page.text
    assert "请验证您的紧急联系电话" in page.text
    csp = page.headers["content-security-policy"]
    assert "script-src 'self'" in csp and "frame-ancestors 'none'" in csp
    assert "unsafe" not in csp and "<script>" not in page.text and " on" + "click=" not in page.text
    assert page.headers["referrer-policy"] == "no-referrer"


def test_every_post_needs_the_csrf_token(container: Container, web: TestClient) -> None:
    _seller(container)
    csrf = _sign_in(container, web)
    posts = [("/seller/contacts/emergency_email/edit", {"value": "new@example.com"}),
             ("/seller/contacts/emergency_phone/verify", {"channel": "voice"}),
             ("/seller/security-phrase", {"security_phrase": "blue teapot"}),
             ("/seller/reminders/emergency_phone/snooze", {}),
             ("/seller/language", {"lang": "en"}), ("/seller/logout", {})]
    for path, form in posts:
        assert web.post(path, data=form).status_code == 403, path
        assert web.post(path, data={**form, "csrf_token": csrf + "x"}).status_code == 403, path
    assert get_account(container.deps, "s1").account.security_phrase is None
    assert web.post("/seller/security-phrase",
                    data={"security_phrase": "blue teapot", "csrf_token": csrf}).status_code == 303
    assert get_account(container.deps, "s1").account.security_phrase == "blue teapot"


def test_a_wrong_code_shows_attempts_left_and_rate_limits_are_explained(
        container: Container, web: TestClient, sender: RecordingSender) -> None:
    _seller(container)
    csrf = _sign_in(container, web)
    landline_sms = web.post("/seller/contacts/emergency_phone/verify",
                            data={"channel": "sms", "csrf_token": csrf})
    assert landline_sms.status_code == 422
    assert "固定电话" in landline_sms.text  # the landline sentence, in the account's language
    started = web.post("/seller/contacts/emergency_phone/verify",
                       data={"channel": "voice", "csrf_token": csrf})
    assert started.status_code == 303
    location = started.headers["location"]
    verification_id = location.split("/")[-1].split("?")[0]
    code = latest_code(container, sender, "+861065529988")
    wrong = f"{(int(code) + 1) % 1_000_000:06d}"
    web.post("/seller/language", data={"lang": "en", "csrf_token": csrf})
    page = web.post(f"/seller/verifications/{verification_id}/check",
                    data={"code": wrong, "csrf_token": csrf})
    assert page.status_code == 422
    assert "You have 4 attempts left." in page.text
    again = web.post("/seller/contacts/emergency_phone/verify",
                     data={"channel": "voice", "csrf_token": csrf})
    assert again.status_code == 429 and "You can ask for a new code in 30 s." in again.text
    resend = web.post(f"/seller/verifications/{verification_id}/resend", data={"csrf_token": csrf})
    assert resend.status_code == 429 and "You can ask for a new code in 30 s." in resend.text
    done = web.post(f"/seller/verifications/{verification_id}/check",
                    data={"code": code, "csrf_token": csrf})
    assert done.status_code == 303 and "done=verified" in done.headers["location"]
    contacts = web.get("/seller/contacts").text
    assert "Verified on" in contacts and "voice call" in contacts


def test_frame_ancestors_come_from_the_settings(container: Container) -> None:
    container.settings = container.settings.model_copy(
        update={"frame_ancestors": "https://platform.example.com"})
    with TestClient(create_app(container), base_url=BASE) as browser:
        page = browser.get("/seller")
    assert "frame-ancestors https://platform.example.com" in page.headers["content-security-policy"]


def test_dev_login_and_inbox_exist_only_in_dev_mode(container: Container, web: TestClient,
                                                    sender: RecordingSender) -> None:
    _seller(container, "demo-landline")
    assert web.get("/dev/login").status_code == 200
    assert web.get("/dev/inbox").status_code == 200
    container.settings = container.settings.model_copy(update={"dev": False})
    with TestClient(create_app(container), base_url=BASE) as browser:
        assert browser.get("/dev/login").status_code == 404
        assert browser.get("/dev/inbox").status_code == 404


def test_mobile_numbers_offer_sms_and_voice(container: Container, web: TestClient) -> None:
    _seller(container, emergency_phone=MOBILE_GB)
    _sign_in(container, web)
    page = web.get("/seller/contacts/emergency_phone/verify").text
    assert 'value="sms" checked' in page and 'value="voice"' in page


def test_logout_ends_the_session_server_side(container: Container, web: TestClient) -> None:
    """Issue 11: after logout the old cookie kept working for 8 hours."""
    _seller(container)
    csrf = _sign_in(container, web)
    old_cookie = web.cookies.get("__Host-cg_session")
    assert old_cookie
    assert web.post("/seller/logout", data={"csrf_token": csrf}).status_code == 200
    web.cookies.clear()
    web.cookies.set("__Host-cg_session", old_cookie, domain="sellers.acme.test")
    replayed = web.get("/seller/contacts")
    assert replayed.status_code == 401  # the signed-out page, not the seller's contacts
    assert "owner" not in replayed.text


def test_the_platform_can_sign_a_seller_out_everywhere(container: Container, web: TestClient,
                                                       api_key: str) -> None:
    _seller(container)
    _sign_in(container, web)
    cookie = web.cookies.get("__Host-cg_session")
    with TestClient(create_app(container), base_url=BASE, follow_redirects=False) as other:
        other.cookies.set("__Host-cg_session", cookie, domain="sellers.acme.test")
        assert other.get("/seller").status_code == 200  # the same session on a second device
        api = {"Authorization": f"Bearer {api_key}"}
        revoked = other.delete("/v1/account_sessions/s1", headers=api)
        assert revoked.status_code == 200 and revoked.json() == {"revoked": 1}
        assert other.get("/seller").status_code == 401
        assert other.delete("/v1/account_sessions/nobody", headers=api).status_code == 404
    assert web.get("/seller").status_code == 401
    entry = next(e for e in list_entries(container.deps, subject="account:s1")
                 if e.action == "sessions.revoked")
    assert entry.after == {"sessions": 1, "reason": "revoked by the platform"}
    assert entry.actor.kind.value == "api_key"
