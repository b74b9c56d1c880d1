"""Table definitions (SQLAlchemy Core). Alembic migrations must match these exactly."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Column,
    DateTime,
    ForeignKey,
    ForeignKeyConstraint,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.engine import Dialect
from sqlalchemy.types import TypeDecorator

metadata = MetaData(
    naming_convention={
        "ix": "ix_%(column_0_label)s",
        "uq": "uq_%(table_name)s_%(column_0_name)s",
        "ck": "ck_%(table_name)s_%(constraint_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    }
)

# SQLite wants INTEGER PRIMARY KEY for autoincrement; PostgreSQL gets BIGINT.
BigId = BigInteger().with_variant(Integer(), "sqlite")


class UTCDateTime(TypeDecorator[datetime]):
    """Timezone-aware UTC datetimes on every backend (SQLite stores naive UTC text)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to the database; use timezone-aware UTC")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: Any, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        moment: datetime = value
        return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


accounts = Table(
    "accounts",
    metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    Column("external_id", String(128), nullable=False, unique=True),
    Column("name", String(200), nullable=False),
    Column("country", String(2), nullable=False),
    Column("locale", String(35), nullable=False),
    Column("time_zone", String(64), nullable=False),
    Column("security_phrase", String(100)),  # shown in every genuine email to the seller
    Column("created_at", UTCDateTime(), nullable=False),
    Column("updated_at", UTCDateTime(), nullable=False),
)

contacts = Table(
    "contacts",
    metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    Column("account_id", BigId, ForeignKey("accounts.id", ondelete="CASCADE"), nullable=False),
    Column("kind", String(32), nullable=False),
    Column("value", String(320), nullable=False),
    Column("line_type", String(32)),
    Column("verified_value", String(320)),
    Column("verified_line_type", String(32)),
    Column("verified_at", UTCDateTime()),
    Column("verified_channel", String(16)),
    Column("created_at", UTCDateTime(), nullable=False),
    Column("updated_at", UTCDateTime(), nullable=False),
    UniqueConstraint("account_id", "kind", name="uq_contacts_account_kind"),
)

challenges = Table(
    "challenges",
    metadata,
    Column("id", String(40), primary_key=True),
    Column("account_id", BigId, ForeignKey("accounts.id", ondelete="CASCADE"), nullable=False),
    Column("contact_id", BigId, ForeignKey("contacts.id", ondelete="CASCADE"), nullable=False),
    Column("contact_kind", String(32), nullable=False),
    Column("destination", String(320), nullable=False),
    Column("channel", String(16), nullable=False),
    Column("status", String(16), nullable=False),
    Column("code_hash", String(128), nullable=False),
    Column("attempts", Integer, nullable=False, default=0),
    Column("max_attempts", Integer, nullable=False),
    Column("send_count", Integer, nullable=False, default=1),
    Column("last_sent_at", UTCDateTime(), nullable=False),
    Column("expires_at", UTCDateTime(), nullable=False),
    Column("resend_available_at", UTCDateTime(), nullable=False),
    Column("created_at", UTCDateTime(), nullable=False),
    Column("approved_at", UTCDateTime()),
    Index("ix_challenges_contact_status", "contact_id", "status"),
)

# One row per code sent: the per-destination cooldown and hourly cap are computed from it.
verification_sends = Table(
    "verification_sends",
    metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    Column("destination", String(320), nullable=False),
    Column("challenge_id", String(40), ForeignKey("challenges.id", ondelete="CASCADE"),
           nullable=False),
    Column("sent_at", UTCDateTime(), nullable=False),
    Index("ix_verification_sends_destination_sent_at", "destination", "sent_at"),
)

