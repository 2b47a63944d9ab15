"""`kanglu keys rotate`: re-encrypt every sealed column with the newest encryption key.

MultiFernet opens a secret with any configured key and seals with the first, so the operator
puts a new key first, runs this, and may then drop the old key. Rows are re-encrypted in
batches, one transaction per batch, each batch locked (row locks on PostgreSQL, the write lock
on SQLite) so that a token renewed meanwhile is never overwritten with an older one.
"""

from __future__ import annotations

import logging
from typing import Protocol

import attrs
from sqlalchemy import Table, bindparam, select, update
from sqlalchemy.engine import Engine

from kanglu.adapters.sql.engine import BEGIN_MODE
from kanglu.adapters.sql.tables import metadata
from kanglu.adapters.sql.types import SealedType
from kanglu.domain.secrets import Sealed

log = logging.getLogger(__name__)


class Rotator(Protocol):
    def rotate(self, sealed: Sealed) -> Sealed:
        """The same secret, sealed with the newest key (FernetSecretBox.rotate)."""
        ...


@attrs.frozen
class RotationReport:
    rows: int  # rows holding at least one sealed column
    secrets: int  # sealed values re-encrypted
    by_table: dict[str, int] = attrs.field(factory=dict)


def sealed_tables() -> list[tuple[Table, list[str]]]:
    """Every table with sealed columns, found from the column types (a sealed column added
    later is rotated without touching this module)."""
    found = []
    for table in metadata.sorted_tables:
        columns = [c.name for c in table.columns if isinstance(c.type, SealedType)]
        if columns:
            found.append((table, columns))
    return found


def rotate_secrets(engine: Engine, box: Rotator, batch_size: int = 200) -> RotationReport:
    rows = secrets = 0
    by_table: dict[str, int] = {}
    with engine.connect() as connection:
        if connection.dialect.name == "sqlite":
            connection.execution_options(**{BEGIN_MODE: "IMMEDIATE"})
        for table, columns in sealed_tables():
            table_secrets = 0
            last_id = None
            key = next(iter(table.primary_key.columns))  # one-column keys: `id`, or `merchant_id`
            while True:
                with connection.begin():
                    query = select(key.label("row_key"), *(table.c[name] for name in columns)).order_by(key)
                    if last_id is not None:
                        query = query.where(key > last_id)
                    batch = connection.execute(query.limit(batch_size).with_for_update()).all()
                    if not batch:
                        break
                    changes = []
                    for row in batch:
                        values = {name: getattr(row, name) for name in columns}
                        rotated = {name: box.rotate(v) if v is not None else None for name, v in values.items()}
                        table_secrets += sum(v is not None for v in values.values())
                        rows += any(v is not None for v in values.values())
                        changes.append({"row_id": row.row_key, **{f"new_{k}": v for k, v in rotated.items()}})
                    connection.execute(
                        update(table)
                        .where(key == bindparam("row_id"))
                        .values({name: bindparam(f"new_{name}", type_=SealedType()) for name in columns}),
                        changes,
                    )
                    last_id = batch[-1].row_key
            by_table[table.name] = table_secrets
            secrets += table_secrets
    log.info("secrets re-encrypted with the newest key", extra={"rows": rows, "secrets": secrets})
    return RotationReport(rows=rows, secrets=secrets, by_table=by_table)
