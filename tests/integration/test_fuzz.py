"""No input a schema fuzzer can produce makes the API answer with a server error.

Schemathesis generates requests from our own OpenAPI schema (valid and invalid bodies,
parameters and headers) and sends them to the app on a real database.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings

from contactguard.adapters.db.migrate import upgrade
from contactguard.bootstrap import bootstrap
from contactguard.domain.contacts import Channel
from contactguard.entrypoints.api.app import create_app
from contactguard.services.apikeys import create_api_key
from contactguard.services.dev import seed_demo_data
from contactguard.testing import RecordingSender
from tests.conftest import make_settings


@pytest.fixture
def api_schema(tmp_path: Path, sender: RecordingSender) -> Iterator[object]:
    """The API on its own SQLite database (fuzzing once is enough: handlers are shared)."""
    url = f"sqlite:///{tmp_path / 'fuzz.db'}"
    upgrade(url)
    container = bootstrap(make_settings(url, tmp_path), start_worker=False,
                          senders={channel: sender for channel in Channel})
    seed_demo_data(container.deps)
    key = create_api_key(container.deps, "fuzz").secret
    app = create_app(container)
    schema = schemathesis.openapi.from_asgi("/openapi.json", app)
    schema.config.headers = {"Authorization": f"Bearer {key}"}
    yield schema
    container.close()


def test_no_server_errors(api_schema) -> None:
    checked = 0
    for result in api_schema.get_all_operations():
        operation = result.ok()

        @given(case=operation.as_strategy())
        @settings(max_examples=40, deadline=None, database=None, derandomize=True,
                  suppress_health_check=list(HealthCheck))
        def fuzz(case) -> None:
            response = case.call()
            assert response.status_code < 500, (
                f"{case.method} {case.formatted_path}: {response.status_code} {response.text}")
            if response.status_code >= 400:
                content_type = response.headers["content-type"]
                content_type = content_type[0] if isinstance(content_type, list) else content_type
                assert content_type.startswith("application/problem+json"), (
                    f"{case.method} {case.formatted_path}: {content_type}")

        fuzz()
        checked += 1
    assert checked >= 8  # every operation of the schema was exercised
