"""Dev-mode transport: keeps every message in the database instead of sending it."""

from __future__ import annotations

from collections.abc import Callable

from contactguard.adapters.db.uow import SqlUnitOfWork
from contactguard.domain.messages import RenderedMessage
from contactguard.ports import Clock


class CaptureSender:
    """Stores rendered messages in ``captured_messages`` (read by /v1/dev/messages)."""

    name = "capture"

    def __init__(self, uow_factory: Callable[[], SqlUnitOfWork], clock: Clock) -> None:
        self._uow = uow_factory
        self._clock = clock

    def send(self, message: RenderedMessage) -> str | None:
        with self._uow() as uow:
            uow.captured.add(channel=message.channel.value, recipient=message.to,
                             subject=message.subject, body=message.body, html=message.html,
                             raw=None, reference=message.reference, now=self._clock.now())
            uow.commit()
        return None
