"""``contactguard inbound``: the SMTP listener as a process. Mail to the report address is
accepted and handled; mail to another domain is refused (not a relay); SIGTERM stops it."""

from __future__ import annotations

import signal
import smtplib
import subprocess
import time
from email.message import EmailMessage

from sqlalchemy import create_engine, select

from contactguard.adapters.db import tables as t
from tests.e2e.conftest import BIN, Cli, free_port


def test_the_inbound_command_takes_reports_over_smtp(cli: Cli, database_url: str) -> None:
    cli("db", "upgrade")
    port = free_port()
    env = {**cli.env, "CONTACTGUARD_MAIL_FROM": "Acme Market <no-reply@mail.acme.test>",
           "CONTACTGUARD_INBOUND_PORT": str(port)}
    process = subprocess.Popen([str(BIN), "inbound"], env=env, stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 20
        while True:
            try:
                smtp = smtplib.SMTP("127.0.0.1", port, timeout=5)
                break
            except OSError:
                assert process.poll() is None, process.communicate()[1]
                assert time.monotonic() < deadline, "the listener did not start"
                time.sleep(0.1)
        message = EmailMessage()
        message["From"] = "someone@shops.example"
        message["To"] = "report@mail.acme.test"
        message["Subject"] = "Fwd: Acme Market: verify your account"
        message.set_content("Acme Market: reply with your password at https://acme-login.top/x")
        with smtp:
            smtp.ehlo()
            refused = smtp.sendmail("someone@shops.example",
                                    ["report@mail.acme.test", "victim@elsewhere.example"],
                                    message.as_bytes())
            assert list(refused) == ["victim@elsewhere.example"]  # no relaying
    finally:
        process.send_signal(signal.SIGTERM)
        _, stderr = process.communicate(timeout=20)
    assert process.returncode == 0, stderr
    assert f"inbound SMTP on 127.0.0.1:{port}" in stderr
    engine = create_engine(database_url)
    with engine.connect() as conn:
        reports = list(conn.execute(select(t.inbound_reports)))
        counts = {r.kind: r.count for r in conn.execute(select(t.inbound_counts))}
    engine.dispose()
    assert [(r.verdict, r.answered) for r in reports] == [("phishing", False)]
    assert counts == {"report": 1}
