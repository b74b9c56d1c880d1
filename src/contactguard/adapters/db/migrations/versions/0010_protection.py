"""shared limits and abuse protection (issue 11)

This revision shipped empty (a placeholder) and so must stay empty: databases already at it
never run it again. Its content is in a later revision (0014-0016).

Revision ID: 0010
Revises: 0009
"""

from __future__ import annotations

import sqlalchemy as sa  # noqa: F401
from alembic import op  # noqa: F401

import contactguard.adapters.db.tables  # noqa: F401

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
