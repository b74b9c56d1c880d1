"""Phishing waves in a real Chromium against a real dev server (issue 9): 50 reports of one
campaign (each to another seller, with other links and names) posted as the platform's MTA
would form one wave; an admin warns one country in one click in the console; a seller of that
country sees the banner and the message-center notice, linking to the checker; a seller of
another country sees neither."""

from __future__ import annotations

import re
import secrets
from email.message import EmailMessage

import httpx
from playwright.sync_api import expect

from tests.browser.conftest import DESKTOP, shot
from tests.browser.test_console import _create, _first_sign_in

SUBJECT = "Urgent: confirm your emergency contact today"
REPORT = "report@contactguard.localhost"


def _report(n: int) -> bytes:
    """The n-th copy of one campaign, forwarded by its recipient to the report address."""
    names = ["Lotus Tea House", "Harbour Goods", "Pearl Garden", "Kite & Co", "Blue Lantern"]
    inner = EmailMessage()
    inner["From"] = f"ContactGuard Account Health <notice@contactguard-health{n % 5}.top>"
    inner["To"] = f"shop{n}@sellers{n % 7}.example"
    inner["Subject"] = SUBJECT
    inner.set_content(
        f"Dear {names[n % 5]},\n\nWe could not verify your emergency contact. To keep selling, "
        "reply to this email with your password and the 6-digit code we just sent you within "
        "12 hours, or your listings will be removed.\n\n"
        f"Or confirm here: https://cg-verify{n % 9}.top/s/{secrets.token_hex(6)}\n\n"
        f"Case number {100000 + n * 37}\nAccount Health Team")
    outer = EmailMessage()
    outer["From"] = f"shop{n}@sellers{n % 7}.example"
    outer["To"] = REPORT
    outer["Subject"] = f"Fwd: {SUBJECT}"
    outer.set_content("Is this from you?")
    outer.make_mixed()
    part = EmailMessage()
    part.set_content(inner)
    outer.attach(part)
    return outer.as_bytes()


def test_fifty_reports_form_one_wave_and_a_warning_reaches_one_country(
        web_server, page, new_context) -> None:  # type: ignore[no-untyped-def]
    cn = web_server.seller(country="CN", phone=f"+86 138 0013 {secrets.randbelow(10_000):04d}",
                           name="Lotus Tea House")
    de = web_server.seller(country="DE", phone=f"+49 151 2345{secrets.randbelow(10_000):04d}",
                           name="Rhein Waren")
    for n in range(50):
        answer = httpx.post(f"{web_server.base_url}/v1/inbound/email", content=_report(n),
                            params={"rcpt_to": REPORT}, timeout=10, headers={
                                "Authorization": f"Bearer {web_server.api_key}",
                                "Content-Type": "message/rfc822"})
        assert answer.status_code == 202 and answer.json()["kind"] == "report", answer.text
    found = [w for w in web_server.api("GET", "/v1/phishing/waves").json()["items"]
             if w["subject"] == SUBJECT]
    assert [w["reports"] for w in found] == [50]
    wave = found[0]
    # the forwarded original is judged, not the reporter's forward
    assert set(wave["sender_domains"]) == {f"contactguard-health{i}.top" for i in range(5)}
    assert set(wave["link_domains"]) == {f"cg-verify{i}.top" for i in range(9)}

    admin = new_context(viewport=DESKTOP).new_page()
    _first_sign_in(admin, web_server.base_url, _create(web_server, "admin"))
    admin.goto(f"{web_server.base_url}/console/phishing")
    row = admin.locator(f'tr[data-wave="{wave["id"]}"]')
    expect(row).to_contain_text("50")
    row.get_by_role("link", name=SUBJECT).click()
    expect(admin.locator("#wave-reports")).to_have_text("50")
    expect(admin.locator("#samples tbody tr")).to_have_count(10)
    admin.get_by_label("Country code").fill("CN")
    admin.get_by_role("button", name="Warn this country").click()
    expect(admin.locator(".flash")).to_contain_text("Warning published")
    expect(admin.locator("#warnings")).to_contain_text("CN")
    shot(admin, "console/phishing-wave-en-desktop")

    page.goto(web_server.session_link(cn))
    banner = page.locator(".banner.phishing-warning")
    expect(banner).to_contain_text(SUBJECT)
    expect(banner).to_contain_text("we never ask you to reply with your password or codes")
    expect(banner.get_by_role("link")).to_have_attribute("href", "/seller/check")
    shot(page, "seller/phishing-warning-en-phone")
    page.goto(f"{web_server.base_url}/seller/messages")
    notice = page.locator(".notice", has_text="is circulating")
    expect(notice).to_contain_text(re.compile(
        r"Warning: a fake email titled .Urgent: confirm your emergency contact today. is circulating"))
    expect(notice).to_contain_text("we never ask you to reply with your password or codes")
    expect(notice.get_by_role("link")).to_have_attribute("href", "/seller/check")
    shot(page, "seller/phishing-warning-messages-en-phone")

    other = new_context().new_page()
    other.goto(web_server.session_link(de))
    expect(other.locator("h1")).to_be_visible()
    expect(other.locator(".banner.phishing-warning")).to_have_count(0)
