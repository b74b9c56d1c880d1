"""The message center "transport": an in-app notice is delivered by being stored."""

from __future__ import annotations

from contactguard.domain.messages import RenderedMessage


class InAppSender:
    """Marks in-app notices as delivered; the message center reads them from the outbox."""

    name = "in_app"

    def send(self, message: RenderedMessage) -> str | None:
        return None