outbox = Table(
    "outbox",
    metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    # Shared by the deliveries of one notice (e.g. its email and its message-center entry).
    Column("reference", String(16), nullable=False, index=True),
    Column("account_id", BigId, ForeignKey("accounts.id", ondelete="SET NULL")),
    Column("kind", String(48), nullable=False),
    Column("channel", String(16), nullable=False),
    Column("recipient", String(320), nullable=False),
    Column("locale", String(35), nullable=False),
    Column("params", JSON, nullable=False),
    Column("secret", Text),  # encrypted JSON of secret params; wiped after delivery
    Column("challenge_id", String(40), ForeignKey("challenges.id", ondelete="SET NULL")),
    Column("not_after", UTCDateTime()),
    Column("status", String(16), nullable=False),
    Column("attempts", Integer, nullable=False, default=0),
    Column("available_at", UTCDateTime(), nullable=False),
    Column("lease_owner", String(64)),
    Column("lease_expires_at", UTCDateTime()),
    Column("provider", String(32)),
    Column("provider_message_id", String(255)),
    Column("last_error", Text),
    Column("created_at", UTCDateTime(), nullable=False),
    Column("sent_at", UTCDateTime()),
    # Delivery: when the leasing worker reached the transport's point of no return.
    Column("handed_over_at", UTCDateTime()),
    Index("ix_outbox_status_available_at", "status", "available_at"),
    Index("ix_outbox_account_id_created_at", "account_id", "created_at"),
    Index("ix_outbox_challenge_id", "challenge_id"),
)

# What the dev-mode capture transport received: the dev inbox and /v1/dev/messages read it.
captured_messages = Table(
    "captured_messages",
    metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    Column("channel", String(16), nullable=False),
    Column("recipient", String(320), nullable=False),
    Column("subject", Text),
    Column("body", Text, nullable=False),
    Column("html", Text),
    Column("raw", LargeBinary),
    Column("reference", String(16)),
    Column("created_at", UTCDateTime(), nullable=False),
    Index("ix_captured_messages_recipient_id", "recipient", "id"),
)

api_keys = Table(
    "api_keys",
    metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    Column("name", String(100), nullable=False),
    Column("prefix", String(16), nullable=False),
    Column("key_hash", String(64), nullable=False, unique=True),
    Column("created_at", UTCDateTime(), nullable=False),
    Column("revoked_at", UTCDateTime()),
    # What the key may do (issue 11): space-separated scope names; keys made before scopes
    # existed keep full access.
    Column("scopes", String(100), nullable=False, server_default="full"),
)

# "Remind me later": a seller may put a requirement's reminder on hold; the deadline stays.
reminder_snoozes = Table(
    "reminder_snoozes",
    metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    Column("account_id", BigId, ForeignKey("accounts.id", ondelete="CASCADE"), nullable=False),
    Column("contact_kind", String(32), nullable=False),
    Column("snoozed_until", UTCDateTime(), nullable=False),
    Column("count", Integer, nullable=False),
    Column("updated_at", UTCDateTime(), nullable=False),
    UniqueConstraint("account_id", "contact_kind", name="uq_reminder_snoozes_account_kind"),
)

idempotency_keys = Table(
    "idempotency_keys",
    metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    Column("api_key_id", BigId, ForeignKey("api_keys.id", ondelete="CASCADE"), nullable=False),
    Column("key", String(255), nullable=False),
    Column("request_hash", String(64), nullable=False),
    Column("status_code", Integer),
    Column("response_body", Text),
    Column("response_headers", JSON),
    Column("completed", Boolean, nullable=False, default=False),
    Column("created_at", UTCDateTime(), nullable=False),
    UniqueConstraint("api_key_id", "key", name="uq_idempotency_keys_api_key_key"),
    Index("ix_idempotency_keys_created_at", "created_at"),
)

# --- Seller Center (web) --------------------------------------------------------------------
# Single-use account-session links created by the platform's backend: only the token's hash
# is stored; ``used_at`` is set by a conditional UPDATE, so a link opens one session at most.
account_session_links = Table(
    "account_session_links",
    metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    Column("token_hash", String(64), nullable=False, unique=True),
    Column("account_id", BigId, ForeignKey("accounts.id", ondelete="CASCADE"), nullable=False),
    Column("expires_at", UTCDateTime(), nullable=False),
    Column("used_at", UTCDateTime()),
    Column("created_at", UTCDateTime(), nullable=False),
    Index("ix_account_session_links_expires_at", "expires_at"),
)


# --- Policy and eligibility, contact-change protection, webhooks, audit log (issue 5) ---

# Every version of the policy set through the API; the newest is in force.
policy_versions = Table(
    "policy_versions",
    metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    Column("document", JSON, nullable=False),
    Column("created_at", UTCDateTime(), nullable=False),
)

