"""Per-module permissions and plan limits of a real Tiny account (issue 17).

A 403 is a missing permission of the Tiny application, not a lost authorisation: the connection
keeps which read permissions are missing, when they were last probed, and the earliest poll
window imported without one (read again once it is back). The plan limits need no schema.

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-07
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # Plain ALTER TABLE, never a batch rebuild: SQLite (3.35+) adds and drops columns in place,
    # and rebuilding erp_connections would cascade to every order that refers to it.
    op.add_column("erp_connections", sa.Column("missing_permissions", sa.String(length=100), nullable=True))
    op.add_column("erp_connections", sa.Column("permissions_checked_at", sa.DateTime(timezone=True), nullable=True))
    op.add_column("erp_connections", sa.Column("incomplete_since", sa.DateTime(timezone=True), nullable=True))


def downgrade() -> None:
    op.drop_column("erp_connections", "incomplete_since")
    op.drop_column("erp_connections", "permissions_checked_at")
    op.drop_column("erp_connections", "missing_permissions")
