"""Webhooks: operators' endpoints, events queued through the outbox, delivery outcomes, replay."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from contactguard.domain.audit import SYSTEM, Actor
from contactguard.domain.contacts import Channel
from contactguard.domain.messages import MessageKind, MessageStatus, OutboundMessage, StoredMessage
from contactguard.domain.webhooks import (
    DISABLE_AFTER_FAILURES,
    WEBHOOK_RETRY,
    EventType,
    WebhookEndpoint,
    new_event_id,
    new_secret,
)
from contactguard.errors import Conflict, FieldError, NotFound, ValidationFailed
from contactguard.netpolicy import InvalidWebhookUrl, address_refusal, parse_webhook_url
from contactguard.normalize import text_error
from contactguard.ports import UnitOfWork
from contactguard.services import audit
from contactguard.services.deps import Deps

log = logging.getLogger("contactguard.webhooks")


@dataclass(frozen=True, slots=True)
class CreatedEndpoint:
    endpoint: WebhookEndpoint
    secret: str  # the whsec_ signing secret, shown once


@dataclass(frozen=True, slots=True)
class Delivery:
    id: int
    endpoint_id: int
    event_id: str
    event_type: str
    status: MessageStatus
    attempts: int
    last_error: str | None
    created_at: datetime
    next_attempt_at: datetime | None
    sent_at: datetime | None


def emit(deps: Deps, uow: UnitOfWork, event: EventType, data: dict[str, Any], *,
         account_id: int | None = None) -> int:
    """Queue ``event`` for every enabled endpoint that subscribed to it (caller's transaction).

    Returns the number of deliveries queued.
    """
    endpoints: list[WebhookEndpoint] = uow.webhooks.enabled_for(event)
    if not endpoints:
        return 0
    now = deps.clock.now()
    event_id = new_event_id()
    payload = {"type": event.value, "timestamp": now.isoformat().replace("+00:00", "Z"),
               "data": data}
    for endpoint in endpoints:
        uow.outbox.add(OutboundMessage(
            kind=MessageKind.WEBHOOK_EVENT, channel=Channel.WEBHOOK, recipient=str(endpoint.id),
            locale="en", account_id=account_id,
            params={"event_id": event_id, "type": event.value, "payload": payload}),
            sealed_secret=None, now=now)
    return len(endpoints)


def create_endpoint(deps: Deps, *, url: str, events: list[str], description: str = "",
                    actor: Actor = SYSTEM) -> CreatedEndpoint:
    """Register an endpoint; its signing secret is returned once. Raises ValidationFailed."""
    clean_url, kinds, clean_description = _validate(url, events, description, deps)
    secret = new_secret()
    with deps.uow() as uow:
        endpoint: WebhookEndpoint = uow.webhooks.add(
            url=clean_url, description=clean_description, events=kinds,
            sealed_secret=deps.box.seal(secret.encode()), now=deps.clock.now())
        audit.record(deps, uow, actor, "webhook.created", f"webhook:{endpoint.id}",
                     after=_snapshot(endpoint))
        uow.commit()
    return CreatedEndpoint(endpoint, secret)


def list_endpoints(deps: Deps) -> list[WebhookEndpoint]:
    with deps.reader() as uow:
        endpoints: list[WebhookEndpoint] = uow.webhooks.all()
        return endpoints


def get_endpoint(deps: Deps, endpoint_id: int) -> WebhookEndpoint:
    """Raises NotFound."""
    with deps.reader() as uow:
        return _endpoint(uow, endpoint_id)


def update_endpoint(deps: Deps, endpoint_id: int, *, url: str | None = None,
                    events: list[str] | None = None, description: str | None = None,
                    enabled: bool | None = None, actor: Actor = SYSTEM) -> WebhookEndpoint:
    """Change an endpoint; enabling it again clears its failure run. Raises NotFound,
    ValidationFailed."""
    with deps.uow() as uow:
        before = _endpoint(uow, endpoint_id)
        clean_url, kinds, clean_description = _validate(
            url if url is not None else before.url,
            events if events is not None else [e.value for e in before.events],
            description if description is not None else before.description, deps)
        values: dict[str, Any] = {"url": clean_url, "events": kinds,
                                  "description": clean_description}
        if enabled is not None:
            values["enabled"] = enabled
            if enabled:
                values.update(disabled_reason=None, failure_streak=0)
            elif before.enabled:
                values["disabled_reason"] = "disabled by an operator"
        uow.webhooks.update(endpoint_id, deps.clock.now(), **values)
        after = _endpoint(uow, endpoint_id)
        audit.record(deps, uow, actor, "webhook.updated", f"webhook:{endpoint_id}",
                     before=_snapshot(before), after=_snapshot(after))
        uow.commit()
        return after


def delete_endpoint(deps: Deps, endpoint_id: int, *, actor: Actor = SYSTEM) -> None:
    """Delete an endpoint and cancel its deliveries not sent yet. Raises NotFound."""
    with deps.uow() as uow:
        before = _endpoint(uow, endpoint_id)
        canceled = uow.outbox.cancel_webhook_deliveries(endpoint_id)
        uow.webhooks.delete(endpoint_id)
        audit.record(deps, uow, actor, "webhook.deleted", f"webhook:{endpoint_id}",
                     before=_snapshot(before), after={"canceled_deliveries": canceled})
        uow.commit()


def list_deliveries(deps: Deps, endpoint_id: int, *, limit: int = 50,
                    before_id: int | None = None) -> list[Delivery]:
    """Newest first; ``before_id`` pages back. Raises NotFound."""
    with deps.reader() as uow:
        _endpoint(uow, endpoint_id)
        return [_delivery(row) for row in uow.webhooks.deliveries(endpoint_id, limit=limit,
                                                                  before_id=before_id)]


def replay_delivery(deps: Deps, delivery_id: int, *, actor: Actor = SYSTEM) -> Delivery:
    """Send a delivery again (same event id and body, a fresh signature and retry schedule).

    Raises NotFound, Conflict (its endpoint is disabled, or a worker is sending it now).
    """
    with deps.uow() as uow:
        row = uow.webhooks.delivery(delivery_id)
        if row is None:
            raise NotFound(f"no webhook delivery {delivery_id}")
        endpoint = _endpoint(uow, int(row.recipient))
        if not endpoint.enabled:
            raise Conflict(f"webhook endpoint {endpoint.id} is disabled; enable it first "
                           f"(PATCH /v1/webhooks/{endpoint.id} with enabled=true)")
        if not uow.webhooks.requeue(delivery_id, deps.clock.now()):
            raise Conflict("this delivery is being sent right now; try again in a minute")
        uow.outbox_written = True  # wake the worker after commit
        audit.record(deps, uow, actor, "webhook.delivery_replayed", f"webhook:{endpoint.id}",
                     after={"delivery": delivery_id, "event_id": row.params.get("event_id")})
        uow.commit()
        replayed = uow.webhooks.delivery(delivery_id)
        return _delivery(replayed)


def delivery_outcome(deps: Deps, message: StoredMessage, outcome: str) -> None:
    """After each webhook attempt: track the endpoint's failures, disable it when they persist.

    An endpoint is disabled when one delivery has been retried for its whole schedule (over
    24 hours) or when several deliveries in a row failed for good. The notice is an audit entry,
    a warning in the log and the endpoint's ``disabled_reason``.
    """
    if outcome not in ("sent", "failed"):
        return
    endpoint_id = int(message.recipient)
    now = deps.clock.now()
    with deps.uow() as uow:
        endpoint: WebhookEndpoint | None = uow.webhooks.get(endpoint_id)
        if endpoint is None:
            return
        streak = uow.webhooks.record_outcome(endpoint_id, failed=outcome == "failed", now=now)
        reason = None
        if outcome == "failed" and endpoint.enabled:
            if message.attempts >= WEBHOOK_RETRY.max_attempts:
                reason = (f"delivery {message.id} failed for good after {message.attempts} "
                          f"attempts over more than 24 hours")
            elif streak >= DISABLE_AFTER_FAILURES:
                reason = f"{streak} deliveries in a row failed"
        if reason is not None:
            uow.webhooks.update(endpoint_id, now, enabled=False, disabled_reason=reason)
            audit.record(deps, uow, SYSTEM, "webhook.disabled", f"webhook:{endpoint_id}",
                         before={"enabled": True}, after={"enabled": False, "reason": reason})
            log.warning("webhook endpoint disabled", extra={"endpoint": endpoint_id,
                                                           "reason": reason})
        uow.commit()


def _endpoint(uow: UnitOfWork, endpoint_id: int) -> WebhookEndpoint:
    endpoint: WebhookEndpoint | None = uow.webhooks.get(endpoint_id)
    if endpoint is None:
        raise NotFound(f"no webhook endpoint {endpoint_id}")
    return endpoint


def _snapshot(endpoint: WebhookEndpoint) -> dict[str, Any]:
    return {"url": endpoint.url, "events": [e.value for e in endpoint.events],
            "enabled": endpoint.enabled, "description": endpoint.description}


def _delivery(row: Any) -> Delivery:
    status = MessageStatus(row.status)
    return Delivery(
        id=row.id, endpoint_id=int(row.recipient), event_id=row.params.get("event_id", ""),
        event_type=row.params.get("type", ""), status=status, attempts=row.attempts,
        last_error=row.last_error, created_at=row.created_at,
        next_attempt_at=row.available_at if status is MessageStatus.PENDING else None,
        sent_at=row.sent_at)


def _validate(url: str, events: list[str], description: str, deps: Deps
              ) -> tuple[str, list[EventType], str]:
    errors: list[FieldError] = _url_errors(deps, url.strip())
    kinds: list[EventType] = []
    if not events:
        errors.append(FieldError("events", "choose at least one event", "required"))
    for name in events:
        try:
            kind = EventType(name)
        except ValueError:
            choices = ", ".join(e.value for e in EventType)
            errors.append(FieldError("events", f"unknown event {name!r}; use {choices}",
                                     "invalid"))
            continue
        if kind not in kinds:
            kinds.append(kind)
    if len(description) > 200:
        errors.append(FieldError("description", "at most 200 characters", "invalid"))
    elif bad_text := text_error(description.strip(), field="description"):
        errors.append(bad_text)
    if errors:
        raise ValidationFailed(errors[0].message if len(errors) == 1 else
                               f"{len(errors)} fields are invalid", errors=errors)
    return url.strip(), kinds, description.strip()


def _url_errors(deps: Deps, url: str) -> list[FieldError]:
    """A malformed URL, or one whose host is (or resolves to) an address that is not public.

    A name that does not resolve (yet) is accepted: every delivery resolves and checks it
    again. ``CONTACTGUARD_WEBHOOK_ALLOW_PRIVATE`` allows private addresses (development).
    """
    try:
        target = parse_webhook_url(url)
    except InvalidWebhookUrl as exc:
        return [FieldError("url", str(exc), "invalid_url")]
    if deps.webhook_allow_private:
        return []
    if target.is_ip:
        addresses = [target.host]
    elif deps.resolver is None:
        addresses = []
    else:
        try:
            addresses = deps.resolver.resolve(target.host, target.port)
        except LookupError:
            addresses = []
    for address in addresses:
        reason = address_refusal(address)
        if reason is not None:
            verb = "is" if target.is_ip else f"resolves to {address},"
            return [FieldError("url", f"{target.host} {verb} {reason}: webhooks go to public "
                               f"addresses only", "forbidden_address")]
    return []
