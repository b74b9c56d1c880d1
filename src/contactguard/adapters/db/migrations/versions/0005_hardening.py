"""delivery isolation and hardening (issue 11)

* ``outbox.lane``: which delivery threads take a message (codes have their own lane), filled
  in for existing rows from kind and channel, with the index the claims use.
* SQLite: every table with a generated integer id is rebuilt with AUTOINCREMENT so that ids
  are never reused after a delete. PostgreSQL (identity/sequences) needs nothing.

Revision ID: 0005
Revises: 0004
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import contactguard.adapters.db.tables  # noqa: F401

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

# Parents before children, so each rebuild copies rows whose parents exist.
_INTEGER_ID_TABLES = (
    "accounts", "contacts", "verification_sends", "outbox", "captured_messages", "api_keys",
    "reminder_snoozes", "idempotency_keys", "account_session_links", "policy_versions",
    "contact_changes", "webhook_endpoints", "delivery_receipts", "contact_undeliverable",
)


def _lane_column() -> sa.Column[str]:
    return sa.Column("lane", sa.String(length=16), server_default="default", nullable=False)


def upgrade() -> None:
    sqlite = op.get_bind().dialect.name == "sqlite"
    if sqlite:
        # Foreign keys are off for the whole migration run (see env.py): rebuilding a parent
        # table must not cascade into its children.
        for name in _INTEGER_ID_TABLES:
            with op.batch_alter_table(name, recreate="always",
                                      table_kwargs={"sqlite_autoincrement": True}) as batch_op:
                if name == "outbox":
                    batch_op.add_column(_lane_column())
        # Endpoints deleted before this version left deliveries naming their ids: a new
        # endpoint must not take one of those ids over.
        used = op.get_bind().execute(sa.text(
            "SELECT max(CAST(recipient AS INTEGER)) FROM outbox WHERE channel = 'webhook'"
        )).scalar()
        if used:
            op.execute(sa.text("DELETE FROM sqlite_sequence WHERE name = 'webhook_endpoints'"))
            op.execute(sa.text(
                "INSERT INTO sqlite_sequence (name, seq) SELECT 'webhook_endpoints', "
                "max(:used, coalesce((SELECT max(id) FROM webhook_endpoints), 0))"
            ).bindparams(used=int(used)))
    else:
        op.add_column("outbox", _lane_column())
    op.execute("UPDATE outbox SET lane = 'webhook' WHERE channel = 'webhook'")
    op.execute("UPDATE outbox SET lane = 'code' WHERE kind = 'verification_code' "
               "AND channel IN ('sms', 'voice', 'email')")
    op.create_index("ix_outbox_lane_status_available_at", "outbox",
                    ["lane", "status", "available_at"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_outbox_lane_status_available_at", table_name="outbox")
    with op.batch_alter_table("outbox", schema=None) as batch_op:
        batch_op.drop_column("lane")
    # AUTOINCREMENT stays on SQLite: ids that were never reused may stay that way.
