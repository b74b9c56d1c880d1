"""Our own mail, sent through the real SMTP path with DKIM: genuine as sent, forwarded
(attached, inline in Gmail / Outlook formats, HTML-only, Chinese), pasted or by reference;
phishing (``tampered_copy``) once its code, text or links change."""

from __future__ import annotations

import textwrap
from datetime import timedelta

from fastapi.testclient import TestClient
from sqlalchemy import select

from contactguard.adapters.db import tables as t
from contactguard.bootstrap import Container
from contactguard.services.checker import check_message
from contactguard.services.ledger import purge_ledger
from contactguard.testing import FrozenClock
from tests.integration import checker_support
from tests.integration.checker_support import (
    bodies,
    code_of,
    forward_as_attachment,
    gmail_inline,
    outlook_inline_html_only,
    replace_in_text_part,
    send_code_email,
)
from tests.smtp_sink import SmtpSink

# The shared fixtures (SMTP sink, DKIM keys, a container that sends through them).
dkim_spec = checker_support.dkim_spec
sink = checker_support.sink
smtp_client = checker_support.smtp_client
smtp_container = checker_support.smtp_container


def _rows(container: Container, query) -> list:
    with container.engine.connect() as conn:
        rows = conn.execute(query).all()
    return [row[0] if len(row) == 1 else row for row in rows]


def _codes(result) -> list[str]:
    return [r.code.value for r in result.reasons]


def test_our_email_as_sent_is_genuine_and_its_ledger_entry_holds_no_code(
        smtp_container: Container, smtp_client: TestClient, sink: SmtpSink) -> None:
    raw = send_code_email(smtp_container, smtp_client, sink)
    result = check_message(smtp_container.deps, raw=raw)
    assert result.verdict == "genuine", result.reasons
    assert result.reasons == []
    [row] = _rows(smtp_container, select(t.sent_ledger))
    assert result.matched is not None
    assert result.matched.reference == row.reference and result.matched.channel == "email"
    assert result.matched.recipient == "s•••@lotus.example.com"
    assert row.message_id.startswith(f"<{row.reference}.") and row.kind == "verification_code"
    assert sorted(row.dkim_selectors) == ["cg-ed", "cg-rsa"]
    code = code_of(bodies(raw)[1])
    assert all(code not in str(value) for value in row)  # keyed hashes only


def test_chinese_email_is_genuine(smtp_container: Container, smtp_client: TestClient,
                                  sink: SmtpSink) -> None:
    raw = send_code_email(smtp_container, smtp_client, sink, locale="zh-Hans")
    assert check_message(smtp_container.deps, raw=raw, locale="zh-Hans").verdict == "genuine"


def test_forwarded_as_attachment_is_genuine(smtp_container: Container, smtp_client: TestClient,
                                            sink: SmtpSink) -> None:
    raw = send_code_email(smtp_container, smtp_client, sink)
    result = check_message(smtp_container.deps, raw=forward_as_attachment(raw))
    assert result.verdict == "genuine", result.reasons


def test_forwarded_inline_is_genuine_in_text_html_and_chinese_outlook(
        smtp_container: Container, smtp_client: TestClient, sink: SmtpSink) -> None:
    raw = send_code_email(smtp_container, smtp_client, sink)
    for forwarded in (gmail_inline(raw), gmail_inline(raw, html=True),
                      outlook_inline_html_only(raw), outlook_inline_html_only(raw, chinese=True)):
        result = check_message(smtp_container.deps, raw=forwarded)
        assert result.verdict == "genuine", (forwarded[:400], result.reasons)


def test_pasted_text_and_reference_are_genuine(smtp_container: Container,
                                               smtp_client: TestClient, sink: SmtpSink) -> None:
    raw = send_code_email(smtp_container, smtp_client, sink)
    _subject, text, _html = bodies(raw)
    [reference] = _rows(smtp_container, select(t.sent_ledger.c.reference))
    assert check_message(smtp_container.deps, text=text).verdict == "genuine"
    wrapped = "\n".join(textwrap.fill(p, 40, initial_indent="> ", subsequent_indent="> ")
                        for p in text.split("\n"))  # re-wrapped at 40 columns and quoted
    assert check_message(smtp_container.deps, text=wrapped).verdict == "genuine"
    result = check_message(smtp_container.deps, reference=reference.lower())
    assert result.verdict == "genuine" and result.matched.reference == reference


def test_a_changed_code_is_a_tampered_copy_in_every_form(
        smtp_container: Container, smtp_client: TestClient, sink: SmtpSink) -> None:
    raw = send_code_email(smtp_container, smtp_client, sink)
    code = code_of(bodies(raw)[1])
    other = f"{(int(code) + 1) % 1_000_000:06d}"
    tampered = replace_in_text_part(raw, code, other)
    result = check_message(smtp_container.deps, raw=tampered)
    assert result.verdict == "phishing"
    assert "tampered_copy" in _codes(result) and "dkim_invalid" in _codes(result)
    _subject, text, _html = bodies(raw)
    for copy in (gmail_inline(tampered), forward_as_attachment(tampered)):
        result = check_message(smtp_container.deps, raw=copy)
        assert result.verdict == "phishing" and "tampered_copy" in _codes(result), result.reasons
    result = check_message(smtp_container.deps, text=text.replace(code, other))
    assert result.verdict == "phishing" and "tampered_copy" in _codes(result)



