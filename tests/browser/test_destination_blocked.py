"""The SMS-pumping guard's refusal in a real Chromium (issue 11): a seller whose number the
guard refuses reads why and what to do instead, in the account's language, next to the
number. This module's server runs with the limits ON and a policy that only allows
German numbers."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import WebServer, shot
from tests.conftest import SECRET
from tests.e2e.conftest import running_server


@pytest.fixture(scope="module")
def web_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[WebServer]:
    root = tmp_path_factory.mktemp("web-limits")
    policy = root / "contactguard.toml"
    policy.write_text('[policy.protection]\nallowed_countries = ["DE"]\n')
    env = {k: v for k, v in os.environ.items() if not k.startswith("CONTACTGUARD_")}
    env.update({"CONTACTGUARD_DEV": "1", "CONTACTGUARD_VAR_DIR": str(root / "var"),
                "CONTACTGUARD_SECRET_KEY": SECRET, "CONTACTGUARD_INPROCESS_WORKER": "1",
                "CONTACTGUARD_LOG_JSON": "1", "CONTACTGUARD_RATE_LIMITS": "on",
                "CONTACTGUARD_POLICY_FILE": str(policy)})
    log = root / "server.log"
    with running_server(env, log) as (base, key):
        yield WebServer(base, key, root / "var" / "contactguard.db", log)


def test_a_refused_number_is_explained_with_the_safe_alternative(web_server, page) -> None:
    seller = web_server.seller(country="CN", phone="+86 10 6552 9977", locale="zh-Hans",
                               email="owner@lotus-blocked.example.com")
    page.goto(web_server.session_link(seller))
    page.goto(f"{web_server.base_url}/seller/contacts/emergency_phone/verify")
    page.get_by_role("button", name="来电告诉我验证码").click()
    refusal = page.locator("#destination-blocked")
    expect(refusal).to_be_visible()
    expect(refusal).to_have_attribute("role", "alert")
    expect(refusal).to_contain_text("我们无法通过短信或电话向此号码发送验证码")
    expect(refusal).to_contain_text("电子邮箱")
    expect(page.locator("main")).to_contain_text("+86 ••• ••• 9977")  # next to the number
    assert web_server.messages("+861065529977") == []  # nothing was sent
    shot(page, "seller-destination-blocked-zh")