# One denormalised row per account so that listing by state is an index range scan.
# ``deadline`` is never NULL (far future when there is none) so keyset pagination stays simple;
# ``recheck_at`` is when time alone next changes the state (the periodic job's work list).
account_compliance = Table(
    "account_compliance",
    metadata,
    Column("account_id", BigId, ForeignKey("accounts.id", ondelete="CASCADE"), primary_key=True),
    Column("state", String(16), nullable=False),
    Column("deadline", UTCDateTime(), nullable=False),
    Column("eligible", Boolean, nullable=False),
    Column("reasons", JSON, nullable=False),
    Column("recheck_at", UTCDateTime()),
    Column("updated_at", UTCDateTime(), nullable=False),
    Index("ix_account_compliance_state_deadline", "state", "deadline", "account_id"),
    Index("ix_account_compliance_recheck_at", "recheck_at"),
)

# The platform's own signals about an account (e.g. account_health_rating), for eligibility.
account_signals = Table(
    "account_signals",
    metadata,
    Column("account_id", BigId, ForeignKey("accounts.id", ondelete="CASCADE"), primary_key=True),
    Column("signals", JSON, nullable=False),
    Column("updated_at", UTCDateTime(), nullable=False),
)

# Changes of an existing contact value: more than the policy allows in 24 hours are refused.
contact_changes = Table(
    "contact_changes",
    metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    Column("account_id", BigId, ForeignKey("accounts.id", ondelete="CASCADE"), nullable=False),
    Column("kind", String(32), nullable=False),
    Column("changed_at", UTCDateTime(), nullable=False),
    Index("ix_contact_changes_account_id_changed_at", "account_id", "changed_at"),
)

webhook_endpoints = Table(
    "webhook_endpoints",
    metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    Column("url", String(2000), nullable=False),
    Column("description", String(200), nullable=False),
    Column("events", JSON, nullable=False),
    Column("secret", Text, nullable=False),  # the whsec_ signing secret, sealed (Fernet)
    Column("enabled", Boolean, nullable=False),
    Column("disabled_reason", Text),
    Column("failure_streak", Integer, nullable=False),
    Column("created_at", UTCDateTime(), nullable=False),
    Column("updated_at", UTCDateTime(), nullable=False),
)

# Webhook deliveries are outbox rows (channel webhook, recipient = endpoint id).
Index("ix_outbox_channel_recipient_id", outbox.c.channel, outbox.c.recipient, outbox.c.id)

# Append-only, hash-chained: each row's HMAC covers its content and the previous row's hash.
audit_log = Table(
    "audit_log",
    metadata,
    Column("seq", BigId, primary_key=True, autoincrement=False),
    Column("at", UTCDateTime(), nullable=False),
    Column("actor_kind", String(16), nullable=False),
    Column("actor_id", String(64), nullable=False),
    Column("actor_label", String(200), nullable=False),
    Column("action", String(64), nullable=False),
    Column("subject", String(200), nullable=False),
    Column("before", JSON),
    Column("after", JSON),
    Column("prev_hash", String(64), nullable=False),
    Column("hash", String(64), nullable=False),
    Index("ix_audit_log_subject_seq", "subject", "seq"),
)

# The chain's head (one row, id 1): serialises appends and catches removal of the newest rows.
audit_head = Table(
    "audit_head",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=False),
    Column("seq", BigInteger, nullable=False),
    Column("hash", String(64), nullable=False),
)

# --- Delivery -------------------------------------------------------------------------------

# Provider delivery receipts (status callbacks) recorded against the outbox message.
delivery_receipts = Table(
    "delivery_receipts",
    metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    Column("outbox_id", BigId, ForeignKey("outbox.id", ondelete="CASCADE"), nullable=False),
    Column("provider", String(32), nullable=False),
    Column("status", String(32), nullable=False),
    Column("error_code", String(16)),
    Column("received_at", UTCDateTime(), nullable=False),
    Index("ix_delivery_receipts_outbox_id", "outbox_id"),
)

# A channel that permanently failed for a contact's value (bounce, landline, invalid number).
# Only applies while the contact still has that value.
contact_undeliverable = Table(
    "contact_undeliverable",
    metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    Column("contact_id", BigId, ForeignKey("contacts.id", ondelete="CASCADE"), nullable=False),
    Column("channel", String(16), nullable=False),
    Column("value", String(320), nullable=False),
    Column("reason", Text, nullable=False),
    Column("since", UTCDateTime(), nullable=False),
    UniqueConstraint("contact_id", "channel", name="uq_contact_undeliverable_contact_channel"),
)

Index("ix_outbox_provider_message_id", outbox.c.provider_message_id)

