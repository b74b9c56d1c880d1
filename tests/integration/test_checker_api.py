"""POST /v1/messages/check on SQLite and PostgreSQL: every input form, the exact answer shape,
the reader's language, and clear problems for what cannot be checked."""

from __future__ import annotations

import json

from fastapi.testclient import TestClient

from contactguard.bootstrap import Container
from tests.integration import checker_support
from tests.integration.checker_support import (
    bodies,
    send_code_email,
)
from tests.smtp_sink import SmtpSink

PHISH = (b"From: Acme Market Support <acme.support.team@gmail.com>\r\n"
         b"Reply-To: verify@acme-market-verify.example\r\n"
         b"Subject: =?utf-8?b?6K+35Zue5aSN5q2k6YKu5Lu2?=\r\n"  # "请回复此邮件"
         b"Content-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n\r\n"
         + "您的紧急联系人缺失或无效。请在24小时内回复此邮件，提供您的登录密码和验证码。\r\n".encode())

# The shared fixtures (SMTP sink, DKIM keys, a container that sends through them).
dkim_spec = checker_support.dkim_spec
sink = checker_support.sink
smtp_client = checker_support.smtp_client
smtp_container = checker_support.smtp_container


def test_our_email_uploaded_as_eml_is_genuine(smtp_container: Container, smtp_client: TestClient,
                                              sink: SmtpSink) -> None:
    raw = send_code_email(smtp_container, smtp_client, sink)
    response = smtp_client.post("/v1/messages/check", content=raw,
                                headers={"Content-Type": "message/rfc822"})
    assert response.status_code == 200, response.text
    body = response.json()
    assert set(body) == {"verdict", "reasons", "matched"}
    assert body["verdict"] == "genuine" and body["reasons"] == []
    assert set(body["matched"]) == {"reference", "channel", "sent_at", "recipient"}
    assert body["matched"]["channel"] == "email"
    assert body["matched"]["recipient"] == "s•••@lotus.example.com"
    reference = body["matched"]["reference"]
    for payload in ({"raw": raw.decode()}, {"text": bodies(raw)[1]}, {"reference": reference}):
        answer = smtp_client.post("/v1/messages/check", json=payload).json()
        assert answer["verdict"] == "genuine" and answer["matched"]["reference"] == reference
    answer = smtp_client.post("/v1/messages/check", content=bodies(raw)[1].encode(),
                              headers={"Content-Type": "text/plain; charset=utf-8"}).json()
    assert answer["verdict"] == "genuine"


def test_phishing_reasons_follow_accept_language(smtp_client: TestClient) -> None:
    english = smtp_client.post("/v1/messages/check", content=PHISH,
                               headers={"Content-Type": "message/rfc822"})
    chinese = smtp_client.post("/v1/messages/check", content=PHISH,
                               headers={"Content-Type": "message/rfc822",
                                        "Accept-Language": "zh-CN,zh;q=0.9,en;q=0.5"})
    assert english.status_code == chinese.status_code == 200
    assert chinese.headers["content-language"] == "zh-Hans"
    codes = [r["code"] for r in english.json()["reasons"]]
    assert english.json()["verdict"] == "phishing" and english.json()["matched"] is None
    assert {"display_name_spoof", "lookalike_domain", "reply_to_mismatch", "asks_for_reply",
            "asks_for_credentials", "urgency", "not_in_ledger"} <= set(codes)
    assert codes == [r["code"] for r in chinese.json()["reasons"]]
    by_code = {r["code"]: r for r in chinese.json()["reasons"]}
    assert "回复" in by_code["asks_for_reply"]["message"]
    assert "acme.support.team@gmail.com" in by_code["display_name_spoof"]["evidence"]
    assert {r["code"]: r for r in english.json()["reasons"]}["asks_for_reply"]["message"] \
        .startswith("It asks you to reply")
    for header, language, word in (("de-CH, en;q=0.5", "de", "antworten"),
                                   ("ja, es-419;q=0.8", "es", "responda"),
                                   ("pt-BR", "pt", "responda"), ("fr-CA;q=0.9, *;q=0.1", "fr",
                                                                 "répondre"),
                                   ("zh-TW, en;q=0.8", "en", "reply")):
        answer = smtp_client.post("/v1/messages/check", content=PHISH,
                                  headers={"Content-Type": "message/rfc822",
                                           "Accept-Language": header})
        assert answer.headers["content-language"] == language
        assert word in {r["code"]: r for r in answer.json()["reasons"]}["asks_for_reply"]["message"]


def test_inputs_that_cannot_be_checked_get_clear_problems(smtp_client: TestClient) -> None:
    def post(**kwargs):
        return smtp_client.post("/v1/messages/check", **kwargs)

    rfc822 = {"Content-Type": "message/rfc822"}
    for content in (b"", b"just some words, no headers", b"%PDF-1.7\n\x00\x01\x02binary"):
        response = post(content=content, headers=rfc822)
        assert response.status_code == 422, response.text
        assert response.json()["type"] == "/problems/message-unparseable"
    both = post(json={"text": "hello", "reference": "CG-7KQ4-M9XD"})
    assert both.status_code == 422 and both.json()["type"] == "/problems/validation-error"
    bad_reference = post(json={"reference": "12345"})
    assert bad_reference.status_code == 422
    assert bad_reference.json()["errors"][0]["field"] == "reference"
    unknown_field = post(json={"raw": "x", "body": "y"})
    assert unknown_field.status_code == 422 and unknown_field.json()["errors"][0]["field"] == "body"
    assert post(content=b"{not json", headers={"Content-Type": "application/json"}
                ).status_code == 400
    assert post(content=b"x", headers={"Content-Type": "image/png"}).status_code == 415
    assert post(json={"account": "nobody", "text": "hi"}).status_code == 404
    too_big = post(content=b"From: a@b.example\r\n\r\n" + b"x" * (25 * 1024 * 1024),
                   headers=rfc822)
    assert too_big.status_code == 413  # the request guard's per-route limit, or the service's
    assert too_big.json()["type"] in {"/problems/payload-too-large", "/problems/message-too-large"}
    unauthenticated = TestClient(smtp_client.app).post("/v1/messages/check", json={"text": "x"})
    assert unauthenticated.status_code == 401


def test_broken_mime_and_odd_charsets_get_a_verdict(smtp_client: TestClient) -> None:
    broken = (b"From: =?x-unknown?q?Acme=20Market?= <no-reply@acme.test>\r\n"
              b"Subject: =?utf-8?b?not base64!?=\r\nMIME-Version: 1.0\r\n"
              b'Content-Type: multipart/alternative; boundary="never-closed"\r\n\r\n'
              b"--never-closed\r\nContent-Type: text/plain; charset=klingon\r\n"
              b"Content-Transfer-Encoding: base64\r\n\r\n!!!not*base64###\r\n"
              b"--never-closed\r\nContent-Type: text/html; charset=gb2312\r\n"
              b"Content-Transfer-Encoding: quoted-printable\r\n\r\n<p>=C7=EB=BB=D8=B8=B4 =ZZ"
              b"<a href='http://[::1'>x</a><a href=\"http://%%%/\">y")
    response = smtp_client.post("/v1/messages/check", content=broken,
                                headers={"Content-Type": "message/rfc822"})
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["verdict"] == "phishing"  # an Acme address without our signature
    assert "spoofed_from" in [r["code"] for r in body["reasons"]]
    assert json.dumps(body)  # serialisable, no server error
