"""Dev mode's SMTP server is a child process (issue 10): it stores what it receives in the
database itself, and it ends when told to stop or when the parent closes its stdin."""

from __future__ import annotations

import smtplib
from email.message import EmailMessage

from contactguard.adapters.delivery.dev_smtp import DevSmtpServer
from contactguard.bootstrap import Container
from contactguard.services.dev import list_captured_messages


def _send(port: int, to: str) -> None:
    message = EmailMessage()
    message["From"], message["To"], message["Subject"] = "a@example.com", to, "Code"
    message["X-ContactGuard-Reference"] = "REF-1"
    message.set_content("Your code is:\n\n    123456\n")
    with smtplib.SMTP("127.0.0.1", port, timeout=10) as smtp:
        smtp.send_message(message)


def test_the_child_stores_received_email_and_stops(database_url: str,
                                                   container: Container) -> None:
    server = DevSmtpServer(database_url)
    server.start()
    process = server._process  # the child, to see it end
    assert process is not None and process.poll() is None
    try:
        _send(server.port, "Owner@Example.COM")
        [found] = list_captured_messages(container.deps, to="Owner@example.com")
        assert found.channel == "email" and found.subject == "Code"
        assert "123456" in found.body and found.reference == "REF-1"
    finally:
        server.stop()
    assert process.poll() is not None  # stopped (its stdin closed)
    server.stop()  # twice is harmless
