"""The unit of work: one connection, one transaction, every repository on it."""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractContextManager
from functools import partial
from types import TracebackType

from sqlalchemy import Connection, Engine

from contactguard.adapters.db.call_sessions import CallSessionRepository
from contactguard.adapters.db.campaigns import CampaignRepository
from contactguard.adapters.db.console import (
    ConsoleRepository,
    LoginFailureRepository,
    OperatorRepository,
)
from contactguard.adapters.db.delivery import DeliverabilityRepository, ReceiptRepository
from contactguard.adapters.db.engine import SQLITE_WRITE
from contactguard.adapters.db.errors import translate_db_error
from contactguard.adapters.db.imports import ImportRepository
from contactguard.adapters.db.inbound import InboundRepository
from contactguard.adapters.db.ledger import LedgerRepository
from contactguard.adapters.db.outbox import OutboxRepository
from contactguard.adapters.db.policy_repos import (
    AuditRepository,
    ComplianceRepository,
    ContactChangeRepository,
    PolicyRepository,
    SignalRepository,
    WebhookRepository,
)
from contactguard.adapters.db.protection import ProtectionRepository
from contactguard.adapters.db.repositories import (
    AccountRepository,
    ApiKeyRepository,
    CapturedMessageRepository,
    ChallengeRepository,
    ContactRepository,
    IdempotencyRepository,
    SendLogRepository,
    SnoozeRepository,
)
from contactguard.adapters.db.web import SessionLinkRepository, WebSessionRepository


class SqlUnitOfWork:
    """``with uow: ...; uow.commit()`` — leaving the block without commit rolls back.

    On SQLite, writers of one process queue on ``write_lock`` (a fair OS-level wait) before
    ``BEGIN IMMEDIATE``: SQLite's own busy handler polls with sleeps and can starve a thread
    under load. The busy timeout still arbitrates between processes.

    Callbacks registered with :meth:`after_commit` run once the transaction is durable
    (used to wake the outbox worker).
    """

    accounts: AccountRepository
    contacts: ContactRepository
    challenges: ChallengeRepository
    sends: SendLogRepository
    outbox: OutboxRepository
    api_keys: ApiKeyRepository
    idempotency: IdempotencyRepository
    captured: CapturedMessageRepository
    snoozes: SnoozeRepository
    session_links: SessionLinkRepository
    policies: PolicyRepository
    compliance: ComplianceRepository
    signals: SignalRepository
    contact_changes: ContactChangeRepository
    webhooks: WebhookRepository
    audit: AuditRepository
    deliverability: DeliverabilityRepository
    receipts: ReceiptRepository
    web_sessions: WebSessionRepository
    # Operator console (issue 8)
    operators: OperatorRepository
    login_failures: LoginFailureRepository
    console: ConsoleRepository
    campaigns: CampaignRepository
    ledger: LedgerRepository
    call_sessions: CallSessionRepository  # verify-the-caller (issue 9)
    # Shared limits and abuse protection (issue 11)
    protection: ProtectionRepository

    def __init__(self, engine: Engine, *, write: bool = True,
                 on_outbox: Callable[[frozenset[str]], None] | None = None,
                 write_lock: AbstractContextManager[object] | None = None,
                 notify: Callable[[Connection, set[str]], None] | None = None) -> None:
        self._engine = engine
        self._notify = notify  # PostgreSQL: NOTIFY workers in the transaction that queued
        self._write = write
        self._write_lock = write_lock if write else None
        self._on_outbox = on_outbox
        self._callbacks: list[Callable[[], None]] = []
        self._before: list[Callable[[], None]] = []
        self._conn: Connection | None = None
        self.outbox_written = False
        self._outbox_lanes: set[str] = set()

    @property
    def connection(self) -> Connection:
        assert self._conn is not None, "unit of work used outside its with-block"
        return self._conn

    def __enter__(self) -> SqlUnitOfWork:
        if self._write_lock is not None:
            self._write_lock.__enter__()
        conn = self._engine.connect()
        if self._write:
            conn = conn.execution_options(**SQLITE_WRITE)
        self._conn = conn  # the first statement begins the transaction (autobegin)
        self.accounts = AccountRepository(conn)
        self.contacts = ContactRepository(conn)
        self.challenges = ChallengeRepository(conn)
        self.sends = SendLogRepository(conn)
        self.outbox = OutboxRepository(conn, on_add=self._outbox_added)
        self.api_keys = ApiKeyRepository(conn)
        self.idempotency = IdempotencyRepository(conn)
        self.captured = CapturedMessageRepository(conn)
        self.snoozes = SnoozeRepository(conn)
        self.session_links = SessionLinkRepository(conn)
        self.policies = PolicyRepository(conn)
        self.compliance = ComplianceRepository(conn)
        self.signals = SignalRepository(conn)
        self.contact_changes = ContactChangeRepository(conn)
        self.webhooks = WebhookRepository(conn)
        self.audit = AuditRepository(conn)
        self.deliverability = DeliverabilityRepository(conn)
        self.receipts = ReceiptRepository(conn)
        self.web_sessions = WebSessionRepository(conn)
        # Operator console (issue 8)
        self.operators = OperatorRepository(conn)
        self.login_failures = LoginFailureRepository(conn)
        self.console = ConsoleRepository(conn)
        self.campaigns = CampaignRepository(conn)
        self.imports = ImportRepository(conn)  # set-based account import (issue 8)
        self.ledger = LedgerRepository(conn)
        self.call_sessions = CallSessionRepository(conn)
        self.protection = ProtectionRepository(conn)
        self.inbound = InboundRepository(conn)  # inbound mail, phishing waves (issue 9)
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        conn, self._conn = self._conn, None
        try:
            if conn is not None:
                try:
                    if conn.in_transaction():
                        conn.rollback()
                finally:
                    conn.close()
        finally:
            if self._write_lock is not None:
                self._write_lock.__exit__(None, None, None)
        if exc is not None:
            translated = translate_db_error(exc)
            if translated is not None:
                raise translated from exc

    def commit(self) -> None:
        before, self._before = self._before, []
        for callback in before:  # last statements of the transaction (audit log appends)
            callback()
        if self.outbox_written and self._notify is not None:
            self._notify(self.connection, self._outbox_lanes)
        self.connection.commit()
        callbacks, self._callbacks = self._callbacks, []
        if self.outbox_written and self._on_outbox is not None:
            # the lanes that got a message (none recorded, e.g. a replay: every lane)
            callbacks.append(partial(self._on_outbox, frozenset(self._outbox_lanes)))
        self.outbox_written = False
        self._outbox_lanes = set()
        for callback in callbacks:
            callback()

    def rollback(self) -> None:
        self.connection.rollback()
        self._callbacks.clear()
        self._before.clear()
        self.outbox_written = False
        self._outbox_lanes = set()

    def before_commit(self, callback: Callable[[], None]) -> None:
        """Run ``callback`` inside the transaction, just before it commits."""
        self._before.append(callback)

    def after_commit(self, callback: Callable[[], None]) -> None:
        self._callbacks.append(callback)

    def _outbox_added(self, lane: str) -> None:
        self.outbox_written = True
        self._outbox_lanes.add(lane)
