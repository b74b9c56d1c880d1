"""Issue 12: a seller always sees what is required, by when and why, in their own language,
and can always finish. Each reproduction quoted in the issue, through the real pages and
services, on SQLite and PostgreSQL."""

from __future__ import annotations

import re
from collections.abc import Iterator
from html import unescape
from urllib.parse import urlsplit

import pytest
from fastapi.testclient import TestClient

from contactguard.bootstrap import Container
from contactguard.domain.contacts import ContactKind
from contactguard.entrypoints.api.app import create_app
from contactguard.services.accounts import AccountInput, set_security_phrase, upsert_account
from contactguard.services.message_center import list_notices
from contactguard.services.policy import set_policy
from contactguard.services.seller_sessions import create_session_link
from contactguard.services.verification import check_code, start_verification
from contactguard.testing import FrozenClock, RecordingSender
from tests.conftest import deliver, latest_code
from tests.integration.conftest import LANDLINE_CN, MOBILE_GB

BASE = "https://sellers.acme.test"
CJK = re.compile(r"[\u4e00-\u9fff]")


def _seller(container: Container, external_id: str = "s1", *, locale: str = "zh-Hans",
            country: str = "CN", time_zone: str | None = None, **contacts: str) -> None:
    upsert_account(container.deps, AccountInput(
        external_id=external_id, name="Lotus Tea House", country=country, locale=locale,
        time_zone=time_zone,
        contacts=contacts or {"emergency_email": "owner@lotus.example.com",
                              "emergency_phone": LANDLINE_CN}))


def _verify(container: Container, sender: RecordingSender, kind: ContactKind, to: str,
            external_id: str = "s1") -> None:
    started = start_verification(container.deps, account=external_id, contact=kind)
    assert check_code(container.deps, started.id, latest_code(container, sender, to)
                      ).status.value == "approved"


@pytest.fixture
def web(container: Container, api_key: str) -> Iterator[TestClient]:
    with TestClient(create_app(container), base_url=BASE, follow_redirects=False,
                    raise_server_exceptions=False) as browser:
        yield browser


def _sign_in(container: Container, web: TestClient, external_id: str = "s1") -> str:
    link = create_session_link(container.deps, external_id, base_url=BASE)
    assert web.get(urlsplit(link.url).path).status_code == 303
    match = re.search(r'name="csrf_token" value="([^"]+)"', web.get("/seller/contacts").text)
    assert match
    return match.group(1)


def _text(html: str) -> str:
    """What a reader sees: tags dropped, entities decoded, spaces collapsed."""
    return " ".join(unescape(re.sub(r"<[^>]+>", " ", html)).split())


def _main(html: str) -> str:
    return _text(html.split('<main id="main"', 1)[1].split(">", 1)[1].split("</main>", 1)[0])


# --- 1. a date for every requirement; 2. consequences from the policy ---------------------

def test_every_open_requirement_shows_its_deadline_and_what_is_at_stake(
        container: Container, web: TestClient, clock: FrozenClock,
        sender: RecordingSender) -> None:
    """Issue 12.1/12.2: "Verify it now to keep your account health assurance" with no date,
    next to "You are not eligible ... yet"; after "Remind me later" no deadline shown."""
    _seller(container, locale="en-US", country="US", time_zone="America/Los_Angeles",
            emergency_email="owner@lotus.example.com", emergency_phone="+1 415 555 0123")
    csrf = _sign_in(container, web)
    page = _main(web.get("/seller").text)
    assert "Verify it now to keep" not in page and "keep your account health assurance" not in page
    # Created 2026-03-02 09:00 UTC: both contacts are due 30 days later, in Los Angeles time.
    assert page.count("Deadline: April 1, 2026") == 2
    assert "If it is not verified by April 1, 2026, your account leaves the account health " \
           "assurance program" in page
    assert "We ask you to verify your emergency contacts so that we can reach you at once" in page
    assert "Your account is not covered by account health assurance." in page
    assert "Verify your emergency phone by April 1, 2026." in page

    assert web.post("/seller/reminders/emergency_phone/snooze",
                    data={"csrf_token": csrf}).status_code == 303
    page = _main(web.get("/seller").text)
    assert "Reminder paused until March 5, 2026. The deadline does not change: April 1, 2026." \
        in page

    clock.advance(days=31)  # past the deadline: overdue, and no putting it off any more
    csrf = _sign_in(container, web)
    html = web.get("/seller").text
    assert "Remind me later" not in html
    page = _main(html)
    assert "Overdue" in page and "The deadline has passed. Until it is verified, your account " \
        "leaves" in page
    assert web.post("/seller/reminders/emergency_email/snooze",
                    data={"csrf_token": csrf}).headers["location"] == "/seller?error=snooze"

    _verify(container, sender, ContactKind.EMERGENCY_EMAIL, "owner@lotus.example.com")
    _verify(container, sender, ContactKind.EMERGENCY_PHONE, "+14155550123")
    page = _main(web.get("/seller").text)
    assert "All set" in page and "Next re-verification by April 2, 2027." in page
    assert "Your account is covered by account health assurance." in page


