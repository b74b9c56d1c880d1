"""The console's campaign pages through the app, on SQLite and PostgreSQL, with a frozen clock:
the create form names each bad field next to its input (the service's own refusals: in_app
required, too short a notice per country), the live preview, launch/pause/resume/cancel with
the operator as the audit actor, support reading but refused every admin action (in the pages
and in the services), the CSV matching the funnel, and the account page's campaign deadline."""

from __future__ import annotations

import csv
import html
import io
import re
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta

import pyotp
import pytest
from fastapi.testclient import TestClient

from contactguard.adapters.operator_auth import Argon2Passwords
from contactguard.bootstrap import Container
from contactguard.domain.contacts import ContactKind
from contactguard.entrypoints.api.app import create_app
from contactguard.errors import Forbidden
from contactguard.services import audit, campaigns, operators
from contactguard.services import console as console_service
from contactguard.services.accounts import AccountInput, upsert_account
from contactguard.services.verification import check_code, start_verification
from contactguard.testing import FrozenClock, RecordingSender
from tests.conftest import deliver, latest_code
from tests.integration.conftest import csrf_token_in
from tests.integration.test_console_pages import PASSWORD, _sign_in

ANNOUNCE = datetime(2027, 2, 6, 1, 0, tzinfo=UTC)  # Spring Festival in China; 01:00 in London
ADMIN = "lead@acme.example.com"
AGENT = "agent@acme.example.com"


@pytest.fixture(autouse=True)
def _cheap_hashes(container: Container) -> None:
    container.deps.passwords = Argon2Passwords(time_cost=1, memory_cost=1024, parallelism=1)


@pytest.fixture
def clients(container: Container) -> Iterator[Callable[[], TestClient]]:
    """Browsers of their own (one cookie jar each) on the same app."""
    app = create_app(container)
    opened: list[TestClient] = []

    def make() -> TestClient:
        client = TestClient(app, base_url="https://sellers.acme.test",
                            raise_server_exceptions=False, follow_redirects=False)
        client.__enter__()
        opened.append(client)
        return client

    yield make
    for client in opened:
        client.__exit__(None, None, None)


@pytest.fixture
def sellers(container: Container, clock: FrozenClock) -> None:
    clock.set(ANNOUNCE - timedelta(days=40))
    for external_id, country, locale, email, phone in (
            ("cn-1", "CN", None, "cn1@lotus.example.com", "+86 138 0013 8000"),
            ("cn-2", "CN", "zh-Hans", "cn2@lotus.example.com", "+86 138 0013 8001"),
            ("gb-1", "GB", None, "gb1@tea.example.co.uk", "+44 7911 123456")):
        upsert_account(container.deps, AccountInput(
            external_id=external_id, name=f"Shop {external_id}", country=country, locale=locale,
            contacts={"emergency_email": email, "emergency_phone": phone}))
    clock.set(ANNOUNCE)


@pytest.fixture
def admin(clients: Callable[[], TestClient], container: Container, clock: FrozenClock,
          sellers: None) -> TestClient:
    web = clients()
    web.secret = _sign_in(web, container, clock, ADMIN)  # type: ignore[attr-defined]
    return web


def sign_in_again(web: TestClient, clock: FrozenClock) -> None:
    """The admin signs in again (its session ended while the clock moved on by days)."""
    csrf = csrf_token_in(web.get("/console/login").text)
    answer = web.post("/console/login", data={"csrf_token": csrf, "email": ADMIN,
                                               "password": PASSWORD})
    assert answer.headers["location"] == "/console/login/code"
    answer = web.post("/console/login/code", data={
        "csrf_token": csrf, "code": pyotp.TOTP(web.secret).at(clock.now())})  # type: ignore[attr-defined]
    assert answer.headers["location"] == "/console"


def form(csrf: str, **overrides: object) -> dict[str, object]:
    """The create form as a browser sends it (in_app is the hidden input)."""
    values: dict[str, object] = {
        "csrf_token": csrf, "name": "Verify your emergency contacts",
        "contacts": ["emergency_email", "emergency_phone"], "countries": "CN GB",
        "accounts": "", "tz": "UTC", "announce_at": "", "effective_at": "2027-03-08T10:00",
        "channels": ["in_app", "email", "sms"], "reminders": "14, 7, 2, 1", "quiet": "on",
        "quiet_start": "21:00", "quiet_end": "09:00", "throttle": ""}
    values.update(overrides)
    return values


