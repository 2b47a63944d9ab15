"""Versioned order fingerprints (issue 21): `orders.fingerprint_version`.

The fingerprint an import stores was the hash of the snapshot's repr(); it is now the SHA-256
of a canonical JSON form (domain/orders.py, FINGERPRINT_VERSION = 2). Every existing row gets
version 1 from the column's default, with no UPDATE: on PostgreSQL (11+) and SQLite, adding a
column with a constant default touches no row. A version-1 fingerprint is compared as unknown,
so each order is imported again the next time Tiny lists it and written once with version 2;
orders Tiny never lists again are never rewritten. A backfill would have to recompute every
order's snapshot, which only Tiny has: there is nothing cheaper that stays honest.

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-07
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # Plain ALTER TABLE, never a batch rebuild: the point is to leave every order's row alone.
    op.add_column(
        "orders", sa.Column("fingerprint_version", sa.SmallInteger(), nullable=False, server_default=sa.text("1"))
    )


def downgrade() -> None:
    op.drop_column("orders", "fingerprint_version")
