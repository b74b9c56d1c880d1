"""Inbound mail (issue 9): bounces through a VERP return path mark the contact, replies to our
mail are answered once, reports are answered only to known contacts, 50 reports of one
campaign form one wave, and no mail posted to /v1/inbound/email makes a server error.

Our mail goes out through real SMTP (the sink, DKIM-signed, VERP envelope sender); bounces
come back through the real ``contactguard inbound`` listener (aiosmtpd on loopback).
"""

from __future__ import annotations

import re
import smtplib
from email.message import EmailMessage
from urllib.parse import urlsplit

from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from contactguard.adapters.delivery.dev_smtp import free_loopback_port
from contactguard.bootstrap import Container, inbound_server
from contactguard.domain.inbound import parse_verp
from contactguard.services import waves
from contactguard.services.inbound import receive_inbound
from contactguard.services.seller_sessions import create_session_link
from tests.integration import checker_support
from tests.integration.checker_support import DOMAIN, drain, send_code_email
from tests.smtp_sink import SmtpSink

dkim_spec = checker_support.dkim_spec
sink = checker_support.sink
smtp_client = checker_support.smtp_client
smtp_container = checker_support.smtp_container

REPORT = f"report@{DOMAIN}"
SELLER = "seller-1@lotus.example.com"


def _dsn(verp: str, original_id: str, recipient: str = SELLER, *,
         status: str = "5.1.1", action: str = "failed") -> bytes:
    """A bounce as Postfix writes it (RFC 3464 multipart/report)."""
    boundary = "B0UNCE-42"
    return (
        f"From: MAILER-DAEMON@mx.lotus.example.com (Mail Delivery System)\r\n"
        f"To: {verp}\r\nSubject: Undelivered Mail Returned to Sender\r\n"
        "Auto-Submitted: auto-replied\r\nMIME-Version: 1.0\r\n"
        f'Content-Type: multipart/report; report-type=delivery-status; boundary="{boundary}"\r\n'
        f"\r\n--{boundary}\r\nContent-Type: text/plain\r\n\r\n"
        "I'm sorry to have to inform you that your message could not be delivered.\r\n"
        f"\r\n--{boundary}\r\nContent-Type: message/delivery-status\r\n\r\n"
        "Reporting-MTA: dns; mx.lotus.example.com\r\nArrival-Date: Mon, 2 Mar 2026 09:00:00 +0000\r\n"
        f"\r\nFinal-Recipient: rfc822; {recipient}\r\nOriginal-Recipient: rfc822;{recipient}\r\n"
        f"Action: {action}\r\nStatus: {status}\r\n"
        "Diagnostic-Code: smtp; 550 5.1.1 <x>: Recipient address rejected: User unknown\r\n"
        f"\r\n--{boundary}\r\nContent-Type: text/rfc822-headers\r\n\r\n"
        f"From: Acme Market <no-reply@{DOMAIN}>\r\nTo: {recipient}\r\n"
        f"Message-ID: {original_id}\r\nSubject: Your code\r\n"
        f"\r\n--{boundary}--\r\n").encode()


def _post(client: TestClient, raw: bytes, **params: object):
    return client.post("/v1/inbound/email", content=raw, params=params,
                       headers={"Content-Type": "message/rfc822"})


def _ours(server: SmtpSink, to: str) -> list:
    return [r for r in server.handler.received if r.rcpt == to]


# --- bounces -----------------------------------------------------------------------------------


