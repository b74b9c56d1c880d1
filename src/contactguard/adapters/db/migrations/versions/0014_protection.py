"""shared limits and abuse protection (issue 11): phone sends per prefix, prefix blocks;
send-log destinations keyed case-insensitively

Revision ID: 0014
Revises: 0013
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import contactguard.adapters.db.tables

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None

_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def _when() -> contactguard.adapters.db.tables.UTCDateTime:
    return contactguard.adapters.db.tables.UTCDateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "phone_sends",
        sa.Column("id", _ID, autoincrement=True, nullable=False),
        sa.Column("prefix", sa.String(length=20), nullable=False),
        sa.Column("country", sa.String(length=3), nullable=False),
        sa.Column("challenge_id", sa.String(length=40), nullable=False),
        sa.Column("sent_at", _when(), nullable=False),
        sa.Column("verified_at", _when(), nullable=True),
        sa.ForeignKeyConstraint(["challenge_id"], ["challenges.id"],
                                name=op.f("fk_phone_sends_challenge_id_challenges"),
                                ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_phone_sends")),
        sqlite_autoincrement=True,
    )
    with op.batch_alter_table("phone_sends", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_phone_sends_challenge_id"), ["challenge_id"],
                              unique=False)
        batch_op.create_index("ix_phone_sends_prefix_sent_at", ["prefix", "sent_at"], unique=False)
        batch_op.create_index("ix_phone_sends_country_sent_at", ["country", "sent_at"],
                              unique=False)
    op.create_table(
        "protection_blocks",
        sa.Column("id", _ID, autoincrement=True, nullable=False),
        sa.Column("prefix", sa.String(length=20), nullable=False),
        sa.Column("country", sa.String(length=3), nullable=False),
        sa.Column("reason", sa.String(length=32), nullable=False),
        sa.Column("sent", sa.Integer(), nullable=False),
        sa.Column("verified", sa.Integer(), nullable=False),
        sa.Column("created_at", _when(), nullable=False),
        sa.Column("expires_at", _when(), nullable=False),
        sa.Column("lifted_at", _when(), nullable=True),
        sa.Column("lifted_by", sa.String(length=200), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_protection_blocks")),
        sqlite_autoincrement=True,
    )
    with op.batch_alter_table("protection_blocks", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_protection_blocks_prefix"), ["prefix"], unique=False)
    # One destination, one cooldown: the send log is keyed by the case-folded address from now
    # on (phone numbers have no letters; lower() leaves them alone).
    op.execute("UPDATE verification_sends SET destination = lower(destination)")


def downgrade() -> None:
    with op.batch_alter_table("protection_blocks", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_protection_blocks_prefix"))
    op.drop_table("protection_blocks")
    with op.batch_alter_table("phone_sends", schema=None) as batch_op:
        batch_op.drop_index("ix_phone_sends_country_sent_at")
        batch_op.drop_index("ix_phone_sends_prefix_sent_at")
        batch_op.drop_index(batch_op.f("ix_phone_sends_challenge_id"))
    op.drop_table("phone_sends")
