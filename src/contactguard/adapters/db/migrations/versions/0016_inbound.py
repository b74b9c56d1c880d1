"""inbound mail and phishing waves (issue 9)

Revision ID: 0016
Revises: 0015
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import contactguard.adapters.db.tables

revision = "0016"
down_revision = "0015"
branch_labels = None
depends_on = None

_id = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def _ts() -> contactguard.adapters.db.tables.UTCDateTime:
    return contactguard.adapters.db.tables.UTCDateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "inbound_reports",
        sa.Column("id", _id, autoincrement=True, nullable=False),
        sa.Column("received_at", _ts(), nullable=False),
        sa.Column("reporter_hash", sa.String(length=64), nullable=False),
        sa.Column("reporter_masked", sa.String(length=320), nullable=False),
        sa.Column("account_id", _id, nullable=True),
        sa.Column("answered", sa.Boolean(), nullable=False),
        sa.Column("verdict", sa.String(length=16), nullable=False),
        sa.Column("reasons", sa.JSON(), nullable=False),
        sa.Column("sender_domain", sa.String(length=255), nullable=False),
        sa.Column("link_domains", sa.JSON(), nullable=False),
        sa.Column("subject", sa.String(length=300), nullable=False),
        sa.Column("fingerprint", sa.JSON(), nullable=False),
        sa.Column("wave_id", sa.BigInteger(), nullable=True),
        sa.ForeignKeyConstraint(["account_id"], ["accounts.id"],
                                name=op.f("fk_inbound_reports_account_id_accounts"),
                                ondelete="SET NULL"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_inbound_reports")),
        sqlite_autoincrement=True,
    )
    op.create_index("ix_inbound_reports_wave_id_received_at", "inbound_reports",
                    ["wave_id", "received_at"], unique=False)
    op.create_index("ix_inbound_reports_reporter_hash_received_at", "inbound_reports",
                    ["reporter_hash", "received_at"], unique=False)
    op.create_table(
        "phishing_waves",
        sa.Column("id", _id, autoincrement=True, nullable=False),
        sa.Column("subject", sa.String(length=300), nullable=False),
        sa.Column("sender_domains", sa.JSON(), nullable=False),
        sa.Column("link_domains", sa.JSON(), nullable=False),
        sa.Column("signature", sa.JSON(), nullable=False),
        sa.Column("reports", sa.Integer(), nullable=False),
        sa.Column("first_seen", _ts(), nullable=False),
        sa.Column("last_seen", _ts(), nullable=False),
        sa.Column("detected_at", _ts(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_phishing_waves")),
        sqlite_autoincrement=True,
    )
    op.create_index("ix_phishing_waves_last_seen", "phishing_waves", ["last_seen"], unique=False)
    op.create_table(
        "phishing_warnings",
        sa.Column("id", _id, autoincrement=True, nullable=False),
        sa.Column("wave_id", _id, nullable=False),
        sa.Column("country", sa.String(length=2), nullable=True),
        sa.Column("subject", sa.String(length=300), nullable=False),
        sa.Column("reference", sa.String(length=16), nullable=False),
        sa.Column("created_by", sa.String(length=200), nullable=False),
        sa.Column("created_at", _ts(), nullable=False),
        sa.ForeignKeyConstraint(["wave_id"], ["phishing_waves.id"],
                                name=op.f("fk_phishing_warnings_wave_id_phishing_waves"),
                                ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_phishing_warnings")),
        sa.UniqueConstraint("reference", name=op.f("uq_phishing_warnings_reference")),
        sqlite_autoincrement=True,
    )
    op.create_index("ix_phishing_warnings_created_at", "phishing_warnings", ["created_at"],
                    unique=False)
    op.create_table(
        "reply_answers",
        sa.Column("account_id", _id, autoincrement=False, nullable=False),
        sa.Column("original", sa.String(length=255), nullable=False),
        sa.Column("answered_at", _ts(), nullable=False),
        sa.ForeignKeyConstraint(["account_id"], ["accounts.id"],
                                name=op.f("fk_reply_answers_account_id_accounts"),
                                ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("account_id", "original", name=op.f("pk_reply_answers")),
    )
    op.create_table(
        "inbound_counts",
        sa.Column("day", sa.String(length=10), nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("count", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("day", "kind", name=op.f("pk_inbound_counts")),
    )


def downgrade() -> None:
    op.drop_table("inbound_counts")
    op.drop_table("reply_answers")
    op.drop_index("ix_phishing_warnings_created_at", table_name="phishing_warnings")
    op.drop_table("phishing_warnings")
    op.drop_index("ix_phishing_waves_last_seen", table_name="phishing_waves")
    op.drop_table("phishing_waves")
    op.drop_index("ix_inbound_reports_reporter_hash_received_at", table_name="inbound_reports")
    op.drop_index("ix_inbound_reports_wave_id_received_at", table_name="inbound_reports")
    op.drop_table("inbound_reports")
