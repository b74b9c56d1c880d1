"""The checker's window on a message: parsing, domains and our own DKIM keys in one object.

Built by bootstrap and cheap to build: the parsing libraries (dkimpy pulls in dnspython),
the suffix list and the confusables table load on first use, not in every CLI command.
"""

from __future__ import annotations

import threading
from pathlib import Path
from typing import TYPE_CHECKING

from contactguard.adapters.delivery.dkim import DkimKey, load_keys
from contactguard.domain.phishing import DkimOutcome, DomainClass, ParsedMessage
from contactguard.errors import MessageUnparseable

if TYPE_CHECKING:
    from contactguard.adapters.phishing.dkim_check import OwnDkimVerifier
    from contactguard.adapters.phishing.domains import BrandDomains


class MailInspector:
    """Implements ``ports.MessageInspector``."""

    def __init__(self, *, brand_names: list[str], brand_domains: list[str], dkim_domain: str,
                 dkim_keys: list[DkimKey] | None = None, dkim_spec: str = "",
                 dev_key_dir: Path | None = None) -> None:
        self.brand_names = brand_names
        self.brand_domains = brand_domains
        self.dkim_domain = dkim_domain.lower()
        self._keys = dkim_keys
        self._spec = dkim_spec
        self._dev_key_dir = dev_key_dir
        self._lock = threading.Lock()
        self._brand: BrandDomains | None = None
        self._verifier: OwnDkimVerifier | None = None

    @property
    def brand(self) -> BrandDomains:
        if self._brand is None:
            with self._lock:
                if self._brand is None:
                    from contactguard.adapters.phishing.domains import BrandDomains

                    self._brand = BrandDomains(self.brand_names, self.brand_domains)
        return self._brand

    def _dkim(self) -> OwnDkimVerifier:
        if self._verifier is None:
            with self._lock:
                if self._verifier is None:
                    from contactguard.adapters.phishing.dkim_check import OwnDkimVerifier

                    self._verifier = OwnDkimVerifier(self.dkim_domain, self._load_keys())
        return self._verifier

    def _load_keys(self) -> list[DkimKey]:
        if self._keys is not None:
            return self._keys
        if self._spec:
            return load_keys(self._spec)
        folder = self._dev_key_dir
        if folder is not None and folder.is_dir():  # dev mode: the keys `make run` signs with
            return load_keys(",".join(f"{p.stem}={p}" for p in sorted(folder.glob("*.pem"))))
        return []

    # --- parsing ---

    def parse_email(self, raw: bytes) -> ParsedMessage:
        """Raises MessageUnparseable when ``raw`` is not an email message."""
        from contactguard.adapters.phishing import mail

        try:
            return mail.parse_email(raw)
        except mail.Unparseable as exc:
            raise MessageUnparseable(str(exc)) from None

    def parse_text(self, text: str) -> ParsedMessage:
        from contactguard.adapters.phishing import mail

        return mail.parse_text(text)

    def looks_like_raw(self, text: str) -> bool:
        from contactguard.adapters.phishing import mail

        return mail.looks_like_raw(text)

    # --- DKIM ---

    def signs_for_us(self, message: ParsedMessage) -> bool:
        return self.dkim_domain in message.dkim_domains

    def verify_dkim(self, raw: bytes) -> DkimOutcome:
        return self._dkim().verify(raw)

    # --- domains and names ---

    def classify(self, host: str) -> DomainClass:
        return self.brand.classify(host)

    def registered(self, host: str) -> str:
        return self.brand.registered(host)

    def brand_mention(self, text: str) -> str | None:
        return self.brand.mention(text)

    def brand_in_display_name(self, name: str) -> str | None:
        return self.brand.in_display_name(name)

    def hosts_in(self, text: str) -> list[str]:
        """Domains a link's visible text shows (``https://acme.com/login`` -> acme.com)."""
        from contactguard.adapters.phishing import mail
        from contactguard.domain.ledger import urls_in

        hosts = [mail.host_of(url) for url in urls_in(text)]
        hosts += mail.mentioned_hosts(text)
        return [h for h in dict.fromkeys(hosts) if h]