def test_our_words_without_our_signature_are_never_genuine(
        smtp_container: Container, smtp_client: TestClient, sink: SmtpSink) -> None:
    """A spoofer who copies one of our emails word for word but cannot sign it with our keys
    (DKIM headers stripped, or re-sent from elsewhere) does not get "genuine"."""
    raw = send_code_email(smtp_container, smtp_client, sink)
    head, _, body = raw.partition(b"\r\n\r\n")
    lines = head.split(b"\r\n")
    kept, skipping = [], False
    for line in lines:  # drop every DKIM-Signature header with its folded lines
        if line[:1] in (b" ", b"\t") and skipping:
            continue
        skipping = line.lower().startswith(b"dkim-signature:")
        if not skipping:
            kept.append(line)
    unsigned = b"\r\n".join(kept) + b"\r\n\r\n" + body
    assert b"DKIM-Signature" not in unsigned
    result = check_message(smtp_container.deps, raw=unsigned)
    assert result.verdict == "phishing", result.reasons
    assert result.matched is None


def test_a_copy_asking_for_a_reply_or_with_a_link_is_tampered(
        smtp_container: Container, smtp_client: TestClient, sink: SmtpSink) -> None:
    raw = send_code_email(smtp_container, smtp_client, sink)
    _subject, text, _html = bodies(raw)
    added = text + "\n\nWhen done, reply to this email with your login password to confirm."
    result = check_message(smtp_container.deps, text=added)
    assert result.verdict == "phishing"
    assert {"tampered_copy", "asks_for_reply", "asks_for_credentials"} <= set(_codes(result))
    linked = text.replace("Enter it on", "Enter it at https://acme-verify.example/login on")
    result = check_message(smtp_container.deps, text=linked)
    assert result.verdict == "phishing"
    assert {"tampered_copy", "lookalike_domain"} <= set(_codes(result)), result.reasons
    inline = gmail_inline(raw).replace(b"Enter it on", b"Reply with it, not on")
    assert "tampered_copy" in _codes(check_message(smtp_container.deps, raw=inline))


def test_a_genuine_copy_below_a_phishing_note_does_not_make_it_genuine(
        smtp_container: Container, smtp_client: TestClient, sink: SmtpSink) -> None:
    raw = send_code_email(smtp_container, smtp_client, sink)
    lure = ("Your emergency contact is invalid. Reply to this email with your password and the "
            "code below within 24 hours.")
    for message in (gmail_inline(raw, note=lure), forward_as_attachment(raw, note=lure)):
        result = check_message(smtp_container.deps, raw=message)
        assert result.verdict == "phishing", result.reasons
        assert {"asks_for_reply", "asks_for_credentials", "urgency"} <= set(_codes(result))


def test_a_reference_of_another_account_is_not_genuine_for_this_one(
        smtp_container: Container, smtp_client: TestClient, sink: SmtpSink) -> None:
    raw = send_code_email(smtp_container, smtp_client, sink)
    send_code_email(smtp_container, smtp_client, sink, account="seller-2")
    reference = _rows(smtp_container, select(t.sent_ledger.c.reference)
                      .order_by(t.sent_ledger.c.id))[0]
    assert check_message(smtp_container.deps, raw=raw, account="seller-1").verdict == "genuine"
    for result in (check_message(smtp_container.deps, raw=raw, account="seller-2"),
                   check_message(smtp_container.deps, reference=reference, account="seller-2")):
        assert result.verdict == "phishing" and _codes(result) == ["tampered_copy"]


def test_an_unknown_reference_is_not_in_the_ledger(smtp_container: Container) -> None:
    result = check_message(smtp_container.deps, reference="CG-7KQ4-M9XD", locale="zh-Hans")
    assert result.verdict == "phishing" and _codes(result) == ["not_in_ledger"]
    assert "Acme Market" in result.reasons[0].message and "没有" in result.reasons[0].message


def test_sms_and_in_app_texts_are_in_the_ledger(smtp_container: Container,
                                                smtp_client: TestClient) -> None:
    from tests.integration.conftest import LANDLINE_CN, MOBILE_GB, make_account, start

    make_account(smtp_client, "seller-sms", country="GB", email=None, phone=MOBILE_GB)
    assert start(smtp_client, "seller-sms", "emergency_phone", "sms").status_code == 201
    from tests.integration.checker_support import drain

    drain(smtp_container)
    with smtp_container.engine.connect() as conn:
        sms = conn.execute(select(t.captured_messages.c.body).where(
            t.captured_messages.c.channel == "sms")).scalar_one()
        channels = sorted(conn.execute(select(t.sent_ledger.c.channel)).scalars())
    assert channels == ["sms"]
    assert LANDLINE_CN  # (imported for symmetry with other tests)
    result = check_message(smtp_container.deps, text=f"From +44 7700 900123\n{sms}\n10:42")
    assert result.verdict == "genuine" and result.matched.channel == "sms"
    changed = sms.replace(code_of(sms), "000000") + "\nReply with this code to confirm."
    result = check_message(smtp_container.deps, text=changed)
    assert result.verdict == "phishing" and "asks_for_reply" in _codes(result)


def test_the_ledger_is_purged_after_its_retention(smtp_container: Container,
                                                  smtp_client: TestClient, sink: SmtpSink,
                                                  clock: FrozenClock) -> None:
    raw = send_code_email(smtp_container, smtp_client, sink)
    clock.advance(days=399)
    assert purge_ledger(smtp_container.deps, retention_days=400) == 0
    assert check_message(smtp_container.deps, raw=raw).verdict == "genuine"
    clock.advance(days=2)
    assert purge_ledger(smtp_container.deps, retention_days=400) == 1
    result = check_message(smtp_container.deps, raw=raw)
    assert result.verdict == "phishing" and "not_in_ledger" in _codes(result)
    assert timedelta(days=401)  # retention is in days of the frozen clock
