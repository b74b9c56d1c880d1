"""The "Is this message genuine?" pages (Seller Center and console) through the app, on SQLite
and PostgreSQL: pasted text, an uploaded .eml (multipart, past the 1 MiB default body limit,
up to the checker's 25 MB), a reference code; the verdict and each reason in the reader's
language with the evidence escaped; CSRF; support may use the console page."""

from __future__ import annotations

import re
from collections.abc import Iterator
from urllib.parse import urlsplit

import pytest
from fastapi.testclient import TestClient

from contactguard.adapters.operator_auth import Argon2Passwords
from contactguard.bootstrap import Container
from contactguard.entrypoints.api.app import create_app
from contactguard.services.checker import MAX_MESSAGE_BYTES
from contactguard.services.seller_sessions import create_session_link
from contactguard.testing import FrozenClock
from tests.integration import checker_support
from tests.integration.checker_support import send_code_email
from tests.integration.conftest import csrf_token_in
from tests.integration.test_checker_api import PHISH
from tests.smtp_sink import SmtpSink

BASE = "https://sellers.acme.test"
dkim_spec = checker_support.dkim_spec
sink = checker_support.sink
smtp_client = checker_support.smtp_client
smtp_container = checker_support.smtp_container

PASTED = ("Acme Market Seller Support: your emergency contact is invalid and your store will be "
          "suspended within 24 hours. Reply to this email with your password and the "
          "verification code we sent you. https://bit.ly/acme-verify")


@pytest.fixture
def web(smtp_container: Container) -> Iterator[TestClient]:
    with TestClient(create_app(smtp_container), base_url=BASE, follow_redirects=False,
                    raise_server_exceptions=False) as client:
        yield client



def _seller_signs_in(container: Container, web: TestClient, account: str) -> str:
    link = create_session_link(container.deps, account, base_url=BASE)
    assert web.get(urlsplit(link.url).path).status_code == 303
    page = web.get("/seller/check")
    assert page.status_code == 200
    assert re.search(r'<a href="/seller/check" aria-label="[^"]+" aria-current="page">', page.text)
    return csrf_token_in(page.text)


def _reasons(html: str) -> dict[str, str]:
    return dict(re.findall(r'<li data-code="([a-z_]+)"><span class="reason-message">([^<]+)',
                           html))


def test_seller_pastes_phishing_and_uploads_our_own_email(
        smtp_container: Container, smtp_client: TestClient, sink: SmtpSink,
        web: TestClient) -> None:
    raw = send_code_email(smtp_container, smtp_client, sink, account="seller-1")
    csrf = _seller_signs_in(smtp_container, web, "seller-1")

    pasted = web.post("/seller/check", data={"csrf_token": csrf, "mode": "text",
                                              "text": PASTED}, files={"file": ("", b"")})
    assert pasted.status_code == 200, pasted.text
    assert 'data-verdict="phishing"' in pasted.text
    reasons = _reasons(pasted.text)
    assert {"asks_for_reply", "asks_for_credentials", "urgency", "url_shortener"} <= set(reasons)
    assert reasons["asks_for_reply"].startswith("It asks you to reply")

    upload = web.post("/seller/check", data={"csrf_token": csrf, "mode": "file"},
                      files={"file": ("code.eml", raw, "message/rfc822")})
    assert upload.status_code == 200 and 'data-verdict="genuine"' in upload.text
    assert re.search(r"Reference CG-[0-9A-Z]{4}-[0-9A-Z]{4}, sent by email", upload.text)
    reference = re.search(r"Reference (CG-[0-9A-Z]{4}-[0-9A-Z]{4})", upload.text).group(1)
    by_ref = web.post("/seller/check", data={"csrf_token": csrf, "mode": "reference",
                                             "reference": reference.lower()},
                      files={"file": ("", b"")})
    assert 'data-verdict="genuine"' in by_ref.text

    # Our genuine email is not genuine for another seller who uploads it.
    send_code_email(smtp_container, smtp_client, sink, account="seller-2")
    other = _seller_signs_in(smtp_container, web, "seller-2")
    answer = web.post("/seller/check", data={"csrf_token": other, "mode": "file"},
                      files={"file": ("code.eml", raw, "message/rfc822")})
    assert 'data-verdict="genuine"' not in answer.text and 'data-verdict="phishing"' in answer.text


def test_reasons_in_chinese_and_evidence_escaped(smtp_container: Container,
                                                 smtp_client: TestClient, sink: SmtpSink,
                                                 web: TestClient) -> None:
    send_code_email(smtp_container, smtp_client, sink, account="seller-zh", locale="zh-Hans")
    csrf = _seller_signs_in(smtp_container, web, "seller-zh")
    page = web.get("/seller/check")
    assert 'lang="zh-Hans"' in page.text and "这条消息是真的吗？" in page.text
    hostile = PHISH.replace(b"From: Acme Market Support <",
                            b'From: "Acme Market <img src=x onerror=alert(1)>" <')
    answer = web.post("/seller/check", data={"csrf_token": csrf, "mode": "file"},
                      files={"file": ("x.eml", hostile, "message/rfc822")})
    assert answer.status_code == 200 and 'data-verdict="phishing"' in answer.text
    assert "这条消息不是 Acme Market 发送的。" in answer.text
    assert "回复" in _reasons(answer.text)["asks_for_reply"]
    assert "<img src=x" not in answer.text
    assert "&lt;img src=x onerror=alert(1)&gt;" in answer.text