def test_the_eligibility_api_gives_deadlines_actions_and_platform_conditions(
        container: Container, client: TestClient, sender: RecordingSender) -> None:
    """Issue 12.1/12.3 on the API: the email's deadline was null; what the seller must do
    and what is the platform's are told apart, with codes."""
    _seller(container, locale="zh-Hans")
    set_policy(container.deps, {"min_signals": {"account_health_rating": 200}})
    body = client.get("/v1/accounts/s1/eligibility").json()
    assert all(r["deadline"] == "2026-04-01T09:00:00Z" for r in body["requirements"])
    assert {(a["code"], a["contact"], a["blocks_eligibility"]) for a in body["seller_actions"]} == {
        ("contact_unverified", "emergency_email", True),
        ("contact_unverified", "emergency_phone", True)}
    assert body["platform_conditions"] == [{
        "code": "signal_missing", "signal": "account_health_rating", "minimum": 200.0,
        "value": None, "message": "account health rating has not been reported (at least 200 "
                                  "is required)"}]
    assert body["why"].startswith("以便") and body["consequence"].startswith("您的账户")
    assert len(body["reasons"]) == 3  # the existing field is unchanged

    _verify(container, sender, ContactKind.EMERGENCY_EMAIL, "owner@lotus.example.com")
    _verify(container, sender, ContactKind.EMERGENCY_PHONE, "+861065529988")
    client.put("/v1/accounts/s1/signals", json={"account_health_rating": 150})
    body = client.get("/v1/accounts/s1/eligibility").json()
    assert body["seller_actions"] == [] and body["eligible"] is False
    assert body["platform_conditions"][0]["code"] == "signal_too_low"
    assert body["platform_conditions"][0]["value"] == 150.0


# --- 3. only what the seller can act on -----------------------------------------------------

def test_platform_conditions_are_worded_for_sellers_apart_from_their_own_part(
        container: Container, web: TestClient, sender: RecordingSender) -> None:
    """Issue 12.3: "All set" and below it "not eligible because account health rating has not
    been reported" -- an internal signal, in English on the Chinese page."""
    _seller(container)
    set_policy(container.deps, {"min_signals": {"account_health_rating": 200,
                                                "fraud_model_v2": 0.5}})
    _verify(container, sender, ContactKind.EMERGENCY_EMAIL, "owner@lotus.example.com")
    _verify(container, sender, ContactKind.EMERGENCY_PHONE, "+861065529988")
    _sign_in(container, web)
    html = web.get("/seller").text
    page = _main(html)
    assert "account health rating" not in html and "account_health_rating" not in html
    assert "fraud" not in html and "has not been reported" not in html
    assert "一切正常" in page  # the contacts: all set
    assert "您的账户目前未享有账户健康保障。" in page
    assert "平台方面的条件" in page and "您需要做的已经完成。" in page
    assert "平台尚未向我们提供您的账户健康评分。" in page
    assert "平台尚未提供其对您账户的一项检查结果。" in page
    assert "您需要完成的事项" not in page  # nothing for the seller to do


# --- 4. their language; 5. their time ----------------------------------------------------------

