"""Shared fixtures: one integration suite, run on SQLite and on PostgreSQL.

PostgreSQL tests use a throw-away database created per test session from
``CONTACTGUARD_TEST_POSTGRES_URL`` (default: the local server). They skip when no server
answers, except in CI (``CI=true``), where a missing server fails the run.
"""

from __future__ import annotations

import os
import re
import secrets
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from contactguard.adapters.db.migrate import upgrade
from contactguard.adapters.db.tables import metadata
from contactguard.bootstrap import Container, bootstrap
from contactguard.config import Settings
from contactguard.domain.contacts import Channel
from contactguard.services.delivery import deliver_due
from contactguard.testing import FrozenClock, RecordingSender

POSTGRES_URL = os.environ.get("CONTACTGUARD_TEST_POSTGRES_URL",
                              "postgresql+psycopg://postgres@127.0.0.1:5432/test")
IN_CI = os.environ.get("CI", "").lower() in {"1", "true", "yes"}
SECRET = "test-secret-key-that-is-long-enough-0123456789"


def require_or_skip(reason: str) -> None:
    """Skip locally; in CI a test that cannot run is a failure."""
    if IN_CI:
        pytest.fail(f"{reason} (CI=true: this test must run)")
    pytest.skip(reason)


REDIS_URL = os.environ.get("CONTACTGUARD_TEST_REDIS_URL", "redis://127.0.0.1:6379/15")


@pytest.fixture
def redis_url() -> str:
    """The Redis server's URL; skips locally when none answers, fails in CI."""
    import redis

    client = redis.Redis.from_url(REDIS_URL, socket_connect_timeout=1)
    try:
        client.ping()
    except redis.RedisError as exc:
        require_or_skip(f"Redis is not reachable at {REDIS_URL}: {exc}")
    finally:
        client.close()
    return REDIS_URL


def _postgres_database() -> Iterator[str]:
    admin_url = make_url(POSTGRES_URL)
    name = f"cg_test_{os.getpid()}_{secrets.token_hex(3)}"
    admin = create_engine(admin_url, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
    except Exception as exc:
        admin.dispose()
        require_or_skip(f"PostgreSQL is not reachable at {admin_url.render_as_string()}: {exc}")
    url = admin_url.set(database=name).render_as_string(hide_password=False)
    try:
        yield url
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@pytest.fixture(scope="session", params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
                 ) -> Iterator[str]:
    """A migrated, empty database of each backend."""
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path_factory.mktemp('sqlite') / 'test.db'}"
        upgrade(url)
        yield url
        return
    for url in _postgres_database():
        upgrade(url)
        yield url


def _truncate(url: str) -> None:
    engine = create_engine(url)
    names = [table.name for table in reversed(metadata.sorted_tables)]
    with engine.begin() as conn:
        if conn.dialect.name == "postgresql":
            conn.execute(text(f"TRUNCATE {', '.join(names)} RESTART IDENTITY CASCADE"))
        else:
            for name in names:
                conn.execute(text(f"DELETE FROM {name}"))
    engine.dispose()


@pytest.fixture
def clock() -> FrozenClock:
    return FrozenClock()


@pytest.fixture
def sender() -> RecordingSender:
    return RecordingSender()


def make_settings(database_url: str, tmp_path: Path, **overrides: object) -> Settings:
    values: dict[str, object] = {
        "database_url": database_url, "secret_key": SECRET, "var_dir": tmp_path, "dev": True,
        "platform_name": "Acme Market", "public_url": "https://sellers.acme.test",
        "log_json": False, "webhook_allow_private": True,  # test receivers are on loopback
        # Rate limits and the SMS-pumping guard are tested in tests/integration/test_limits.py
        # (and e2e); elsewhere they would trip tests that send many codes from one address.
        "rate_limits": "off",
    }
    values.update(overrides)
    return Settings(**values)  # type: ignore[arg-type]


@pytest.fixture
def container(database_url: str, tmp_path: Path, clock: FrozenClock,
              sender: RecordingSender) -> Iterator[Container]:
    """A container on a clean database, a frozen clock and a recording transport."""
    _truncate(database_url)
    built = bootstrap(make_settings(database_url, tmp_path), clock=clock,
                      senders={Channel.EMAIL: sender, Channel.SMS: sender, Channel.VOICE: sender},
                      start_worker=False)
    yield built
    built.close()


def deliver(container: Container) -> None:
    """Run the outbox until it is empty (what the worker would do)."""
    while deliver_due(container.deps, container.transports, owner="test").claimed:
        pass


def latest_code(container: Container, sender: RecordingSender, to: str) -> str:
    """Deliver the outbox, then read the code from the newest message to ``to``."""
    deliver(container)
    messages = sender.to(to)
    assert messages, f"no message was sent to {to}"
    return code_in(messages[-1].body)


def code_in(body: str) -> str:
    """The code in a message: ``123456``, or read out digit by digit (``1, 2, 3, 4, 5, 6``)."""
    match = re.search(r"\b(\d{6})\b", body) or re.search(r"\b(\d(?:, \d){5})\b", body)
    assert match, body
    return match.group(1).replace(", ", "")
