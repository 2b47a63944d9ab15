"""The bulk import path: a page of orders costs a handful of statements inside one
transaction, the same handful for 10 orders or 100 (batched inserts, IN lookups, eager
loads; never one round trip per order)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import attrs
from sqlalchemy import event

from kanglu.domain.orders import ErpOrder
from kanglu.domain.situacoes import Situacao
from tests.builders import customer, erp_order, s10
from tests.integration.sql.helpers import SqlWorld

DML = ("SELECT", "INSERT", "UPDATE", "DELETE")


@contextmanager
def statements(world: SqlWorld) -> Iterator[list[str]]:
    seen: list[str] = []

    def record(conn, cursor, statement: str, *args) -> None:  # type: ignore[no-untyped-def]
        if statement.lstrip().upper().startswith(DML):
            seen.append(statement.split("(")[0].split(" WHERE")[0][:60])

    engine = world.uow.engine
    event.listen(engine, "before_cursor_execute", record)
    try:
        yield seen
    finally:
        event.remove(engine, "before_cursor_execute", record)


def page(first: int, size: int, **changes) -> list[ErpOrder]:  # type: ignore[no-untyped-def]
    # Every third order is from a returning customer; the rest are new people.
    return [erp_order(i, customer=customer(i if i % 3 else first), **changes) for i in range(first, first + size)]


def test_new_and_changed_pages_cost_the_same_few_statements_whatever_their_size(world: SqlWorld) -> None:
    _, cid = world.connect()
    costs = {}
    for size, first in ((10, 1), (100, 1001)):
        with statements(world) as new:
            report = world.import_orders(cid, *page(first, size, situacao=Situacao.FATURADA, tracking_code=None))
        assert report.imported == size
        changed_versions = page(first, size, tracking_code=None)  # Faturada -> Enviada, code on the invoice
        changed_versions = [attrs.evolve(o, invoice=attrs.evolve(o.invoice, tracking_code=s10(o.erp_order_id)))
                            for o in changed_versions]
        with statements(world) as changed:
            report = world.import_orders(cid, *changed_versions)
        assert report.imported == size and report.tracking_requests == size
        costs[size] = (len(new), len(changed))
    assert costs[10] == costs[100], costs
    new_cost, changed_cost = costs[100]
    assert new_cost <= 20 and changed_cost <= 20, costs
    orders = world.orders(cid)
    assert len(orders) == 110 and all(len(o.shipments) == 1 for o in orders)