def test_field_errors_are_worded_from_their_codes_in_the_sellers_language(
        container: Container, web: TestClient) -> None:
    """Issue 12.4: "An email address must have an @-sign", "'📞📞📞' is not a phone number"
    and the security-phrase errors reached the Chinese pages in English."""
    _seller(container)
    csrf = _sign_in(container, web)
    email = web.post("/seller/contacts/emergency_email/edit",
                     data={"value": "ownerexample.com", "csrf_token": csrf})
    assert email.status_code == 422
    assert "邮箱地址必须包含 @ 符号。" in email.text and "@-sign" not in email.text
    phone = web.post("/seller/contacts/emergency_phone/edit",
                     data={"value": "📞📞📞", "csrf_token": csrf})
    assert phone.status_code == 422 and "“📞📞📞”不是电话号码。" in _text(phone.text)
    wrong_region = web.post("/seller/contacts/emergency_phone/edit",
                            data={"value": "+86 12", "csrf_token": csrf})
    assert "不是中国的有效电话号码" in _text(wrong_region.text)
    phrase = web.post("/seller/security-phrase", data={"security_phrase": "ab",
                                                       "csrf_token": csrf})
    assert phrase.status_code == 422 and "请使用 4 到 60 个字符。" in phrase.text
    assert "use 4 to 60" not in phrase.text
    for page in (email, phone, phrase):
        assert "格式似乎不正确" not in page.text


def test_typo_fixes_never_lock_a_seller_out_and_the_limit_is_a_limit(
        container: Container, web: TestClient, clock: FrozenClock,
        sender: RecordingSender) -> None:
    """Issue 12.7: three edits of a never-verified email, then the phone answered "格式似乎不正确：
    this account's contacts were changed 3 times ... try again after ... UTC"."""
    _seller(container)
    csrf = _sign_in(container, web)
    for typo in ("owner@lotus.exmaple.com", "owner@lotus.exmple.com", "owner@lotus.example.cn"):
        edited = web.post("/seller/contacts/emergency_email/edit",
                          data={"value": typo, "csrf_token": csrf})
        assert edited.status_code == 303, _main(edited.text)
    phone = web.post("/seller/contacts/emergency_phone/edit",
                     data={"value": "+86 10 6552 9977", "csrf_token": csrf})
    assert phone.status_code == 303, _main(phone.text)

    # Replacing a verified value counts; past the limit the page words it as a limit, in
    # the seller's language and time (Asia/Shanghai, zone named).
    set_policy(container.deps, {"max_contact_changes_per_day": 1})
    _verify(container, sender, ContactKind.EMERGENCY_PHONE, "+861065529977")
    clock.advance(minutes=1)
    assert web.post("/seller/contacts/emergency_phone/edit",
                    data={"value": "+86 10 6552 9966", "csrf_token": csrf}).status_code == 303
    _verify(container, sender, ContactKind.EMERGENCY_PHONE, "+861065529966")
    refused = web.post("/seller/contacts/emergency_phone/edit",
                       data={"value": "+86 10 6552 9955", "csrf_token": csrf})
    assert refused.status_code == 429
    text = _main(refused.text)
    assert ("已验证的联系方式在 24 小时内最多只能更换 1 次，您已达到此上限。您可以在 "
            "2026年3月3日 17:01 中国标准时间之后再次更改。") in text
    assert "UTC" not in text and "this account" not in text and "格式似乎不正确" not in text


def test_the_change_notice_and_message_center_speak_the_sellers_language_and_time(
        container: Container, web: TestClient, clock: FrozenClock,
        sender: RecordingSender) -> None:
    """Issue 12.4/12.5: "紧急联系方式（emergency email）", "2026-11-29 13:27 UTC" in the email,
    "通知：contact changed" and a time with no zone in the message center."""
    _seller(container)
    _verify(container, sender, ContactKind.EMERGENCY_EMAIL, "owner@lotus.example.com")
    csrf = _sign_in(container, web)
    clock.advance(minutes=1)
    assert web.post("/seller/contacts/emergency_email/edit",
                    data={"value": "new@lotus.example.com", "csrf_token": csrf}
                    ).status_code == 303
    deliver(container)
    notice = sender.to("owner@lotus.example.com")[-1]
    assert notice.subject == "您的 Acme Market 紧急联系邮箱已更改"
    assert "您的 Acme Market 账户的紧急联系邮箱已于 2026年3月2日 17:01 中国标准时间 从 " \
           "o•••@lotus.example.com 更改为 n•••@lotus.example.com。" in notice.body
    assert "emergency email" not in notice.body and "UTC" not in notice.body
    assert "您的安全短语" not in notice.body  # no phrase set yet
    titles = [n.title for n in list_notices(container.deps, "s1")]
    assert titles[0] == "您的紧急联系邮箱已更改为 n•••@lotus.example.com"
    page = _main(web.get("/seller/messages").text)
    assert "您的紧急联系邮箱已更改为 n•••@lotus.example.com" in page
    assert "2026年3月2日 17:01 中国标准时间" in page and "通知：" not in page


