"""Tokens Tiny issued are never lost: a renewal under way is claimed on the connection (issue 16).

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-07
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # A renewal under way, committed before the token call, so that no other process sends a
    # refresh token that the renewal may already have spent.
    # Plain ADD COLUMN (nullable, no default): no table rebuild on SQLite, whose rebuild would
    # drop and recreate a table other tables reference ON DELETE CASCADE.
    op.add_column("erp_connections", sa.Column("renewal_claimed_by", sa.String(40), nullable=True))
    op.add_column("erp_connections", sa.Column("renewal_claimed_until", sa.DateTime(timezone=True), nullable=True))


def downgrade() -> None:
    op.drop_column("erp_connections", "renewal_claimed_until")
    op.drop_column("erp_connections", "renewal_claimed_by")
