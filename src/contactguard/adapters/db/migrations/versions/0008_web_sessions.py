"""server-side web sessions

Revision ID: 0008
Revises: 0007
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import contactguard.adapters.db.tables

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "web_sessions",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True,
                  nullable=False),
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("realm", sa.String(length=16), nullable=False),
        sa.Column("subject", sa.String(length=128), nullable=False),
        sa.Column("user_agent", sa.String(length=200), nullable=True),
        sa.Column("created_at", contactguard.adapters.db.tables.UTCDateTime(timezone=True),
                  nullable=False),
        sa.Column("last_seen_at", contactguard.adapters.db.tables.UTCDateTime(timezone=True),
                  nullable=False),
        sa.Column("expires_at", contactguard.adapters.db.tables.UTCDateTime(timezone=True),
                  nullable=False),
        sa.Column("ended_at", contactguard.adapters.db.tables.UTCDateTime(timezone=True),
                  nullable=True),
        sa.Column("end_reason", sa.String(length=64), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_web_sessions")),
        sa.UniqueConstraint("token_hash", name=op.f("uq_web_sessions_token_hash")),
        sqlite_autoincrement=True,
    )
    with op.batch_alter_table("web_sessions", schema=None) as batch_op:
        batch_op.create_index("ix_web_sessions_realm_subject", ["realm", "subject"], unique=False)
        batch_op.create_index("ix_web_sessions_expires_at", ["expires_at"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("web_sessions", schema=None) as batch_op:
        batch_op.drop_index("ix_web_sessions_expires_at")
        batch_op.drop_index("ix_web_sessions_realm_subject")
    op.drop_table("web_sessions")
