"""Issue 9 in a real Chromium against a real dev server: verify-the-caller in two browser
contexts (a support agent in the console, the seller in Seller Center, reading Chinese) showing
the same code, the seller's confirmation reaching the agent's page by itself; and the
"Is this message genuine?" page: pasted phishing is phishing with its reasons, our own
DKIM-signed email uploaded as .eml is genuine, in English and Chinese (``new_context`` fails
the test on any script error, CSP violation or missing asset)."""

from __future__ import annotations

import re
import secrets
import time
from pathlib import Path

from playwright.sync_api import expect

from tests.browser.conftest import DESKTOP, PHONE, shot
from tests.browser.test_console import _create, _first_sign_in

PHISHING = ("Dear seller, your Test Platform store will be suspended within 24 hours. Reply to "
            "this email with your password and the verification code we sent you: "
            "https://bit.ly/seller-verify")


def _digits() -> str:
    return f"{secrets.randbelow(10_000):04d}"


def test_agent_and_seller_see_the_same_code_and_the_answer_reaches_the_agent(
        web_server, new_context) -> None:  # type: ignore[no-untyped-def]
    base = web_server.base_url
    seller = web_server.seller(country="CN", phone=f"+86 138 0013 {_digits()}", locale="zh-Hans",
                               name="Lotus Tea House")
    seller_page = new_context(viewport=PHONE, locale="zh-CN").new_page()
    seller_page.goto(web_server.session_link(seller))
    expect(seller_page.locator("#call-active")).to_have_count(0)

    agent = _create(web_server, "support")
    agent_page = new_context(viewport=DESKTOP).new_page()
    _first_sign_in(agent_page, base, agent)
    agent_page.goto(f"{base}/console/accounts/{seller}")
    expect(agent_page.locator("#call-none")).to_be_visible()
    agent_page.get_by_label("Your name, as you introduce yourself").fill("Mei Lin")
    agent_page.locator("#start-call-button").click()
    expect(agent_page.locator("#agent-code")).to_have_text(re.compile(r"^\d{4}$"))
    code = agent_page.locator("#agent-code").inner_text()
    expect(agent_page.locator("#call-answer")).to_have_attribute("data-status", "active")

    # Within seconds, without a reload, the seller's page shows who calls and the code.
    started = time.monotonic()
    expect(seller_page.locator("#call-code")).to_have_text(code, timeout=10_000)
    assert time.monotonic() - started < 8
    expect(seller_page.locator("#call-title")).to_have_text(
        "账户健康团队的 Mei 正在给您打电话；请让对方说出这个验证码：")
    shot(seller_page, "call-seller-zh-phone")
    shot(agent_page, "console/call-agent-en-desktop")

    seller_page.locator("#call-confirm").click()
    expect(seller_page.locator("#call-confirmed")).to_contain_text("Mei 说出了正确的验证码")
    # The agent's page learns it by itself (polled every 2 s).
    expect(agent_page.locator("#call-answer")).to_have_attribute("data-status", "confirmed",
                                                                  timeout=8_000)
    expect(agent_page.locator("#call-answer")).to_contain_text(
        "The seller confirmed that you said the right code")
    shot(agent_page, "console/call-confirmed-en-desktop")

    # A second call the seller reports: the agent sees the report.
    agent_page.locator("#start-call-button").click()
    expect(agent_page.locator("#agent-code")).to_have_text(re.compile(r"^\d{4}$"))
    expect(seller_page.locator("#call-report-secrets")).to_be_visible(timeout=10_000)
    seller_page.locator("#call-report-secrets").click()
    expect(seller_page.locator("#call-reported")).to_contain_text("已举报此来电")
    expect(agent_page.locator("#call-answer")).to_have_attribute("data-status", "reported",
                                                                  timeout=8_000)
    expect(agent_page.locator("#call-answer")).to_contain_text("asked for a password or a code")

    # Support checks a message the seller forwarded, in the console.
    agent_page.locator("nav.nav").get_by_role("link", name="Check a message").click()
    expect(agent_page.locator("h1")).to_have_text("Is this message genuine?")
    agent_page.get_by_label("Text or source of the message").fill(
        PHISHING.replace("Test Platform", "ContactGuard"))
    agent_page.get_by_role("button", name="Check the text").click()
    expect(agent_page.locator("#verdict")).to_have_attribute("data-verdict", "phishing")
    expect(agent_page.locator('#reasons li[data-code="asks_for_credentials"]')).to_be_visible()
    shot(agent_page, "console/check-phishing-en-desktop")

    entries = web_server.api("GET", "/v1/audit", params={"subject": f"account:{seller}"}).json()
    actions = [e["action"] for e in entries["data"] if e["action"].startswith("call_session.")]
    assert actions[::-1] == ["call_session.started", "call_session.confirmed",
                             "call_session.started", "call_session.reported"]
    assert code not in str(entries)


