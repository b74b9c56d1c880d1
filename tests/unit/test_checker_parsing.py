"""The checker's reading of messages: inline forwards of many clients and languages, charsets,
hidden HTML text, links nested in redirectors, and the keyed ledger fingerprints."""

from __future__ import annotations

import pytest

from contactguard.adapters.phishing.mail import decode_bytes, find_inline_forward, parse_email
from contactguard.domain.ledger import (
    compare_words,
    fingerprint,
    normalize_reference,
    tokens,
    unpack_shingles,
)

BODY = "Your code is 123456.\nReference: CG-7KQ4-M9XD"

FORWARDS = {
    "gmail": "note\n\n---------- Forwarded message ---------\nFrom: Acme <no-reply@acme.test>\n"
             "Date: Mon, Mar 2, 2026\nSubject: Your code\nTo: <s@x.example>\n\n",
    "outlook": "note\n________________________________\nFrom: Acme <no-reply@acme.test>\n"
               "Sent: Monday, March 2, 2026 9:00 AM\nTo: s@x.example\nSubject: Your code\n\n",
    "apple": "note\n\nBegin forwarded message:\n\nFrom: Acme <no-reply@acme.test>\n\n"
             "Subject: Your code\n\nDate: 2 March 2026\n\nTo: s@x.example\n\n",
    "thunderbird": "-------- Forwarded Message --------\nSubject: \tYour code\nDate: \tMon, 2 Mar\n"
                   "From: \tAcme <no-reply@acme.test>\nTo: \ts@x.example\n\n",
    "qq": "------------------ 原始邮件 ------------------\n发件人: \"Acme\"<no-reply@acme.test>;\n"
          "发送时间: 2026年3月2日(星期一) 上午9:00\n收件人: \"s\"<s@x.example>;\n主题: Your code\n\n",
    "outlook_zh": "发件人: Acme <no-reply@acme.test>\n发送时间: 2026年3月2日 9:00\n"
                  "收件人: s@x.example\n主题: Your code\n\n",
    "german": "---------- Weitergeleitete Nachricht ---------\nVon: Acme <no-reply@acme.test>\n"
              "Datum: Mo., 2. März 2026\nBetreff: Your code\nAn: <s@x.example>\n\n",
    "spanish": "---------- Mensaje reenviado ---------\nDe: Acme <no-reply@acme.test>\n"
               "Fecha: lun, 2 mar 2026\nAsunto: Your code\nPara: <s@x.example>\n\n",
    "french": "-------- Message transféré --------\nDe : Acme <no-reply@acme.test>\n"
              "Date : lun. 2 mars 2026\nObjet : Your code\nÀ : s@x.example\n\n",
    "portuguese": "---------- Mensagem encaminhada ---------\nDe: Acme <no-reply@acme.test>\n"
                  "Data: seg., 2 de mar. de 2026\nAssunto: Your code\nPara: <s@x.example>\n\n",
    "gmail_bold_text": "---------- Forwarded message ---------\n*From:* Acme <no-reply@acme.test>\n"
                       "*Date:* Mon, Mar 2, 2026\n*Subject:* Your code\n*To:* s@x.example\n\n",
}


@pytest.mark.parametrize("client", sorted(FORWARDS))
def test_inline_forwards_of_common_clients_are_found(client: str) -> None:
    found = find_inline_forward(FORWARDS[client] + BODY)
    assert found is not None, client
    fields, body, _start = found
    assert "no-reply@acme.test" in fields["from"] and fields["subject"].strip() == "Your code"
    assert body.strip() == BODY


def test_quoted_forward_is_unquoted_and_a_plain_note_is_not_a_forward() -> None:
    quoted = FORWARDS["apple"] + "\n".join("> " + line for line in BODY.splitlines())
    assert find_inline_forward(quoted)[1].strip() == BODY
    assert find_inline_forward("From: my phone\nThanks for the tea!") is None


def test_charsets_declared_wrong_or_unknown_are_read() -> None:
    text = "您的紧急联系人信息无效"
    assert decode_bytes(text.encode("gbk"), "gb2312") == text
    assert decode_bytes(text.encode("utf-8"), "iso-8859-1") == text  # mislabelled UTF-8
    assert decode_bytes(text.encode("gb18030"), "x-unknown") == text
    assert decode_bytes("Prüfung".encode("latin-1"), "utf-8") == "Prüfung"


def test_hidden_text_is_dropped_and_nested_links_are_followed() -> None:
    raw = (b"From: x@y.example\r\nSubject: s\r\nContent-Type: text/html; charset=utf-8\r\n\r\n"
           b"<p>pass<span style='display:none'>zz</span>word</p><a href='https://www.google.com/"
           b"url?q=https://amaz0n-login.example/x'>open</a>"
           b"<a href='https://eur01.safelinks.protection.outlook.com/?url=https%3A%2F%2Fevil.example"
           b"%2Fp&data=1'>https://acme.test</a>")
    parsed = parse_email(raw)
    assert "password" in parsed.html_text
    assert {link.host for link in parsed.links} >= {"www.google.com", "amaz0n-login.example",
                                                    "evil.example"}


def test_fingerprints_are_keyed_and_survive_rewrapping_but_not_a_changed_code() -> None:
    key = b"k" * 32
    text = "Hello Lotus,\n\nYour code is:\n\n    123456\n\nReference: CG-7KQ4-M9XD"
    print_ = fingerprint(key, text=text, subject="Your code")
    assert "123456" not in print_.shingles and print_.body_hash != fingerprint(
        b"j" * 32, text=text).body_hash
    stored = unpack_shingles(print_.shingles)
    rewrapped = "> Hello Lotus, Your code\n> is: 123456 Reference:\n> CG-7KQ4-M9XD"
    assert compare_words(key, tokens(rewrapped), stored).full
    changed = compare_words(key, tokens(text.replace("123456", "654321")), stored)
    assert not changed.full and changed.gap
    assert normalize_reference(" cg 7kq4m9xd ") == "CG-7KQ4-M9XD"
    assert normalize_reference("CG-7KQ4-M9XO") is None  # O is not in the alphabet


def test_long_unbroken_text_is_read_in_linear_time() -> None:
    """A pasted base64 blob or a CJK body without spaces once made address and domain patterns
    quadratic; these inputs must come back at once (a regression hangs the suite)."""
    from contactguard.services.checker import check_message
    from tests.unit.checker_fakes import brand_deps

    blob = "QUJD" * 50_000 + "@" + "x" * 1000
    chinese = "您的紧急联系人信息缺失或无效请回复此邮件" * 10_000
    for text in (blob, chinese, "a." * 50_000):
        assert check_message(brand_deps(), text=text).verdict in {"phishing", "unrelated"}


def test_every_reason_is_explained_in_every_reader_language() -> None:
    from contactguard.domain.phishing import MESSAGES, READER_LOCALES, ReasonCode, reason_message

    for code in ReasonCode:
        assert set(MESSAGES[code]) == set(READER_LOCALES), code
        for locale in READER_LOCALES:
            assert "{" not in reason_message(code, locale, "Acme")
    assert reason_message(ReasonCode.URGENCY, "de-AT", "Acme").startswith("Sie drängt")
    assert reason_message(ReasonCode.URGENCY, "ru", "Acme").startswith("It pressures")
