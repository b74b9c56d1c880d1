"""Inbound mail rules (issue 9): VERP addresses, DSN reading in the shapes MTAs write, what is
an automatic message, and MinHash fingerprints that see one campaign through its variations."""

from __future__ import annotations

from email import message_from_bytes
from email import policy as email_policy

import pytest
from hypothesis import given
from hypothesis import strategies as st

from contactguard.adapters.phishing.fingerprint import MinHashFingerprints
from contactguard.domain.inbound import (
    bare_address,
    is_automatic,
    message_ids,
    parse_verp,
    read_dsn,
    verp_address,
    verp_key,
)

KEY = verp_key("x" * 40)


def _parse(raw: bytes):  # type: ignore[no-untyped-def]
    return message_from_bytes(raw, policy=email_policy.compat32)


def test_a_verp_address_round_trips_and_refuses_other_tags_domains_and_prefixes() -> None:
    address = verp_address(KEY, 4242, prefix="bounces", domain="mail.acme.test")
    assert address.startswith("bounces+4242-") and address.endswith("@mail.acme.test")
    assert parse_verp(KEY, address, prefix="bounces", domain="mail.acme.test") == 4242
    assert parse_verp(KEY, f"<{address.upper()}>", prefix="bounces", domain="mail.acme.test") == 4242
    assert parse_verp(verp_key("y" * 40), address, prefix="bounces", domain="mail.acme.test") is None
    assert parse_verp(KEY, address.replace("4242", "4243"), prefix="bounces",
                      domain="mail.acme.test") is None
    assert parse_verp(KEY, address, prefix="bounces", domain="other.test") is None
    assert parse_verp(KEY, address, prefix="returns", domain="mail.acme.test") is None
    for odd in ("", "@", "bounces+@mail.acme.test", "bounces+²-ab@mail.acme.test",
                "bounces+1-@mail.acme.test", "bounces+99999999999999999999-ab@mail.acme.test"):
        assert parse_verp(KEY, odd, prefix="bounces", domain="mail.acme.test") is None


@given(st.text(max_size=80))
def test_parse_verp_never_raises(text: str) -> None:
    parse_verp(KEY, text, prefix="bounces", domain="mail.acme.test")
    bare_address(text)
    message_ids(text)


EXCHANGE_DSN = b"""From: postmaster@outlook.example
To: bounces+7-abc@mail.acme.test
Subject: Undeliverable: Your code
Content-Type: multipart/report; report-type=delivery-status;
\tboundary="_000_"
MIME-Version: 1.0

--_000_
Content-Type: text/plain; charset="us-ascii"

Delivery has failed to these recipients or groups.

--_000_
Content-Type: message/delivery-status

Reporting-MTA: dns;EX01.outlook.example
Received-From-MTA: dns;mail.acme.test

Final-Recipient: rfc822;Owner@Lotus.example.com
Action: failed
Status: 5.1.10
Diagnostic-Code: smtp;550 5.1.10 RESOLVER.ADR.RecipientNotFound;
 Recipient not found by SMTP address lookup

--_000_
Content-Type: message/rfc822

From: Acme Market <no-reply@mail.acme.test>
Message-ID: <CG-7KQ4-M9XD.7@mail.acme.test>
Subject: Your code

body
--_000_--
"""


def test_an_exchange_dsn_is_read_with_its_recipient_status_and_original() -> None:
    report = read_dsn(_parse(EXCHANGE_DSN))
    assert report is not None
    assert [(f.recipient, f.action, f.status, f.permanent) for f in report.failures] == [
        ("owner@lotus.example.com", "failed", "5.1.10", True)]
    assert "RecipientNotFound" in report.failures[0].diagnostic
    assert report.original_message_id == "<CG-7KQ4-M9XD.7@mail.acme.test>"


def test_a_delay_is_not_permanent_and_a_plain_message_is_no_dsn() -> None:
    delayed = EXCHANGE_DSN.replace(b"Action: failed", b"Action: delayed").replace(
        b"Status: 5.1.10", b"Status: 4.4.7")
    report = read_dsn(_parse(delayed))
    assert report is not None and report.permanent == []
    assert read_dsn(_parse(b"From: a@b.example\nSubject: hi\n\nhello")) is None
    assert read_dsn(_parse(b"Content-Type: multipart/report; boundary=x\n\n--x\n--x--")) is None


