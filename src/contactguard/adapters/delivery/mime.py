"""Builds the bytes of an email directly (multipart text + HTML, UTF-8, CRLF), fast and stable.

``email.message.EmailMessage`` costs ~0.8 ms a message; this costs a few microseconds and
gives the DKIM signer exactly the bytes that go on the wire.
"""

from __future__ import annotations

import base64
import hashlib
from datetime import datetime
from email.headerregistry import Address
from email.utils import format_datetime, formataddr

from contactguard.domain.messages import RenderedMessage


def message_id(message: RenderedMessage, domain: str) -> str:
    """A Message-ID that stays the same on every retry of one outbox message."""
    ident = f"{message.outbox_id}" if message.outbox_id is not None else \
        hashlib.sha256(f"{message.to}|{message.body}".encode()).hexdigest()[:16]
    return f"<{message.reference or 'cg'}.{ident}@{domain}>"


def header_text(value: str) -> str:
    """RFC 2047 encoded-words for non-ASCII header text (one per ~45 characters)."""
    if value.isascii():
        return value
    raw = value.encode()
    words, start = [], 0
    while start < len(raw):
        end = min(start + 45, len(raw))
        while end < len(raw) and (raw[end] & 0xC0) == 0x80:  # do not split a UTF-8 sequence
            end -= 1
        words.append(f"=?utf-8?b?{base64.b64encode(raw[start:end]).decode()}?=")
        start = end
    return "\r\n ".join(words)


def _b64_lines(text: str) -> bytes:
    """Base64 of the text with CRLF line ends (canonical MIME text), in 76-character lines."""
    encoded = base64.b64encode(text.replace("\r\n", "\n").replace("\n", "\r\n").encode())
    return b"\r\n".join(encoded[i:i + 76] for i in range(0, len(encoded), 76)) + b"\r\n"


def build_email(message: RenderedMessage, *, mail_from: Address, sent_at: datetime,
                message_id_value: str) -> bytes:
    """The full RFC 5322 message: headers, then text (and HTML when given) parts."""
    boundary = f"=_cg_{hashlib.sha1(message_id_value.encode(), usedforsecurity=False).hexdigest()[:24]}"
    headers = [
        f"From: {formataddr((header_text(mail_from.display_name), mail_from.addr_spec))}"
        if mail_from.display_name else f"From: {mail_from.addr_spec}",
        f"To: {message.to}",
        f"Subject: {header_text(message.subject or '')}",
        f"Date: {format_datetime(sent_at)}",
        f"Message-ID: {message_id_value}",
        "MIME-Version: 1.0",
        f"X-ContactGuard-Reference: {message.reference}",
        f"Content-Language: {message.locale}",
    ]
    text_part = (b"Content-Type: text/plain; charset=utf-8\r\n"
                 b"Content-Transfer-Encoding: base64\r\n\r\n" + _b64_lines(message.body))
    if message.html is None:
        head = "\r\n".join([*headers, text_part.split(b"\r\n\r\n", 1)[0].decode()])
        return head.encode() + b"\r\n\r\n" + _b64_lines(message.body)
    html_part = (b"Content-Type: text/html; charset=utf-8\r\n"
                 b"Content-Transfer-Encoding: base64\r\n\r\n" + _b64_lines(message.html))
    head = "\r\n".join([*headers, f'Content-Type: multipart/alternative; boundary="{boundary}"'])
    marker = f"--{boundary}\r\n".encode()
    return (head.encode() + b"\r\n\r\n" + marker + text_part + marker + html_part
            + f"--{boundary}--\r\n".encode())
