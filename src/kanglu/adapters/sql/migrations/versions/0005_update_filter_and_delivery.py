"""The update filter's meanings, the delivery address and PDV sales (issue 17).

Each order keeps where its parcel goes (`orders.shipping_address`); orders imported before
keep their customer's address, the fallback the import now stores too, until Tiny's delivery
address reaches them with their invoice. Each connection says whether point-of-sale (PDV)
sales are imported (`erp_connections.import_point_of_sale`, off).

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-07
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

BATCH = 1_000
JSON_DOCUMENT = sa.JSON(none_as_null=True).with_variant(postgresql.JSONB(none_as_null=True), "postgresql")


def upgrade() -> None:
    # Plain ADD COLUMN on both backends: a batch "recreate" on SQLite would drop and copy the
    # tables, and dropping erp_connections cascades to every order.
    op.add_column("erp_connections",
                  sa.Column("import_point_of_sale", sa.Boolean(), nullable=False, server_default=sa.false()))
    op.add_column("orders", sa.Column("shipping_address", JSON_DOCUMENT, nullable=True))
    _customer_address_as_shipping_address()


def _customer_address_as_shipping_address() -> None:
    """The fallback for the orders already imported: their customer's name and address."""
    bind = op.get_bind()
    orders = sa.table("orders", sa.column("id"), sa.column("customer_id"),
                      sa.column("shipping_address", JSON_DOCUMENT))
    customers = sa.table("customers", sa.column("id"), sa.column("name"), sa.column("address", JSON_DOCUMENT))
    last = 0
    while True:
        rows = bind.execute(
            sa.select(orders.c.id, customers.c.name, customers.c.address)
            .join(customers, customers.c.id == orders.c.customer_id)
            .where(orders.c.id > last, customers.c.address.is_not(None))
            .order_by(orders.c.id)
            .limit(BATCH)
        ).all()
        if not rows:
            return
        for order_id, name, address in rows:
            bind.execute(orders.update().where(orders.c.id == order_id)
                         .values(shipping_address={"name": name or None, "address": address}))
        last = rows[-1][0]


def downgrade() -> None:
    op.drop_column("orders", "shipping_address")
    op.drop_column("erp_connections", "import_point_of_sale")
