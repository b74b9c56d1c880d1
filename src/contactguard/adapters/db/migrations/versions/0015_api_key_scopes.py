"""API key scopes (issue 11); the audit anchor needs no table (it is kept outside)

Revision ID: 0015
Revises: 0014
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import contactguard.adapters.db.tables  # noqa: F401

revision = "0015"
down_revision = "0014"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Existing keys keep full access. A plain ADD COLUMN (no table rebuild on SQLite, which
    # keeps the table's AUTOINCREMENT).
    op.add_column("api_keys", sa.Column("scopes", sa.String(length=100), nullable=False,
                                        server_default="full"))


def downgrade() -> None:
    op.drop_column("api_keys", "scopes")  # SQLite 3.35+ drops columns in place
