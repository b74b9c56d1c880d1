"""The console's campaign pages in a real Chromium against a real dev server (its in-process
worker runs the campaigns): an admin walks create → live preview → launch → detail, pauses,
resumes and is asked to confirm a cancel; a support agent reads the campaign but gets no
action; every campaign page is captured in English and Chinese at phone and desktop widths
(``new_context`` fails the test on any script error, CSP violation or missing asset)."""

from __future__ import annotations

import re
import secrets
import time
from datetime import UTC, datetime, timedelta

from playwright.sync_api import expect

from tests.browser.conftest import DESKTOP, PHONE, shot
from tests.browser.test_console import _create, _first_sign_in


def _sellers(web_server) -> list[str]:  # type: ignore[no-untyped-def]
    """Three sellers: two in Great Britain (one reading Chinese), one in China."""
    def digits() -> str:
        return f"{secrets.randbelow(10_000):04d}"

    return [
        web_server.seller(country="GB", phone=f"+44 7911 12{digits()}", name="Harbour Goods"),
        web_server.seller(country="GB", phone=f"+44 7911 12{digits()}", locale="zh-Hans",
                          name="Pearl Garden"),
        web_server.seller(country="CN", phone=f"+86 138 0013 {digits()}", locale="zh-Hans",
                          name="Lotus Tea House"),
    ]


def _wait_planned(web_server, campaign_id: int, targeted: int) -> dict:  # type: ignore[no-untyped-def]
    """The campaign once the worker has planned every account (its first sends written or
    scheduled for the first allowed local time)."""
    deadline = time.monotonic() + 20
    while True:
        found = web_server.api("GET", f"/v1/campaigns/{campaign_id}").json()
        progress = found["progress"]
        if progress["planning_done"] and progress["notified"] + progress["scheduled"] \
                + progress["skipped"] == targeted:
            return found
        assert time.monotonic() < deadline, found
        time.sleep(0.2)


