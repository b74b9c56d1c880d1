"""Dev mode: an embedded SMTP server (aiosmtpd) on loopback that keeps what it receives.

``make run`` sends real, DKIM-signed SMTP to it; each email lands in ``captured_messages``
(subject, text, HTML, the raw bytes and the reference) for ``/v1/dev/messages`` and the dev
inbox page.
"""

from __future__ import annotations

import logging
import socket
from collections.abc import Callable
from email import message_from_bytes, policy
from email.message import EmailMessage
from typing import Any

from aiosmtpd.controller import Controller

log = logging.getLogger("contactguard.dev_smtp")

#: ``store(recipient, subject, text, html, raw, reference)``
Store = Callable[[str, str | None, str, str | None, bytes, str | None], None]


def parse_email(raw: bytes) -> tuple[str | None, str, str | None, str | None]:
    """Subject, text body, HTML body and ContactGuard reference of a raw email."""
    parsed = message_from_bytes(raw, policy=policy.default)
    assert isinstance(parsed, EmailMessage)
    text_part = parsed.get_body(("plain",))
    html_part = parsed.get_body(("html",))
    text = text_part.get_content().replace("\r\n", "\n") if text_part is not None else ""
    html = html_part.get_content().replace("\r\n", "\n") if html_part is not None else None
    subject = str(parsed["Subject"]) if parsed["Subject"] is not None else None
    reference = parsed["X-ContactGuard-Reference"]
    return subject, text, html, str(reference) if reference else None


class CapturingHandler:
    """aiosmtpd handler: stores every accepted email through ``store`` (set after start-up)."""

    def __init__(self, store: Store | None = None) -> None:
        self.store = store

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        raw = bytes(envelope.original_content or envelope.content)
        if self.store is None:  # still starting up: the sender will retry
            return "451 4.3.2 not ready yet, try again shortly"
        try:
            subject, text, html, reference = parse_email(raw)
            for recipient in envelope.rcpt_tos:
                self.store(recipient, subject, text, html, raw, reference)
        except Exception:
            log.exception("dev SMTP server could not store a message")
            return "451 4.3.0 could not store the message"
        return "250 2.0.0 OK: captured"


def free_loopback_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class QuietController(Controller):
    """aiosmtpd's controller, whose readiness probe ends its SMTP session with QUIT.

    The stock probe reads the greeting and hangs up mid-session (an EOF the server reports);
    this one says goodbye like any client.
    """

    def _trigger_server(self) -> None:
        with socket.create_connection((self.hostname or "127.0.0.1", self.port), 1.0) as sock:
            sock.recv(1024)  # the greeting: the server's protocol object now exists
            sock.sendall(b"QUIT\r\n")
            sock.recv(1024)  # 221 Bye


class DevSmtpServer:
    """Starts and stops the embedded server; ``url`` is what the SMTP sender connects to."""

    def __init__(self, handler: CapturingHandler, port: int | None = None) -> None:
        self.port = port or free_loopback_port()
        self.handler = handler
        self._controller = QuietController(handler, hostname="127.0.0.1", port=self.port,
                                           server_hostname="contactguard-dev-smtp",
                                           enable_SMTPUTF8=True)

    @property
    def url(self) -> str:
        return f"smtp://127.0.0.1:{self.port}"

    def start(self) -> None:
        # aiosmtpd traces every session at INFO on "mail.log": each command with the full
        # recipient address, and "Connection lost during _handle_client()" whenever a session
        # ends (its readiness probe's too). Personal data and noise: keep its warnings only.
        logging.getLogger("mail.log").setLevel(logging.WARNING)
        self._controller.start()

    def stop(self) -> None:
        self._controller.stop()