def slot(page: str, name: str) -> str:
    """The text of the errors shown next to input ``name`` (``<div id="err-name">``)."""
    found = re.search(rf'<div class="errs" id="err-{re.escape(name)}"[^>]*>(.*?)</div>', page,
                      re.S)
    assert found, f"no error slot {name}"
    return html.unescape(re.sub(r"<[^>]+>", " ", found.group(1))).strip()


def audit_of(container: Container, campaign_id: int) -> list[tuple[str, str, str | None]]:
    entries = audit.list_entries(container.deps, limit=50, subject=f"campaign:{campaign_id}")
    return [(e.action, e.actor.kind.value, e.actor.label) for e in reversed(entries)]


def test_the_form_names_each_bad_field_next_to_its_input(
        admin: TestClient, container: Container) -> None:
    page = admin.get("/console/campaigns/new")
    assert page.status_code == 200
    assert 'name="channels" value="in_app"' in page.text  # always on, explained
    assert "how sellers tell a genuine notice from phishing" in page.text
    csrf = csrf_token_in(page.text)
    bad = admin.post("/console/campaigns/new", data=form(
        csrf, name="", contacts=[], countries="CN G8", effective_at="", reminders="14, x, 14",
        throttle="fast", quiet_start="25:00", accounts="gb-1\nnobody"))
    assert bad.status_code == 422
    assert slot(bad.text, "name") == "Give the campaign a name of 1 to 200 characters."
    assert slot(bad.text, "contacts") == "Choose at least one contact that sellers must verify."
    assert "“G8” is not a country code" in slot(bad.text, "countries")
    assert slot(bad.text, "effective_at").startswith("Required")
    assert "“x”: use whole days" in slot(bad.text, "reminders")
    assert "“14” is listed twice." in slot(bad.text, "reminders")
    assert slot(bad.text, "throttle").startswith("A number of accounts per second")
    assert slot(bad.text, "quiet").startswith("Quiet hours need")
    assert 'id="f-name" name="name" value=""' in bad.text and 'aria-invalid="true"' in bad.text
    assert 'value="CN G8"' in bad.text  # what was typed is shown again
    assert campaigns.list_campaigns(container.deps).items == []

    # The service's own refusals: an email-only campaign (a forged form: the page always sends
    # in_app), an unknown account, and too short a notice counted in each country's working days.
    email_only = admin.post("/console/campaigns/new", data=form(csrf, channels=["email"]))
    assert email_only.status_code == 422
    assert "An email-only campaign is refused." in slot(email_only.text, "channels")
    refused = admin.post("/console/campaigns/new", data=form(csrf, effective_at="2027-02-16T10:00"))
    assert refused.status_code == 422
    notice = slot(refused.text, "effective_at")
    assert "CN: only 3 working days of notice from Feb 6, 2027 to Feb 16, 2027 " \
           "(Asia/Shanghai); the policy requires at least 14." in notice
    assert "Public holidays in between: Feb 6, 2027, Feb 7, 2027, Feb 8, 2027" in notice
    assert "GB: only 6 working days" in notice
    unknown = admin.post("/console/campaigns/new", data=form(csrf, accounts="gb-1, nobody"))
    assert unknown.status_code == 422
    assert slot(unknown.text, "accounts") == "No account “nobody”."
    assert campaigns.list_campaigns(container.deps).items == []

    # The same refusals in Chinese.
    admin.post("/console/language", data={"csrf_token": csrf, "lang": "zh-Hans",
                                          "next": "/console/campaigns/new"})
    chinese = admin.post("/console/campaigns/new", data=form(csrf, channels=["email"]))
    assert chinese.status_code == 422
    assert "仅邮件的活动会被拒绝" in slot(chinese.text, "channels")
    chinese = admin.post("/console/campaigns/new", data=form(csrf, effective_at="2027-02-16T10:00"))
    assert "CN：从 2027年2月6日 到 2027年2月16日 只有 3 个工作日的通知期" in slot(
        chinese.text, "effective_at")


