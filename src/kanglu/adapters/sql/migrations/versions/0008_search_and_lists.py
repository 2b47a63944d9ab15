"""Search and lists that scale, quiet polls that stay quiet (issue 20).

- customers' names indexed for substring search: a pg_trgm GIN index on PostgreSQL (the
  extension is created here; where that is not allowed the migration stops and says what the
  database's owner must run), an FTS5 trigram table kept in sync by triggers on SQLite
  (adapters/sql/search.py).
- invoice_listings, invoice_checks: the Tiny invoice finder's memory in the database, so that
  a quiet poll costs the same in a process that just started (adapters/sql/invoice_checks.py).

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-07
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from sqlalchemy.dialects import postgresql

from kanglu.adapters.sql import search

JSON_DOCUMENT = sa.JSON(none_as_null=True).with_variant(postgresql.JSONB(none_as_null=True), "postgresql")

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "invoice_listings",
        sa.Column("account_key", sa.String(100), nullable=False),
        sa.Column("window_start", sa.Date(), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("read_offset", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("account_key", name="pk_invoice_listings"),
    )
    op.create_table(
        "invoice_checks",
        sa.Column("account_key", sa.String(100), nullable=False),
        sa.Column("erp_order_id", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("checked_upto", sa.Integer(), nullable=False),
        sa.Column("nota", JSON_DOCUMENT, nullable=True),
        sa.PrimaryKeyConstraint("account_key", "erp_order_id", name="pk_invoice_checks"),
    )
    search.install(op.get_bind())


def downgrade() -> None:
    search.uninstall(op.get_bind())
    op.drop_table("invoice_checks")
    op.drop_table("invoice_listings")
