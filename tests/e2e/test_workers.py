"""``contactguard worker`` processes against a real SMTP server: SIGKILL, SIGTERM, DKIM keys."""

from __future__ import annotations

import os
import signal
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import dkim
import pytest
from sqlalchemy import create_engine, select

from contactguard.adapters.db import tables as t
from contactguard.adapters.delivery.dkim import load_keys
from contactguard.bootstrap import bootstrap
from contactguard.domain.contacts import ContactKind
from contactguard.services.accounts import AccountInput, upsert_accounts
from contactguard.services.delivery import POSSIBLE_DUPLICATE
from contactguard.services.verification import start_verification
from tests.conftest import make_settings
from tests.e2e.conftest import BIN, Cli
from tests.smtp_sink import SinkHandler, SmtpSink

DOMAIN = "mail.acme.test"


@pytest.fixture
def sink() -> Iterator[SmtpSink]:
    server = SmtpSink(SinkHandler(delay=0.03))
    server.start()
    yield server
    server.stop()


def _queue(database_url: str, tmp_path: Path, count: int) -> None:
    container = bootstrap(make_settings(database_url, tmp_path), start_worker=False)
    try:
        upsert_accounts(container.deps, [
            AccountInput(external_id=f"s-{i}", name=f"Seller {i}", country="GB",
                         contacts={"emergency_email": f"owner{i}@shop.example.com"})
            for i in range(count)])
        for i in range(count):
            start_verification(container.deps, account=f"s-{i}",
                               contact=ContactKind.EMERGENCY_EMAIL)
    finally:
        container.close()


def _rows(database_url: str):
    engine = create_engine(database_url)
    try:
        with engine.connect() as conn:
            return list(conn.execute(select(t.outbox).order_by(t.outbox.c.id)))
    finally:
        engine.dispose()


def _leased_by(database_url: str, pid: int) -> int:
    return sum(1 for r in _rows(database_url)
               if r.status == "sending" and r.lease_owner and f":{pid}:" in r.lease_owner)


def _worker_env(cli: Cli, sink: SmtpSink, tmp_path: Path) -> dict[str, str]:
    key = tmp_path / "ed.pem"
    if not key.exists():
        cli("dkim", "keygen", "--algorithm", "ed25519", "--selector", "cg", "--out", str(key),
            "--domain", DOMAIN)
    return {**cli.env, "CONTACTGUARD_SMTP_URL": sink.url,
            "CONTACTGUARD_MAIL_FROM": f"Acme Market <no-reply@{DOMAIN}>",
            "CONTACTGUARD_DKIM_KEYS": f"cg={key}", "CONTACTGUARD_WORKER_LEASE_SECONDS": "3",
            "CONTACTGUARD_WORKER_POLL_SECONDS": "0.2", "CONTACTGUARD_WORKER_BATCH": "10",
            "CONTACTGUARD_WORKER_CONCURRENCY": "2", "CONTACTGUARD_WORKER_CODE_BATCH": "10"}


def _local_ports(pid: int) -> set[int | None]:
    """Local TCP ports of the sockets process ``pid`` holds (from /proc)."""
    inodes = set()
    fd_dir = Path(f"/proc/{pid}/fd")
    for fd in fd_dir.iterdir() if fd_dir.exists() else []:
        try:
            target = os.readlink(fd)
        except OSError:
            continue
        if target.startswith("socket:["):
            inodes.add(target[8:-1])
    ports: set[int | None] = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        with open(table) as handle:
            for line in handle.readlines()[1:]:
                fields = line.split()
                if fields[9] in inodes:
                    ports.add(int(fields[1].rsplit(":", 1)[1], 16))
    return ports


