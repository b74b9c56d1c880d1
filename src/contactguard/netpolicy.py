"""Where webhooks may go: URL syntax and the addresses a delivery may connect to (no I/O).

A webhook URL is checked when it is registered and again before every delivery; the host's
addresses are resolved at send time and each one must be a public (globally routable)
unicast address, unless the operator allows private ones (development). The delivery then
connects to the address that was checked, never resolving the name a second time.
"""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass
from urllib.parse import urlsplit

import idna

MAX_URL_LENGTH = 2000
_DEFAULT_PORTS = {"http": 80, "https": 443}
# WHATWG URL: a host whose last label is a number (decimal, 0x-hex or 0-octal) is an IPv4
# address in some notation (``2130706433``, ``0x7f000001``, ``0177.0.0.1``, ``127.1``).
_NUMERIC_LABEL = re.compile(r"^(0x[0-9a-f]*|[0-9]+)$", re.IGNORECASE)
_DOTTED_QUAD = re.compile(r"^(25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])"
                          r"(\.(25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])){3}$")
_NAT64 = ipaddress.IPv6Network("64:ff9b::/96")


class InvalidWebhookUrl(ValueError):
    """The URL cannot be used for a webhook; the message says why (safe to show)."""


@dataclass(frozen=True, slots=True)
class WebhookTarget:
    """A parsed webhook URL: where to connect and what to put in the request."""

    scheme: str
    host: str  # ASCII: an IDNA-encoded name, or an IP address without brackets
    port: int
    target: str  # path and query, as given
    is_ip: bool

    @property
    def host_header(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return host if self.port == _DEFAULT_PORTS[self.scheme] else f"{host}:{self.port}"

    def url_for(self, address: str) -> str:
        """The URL with its host replaced by ``address`` (the one that was checked)."""
        host = f"[{address}]" if ":" in address else address
        return f"{self.scheme}://{host}:{self.port}{self.target}"


def parse_webhook_url(url: str) -> WebhookTarget:
    """Raises InvalidWebhookUrl for anything but a plain absolute http(s) URL."""
    if len(url) > MAX_URL_LENGTH:
        raise InvalidWebhookUrl(f"at most {MAX_URL_LENGTH} characters")
    if any(ch.isspace() or ord(ch) < 0x20 or 0x7F <= ord(ch) < 0xA0 or ch == "\\" for ch in url):
        raise InvalidWebhookUrl("must not contain spaces, control characters or backslashes")
    try:
        parts = urlsplit(url)
        port = parts.port
        hostname = parts.hostname
    except ValueError as exc:  # a bad port, an unclosed [ ...
        raise InvalidWebhookUrl(f"not a valid URL ({exc})") from None
    if parts.scheme not in _DEFAULT_PORTS or not hostname:
        raise InvalidWebhookUrl("an absolute http(s) URL, e.g. https://platform.example.com/hooks")
    if parts.username is not None or parts.password is not None:
        raise InvalidWebhookUrl("must not contain credentials")
    if port == 0:
        raise InvalidWebhookUrl("port 0 cannot be used")
    target = parts.path or "/"
    if parts.query:
        target += "?" + parts.query
    host, is_ip = _host(hostname, bracketed=parts.netloc.rpartition("@")[2].startswith("["))
    return WebhookTarget(parts.scheme, host, port or _DEFAULT_PORTS[parts.scheme], target, is_ip)


def _host(hostname: str, *, bracketed: bool) -> tuple[str, bool]:
    if bracketed:
        if "%" in hostname:
            raise InvalidWebhookUrl("IPv6 zone identifiers cannot be used")
        try:
            return str(ipaddress.IPv6Address(hostname)), True
        except ValueError:
            raise InvalidWebhookUrl("not a valid IPv6 address") from None
    name = hostname.rstrip(".")
    labels = name.split(".")
    if _NUMERIC_LABEL.match(labels[-1]):
        if not _DOTTED_QUAD.match(name):
            raise InvalidWebhookUrl("write an IPv4 address as four decimal numbers (a.b.c.d)")
        return name, True
    try:
        ascii_name = idna.encode(name, uts46=True).decode("ascii")
    except (idna.IDNAError, UnicodeError):
        raise InvalidWebhookUrl("not a valid host name") from None
    return ascii_name.lower(), False


def address_refusal(address: str) -> str | None:
    """Why a delivery may not connect to ``address`` (None: a public unicast address)."""
    ip = ipaddress.ip_address(address)
    if isinstance(ip, ipaddress.IPv6Address):
        embedded = ip.ipv4_mapped or (ip.sixtofour if ip.sixtofour else None)
        if embedded is None and ip.teredo is not None:
            embedded = ip.teredo[1]
        if embedded is None and ip in _NAT64:
            embedded = ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
        if embedded is not None:
            inner = address_refusal(str(embedded))
            return f"{inner} (embedded in IPv6)" if inner else None
        if ip.is_site_local:
            return "a private address"
    if ip.is_unspecified:
        return "an unspecified address"
    if ip.is_loopback:
        return "a loopback address"
    if ip.is_link_local:
        return "a link-local address"
    if ip.is_multicast:
        return "a multicast address"
    if ip.is_private:
        return "a private address"
    if ip.is_reserved or not ip.is_global:
        return "a reserved address"
    return None
