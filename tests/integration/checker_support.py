"""Shared pieces of the checker tests: our own mail sent through real SMTP with DKIM, and
ways readers forward it (attached, inline in several clients' formats)."""

from __future__ import annotations

import base64
import re
from collections.abc import Iterator
from email import message_from_bytes, policy
from email.message import EmailMessage
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from contactguard.adapters.delivery.dkim import generate_key, write_key
from contactguard.bootstrap import Container, bootstrap
from contactguard.domain.contacts import ContactKind
from contactguard.services.delivery import deliver_due
from contactguard.services.verification import start_verification
from contactguard.testing import FrozenClock
from tests.conftest import _truncate, make_settings
from tests.integration.conftest import make_account
from tests.smtp_sink import SmtpSink

DOMAIN = "mail.acme.test"
BRAND = {"platform_name": "Acme Market", "brand_aliases": "Acme Seller Central,Lotus Market",
         "brand_domains": "acme.test,acme-market.example", "public_url": "https://sellers.acme.test",
         "mail_from": f"Acme Market <no-reply@{DOMAIN}>"}


@pytest.fixture
def sink() -> Iterator[SmtpSink]:
    server = SmtpSink()
    server.start()
    yield server
    server.stop()


@pytest.fixture
def dkim_spec(tmp_path: Path) -> str:
    keys = [generate_key("ed25519", "cg-ed"), generate_key("rsa", "cg-rsa")]
    for key in keys:
        write_key(key, tmp_path / f"{key.selector}.pem")
    return ",".join(f"{k.selector}={tmp_path / (k.selector + '.pem')}" for k in keys)


@pytest.fixture
def smtp_container(database_url: str, tmp_path: Path, clock: FrozenClock, sink: SmtpSink,
                   dkim_spec: str) -> Iterator[Container]:
    _truncate(database_url)
    settings = make_settings(database_url, tmp_path, smtp_url=sink.url, dkim_keys=dkim_spec,
                             **BRAND)
    built = bootstrap(settings, clock=clock, start_worker=False)
    yield built
    built.close()


@pytest.fixture
def smtp_client(smtp_container: Container) -> Iterator[TestClient]:
    from contactguard.entrypoints.api.app import create_app
    from contactguard.services.apikeys import create_api_key

    key = create_api_key(smtp_container.deps, "tests").secret
    with TestClient(create_app(smtp_container), raise_server_exceptions=False) as client:
        client.headers["Authorization"] = f"Bearer {key}"
        yield client


def drain(container: Container) -> None:
    while deliver_due(container.deps, container.transports, owner="test").claimed:
        pass


def send_code_email(container: Container, client: TestClient, sink: SmtpSink, *,
                    account: str = "seller-1", locale: str | None = None) -> bytes:
    """Our verification email as the SMTP server received it (DKIM-signed)."""
    make_account(client, account, email=f"{account}@lotus.example.com", phone=None, locale=locale)
    start_verification(container.deps, account=account, contact=ContactKind.EMERGENCY_EMAIL)
    drain(container)
    return [r for r in sink.received if r.rcpt == f"{account}@lotus.example.com"][-1].raw


def bodies(raw: bytes) -> tuple[str, str, str]:
    """Subject, text and HTML of one of our emails."""
    parsed = message_from_bytes(raw, policy=policy.default)
    return (str(parsed["Subject"]), parsed.get_body(("plain",)).get_content(),
            parsed.get_body(("html",)).get_content())


def forward_as_attachment(raw: bytes, *, note: str = "Is this real?") -> bytes:
    """What mail clients send for "forward as attachment": the original bytes, untouched."""
    boundary = "==fwd-boundary-42=="
    return (
        "From: Lotus Tea House <owner@lotus.example.com>\r\nTo: support@acme.test\r\n"
        "Subject: Fwd: is this email from Acme?\r\nMIME-Version: 1.0\r\n"
        f'Content-Type: multipart/mixed; boundary="{boundary}"\r\n\r\n'
        f"--{boundary}\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n{note}\r\n"
        f"--{boundary}\r\nContent-Type: message/rfc822\r\n"
        'Content-Disposition: attachment; filename="original.eml"\r\n\r\n'
    ).encode() + raw + f"\r\n--{boundary}--\r\n".encode()


def gmail_inline(raw: bytes, *, html: bool = False, note: str = "Please check this one.") -> bytes:
    """Gmail's "Forward": the original below a forwarded-message block."""
    subject, text, html_body = bodies(raw)
    header = ("---------- Forwarded message ---------\n"
              "From: Acme Market <no-reply@mail.acme.test>\n"
              "Date: Mon, 2 Mar 2026 at 09:00\n"
              f"Subject: {subject}\n"
              "To: <seller-1@lotus.example.com>\n\n")
    outer = EmailMessage()
    outer["From"] = "owner@lotus.example.com"
    outer["To"] = "support@acme.test"
    outer["Subject"] = f"Fwd: {subject}"
    outer.set_content(f"{note}\n\n{header}{text}\n")
    if html:
        quoted = re.sub(r"(?is)<head>.*?</head>", "", html_body)
        outer.add_alternative(
            f"<div dir=ltr>{note}<br><br><div class=gmail_quote><div dir=ltr class=gmail_attr>"
            "---------- Forwarded message ---------<br>From: <strong>Acme Market</strong> "
            "&lt;no-reply@mail.acme.test&gt;<br>Date: Mon, 2 Mar 2026 at 09:00<br>"
            f"Subject: {subject}<br>To: &lt;seller-1@lotus.example.com&gt;<br></div><br><br>"
            f"{quoted}</div></div>", subtype="html")
    return outer.as_bytes()


def outlook_inline_html_only(raw: bytes, *, chinese: bool = False) -> bytes:
    """Outlook's HTML-only forward (Chinese labels optional), quoted-printable."""
    subject, _text, html_body = bodies(raw)
    labels = (("发件人", "发送时间", "收件人", "主题") if chinese
              else ("From", "Sent", "To", "Subject"))
    quoted = re.sub(r"(?is)<head>.*?</head>", "", html_body)
    outer = EmailMessage()
    outer["From"] = "Lotus Tea House <owner@lotus.example.com>"
    outer["Subject"] = f"FW: {subject}"
    outer.set_content(
        "<html><body><p>FYI</p><hr><div id=divRplyFwdMsg>"
        f"<b>{labels[0]}:</b> Acme Market &lt;no-reply@mail.acme.test&gt;<br>"
        f"<b>{labels[1]}:</b> Monday, March 2, 2026 9:00 AM<br>"
        f"<b>{labels[2]}:</b> seller-1@lotus.example.com<br>"
        f"<b>{labels[3]}:</b> {subject}</div><div>{quoted}</div></body></html>",
        subtype="html", cte="quoted-printable")
    return outer.as_bytes()


def replace_in_text_part(raw: bytes, old: str, new: str) -> bytes:
    """Change the text/plain part of our email (base64 re-encoded), headers untouched."""
    head, _, body = raw.partition(b"\r\n\r\n")
    parts = body.split(b"Content-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: "
                       b"base64\r\n\r\n", 1)
    encoded, _, rest = parts[1].partition(b"--")
    text = base64.b64decode(encoded).decode().replace(old, new)
    new_encoded = base64.encodebytes(text.encode()).replace(b"\n", b"\r\n")
    return head + b"\r\n\r\n" + parts[0] + (
        b"Content-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: base64\r\n\r\n"
        + new_encoded + b"--" + rest)


def code_of(text: str) -> str:
    match = re.search(r"\b(\d{6})\b", text)
    assert match, text
    return match.group(1)
