"""Webhook transport: POSTs an event to an operator's endpoint, signed per Standard Webhooks.

Before each delivery the endpoint's URL is checked again and its host resolved; every
address must be public (``netpolicy.address_refusal``) unless private ones are allowed. The
request then goes to the address that was checked (no second lookup), with the original
``Host`` header and TLS server name, no redirects, no keep-alive (a connection is never
reused for another host on the same address), and the answer's body is never read.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

import httpx
from standardwebhooks import Webhook

from contactguard import __version__
from contactguard.adapters.db.uow import SqlUnitOfWork
from contactguard.domain.messages import RenderedMessage
from contactguard.errors import PermanentDeliveryError, TransientDeliveryError
from contactguard.netpolicy import InvalidWebhookUrl, address_refusal, parse_webhook_url
from contactguard.ports import Resolver, SecretBox

_RETRYABLE = {408, 409, 425, 429}
#: One answer for every way a connection can fail (refused, reset, filtered, timed out), so
#: that the deliveries list tells nothing about what listens where.
UNREACHABLE = "the endpoint could not be reached or did not answer in time"


class WebhookSender:
    """Signs with the endpoint's ``whsec_`` secret and POSTs the JSON body.

    2xx is success; 408/409/425/429, 5xx, timeouts and connection errors are transient (retried
    with backoff); any other answer is permanent, and so is a URL that is malformed or points
    to an address that is not allowed. The signature's timestamp is the wall clock at sending
    time, since receivers compare it with theirs.
    """

    name = "webhook"

    def __init__(self, uow_factory: Callable[[], SqlUnitOfWork], box: SecretBox, *,
                 resolver: Resolver, timeout: float = 10.0, allow_private: bool = False,
                 client: httpx.Client | None = None,
                 wall_clock: Callable[[], datetime] = lambda: datetime.now(UTC)) -> None:
        self._uow = uow_factory
        self._box = box
        self._resolver = resolver
        self._allow_private = allow_private
        self._client = client or httpx.Client(
            timeout=httpx.Timeout(timeout, connect=min(timeout, 5.0)), follow_redirects=False,
            limits=httpx.Limits(max_keepalive_connections=0), trust_env=False)
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
        try:
            target = parse_webhook_url(endpoint.url)
        except InvalidWebhookUrl as exc:
            raise PermanentDeliveryError(f"the endpoint URL cannot be used: {exc}") from None
        address = self._checked_address(target.host, target.port, is_ip=target.is_ip)
        secret = self._box.open(sealed).decode()
        timestamp = self._wall_clock()
        signature = Webhook(secret).sign(message.reference, timestamp, message.body)
        headers = {"host": target.host_header, "content-type": "application/json",
                   "user-agent": f"ContactGuard/{__version__}",
                   "webhook-id": message.reference,
                   "webhook-timestamp": str(int(timestamp.timestamp())),
                   "webhook-signature": signature}
        extensions = {"sni_hostname": target.host} if target.scheme == "https" and not \
            target.is_ip else {}
        try:
            with self._client.stream("POST", target.url_for(address),
                                     content=message.body.encode(), headers=headers,
                                     extensions=extensions) as response:
                status = response.status_code  # the body is never read
        except httpx.HTTPError as exc:
            raise TransientDeliveryError(UNREACHABLE) from exc
        if 200 <= status < 300:
            return None
        if status >= 500 or status in _RETRYABLE:
            raise TransientDeliveryError(f"the endpoint answered HTTP {status}")
        raise PermanentDeliveryError(f"the endpoint answered HTTP {status}")

    def _checked_address(self, host: str, port: int, *, is_ip: bool) -> str:
        """The address to connect to; raises PermanentDeliveryError if one is not allowed."""
        if is_ip:
            addresses = [host]
        else:
            try:
                addresses = self._resolver.resolve(host, port)
            except LookupError as exc:
                raise TransientDeliveryError(UNREACHABLE) from exc
        if not self._allow_private:
            for address in addresses:
                reason = address_refusal(address)
                if reason is not None:
                    raise PermanentDeliveryError(
                        f"the endpoint's address is not allowed: {host} is {reason} "
                        f"(webhooks go to public addresses only)")
        return addresses[0]

    def close(self) -> None:
        self._client.close()
