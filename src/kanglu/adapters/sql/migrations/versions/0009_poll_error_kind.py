"""Whose error a connection's `last_error` is, in a column (issue 21).

The poll cleared its own error, and a renewal its own, by the text's Portuguese prefix: a
rule keyed on a message. `erp_connections.error_kind` ("poll", "renewal", "disconnected")
says it instead; the rows written before are told apart by those prefixes once, here.

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-07
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # Plain ALTER TABLE, never a batch rebuild: SQLite (3.35+) adds and drops columns in place,
    # and rebuilding erp_connections would cascade to every order that refers to it.
    op.add_column("erp_connections", sa.Column("error_kind", sa.String(length=20), nullable=True))
    # The prefixes as domain/connections.py wrote them up to now (copied: a migration must not
    # change when the code does).
    op.execute(
        "UPDATE erp_connections SET error_kind = CASE"
        " WHEN last_error LIKE 'Sincronização: %' THEN 'poll'"
        " WHEN last_error LIKE 'Renovação do acesso: %' THEN 'renewal'"
        " WHEN status = 'disconnected' THEN 'disconnected'"
        " END"
        " WHERE last_error IS NOT NULL"
    )


def downgrade() -> None:
    op.drop_column("erp_connections", "error_kind")
