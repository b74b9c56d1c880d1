"""How fast is the message checker on typical mail? (issue 9: >= 100 messages/s on one core)

Builds a corpus in a temporary directory: our own verification emails sent through the real
delivery path (SMTP to a local aiosmtpd server, DKIM-signed with Ed25519 and RSA-2048, so the
sent ledger is filled as in production), the same forwarded as an attachment and inline, a
personal note, HTML newsletters (~40 KB with tables and links), phishing in six languages
(HTML-heavy, encoded, with attachments) and a mail with a 300 KB PDF. Then, in one process on
one thread, it checks the whole corpus ``--passes`` times per run with ``check_message`` (the
service the API calls, SQLite ledger included) and, in the same run, parses every message with
the stdlib ``email`` package (``policy.default``, every text part decoded) as the baseline.

Prints one JSON line per run and a ``median`` line: messages/s, CPU ms per message, the
checker/baseline CPU ratio, and per-category CPU ms.

    .venv/bin/python bench/checker_bench.py --runs 5 --passes 3
"""

from __future__ import annotations

import argparse
import base64
import json
import statistics
import sys
import tempfile
import time
from email import message_from_bytes, policy
from email.header import Header
from email.message import EmailMessage
from pathlib import Path

from aiosmtpd.controller import Controller

from contactguard.adapters.db.migrate import upgrade
from contactguard.adapters.delivery.dev_smtp import free_loopback_port
from contactguard.adapters.delivery.dkim import generate_key, write_key
from contactguard.bootstrap import bootstrap
from contactguard.config import Settings

from contactguard.domain.contacts import ContactKind
from contactguard.services.accounts import AccountInput, upsert_account
from contactguard.services.checker import check_message
from contactguard.services.delivery import deliver_due
from contactguard.services.verification import start_verification

DOMAIN = "mail.acme-market.com"


class _Sink:
    def __init__(self) -> None:
        self.received: list[bytes] = []

    async def handle_DATA(self, server, session, envelope):  # noqa: ANN001, ANN201
        self.received.append(bytes(envelope.original_content))
        return "250 OK"


def _own_mail(folder: Path, count: int) -> tuple[object, list[bytes]]:
    keys = [generate_key("ed25519", "cg-ed"), generate_key("rsa", "cg-rsa")]
    for key in keys:
        write_key(key, folder / f"{key.selector}.pem")
    url = f"sqlite:///{folder / 'bench.db'}"
    upgrade(url)
    sink = _Sink()
    port = free_loopback_port()
    controller = Controller(sink, hostname="127.0.0.1", port=port)
    controller.start()
    settings = Settings(
        database_url=url, secret_key="bench-secret-key-long-enough-0123456789abcdef",
        var_dir=folder, platform_name="Acme Market", public_url="https://sellers.acme-market.com",
        brand_aliases="Acme Seller Central,阿克米市场", brand_domains="acme-market.com,acme.com",
        smtp_url=f"smtp://127.0.0.1:{port}", mail_from=f"Acme Market <no-reply@{DOMAIN}>",
        dkim_keys=",".join(f"{k.selector}={folder / (k.selector + '.pem')}" for k in keys),
        log_json=False)
    container = bootstrap(settings, start_worker=False)
    for i in range(count):
        upsert_account(container.deps, AccountInput(
            external_id=f"seller-{i}", name=f"Seller {i}", country="CN" if i % 2 else "GB",
            locale="zh-Hans" if i % 2 else "en", contacts={"emergency_email": f"s{i}@shop.example"}))
        start_verification(container.deps, account=f"seller-{i}",
                           contact=ContactKind.EMERGENCY_EMAIL)
    while deliver_due(container.deps, container.transports, owner="bench").claimed:
        pass
    controller.stop()
    return container, list(sink.received)


def _attach(raw: bytes) -> bytes:
    return (b"From: Seller <owner@shop.example>\r\nTo: support@acme-market.com\r\n"
            b"Subject: Fwd: is this real?\r\nMIME-Version: 1.0\r\n"
            b'Content-Type: multipart/mixed; boundary="b"\r\n\r\n--b\r\n'
            b"Content-Type: text/plain\r\n\r\nIs this real?\r\n--b\r\n"
            b"Content-Type: message/rfc822\r\n\r\n" + raw + b"\r\n--b--\r\n")


