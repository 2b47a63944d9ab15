"""The Tiny invoice finder's memory in the database: what one process stores, another reads."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

from sqlalchemy.engine import Engine

from kanglu.adapters.sql.invoice_checks import SqlInvoiceChecks
from kanglu.adapters.tiny.invoices import InvoiceCheck, SavedListing

EARLIER = datetime(2026, 7, 1, 12, 0, 0, 123456, tzinfo=UTC)
LATER = EARLIER + timedelta(hours=1)


def test_what_one_process_remembers_another_reads(engine: Engine) -> None:
    store = SqlInvoiceChecks(engine)
    assert store.listing("connection:1") is None
    nota = {"id": 501, "situacao": "6", "origem": {"id": "1", "tipo": "venda"}}
    store.remember("connection:1", EARLIER, SavedListing(date(2026, 6, 19), EARLIER, 300),
                   {1: InvoiceCheck(300, nota), 2: InvoiceCheck(300), 3: InvoiceCheck(100)}, None)
    other = SqlInvoiceChecks(engine)
    assert other.listing("connection:1") == SavedListing(date(2026, 6, 19), EARLIER, 300)
    assert other.checks("connection:1", EARLIER, [1, 2, 3, 4]) == {
        1: InvoiceCheck(300, nota), 2: InvoiceCheck(300), 3: InvoiceCheck(100)}
    assert other.checks("connection:2", EARLIER, [1]) == {}

    # The window's end moved from 300 to 350: the orders without a nota checked from 300 on
    # are checked up to 350; one checked only up to 100 is not (notas 100-300 were not read
    # again); one with a nota keeps it.
    store.remember("connection:1", EARLIER, SavedListing(date(2026, 6, 19), EARLIER, 350), {}, (300, 350))
    assert other.checks("connection:1", EARLIER, [1, 2, 3]) == {
        1: InvoiceCheck(300, nota), 2: InvoiceCheck(350), 3: InvoiceCheck(100)}


def test_a_newer_generation_wins_and_drops_the_older_checks(engine: Engine) -> None:
    store = SqlInvoiceChecks(engine)
    store.remember("connection:1", EARLIER, SavedListing(date(2026, 6, 19), EARLIER, 300), {2: InvoiceCheck(300)}, None)
    store.remember("connection:1", LATER, SavedListing(date(2026, 6, 25), LATER, 0), {5: InvoiceCheck(0)}, None)
    # A process still in the older generation cannot step back over the newer one.
    store.remember("connection:1", EARLIER, SavedListing(date(2026, 6, 19), EARLIER, 400), {2: InvoiceCheck(400)}, None)
    assert store.listing("connection:1") == SavedListing(date(2026, 6, 25), LATER, 0)
    assert store.checks("connection:1", LATER, [2, 5]) == {5: InvoiceCheck(0)}