def test_a_dsn_through_the_smtp_listener_marks_the_email_contact(
        smtp_container: Container, smtp_client: TestClient, sink: SmtpSink) -> None:
    send_code_email(smtp_container, smtp_client, sink)
    sent = _ours(sink, SELLER)[-1]
    # our envelope sender names the message (VERP), with a tag nobody can forge
    assert sent.mail_from.startswith("bounces+") and sent.mail_from.endswith(f"@{DOMAIN}")
    outbox_id = parse_verp(smtp_container.deps.verp_key, sent.mail_from, prefix="bounces",
                           domain=DOMAIN)
    assert outbox_id is not None
    forged = re.sub(r"-[0-9a-f]+@", "-0000000000@", sent.mail_from)
    assert parse_verp(smtp_container.deps.verp_key, forged, prefix="bounces", domain=DOMAIN) is None

    server = inbound_server(smtp_container, host="127.0.0.1", port=free_loopback_port())
    server.start()
    try:
        with smtplib.SMTP("127.0.0.1", server.port, timeout=10) as smtp:
            # a relay attempt to another domain is refused
            smtp.ehlo()
            code, _ = smtp.docmd("MAIL FROM:<>")
            assert code == 250
            assert smtp.docmd("RCPT TO:<victim@elsewhere.example>")[0] == 550
            smtp.rset()
            smtp.sendmail("", [sent.mail_from], _dsn(sent.mail_from, sent.message_id))
    finally:
        server.stop()

    account = smtp_client.get("/v1/accounts/seller-1").json()
    email = next(c for c in account["contacts"] if c["kind"] == "emergency_email")
    assert [u["channel"] for u in email["undeliverable_channels"]] == ["email"]
    assert "5.1.1" in email["undeliverable_channels"][0]["reason"]
    entries = smtp_client.get("/v1/audit", params={"subject": "account:seller-1"}).json()
    assert any(e["action"] == "contact.bounced" for e in entries["data"])
    stats = smtp_client.get("/v1/inbound/stats").json()["totals"]
    assert stats["bounce"] == 1 and stats["bounce_contact_marked"] == 1

    # the seller is told on the dashboard, in their language
    web = TestClient(smtp_client.app, base_url="https://sellers.acme.test")
    link = create_session_link(smtp_container.deps, "seller-1", base_url="https://sellers.acme.test")
    web.get(urlsplit(link.url).path)
    page = web.get("/seller")
    assert "bounced: update it" in page.text and "/seller/contacts/emergency_email/edit" in page.text


def test_a_delay_notice_or_a_forged_bounce_marks_nothing(
        smtp_container: Container, smtp_client: TestClient, sink: SmtpSink) -> None:
    send_code_email(smtp_container, smtp_client, sink)
    sent = _ours(sink, SELLER)[-1]
    delayed = _post(smtp_client, _dsn(sent.mail_from, sent.message_id, status="4.4.1",
                                      action="delayed"), mail_from="", rcpt_to=sent.mail_from)
    assert delayed.json()["detail"] == "transient"
    forged = re.sub(r"-[0-9a-f]+@", "-abcdef0123@", sent.mail_from)
    answer = _post(smtp_client, _dsn(forged, "<nothing@else>"), mail_from="", rcpt_to=forged)
    assert answer.status_code == 202 and answer.json()["detail"] == "unmatched"
    account = smtp_client.get("/v1/accounts/seller-1").json()
    assert all(not c["undeliverable_channels"] for c in account["contacts"])


# --- replies -----------------------------------------------------------------------------------


def _reply(original_id: str, text: str = "Done! My password is hunter2 and the code 123456.") -> bytes:
    message = EmailMessage()
    message["From"] = f"Lotus Tea House <{SELLER}>"
    message["To"] = f"Acme Market <no-reply@{DOMAIN}>"
    message["Subject"] = "Re: Your Acme Market verification code"
    message["In-Reply-To"] = original_id
    message["References"] = original_id
    message.set_content(text)
    return message.as_bytes()


