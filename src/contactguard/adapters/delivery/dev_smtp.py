"""Dev mode: an embedded SMTP server (aiosmtpd) on loopback that keeps what it receives.

``make run`` sends real, DKIM-signed SMTP to it; each email lands in ``captured_messages``
(subject, text, HTML, the raw bytes and the reference) for ``/v1/dev/messages`` and the dev
inbox page. It runs in a child process of ``contactguard serve`` (:class:`DevSmtpServer`).
"""

from __future__ import annotations

import asyncio
import logging
import os
import select
import signal
import socket
import subprocess
import sys
from collections.abc import Callable
from email import message_from_bytes, policy
from email.message import EmailMessage
from typing import Any

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


#: Environment variable naming the database the child stores captured emails in (not an
#: argument: a database URL may carry a password, and arguments are visible in ``ps``).
DATABASE_ENV = "CONTACTGUARD_DEV_SMTP_DATABASE_URL"


class DevSmtpServer:
    """The embedded server in a child process, started and stopped by ``contactguard serve``.

    Out of the web process, SMTP parsing and storing run on another core (as a real mail
    server would) and never compete with the API for the GIL. The child stores each email
    in ``captured_messages`` itself, exits when told to stop, and also when its parent goes
    away (its stdin, a pipe from the parent, reaches end of file). ``url`` is what the SMTP
    sender connects to.
    """

    def __init__(self, database_url: str, port: int | None = None) -> None:
        self.port = port or free_loopback_port()
        self._database_url = database_url
        self._process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"smtp://127.0.0.1:{self.port}"

    def start(self, timeout: float = 30.0) -> None:
        env = {**os.environ, DATABASE_ENV: self._database_url}
        self._process = subprocess.Popen(  # noqa: S603 (our own module, our interpreter)
            [sys.executable, "-m", "contactguard.adapters.delivery.dev_smtp", str(self.port)],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, env=env)
        assert self._process.stdout is not None
        ready, _, _ = select.select([self._process.stdout], [], [], timeout)
        line = self._process.stdout.readline() if ready else b""
        if line.strip() != b"ready":
            self.stop()
            raise RuntimeError("the dev SMTP server did not start")

    def stop(self) -> None:
        process, self._process = self._process, None
        if process is None:
            return
        if process.stdin is not None:
            process.stdin.close()  # end of file: the child stops
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        if process.stdout is not None:
            process.stdout.close()


def database_store(database_url: str) -> Store:
    """``store`` for the child: one insert into ``captured_messages`` per recipient."""
    from contactguard.adapters.clock import SystemClock
    from contactguard.adapters.db.engine import make_engine
    from contactguard.adapters.db.uow import SqlUnitOfWork
    from contactguard.normalize import normalize_recipient

    engine = make_engine(database_url, pool_size=1)
    clock = SystemClock()

    def store(recipient: str, subject: str | None, text: str, html: str | None, raw: bytes,
              reference: str | None) -> None:
        with SqlUnitOfWork(engine) as uow:
            uow.captured.add(channel="email", recipient=normalize_recipient(recipient),
                             subject=subject, body=text, html=html, raw=raw,
                             reference=reference, now=clock.now())
            uow.commit()

    return store


async def _serve(port: int, store: Store) -> None:
    from aiosmtpd.smtp import SMTP

    # aiosmtpd traces every session at INFO on "mail.log": each command with the full
    # recipient address, and "Connection lost during _handle_client()" whenever a session
    # ends. Personal data and noise: keep its warnings only.
    logging.getLogger("mail.log").setLevel(logging.WARNING)
    loop = asyncio.get_running_loop()
    handler = CapturingHandler(store)
    server = await loop.create_server(
        lambda: SMTP(handler, hostname="contactguard-dev-smtp", enable_SMTPUTF8=True),
        host="127.0.0.1", port=port)
    stopped = asyncio.Event()
    # The parent holds our stdin: end of file (stop(), or the parent died) ends the server.
    def on_stdin() -> None:
        if not os.read(sys.stdin.fileno(), 1024):
            stopped.set()

    loop.add_reader(sys.stdin.fileno(), on_stdin)
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stopped.set)
    sys.stdout.write("ready\n")
    sys.stdout.flush()
    await stopped.wait()
    server.close()
    await server.wait_closed()


def main(argv: list[str] | None = None) -> None:
    """The child: ``python -m contactguard.adapters.delivery.dev_smtp PORT``."""
    args = sys.argv[1:] if argv is None else argv
    store = database_store(os.environ[DATABASE_ENV])
    asyncio.run(_serve(int(args[0]), store))


if __name__ == "__main__":
    main()
