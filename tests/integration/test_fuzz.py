"""No input a schema fuzzer can produce makes the API answer with a server error.

Schemathesis generates requests from our own OpenAPI schema (valid and invalid bodies,
parameters and headers, NUL characters included) and sends them to the app on a real
database, SQLite and PostgreSQL (whose text columns refuse NUL). A second, deterministic
pass poisons every parameter and every JSON field of every operation in turn with what
PostgreSQL and message templates cannot take: NUL, lone surrogates, CR/LF and bidi
overrides, NaN, Infinity and numbers too big for a float.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest
import schemathesis
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, Phase, given, settings
from schemathesis.generation import GenerationMode

from contactguard.bootstrap import bootstrap
from contactguard.domain.contacts import Channel
from contactguard.entrypoints.api.app import create_app
from contactguard.services.apikeys import create_api_key
from contactguard.services.dev import seed_demo_data
from contactguard.testing import RecordingSender
from tests.conftest import _truncate, make_settings

#: Examples per operation: SQLite gets the broad run, PostgreSQL a shorter one (the handlers
#: are shared; what differs is what the database refuses, which the poison pass covers).
EXAMPLES = {"sqlite": 40, "postgresql": 15}
POISON_STRINGS = ["a\x00b", "\ud800", "Lotus\r\nTea\u202e"]
POISON_NUMBERS = ["NaN", "Infinity", "-Infinity", "1e400"]
REAL_PATH_VALUES = {"external_id": "demo-us", "kind": "emergency_email"}


@pytest.fixture
def fuzzed(database_url: str, tmp_path: Path,
           sender: RecordingSender) -> Iterator[tuple[Any, TestClient, str]]:
    """The schema, a client and the backend's name, on a clean database with demo sellers."""
    _truncate(database_url)
    container = bootstrap(make_settings(database_url, tmp_path), start_worker=False,
                          senders={channel: sender for channel in Channel})
    seed_demo_data(container.deps)
    key = create_api_key(container.deps, "fuzz").secret
    app = create_app(container)
    schema = schemathesis.openapi.from_asgi("/openapi.json", app)
    schema.config.headers = {"Authorization": f"Bearer {key}"}
    backend = "sqlite" if container.settings.is_sqlite else "postgresql"
    with TestClient(app, raise_server_exceptions=False) as client:
        client.headers["Authorization"] = f"Bearer {key}"
        yield schema, client, backend
    container.close()


def _assert_problem(label: str, status: int, content_type: str, text: str) -> None:
    assert status < 500, f"{label}: {status} {text}"
    if status >= 400:
        assert content_type.startswith("application/problem+json"), f"{label}: {content_type}"


def test_no_server_errors(fuzzed) -> None:
    schema, _, backend = fuzzed
    checked = 0
    for result in schema.get_all_operations():
        operation = result.ok()

        @given(case=operation.as_strategy())
        @settings(max_examples=EXAMPLES[backend], deadline=None, database=None,
                  derandomize=True, suppress_health_check=list(HealthCheck))
        def fuzz(case) -> None:
            response = case.call()
            content_type = response.headers.get("content-type", "")
            content_type = content_type[0] if isinstance(content_type, list) else content_type
            _assert_problem(f"{case.method} {case.formatted_path}", response.status_code,
                            content_type, response.text)

        fuzz()
        checked += 1
    assert checked >= 8  # every operation of the schema was exercised


def test_poisoned_parameters_and_fields_are_4xx(fuzzed) -> None:
    schema, client, _ = fuzzed
    sent = 0
    for result in schema.get_all_operations():
        operation = result.ok()
        case = _one_valid_case(operation)
        params = {name: REAL_PATH_VALUES.get(name, value)
                  for name, value in (case.path_parameters or {}).items()}
        query = dict(case.query or {})
        body = case.body if isinstance(case.body, dict | list) else None
        for params_, query_, raw in _poisoned(params, query, body):
            url = operation.path.format(**{k: quote(str(v), safe="") for k, v in params_.items()})
            response = client.request(operation.method.upper(), url, params=query_,
                                      content=raw, headers={"Content-Type": "application/json"}
                                      if raw is not None else {})
            _assert_problem(f"{operation.method.upper()} {url} {query_} {raw!r}",
                            response.status_code, response.headers.get("content-type", ""),
                            response.text)
            sent += 1
    assert sent >= 60  # every parameter and field of every operation


def _one_valid_case(operation: Any) -> Any:
    found: list[Any] = []

    @given(case=operation.as_strategy(generation_mode=GenerationMode.POSITIVE))
    @settings(max_examples=1, deadline=None, database=None, derandomize=True,
              phases=[Phase.generate], suppress_health_check=list(HealthCheck))
    def draw(case: Any) -> None:
        found.append(case)

    draw()
    return found[0]


def _poisoned(params: dict[str, Any], query: dict[str, Any], body: Any
              ) -> Iterator[tuple[dict[str, Any], dict[str, Any], bytes | None]]:
    """The request once per poisoned spot: each parameter, each JSON leaf, an extra key."""
    raw = json.dumps(body).encode() if body is not None else None
    for name in params:
        yield {**params, name: f"{params[name]}\x00x"}, query, raw
    for name in query:
        yield params, {**query, name: "x\x00y"}, raw
    if body is None:
        return
    for spot in _leaves(body, ()):
        for poison in POISON_STRINGS:
            yield params, query, json.dumps(_replace(body, spot, poison)).encode()
        marker = "__number__"
        for number in POISON_NUMBERS:
            text = json.dumps(_replace(body, spot, marker)).replace(f'"{marker}"', number)
            yield params, query, text.encode()
    if isinstance(body, dict):
        yield params, query, json.dumps({**body, "key\x00": "x"}).encode()
        yield params, query, json.dumps({**body, "k": float("nan")}).encode()


def _leaves(value: Any, spot: tuple[Any, ...]) -> Iterator[tuple[Any, ...]]:
    if isinstance(value, dict):
        for key, item in value.items():
            yield from _leaves(item, (*spot, key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from _leaves(item, (*spot, index))
    else:
        yield spot


def _replace(body: Any, spot: tuple[Any, ...], new: Any) -> Any:
    if not spot:
        return new
    copied = copy.deepcopy(body)
    target = copied
    for step in spot[:-1]:
        target = target[step]
    target[spot[-1]] = new
    return copied
