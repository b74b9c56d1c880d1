"""A real SMTP server on loopback (aiosmtpd) that records what arrives, for delivery tests."""

from __future__ import annotations

import asyncio
import threading
from collections import Counter
from dataclasses import dataclass, field
from email import message_from_bytes, policy

from aiosmtpd.controller import Controller

from contactguard.adapters.delivery.dev_smtp import free_loopback_port


@dataclass
class Received:
    rcpt: str
    raw: bytes
    mail_from: str = ""  # the envelope sender (MAIL FROM)

    @property
    def message_id(self) -> str:
        return str(message_from_bytes(self.raw, policy=policy.default)["Message-ID"])

    @property
    def parsed(self):
        return message_from_bytes(self.raw, policy=policy.default)


@dataclass
class SinkHandler:
    received: list[Received] = field(default_factory=list)
    reject_rcpt: dict[str, str] = field(default_factory=dict)  # address -> SMTP reply
    # Seconds to wait before accepting each recipient: slows a pipeline down without making
    # the end of DATA slow (aiosmtpd drops a message whose client leaves before the reply).
    delay: float = 0.0
    in_rcpt: set[int | None] = field(default_factory=set)  # client ports waiting in RCPT
    lock: threading.Lock = field(default_factory=threading.Lock)
    # Hold the reply to the final "." of the next message (recorded as received) until
    # ``release`` is set: the client is past its hand-over point, waiting for the answer.
    hold_next: bool = False
    holding: int | None = None  # client port of the message being held
    release: threading.Event = field(default_factory=threading.Event)

    def waiting_in_rcpt(self) -> set[int | None]:
        with self.lock:
            return set(self.in_rcpt)

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if self.delay:
            peer = session.peer[1] if session.peer else None
            with self.lock:  # a client waiting here has not handed its message over yet
                self.in_rcpt.add(peer)
            try:
                await asyncio.sleep(self.delay)
            finally:
                with self.lock:
                    self.in_rcpt.discard(peer)
        if address in self.reject_rcpt:
            return self.reject_rcpt[address]
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        with self.lock:
            for rcpt in envelope.rcpt_tos:
                self.received.append(Received(rcpt, bytes(envelope.original_content),
                                              envelope.mail_from or ""))
            hold, self.hold_next = self.hold_next, False
            if hold:
                self.holding = session.peer[1] if session.peer else None
        while hold and not self.release.is_set():
            await asyncio.sleep(0.02)
        return "250 OK queued"


class SmtpSink:
    """Start, stop and restart (on the same port) a recording SMTP server."""

    def __init__(self, handler: SinkHandler | None = None, *, smtputf8: bool = False) -> None:
        self.handler = handler or SinkHandler()
        self.port = free_loopback_port()
        self.smtputf8 = smtputf8
        self._controller: Controller | None = None

    @property
    def url(self) -> str:
        return f"smtp://127.0.0.1:{self.port}"

    def start(self) -> None:
        self._controller = Controller(self.handler, hostname="127.0.0.1", port=self.port,
                                      enable_SMTPUTF8=self.smtputf8)
        self._controller.start()

    def stop(self) -> None:
        if self._controller is not None:
            self._controller.stop()
            self._controller = None

    @property
    def received(self) -> list[Received]:
        with self.handler.lock:
            return list(self.handler.received)

    def message_id_counts(self) -> Counter[str]:
        return Counter(item.message_id for item in self.received)
