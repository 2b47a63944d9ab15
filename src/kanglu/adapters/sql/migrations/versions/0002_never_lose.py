"""Orders never dropped for a field defect: warnings, readable import failures (issue 16).

- orders.total may be NULL: Tiny gave no total (an empty `valor` and no detail), never 0.00;
- orders.warnings: the field defects an order was imported with;
- import_failures.number / customer_name: what lets the merchant recognise a failed order;
  filled in for the failures already recorded, whose raw payloads are masked (CPF/CNPJ,
  e-mail and phone) on the way;
- stored tracking URLs that are not https are dropped.

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-07
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

JSON_DOCUMENT = sa.JSON(none_as_null=True).with_variant(postgresql.JSONB(none_as_null=True), "postgresql")

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("orders") as batch:
        batch.alter_column("total", existing_type=sa.Numeric(precision=14, scale=2), nullable=True)
        batch.add_column(sa.Column("warnings", JSON_DOCUMENT, nullable=True))
    with op.batch_alter_table("import_failures") as batch:
        batch.add_column(sa.Column("number", sa.Text(), nullable=True))
        batch.add_column(sa.Column("customer_name", sa.Text(), nullable=True))
    _mask_recorded_failures()
    # Only https tracking links are kept (a `javascript:` one from Tiny reached the API): the
    # next import of such an order records the warning and the carrier's own page.
    op.execute("UPDATE orders SET tracking_url = NULL WHERE tracking_url IS NOT NULL AND tracking_url NOT LIKE 'https://%'")


def _mask_recorded_failures() -> None:
    """The failures recorded before: payloads masked, number and customer name read from them.
    (The next poll that lists such an order imports it and resolves the failure.)"""
    from kanglu.adapters.tiny.conversion import masked, recognisable

    failures = sa.table(
        "import_failures", sa.column("id", sa.BigInteger()), sa.column("raw", JSON_DOCUMENT),
        sa.column("number", sa.Text()), sa.column("customer_name", sa.Text()),
    )
    connection = op.get_bind()
    rows = connection.execute(sa.select(failures.c.id, failures.c.raw).where(failures.c.raw.is_not(None))).all()
    for row in rows:
        number, customer_name = recognisable(row.raw)
        connection.execute(
            failures.update().where(failures.c.id == row.id).values(
                raw=masked(row.raw), number=number, customer_name=customer_name
            )
        )


def downgrade() -> None:
    with op.batch_alter_table("import_failures") as batch:
        batch.drop_column("customer_name")
        batch.drop_column("number")
    op.execute("UPDATE orders SET total = 0 WHERE total IS NULL")
    with op.batch_alter_table("orders") as batch:
        batch.drop_column("warnings")
        batch.alter_column("total", existing_type=sa.Numeric(precision=14, scale=2), nullable=False)
