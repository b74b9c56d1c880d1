"""Renders outbox messages from the Jinja2 templates under ``contactguard/templates/messages``."""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from typing import Any

from jinja2 import Environment, PackageLoader, StrictUndefined, TemplateNotFound

from contactguard.domain.contacts import Channel
from contactguard.domain.locales import message_locale
from contactguard.domain.messages import RenderedMessage, StoredMessage


class MessageRenderer:
    """Looks up ``messages/<locale>/<kind>.<channel>.txt`` (English when a locale lacks it)."""

    def __init__(self, *, extra_context: Callable[[StoredMessage], Mapping[str, Any]] | None = None
                 ) -> None:
        self._extra_context = extra_context  # e.g. a campaign message's policy reasons
        self._env = Environment(
            loader=PackageLoader("contactguard", "templates"),
            autoescape=False,  # noqa: S701 - plain-text bodies; HTML templates escape explicitly
            undefined=StrictUndefined,
            keep_trailing_newline=False,
            trim_blocks=True,
            lstrip_blocks=True,
        )
        self._html = Environment(
            loader=PackageLoader("contactguard", "templates"),
            autoescape=True, undefined=StrictUndefined, trim_blocks=True, lstrip_blocks=True,
        )

    def render(self, message: StoredMessage) -> RenderedMessage:
        if message.channel is Channel.WEBHOOK:
            return _render_webhook(message)
        locale = message_locale(message.locale)
        context: dict[str, Any] = {**message.params, **message.secret_params,
                                   "reference": message.reference}
        if self._extra_context is not None:
            context.update(self._extra_context(message))
        if "code" in context:
            context["code_digits"] = ", ".join(context["code"])
        stem = f"{message.kind.value}.{message.channel.value}"
        body = self._render(locale, f"{stem}.txt", context)
        subject = html = None
        if message.channel is Channel.EMAIL:
            subject = " ".join(self._render(locale, f"{stem}.subject.txt", context).split())
            html = self._render_html(locale, f"{stem}.html", context)
        return RenderedMessage(channel=message.channel, to=message.recipient, body=body.strip(),
                               subject=subject, html=html, reference=message.reference,
                               locale=locale)

    def _render_html(self, locale: str, name: str, context: dict[str, Any]) -> str | None:
        """The HTML alternative (autoescaped), or None when the kind has no HTML template."""
        for folder in (locale, "en"):
            try:
                return self._html.get_template(f"messages/{folder}/{name}").render(context)
            except TemplateNotFound:
                continue
        return None

    def _render(self, locale: str, name: str, context: dict[str, Any]) -> str:
        try:
            template = self._env.get_template(f"messages/{locale}/{name}")
        except TemplateNotFound:
            template = self._env.get_template(f"messages/en/{name}")
        return template.render(context)


def _render_webhook(message: StoredMessage) -> RenderedMessage:
    """A webhook's body is its JSON payload; ``reference`` carries the event id (webhook-id)."""
    body = json.dumps(message.params["payload"], separators=(",", ":"), ensure_ascii=False)
    return RenderedMessage(channel=Channel.WEBHOOK, to=message.recipient, body=body,
                           reference=str(message.params["event_id"]), locale="en")
