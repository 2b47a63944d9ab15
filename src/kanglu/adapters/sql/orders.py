"""The SQL repositories of imported orders and of the customers they belong to."""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterable
from typing import Any

from sqlalchemy import Select, or_, select

from kanglu.adapters.sql import tables as t
from kanglu.adapters.sql.repository_base import (
    CONNECTION_ID,
    SessionRepository,
    erp_id_in,
)
from kanglu.domain.customers import Customer
from kanglu.domain.orders import Order, StoredOrder, comparable_fingerprint


# The light reads of a poll's page that re-lists imported orders (every poll's overlap does),
# built once per backend. The fingerprint's version comes along: one of another version is
# unknown.
@functools.cache
def _stored_orders(dialect: str) -> Select[Any]:
    c = t.orders.c
    return select(c.erp_order_id, c.fingerprint, c.fingerprint_version, c.invoice, c.total).where(
        c.connection_id == CONNECTION_ID, erp_id_in(c.erp_order_id, dialect)
    )


@functools.cache
def _fingerprints(dialect: str) -> Select[Any]:
    c = t.orders.c
    return select(c.erp_order_id, c.fingerprint, c.fingerprint_version).where(
        c.connection_id == CONNECTION_ID, erp_id_in(c.erp_order_id, dialect)
    )


class SqlCustomerRepository(SessionRepository):
    def add(self, customer: Customer) -> None:
        self._session.add(customer)

    def get(self, merchant_id: int, customer_id: int) -> Customer | None:
        customer = self._session.get(Customer, customer_id)
        return customer if customer is not None and customer.merchant_id == merchant_id else None

    def by_documents(self, merchant_id: int, documents: Iterable[str]) -> dict[str, Customer]:
        wanted = set(documents)
        if not wanted:
            return {}
        c = t.customers.c
        found = self._session.scalars(select(Customer).where(c.merchant_id == merchant_id, c.document.in_(wanted)))
        return {customer.document.value: customer for customer in found if customer.document is not None}

    def by_emails(self, merchant_id: int, emails: Iterable[str]) -> dict[str, Customer]:
        return self._oldest_by(merchant_id, t.customers.c.email, emails, "email")

    def by_erp_ids(self, merchant_id: int, erp_ids: Iterable[int]) -> dict[int, Customer]:
        return self._oldest_by(merchant_id, t.customers.c.erp_customer_id, erp_ids, "erp_customer_id")

    def _oldest_by(self, merchant_id: int, column, values: Iterable, attribute: str) -> dict:  # type: ignore[no-untyped-def]
        """One customer per value: the oldest, when several share it."""
        wanted = set(values)
        if not wanted:
            return {}
        c = t.customers.c
        found: dict = {}
        for customer in self._session.scalars(
            select(Customer).where(c.merchant_id == merchant_id, column.in_(wanted)).order_by(c.id)
        ):
            found.setdefault(getattr(customer, attribute), customer)
        return found


class SqlOrderRepository(SessionRepository):
    def add(self, order: Order) -> None:
        self._session.add(order)

    def get(self, merchant_id: int, order_id: int) -> Order | None:
        order = self._session.get(Order, order_id)
        return order if order is not None and order.merchant_id == merchant_id else None

    def by_erp_ids(self, connection_id: int, erp_ids: Iterable[int]) -> dict[int, Order]:
        wanted = set(erp_ids)
        if not wanted:
            return {}
        c = t.orders.c
        found = self._session.scalars(select(Order).where(c.connection_id == connection_id, c.erp_order_id.in_(wanted)))
        return {order.erp_order_id: order for order in found}

    def fingerprints(self, connection_id: int, erp_ids: Iterable[int]) -> dict[int, str]:
        return {
            erp_id: comparable_fingerprint(fingerprint, version)
            for erp_id, fingerprint, version in self._by_erp_id(_fingerprints, connection_id, erp_ids)
        }

    def stored(self, connection_id: int, erp_ids: Iterable[int]) -> dict[int, StoredOrder]:
        return {
            erp_id: StoredOrder(comparable_fingerprint(fingerprint, version), invoice, total)
            for erp_id, fingerprint, version, invoice, total in self._by_erp_id(_stored_orders, connection_id, erp_ids)
        }

    def _by_erp_id(
        self, statement: Callable[[str], Select[Any]], connection_id: int, erp_ids: Iterable[int]
    ) -> list[Any]:
        """(erp_order_id, ...) of those orders that are stored: a light read."""
        wanted = list(set(erp_ids))
        if not wanted:
            return []
        return list(self._session.execute(statement(self._dialect), {"conn_id": connection_id, "erp_ids": wanted}))

    def waiting_for_carrier(self, connection_id: int, shipping_key: str, or_carrier: str | None = None) -> list[Order]:
        c = t.orders.c
        carrier = c.carrier_code.is_(None) if or_carrier is None else or_(c.carrier_code.is_(None),
                                                                          c.carrier_code == or_carrier)
        return list(
            self._session.scalars(
                select(Order)
                .where(c.connection_id == connection_id, c.shipping_key == shipping_key, carrier)
                .order_by(c.id)
            )
        )
