"""A generic HTTP gateway for SMS or voice: a signed JSON POST per message.

The body is ``{"id", "reference", "channel", "to", "text", "locale"}``; the header
``X-ContactGuard-Signature: t=<unix>,v1=<hex HMAC-SHA256(secret, "<t>.<body>")>``.
The gateway answers 2xx (optionally ``{"id": ...}``); 4xx with ``{"error": ..., "permanent":
true}`` fails the message (and marks the recipient undeliverable); 429/5xx/timeouts retry.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from collections.abc import Callable

import httpx

from contactguard.domain.messages import Receipt, RenderedMessage
from contactguard.errors import PermanentDeliveryError, TransientDeliveryError


def sign_payload(secret: str, body: bytes, timestamp: int) -> str:
    mac = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()
    return f"t={timestamp},v1={mac}"


class HttpGatewaySender:
    supports_handover = True

    def __init__(self, url: str, secret: str, *, name: str = "gateway",
                 client: httpx.Client | None = None, timeout: float = 15.0) -> None:
        self.name = name
        self._url = url
        self._secret = secret
        self._client = client or httpx.Client(timeout=timeout)

    def close(self) -> None:
        self._client.close()

    def send(self, message: RenderedMessage, *,
             handover: Callable[[], None] | None = None) -> Receipt:
        body = json.dumps({"id": message.outbox_id, "reference": message.reference,
                           "channel": message.channel.value, "to": message.to,
                           "text": message.body, "locale": message.locale},
                          ensure_ascii=False).encode()
        headers = {"Content-Type": "application/json",
                   "X-ContactGuard-Signature": sign_payload(self._secret, body, int(time.time()))}
        if handover is not None:
            handover()
        try:
            response = self._client.post(self._url, content=body, headers=headers)
        except httpx.TransportError as exc:
            raise TransientDeliveryError(f"{self.name}: {type(exc).__name__}: {exc}") from exc
        try:
            payload = response.json()
        except ValueError:
            payload = {}
        payload = payload if isinstance(payload, dict) else {}
        if 200 <= response.status_code < 300:
            return Receipt(self.name, str(payload["id"]) if payload.get("id") else None)
        reason = str(payload.get("error") or response.reason_phrase)[:300]
        detail = f"{self.name} HTTP {response.status_code}: {reason}"
        if 400 <= response.status_code < 500 and response.status_code != 429 \
                and payload.get("permanent"):
            raise PermanentDeliveryError(detail, recipient_fault=True)
        raise TransientDeliveryError(detail)
