"""A checker wired to the real inspector (parsing, domains, DKIM) and an in-memory ledger,
with the platform configured as a well-known brand, plus a builder for raw test messages."""

from __future__ import annotations

from collections.abc import Iterable
from email.message import EmailMessage
from types import TracebackType

from contactguard.adapters.phishing.inspector import MailInspector
from contactguard.domain.ledger import LedgerEntry
from contactguard.services.deps import Branding, Deps
from contactguard.testing import FrozenClock

BRAND_NAMES = ["Amazon", "Amazon Seller Central", "Seller Central", "亚马逊"]
BRAND_DOMAINS = ["amazon.com", "sellercentral.amazon.com", "amazon.co.uk", "amazon.de",
                 "notify.amazon.com"]
MAIL_DOMAIN = "notify.amazon.com"


class _Ledger:
    def __init__(self, entries: list[LedgerEntry]) -> None:
        self.entries = entries

    def find(self, *, references: Iterable[str] = (), message_id: str | None = None,
             text_keys: Iterable[str] = ()) -> list[LedgerEntry]:
        refs, keys = set(references), set(text_keys)
        return [e for e in self.entries if e.reference in refs or e.text_key in keys
                or (message_id and e.message_id == message_id)]


class _Uow:
    def __init__(self, ledger: _Ledger) -> None:
        self.ledger = ledger

    def __enter__(self) -> _Uow:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        return None


_INSPECTOR = MailInspector(brand_names=BRAND_NAMES, brand_domains=BRAND_DOMAINS,
                           dkim_domain=MAIL_DOMAIN, dkim_keys=[])


def brand_deps(entries: list[LedgerEntry] | None = None) -> Deps:
    ledger = _Ledger(entries or [])
    return Deps(uow=lambda: _Uow(ledger), clock=FrozenClock(), hasher=None,  # type: ignore[arg-type]
                box=None, branding=Branding(platform_name="Amazon"),  # type: ignore[arg-type]
                inspector=_INSPECTOR, ledger_key=b"k" * 32)


def email(*, sender: str, subject: str, text: str | None = None, html: str | None = None,
          reply_to: str | None = None, return_path: str | None = None,
          charset: str = "utf-8", cte: str = "base64",
          attachments: Iterable[tuple[str, str, bytes]] = (),
          headers: Iterable[tuple[str, str]] = ()) -> bytes:
    """A raw message as a mail server would hand it over."""
    message = EmailMessage()
    if return_path:
        message["Return-Path"] = return_path
    for name, value in headers:
        message[name] = value
    message["From"] = sender
    message["To"] = "seller@lotus-tea.example.cn"
    message["Subject"] = subject
    message["Date"] = "Mon, 02 Mar 2026 09:00:00 +0800"
    message["Message-ID"] = "<8f2a11c0e6@mailer.example.net>"
    if reply_to:
        message["Reply-To"] = reply_to
    if text is not None:
        message.set_content(text, charset=charset, cte=cte)
        if html is not None:
            message.add_alternative(html, subtype="html", charset=charset, cte=cte)
    elif html is not None:
        message.set_content(html, subtype="html", charset=charset, cte=cte)
    for filename, content_type, data in attachments:
        maintype, subtype = content_type.split("/")
        message.add_attachment(data, maintype=maintype, subtype=subtype, filename=filename)
    return message.as_bytes()
