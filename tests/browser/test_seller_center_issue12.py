"""Issue 12 in a real Chromium, in English and Chinese, on phone and desktop: deadlines and
consequences, only what the seller can act on, their language and time, never stuck, the
security phrase as a secret, the opt-in email link, and the small things (offline /docs,
no CSP violation, tabs on one line at 390 px)."""

from __future__ import annotations

import re
import sqlite3
from datetime import UTC, datetime, timedelta

from playwright.sync_api import expect

from tests.browser.conftest import DESKTOP, WebServer, shot, text_of


def _send_and_enter(page, web_server: WebServer, kind: str, to: str, *,  # type: ignore[no-untyped-def]
                    typed: str = "{}") -> None:
    """Verify a contact through the pages: send the code, then type it as ``typed`` shows."""
    page.goto(f"{web_server.base_url}/seller/contacts/{kind}/verify")
    seen = len(web_server.messages(to))
    page.locator("form.form:not(.code-form) button[type=submit]").click()
    expect(page).to_have_url(re.compile(r"/seller/verifications/"))
    code = web_server.wait_code(to, seen=seen)
    page.locator("#code").fill(typed.format(code))
    page.locator("form.code-form button[type=submit]").click()
    expect(page).to_have_url(re.compile(r"done=verified"))


def _age_account(web_server: WebServer, external_id: str, days: int) -> None:
    """As if the account had been created ``days`` ago (its grace period runs from then)."""
    created = (datetime.now(UTC) - timedelta(days=days)).strftime("%Y-%m-%d %H:%M:%S.%f")
    with sqlite3.connect(web_server.db_path) as db:
        db.execute("UPDATE accounts SET created_at = ? WHERE external_id = ?",
                   (created, external_id))


def test_deadlines_consequences_and_platform_conditions(web_server, new_context) -> None:
    """Points 1-3: a date on every requirement, what is at stake, "Remind me later" keeps the
    deadline in sight and is gone once overdue, and platform signals apart, for sellers."""
    seller = web_server.seller(country="CN", phone="+86 10 6552 9911", locale="zh-Hans",
                               email="owner@lotus-c1.example.com", name="Lotus Tea House")
    page = new_context(locale="zh-CN").new_page()
    page.goto(web_server.session_link(seller))
    banners = page.locator(".banner")
    expect(banners).to_have_count(2)
    for i in range(2):
        expect(banners.nth(i).locator(".deadline")).to_contain_text(
            re.compile(r"截止日期：\s*\d{4}年\d{1,2}月\d{1,2}日\s*还剩 30 天"))
        expect(banners.nth(i).locator(".stake")).to_contain_text("您的账户将退出账户健康保障计划")
    expect(page.locator("main")).to_contain_text("我们请您验证紧急联系方式，以便在您的账户出现问题")
    expect(page.locator("[data-eligible]")).to_contain_text("您的账户目前未享有账户健康保障。")
    shot(page, "issue12-health-open-zh-Hans-phone")
    banners.first.get_by_role("button", name="稍后提醒我").click()
    expect(page.locator(".banner").first.locator(".snoozed")).to_contain_text(
        re.compile(r"提醒已暂停至 .+。截止日期不变：\d{4}年"))

    web_server.api("PUT", "/v1/policy", json={"min_signals": {"account_health_rating": 200}})
    try:
        _send_and_enter(page, web_server, "emergency_phone", "+861065529911")
        _send_and_enter(page, web_server, "emergency_email", "owner@lotus-c1.example.com")
        page.goto(f"{web_server.base_url}/seller")
        expect(page.locator(".banner")).to_have_count(0)
        expect(page.locator(".contacts-state")).to_contain_text("一切正常")
        expect(page.locator(".contacts-state")).to_contain_text(re.compile(r"下次需在 \d{4}年"))
        expect(page.locator("[data-eligible]")).to_have_attribute("data-eligible", "no")
        expect(page.locator(".platform-conditions")).to_have_text(
            "平台尚未向我们提供您的账户健康评分。您无需做任何操作：它通常会自动更新。")
        expect(page.locator(".seller-actions")).to_have_count(0)
        assert "account" not in text_of(page).lower()  # no internal names, no English
        shot(page, "issue12-health-platform-zh-Hans-phone")

        page.set_viewport_size(DESKTOP)
        page.locator("select#lang").select_option("en")
        page.locator("footer .lang button").click()
        expect(page.locator("html")).to_have_attribute("lang", "en")
        expect(page.locator(".contacts-state")).to_contain_text("All set")
        expect(page.locator(".platform-conditions")).to_contain_text(
            "The platform has not reported your account health rating to us yet.")
        assert "has not been reported" not in text_of(page)
        assert "account_health_rating" not in page.content()
        shot(page, "issue12-health-platform-en-desktop")
    finally:
        web_server.api("PUT", "/v1/policy", json={})

    # Past the deadline: overdue, said plainly, and the reminder can no longer be put off.
    late = web_server.seller(country="GB", phone="+44 7911 123481", locale="en-GB",
                             email="late@shop.example.com")
    _age_account(web_server, late, days=40)
    page.goto(web_server.session_link(late))
    expect(page.locator(".banner")).to_have_count(2)
    expect(page.locator(".banner .badge.bad")).to_have_count(2)
    expect(page.locator(".banner").first).to_contain_text(
        "The deadline has passed. Until it is verified, your account leaves the account "
        "health assurance program")
    expect(page.get_by_role("button", name="Remind me later")).to_have_count(0)
    expect(page.locator(".banner").first.locator(".deadline")).to_contain_text(
        re.compile(r"Deadline: \d{1,2} [A-Z][a-z]+ \d{4}"))  # en-GB: day month year
    shot(page, "issue12-health-overdue-en-desktop")


