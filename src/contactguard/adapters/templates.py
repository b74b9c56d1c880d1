"""Renders outbox messages from the Jinja2 templates under ``contactguard/templates/messages``."""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from typing import Any

from jinja2 import Environment, PackageLoader, StrictUndefined, TemplateNotFound

from contactguard.domain.contacts import Channel
from contactguard.domain.locales import message_locale
from contactguard.domain.messages import RenderedMessage, StoredMessage
from contactguard.domain.notices import contact_label
from contactguard.formatting import format_day, format_locale, format_moment, parse_moment


class MessageRenderer:
    """Looks up ``messages/<locale>/<kind>.<channel>.txt`` (English when a locale lacks it)."""

    def __init__(self, *, extra_context: Callable[[StoredMessage], Mapping[str, Any]] | None = None
                 ) -> None:
        self._extra_context = extra_context  # e.g. a campaign message's policy reasons
        self._env = Environment(
            loader=PackageLoader("contactguard", "templates"),
            autoescape=False,  # noqa: S701 - plain-text bodies; HTML templates escape explicitly
            undefined=StrictUndefined,
            # Templates ship with the package: no stat() of each file on every render.
            auto_reload=False,
            keep_trailing_newline=False,
            trim_blocks=True,
            lstrip_blocks=True,
        )
        self._html = Environment(
            loader=PackageLoader("contactguard", "templates"),
            autoescape=True, undefined=StrictUndefined, trim_blocks=True, lstrip_blocks=True,
            auto_reload=False,
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
        context.update(_localized(message, locale))
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


def _localized(message: StoredMessage, locale: str) -> dict[str, Any]:
    """Values written in the seller's language, locale formats and time zone: the contact's
    label, and each moment param (``deadline``, ``changed_at``) as ``<name>_day`` (the date)
    and ``<name>_text`` (date, time and the zone's name)."""
    params = message.params
    formats = format_locale(locale, message.locale)
    time_zone = params.get("time_zone")
    kind = str(params.get("contact") or params.get("contact_label") or "").replace(" ", "_")
    values: dict[str, Any] = {"contact_label": contact_label(kind, locale)}
    for name in ("deadline", "changed_at"):
        if name not in params:
            continue
        moment = parse_moment(params[name])
        if moment is None:  # written before moments were stored as ISO 8601: as it was
            values[f"{name}_day"] = values[f"{name}_text"] = str(params[name] or "")
            continue
        values[f"{name}_day"] = format_day(moment, locale=formats, time_zone=time_zone)
        values[f"{name}_text"] = format_moment(moment, locale=formats, time_zone=time_zone)
    return values


def _render_webhook(message: StoredMessage) -> RenderedMessage:
    """A webhook's body is its JSON payload; ``reference`` carries the event id (webhook-id)."""
    body = json.dumps(message.params["payload"], separators=(",", ":"), ensure_ascii=False)
    return RenderedMessage(channel=Channel.WEBHOOK, to=message.recipient, body=body,
                           reference=str(message.params["event_id"]), locale="en")
