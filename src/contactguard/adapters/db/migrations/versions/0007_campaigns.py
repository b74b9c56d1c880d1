"""campaigns (issue 8)

Revision ID: 0007
Revises: 0006
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import contactguard.adapters.db.tables

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None

_id = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def _ts() -> contactguard.adapters.db.tables.UTCDateTime:
    return contactguard.adapters.db.tables.UTCDateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "campaigns",
        sa.Column("id", _id, autoincrement=True, nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("spec", sa.JSON(), nullable=False),
        sa.Column("announce_at", _ts(), nullable=True),
        sa.Column("effective_at", _ts(), nullable=False),
        sa.Column("created_by", sa.String(length=200), nullable=False),
        sa.Column("created_at", _ts(), nullable=False),
        sa.Column("updated_at", _ts(), nullable=False),
        sa.Column("launched_at", _ts(), nullable=True),
        sa.Column("paused_at", _ts(), nullable=True),
        sa.Column("finished_at", _ts(), nullable=True),
        sa.Column("canceled_at", _ts(), nullable=True),
        sa.Column("targeted", sa.Integer(), nullable=True),
        sa.Column("planned", sa.Integer(), nullable=False),
        sa.Column("plan_last_id", sa.BigInteger(), nullable=True),
        sa.Column("planned_at", _ts(), nullable=True),
        sa.Column("tokens", sa.BigInteger(), nullable=True),
        sa.Column("tokens_at", _ts(), nullable=True),
        sa.Column("sweep", sa.String(length=16), nullable=True),
        sa.Column("sweep_cursor", sa.BigInteger(), nullable=False),
        sa.Column("sweep_not_before", _ts(), nullable=True),
        sa.Column("checked_at", _ts(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_campaigns")),
    )
    with op.batch_alter_table("campaigns", schema=None) as batch_op:
        batch_op.create_index("ix_campaigns_status", ["status"], unique=False)

    op.create_table(
        "campaign_ranges",
        sa.Column("campaign_id", _id, autoincrement=False, nullable=False),
        sa.Column("range_no", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("first_id", sa.BigInteger(), nullable=False),
        sa.Column("last_id", sa.BigInteger(), nullable=False),
        sa.Column("accounts", sa.Integer(), nullable=True),
        sa.Column("done_at", _ts(), nullable=True),
        sa.ForeignKeyConstraint(["campaign_id"], ["campaigns.id"],
                                name=op.f("fk_campaign_ranges_campaign_id_campaigns"),
                                ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("campaign_id", "range_no", name=op.f("pk_campaign_ranges")),
    )

    op.create_table(
        "campaign_targets",
        sa.Column("campaign_id", _id, autoincrement=False, nullable=False),
        sa.Column("account_id", _id, autoincrement=False, nullable=False),
        sa.Column("country", sa.String(length=2), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("deadline", _ts(), nullable=False),
        sa.Column("notified_at", _ts(), nullable=True),
        sa.Column("seen_at", _ts(), nullable=True),
        sa.Column("next_step", sa.Integer(), nullable=True),
        sa.Column("next_step_at", _ts(), nullable=True),
        sa.ForeignKeyConstraint(["account_id"], ["accounts.id"],
                                name=op.f("fk_campaign_targets_account_id_accounts"),
                                ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["campaign_id"], ["campaigns.id"],
                                name=op.f("fk_campaign_targets_campaign_id_campaigns"),
                                ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("campaign_id", "account_id", name=op.f("pk_campaign_targets")),
    )
    with op.batch_alter_table("campaign_targets", schema=None) as batch_op:
        batch_op.create_index("ix_campaign_targets_account_id", ["account_id"], unique=False)
        batch_op.create_index("ix_campaign_targets_campaign_id_next_step_at",
                              ["campaign_id", "next_step_at"], unique=False)

    op.create_table(
        "campaign_steps",
        sa.Column("campaign_id", _id, autoincrement=False, nullable=False),
        sa.Column("account_id", _id, autoincrement=False, nullable=False),
        sa.Column("step", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("reference", sa.String(length=16), nullable=False),
        sa.Column("channels", sa.String(length=64), nullable=False),
        sa.Column("created_at", _ts(), nullable=False),
        sa.ForeignKeyConstraint(["campaign_id", "account_id"],
                                ["campaign_targets.campaign_id", "campaign_targets.account_id"],
                                name="fk_campaign_steps_campaign_targets", ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("campaign_id", "account_id", "step",
                                name=op.f("pk_campaign_steps")),
    )
    with op.batch_alter_table("campaign_steps", schema=None) as batch_op:
        batch_op.create_index("ix_campaign_steps_account_id_created_at",
                              ["account_id", "created_at"], unique=False)

    op.create_table(
        "notice_reads",
        sa.Column("account_id", _id, autoincrement=False, nullable=False),
        sa.Column("reference", sa.String(length=16), nullable=False),
        sa.Column("read_at", _ts(), nullable=False),
        sa.ForeignKeyConstraint(["account_id"], ["accounts.id"],
                                name=op.f("fk_notice_reads_account_id_accounts"),
                                ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("account_id", "reference", name=op.f("pk_notice_reads")),
    )


def downgrade() -> None:
    op.drop_table("notice_reads")
    with op.batch_alter_table("campaign_steps", schema=None) as batch_op:
        batch_op.drop_index("ix_campaign_steps_account_id_created_at")
    op.drop_table("campaign_steps")
    with op.batch_alter_table("campaign_targets", schema=None) as batch_op:
        batch_op.drop_index("ix_campaign_targets_campaign_id_next_step_at")
        batch_op.drop_index("ix_campaign_targets_account_id")
    op.drop_table("campaign_targets")
    op.drop_table("campaign_ranges")
    with op.batch_alter_table("campaigns", schema=None) as batch_op:
        batch_op.drop_index("ix_campaigns_status")
    op.drop_table("campaigns")