# --- Delivery isolation and hardening (issue 11; migration 0005) ----------------------------

# Which delivery threads take a message (``adapters/db/outbox.lane_for``): codes have their own.
outbox.append_column(Column("lane", String(16), nullable=False, server_default="default"))
Index("ix_outbox_lane_status_available_at", outbox.c.lane, outbox.c.status, outbox.c.available_at)

#: Tables whose integer id is generated: on SQLite they use AUTOINCREMENT, so an id is never
#: handed out again after a delete (a new webhook endpoint must not inherit an old one's
#: deliveries). PostgreSQL sequences never reuse values anyway. New tables with a generated
#: integer id pass ``sqlite_autoincrement=True`` (the migration environment adds it too).
NEVER_REUSED_IDS = (accounts, contacts, verification_sends, outbox, captured_messages, api_keys,
                    reminder_snoozes, idempotency_keys, account_session_links, policy_versions,
                    contact_changes, webhook_endpoints, delivery_receipts, contact_undeliverable)
for _table in NEVER_REUSED_IDS:
    _table.dialect_options["sqlite"]["autoincrement"] = True


def never_reuse_ids(table: Table, connection: Any, **_: Any) -> None:
    """``before_create`` hook of the migration environment: on SQLite, a table with one
    generated integer id gets AUTOINCREMENT even if its migration forgot to ask for it."""
    if connection.dialect.name != "sqlite":
        return
    key = list(table.primary_key.columns)
    if (len(key) == 1 and isinstance(key[0].type, Integer | BigInteger)
            and key[0].autoincrement in (True, "auto") and not key[0].foreign_keys):
        table.dialect_options["sqlite"]["autoincrement"] = True

# --- Sent ledger and message checker (issue 9; migration 0006) ------------------------------

# Every message sent (email, SMS, voice, in-app; not webhooks), recorded in the transaction
# that marks it sent. Keyed hashes only (see domain/ledger.py): no body, no code.
sent_ledger = Table(
    "sent_ledger",
    metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    Column("outbox_id", BigInteger),
    Column("reference", String(16), nullable=False),
    Column("message_id", String(255)),
    Column("account_id", BigId, ForeignKey("accounts.id", ondelete="SET NULL")),
    Column("channel", String(16), nullable=False),
    Column("kind", String(48), nullable=False),
    Column("recipient_masked", String(320), nullable=False),
    Column("sent_at", UTCDateTime(), nullable=False),
    Column("body_hash", String(64)),
    Column("text_key", String(64)),
    Column("shingles", Text, nullable=False),
    Column("links", JSON, nullable=False),
    Column("dkim_selectors", JSON, nullable=False),
    Index("ix_sent_ledger_reference", "reference"),
    Index("ix_sent_ledger_message_id", "message_id"),
    Index("ix_sent_ledger_text_key", "text_key"),
    Index("ix_sent_ledger_sent_at", "sent_at"),
    sqlite_autoincrement=True,
)

# --- Campaigns (issue 8; migration 0007) ----------------------------------------------------

# A campaign: who is told (audience), what is required (contacts) by when (effective_at),
# on which channels, with which reminders; ``spec`` keeps the operator's settings as given.
# Planning splits the account ids up to ``plan_last_id`` into ``campaign_ranges`` that any
# number of workers plan in parallel. ``tokens`` (thousandths) is the throttle's token
# bucket; ``sweep`` a bulk change of queued mail still to finish (pause, resume, cancel)
# with its keyset cursor.
campaigns = Table(
    "campaigns",
    metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    Column("name", String(200), nullable=False),
    Column("status", String(16), nullable=False),
    Column("spec", JSON, nullable=False),
    Column("announce_at", UTCDateTime()),  # NULL: when launched
    Column("effective_at", UTCDateTime(), nullable=False),
    Column("created_by", String(200), nullable=False),
    Column("created_at", UTCDateTime(), nullable=False),
    Column("updated_at", UTCDateTime(), nullable=False),
    Column("launched_at", UTCDateTime()),
    Column("paused_at", UTCDateTime()),
    Column("finished_at", UTCDateTime()),
    Column("canceled_at", UTCDateTime()),
    Column("targeted", Integer),
    Column("planned", Integer, nullable=False, default=0),
    Column("plan_last_id", BigInteger),
    Column("planned_at", UTCDateTime()),
    Column("tokens", BigInteger),
    Column("tokens_at", UTCDateTime()),
    Column("sweep", String(16)),
    Column("sweep_cursor", BigInteger, nullable=False, default=0),
    Column("sweep_not_before", UTCDateTime()),
    Column("checked_at", UTCDateTime()),
    Index("ix_campaigns_status", "status"),
)