def test_check_a_message_page(web_server, new_context, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    base = web_server.base_url
    email = f"owner-{secrets.token_hex(3)}@shop.example.com"
    seller = web_server.seller(country="GB", phone=f"+44 7911 12{_digits()}", email=email)
    page = new_context(viewport=PHONE).new_page()
    page.goto(web_server.session_link(seller))
    nav = page.locator("nav.tabs")
    tops = {round(box["y"]) for box in (a.bounding_box() for a in nav.locator("a").all()) if box}
    assert len(tops) == 1, tops  # five tabs, still one line at 390 px
    nav.get_by_role("link", name="Check a message").click()
    expect(page.locator("h1")).to_have_text("Is this message genuine?")

    page.get_by_label("Paste the message").fill(PHISHING)
    page.get_by_role("button", name="Check the text").click()
    expect(page.locator("#verdict")).to_have_attribute("data-verdict", "unrelated")
    page.get_by_label("Paste the message").fill(
        PHISHING.replace("Test Platform", "ContactGuard"))
    page.get_by_role("button", name="Check the text").click()
    expect(page.locator("#verdict")).to_have_attribute("data-verdict", "phishing")
    expect(page.locator("#verdict h2")).to_contain_text("Phishing")
    for reason in ("asks_for_reply", "asks_for_credentials", "urgency", "url_shortener"):
        expect(page.locator(f'#reasons li[data-code="{reason}"] .reason-message')).not_to_be_empty()
    expect(page.locator('#reasons li[data-code="asks_for_reply"]')).to_contain_text(
        "It asks you to reply")
    shot(page, "check-phishing-en-phone")

    # Our own email, as the dev SMTP server received it (DKIM-signed), uploaded as .eml.
    started = web_server.api("POST", "/v1/verifications", json={"account": seller,
                                                               "contact": "emergency_email"})
    assert started.status_code == 201, started.text
    web_server.wait_code(email)
    message = web_server.messages(email)[0]
    raw = web_server.api("GET", f"/v1/dev/messages/{message['id']}/raw").content
    eml = tmp_path / "genuine.eml"
    eml.write_bytes(raw)
    page.locator("#file").set_input_files(str(eml))
    page.get_by_role("button", name="Check the file").click()
    expect(page.locator("#verdict")).to_have_attribute("data-verdict", "genuine")
    expect(page.locator("#matched")).to_contain_text(message["reference"])
    shot(page, "check-genuine-en-phone")

    # In Chinese: the page and every reason.
    page.locator("#lang").select_option("zh-Hans")
    page.locator("footer form.lang button").click()
    expect(page.locator("h1")).to_have_text("这条消息是真的吗？")
    page.locator("#text").fill(PHISHING.replace("Test Platform", "ContactGuard"))
    page.locator("#check-text button").click()
    expect(page.locator("#verdict h2")).to_contain_text("钓鱼")
    expect(page.locator('#reasons li[data-code="asks_for_reply"]')).to_contain_text("回复")
    shot(page, "check-phishing-zh-phone")
    page.set_viewport_size(DESKTOP)
    shot(page, "check-phishing-zh-desktop")
    assert page.url == f"{base}/seller/check"
