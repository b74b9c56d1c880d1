"""DKIM signing (RFC 6376, relaxed/relaxed) with RSA-SHA256 and Ed25519-SHA256 (RFC 8463).

Signatures are made with ``cryptography`` (OpenSSL) over our own canonicalization: several
times faster than a pure-Python RSA, and the keys are parsed once, at start-up.
"""

from __future__ import annotations

import base64
import hashlib
import os
import re
from dataclasses import dataclass
from pathlib import Path

from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ed25519, padding, rsa

from contactguard.errors import ConfigurationError

#: Headers covered by the signature, in this order (those absent are skipped).
SIGNED_HEADERS = ("from", "to", "subject", "date", "message-id", "mime-version", "content-type",
                  "x-contactguard-reference")
_SIGNED_BYTES = tuple(h.encode() for h in SIGNED_HEADERS)
_WSP = re.compile(rb"[ \t]+")
_WSP_EOL = re.compile(rb" \r\n")
_FOLD = re.compile(rb"\r\n(?=[ \t])")
_TRAILING_EMPTY = re.compile(rb"(\r\n)+\Z")


@dataclass(frozen=True, slots=True)
class DkimKey:
    selector: str
    private_key: rsa.RSAPrivateKey | ed25519.Ed25519PrivateKey

    @property
    def algorithm(self) -> str:
        return "ed25519-sha256" if isinstance(self.private_key, ed25519.Ed25519PrivateKey) \
            else "rsa-sha256"

    @property
    def key_type(self) -> str:
        return "ed25519" if self.algorithm.startswith("ed25519") else "rsa"

    def public_record(self) -> str:
        """The TXT record value to publish at ``<selector>._domainkey.<domain>``."""
        public = self.private_key.public_key()
        if isinstance(public, ed25519.Ed25519PublicKey):
            raw = public.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
        else:
            raw = public.public_bytes(serialization.Encoding.DER,
                                      serialization.PublicFormat.SubjectPublicKeyInfo)
        return f"v=DKIM1; k={self.key_type}; p={base64.b64encode(raw).decode()}"

    def sign(self, data: bytes) -> bytes:
        if isinstance(self.private_key, ed25519.Ed25519PrivateKey):
            return self.private_key.sign(hashlib.sha256(data).digest())  # RFC 8463: sign the hash
        return self.private_key.sign(data, padding.PKCS1v15(), hashes.SHA256())


def generate_key(algorithm: str, selector: str) -> DkimKey:
    """A new Ed25519 or RSA-2048 key. Raises ConfigurationError for another algorithm."""
    if algorithm == "ed25519":
        return DkimKey(selector, ed25519.Ed25519PrivateKey.generate())
    if algorithm == "rsa":
        return DkimKey(selector, rsa.generate_private_key(public_exponent=65537, key_size=2048))
    raise ConfigurationError(f"unknown DKIM algorithm '{algorithm}' (use ed25519 or rsa)")


def write_key(key: DkimKey, path: Path) -> None:
    """Write the private key as PKCS#8 PEM, readable by its owner only."""
    pem = key.private_key.private_bytes(serialization.Encoding.PEM,
                                        serialization.PrivateFormat.PKCS8,
                                        serialization.NoEncryption())
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as handle:
        handle.write(pem)


def dns_txt_record(key: DkimKey, domain: str) -> str:
    """``S._domainkey.<domain> TXT "..."``, split into <=255-character strings."""
    value = key.public_record()
    chunks = " ".join(f'"{value[i:i + 250]}"' for i in range(0, len(value), 250))
    return f"{key.selector}._domainkey.{domain} TXT {chunks}"


