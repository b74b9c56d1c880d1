"""Pure rules of issue 11: lanes, webhook URL and address policy, look-alike domains."""

from __future__ import annotations

import pytest

from contactguard.adapters.db.outbox import lane_for
from contactguard.domain.contacts import Channel
from contactguard.domain.messages import CODE_KINDS, Lane, MessageKind
from contactguard.netpolicy import InvalidWebhookUrl, address_refusal, parse_webhook_url
from contactguard.normalize import domain_warnings, normalize_email


def test_only_codes_on_code_channels_use_the_code_lane() -> None:
    for kind in MessageKind:
        for channel in Channel:
            lane = lane_for(kind, channel)
            if channel is Channel.WEBHOOK:
                assert lane == Lane.WEBHOOK
            elif kind in CODE_KINDS and channel in (Channel.SMS, Channel.VOICE, Channel.EMAIL):
                assert lane == Lane.CODE
            else:  # notices, in-app entries, and any kind added later
                assert lane == Lane.DEFAULT
    assert lane_for("verification_code", "email") == "code"
    assert lane_for("contact_changed", "email") == "default"


@pytest.mark.parametrize("address", [
    "127.0.0.1", "10.0.0.1", "172.16.5.4", "192.168.1.1", "169.254.169.254", "100.64.0.1",
    "0.0.0.0", "224.0.0.1", "240.0.0.1", "255.255.255.255", "::1", "::", "fe80::1",
    "fc00::1", "ff02::1", "::ffff:127.0.0.1", "::ffff:10.0.0.1", "64:ff9b::7f00:1",
    "2002:7f00:1::", "2001:db8::1",
])
def test_non_public_addresses_are_refused(address: str) -> None:
    assert address_refusal(address) is not None


@pytest.mark.parametrize("address", ["93.184.216.34", "8.8.8.8", "2606:4700:4700::1111",
                                     "::ffff:8.8.8.8"])
def test_public_addresses_are_allowed(address: str) -> None:
    assert address_refusal(address) is None


@pytest.mark.parametrize("url", [
    "http://127.0.0.1:abc/x", "http://[::1/x", "http://a.test/\x00", "http://a.test/x\r\n",
    "http://0x7f000001/", "http://2130706433/", "http://0177.0.0.1/", "http://127.1/",
    "http://1.2.3.4.5/", "ftp://a.test/", "http://u:p@a.test/", "http:///x",
    "http://[fe80::1%25eth0]/", "http://a.test:0/", "http://a.test\\@b.test/",
])
def test_malformed_webhook_urls_are_refused(url: str) -> None:
    with pytest.raises(InvalidWebhookUrl):
        parse_webhook_url(url)


def test_a_webhook_url_keeps_its_host_for_the_header_and_connects_to_the_checked_address() -> None:
    target = parse_webhook_url("https://Hooks.Bücher.example:8443/cg?x=1")
    assert (target.host, target.port, target.target) == ("hooks.xn--bcher-kva.example", 8443,
                                                         "/cg?x=1")
    assert target.host_header == "hooks.xn--bcher-kva.example:8443"
    assert target.url_for("2606:4700::1") == "https://[2606:4700::1]:8443/cg?x=1"
    assert parse_webhook_url("http://[::ffff:127.0.0.1]/").host == "::ffff:7f00:1"


@pytest.mark.parametrize(("domain", "warnings"), [
    ("acme-outdoor.example.com", ()),
    ("\u0430cme-outdoor.example.com", ("imitates_ascii", "mixed_scripts")),  # Cyrillic a (U+0430)
    ("xn--cme-outdoor-xij.example.com", ("imitates_ascii", "mixed_scripts")),
    ("\u0430\u0440\u0440\u04cf\u0435.com", ("imitates_ascii",)),  # all Cyrillic, reads "apple"
    ("\u0251cme.com", ("imitates_ascii",)),  # Latin alpha
    ("münchen.de", ()), ("пример.рф", ()), ("例え.jp", ()), ("日本語テキスト.jp", ()),
    ("한국어.kr", ()), ("ελληνικά.gr", ()), ("中国.cn", ()),
])
def test_lookalike_domains(domain: str, warnings: tuple[str, ...]) -> None:
    assert domain_warnings(domain) == warnings


def test_a_lookalike_address_is_stored_in_ascii_and_a_real_idn_in_unicode() -> None:
    assert normalize_email("Ops@\u0430cme-outdoor.Example.com", field="e") == (
        "Ops@xn--cme-outdoor-xij.example.com")
    assert normalize_email("info@XN--MNCHEN-3YA.de", field="e") == "info@münchen.de"
    assert normalize_email("пользователь@example.org", field="e") == "пользователь@example.org"
