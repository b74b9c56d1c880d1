"""Keyed hashing of one-time codes and encryption of secrets waiting in the outbox.

Both keys are derived from ``CONTACTGUARD_SECRET_KEY`` with HKDF, one per purpose, so that
neither can be used in place of the other.
"""

from __future__ import annotations

import base64
import hashlib
import hmac

from cryptography.fernet import Fernet, InvalidToken
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from contactguard.errors import ConfigurationError


def derive_key(secret_key: str, purpose: str) -> bytes:
    """32 bytes for ``purpose`` derived from the master secret."""
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=None,
                info=f"contactguard/{purpose}".encode()).derive(secret_key.encode())


class HmacCodeHasher:
    """Codes are stored as HMAC-SHA256(key, challenge_id ":" code) and compared in constant time."""

    def __init__(self, secret_key: str) -> None:
        self._key = derive_key(secret_key, "otp-hash/v1")

    def hash(self, challenge_id: str, code: str) -> str:
        return hmac.new(self._key, f"{challenge_id}:{code}".encode(), hashlib.sha256).hexdigest()

    def matches(self, challenge_id: str, code: str, stored_hash: str) -> bool:
        return hmac.compare_digest(self.hash(challenge_id, code), stored_hash)


class FernetSecretBox:
    """Authenticated encryption (Fernet: AES-128-CBC + HMAC-SHA256) for outbox secrets."""

    def __init__(self, secret_key: str) -> None:
        self._fernet = Fernet(base64.urlsafe_b64encode(derive_key(secret_key, "outbox-secret/v1")))

    def seal(self, plaintext: bytes) -> str:
        return self._fernet.encrypt(plaintext).decode("ascii")

    def open(self, token: str) -> bytes:
        try:
            return self._fernet.decrypt(token.encode("ascii"))
        except InvalidToken as exc:
            raise ConfigurationError(
                "an outbox secret cannot be decrypted: was CONTACTGUARD_SECRET_KEY changed?"
            ) from exc