def load_keys(spec: str) -> list[DkimKey]:
    """Parse ``selector=path[,selector=path]`` and load each PEM key (RSA or Ed25519).

    Raises ConfigurationError naming the bad entry.
    """
    keys: list[DkimKey] = []
    for entry in filter(None, (part.strip() for part in spec.split(","))):
        selector, sep, path = entry.partition("=")
        if not sep or not selector.strip() or not path.strip():
            raise ConfigurationError(f"CONTACTGUARD_DKIM_KEYS: '{entry}' is not selector=path")
        try:
            loaded = serialization.load_pem_private_key(Path(path.strip()).read_bytes(), None)
        except (OSError, ValueError, TypeError) as exc:
            raise ConfigurationError(f"CONTACTGUARD_DKIM_KEYS: cannot load {path.strip()}: {exc}"
                                     ) from exc
        if isinstance(loaded, rsa.RSAPrivateKey) and loaded.key_size < 2048:
            raise ConfigurationError(f"DKIM key {path.strip()}: RSA keys need >= 2048 bits")
        if not isinstance(loaded, rsa.RSAPrivateKey | ed25519.Ed25519PrivateKey):
            raise ConfigurationError(f"DKIM key {path.strip()}: only RSA and Ed25519 are supported")
        keys.append(DkimKey(selector.strip(), loaded))
    return keys


class DkimSigner:
    """Adds one ``DKIM-Signature`` per key to a message built with CRLF line endings."""

    def __init__(self, domain: str, keys: list[DkimKey]) -> None:
        self.domain = domain
        self.keys = keys

    def sign(self, message: bytes, timestamp: int) -> bytes:
        head, _sep, body = message.partition(b"\r\n\r\n")
        fields = _parse_headers(head + b"\r\n")
        body_hash = base64.b64encode(hashlib.sha256(_relaxed_body(body)).digest()).decode()
        by_name: dict[bytes, tuple[bytes, bytes]] = {}
        for name, value in fields:  # the last instance of a header is the one signed
            by_name[name.strip().lower()] = (name, value)
        chosen = [by_name[h] for h in _SIGNED_BYTES if h in by_name]
        signed_names = ":".join(name.decode().lower() for name, _ in chosen)
        canon_headers = b"".join(_relaxed_header(n, v) + b"\r\n" for n, v in chosen)
        signatures = []
        for key in self.keys:
            value = (f" v=1; a={key.algorithm}; c=relaxed/relaxed; d={self.domain};"
                     f" s={key.selector};\r\n\tt={timestamp}; h={signed_names};\r\n\tbh={body_hash};"
                     "\r\n\tb=").encode()
            data = canon_headers + _relaxed_header(b"DKIM-Signature", value)
            signature = base64.b64encode(key.sign(data))
            signatures.append(b"DKIM-Signature:" + value + signature + b"\r\n")
        return b"".join(signatures) + message


def body_hash(message: bytes) -> str:
    """The DKIM body hash (``bh=``, relaxed, SHA-256) of a message built with CRLF endings."""
    body = message.partition(b"\r\n\r\n")[2]
    return base64.b64encode(hashlib.sha256(_relaxed_body(body)).digest()).decode()


def _parse_headers(head: bytes) -> list[tuple[bytes, bytes]]:
    """Header fields as (name, raw value with folding), in order."""
    fields: list[tuple[bytes, bytes]] = []
    for line in _FOLD.sub(b"\x00", head).split(b"\r\n"):
        if not line:
            continue
        name, _, value = line.partition(b":")
        fields.append((name, value.replace(b"\x00", b"\r\n")))
    return fields


def _relaxed_header(name: bytes, value: bytes) -> bytes:
    value = _WSP.sub(b" ", value.replace(b"\r\n", b"")).strip(b" \t")
    return name.strip().lower() + b":" + value


def _relaxed_body(body: bytes) -> bytes:
    """Whitespace runs to one space, none at line ends, no empty lines at the end."""
    if b" " in body or b"\t" in body:
        body = _WSP_EOL.sub(b"\r\n", _WSP.sub(b" ", body))
    canon = _TRAILING_EMPTY.sub(b"", body)
    return canon + b"\r\n" if canon else b""