def test_language_and_time_of_errors_notices_and_signed_out_pages(web_server, new_context) -> None:
    """Points 4-5: errors worded from codes, the change notice, message-center titles and
    times in the seller's language and zone; signed-out pages in the browser's language."""
    seller = web_server.seller(country="CN", phone="+86 10 6552 9912", locale="zh-Hans",
                               email="owner@lotus-c2.example.com")
    link = web_server.session_link(seller)
    page = new_context(locale="zh-CN").new_page()
    page.goto(link)
    base = web_server.base_url
    page.goto(f"{base}/seller/contacts/emergency_email/edit")
    page.locator("#value").fill("ownerexample.com")
    page.get_by_role("button", name="保存并验证").click()
    expect(page.locator("#value-error")).to_have_text("邮箱地址必须包含 @ 符号。")
    shot(page, "issue12-contact-edit-error-zh-Hans-phone")
    page.goto(f"{base}/seller/contacts/emergency_phone/edit")
    page.locator("#value").fill("📞📞📞")
    page.get_by_role("button", name="保存并验证").click()
    expect(page.locator("#value-error")).to_have_text("“📞📞📞”不是电话号码。")

    _send_and_enter(page, web_server, "emergency_email", "owner@lotus-c2.example.com")
    page.goto(f"{base}/seller/contacts/emergency_email/edit")
    page.locator("#value").fill("new@lotus-c2.example.com")
    page.get_by_role("button", name="保存并验证").click()
    expect(page.locator(".flash")).to_have_text("已保存。现在请完成验证。")
    page.get_by_role("link", name="消息").click()
    first = page.locator("li.notice").first
    expect(first.locator(".notice-title")).to_have_text("您的紧急联系邮箱已更改为 n•••@lotus-c2.example.com")
    expect(first.locator("time")).to_contain_text(
        re.compile(r"\d{4}年\d{1,2}月\d{1,2}日 \d{2}:\d{2} 中国标准时间"))
    assert "通知：" not in text_of(page)
    reference = first.locator(".ref").inner_text()
    page.get_by_label("查询通知编号").fill(reference)  # a GET form, swapped in by htmx
    page.get_by_role("button", name="查询", exact=True).click()
    expect(page.locator(".lookup .flash")).to_contain_text(reference)
    shot(page, "issue12-messages-zh-Hans-phone")
    notice = web_server.messages("owner@lotus-c2.example.com")[0]
    assert notice["subject"] == "您的 ContactGuard 紧急联系邮箱已更改"
    assert "中国标准时间" in notice["body"] and "UTC" not in notice["body"]
    assert "emergency email" not in notice["body"]

    # Signed out, or a used link: the browser's language, as there is no account to ask.
    signed_out = new_context(viewport=DESKTOP, locale="zh-CN").new_page()
    response = signed_out.goto(f"{base}/seller")
    assert response is not None and response.status == 401
    expect(signed_out.locator("h1")).to_have_text("请重新登录")
    shot(signed_out, "issue12-signed-out-zh-Hans-desktop")
    response = signed_out.goto(link)  # used above
    assert response is not None and response.status == 410
    expect(signed_out.locator("h1")).to_have_text("此链接已被使用或已过期")
    shot(signed_out, "issue12-link-used-zh-Hans-desktop")

    # An en-GB seller reads British formats, in London time with the zone named.
    british = web_server.seller(country="GB", phone="+44 7911 123482", locale="en-GB",
                                email="ops@gb-shop.example.com")
    page = new_context(viewport=DESKTOP, locale="en-GB").new_page()
    page.goto(web_server.session_link(british))
    _send_and_enter(page, web_server, "emergency_email", "ops@gb-shop.example.com")
    expect(page.locator("#contact-emergency_email")).to_contain_text(
        re.compile(r"Verified on \d{1,2} [A-Z][a-z]+ \d{4} by email"))
    page.get_by_role("link", name="Messages").click()
    expect(page.locator("li.notice time").first).to_have_text(re.compile(
        r"^\d{1,2} [A-Z][a-z]+ \d{4}, \d{2}:\d{2} (Greenwich Mean Time|British Summer Time)$"))
    shot(page, "issue12-messages-en-desktop")