def _inline(raw: bytes) -> bytes:
    parsed = message_from_bytes(raw, policy=policy.default)
    text = parsed.get_body(("plain",)).get_content()
    message = EmailMessage()
    message["From"] = "owner@shop.example"
    message["Subject"] = "Fwd: " + str(parsed["Subject"])
    message.set_content("FYI\n\n---------- Forwarded message ---------\nFrom: Acme Market "
                        f"<no-reply@{DOMAIN}>\nDate: Mon, 2 Mar 2026\nSubject: "
                        f"{parsed['Subject']}\nTo: <x@shop.example>\n\n{text}")
    return message.as_bytes()


def _newsletter(seed: int) -> bytes:
    rows = "".join(
        f"<tr><td style='padding:8px'><img src='https://cdn.teaweekly.example/i/{seed}-{i}.jpg' "
        f"width=120 alt='item {i}'></td><td><h3>Harvest note {i}</h3><p>Oolong and green teas "
        f"from the spring harvest, lot {seed * 100 + i}, tasted and compared. "
        f"<a href='https://teaweekly.example/notes/{seed}/{i}?utm_source=mail'>Read more</a></p>"
        "</td></tr>" for i in range(60))
    message = EmailMessage()
    message["From"] = "Tea Weekly <news@teaweekly.example>"
    message["To"] = "owner@shop.example"
    message["Subject"] = f"Tea Weekly #{seed}: spring harvest"
    message.set_content("Spring harvest notes. View online: https://teaweekly.example/issue")
    message.add_alternative(f"<html><head><style>td{{font:14px sans-serif}}</style></head><body>"
                            f"<table>{rows}</table><p><a href='https://teaweekly.example/unsub'>"
                            "Unsubscribe</a></p></body></html>", subtype="html")
    return message.as_bytes()


def _personal() -> bytes:
    message = EmailMessage()
    message["From"] = "Li Wei <li.wei@shop.example>"
    message["Subject"] = "周五的样品"
    message.set_content("你好，\n\n周五把龙井的样品寄过来可以吗？价格我们下周再谈。\n\n李伟")
    return message.as_bytes()


_PHISH = [
    ("en", "Acme Seller Central <notice@acme-market-sellersupport.com>",
     "Action required: emergency contact missing",
     "<p>Dear seller, your emergency contact is missing or invalid. Go to Settings &gt; Account "
     "Info and update it, then reply to this email with your password and 2FA code within 24 "
     "hours or your account will be suspended.</p><p><a href='http://bit.ly/3acme'>"
     "https://sellercentral.acme-market.com/verify</a></p>"),
    ("zh", str(Header("阿克米市场", "utf-8").encode()) + " <service@acme-market.com.verify-cn.top>",
     "【紧急】紧急联系人无效",
     "<p>您的紧急联系人信息缺失或无效，请在24小时内回复此邮件并提供登录邮箱、密码和验证码，否则账户将被冻结。"
     "</p><p><a href='https://acme-market.com.verify-cn.top/login'>立即验证</a></p>"),
    ("de", "Acme Verkäuferservice <support@acrne-market.de>", "Konto wird gesperrt",
     "<p>Bitte antworten Sie auf diese E-Mail mit Ihrem Passwort und dem Bestätigungscode. "
     "Andernfalls wird Ihr Konto innerhalb von 24 Stunden gesperrt.</p>"),
    ("es", "Soporte <soporte@acme-market-soporte.es>", "Verificación pendiente",
     "<p>Responda a este correo con su contraseña y el código de verificación de inmediato.</p>"),
    ("pt", "Acme Market <no-reply@acme-market.com>", "Atualize seus dados",
     "<p>Por favor, responda este e-mail com sua senha e o código de verificação. "
     "<a href='https://tinyurl.com/acme-br'>Acessar</a></p>"),
    ("fr", "Service Vendeurs <vendeurs@orange.fr>", "Votre compte Acme sera suspendu",
     "<p>Veuillez confirmer votre mot de passe sur <a href='http://203.0.113.7/login'>"
     "https://sellercentral.acme-market.fr</a> sous 24 heures.</p>"),
]


