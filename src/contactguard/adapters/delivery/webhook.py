"""Webhook transport: POSTs an event to an operator's endpoint, signed per Standard Webhooks."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

import httpx
from standardwebhooks import Webhook

from contactguard import __version__
from contactguard.adapters.db.uow import SqlUnitOfWork
from contactguard.domain.messages import RenderedMessage
from contactguard.errors import PermanentDeliveryError, TransientDeliveryError
from contactguard.ports import SecretBox

_RETRYABLE = {408, 409, 425, 429}


class WebhookSender:
    """Signs with the endpoint's ``whsec_`` secret and POSTs the JSON body.

    2xx is success; 408/409/425/429, 5xx, timeouts and connection errors are transient (retried
    with backoff); any other answer is permanent. The signature's timestamp is the wall clock
    at sending time, since receivers compare it with theirs.
    """

    name = "webhook"

    def __init__(self, uow_factory: Callable[[], SqlUnitOfWork], box: SecretBox, *,
                 timeout: float = 10.0, client: httpx.Client | None = None,
                 wall_clock: Callable[[], datetime] = lambda: datetime.now(UTC)) -> None:
        self._uow = uow_factory
        self._box = box
        self._client = client or httpx.Client(timeout=timeout, follow_redirects=False)
        self._wall_clock = wall_clock

    def send(self, message: RenderedMessage) -> str | None:
        endpoint_id = int(message.to)
        with self._uow() as uow:
            endpoint = uow.webhooks.get(endpoint_id)
            sealed = uow.webhooks.sealed_secret(endpoint_id)
        if endpoint is None or sealed is None:
            raise PermanentDeliveryError(f"webhook endpoint {endpoint_id} no longer exists")
        if not endpoint.enabled:
            raise PermanentDeliveryError(f"webhook endpoint {endpoint_id} is disabled")
        secret = self._box.open(sealed).decode()
        timestamp = self._wall_clock()
        signature = Webhook(secret).sign(message.reference, timestamp, message.body)
        headers = {"content-type": "application/json", "user-agent": f"ContactGuard/{__version__}",
                   "webhook-id": message.reference,
                   "webhook-timestamp": str(int(timestamp.timestamp())),
                   "webhook-signature": signature}
        try:
            response = self._client.post(endpoint.url, content=message.body.encode(),
                                         headers=headers)
        except httpx.TimeoutException as exc:
            raise TransientDeliveryError(f"timed out: {type(exc).__name__}") from exc
        except httpx.TransportError as exc:
            raise TransientDeliveryError(f"could not connect: {type(exc).__name__}") from exc
        status = response.status_code
        if 200 <= status < 300:
            return None
        if status >= 500 or status in _RETRYABLE:
            raise TransientDeliveryError(f"the endpoint answered HTTP {status}")
        raise PermanentDeliveryError(f"the endpoint answered HTTP {status}")

    def close(self) -> None:
        self._client.close()
