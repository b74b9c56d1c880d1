"""sent ledger and message checker (issue 9)

Revision ID: 0006
Revises: 0005
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import contactguard.adapters.db.tables

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "sent_ledger",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True,
                  nullable=False),
        sa.Column("outbox_id", sa.BigInteger(), nullable=True),
        sa.Column("reference", sa.String(length=16), nullable=False),
        sa.Column("message_id", sa.String(length=255), nullable=True),
        sa.Column("account_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True),
        sa.Column("channel", sa.String(length=16), nullable=False),
        sa.Column("kind", sa.String(length=48), nullable=False),
        sa.Column("recipient_masked", sa.String(length=320), nullable=False),
        sa.Column("sent_at", contactguard.adapters.db.tables.UTCDateTime(timezone=True),
                  nullable=False),
        sa.Column("body_hash", sa.String(length=64), nullable=True),
        sa.Column("text_key", sa.String(length=64), nullable=True),
        sa.Column("shingles", sa.Text(), nullable=False),
        sa.Column("links", sa.JSON(), nullable=False),
        sa.Column("dkim_selectors", sa.JSON(), nullable=False),
        sa.ForeignKeyConstraint(["account_id"], ["accounts.id"],
                                name=op.f("fk_sent_ledger_account_id_accounts"),
                                ondelete="SET NULL"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sent_ledger")),
    )
    with op.batch_alter_table("sent_ledger", schema=None) as batch_op:
        batch_op.create_index("ix_sent_ledger_reference", ["reference"], unique=False)
        batch_op.create_index("ix_sent_ledger_message_id", ["message_id"], unique=False)
        batch_op.create_index("ix_sent_ledger_text_key", ["text_key"], unique=False)
        batch_op.create_index("ix_sent_ledger_sent_at", ["sent_at"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("sent_ledger", schema=None) as batch_op:
        batch_op.drop_index("ix_sent_ledger_sent_at")
        batch_op.drop_index("ix_sent_ledger_text_key")
        batch_op.drop_index("ix_sent_ledger_message_id")
        batch_op.drop_index("ix_sent_ledger_reference")
    op.drop_table("sent_ledger")
