"""The Tiny invoice finder's memory in the database (the `InvoiceCheckStore` of
adapters/tiny/invoices.py): how far an account's latest window of notas was read, and what each
order's last look found. It is what keeps a quiet poll quiet in a process that just started.

Best effort by design: the finder can always read Tiny again, so a database that cannot answer
(busy, away) costs API calls, never a poll. Each call is its own short transaction, outside the
poll's unit of work (the finder runs while no transaction is open).
"""

from __future__ import annotations

import logging
from collections.abc import Collection, Mapping
from datetime import datetime

from sqlalchemy import delete, select, update
from sqlalchemy.engine import Engine
from sqlalchemy.exc import SQLAlchemyError

from kanglu.adapters.sql import tables as t
from kanglu.adapters.sql.engine import upsert_insert
from kanglu.adapters.tiny.invoices import InvoiceCheck, SavedListing

log = logging.getLogger(__name__)

# Bind parameters per statement stay well under SQLite's limit (32,766) for a page's orders.
CHUNK = 500


class SqlInvoiceChecks:
    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    def listing(self, key: str) -> SavedListing | None:
        c = t.invoice_listings.c
        try:
            with self._engine.connect() as connection:
                row = connection.execute(
                    select(c.window_start, c.started_at, c.read_offset).where(c.account_key == key)
                ).first()
        except SQLAlchemyError:
            log.warning("invoice listing position unreadable: the notas are read again", exc_info=True)
            return None
        return SavedListing(row.window_start, row.started_at, row.read_offset) if row is not None else None

    def checks(self, key: str, started_at: datetime, erp_ids: Collection[int]) -> dict[int, InvoiceCheck]:
        c = t.invoice_checks.c
        ids = list(erp_ids)
        found: dict[int, InvoiceCheck] = {}
        try:
            with self._engine.connect() as connection:
                for start in range(0, len(ids), CHUNK):
                    rows = connection.execute(
                        select(c.erp_order_id, c.checked_upto, c.nota).where(
                            c.account_key == key, c.started_at == started_at, c.erp_order_id.in_(ids[start:start + CHUNK])
                        )
                    )
                    found.update({row.erp_order_id: InvoiceCheck(row.checked_upto, row.nota) for row in rows})
        except SQLAlchemyError:
            log.warning("invoice checks unreadable: the notas are read again", exc_info=True)
            return {}
        return found

    def remember(
        self,
        key: str,
        started_at: datetime,
        listing: SavedListing | None,
        checks: Mapping[int, InvoiceCheck],
        advance: tuple[int, int] | None,
    ) -> None:
        c = t.invoice_checks.c
        dialect = self._engine.dialect.name
        try:
            with self._engine.begin() as connection:
                if listing is not None:
                    connection.execute(_save_listing(dialect, key, listing))
                    connection.execute(delete(t.invoice_checks).where(c.account_key == key, c.started_at < started_at))
                if checks:
                    insert = upsert_insert(dialect, t.invoice_checks)
                    # Another process may have begun a newer generation meanwhile: never step back.
                    statement = insert.on_conflict_do_update(
                        index_elements=["account_key", "erp_order_id"],
                        set_={"started_at": insert.excluded.started_at, "checked_upto": insert.excluded.checked_upto,
                              "nota": insert.excluded.nota},
                        where=c.started_at <= insert.excluded.started_at,
                    )
                    connection.execute(statement, [
                        {"account_key": key, "erp_order_id": erp_id, "started_at": started_at,
                         "checked_upto": check.checked_upto, "nota": check.nota} for erp_id, check in checks.items()
                    ])
                if advance is not None:
                    since, upto = advance
                    connection.execute(
                        update(t.invoice_checks)
                        .where(c.account_key == key, c.started_at == started_at, c.nota.is_(None),
                               c.checked_upto >= since, c.checked_upto < upto)
                        .values(checked_upto=upto)
                    )
        except SQLAlchemyError:
            log.warning("invoice checks not saved: a process that starts reads the notas again", exc_info=True)


def _save_listing(dialect: str, key: str, listing: SavedListing):  # type: ignore[no-untyped-def]
    c = t.invoice_listings.c
    insert = upsert_insert(dialect, t.invoice_listings).values(
        account_key=key, window_start=listing.start, started_at=listing.started_at, read_offset=listing.read_offset,
    )
    # Another process may have begun a newer generation meanwhile: never step back to ours.
    return insert.on_conflict_do_update(
        index_elements=["account_key"],
        set_={"window_start": insert.excluded.window_start, "started_at": insert.excluded.started_at,
              "read_offset": insert.excluded.read_offset},
        where=c.started_at <= insert.excluded.started_at,
    )
