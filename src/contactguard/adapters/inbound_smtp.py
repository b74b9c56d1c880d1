"""The inbound SMTP listener (aiosmtpd) of ``contactguard inbound``: reports, bounces and
replies arrive here (point the report address's MX, or a transport of the platform's MTA, at
it). Each accepted message is handed to one callback (``receive_inbound``) on a thread.

Only recipients in our own domains are accepted (it is not a relay); a message is answered
``250`` once handled, ``451`` (try again later) when handling failed, e.g. the database was
unreachable, so the sending MTA keeps it and retries.
"""

from __future__ import annotations

import asyncio
import logging
import socket
from collections.abc import Callable, Iterable
from typing import Any

from aiosmtpd.controller import Controller

log = logging.getLogger("contactguard.inbound_smtp")


class QuietController(Controller):
    """aiosmtpd's controller, whose readiness probe ends its SMTP session with QUIT.

    The stock probe reads the greeting and hangs up mid-session (an EOF the server logs as
    "Connection lost during _handle_client()"); this one says goodbye like any client.
    """

    def _trigger_server(self) -> None:
        with socket.create_connection((self.hostname or "127.0.0.1", self.port), 1.0) as sock:
            sock.recv(1024)  # the greeting: the server's protocol object now exists
            sock.sendall(b"QUIT\r\n")
            sock.recv(1024)  # 221 Bye

#: A common mail size limit, announced in EHLO (SIZE) and enforced by aiosmtpd.
MAX_MESSAGE_BYTES = 25 * 1024 * 1024

Receive = Callable[[bytes, str, list[str]], object]


class InboundHandler:
    """aiosmtpd handler: recipients of our domains only; DATA goes to ``receive``."""

    def __init__(self, receive: Receive, domains: Iterable[str]) -> None:
        self._receive = receive
        self._domains = {d.lower().rstrip(".") for d in domains if d}

    async def handle_RCPT(self, server: Any, session: Any, envelope: Any, address: str,
                          rcpt_options: list[str]) -> str:
        domain = address.rpartition("@")[2].lower().rstrip(".")
        if domain not in self._domains:
            return "550 5.7.1 relaying denied: not a domain of this server"
        if len(envelope.rcpt_tos) >= 50:
            return "452 4.5.3 too many recipients"
        envelope.rcpt_tos.append(address)
        return "250 2.1.5 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        raw = bytes(envelope.original_content or envelope.content or b"")
        mail_from = str(envelope.mail_from or "")
        rcpts = [str(r) for r in envelope.rcpt_tos]
        try:
            await asyncio.to_thread(self._receive, raw, mail_from, rcpts)
        except Exception as exc:
            log.error("inbound message not handled; the sender will retry",
                      extra={"error_type": type(exc).__name__})
            return "451 4.3.0 temporary failure, try again later"
        return "250 2.0.0 OK"


class InboundSmtpServer:
    """Starts and stops the listener on ``host:port``."""

    def __init__(self, receive: Receive, *, host: str, port: int, domains: Iterable[str],
                 server_hostname: str = "contactguard-inbound") -> None:
        self.host, self.port = host, port
        self.handler = InboundHandler(receive, domains)
        self._controller = QuietController(
            self.handler, hostname=host, port=port, server_hostname=server_hostname,
            data_size_limit=MAX_MESSAGE_BYTES, enable_SMTPUTF8=True)

    def start(self) -> None:
        self._controller.start()
        log.info("inbound SMTP listening", extra={"host": self.host, "port": self.port})

    def stop(self) -> None:
        self._controller.stop()