def test_the_live_preview_shows_who_when_and_what(admin: TestClient,
                                                  container: Container) -> None:
    csrf = csrf_token_in(admin.get("/console/campaigns/new").text)
    answer = admin.post("/console/campaigns/new/preview", data=form(csrf),
                        headers={"HX-Request": "true"})
    assert answer.status_code == 200 and "<html" not in answer.text  # a fragment
    assert "HX-Push-Url" not in answer.headers
    text = answer.text
    assert re.search(r'id="targeted">3<', text)
    assert 'id="rules-met"' in text
    cn = re.search(r'<tr data-country="CN">(.*?)</tr>', text, re.S).group(1)
    assert "Asia/Shanghai" in cn
    assert "Feb 11, 2027, 9:00\u202fAM" in cn  # after Spring Festival, after quiet hours
    assert "5 days:</span> Feb 6, 2027, Feb 7, 2027, Feb 8, 2027, Feb 9, 2027, Feb 10, 2027" in cn
    gb = re.search(r'<tr data-country="GB">(.*?)</tr>', text, re.S).group(1)
    assert "Feb 6, 2027, 9:00\u202fAM" in gb and "Mar 8, 2027, 10:00\u202fAM" in gb
    # Samples in each language of the audience, each channel, no link.
    for locale in ("en", "zh-Hans"):
        assert f'data-locale="{locale}"' in text
    assert text.count('class="sample" data-channel="email"') == 2
    assert "账户健康" in text and "http" not in re.sub(r'https?://www\.w3\.org[^"]*', "", text)
    # Each input's error slot is swapped in beside it (empty: nothing wrong).
    assert '<div class="errs" id="err-name" hx-swap-oob="true"></div>' in text

    unnamed = admin.post("/console/campaigns/new/preview", data=form(csrf, name=""))
    assert unnamed.status_code == 200
    assert slot(unnamed.text, "name").startswith("Give the campaign a name")
    assert 'id="targeted"' not in unnamed.text  # nothing to preview until the fields parse
    short = admin.post("/console/campaigns/new/preview", data=form(
        csrf, effective_at="2027-02-16T10:00"))
    assert short.status_code == 200
    assert slot(short.text, "name") == ""
    assert "CN: only 3 working days" in slot(short.text, "effective_at")
    assert 'id="refusals"' in short.text
    assert re.search(r'id="targeted">3<', short.text)  # still previewed: the operator sees why
    assert admin.post("/console/campaigns/new/preview",
                      data=form("forged")).status_code == 403
    assert campaigns.list_campaigns(container.deps).items == []


def _create(admin: TestClient, **overrides: object) -> int:
    csrf = csrf_token_in(admin.get("/console/campaigns/new").text)
    created = admin.post("/console/campaigns/new", data=form(csrf, **overrides))
    assert created.status_code == 303, created.text[:2000]
    found = re.fullmatch(r"/console/campaigns/(\d+)\?done=created", created.headers["location"])
    assert found
    return int(found.group(1))


def _run(container: Container) -> None:
    container.extras["campaign_runner"].run(budget_seconds=None)
    deliver(container)


def test_launch_pause_resume_cancel_are_audited_as_the_operator(
        admin: TestClient, container: Container, clock: FrozenClock,
        sender: RecordingSender) -> None:
    campaign_id = _create(admin, countries="GB", quiet="", tz="Europe/London",
                          effective_at="2027-03-08T10:00")
    stored = campaigns.get_campaign(container.deps, campaign_id)
    assert stored.effective_at == datetime(2027, 3, 8, 10, 0, tzinfo=UTC)
    assert stored.spec.quiet_hours is None and stored.created_by == ADMIN
    draft = admin.get(f"/console/campaigns/{campaign_id}")
    assert draft.status_code == 200
    assert "Launch: tell 1 account" in draft.text and 'id="rules-met"' in draft.text
    csrf = csrf_token_in(draft.text)

    launched = admin.post(f"/console/campaigns/{campaign_id}/launch", data={"csrf_token": csrf})
    assert launched.headers["location"] == f"/console/campaigns/{campaign_id}?done=launch"
    _run(container)
    assert sorted(m.to for m in sender.sent) == ["+447911123456", "gb1@tea.example.co.uk"]
    page = admin.get(f"/console/campaigns/{campaign_id}?done=launch")
    assert 'data-status="running"' in page.text and 'id="pause"' in page.text
    assert re.search(r'data-figure="notified">1<', page.text)
    assert f'hx-get="/console/campaigns/{campaign_id}/progress"' in page.text
    progress = admin.get(f"/console/campaigns/{campaign_id}/progress",
                         headers={"HX-Request": "true"})
    assert progress.status_code == 200 and "HX-Push-Url" not in progress.headers
    assert progress.text.lstrip().startswith('<section class="card progress-card"')

    assert admin.post(f"/console/campaigns/{campaign_id}/pause",
                      data={"csrf_token": csrf}).status_code == 303
    assert campaigns.get_campaign(container.deps, campaign_id).status.value == "paused"
    again = admin.post(f"/console/campaigns/{campaign_id}/pause", data={"csrf_token": csrf})
    assert again.status_code == 409
    assert "not possible in the campaign's current status" in html.unescape(again.text)
    assert admin.post(f"/console/campaigns/{campaign_id}/resume",
                      data={"csrf_token": csrf}).status_code == 303
    assert campaigns.get_campaign(container.deps, campaign_id).status.value == "running"

    # Cancel asks first; only the confirmed form cancels.
    confirm = admin.get(f"/console/campaigns/{campaign_id}/cancel")
    assert confirm.status_code == 200 and "This cannot be undone." in confirm.text
    unconfirmed = admin.post(f"/console/campaigns/{campaign_id}/cancel", data={"csrf_token": csrf})
    assert unconfirmed.status_code == 200 and 'id="confirm-cancel"' in unconfirmed.text
    assert campaigns.get_campaign(container.deps, campaign_id).status.value == "running"
    assert admin.post(f"/console/campaigns/{campaign_id}/cancel",
                      data={"csrf_token": "forged", "confirm": "yes"}).status_code == 403
    done = admin.post(f"/console/campaigns/{campaign_id}/cancel",
                      data={"csrf_token": csrf, "confirm": "yes"})
    assert done.headers["location"] == f"/console/campaigns/{campaign_id}?done=cancel"
    assert campaigns.get_campaign(container.deps, campaign_id).status.value == "canceled"
    assert audit_of(container, campaign_id) == [
        ("campaign.created", "operator", ADMIN), ("campaign.launched", "operator", ADMIN),
        ("campaign.paused", "operator", ADMIN), ("campaign.resumed", "operator", ADMIN),
        ("campaign.canceled", "operator", ADMIN)]
    listing = admin.get("/console/campaigns")
    assert listing.status_code == 200 and f'data-campaign="{campaign_id}"' in listing.text
    assert 'data-status="canceled"' in listing.text


