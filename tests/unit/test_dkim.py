"""DKIM signatures checked by an independent verifier (dkimpy) against the published record."""

from __future__ import annotations

from datetime import UTC, datetime
from email.headerregistry import Address

import dkim
import pytest

from contactguard.adapters.delivery.dkim import (
    DkimSigner,
    dns_txt_record,
    generate_key,
    load_keys,
    write_key,
)
from contactguard.adapters.delivery.mime import build_email
from contactguard.domain.contacts import Channel
from contactguard.domain.messages import RenderedMessage
from contactguard.errors import ConfigurationError

DOMAIN = "mail.acme.test"


def _dns_for(*keys):
    records = {f"{k.selector}._domainkey.{DOMAIN}.".encode(): k.public_record().encode()
               for k in keys}

    def dnsfunc(name, timeout=5):
        return records.get(name if isinstance(name, bytes) else name.encode())

    return dnsfunc


def _message(**overrides) -> bytes:
    rendered = RenderedMessage(channel=Channel.EMAIL, to="owner@lotus.example.com",
                               subject=overrides.get("subject", "Your code"),
                               body=overrides.get("body", "Hello,\n\nYour code is 123456.  \n"),
                               html="<p>Your code is <b>123456</b></p>", reference="CG-7KQ4-M9XD",
                               outbox_id=42)
    return build_email(rendered, mail_from=Address("Acme Market", "no-reply", DOMAIN),
                       sent_at=datetime(2026, 3, 2, 9, 0, tzinfo=UTC),
                       message_id_value=f"<CG-7KQ4-M9XD.42@{DOMAIN}>")


def _verifies(message: bytes, idx: int, dns) -> bool:
    try:
        return bool(dkim.DKIM(message).verify(idx=idx, dnsfunc=dns))
    except dkim.ValidationError:
        return False


@pytest.mark.parametrize("algorithm", ["ed25519", "rsa"])
def test_each_key_type_verifies_with_dkimpy(algorithm: str) -> None:
    key = generate_key(algorithm, "s1")
    signed = DkimSigner(DOMAIN, [key]).sign(_message(), 1_770_000_000)
    assert signed.startswith(b"DKIM-Signature:")
    assert dkim.verify(signed, dnsfunc=_dns_for(key))


def test_both_keys_give_two_valid_signatures_and_tampering_breaks_them() -> None:
    ed, rsa = generate_key("ed25519", "ed"), generate_key("rsa", "rsa")
    signed = DkimSigner(DOMAIN, [ed, rsa]).sign(
        _message(subject="您的 Acme Market 验证码 请勿告诉任何人 我们绝不会向您索要此验证码"),
        1_770_000_000)
    assert signed.count(b"DKIM-Signature:") == 2
    dns = _dns_for(ed, rsa)
    verifier = dkim.DKIM(signed)
    assert verifier.verify(idx=0, dnsfunc=dns)
    assert verifier.verify(idx=1, dnsfunc=dns)
    assert b"a=ed25519-sha256" in signed and b"a=rsa-sha256" in signed
    tampered = signed.replace(b"PHA+", b"PHB+")  # the HTML part, base64
    assert tampered != signed
    assert not _verifies(tampered, 0, dns)
    assert not _verifies(tampered, 1, dns)
    swapped_header = signed.replace(b"To: owner@lotus", b"To: thief@lotus")
    assert not dkim.verify(swapped_header, dnsfunc=dns)


def test_keys_round_trip_through_files_and_dns_record(tmp_path) -> None:
    ed, rsa = generate_key("ed25519", "cg-ed"), generate_key("rsa", "cg-rsa")
    write_key(ed, tmp_path / "ed.pem")
    write_key(rsa, tmp_path / "rsa.pem")
    assert (tmp_path / "ed.pem").stat().st_mode & 0o777 == 0o600
    loaded = load_keys(f"cg-ed={tmp_path / 'ed.pem'}, cg-rsa={tmp_path / 'rsa.pem'}")
    assert [k.selector for k in loaded] == ["cg-ed", "cg-rsa"]
    assert [k.public_record() for k in loaded] == [ed.public_record(), rsa.public_record()]
    record = dns_txt_record(loaded[1], DOMAIN)
    assert record.startswith(f'cg-rsa._domainkey.{DOMAIN} TXT "v=DKIM1; k=rsa; p=')
    assert all(len(chunk) <= 255 for chunk in record.split('"')[1::2])
    with pytest.raises(ConfigurationError, match="selector=path"):
        load_keys("just-a-path.pem")
    with pytest.raises(ConfigurationError, match="cannot load"):
        load_keys(f"x={tmp_path / 'missing.pem'}")


@pytest.mark.parametrize("body", [
    b"", b"\r\n\r\n", b"plain\r\n", b"a  b \t c \r\n\r\n\r\n", b"x\r\n \r\n\ty\t\r\n",
    b"no final newline", b"trailing space \r\nend  ",
])
def test_relaxed_body_matches_dkimpy(body: bytes) -> None:
    from dkim.canonicalization import Relaxed

    from contactguard.adapters.delivery.dkim import _relaxed_body

    assert _relaxed_body(body) == Relaxed.canonicalize_body(body)