def test_check_page_inputs_limits_andcsrf_token_in(smtp_container: Container, smtp_client: TestClient,
                                           sink: SmtpSink, web: TestClient) -> None:
    send_code_email(smtp_container, smtp_client, sink, account="seller-1")
    csrf = _seller_signs_in(smtp_container, web, "seller-1")
    empty = web.post("/seller/check", data={"csrf_token": csrf, "mode": "text", "text": "  "},
                     files={"file": ("", b"")})
    assert empty.status_code == 422 and "Paste the text of the message first." in empty.text
    bad_ref = web.post("/seller/check", data={"csrf_token": csrf, "mode": "reference",
                                              "reference": "hello"}, files={"file": ("", b"")})
    assert bad_ref.status_code == 422 and "CG-7KQ4-M9XD" in bad_ref.text
    junk = web.post("/seller/check", data={"csrf_token": csrf, "mode": "file"},
                    files={"file": ("x.eml", b"\x00\x01\x02 not mail", "message/rfc822")})
    assert junk.status_code in (200, 422), junk.text  # a verdict or "cannot read", never a 500
    no_file = web.post("/seller/check", data={"csrf_token": csrf, "mode": "file"},
                       files={"file": ("", b"")})
    assert no_file.status_code == 422 and ".eml" in no_file.text
    # Larger than the 1 MiB default body limit: the check pages take mail as big as the API.
    padding = b"X-Padding: " + b"a" * 900 + b"\r\n"
    big = PHISH.replace(b"Subject:", padding * 2300 + b"Subject:")
    assert len(big) > 2 * 1024 * 1024
    answer = web.post("/seller/check", data={"csrf_token": csrf, "mode": "file"},
                      files={"file": ("big.eml", big, "message/rfc822")})
    assert answer.status_code == 200 and 'data-verdict="phishing"' in answer.text
    too_big = web.post("/seller/check", data={"csrf_token": csrf, "mode": "file"},
                       files={"file": ("huge.eml", b"a" * (MAX_MESSAGE_BYTES + 1), "message/rfc822")})
    assert too_big.status_code == 413 and "larger than 25 MB" in too_big.text
    forged = web.post("/seller/check", data={"csrf_token": "nope", "mode": "text",
                                             "text": PASTED}, files={"file": ("", b"")})
    assert forged.status_code == 403
    web.cookies.clear()
    assert web.get("/seller/check").status_code == 401


def test_support_checks_a_message_in_the_console(smtp_container: Container,
                                                 smtp_client: TestClient, sink: SmtpSink,
                                                 web: TestClient, clock: FrozenClock) -> None:
    from tests.integration.test_console_pages import _sign_in

    smtp_container.deps.passwords = Argon2Passwords(time_cost=1, memory_cost=1024, parallelism=1)
    raw = send_code_email(smtp_container, smtp_client, sink, account="seller-1")
    _sign_in(web, smtp_container, clock, "agent@acme.example.com", role="support")
    account_page = web.get("/console/accounts/seller-1")
    assert 'href="/console/check?account=seller-1" id="check-for-account"' in account_page.text
    assert 'id="account-file" name="account" type="text" value="seller-1"' in web.get(
        "/console/check?account=seller-1").text
    page = web.get("/console/check")
    assert page.status_code == 200
    assert '<a href="/console/check" aria-current="page">Check a message</a>' in page.text
    csrf = csrf_token_in(page.text)
    answer = web.post("/console/check", data={"csrf_token": csrf, "mode": "file",
                                              "account": "seller-1"},
                      files={"file": ("code.eml", raw, "message/rfc822")})
    assert answer.status_code == 200 and 'data-verdict="genuine"' in answer.text
    phishing = web.post("/console/check", data={"csrf_token": csrf, "mode": "file"},
                        files={"file": ("p.eml", PHISH, "message/rfc822")})
    assert 'data-verdict="phishing"' in phishing.text
    assert "<code>display_name_spoof</code>" in phishing.text
    unknown = web.post("/console/check", data={"csrf_token": csrf, "mode": "text",
                                               "text": PASTED, "account": "nobody"},
                       files={"file": ("", b"")})
    assert unknown.status_code == 422 and "No account “nobody”." in unknown.text
    for account in ("a\x00b", "x" * 129, "²"):  # what PostgreSQL cannot take: still a 422
        odd = web.post("/console/check", data={"csrf_token": csrf, "mode": "text",
                                                "text": PASTED + "\x00", "account": account},
                       files={"file": ("", b"")})
        assert odd.status_code == 422, (account, odd.text[:200])
    nul = web.post("/console/check", data={"csrf_token": csrf, "mode": "text",
                                            "text": PASTED + "\x00"}, files={"file": ("", b"")})
    assert nul.status_code == 200 and 'data-verdict="phishing"' in nul.text