# Planning work: account ids [first_id, last_id] of a campaign, claimed with SKIP LOCKED and
# planned in one transaction (a worker killed mid-range leaves it unplanned for the next).
campaign_ranges = Table(
    "campaign_ranges",
    metadata,
    Column("campaign_id", BigId, ForeignKey("campaigns.id", ondelete="CASCADE"),
           primary_key=True, autoincrement=False),
    Column("range_no", Integer, primary_key=True, autoincrement=False),
    Column("first_id", BigInteger, nullable=False),
    Column("last_id", BigInteger, nullable=False),
    Column("accounts", Integer),
    Column("done_at", UTCDateTime()),
)

# One row per targeted account: its own (holiday-adjusted) deadline, where it is in the
# campaign, and its next step (0 = the notice, k = the k-th reminder) and when.
campaign_targets = Table(
    "campaign_targets",
    metadata,
    Column("campaign_id", BigId, ForeignKey("campaigns.id", ondelete="CASCADE"),
           primary_key=True, autoincrement=False),
    Column("account_id", BigId, ForeignKey("accounts.id", ondelete="CASCADE"),
           primary_key=True, autoincrement=False),
    Column("country", String(2), nullable=False),
    Column("state", String(16), nullable=False),
    Column("deadline", UTCDateTime(), nullable=False),
    Column("notified_at", UTCDateTime()),
    Column("seen_at", UTCDateTime()),
    Column("next_step", Integer),
    Column("next_step_at", UTCDateTime()),
    Index("ix_campaign_targets_campaign_id_next_step_at", "campaign_id", "next_step_at"),
    Index("ix_campaign_targets_account_id", "account_id"),
)

# Each (campaign, account, step) is written at most once (the primary key): the step row IS
# the in-app notice (message center, dashboard banner), written in the same transaction as
# the account's email/SMS outbox rows, which share its ``reference``.
campaign_steps = Table(
    "campaign_steps",
    metadata,
    Column("campaign_id", BigId, primary_key=True, autoincrement=False),
    Column("account_id", BigId, primary_key=True, autoincrement=False),
    Column("step", Integer, primary_key=True, autoincrement=False),
    Column("kind", String(32), nullable=False),
    Column("reference", String(16), nullable=False),
    Column("channels", String(64), nullable=False),  # "in_app,email,sms"
    Column("created_at", UTCDateTime(), nullable=False),
    ForeignKeyConstraint(["campaign_id", "account_id"],
                         ["campaign_targets.campaign_id", "campaign_targets.account_id"],
                         ondelete="CASCADE", name="fk_campaign_steps_campaign_targets"),
    Index("ix_campaign_steps_account_id_created_at", "account_id", "created_at"),
)

# When the seller first saw a notice in Seller Center (message center or dashboard banner).
notice_reads = Table(
    "notice_reads",
    metadata,
    Column("account_id", BigId, ForeignKey("accounts.id", ondelete="CASCADE"),
           primary_key=True, autoincrement=False),
    Column("reference", String(16), primary_key=True),
    Column("read_at", UTCDateTime(), nullable=False),
)

# --- Server-side web sessions (migration 0008) ----------------------------------------------

# Signed-in sessions of the web surfaces (realm ``seller`` or ``operator``): the cookie holds a
# random token, only its hash is stored; logout or revocation ends the row, so the old cookie
# stops working at once in every process.
web_sessions = Table(
    "web_sessions",
    metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    Column("token_hash", String(64), nullable=False, unique=True),
    Column("realm", String(16), nullable=False),
    Column("subject", String(128), nullable=False),  # account external id, or operator id
    Column("user_agent", String(200)),
    Column("created_at", UTCDateTime(), nullable=False),
    Column("last_seen_at", UTCDateTime(), nullable=False),
    Column("expires_at", UTCDateTime(), nullable=False),
    Column("ended_at", UTCDateTime()),
    Column("end_reason", String(64)),
    Index("ix_web_sessions_realm_subject", "realm", "subject"),
    Index("ix_web_sessions_expires_at", "expires_at"),
    sqlite_autoincrement=True,
)

