"""No input breaks the checker: a fuzzed corpus of broken MIME (wrong and unknown charsets,
bad transfer encodings, unclosed or nested boundaries, truncation, binary noise, forwarded
parts inside forwarded parts) always gets a verdict or a clear "not a message" error."""

from __future__ import annotations

import contextlib

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from contactguard.domain.phishing import CheckResult
from contactguard.errors import MessageUnparseable
from contactguard.services.checker import check_message
from tests.unit.checker_fakes import brand_deps

_CHARSETS = ["utf-8", "gb2312", "iso-8859-1", "klingon", "", "utf-7", "shift_jis", "utf-16",
             '"utf-8', "windows-1252;format=flowed"]
_ENCODINGS = ["base64", "quoted-printable", "7bit", "8bit", "binary", "x-uuencode", "bogus"]
_TYPES = ["text/plain", "text/html", "message/rfc822", "application/octet-stream",
          "multipart/mixed", "multipart/alternative", "image/png", "text/calendar", "garbage"]
_TEXTS = st.sampled_from([
    "Reply with your password", "请回复此邮件并提供验证码", "<a href='http://bit.ly/x'>https://amazon.com"
    "</a>", "Amazon Seller Central", "=?utf-8?b?5Lqa6ams6YCK?=", "CG-7KQ4-M9XD", "=E4=BA=9A=ZZ",
    "---------- Forwarded message ---------\nFrom: Amazon <no-reply@amazon.com>\nSubject: x\n\nbody",
    "\x00\x01\xff", "<html><body><div style='display:none'>", "http://[::1", "mailto:@", "",
])


@st.composite
def _part(draw: st.DrawFn, depth: int = 0) -> bytes:
    ctype = draw(st.sampled_from(_TYPES))
    charset = draw(st.sampled_from(_CHARSETS))
    headers = [f"Content-Type: {ctype}; charset={charset}"]
    if draw(st.booleans()):
        headers.append(f"Content-Transfer-Encoding: {draw(st.sampled_from(_ENCODINGS))}")
    if draw(st.booleans()):
        headers.append(f'Content-Disposition: attachment; filename="{draw(_TEXTS)[:20]}.html"')
    if ctype.startswith("multipart") and depth < 3:
        boundary = draw(st.sampled_from(["b1", "b1", "", '"unterminated', "b" * 80]))
        headers[0] = f'Content-Type: {ctype}; boundary="{boundary}"'
        children = draw(st.lists(_part(depth + 1), max_size=3))
        body = b"".join(f"--{boundary}\r\n".encode() + child for child in children)
        if draw(st.booleans()):
            body += f"--{boundary}--\r\n".encode()
    elif ctype == "message/rfc822" and depth < 3:
        body = draw(_message(depth + 1))
    else:
        body = draw(_TEXTS).encode("utf-8", "replace") + draw(st.binary(max_size=40))
    return "\r\n".join(headers).encode() + b"\r\n\r\n" + body + b"\r\n"


@st.composite
def _message(draw: st.DrawFn, depth: int = 0) -> bytes:
    address = draw(st.sampled_from(["a@amazon.com", "x@xn--mazon-3ve.com", "@", "b@[1.2.3.4]",
                                    "no-at"]))
    headers = [f"From: {draw(_TEXTS)} <{address}>", f"Subject: {draw(_TEXTS)}"]
    for name in draw(st.lists(st.sampled_from(["Reply-To", "Return-Path", "Sender", "Message-ID",
                                               "DKIM-Signature", "X-ContactGuard-Reference"]),
                              max_size=4)):
        headers.append(f"{name}: {draw(_TEXTS)}")
    raw = "\r\n".join(headers).encode("utf-8", "replace") + b"\r\nMIME-Version: 1.0\r\n" + \
        draw(_part(depth))
    cut = draw(st.integers(min_value=0, max_value=len(raw)))
    return raw[:cut] if draw(st.booleans()) else raw


@given(raw=_message())
@settings(max_examples=250, deadline=None, database=None, derandomize=True,
          suppress_health_check=list(HealthCheck))
def test_broken_mime_never_breaks_the_checker(raw: bytes) -> None:
    try:
        result = check_message(brand_deps(), raw=raw, locale="zh-Hans")
    except MessageUnparseable:
        return
    assert isinstance(result, CheckResult)
    assert result.verdict in {"genuine", "phishing", "unrelated"}


@given(data=st.binary(max_size=400)
       | st.text(max_size=400).map(lambda t: t.encode("utf-8", "surrogatepass")))
@settings(max_examples=150, deadline=None, database=None, derandomize=True)
def test_noise_is_not_a_message_or_gets_a_verdict(data: bytes) -> None:
    with contextlib.suppress(MessageUnparseable):
        check_message(brand_deps(), raw=data)
    text = data.decode("utf-8", "surrogateescape")
    if text.strip():
        assert check_message(brand_deps(), text=text).verdict in {"phishing", "unrelated"}