def test_an_en_gb_seller_gets_british_formats(container: Container, web: TestClient,
                                              sender: RecordingSender) -> None:
    """Issue 12.5: an en-GB seller got "November 29, 2026" and "1:25:57 PM"."""
    _seller(container, locale="en-GB", country="GB", emergency_email="ops@acme.example.com",
            emergency_phone=MOBILE_GB)
    _verify(container, sender, ContactKind.EMERGENCY_EMAIL, "ops@acme.example.com")
    _sign_in(container, web)
    health = _main(web.get("/seller").text)
    assert "Deadline: 1 April 2026" in health and "April 1" not in health
    messages = _main(web.get("/seller/messages").text)
    assert "2 March 2026, 09:00 Greenwich Mean Time" in messages and " AM" not in messages
    contacts = _main(web.get("/seller/contacts").text)
    assert "Verified on 2 March 2026 by email" in contacts


def test_signed_out_and_used_link_pages_follow_the_browsers_language(
        container: Container, web: TestClient) -> None:
    """Issue 12.4: the used-link (410) and signed-out (401) pages were English even with
    ``Accept-Language: zh-CN``."""
    _seller(container)
    chinese = {"Accept-Language": "zh-CN,zh;q=0.9,en;q=0.8"}
    signed_out = web.get("/seller", headers=chinese)
    assert signed_out.status_code == 401 and 'lang="zh-Hans"' in signed_out.text
    assert "请重新登录" in signed_out.text and "Please sign in again" not in signed_out.text
    link = create_session_link(container.deps, "s1", base_url=BASE)
    path = urlsplit(link.url).path
    with TestClient(create_app(container), base_url=BASE, follow_redirects=False) as other:
        assert other.get(path).status_code == 303
    used = web.get(path, headers=chinese)
    assert used.status_code == 410 and 'lang="zh-Hans"' in used.text
    assert "此链接已被使用或已过期" in used.text
    english = web.get("/seller", headers={"Accept-Language": "de-DE,de;q=0.9,en;q=0.5"})
    assert 'lang="en"' in english.text and "Please sign in again" in english.text


# --- 6-8. never stuck ----------------------------------------------------------------------

def test_verify_leads_back_to_a_code_already_sent(container: Container, web: TestClient,
                                                  sender: RecordingSender) -> None:
    """Issue 12.6: after "Back to contacts", "Verify" opened the send page with no code
    field, and inside the cooldown the seller could only wait (a landline's call too)."""
    _seller(container, locale="en")
    csrf = _sign_in(container, web)
    sent = web.post("/seller/contacts/emergency_phone/verify",
                    data={"channel": "voice", "csrf_token": csrf})
    verification_id = sent.headers["location"].split("/")[-1].split("?")[0]
    code = latest_code(container, sender, "+861065529988")
    contacts = web.get("/seller/contacts").text
    assert "Pending: code sent" in contacts and "Enter the code" in contacts
    page = web.get("/seller/contacts/emergency_phone/verify").text
    assert f'action="/seller/verifications/{verification_id}/check"' in page
    assert "We called +86 ••• ••• 9988 at March 2, 2026, 5:00 PM China Standard Time" in \
        _main(page)
    again = web.post("/seller/contacts/emergency_phone/verify",
                     data={"channel": "voice", "csrf_token": csrf})  # inside the cooldown
    assert again.status_code == 429
    assert f'action="/seller/verifications/{verification_id}/check"' in again.text
    assert "Enter the code you received above." in _main(again.text)
    done = web.post(f"/seller/verifications/{verification_id}/check",
                    data={"code": code, "csrf_token": csrf})
    assert done.status_code == 303 and "done=verified" in done.headers["location"]


