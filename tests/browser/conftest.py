"""Browser tests: Debian's Chromium, driven by Playwright, against a real dev server.

One ``contactguard serve`` (dev mode, SQLite) per test module; each test creates its own
sellers through the REST API, so tests do not depend on each other. Codes are read from the
dev capture (``/v1/dev/messages``), as a developer would read them in the dev inbox.
"""

from __future__ import annotations

import os
import re
import secrets
import shutil
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from tests.conftest import SECRET, code_in, require_or_skip
from tests.e2e.conftest import running_server

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "screenshots"
PHONE = {"width": 390, "height": 844}
DESKTOP = {"width": 1280, "height": 900}


@dataclass
class WebServer:
    base_url: str
    api_key: str
    db_path: Path
    log: Path

    def api(self, method: str, path: str, **kwargs: object) -> httpx.Response:
        return httpx.request(method, f"{self.base_url}{path}",
                             headers={"Authorization": f"Bearer {self.api_key}"},
                             timeout=10, **kwargs)  # type: ignore[arg-type]

    def seller(self, *, country: str, phone: str, locale: str | None = None,
               email: str | None = None, name: str = "Test Shop") -> str:
        """A new account with its contacts; returns its external id."""
        external_id = f"b-{secrets.token_hex(4)}"
        body: dict[str, object] = {
            "external_id": external_id, "name": name, "country": country,
            "contacts": {"emergency_phone": phone,
                         "emergency_email": email or f"{external_id}@shop.example.com"}}
        if locale:
            body["locale"] = locale
        response = self.api("POST", "/v1/accounts", json=body)
        assert response.status_code == 201, response.text
        return external_id

    def session_link(self, external_id: str) -> str:
        response = self.api("POST", "/v1/account_sessions", json={"account": external_id})
        assert response.status_code == 201, response.text
        return str(response.json()["url"])

    def messages(self, to: str) -> list[dict]:
        response = self.api("GET", "/v1/dev/messages", params={"to": to})
        assert response.status_code == 200, response.text
        return list(response.json()["data"])

    def wait_code(self, to: str, *, seen: int = 0, timeout: float = 10) -> str:
        """The code in the newest message to ``to`` once more than ``seen`` messages arrived."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            found = self.messages(to)
            if len(found) > seen:
                return code_in(found[0]["body"])
            time.sleep(0.1)
        raise AssertionError(f"no message reached {to}")


@pytest.fixture(scope="module")
def web_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[WebServer]:
    """``contactguard serve`` in dev mode on a fresh SQLite database, as ``make run`` starts it."""
    root = tmp_path_factory.mktemp("web")
    env = {k: v for k, v in os.environ.items() if not k.startswith("CONTACTGUARD_")}
    db_path = root / "var" / "contactguard.db"
    env.update({"CONTACTGUARD_DEV": "1", "CONTACTGUARD_VAR_DIR": str(root / "var"),
                "CONTACTGUARD_SECRET_KEY": SECRET, "CONTACTGUARD_INPROCESS_WORKER": "1",
                "CONTACTGUARD_LOG_JSON": "1", "CONTACTGUARD_RATE_LIMITS": "off",  # many sign-ins
                "CONTACTGUARD_WEBHOOK_ALLOW_PRIVATE": "1"})  # test receivers are on loopback
    log = root / "server.log"
    with running_server(env, log) as (base, key):
        yield WebServer(base, key, db_path, log)


@pytest.fixture(scope="module")
def browser() -> Iterator[object]:
    """Chromium for one module: Playwright's event loop must be gone before other tests run."""
    if not Path(CHROMIUM).exists() or shutil.which(CHROMIUM) is None:
        require_or_skip(f"Chromium is not installed at {CHROMIUM} (apt-get install chromium)")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        require_or_skip("playwright is not installed (pip install -e '.[dev]')")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


def watch(context) -> list[str]:  # type: ignore[no-untyped-def]
    """Collect what must never happen on our pages, in every page of ``context``: console
    errors (a CSP violation is one), uncaught script errors, and static assets that fail."""
    errors: list[str] = []

    def on_console(message) -> None:  # type: ignore[no-untyped-def]
        # Pages answer 4xx on purpose (a wrong code is a 422): the browser logs those.
        if message.type == "error" and not message.text.startswith("Failed to load resource"):
            errors.append(message.text)

    context.on("console", on_console)
    context.on("weberror", lambda web_error: errors.append(str(web_error.error)))
    context.on("response", lambda r: errors.append(f"{r.status} {r.url}")
               if "/static/" in r.url and r.status >= 400 else None)
    return errors


@pytest.fixture
def new_context(browser) -> Iterator[object]:  # type: ignore[no-untyped-def]
    """Open browser contexts (a phone-sized English one unless told otherwise) whose pages all
    get the checks of :func:`watch`; the test fails if any page had such an error."""
    opened: list[tuple[object, list[str]]] = []

    def make(**options: object):  # type: ignore[no-untyped-def]
        context = browser.new_context(**{"viewport": PHONE, "locale": "en-US", **options})
        context.set_default_timeout(10_000)
        opened.append((context, watch(context)))
        return context

    yield make
    errors: list[str] = []
    for context, seen in opened:
        context.close()  # type: ignore[attr-defined]
        errors.extend(seen)
    # A CSP violation, a script error or a missing asset: the pages must have none.
    assert not errors, errors


@pytest.fixture
def page(new_context) -> object:  # type: ignore[no-untyped-def]
    return new_context().new_page()


def shot(page, name: str) -> None:  # type: ignore[no-untyped-def]
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)


def text_of(page) -> str:  # type: ignore[no-untyped-def]
    return re.sub(r"\s+", " ", page.locator("main").inner_text())