def test_a_reply_to_our_mail_is_answered_once_without_quoting_it(
        smtp_container: Container, smtp_client: TestClient, sink: SmtpSink) -> None:
    send_code_email(smtp_container, smtp_client, sink)
    original = _ours(sink, SELLER)[-1].message_id
    before = len(_ours(sink, SELLER))
    for _ in range(2):  # the seller replies twice ("done", then "did you get it?")
        answer = _post(smtp_client, _reply(original), mail_from=SELLER,
                       rcpt_to=f"no-reply@{DOMAIN}")
        assert answer.status_code == 202 and answer.json()["kind"] == "reply"
    drain(smtp_container)
    answers = _ours(sink, SELLER)[before:]
    assert len(answers) == 1
    parsed = answers[0].parsed
    body = parsed.get_body(("plain",)).get_content()
    assert "We never ask you to reply" in str(parsed["Subject"])
    assert "nothing is done by email" in body and "dashboard" in body
    assert "hunter2" not in body and "123456" not in body
    totals = smtp_client.get("/v1/inbound/stats").json()["totals"]
    assert totals["reply"] == 2 and totals["reply_answered"] == 1
    metrics = smtp_client.get("/metrics").text
    assert 'contactguard_inbound_messages_total{kind="reply"} 2.0' in metrics
    assert 'contactguard_inbound_messages_total{kind="reply_answered"} 1.0' in metrics


def test_a_reply_from_a_stranger_or_an_auto_reply_gets_no_answer(
        smtp_container: Container, smtp_client: TestClient, sink: SmtpSink) -> None:
    send_code_email(smtp_container, smtp_client, sink)
    original = _ours(sink, SELLER)[-1].message_id
    stranger = _reply(original).replace(SELLER.encode(), b"someone@elsewhere.example")
    assert _post(smtp_client, stranger).json()["detail"] == "unknown_sender"
    auto = _reply(original).replace(b"Subject:", b"Auto-Submitted: auto-replied\r\nSubject:")
    assert _post(smtp_client, auto).json()["detail"] == "automatic"
    before = len(sink.handler.received)
    drain(smtp_container)
    assert len(sink.handler.received) == before


# --- reports -----------------------------------------------------------------------------------


def _phish(n: int, *, reporter: str, campaign: int = 1) -> bytes:
    """A forwarded look-alike of our mail, one campaign's n-th copy (names and links vary)."""
    names = ["Lotus Tea House", "Jade Garden", "Blue River", "Kite Shop", "Mei's Crafts"]
    inner = EmailMessage()
    if campaign == 1:
        inner["From"] = f"Acme Market Support <support@acme-seller-verify{n % 3}.xyz>"
        inner["Subject"] = "Emergency contact verification required"
        inner.set_content(
            f"Dear {names[n % 5]},\n\nYour emergency contact must be verified within 24 hours "
            "or your account will be suspended. Please reply to this email with your password "
            "and the 2FA code you receive, then click the link below to confirm.\n\n"
            f"https://acme-verify{n % 4}.top/confirm?id={1000 + n}&seller={n}\n\n"
            "Reply DONE once finished.\nAcme Market Account Health Team")
    else:
        inner["From"] = "Parcel Service <track@parcel-notify.example>"
        inner["Subject"] = "Your parcel is waiting"
        inner.set_content(
            f"Hello {names[n % 5]}, a parcel could not be delivered. Pay the customs fee of "
            f"2.{n} USD at https://parcel-fee.example/pay/{n} to release it.")
    outer = EmailMessage()
    outer["From"] = reporter
    outer["To"] = REPORT
    outer["Subject"] = f"Fwd: {inner['Subject']}"
    # the reporter's own note sounds like phishing too: it is still only a wrapper
    outer.set_content("Is this real? It says I must reply with my password within 24 hours!")
    outer.make_mixed()
    outer.attach(_rfc822(inner))
    return outer.as_bytes()


def _rfc822(inner: EmailMessage) -> EmailMessage:
    part = EmailMessage()
    part.set_content(inner)
    part.add_header("Content-Disposition", "attachment", filename="suspicious.eml")
    return part


def test_a_report_is_answered_only_to_a_known_contact(
        smtp_container: Container, smtp_client: TestClient, sink: SmtpSink) -> None:
    send_code_email(smtp_container, smtp_client, sink)
    stranger = _post(smtp_client, _phish(1, reporter="someone@elsewhere.example"),
                     rcpt_to=REPORT).json()
    assert stranger == {"kind": "report", "detail": "unknown_sender", "verdict": "phishing",
                        "wave_id": stranger["wave_id"]}
    before = len(sink.handler.received)
    known = _post(smtp_client, _phish(2, reporter=f"Lotus <{SELLER}>"), rcpt_to=REPORT).json()
    assert known["detail"] == "answered" and known["verdict"] == "phishing"
    drain(smtp_container)
    new = sink.handler.received[before:]
    assert [r.rcpt for r in new] == [SELLER]  # nothing to the stranger: no backscatter
    parsed = new[0].parsed
    assert "NOT from Acme Market" in str(parsed["Subject"])
    assert "phishing" in parsed.get_body(("plain",)).get_content()


