"""Outbound webhooks: event types, endpoints and how long deliveries are retried."""

from __future__ import annotations

import base64
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from contactguard.domain.delivery import RetryPolicy


class EventType(StrEnum):
    CONTACT_VERIFIED = "contact.verified"
    CONTACT_CHANGED = "contact.changed"
    VERIFICATION_LOCKED = "verification.locked"
    ACCOUNT_ELIGIBILITY_CHANGED = "account.eligibility_changed"
    ACCOUNT_COMPLIANCE_CHANGED = "account.compliance_changed"
    CAMPAIGN_FINISHED = "campaign.finished"
    # Shared limits and abuse protection (issue 11): the SMS-pumping guard blocked a prefix.
    FRAUD_PREFIX_BLOCKED = "fraud.prefix_blocked"
    CONTACT_BOUNCED = "contact.bounced"  # an email contact's mail bounced (DSN): undeliverable
    PHISHING_WAVE_DETECTED = "phishing.wave_detected"  # reports of one campaign hit the threshold


#: Backoff 30 s doubling to a 2 h cap; even with the smallest jitter the attempts span more
#: than 24 hours before a delivery is given up (checked by a unit test).
WEBHOOK_RETRY = RetryPolicy(base=timedelta(seconds=30), cap=timedelta(hours=2), max_attempts=32)

#: Deliveries that fail for good in a row before an endpoint is disabled.
DISABLE_AFTER_FAILURES = 5


def new_secret() -> str:
    """A Standard Webhooks signing secret: ``whsec_`` + base64 of 24 random bytes."""
    return "whsec_" + base64.b64encode(secrets.token_bytes(24)).decode()


def new_event_id() -> str:
    return "evt_" + base64.b32encode(secrets.token_bytes(15)).decode().lower()


@dataclass(slots=True)
class WebhookEndpoint:
    id: int
    url: str
    events: list[EventType]
    description: str
    enabled: bool
    disabled_reason: str | None
    failure_streak: int
    created_at: datetime
    updated_at: datetime

    def wants(self, event: EventType) -> bool:
        return self.enabled and event in self.events