@pytest.mark.parametrize(("headers", "envelope_from", "automatic"), [
    (b"From: a@b.example\n", "a@b.example", False),
    (b"From: a@b.example\n", None, False),
    (b"From: a@b.example\n", "", True),  # a null sender: a bounce or an auto-reply
    (b"From: a@b.example\nAuto-Submitted: auto-replied\n", "a@b.example", True),
    (b"From: a@b.example\nAuto-Submitted: no\n", "a@b.example", False),
    (b"From: a@b.example\nPrecedence: bulk\n", "a@b.example", True),
    (b"From: a@b.example\nList-Id: <list.b.example>\n", "a@b.example", True),
    (b"From: a@b.example\nX-Autoreply: yes\n", "a@b.example", True),
])
def test_automatic_messages_are_recognised(headers: bytes, envelope_from: str | None,
                                           automatic: bool) -> None:
    assert is_automatic(_parse(headers + b"\nbody"), envelope_from) is automatic


def test_fingerprints_see_one_campaign_through_names_links_and_numbers() -> None:
    prints = MinHashFingerprints()

    def phish(name: str, link: str, case: int) -> list[int]:
        return prints.signature(
            "Verify your emergency contact",
            f"Dear {name}, your account {case} will be suspended unless you reply with your "
            f"password and the 2FA code within 24 hours. Confirm at {link} now. Case {case}.")

    a = phish("Lotus Tea House", "https://a-verify.top/x?id=1", 1234)
    b = phish("Jade Garden", "https://b-verify.xyz/y?id=99", 98765)
    other = prints.signature("Your parcel is waiting", "A parcel could not be delivered. Pay "
                             "the customs fee at https://parcel.example/pay to release it.")
    text = "尊敬的卖家，请在{}小时内回复此邮件并提供您的密码和验证码，否则账户将被冻结{}"
    chinese = prints.signature("紧急联系人验证", text.format(24, "。"))
    chinese2 = prints.signature("紧急联系人验证", text.format(48, "！"))
    assert prints.similarity(a, b) >= 0.6
    assert prints.similarity(a, other) < 0.2
    assert prints.similarity(chinese, chinese2) >= 0.6
    assert prints.signature("", "") == [] and prints.similarity([], []) == 0.0


@pytest.mark.parametrize("locale", ["en", "zh-Hans"])
@pytest.mark.parametrize("verdict", ["phishing", "genuine", "unrelated"])
def test_the_answers_render_in_each_language_with_and_without_the_phrase(locale: str,
                                                                         verdict: str) -> None:
    from datetime import UTC, datetime

    from contactguard.adapters.templates import MessageRenderer
    from contactguard.domain.contacts import Channel
    from contactguard.domain.messages import MessageKind, MessageStatus, StoredMessage

    renderer = MessageRenderer()
    base = {"platform_name": "Acme Market", "host": "sellers.acme.test", "account_name": "Lotus",
            "time_zone": "Asia/Shanghai", "dashboard_url": "https://sellers.acme.test/seller"}
    cases = [(MessageKind.REPORT_VERDICT, {"verdict": verdict, "reported_subject": "Verify now",
                                           "reasons": ["A look-alike domain"]}),
             (MessageKind.REPLY_ANSWER, {"original_reference": "CG-7KQ4-M9XD"})]
    for kind, params in cases:
        for secrets_ in ({"security_phrase": "blue teapot"}, {}):
            extra = {} if secrets_ else {"phrase_withheld": True}
            message = StoredMessage(
                id=1, reference="CG-AAAA-BBBB", kind=kind, channel=Channel.EMAIL,
                recipient="owner@lotus.example.com", locale=locale, account_id=1,
                params={**base, **params, **extra}, secret_params=secrets_, challenge_id=None,
                not_after=None, status=MessageStatus.PENDING, attempts=0,
                created_at=datetime(2026, 3, 2, tzinfo=UTC))
            rendered = renderer.render(message)
            assert rendered.subject and "Acme Market" in rendered.subject
            assert "CG-AAAA-BBBB" in rendered.body
            assert ("blue teapot" in rendered.body) is bool(secrets_)
            if locale == "zh-Hans":
                assert any("\u4e00" <= ch <= "\u9fff" for ch in rendered.body)