def test_never_stuck(web_server, new_context) -> None:
    """Points 6-8: back to a code already sent (a landline's call too), typo fixes never lock
    a seller out, codes as people type them, "attempts left" once; tabs on one line."""
    seller = web_server.seller(country="CN", phone="+86 10 6552 9913", locale="en",
                               email="owner@lotus-c3.example.com")
    page = new_context().new_page()
    page.goto(web_server.session_link(seller))
    nav = page.locator("nav.tabs")
    assert nav.evaluate("n => n.scrollWidth <= n.clientWidth")
    tops = {round(box["y"]) for box in (a.bounding_box() for a in nav.locator("a").all()) if box}
    assert len(tops) == 1, tops  # every tab on one line at 390 px

    base = web_server.base_url
    page.goto(f"{base}/seller/contacts/emergency_phone/verify")
    page.get_by_role("button", name="Call me with a code").click()
    code = web_server.wait_code("+861065529913")
    page.get_by_role("link", name="Back to contacts").last.click()
    card = page.locator("#contact-emergency_phone")
    expect(card).to_contain_text("Pending: code sent")
    card.get_by_role("link", name="Enter the code").click()
    expect(page.locator("#open-code")).to_contain_text("We called +86 ••• ••• 9913 at")
    expect(page.locator("#open-code")).to_contain_text("China Standard Time")
    shot(page, "issue12-verify-open-code-en-phone")
    page.get_by_role("button", name="Call me with a code").click()  # inside the cooldown
    expect(page.locator(".send .error")).to_contain_text("Enter the code you received above.")
    page.locator("#code").fill(f"{code[:2]} {code[2:4]} {code[4:]}")  # as read out, in pairs
    page.locator("form.code-form button[type=submit]").click()
    expect(page.locator(".flash")).to_have_text("Verified. Thank you!")

    page.goto(f"{base}/seller/contacts/emergency_email/verify")
    page.get_by_role("button", name="Email me a code").click()
    code = web_server.wait_code("owner@lotus-c3.example.com")
    page.locator("#code").fill(f"{(int(code) + 1) % 1_000_000:06d}")
    page.locator("form.code-form button[type=submit]").click()
    expect(page.locator("#code-error")).to_have_text(
        "That code is not right. You have 4 attempts left.")
    assert text_of(page).count("attempts left") == 1
    shot(page, "issue12-wrong-code-en-phone")
    page.locator("#code").fill("".join(chr(0xFF10 + int(d)) for d in code))  # full width
    page.locator("form.code-form button[type=submit]").click()
    expect(page.locator(".flash")).to_have_text("Verified. Thank you!")

    # Fixing typos in a new, not yet verified address: as often as needed.
    for typo in ("new@lotus-c3.exmaple.com", "new@lotus-c3.exmple.com",
                 "new@lotus-c3.example.cm", "new@lotus-c3.example.com"):
        page.goto(f"{base}/seller/contacts/emergency_email/edit")
        page.locator("#value").fill(typo)
        page.get_by_role("button", name="Save and verify").click()
        expect(page.locator(".flash")).to_have_text("Saved. Now verify it.")
    page.goto(f"{base}/seller/contacts/emergency_phone/edit")
    page.locator("#value").fill("+86 10 6552 9914")
    page.get_by_role("button", name="Save and verify").click()
    expect(page.locator(".flash")).to_have_text("Saved. Now verify it.")