def test_admin_creates_previews_launches_and_watches_a_campaign(web_server, new_context) -> None:
    base = web_server.base_url
    accounts = _sellers(web_server)
    admin, agent = _create(web_server, "admin"), _create(web_server, "support")
    page = new_context(viewport=PHONE).new_page()
    _first_sign_in(page, base, admin)

    page.get_by_role("link", name="Campaigns").click()
    expect(page.locator("h1")).to_have_text("Campaigns")
    page.locator("#new-campaign").click()
    expect(page.locator("h1")).to_have_text("New campaign")
    expect(page.locator("#preview-empty")).to_be_visible()
    # The in-app notice cannot be switched off, and the page says why.
    expect(page.locator("#f-in_app")).to_be_checked()
    expect(page.locator("#f-in_app")).to_be_disabled()
    expect(page.locator("#in-app-why")).to_contain_text("tell a genuine notice from phishing")

    # The live preview: an unknown account is named next to its input as it is typed.
    effective = (datetime.now(UTC) + timedelta(days=45)).strftime("%Y-%m-%dT10:00")
    page.get_by_label("Name").fill("Verify your emergency contacts")
    page.get_by_label("Accounts (external ids)").fill("\n".join([*accounts, "nobody-here"]))
    page.get_by_label("Takes effect at").fill(effective)
    expect(page.locator("#err-accounts")).to_have_text("No account “nobody-here”.")
    expect(page.locator("#refusals")).to_be_visible()
    page.get_by_label("Accounts (external ids)").fill("\n".join(accounts))
    expect(page.locator("#err-accounts")).to_be_empty()
    expect(page.locator("#rules-met")).to_be_visible()
    expect(page.locator("#targeted")).to_have_text("3")
    expect(page.locator("#countries tr[data-country]")).to_have_count(2)
    expect(page.locator('#samples details[data-locale="zh-Hans"]')).to_have_count(1)
    with page.expect_response(re.compile(r"/console/campaigns/new/preview$")):
        page.locator("#f-quiet").uncheck()  # send at once, whatever the hour there
    expect(page.locator("#preview")).to_contain_text("Shanghai")
    shot(page, "console/campaign-new-preview-en-phone")
    page.locator("#create-campaign").click()

    expect(page.locator("main > .flash.ok")).to_contain_text("Draft created")
    campaign_id = int(re.search(r"/console/campaigns/(\d+)", page.url).group(1))
    expect(page.locator("#launch")).to_have_text("Launch: tell 3 accounts")
    page.locator("#launch").click()
    expect(page.locator("main > .flash.ok")).to_contain_text("Launched.")
    found = _wait_planned(web_server, campaign_id, 3)
    assert found["status"] == "running" and found["progress"]["targeted"] == 3

    # A seller opens the dashboard (the notice is seen) and starts verifying.
    notified = [a for a in accounts if web_server.messages(f"{a}@shop.example.com")]
    if notified:
        seller_page = new_context().new_page()
        seller_page.goto(web_server.session_link(notified[0]))
        expect(seller_page.locator("section.banner.campaign")).to_have_count(1)
        started = web_server.api("POST", "/v1/verifications", json={
            "account": notified[0], "contact": "emergency_email"})
        assert started.status_code == 201, started.text
    page.reload()
    expect(page.locator("#progress [data-figure=targeted]")).to_have_text("3")
    expect(page.locator("#funnel svg.chart-narrow")).to_be_visible()
    expect(page.locator('#funnel-table [data-stage="notified"]')).to_contain_text(
        str(found["progress"]["notified"]))
    if notified:
        expect(page.locator('#funnel-table [data-stage="seen"]')).to_contain_text("1")
        expect(page.locator('#funnel-table [data-stage="started"]')).to_contain_text("1")
    csv = page.request.get(f"{base}/console/campaigns/{campaign_id}/funnel.csv")
    assert csv.status == 200 and csv.text().startswith("table,key,targeted,")

    page.locator("#pause").click()
    expect(page.locator(".meta [data-status]")).to_have_text("Paused")
    page.locator("#resume").click()
    expect(page.locator(".meta [data-status]")).to_have_text("Running")
    page.locator("#cancel").click()
    expect(page.locator("h1")).to_have_text("Cancel the campaign?")
    page.locator("#keep").click()
    expect(page.locator(".meta [data-status]")).to_have_text("Running")
    actions = [e["action"] for e in web_server.api(
        "GET", "/v1/audit", params={"subject": f"campaign:{campaign_id}"}).json()["data"]]
    assert actions[::-1] == ["campaign.created", "campaign.launched", "campaign.paused",
                             "campaign.resumed"]

    # Support reads the same page, with no action on it.
    agent_page = new_context(viewport=DESKTOP).new_page()
    _first_sign_in(agent_page, base, agent)
    expect(agent_page.locator("nav.nav").get_by_role("link")).to_have_text(
        ["Dashboard", "Accounts", "Campaigns", "Check a message", "Policy"])
    agent_page.goto(f"{base}/console/campaigns/{campaign_id}")
    expect(agent_page.locator("#funnel")).to_be_visible()
    expect(agent_page.locator("#pause")).to_have_count(0)
    response = agent_page.goto(f"{base}/console/campaigns/new")
    assert response is not None and response.status == 403

    # A draft next to the running campaign, then every page in both languages and widths.
    page.goto(f"{base}/console/campaigns/new")
    page.get_by_label("Name").fill("Confirm your emergency phone")
    page.get_by_label("Countries").fill("CN")
    page.get_by_label("Takes effect at").fill(effective)
    expect(page.locator("#rules-met")).to_be_visible()
    page.locator("#create-campaign").click()
    expect(page.locator("main > .flash.ok")).to_contain_text("Draft created")
    draft_id = int(re.search(r"/console/campaigns/(\d+)", page.url).group(1))
    pages = {"campaigns": "/console/campaigns", "campaign": f"/console/campaigns/{campaign_id}",
             "campaign-draft": f"/console/campaigns/{draft_id}",
             "campaign-cancel": f"/console/campaigns/{campaign_id}/cancel",
             "account-campaign": f"/console/accounts/{accounts[2]}"}
    for lang in ("en", "zh-Hans"):
        page.goto(f"{base}/console")
        page.locator("select#lang").select_option(lang)
        page.locator("footer .lang button").click()
        expect(page.locator("html")).to_have_attribute("lang", lang)
        for width, viewport in (("phone", PHONE), ("desktop", DESKTOP)):
            page.set_viewport_size(viewport)
            for name, path in pages.items():
                response = page.goto(f"{base}{path}")
                assert response is not None and response.status == 200, (name, response.status)
                shot(page, f"console/{name}-{lang}-{width}")
            page.goto(f"{base}/console/campaigns/new")
            page.locator("#f-name").fill("Verify your emergency contacts" if lang == "en"
                                         else "验证您的紧急联系方式")
            page.locator("#f-countries").fill("GB CN")
            page.locator("#f-effective_at").fill(effective)
            expect(page.locator("#targeted")).to_be_visible()
            page.evaluate("window.scrollTo(0, 0)")  # the preview sticks to the top on desktops
            shot(page, f"console/campaign-new-{lang}-{width}")
            page.locator("#f-effective_at").fill(
                (datetime.now(UTC) + timedelta(days=5)).strftime("%Y-%m-%dT10:00"))
            expect(page.locator("#err-effective_at .error")).to_have_count(2)  # GB and CN
            page.evaluate("window.scrollTo(0, 0)")
            shot(page, f"console/campaign-new-refused-{lang}-{width}")
    # The account's file tells support the campaign's deadline in the seller's time.
    page.goto(f"{base}/console/accounts/{accounts[2]}")
    if web_server.messages(f"{accounts[2]}@shop.example.com"):
        expect(page.locator(f"#banner-{campaign_id}")).to_contain_text("Asia/Shanghai")
