"""Email over SMTP: one reused connection per thread, DKIM-signed, with a hand-over point.

``CONTACTGUARD_SMTP_URL``: ``smtp://[user:pass@]host[:port]`` (plain, or STARTTLS with
``?starttls=1`` or the ``smtp+starttls://`` scheme) or ``smtps://`` (implicit TLS).
"""

from __future__ import annotations

import contextlib
import logging
import re
import smtplib
import socket
import ssl
import threading
from collections.abc import Callable
from dataclasses import dataclass, replace
from email.headerregistry import Address
from email.utils import parseaddr
from urllib.parse import parse_qs, unquote, urlsplit

import idna

from contactguard.adapters.delivery.dkim import DkimSigner, body_hash
from contactguard.adapters.delivery.mime import build_email, message_id
from contactguard.domain.messages import Receipt, RenderedMessage
from contactguard.errors import ConfigurationError, PermanentDeliveryError, TransientDeliveryError
from contactguard.ports import Clock

log = logging.getLogger("contactguard.smtp")
_DOTS = re.compile(rb"(?m)^\.")


@dataclass(frozen=True, slots=True)
class SmtpTarget:
    host: str
    port: int
    tls: str  # "none", "starttls" or "implicit"
    username: str | None = None
    password: str | None = None


def parse_smtp_url(url: str) -> SmtpTarget:
    """Raises ConfigurationError for anything but smtp://, smtp+starttls:// or smtps://."""
    parts = urlsplit(url)
    query = parse_qs(parts.query)
    if parts.scheme not in {"smtp", "smtps", "smtp+starttls"} or not parts.hostname:
        raise ConfigurationError("CONTACTGUARD_SMTP_URL must look like smtp://host:port, "
                                 "smtp+starttls://user:pass@host:587 or smtps://host:465")
    tls = "implicit" if parts.scheme == "smtps" else "starttls" if (
        parts.scheme == "smtp+starttls"
        or query.get("starttls", ["0"])[0].lower() in {"1", "true", "yes"}) else "none"
    default_port = {"implicit": 465, "starttls": 587, "none": 25}[tls]
    return SmtpTarget(parts.hostname, parts.port or default_port, tls,
                      unquote(parts.username) if parts.username else None,
                      unquote(parts.password) if parts.password else None)


def parse_mail_from(value: str) -> Address:
    """``Name <addr@domain>`` or ``addr@domain``. Raises ConfigurationError."""
    name, addr = parseaddr(value)
    local, _, domain = addr.rpartition("@")
    if not local or not domain or "." not in domain:
        raise ConfigurationError("CONTACTGUARD_MAIL_FROM must be an address such as "
                                 "'Acme Market <no-reply@acme.example>'")
    return Address(display_name=name, username=local, domain=domain)