def test_the_phrase_is_a_secret_and_email_links_need_a_click(web_server, new_context) -> None:
    """Points 9-11 and the opt-in email link: no phrase to an unverified address (and why),
    the saved phrase by its first letters, examples refused; a link's GET verifies nothing."""
    seller = web_server.seller(country="CN", phone="+86 10 6552 9915", locale="zh-Hans",
                               email="owner@lotus-c5.example.com")
    page = new_context(viewport=DESKTOP, locale="zh-CN").new_page()
    page.goto(web_server.session_link(seller))
    base = web_server.base_url
    page.get_by_role("link", name="安全短语").click()
    expect(page.locator("#saved-phrase")).to_have_text("您尚未设置安全短语。")
    page.get_by_label("您的短语").fill("窗台上的蓝色茶壶")  # the page's own example
    page.get_by_role("button", name="保存安全短语").click()
    expect(page.locator("#phrase-error")).to_contain_text("这是本页面上的示例。")
    page.get_by_label("您的短语").fill("紫色风筝飞过港口")
    page.get_by_role("button", name="保存安全短语").click()
    expect(page.locator(".flash")).to_contain_text("安全短语已保存")
    expect(page.locator("#saved-phrase")).to_contain_text("您的短语以“紫色…”开头（共 8 个字符）")
    assert "紫色风筝飞过港口" not in page.content()
    shot(page, "issue12-security-phrase-zh-Hans-desktop")

    web_server.api("PUT", "/v1/policy", json={"email_link": True})
    try:
        page.goto(f"{base}/seller/contacts/emergency_email/verify")
        page.get_by_role("button", name="通过邮件发送验证码").click()
        expect(page).to_have_url(re.compile(r"/seller/verifications/"))
        web_server.wait_code("owner@lotus-c5.example.com")
        email = web_server.messages("owner@lotus-c5.example.com")[0]
        assert "紫色风筝" not in email["body"]  # the address is not verified yet
        assert "此邮件不显示您的安全短语，因为此邮箱尚未验证" in email["body"]
        match = re.search(r"(/seller/email-link/(vrf_\w+)/\w+)", email["body"])
        assert match, email["body"]

        # The seller opens the link on another device (a mail app): a page with a button.
        other = new_context(locale="en-US").new_page()
        response = other.goto(f"{base}{match.group(1)}")
        assert response is not None and response.status == 200
        expect(other.locator("h1")).to_have_text("确认您的邮箱地址")  # the account's language
        shot(other, "issue12-email-link-zh-Hans-phone")
        status = web_server.api("GET", f"/v1/verifications/{match.group(2)}").json()["status"]
        assert status == "pending"  # opening (as a link scanner would) verified nothing
        other.get_by_role("button", name="确认").click()
        expect(other.locator("h1")).to_have_text("您的邮箱地址已验证")
        assert web_server.api("GET", f"/v1/verifications/{match.group(2)}"
                              ).json()["status"] == "approved"
    finally:
        web_server.api("PUT", "/v1/policy", json={})

    # Verified now: the next email to it carries the phrase again.
    page.goto(f"{base}/seller/contacts")
    expect(page.locator("#contact-emergency_email")).to_contain_text("已验证")


def test_api_docs_work_offline(web_server, browser) -> None:
    """"/docs is blank offline": every request of the page stays on this server."""
    context = browser.new_context(viewport=DESKTOP)
    elsewhere: list[str] = []

    def only_local(route) -> None:  # type: ignore[no-untyped-def]
        if route.request.url.startswith(web_server.base_url):
            route.continue_()
        else:
            elsewhere.append(route.request.url)
            route.abort()

    context.route("**/*", only_local)
    page = context.new_page()
    page.goto(f"{web_server.base_url}/docs")
    expect(page.locator(".swagger-ui .info .title")).to_contain_text("ContactGuard")
    expect(page.locator(".opblock").first).to_be_visible()
    shot(page, "issue12-api-docs-desktop")
    assert page.goto(f"{web_server.base_url}/redoc").status == 404  # off: it needs a CDN
    context.close()
    assert not elsewhere, elsewhere


