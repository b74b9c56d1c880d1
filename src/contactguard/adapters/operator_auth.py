"""The console's two factors: argon2id password hashes and TOTP codes (RFC 6238).

``argon2-cffi`` hashes with argon2id and the RFC 9106 "low memory" parameters (3 passes,
64 MiB, 4 lanes); ``pyotp`` computes the 6-digit, 30-second codes authenticator apps show.
"""

from __future__ import annotations

import hmac
from datetime import datetime
from functools import cached_property

import pyotp
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

TOTP_STEP_SECONDS = 30
TOTP_DIGITS = 6


class Argon2Passwords:
    """``PasswordHasher`` port: hash, verify (constant time), and whether to re-hash."""

    def __init__(self, *, time_cost: int = 3, memory_cost: int = 65536,
                 parallelism: int = 4) -> None:
        self._hasher = PasswordHasher(time_cost=time_cost, memory_cost=memory_cost,
                                      parallelism=parallelism)

    def hash(self, password: str) -> str:
        return self._hasher.hash(password)

    def verify(self, stored_hash: str | None, password: str) -> bool:
        """True if ``password`` matches; with no stored hash a dummy one is checked, so an
        unknown email costs the same time as a wrong password."""
        try:
            return self._hasher.verify(stored_hash or self._dummy, password)
        except (VerifyMismatchError, VerificationError, InvalidHashError):
            return False

    def needs_rehash(self, stored_hash: str) -> bool:
        return self._hasher.check_needs_rehash(stored_hash)

    @cached_property
    def _dummy(self) -> str:
        return self._hasher.hash("no such operator: this hash only costs time")


class TotpFactor:
    """``SecondFactor`` port: RFC 6238 secrets, provisioning URIs and code matching."""

    def __init__(self, issuer: str) -> None:
        self.issuer = issuer

    def new_secret(self) -> str:
        return pyotp.random_base32(32)  # 160 bits, as RFC 4226 recommends

    def provisioning_uri(self, secret: str, account: str) -> str:
        """The ``otpauth://`` URI an authenticator app reads from the QR code."""
        uri: str = pyotp.TOTP(secret, digits=TOTP_DIGITS, interval=TOTP_STEP_SECONDS).provisioning_uri(
            name=account, issuer_name=self.issuer)
        return uri

    def match(self, secret: str, code: str, now: datetime) -> int | None:
        """The time step ``code`` belongs to (the current one or one step either side, for
        clock drift), or None. The caller refuses a step already used (replay)."""
        digits = "".join(code.split())
        if len(digits) != TOTP_DIGITS or not digits.isdigit():
            return None
        totp = pyotp.TOTP(secret, digits=TOTP_DIGITS, interval=TOTP_STEP_SECONDS)
        current = int(now.timestamp()) // TOTP_STEP_SECONDS
        found = None
        for step in (current - 1, current, current + 1):  # compare all: no early exit
            expected = totp.generate_otp(step)
            if hmac.compare_digest(expected.encode(), digits.encode()):
                found = step
        return found

    def code_at(self, secret: str, now: datetime) -> str:
        """The code an app shows at ``now`` (dev mode's sign-in help and tests)."""
        return str(pyotp.TOTP(secret).at(now))