def test_codes_are_taken_as_people_type_them(container: Container, web: TestClient,
                                             sender: RecordingSender) -> None:
    """Issue 12.8: "79 69 52" was refused (the field's maxlength cut it), full-width digits
    were blocked by the input pattern, and "4 attempts left" was shown twice."""
    _seller(container, locale="en")
    csrf = _sign_in(container, web)
    sent = web.post("/seller/contacts/emergency_email/verify",
                    data={"channel": "email", "csrf_token": csrf})
    verification_id = sent.headers["location"].split("/")[-1].split("?")[0]
    code = latest_code(container, sender, "owner@lotus.example.com")
    form = web.get(f"/seller/verifications/{verification_id}").text
    field = re.search(r'<input id="code"[^>]*>', form)
    assert field and "pattern=" not in field.group(0)
    maxlength = re.search(r'maxlength="(\d+)"', field.group(0))
    assert maxlength and int(maxlength.group(1)) >= len("79 69 52") + 4
    wrong = f"{(int(code) + 1) % 1_000_000:06d}"
    page = web.post(f"/seller/verifications/{verification_id}/check",
                    data={"code": f"{wrong[:2]} {wrong[2:4]} {wrong[4:]}", "csrf_token": csrf})
    assert page.status_code == 422
    assert _main(page.text).count("attempts left") == 1
    assert "That code is not right. You have 4 attempts left." in _main(page.text)
    full_width = "".join(chr(0xFF10 + int(d)) for d in code)
    done = web.post(f"/seller/verifications/{verification_id}/check",
                    data={"code": f"{full_width[:3]}\u3000{full_width[3:]}", "csrf_token": csrf})
    assert done.status_code == 303 and "done=verified" in done.headers["location"]


# --- 9-11. the security phrase is a secret ----------------------------------------------------

def test_the_security_phrase_goes_only_to_verified_addresses(
        container: Container, web: TestClient, clock: FrozenClock,
        sender: RecordingSender) -> None:
    """Issue 12.9: after changing the email to a new address, "Email me a code" sent the
    phrase to the still-unverified address."""
    _seller(container, locale="en")
    set_security_phrase(container.deps, "s1", "plum kite over the harbour")
    _verify(container, sender, ContactKind.EMERGENCY_EMAIL, "owner@lotus.example.com")
    first = sender.to("owner@lotus.example.com")[-1]
    assert "plum kite" not in first.body and "plum kite" not in (first.html or "")
    assert "does not show your security phrase because this address is not verified yet" \
        in first.body
    clock.advance(seconds=31)
    start_verification(container.deps, account="s1", contact=ContactKind.EMERGENCY_EMAIL)
    deliver(container)  # re-verifying the verified address: the phrase is there
    again = sender.to("owner@lotus.example.com")[-1]
    assert "Your security phrase: plum kite over the harbour" in again.body
    assert "plum kite over the harbour" in (again.html or "")

    csrf = _sign_in(container, web)
    web.post("/seller/contacts/emergency_email/edit",
             data={"value": "typo@lotus.exmaple.com", "csrf_token": csrf})
    web.post("/seller/contacts/emergency_email/verify", data={"channel": "email",
                                                              "csrf_token": csrf})
    deliver(container)
    to_new = sender.to("typo@lotus.exmaple.com")[-1]
    assert "plum kite" not in to_new.body and "plum kite" not in (to_new.html or "")
    assert "not verified yet" in to_new.body
    notice = sender.to("owner@lotus.example.com")[-1]  # the change notice, to the verified one
    assert "was changed" in notice.body and "plum kite over the harbour" in notice.body


def test_the_phrase_page_shows_the_saved_phrase_by_its_first_letters(
        container: Container, web: TestClient) -> None:
    """Issue 12.10: the field was empty after saving; nothing showed what to look for."""
    _seller(container, locale="en")
    csrf = _sign_in(container, web)
    assert "You have not chosen a phrase yet." in web.get("/seller/security-phrase").text
    web.post("/seller/security-phrase", data={"security_phrase": "plum kite over the harbour",
                                              "csrf_token": csrf})
    page = web.get("/seller/security-phrase?done=phrase").text
    assert "Your phrase starts with “plum…” (26 characters in all)." in _main(page)
    assert "plum kite over the harbour" not in page  # never the whole phrase


def test_example_and_common_phrases_are_refused(container: Container,
                                                web: TestClient) -> None:
    """Issue 12.11: the page's own examples were accepted."""
    _seller(container)
    csrf = _sign_in(container, web)
    for phrase, why in (("blue teapot on the windowsill", "这是本页面上的示例"),
                        ("Blue  Teapot on the WINDOWSILL!", "这是本页面上的示例"),
                        ("窗台上的蓝色茶壶", "这是本页面上的示例"), ("Password", "此短语过于常见"),
                        ("I love you", "此短语过于常见"), ("恭喜发财", "此短语过于常见"),
                        ("hello world", "此短语过于常见"), ("aaaa aaaa", "此短语过于常见")):
        refused = web.post("/seller/security-phrase", data={"security_phrase": phrase,
                                                            "csrf_token": csrf})
        assert refused.status_code == 422 and why in refused.text, phrase
    assert web.post("/seller/security-phrase", data={"security_phrase": "紫色风筝飞过港口",
                                                     "csrf_token": csrf}).status_code == 303