# --- Operator console (issue 8; migration 0009) ---------------------------------------------

# Staff who sign in to /console. Ids are never reused (sessions and audit entries name them).
# The password is an argon2id hash; the TOTP secret is sealed (Fernet) and ``totp_enabled_at``
# is set once the operator proved it with a code; ``totp_last_step`` refuses a code replayed.
operators = Table(
    "operators",
    metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    Column("email", String(254), nullable=False, unique=True),
    Column("role", String(16), nullable=False),
    Column("password_hash", String(200), nullable=False),
    Column("must_change_password", Boolean, nullable=False),
    Column("totp_secret", Text),
    Column("totp_enabled_at", UTCDateTime()),
    Column("totp_last_step", BigInteger),
    Column("disabled_at", UTCDateTime()),
    Column("last_login_at", UTCDateTime()),
    Column("created_at", UTCDateTime(), nullable=False),
    Column("updated_at", UTCDateTime(), nullable=False),
    sqlite_autoincrement=True,
)

# Failed console sign-ins, one row each, keyed by the SHA-256 of the email typed (whether
# or not it exists) and by the client address: the throttle counts them in a time window, so
# it holds across processes. A successful sign-in clears its email's rows.
login_failures = Table(
    "login_failures",
    metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    Column("scope", String(8), nullable=False),  # "email" or "ip"
    Column("key_hash", String(64), nullable=False),
    Column("at", UTCDateTime(), nullable=False),
    Index("ix_login_failures_scope_key_at", "scope", "key_hash", "at"),
    Index("ix_login_failures_at", "at"),
)

# The dashboard's trend: one row per UTC day, rewritten by the periodic job during that day
# and frozen afterwards (what was true then, whatever later changes or policies say).
compliance_daily = Table(
    "compliance_daily",
    metadata,
    Column("day", String(10), primary_key=True),  # YYYY-MM-DD (UTC)
    Column("accounts", Integer, nullable=False),
    Column("compliant", Integer, nullable=False),
    Column("due_soon", Integer, nullable=False),
    Column("action_required", Integer, nullable=False),
    Column("overdue", Integer, nullable=False),
    Column("email_verified", Integer, nullable=False),
    Column("phone_verified", Integer, nullable=False),
    Column("updated_at", UTCDateTime(), nullable=False),
)

# --- Shared limits and abuse protection (issue 11; migration 0014) --------------------------

# SMS and voice codes sent, per number prefix (the E.164 number without its last 4 digits)
# and country: the SMS-pumping guard counts them in its window (velocity, conversion, daily
# budget per country), so it holds across processes. ``verified_at`` is set when the
# challenge the code belongs to is approved. Rows older than a day or two are purged.
phone_sends = Table(
    "phone_sends",
    metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    Column("prefix", String(20), nullable=False),
    Column("country", String(3), nullable=False),
    Column("challenge_id", String(40), ForeignKey("challenges.id", ondelete="CASCADE"),
           nullable=False, index=True),
    Column("sent_at", UTCDateTime(), nullable=False),
    Column("verified_at", UTCDateTime()),
    Index("ix_phone_sends_prefix_sent_at", "prefix", "sent_at"),
    Index("ix_phone_sends_country_sent_at", "country", "sent_at"),
    sqlite_autoincrement=True,
)

# Prefixes the guard blocked (velocity, low conversion): refused until ``expires_at`` or until
# an operator lifts the block (DELETE /v1/protection/blocks/{id}, audited).
protection_blocks = Table(
    "protection_blocks",
    metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    Column("prefix", String(20), nullable=False, index=True),
    Column("country", String(3), nullable=False),
    Column("reason", String(32), nullable=False),
    Column("sent", Integer, nullable=False),
    Column("verified", Integer, nullable=False),
    Column("created_at", UTCDateTime(), nullable=False),
    Column("expires_at", UTCDateTime(), nullable=False),
    Column("lifted_at", UTCDateTime()),
    Column("lifted_by", String(200)),
    sqlite_autoincrement=True,
)

# --- Seller Center (issue 12) -------------------------------------------------------------

# --- Inbound mail, phishing waves (issue 9; migration 0016) ---------------------------------

