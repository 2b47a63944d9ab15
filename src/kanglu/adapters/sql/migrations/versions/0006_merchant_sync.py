"""The merchant sees and steers the sync: events, alerts, carrier mappings (issue 18).

- `connection_events`: each connection's history (quiet polls folded per hour by `fold_key`);
- `notification_settings`: where a merchant's alerts go (e-mail on/off, signed webhook);
- `erp_connections.alert_open` (the problem the merchant was alerted about) and
  `erp_connections.sync_requested_at` (the last "Sincronizar agora", at most one a minute).

Alerts use the existing outbox (its `request` document now holds either a tracking request or
an alert) and carrier mappings keep their table ("não rastrear" is the carrier code `none`):
no change there.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-07
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # Plain ALTER TABLE, never a batch rebuild: SQLite (3.35+) adds and drops columns in place,
    # and rebuilding erp_connections would cascade to every order that refers to it.
    op.add_column("erp_connections", sa.Column("alert_open", sa.String(length=40), nullable=True))
    op.add_column("erp_connections", sa.Column("sync_requested_at", sa.DateTime(timezone=True), nullable=True))
    op.create_table(
        "connection_events",
        sa.Column("id", ID, autoincrement=True, nullable=False),
        sa.Column("connection_id", ID, nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("first_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("message", sa.Text(), nullable=True),
        sa.Column("imported", sa.Integer(), nullable=False),
        sa.Column("updated", sa.Integer(), nullable=False),
        sa.Column("failed", sa.Integer(), nullable=False),
        sa.Column("api_calls", sa.Integer(), nullable=False),
        sa.Column("polls", sa.Integer(), nullable=False),
        sa.Column("fold_key", sa.String(length=40), nullable=True),
        sa.ForeignKeyConstraint(
            ["connection_id"], ["erp_connections.id"],
            name=op.f("fk_connection_events_connection_id_erp_connections"), ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_connection_events")),
        sa.UniqueConstraint("connection_id", "fold_key", name=op.f("uq_connection_events_connection_id_fold_key")),
    )
    op.create_index("ix_connection_events_list", "connection_events", ["connection_id", "at", "id"], unique=False)
    op.create_index("ix_connection_events_at", "connection_events", ["at"], unique=False)
    op.create_table(
        "notification_settings",
        sa.Column("merchant_id", ID, nullable=False),
        sa.Column("email", sa.Boolean(), nullable=False),
        sa.Column("webhook_url", sa.Text(), nullable=True),
        sa.Column("webhook_secret", sa.Text(), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["merchant_id"], ["merchants.id"],
            name=op.f("fk_notification_settings_merchant_id_merchants"), ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("merchant_id", name=op.f("pk_notification_settings")),
    )


def downgrade() -> None:
    op.drop_table("notification_settings")
    op.drop_index("ix_connection_events_at", table_name="connection_events")
    op.drop_index("ix_connection_events_list", table_name="connection_events")
    op.drop_table("connection_events")
    op.drop_column("erp_connections", "sync_requested_at")
    op.drop_column("erp_connections", "alert_open")