class SmtpSender:
    """Sends rendered emails; each thread keeps one SMTP connection open and reuses it."""

    supports_handover = True

    def __init__(self, target: SmtpTarget, mail_from: Address, clock: Clock, *,
                 signer: DkimSigner | None = None, timeout: float = 30.0,
                 name: str = "smtp", tls_context: ssl.SSLContext | None = None,
                 return_path: Callable[[RenderedMessage], str | None] | None = None) -> None:
        self.name = name
        #: The envelope sender (Return-Path) of a message: a VERP address that names it, so
        #: its bounce can be matched (inbound mail, issue 9); None: the From address.
        self._return_path = return_path
        self._target = target
        self._from = mail_from
        self._clock = clock
        self._signer = signer
        self._timeout = timeout
        self._tls = tls_context
        self._local = threading.local()
        self._open: set[smtplib.SMTP] = set()  # every thread's connection, for close()
        self._open_lock = threading.Lock()

    def render_bytes(self, message: RenderedMessage) -> tuple[str, bytes]:
        """The Message-ID and the signed bytes of ``message`` (used by send and the benchmark)."""
        now = self._clock.now()
        ident = message_id(message, self._from.domain)
        raw = build_email(message, mail_from=self._from, sent_at=now, message_id_value=ident)
        if self._signer is not None:
            raw = self._signer.sign(raw, int(now.timestamp()))
        return ident, raw

    def send(self, message: RenderedMessage, *,
             handover: Callable[[], None] | None = None) -> Receipt:
        """Raises TransientDeliveryError (4xx, connection trouble) or PermanentDeliveryError.

        An internationalized domain is sent in its ASCII (IDNA) form; a non-ASCII local part
        needs the server's SMTPUTF8 extension, and without it the message fails for good
        (the address cannot receive mail through this server). On any other error the
        connection is closed, so the next message starts on a clean one.
        """
        to, utf8 = envelope_address(message.to)
        if to != message.to:
            message = replace(message, to=to)
        ident, raw = self.render_bytes(message)
        envelope_from = (self._return_path(message) if self._return_path else None) \
            or self._from.addr_spec
        handed: list[bool] = []

        def mark() -> None:
            if handover is not None:
                handover()
            handed.append(True)

        try:
            for retry in (False, True):
                conn, fresh = self._connection()
                if utf8 and not conn.has_extn("smtputf8"):
                    raise PermanentDeliveryError(
                        "the mail server does not offer SMTPUTF8, which an address with "
                        "non-ASCII characters before the @ needs: it cannot receive email "
                        "through this server", recipient_fault=True)
                try:
                    self._transaction(conn, to, raw, mark, utf8=utf8, envelope_from=envelope_from)
                    break
                except (smtplib.SMTPServerDisconnected, ConnectionError):
                    # A reused connection the server closed while idle: reconnect once.
                    self._drop()
                    if fresh or retry or handed:
                        raise
        except smtplib.SMTPResponseException as exc:
            self._drop()
            raise _classify(exc.smtp_code, exc.smtp_error, "the mail server") from exc
        except smtplib.SMTPRecipientsRefused as exc:
            code, text = next(iter(exc.recipients.values()))
            raise _classify(code, text, "the recipient", recipient=True) from exc
        except (OSError, smtplib.SMTPException) as exc:
            self._drop()
            raise TransientDeliveryError(f"SMTP {self._target.host}:{self._target.port}: "
                                         f"{type(exc).__name__}: {exc}") from exc
        except PermanentDeliveryError:
            raise  # decided before the transaction began: the connection is clean
        except BaseException:
            self._drop()  # whatever happened mid-transaction, the next message starts clean
            raise
        return Receipt(self.name, ident, message_id=ident, body_digest=body_hash(raw),
                       dkim_selectors=tuple(k.selector for k in self._signer.keys)
                       if self._signer else ())

    def close(self) -> None:
        """End every thread's session politely (QUIT), so the server logs no lost connection."""
        self._local.conn = None
        with self._open_lock:
            conns, self._open = list(self._open), set()
        for conn in conns:
            with contextlib.suppress(OSError, smtplib.SMTPException):
                conn.quit()
            with contextlib.suppress(OSError):
                conn.close()

    def reset(self) -> None:
        """Forget this thread's connection (after an unexpected error)."""
        self._drop()

    def _transaction(self, conn: smtplib.SMTP, to: str, raw: bytes,
                     handover: Callable[[], None], *, utf8: bool = False,
                     envelope_from: str = "") -> None:
        sender = envelope_from or self._from.addr_spec
        code, text = conn.mail(sender, ["SMTPUTF8"] if utf8 else [])
        if code != 250:
            conn.rset()
            raise smtplib.SMTPSenderRefused(code, text, sender)
        code, text = conn.rcpt(to)
        if code not in (250, 251):
            conn.rset()
            raise smtplib.SMTPRecipientsRefused({to: (code, text)})
        code, text = conn.docmd("data")
        if code != 354:
            raise smtplib.SMTPDataError(code, text)
        data = _DOTS.sub(b"..", raw)
        if not data.endswith(b"\r\n"):
            data += b"\r\n"
        try:
            handover()  # commits "handed over"; past this the server may accept it
        except BaseException:
            self._drop()  # closing in DATA, before the final ".", makes the server drop it
            raise
        conn.send(data + b".\r\n")  # one write: the message and its end, right after the mark
        code, text = conn.getreply()
        if code != 250:
            raise smtplib.SMTPDataError(code, text)

    def _connection(self) -> tuple[smtplib.SMTP, bool]:
        conn: smtplib.SMTP | None = getattr(self._local, "conn", None)
        if conn is not None:
            return conn, False
        target = self._target
        context = self._tls or ssl.create_default_context()
        if target.tls == "implicit":
            conn = smtplib.SMTP_SSL(target.host, target.port, timeout=self._timeout,
                                    context=context, local_hostname=_local_name())
        else:
            conn = smtplib.SMTP(target.host, target.port, timeout=self._timeout,
                                local_hostname=_local_name())
            conn.ehlo()
            if target.tls == "starttls":
                conn.starttls(context=context)
                conn.ehlo()
        if conn.sock is not None:  # the final "." is a separate small write: no Nagle delay
            conn.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        if target.username:
            conn.login(target.username, target.password or "")
        self._local.conn = conn
        with self._open_lock:
            self._open.add(conn)
        return conn, True

    def _drop(self) -> None:
        conn = getattr(self._local, "conn", None)
        self._local.conn = None
        if conn is not None:
            with self._open_lock:
                self._open.discard(conn)
            with contextlib.suppress(OSError):
                conn.close()


def envelope_address(address: str) -> tuple[str, bool]:
    """The address as SMTP carries it, and whether it needs SMTPUTF8.

    The domain is converted to its ASCII form (IDNA 2008 with UTS #46 mapping); a non-ASCII
    local part cannot be converted and needs SMTPUTF8. Raises PermanentDeliveryError
    (recipient fault) for a domain that has no valid ASCII form.
    """
    local, _, domain = address.rpartition("@")
    if not domain.isascii():
        try:
            domain = idna.encode(domain, uts46=True).decode("ascii")
        except (idna.IDNAError, UnicodeError) as exc:
            raise PermanentDeliveryError("the address's domain is not a valid internationalized "
                                         "domain name", recipient_fault=True) from exc
    return f"{local}@{domain}", not local.isascii()


def _local_name() -> str:
    return socket.getfqdn()[:200] or "localhost"


def _classify(code: int, text: bytes | str, who: str, *,
              recipient: bool = False) -> TransientDeliveryError | PermanentDeliveryError:
    reason = text.decode(errors="replace") if isinstance(text, bytes) else str(text)
    detail = f"SMTP {code} from {who}: {reason}"
    if 400 <= code < 500 or code < 200:
        return TransientDeliveryError(detail)
    return PermanentDeliveryError(detail, recipient_fault=recipient)
