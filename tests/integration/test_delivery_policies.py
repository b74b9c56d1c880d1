"""Retry schedules per channel (other channels, e.g. webhooks, bring much longer ones)."""

from __future__ import annotations

from fastapi.testclient import TestClient
from sqlalchemy import select

from contactguard.adapters.db import tables as t
from contactguard.bootstrap import Container
from contactguard.domain.contacts import Channel
from contactguard.domain.delivery import RetryPolicy
from contactguard.errors import TransientDeliveryError
from contactguard.services.delivery import deliver_due
from contactguard.testing import RecordingSender
from tests.integration.conftest import MOBILE_GB, make_account, start


def test_each_channel_uses_its_own_retry_policy(container: Container, client: TestClient,
                                                sender: RecordingSender) -> None:
    container.transports.retry_by_channel = {Channel.SMS: RetryPolicy(max_attempts=1)}
    make_account(client, "s1", country="GB", phone=MOBILE_GB)
    assert start(client, "s1", "emergency_phone", "sms").status_code == 201
    assert start(client, "s1", "emergency_email").status_code == 201
    sender.fail_with = TransientDeliveryError("provider unavailable")
    result = deliver_due(container.deps, container.transports, owner="w")
    assert (result.failed, result.retried) == (1, 1)
    with container.engine.connect() as conn:
        rows = {r.channel: r for r in conn.execute(select(t.outbox))}
    assert rows["sms"].status == "failed"
    assert rows["sms"].last_error == "gave up after 1 attempts: provider unavailable"
    assert rows["email"].status == "pending"