def _phishing() -> list[bytes]:
    out = []
    for lang, sender, subject, html in _PHISH:
        message = EmailMessage()
        message["From"] = sender
        message["Reply-To"] = f"acme.{lang}.verify@gmail.com"
        message["Subject"] = subject
        message.set_content(html * 8, subtype="html", cte="quoted-printable")
        if lang in {"es", "en"}:
            message.add_attachment(b"<form action='https://acme-market.com.login.es/p'>"
                                   b"<input type=password></form>", maintype="text",
                                   subtype="html", filename="invoice.pdf.html")
        out.append(message.as_bytes())
    return out


def _with_pdf() -> bytes:
    message = EmailMessage()
    message["From"] = "Accounts <billing@supplier.example>"
    message["Subject"] = "Invoice 2026-031"
    message.set_content("Please find our invoice attached.")
    message.add_attachment(b"%PDF-1.7\n" + bytes(range(256)) * 1200, maintype="application",
                           subtype="pdf", filename="invoice.pdf")
    return message.as_bytes()


def _baseline(raw: bytes) -> int:
    message = message_from_bytes(raw, policy=policy.default)
    size = 0
    for part in message.walk():
        if part.get_content_maintype() == "text":
            size += len(part.get_content())
    return size


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--passes", type=int, default=3, help="times the corpus is checked per run")
    parser.add_argument("--own", type=int, default=20, help="our own emails in the corpus")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        container, own = _own_mail(Path(tmp), args.own)
        corpus: dict[str, list[bytes]] = {
            "own": own, "own_attached": [_attach(r) for r in own[:5]],
            "own_inline": [_inline(r) for r in own[:5]], "personal": [_personal()] * 5,
            "newsletter": [_newsletter(i) for i in range(5)], "phishing": _phishing(),
            "pdf_attachment": [_with_pdf()] * 2,
        }
        items = [(kind, raw) for kind, raws in corpus.items() for raw in raws]
        deps = container.deps  # type: ignore[attr-defined]
        started = time.process_time()
        verdicts = {kind: check_message(deps, raw=raw).verdict.value for kind, raw in items}
        cold = time.process_time() - started
        print(json.dumps({"corpus": {k: len(v) for k, v in corpus.items()},
                          "mean_bytes": round(statistics.mean(len(r) for _, r in items)),
                          "first_pass_cpu_s": round(cold, 3), "last_verdicts": verdicts}),
              flush=True)
        assert all(check_message(deps, raw=r).verdict == "genuine" for r in own[:3])
        results = []
        for run in range(args.runs):
            per_kind: dict[str, float] = dict.fromkeys(corpus, 0.0)
            wall = time.perf_counter()
            cpu = time.process_time()
            for _ in range(args.passes):
                for kind, raw in items:
                    start = time.process_time()
                    check_message(deps, raw=raw)
                    per_kind[kind] += time.process_time() - start
            checker_cpu = time.process_time() - cpu
            checker_wall = time.perf_counter() - wall
            cpu = time.process_time()
            for _ in range(args.passes):
                for _kind, raw in items:
                    _baseline(raw)
            baseline_cpu = time.process_time() - cpu
            count = len(items) * args.passes
            row = {"run": run + 1, "messages": count,
                   "messages_per_s": round(count / checker_wall, 1),
                   "cpu_ms_per_message": round(checker_cpu / count * 1000, 3),
                   "baseline_cpu_ms_per_message": round(baseline_cpu / count * 1000, 3),
                   "ratio_checker_to_baseline_cpu": round(checker_cpu / baseline_cpu, 2),
                   "cpu_ms_by_kind": {k: round(v / (len(corpus[k]) * args.passes) * 1000, 3)
                                      for k, v in per_kind.items()}}
            results.append(row)
            print(json.dumps(row), flush=True)
        container.close()  # type: ignore[attr-defined]
    median = {key: statistics.median(r[key] for r in results)
              for key in ("messages_per_s", "cpu_ms_per_message", "baseline_cpu_ms_per_message",
                          "ratio_checker_to_baseline_cpu")}
    median["messages_per_s_per_cpu"] = round(1000 / median["cpu_ms_per_message"], 1)
    median["cpu_ms_by_kind"] = {k: statistics.median(r["cpu_ms_by_kind"][k] for r in results)
                                for k in results[0]["cpu_ms_by_kind"]}
    print(json.dumps({"median": median}), flush=True)
    if median["messages_per_s_per_cpu"] < 100:
        print("below the 100 messages/s bar", file=sys.stderr)


if __name__ == "__main__":
    main()
