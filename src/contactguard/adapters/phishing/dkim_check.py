"""Verify our own DKIM signatures with dkimpy, from the keys we sign with: no DNS needed.

Only signatures that name our signing domain are checked; a selector we do not have is an
invalid signature of ours (forged), not a lookup on the network.
"""

from __future__ import annotations

import logging
import re

import dkim

from contactguard.adapters.delivery.dkim import DkimKey
from contactguard.domain.phishing import DkimOutcome

_TAG = re.compile(rb"(?:^|;)\s*([a-z]+)\s*=\s*([^;]*)")


class OwnDkimVerifier:
    """Checks the DKIM-Signature headers of ``domain`` against our public keys."""

    def __init__(self, domain: str, keys: list[DkimKey]) -> None:
        self.domain = domain.lower()
        self._records = {f"{key.selector}._domainkey.{self.domain}.".encode():
                         key.public_record().encode() for key in keys}
        self._logger = logging.getLogger("contactguard.checker.dkimpy")
        self._logger.propagate = False  # dkimpy logs a forged selector as an error
        if not self._logger.handlers:
            self._logger.addHandler(logging.NullHandler())

    def _lookup(self, name: bytes, timeout: int = 5) -> bytes | None:
        return self._records.get(name.lower())

    def verify(self, raw: bytes) -> DkimOutcome:
        """Our signatures on ``raw``: the first valid one wins; else why they fail."""
        try:
            checker = dkim.DKIM(raw, logger=self._logger, minkey=1024)
            signatures = [value for name, value in checker.headers
                          if name.lower() == b"dkim-signature"]
        except Exception as exc:
            return DkimOutcome(present=False, valid=False, detail=f"unreadable: {exc}")
        ours: list[tuple[int, dict[bytes, bytes]]] = []
        for index, value in enumerate(signatures):
            tags = {k: v.strip() for k, v in _TAG.findall(value.replace(b"\r\n", b""))}
            if tags.get(b"d", b"").decode(errors="replace").lower().strip(".") == self.domain:
                ours.append((index, tags))
        if not ours:
            return DkimOutcome(present=False, valid=False)
        problems = []
        for index, tags in ours:
            selector = tags.get(b"s", b"").decode(errors="replace")
            try:
                if checker.verify(idx=index, dnsfunc=self._lookup):
                    body = re.sub(rb"\s+", b"", tags.get(b"bh", b"")).decode(errors="replace")
                    return DkimOutcome(present=True, valid=True, selector=selector,
                                       body_digest=body)
                why = "unknown selector" if (f"{selector}._domainkey.{self.domain}.".encode()
                                             not in self._records) else "does not verify"
            except Exception as exc:
                why = f"{type(exc).__name__}: {exc}"[:200]
            problems.append(f"d={self.domain} s={selector}: {why}")
        return DkimOutcome(present=True, valid=False, detail="; ".join(problems))
