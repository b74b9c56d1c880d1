import os
import socket

from django.core.mail.backends.base import BaseEmailBackend

#: A Unix datagram socket the bench client listens on (mailbox variants); unset: drop.
CAPTURE = os.environ.get("ALLAUTH_BENCH_CAPTURE")
_sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) if CAPTURE else None


def capture(recipient: str, payload: bytes) -> None:
    """Hand ``payload`` for ``recipient`` to the bench client (its "mailbox")."""
    if _sock is None:
        return
    try:
        _sock.sendto(recipient.encode() + b"\0" + payload, CAPTURE)
    except OSError:
        pass  # nobody listening (between measurements): the message is lost, as a drop


class DiscardingBackend(BaseEmailBackend):
    """Builds each message's MIME form (the work an SMTP backend does first), then drops it,
    or, in the mailbox variants, hands the MIME bytes to the bench client's capture socket."""

    def send_messages(self, email_messages):
        count = 0
        for message in email_messages:
            raw = message.message().as_bytes()
            for recipient in message.recipients():
                capture(recipient, raw)
            count += 1
        return count
