"""Failover between providers of one channel: the next one takes over a transient failure."""

from __future__ import annotations

from collections.abc import Callable, Sequence

from contactguard.domain.messages import Receipt, RenderedMessage
from contactguard.errors import TransientDeliveryError
from contactguard.ports import Sender


class FailoverSender:
    """Tries each provider in order; a permanent failure (bad recipient) stops at once."""

    supports_handover = True

    def __init__(self, providers: Sequence[Sender]) -> None:
        self._providers = list(providers)
        self.name = "+".join(p.name for p in self._providers)

    def close(self) -> None:
        for provider in self._providers:
            close = getattr(provider, "close", None)
            if close is not None:
                close()

    def send(self, message: RenderedMessage, *,
             handover: Callable[[], None] | None = None) -> Receipt:
        errors: list[str] = []
        for provider in self._providers:
            try:
                if getattr(provider, "supports_handover", False):
                    answer = provider.send(message, handover=handover)  # type: ignore[call-arg]
                else:
                    answer = provider.send(message)
            except TransientDeliveryError as exc:
                errors.append(exc.detail)
                continue
            if isinstance(answer, Receipt):
                return answer
            return Receipt(provider.name, answer)
        raise TransientDeliveryError("; ".join(errors) or "no provider configured")