def test_fifty_reports_of_one_campaign_form_one_wave(
        smtp_container: Container, smtp_client: TestClient) -> None:
    hook = smtp_client.post("/v1/webhooks", json={
        "url": "http://127.0.0.1:9/hook", "events": ["phishing.wave_detected"]})
    assert hook.status_code == 201, hook.text
    for n in range(50):
        answer = _post(smtp_client, _phish(n, reporter=f"seller{n}@shop{n}.example"),
                       rcpt_to=REPORT)
        assert answer.json()["kind"] == "report"
    for n in range(6):
        _post(smtp_client, _phish(n, reporter=f"other{n}@shop.example", campaign=2),
              rcpt_to=REPORT)
    for n in range(3):  # the same seller forwarding the campaign again counts once
        _post(smtp_client, _phish(n, reporter="seller0@shop0.example"), rcpt_to=REPORT)
    listed = smtp_client.get("/v1/phishing/waves").json()["items"]
    assert sorted(w["reports"] for w in listed) == [6, 50]
    big = next(w for w in listed if w["reports"] == 50)
    assert big["subject"] == "Emergency contact verification required"
    assert big["detected_at"] is not None
    assert set(big["sender_domains"]) == {f"acme-seller-verify{i}.xyz" for i in range(3)}
    assert set(big["link_domains"]) == {f"acme-verify{i}.top" for i in range(4)}
    detail = smtp_client.get(f"/v1/phishing/waves/{big['id']}").json()
    # reports received per day: the repeated forwards too
    assert detail["samples"] and sum(d["counts"]["reports"] for d in detail["by_day"]) == 53
    events = _webhook_types(smtp_container)
    assert events.count("phishing.wave_detected") == 1

    warning = smtp_client.post(f"/v1/phishing/waves/{big['id']}/warnings", json={"country": "CN"})
    assert warning.status_code == 201, warning.text
    assert smtp_client.post(f"/v1/phishing/waves/{big['id']}/warnings",
                            json={"country": "C1"}).status_code == 422
    notices = waves.warnings_for_account(smtp_container.deps, "CN")
    assert [n.reference for n in notices] == [warning.json()["reference"]]
    assert waves.warnings_for_account(smtp_container.deps, "DE") == []


def _webhook_types(container: Container) -> list[str]:
    from sqlalchemy import select

    from contactguard.adapters.db import tables as t

    with container.engine.connect() as conn:
        rows = conn.execute(select(t.outbox.c.params).where(t.outbox.c.channel == "webhook"))
        return [row.params["type"] for row in rows]


# --- never a server error ----------------------------------------------------------------------


_HEADERS = st.sampled_from([
    b"Content-Type: multipart/report; report-type=delivery-status; boundary=\"x\"\r\n",
    b"Content-Type: multipart/mixed; boundary=\r\n", b"Content-Type: message/rfc822\r\n",
    b"Content-Transfer-Encoding: base64\r\n", b"Content-Type: text/plain; charset=x-unknown\r\n",
    f"To: {REPORT}\r\n".encode(), b"To: bounces+1-zz@" + DOMAIN.encode() + b"\r\n",
    b"In-Reply-To: <CG-AAAA-AAAA.1@" + DOMAIN.encode() + b">\r\n", b"From: =?utf-8?b?####?=\r\n",
    b"From: <>\r\n", b"Subject: \xff\xfe\r\n", b"\r\n--x\r\nContent-Type: message/delivery-status\r\n\r\n",
    b"Final-Recipient: rfc822;\r\nAction: failed\r\nStatus: 5.\r\n"])