# --- email verification by link (opt-in) ------------------------------------------------------

def _link_in(body: str) -> str:
    match = re.search(r"https://sellers\.acme\.test(/seller/email-link/\S+)", body)
    assert match, body
    return match.group(1)


def test_an_email_link_verifies_only_with_the_confirm_button(
        container: Container, web: TestClient, client: TestClient, clock: FrozenClock,
        sender: RecordingSender) -> None:
    """A GET (a mail scanner prefetching links) verifies nothing; the page's POST does, once;
    the link is bound to the challenge and its latest code, and expires with it."""
    _seller(container, locale="en")
    start_verification(container.deps, account="s1", contact=ContactKind.EMERGENCY_EMAIL)
    deliver(container)
    assert "/seller/email-link/" not in sender.to("owner@lotus.example.com")[-1].body  # off

    set_policy(container.deps, {"email_link": True})
    clock.advance(minutes=2)
    started = start_verification(container.deps, account="s1",
                                 contact=ContactKind.EMERGENCY_EMAIL)
    deliver(container)
    email = sender.to("owner@lotus.example.com")[-1]
    path = _link_in(email.body)
    assert path in (email.html or "")
    assert path.split("/")[3] == started.id
    opened = web.get(path)  # what a link scanner does
    assert opened.status_code == 200 and "Confirm your email address" in opened.text
    assert 'method="post"' in opened.text
    assert client.get(f"/v1/verifications/{started.id}").json()["status"] == "pending"
    assert all(c["status"] != "verified"
               for c in client.get("/v1/accounts/s1/contacts").json()["data"])
    assert web.post(path, data={}).status_code == 403  # no CSRF token: nothing happens
    forged = path[:-4] + "0000"
    assert web.get(forged).status_code == 404

    csrf = re.search(r'name="csrf_token" value="([^"]+)"', opened.text)
    assert csrf
    confirmed = web.post(path, data={"csrf_token": csrf.group(1)})
    assert confirmed.status_code == 200 and "Your email address is verified" in confirmed.text
    assert client.get(f"/v1/verifications/{started.id}").json()["status"] == "approved"
    email_contact = next(c for c in client.get("/v1/accounts/s1/contacts").json()["data"]
                         if c["kind"] == "emergency_email")
    assert email_contact["status"] == "verified"
    assert web.post(path, data={"csrf_token": csrf.group(1)}).status_code == 410  # single use

    # The code keeps working next to the link; a resend replaces the link; links expire.
    clock.advance(minutes=2)
    other = start_verification(container.deps, account="s1", contact=ContactKind.EMERGENCY_EMAIL)
    deliver(container)
    code_email = sender.to("owner@lotus.example.com")[-1]
    old_link = _link_in(code_email.body)
    clock.advance(minutes=3)
    assert client.post(f"/v1/verifications/{other.id}/resend").status_code == 200
    deliver(container)
    assert web.get(old_link).status_code == 404  # bound to the code it was sent with
    new_link = _link_in(sender.to("owner@lotus.example.com")[-1].body)
    clock.advance(minutes=11)
    assert web.get(new_link).status_code == 410  # expired with its code
    clock.advance(minutes=1)
    third = start_verification(container.deps, account="s1", contact=ContactKind.EMERGENCY_EMAIL)
    code = latest_code(container, sender, "owner@lotus.example.com")
    assert check_code(container.deps, third.id, code).status.value == "approved"


# --- small things -----------------------------------------------------------------------------

def test_the_api_docs_load_nothing_from_a_cdn(client: TestClient) -> None:
    """"/docs is blank offline: Swagger UI loads from a CDN"."""
    docs = client.get("/docs")
    assert docs.status_code == 200
    sources = re.findall(r'(?:src|href)="([^"]+)"', docs.text)
    assert sources and all(s.startswith("/") for s in sources), sources
    assert "cdn." not in docs.text and "https://" not in docs.text.replace(
        "https://sellers.acme.test", "")
    for url in sources:
        assert client.get(url).status_code == 200, url
    assert client.get("/redoc").status_code == 404  # off: its bundle loads a logo from a CDN