def test_a_launch_refused_by_now_too_short_a_notice_says_why(
        admin: TestClient, container: Container, clock: FrozenClock) -> None:
    campaign_id = _create(admin, countries="GB", effective_at="2027-02-26T10:00")  # 15 days
    clock.set(ANNOUNCE + timedelta(days=3))  # the draft waited: 13 working days are left
    sign_in_again(admin, clock)
    page = admin.get(f"/console/campaigns/{campaign_id}")
    assert "Launching now would be refused" in page.text
    assert "GB: only 13 working days of notice from Feb 9, 2027" in page.text
    refused = admin.post(f"/console/campaigns/{campaign_id}/launch",
                         data={"csrf_token": csrf_token_in(page.text)})
    assert refused.status_code == 422 and 'id="launch-refused"' in refused.text
    assert "GB: only 13 working days of notice from Feb 9, 2027" in refused.text
    assert campaigns.get_campaign(container.deps, campaign_id).status.value == "draft"


def test_support_reads_campaigns_but_every_admin_action_is_refused(
        admin: TestClient, clients: Callable[[], TestClient], container: Container,
        clock: FrozenClock) -> None:
    campaign_id = _create(admin, countries="GB")
    agent = clients()
    _sign_in(agent, container, clock, AGENT, role="support")
    listing = agent.get("/console/campaigns")
    assert listing.status_code == 200 and 'href="/console/campaigns"' in listing.text
    assert 'id="new-campaign"' not in listing.text
    detail = agent.get(f"/console/campaigns/{campaign_id}")
    assert detail.status_code == 200 and 'id="launch"' not in detail.text
    assert "Only admins can launch" in detail.text
    assert agent.get(f"/console/campaigns/{campaign_id}/funnel.csv").status_code == 200
    csrf = csrf_token_in(detail.text)
    for path in ("/console/campaigns/new", f"/console/campaigns/{campaign_id}/cancel"):
        page = agent.get(path)
        assert page.status_code == 403 and "Not allowed for your role" in page.text, path
    for path in ("/console/campaigns/new", "/console/campaigns/new/preview",
                 *(f"/console/campaigns/{campaign_id}/{a}"
                   for a in ("launch", "pause", "resume", "cancel"))):
        answer = agent.post(path, data=form(csrf, confirm="yes"))
        assert answer.status_code == 403, path
    assert [c.id for c in campaigns.list_campaigns(container.deps).items] == [campaign_id]
    assert campaigns.get_campaign(container.deps, campaign_id).status.value == "draft"
    # The services refuse too, whatever page or script calls them.
    support = operators.find_operator(container.deps, AGENT)
    with pytest.raises(Forbidden):
        console_service.change_campaign(container.deps, campaign_id, "launch", by=support)
    with pytest.raises(Forbidden):
        console_service.create_campaign(container.deps, {"name": "x"}, by=support)
    with pytest.raises(Forbidden):
        console_service.check_campaign(container.deps, {"name": "x"}, by=support)
    assert [a for a, *_ in audit_of(container, campaign_id)] == ["campaign.created"]