@settings(max_examples=60, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(parts=st.lists(st.one_of(_HEADERS, st.binary(max_size=200)), max_size=12))
def test_broken_mime_never_makes_a_server_error(smtp_client: TestClient, parts: list[bytes]) -> None:
    raw = b"".join(parts)
    for params in ({}, {"rcpt_to": REPORT}, {"mail_from": "", "rcpt_to": f"bounces+1-00@{DOMAIN}"}):
        answer = _post(smtp_client, raw, **params)
        assert answer.status_code == 202, answer.text


def test_the_service_drops_what_it_cannot_read(smtp_container: Container) -> None:
    outcome = receive_inbound(smtp_container.deps, b"\x00\xff not mail", None, [REPORT])
    assert outcome.kind.value in {"report", "dropped"}
    assert receive_inbound(smtp_container.deps, b"", None, []).kind.value == "dropped"


# --- campaigns count bounces -------------------------------------------------------------------


def test_a_campaign_funnel_counts_its_bounced_emails(client: TestClient, container: Container,
                                                     clock) -> None:
    from datetime import timedelta

    from contactguard.domain.inbound import verp_address
    from tests.conftest import deliver
    from tests.integration.conftest import make_account
    from tests.integration.test_campaigns import ANNOUNCE, campaign_body, run_campaigns

    clock.set(ANNOUNCE - timedelta(days=40))
    for n in range(3):
        make_account(client, f"gb-{n}", country="GB", email=f"gb{n}@shop.example.co.uk",
                     phone=f"+44 7911 12345{n}")
    clock.set(ANNOUNCE)
    campaign = client.post("/v1/campaigns", json=campaign_body(
        audience={"countries": ["GB"]}, quiet_hours=None, channels=["in_app", "email"])).json()
    client.post(f"/v1/campaigns/{campaign['id']}/launch")
    run_campaigns(container)
    deliver(container)
    with container.deps.reader() as uow:
        account = uow.accounts.by_external_id("gb-1")
        row = next(r for r in uow.outbox.for_account(account.id, limit=10)
                   if r.kind == "campaign_notice" and r.channel == "email")
    verp = verp_address(container.deps.verp_key, row.id, prefix="bounces",
                        domain="contactguard.localhost")
    clock.advance(minutes=5)
    outcome = receive_inbound(container.deps, _dsn(verp, "<x@y>", "gb1@shop.example.co.uk"), "",
                              [verp])
    assert outcome.detail == "contact_marked"
    funnel = client.get(f"/v1/campaigns/{campaign['id']}/funnel").json()
    assert funnel["bounced"] == 1 and funnel["notified"] == 3


def test_an_inline_forward_joins_the_wave_of_attached_copies(smtp_client: TestClient) -> None:
    waves_seen = {_post(smtp_client, _phish(n, reporter=f"s{n}@shop.example"),
                        rcpt_to=REPORT).json()["wave_id"] for n in range(3)}
    assert len(waves_seen) == 1
    inline = EmailMessage()
    inline["From"] = "Jade Garden <jade@garden.example>"
    inline["To"] = REPORT
    inline["Subject"] = "Fwd: Emergency contact verification required"
    inline.set_content(
        "Got this today, please check.\n\n---------- Forwarded message ---------\n"
        "From: Acme Market Support <support@acme-seller-verify1.xyz>\n"
        "Date: Mon, 2 Mar 2026 at 09:00\nSubject: Emergency contact verification required\n"
        "To: <jade@garden.example>\n\nDear Jade Garden,\n\nYour emergency contact must be "
        "verified within 24 hours or your account will be suspended. Please reply to this email "
        "with your password and the 2FA code you receive, then click the link below to confirm."
        "\n\nhttps://acme-verify2.top/confirm?id=5555&seller=77\n\nReply DONE once finished.\n"
        "Acme Market Account Health Team\n")
    answer = _post(smtp_client, inline.as_bytes(), rcpt_to=REPORT).json()
    assert answer["verdict"] == "phishing" and answer["wave_id"] in waves_seen
