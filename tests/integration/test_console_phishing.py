"""Console phishing pages (issue 9): waves with counts and samples, one-click warnings to all
sellers or one country (audited), seen on the sellers' dashboard and in their message center;
a bounced emergency email on the console's account page and the seller's dashboard."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from email.message import EmailMessage
from urllib.parse import urlsplit

import pytest
from fastapi.testclient import TestClient

from contactguard.adapters.operator_auth import Argon2Passwords
from contactguard.bootstrap import Container
from contactguard.domain.contacts import ContactKind
from contactguard.domain.inbound import verp_address
from contactguard.entrypoints.api.app import create_app
from contactguard.services import audit
from contactguard.services.accounts import AccountInput, upsert_account
from contactguard.services.inbound import receive_inbound
from contactguard.services.seller_sessions import create_session_link
from contactguard.services.verification import start_verification
from contactguard.testing import FrozenClock
from tests.integration.test_console_pages import _sign_in

REPORT = "report@contactguard.localhost"
BASE = "https://sellers.acme.test"


@pytest.fixture(autouse=True)
def _cheap_hashes(container: Container) -> None:
    container.deps.passwords = Argon2Passwords(time_cost=1, memory_cost=1024, parallelism=1)


@pytest.fixture
def clients(container: Container) -> Iterator[Callable[[], TestClient]]:
    app = create_app(container)
    opened: list[TestClient] = []

    def make() -> TestClient:
        client = TestClient(app, base_url=BASE, raise_server_exceptions=False,
                            follow_redirects=False)
        client.__enter__()
        opened.append(client)
        return client

    yield make
    for client in opened:
        client.__exit__(None, None, None)


def _sellers(container: Container) -> None:
    for external_id, country, locale in (("cn-1", "CN", "zh-Hans"), ("gb-1", "GB", "en")):
        upsert_account(container.deps, AccountInput(
            external_id=external_id, name=f"Shop {external_id}", country=country, locale=locale,
            contacts={"emergency_email": f"{external_id}@lotus.example.com"}))


def report(n: int) -> bytes:
    inner = EmailMessage()
    inner["From"] = f"Acme Market <security@acme-verify-{n % 2}.top>"
    inner["Subject"] = "Confirm your emergency contact"
    inner.set_content(f"Dear seller {n}, reply to this email with your password and the code "
                      f"we sent you, or your account will be closed. https://acme-verify.top/{n}")
    outer = EmailMessage()
    outer["From"] = f"reporter{n}@shops.example"
    outer["To"] = REPORT
    outer["Subject"] = "Fwd: Confirm your emergency contact"
    outer.set_content("This looks fake")
    outer.make_mixed()
    part = EmailMessage()
    part.set_content(inner)
    outer.attach(part)
    return outer.as_bytes()


def _seller_web(clients: Callable[[], TestClient], container: Container,
                external_id: str) -> TestClient:
    web = clients()
    link = create_session_link(container.deps, external_id, base_url=BASE)
    assert web.get(urlsplit(link.url).path).status_code == 303
    return web


def test_an_admin_warns_one_country_in_one_click(clients: Callable[[], TestClient],
                                                 container: Container, clock: FrozenClock) -> None:
    _sellers(container)
    waves = set()
    for n in range(12):
        outcome = receive_inbound(container.deps, report(n), f"reporter{n}@shops.example", [REPORT])
        assert outcome.kind.value == "report"
        waves.add(outcome.wave_id)
    assert len(waves) == 1
    wave = waves.pop()
    admin = clients()
    _sign_in(admin, container, clock, "lead@acme.example.com")
    listing = admin.get("/console/phishing")
    assert listing.status_code == 200
    assert "Confirm your emergency contact" in listing.text and f'data-wave="{wave}"' in listing.text
    detail = admin.get(f"/console/phishing/{wave}")
    assert detail.status_code == 200 and 'id="wave-reports">12<' in detail.text
    assert "acme-verify-0.top" in detail.text and "r•••" in detail.text  # masked reporters
    csrf = detail.text.split('name="csrf_token" value="')[1].split('"')[0]
    bad = admin.post(f"/console/phishing/{wave}/warnings",
                     data={"csrf_token": csrf, "scope": "country", "country": "C"})
    assert bad.headers["location"] == f"/console/phishing/{wave}?error=country"
    done = admin.post(f"/console/phishing/{wave}/warnings",
                      data={"csrf_token": csrf, "scope": "country", "country": "cn"})
    assert done.headers["location"] == f"/console/phishing/{wave}?done=warned"
    assert admin.get("/console/phishing/999999").status_code == 404
    assert admin.get("/console/phishing/²").status_code == 404
    entries = audit.list_entries(container.deps, subject=f"wave:{wave}")
    assert [(e.action, e.actor.label) for e in entries] == [
        ("phishing.warning_published", "lead@acme.example.com"),
        ("phishing.wave_detected", "system")]

    cn = _seller_web(clients, container, "cn-1")
    dashboard = cn.get("/seller")
    assert "Confirm your emergency contact" in dashboard.text and "/seller/check" in dashboard.text
    assert "虚假邮件" in dashboard.text  # in the seller's language
    messages = cn.get("/seller/messages")
    assert "Confirm your emergency contact" in messages.text
    gb = _seller_web(clients, container, "gb-1")
    assert "Confirm your emergency contact" not in gb.get("/seller").text
    assert "Confirm your emergency contact" not in gb.get("/seller/messages").text


def test_support_cannot_open_the_phishing_pages(clients: Callable[[], TestClient],
                                                container: Container, clock: FrozenClock) -> None:
    support = clients()
    _sign_in(support, container, clock, "help@acme.example.com", role="support")
    assert support.get("/console/phishing").status_code == 403
    assert 'href="/console/phishing"' not in support.get("/console").text


def test_a_bounced_email_shows_on_the_console_account_page(
        clients: Callable[[], TestClient], container: Container, clock: FrozenClock) -> None:
    _sellers(container)
    start_verification(container.deps, account="gb-1", contact=ContactKind.EMERGENCY_EMAIL)
    with container.deps.reader() as uow:
        row = uow.outbox.for_account(uow.accounts.by_external_id("gb-1").id, limit=5)[0]
    verp = verp_address(container.deps.verp_key, row.id, prefix="bounces",
                        domain="contactguard.localhost")
    dsn = (f"From: MAILER-DAEMON@mx.example\r\nTo: {verp}\r\nSubject: failure\r\n"
           "MIME-Version: 1.0\r\nContent-Type: multipart/report; report-type=delivery-status; "
           'boundary="b"\r\n\r\n--b\r\nContent-Type: text/plain\r\n\r\nfailed\r\n'
           "--b\r\nContent-Type: message/delivery-status\r\n\r\nReporting-MTA: dns; mx.example\r\n"
           "\r\nFinal-Recipient: rfc822; gb-1@lotus.example.com\r\nAction: failed\r\n"
           "Status: 5.2.1\r\nDiagnostic-Code: smtp; 550 mailbox disabled\r\n--b--\r\n").encode()
    assert receive_inbound(container.deps, dsn, "", [verp]).detail == "contact_marked"
    admin = clients()
    _sign_in(admin, container, clock, "lead@acme.example.com")
    page = admin.get("/console/accounts/gb-1")
    assert "bounced: 5.2.1" in page.text
    seller = _seller_web(clients, container, "gb-1")
    assert "Your emergency email bounced: update it" in seller.get("/seller").text