def _start(env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    with log.open("w") as handle:
        return subprocess.Popen([str(BIN), "worker"], env=env, stdout=handle,
                                stderr=subprocess.STDOUT)


def _wait(predicate, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.1)


def _postgres_only(database_url: str) -> None:
    if not database_url.startswith("postgresql"):
        pytest.skip("several worker processes are a PostgreSQL deployment")


def test_sigkill_one_of_two_workers_mid_batch_loses_and_duplicates_nothing(
        cli: Cli, database_url: str, tmp_path: Path, sink: SmtpSink) -> None:
    _postgres_only(database_url)
    count = 200
    started = time.monotonic()
    _queue(database_url, tmp_path, count)
    print(f"queued in {time.monotonic() - started:.1f}s")
    env = _worker_env(cli, sink, tmp_path)
    # The victim sends on one connection, so that "in the middle of a batch" can be pinned to
    # a moment where its message in flight is still waiting in RCPT: before the hand-over
    # point. (A kill after that point is the next test: the message is sent again.)
    victim = _start({**env, "CONTACTGUARD_WORKER_CONCURRENCY": "1",
                     "CONTACTGUARD_WORKER_CODE_THREADS": "1"}, tmp_path / "victim.log")
    _wait(lambda: "worker ready" in (tmp_path / "victim.log").read_text(), 60, "the victim")
    survivor = _start(env, tmp_path / "survivor.log")
    try:
        _wait(lambda: len(sink.received) >= 20 and _leased_by(database_url, victim.pid) >= 5
              and bool(_local_ports(victim.pid) & sink.handler.waiting_in_rcpt()),
              60, "the victim to be in the middle of a batch, waiting in RCPT")
        print(f"killing after {time.monotonic() - started:.1f}s")
        victim.send_signal(signal.SIGKILL)
        victim.wait(10)
        at_kill = len(sink.received)
        assert at_kill < count, "the victim was killed after the batch had finished"
        _wait(lambda: len(sink.received) >= count, 90, "every message to arrive")
        _wait(lambda: all(r.status == "sent" for r in _rows(database_url)), 30,
              "every message to be recorded as sent")
    finally:
        survivor.send_signal(signal.SIGTERM)
        assert survivor.wait(20) == 0
        if victim.poll() is None:
            victim.kill()
    print(f"all delivered after {time.monotonic() - started:.1f}s")
    rows = _rows(database_url)
    counts = sink.message_id_counts()
    duplicates = {mid: n for mid, n in counts.items() if n > 1}
    assert duplicates == {}, f"Message-IDs delivered twice: {duplicates}"
    expected = {f"<{r.reference}.{r.id}@{DOMAIN}>" for r in rows}
    assert set(counts) == expected  # every message arrived, exactly once
    assert len(expected) == count
    taken_over = [r for r in rows if r.attempts > 1]
    assert taken_over, "no message was in flight at the victim when it was killed"
    keys = load_keys(env["CONTACTGUARD_DKIM_KEYS"])
    record = keys[0].public_record().encode()
    assert all(dkim.verify(m.raw, dnsfunc=lambda name, timeout=5: record)
               for m in sink.received[:20])


def test_sigkill_after_the_hand_over_point_sends_the_message_again_with_its_message_id(
        cli: Cli, database_url: str, tmp_path: Path) -> None:
    """At least once (README "No duplicates"): the SMTP server holds its reply to the final
    "." of the first message, so the worker is past its hand-over mark when it is killed.
    A surviving worker sends that message again with the same Message-ID (receivers drop
    the copy); every other message arrives once; nothing is lost."""
    _postgres_only(database_url)
    holding = SmtpSink(SinkHandler(hold_next=True))
    holding.start()
    count = 10
    try:
        _queue(database_url, tmp_path, count)
        env = _worker_env(cli, holding, tmp_path)
        victim = _start({**env, "CONTACTGUARD_WORKER_CONCURRENCY": "1",
                         "CONTACTGUARD_WORKER_CODE_THREADS": "1"}, tmp_path / "victim.log")
        try:
            _wait(lambda: holding.handler.holding is not None
                  and holding.handler.holding in _local_ports(victim.pid), 60,
                  "the victim to wait for the reply to its final '.'")
            [held] = [r for r in _rows(database_url) if r.handed_over_at is not None]
            assert held.status == "sending" and f":{victim.pid}:" in held.lease_owner
            victim.send_signal(signal.SIGKILL)
            victim.wait(10)
        finally:
            if victim.poll() is None:
                victim.kill()
        holding.handler.release.set()
        survivor = _start(env, tmp_path / "survivor.log")
        try:
            _wait(lambda: all(r.status == "sent" for r in _rows(database_url)), 60,
                  "every message to be recorded as sent")
        finally:
            survivor.send_signal(signal.SIGTERM)
            assert survivor.wait(20) == 0
    finally:
        holding.stop()
    rows = {r.id: r for r in _rows(database_url)}
    counts = holding.message_id_counts()
    held_id = f"<{held.reference}.{held.id}@{DOMAIN}>"
    assert counts[held_id] == 2  # the copy the receiver can drop: the same Message-ID
    assert rows[held.id].provider_message_id == held_id
    assert rows[held.id].last_error == POSSIBLE_DUPLICATE and rows[held.id].attempts == 2
    others = {f"<{r.reference}.{r.id}@{DOMAIN}>" for r in rows.values() if r.id != held.id}
    assert {mid: counts[mid] for mid in others} == dict.fromkeys(others, 1)  # nothing lost
    assert len(rows) == count


def test_sigterm_finishes_in_flight_and_releases_the_rest(cli: Cli, database_url: str,
                                                           tmp_path: Path) -> None:
    _postgres_only(database_url)
    slow = SmtpSink(SinkHandler(delay=0.3))
    slow.start()
    try:
        _queue(database_url, tmp_path, 20)
        env = {**_worker_env(cli, slow, tmp_path), "CONTACTGUARD_WORKER_CONCURRENCY": "1"}
        worker = _start(env, tmp_path / "worker.log")
        _wait(lambda: len(slow.received) >= 1, 60, "a first delivery")
        worker.send_signal(signal.SIGTERM)
        assert worker.wait(15) == 0
        rows = _rows(database_url)
        assert "sending" not in {r.status for r in rows}
        sent = [r for r in rows if r.status == "sent"]
        assert 1 <= len(sent) < 20 and len(slow.received) == len(sent)
        assert all(r.attempts == 0 for r in rows if r.status == "pending")  # released, uncounted
    finally:
        slow.stop()


def test_dkim_keygen_prints_the_record_to_publish(tmp_path: Path) -> None:
    cli = Cli({k: v for k, v in os.environ.items() if not k.startswith("CONTACTGUARD_")})
    out = tmp_path / "rsa.pem"
    result = cli("dkim", "keygen", "--algorithm", "rsa", "--selector", "cg2026", "--out", str(out),
                 "--domain", "acme.example")
    assert result.stdout.startswith('cg2026._domainkey.acme.example TXT "v=DKIM1; k=rsa; p=')
    [key] = load_keys(f"cg2026={out}")
    printed = "".join(result.stdout.split(" TXT ", 1)[1].strip().split('"')[1::2])
    assert printed == key.public_record()
    again = cli("dkim", "keygen", "--selector", "x", "--out", str(out), check=False)
    assert again.returncode == 2 and "exists" in again.stderr