# Reports forwarded to the report address: the checker's verdict and what groups them into
# waves. The reporter is kept as a keyed hash and a masked address only.
inbound_reports = Table(
    "inbound_reports",
    metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    Column("received_at", UTCDateTime(), nullable=False),
    Column("reporter_hash", String(64), nullable=False),
    Column("reporter_masked", String(320), nullable=False),
    Column("account_id", BigId, ForeignKey("accounts.id", ondelete="SET NULL")),
    Column("answered", Boolean, nullable=False),
    Column("verdict", String(16), nullable=False),
    Column("reasons", JSON, nullable=False),
    Column("sender_domain", String(255), nullable=False),
    Column("link_domains", JSON, nullable=False),
    Column("subject", String(300), nullable=False),
    Column("fingerprint", JSON, nullable=False),  # MinHash values
    Column("wave_id", BigInteger),
    Index("ix_inbound_reports_wave_id_received_at", "wave_id", "received_at"),
    Index("ix_inbound_reports_reporter_hash_received_at", "reporter_hash", "received_at"),
    sqlite_autoincrement=True,
)

# A phishing wave: reports alike by sender domain, link domains and fingerprint. ``signature``
# is its first report's fingerprint; ``detected_at`` when it reached the threshold (webhook).
phishing_waves = Table(
    "phishing_waves",
    metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    Column("subject", String(300), nullable=False),
    Column("sender_domains", JSON, nullable=False),
    Column("link_domains", JSON, nullable=False),
    Column("signature", JSON, nullable=False),
    Column("reports", Integer, nullable=False),
    Column("first_seen", UTCDateTime(), nullable=False),
    Column("last_seen", UTCDateTime(), nullable=False),
    Column("detected_at", UTCDateTime()),
    Index("ix_phishing_waves_last_seen", "last_seen"),
    sqlite_autoincrement=True,
)

# Warnings an admin published about a wave: to every seller (country NULL) or one country.
# Each is a Seller Center banner and a message-center notice with its own reference.
phishing_warnings = Table(
    "phishing_warnings",
    metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    Column("wave_id", BigId, ForeignKey("phishing_waves.id", ondelete="CASCADE"), nullable=False),
    Column("country", String(2)),
    Column("subject", String(300), nullable=False),
    Column("reference", String(16), nullable=False, unique=True),
    Column("created_by", String(200), nullable=False),
    Column("created_at", UTCDateTime(), nullable=False),
    Index("ix_phishing_warnings_created_at", "created_at"),
    sqlite_autoincrement=True,
)

# Replies to our own mail that were answered: one answer per account and original message.
reply_answers = Table(
    "reply_answers",
    metadata,
    Column("account_id", BigId, ForeignKey("accounts.id", ondelete="CASCADE"),
           primary_key=True, autoincrement=False),
    Column("original", String(255), primary_key=True),  # the ledger reference, or "to:<hash>"
    Column("answered_at", UTCDateTime(), nullable=False),
)

# How many inbound messages of each kind arrived (and were answered) per UTC day.
inbound_counts = Table(
    "inbound_counts",
    metadata,
    Column("day", String(10), primary_key=True),
    Column("kind", String(32), primary_key=True),
    Column("count", Integer, nullable=False),
)


# --- Verify-the-caller (issue 9; migration 0013) ----------------------------------------------

# One row per call a support agent announced to a seller. The 4-digit code is shown to both
# sides (not a credential), so it is stored as is; it is never logged. ``status`` is
# active/confirmed/reported/replaced/expired (an active row past ``expires_at`` reads as
# expired); the partial unique index keeps at most one active row per account, also between
# racing starts on PostgreSQL.
call_sessions = Table(
    "call_sessions",
    metadata,
    Column("id", String(40), primary_key=True),
    Column("account_id", BigId, ForeignKey("accounts.id", ondelete="CASCADE"), nullable=False),
    Column("agent_name", String(60), nullable=False),
    Column("code", String(8), nullable=False),
    Column("status", String(16), nullable=False),
    Column("report_reason", String(32)),
    Column("started_by", String(64), nullable=False),
    Column("created_at", UTCDateTime(), nullable=False),
    Column("expires_at", UTCDateTime(), nullable=False),
    Column("answered_at", UTCDateTime()),
    Index("ix_call_sessions_account_id_created_at", "account_id", "created_at"),
    Index("ix_call_sessions_active_account", "account_id", unique=True,
          sqlite_where=text("status = 'active'"), postgresql_where=text("status = 'active'")),
)