def test_the_csv_and_the_page_match_the_funnel_and_the_account_shows_its_deadline(
        admin: TestClient, container: Container, clock: FrozenClock,
        sender: RecordingSender) -> None:
    campaign_id = _create(admin, countries="CN GB")
    admin.post(f"/console/campaigns/{campaign_id}/launch",
               data={"csrf_token": csrf_token_in(admin.get("/console/campaigns").text)})
    moment = ANNOUNCE
    while moment < datetime(2027, 2, 12, tzinfo=UTC):  # GB on the 6th, CN after the holidays
        clock.set(moment)
        _run(container)
        moment += timedelta(hours=3)
    sign_in_again(admin, clock)
    notice = next(m for m in sender.sent if m.to == "gb1@tea.example.co.uk")
    campaigns.mark_seen(container.deps, "gb-1", [notice.reference])
    started = start_verification(container.deps, account="gb-1",
                                 contact=ContactKind.EMERGENCY_EMAIL)
    check_code(container.deps, started.id,
               latest_code(container, sender, "gb1@tea.example.co.uk"))
    start_verification(container.deps, account="cn-1", contact=ContactKind.EMERGENCY_EMAIL)

    funnel = campaigns.campaign_funnel(container.deps, campaign_id)
    assert (funnel.targeted, funnel.notified, funnel.seen, funnel.started) == (3, 3, 1, 2)
    exported = admin.get(f"/console/campaigns/{campaign_id}/funnel.csv")
    assert exported.status_code == 200
    assert exported.headers["content-type"] == "text/csv; charset=utf-8"
    assert exported.headers["content-disposition"] == (
        f'attachment; filename="campaign-{campaign_id}-funnel.csv"')
    assert exported.headers["cache-control"] == "no-store"
    rows = list(csv.DictReader(io.StringIO(exported.text)))
    total = next(r for r in rows if r["table"] == "total")
    assert [int(total[s]) for s in ("targeted", "notified", "seen", "started", "verified")] == [
        funnel.targeted, funnel.notified, funnel.seen, funnel.started, funnel.verified]
    by_country = {r["key"]: r for r in rows if r["table"] == "country"}
    assert {k: (int(v["targeted"]), int(v["notified"]), int(v["started"]))
            for k, v in by_country.items()} == {
        r.key: (r.targeted, r.notified, r.started) for r in funnel.by_country}
    assert [r["key"] for r in rows if r["table"] == "day"] == [r.key for r in funnel.by_day]
    assert exported.text == campaigns.funnel_csv(container.deps, campaign_id)

    page = admin.get(f"/console/campaigns/{campaign_id}")
    assert page.status_code == 200
    for stage in ("targeted", "notified", "seen", "started", "verified"):
        cell = re.search(rf'<td data-label="[^"]*" data-stage="{stage}">(\d+)', page.text)
        assert cell and int(cell.group(1)) == getattr(funnel, stage), stage
    assert page.text.count('<rect class="bar s-notified"') == 2  # phone and desktop charts
    assert 'polyline class="line s-notified"' in page.text
    assert re.search(r'<tr data-channel="email">.*?data-status="sent">\D*<strong>3</strong>',
                     page.text, re.S)
    cn_row = re.search(r'<tr data-country="CN">(.*?)</tr>', page.text, re.S).group(1)
    assert re.search(r'data-stage="notified">2 ', cn_row)

    # The seller's file answers "by when": the campaign's deadline, seen or not.
    account = admin.get("/console/accounts/cn-1")
    banner = re.search(rf'<li class="req campaign-banner" id="banner-{campaign_id}">(.*?)</li>',
                       account.text, re.S)
    assert banner, account.text[:3000]
    deadline = campaigns.account_banners(container.deps, "cn-1")[0].deadline
    assert deadline > datetime(2027, 3, 8, 10, tzinfo=UTC)  # moved on by Spring Festival
    assert "Verify your emergency contacts" in banner.group(1)
    assert "Asia/Shanghai" in banner.group(1) and "has not opened it yet" in banner.group(1)
    seen = admin.get("/console/accounts/gb-1").text
    assert "The seller saw it on" in seen and notice.reference in seen
