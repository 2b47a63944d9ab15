"""The read side of application/queries.py: order and customer lists with search, filters and
pagination that stay fast at 100,000 orders, and the merchant's summaries."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from typing import Any, TypeVar

import attrs
from sqlalchemy import ColumnElement, Select, Table, func, or_, select, union, union_all
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.orm import Session

from kanglu.adapters.sql import search
from kanglu.adapters.sql import tables as t
from kanglu.adapters.sql.repositories import connection_for_merchant, merchant_by_api_key_hash
from kanglu.adapters.sql.unit_of_work import session_factory
from kanglu.application.queries import (
    MAX_PER_PAGE,
    TOTAL_CAP,
    UNKNOWN_CARRIER,
    ConnectionSummary,
    CustomerView,
    OrderFilters,
    OrderView,
    Page,
    PageRequest,
    UnmatchedService,
)
from kanglu.domain.customers import Customer, normalise_email
from kanglu.domain.import_failures import ImportFailure
from kanglu.domain.merchants import Merchant
from kanglu.domain.orders import Order
from kanglu.domain.shipping import normalise_name
from kanglu.domain.tracking import Shipment

_DOCUMENT_SEPARATORS = re.compile(r"[\s./\-]")
# A search with more matches than this finds its page walking the newest orders (_search_walked).
WALK_ABOVE = 500
# A search's total counts this far ("mais de 1.000"): a search that broad is refined, not paged.
SEARCH_TOTAL_CAP = 1_000
T = TypeVar("T")


def _bounded(page: PageRequest) -> PageRequest:
    return PageRequest(page=max(1, page.page), per_page=min(max(1, page.per_page), MAX_PER_PAGE))


def _counted_page(
    session: Session, entity: type[T], table: Table, where: Sequence[ColumnElement[bool]],
    order_by: Sequence[ColumnElement[object]], page: PageRequest,
) -> tuple[list[T], int]:
    """One page of `entity` and the total it is a page of (counted up to TOTAL_CAP + 1)."""
    total = _capped_count(session.connection(), table, where)
    items = session.scalars(select(entity).where(*where).order_by(*order_by).limit(page.per_page).offset(page.offset))
    return list(items), total


def _capped_count(connection: Connection, table: Table, where: Sequence[ColumnElement[bool]],
                  cap: int = TOTAL_CAP) -> int:
    """How many rows match, counted no further than cap + 1: past the cap the list says "mais
    de 10.000", and the count reads 10,001 index entries instead of every one."""
    first = select(table.c.id).where(*where).limit(cap + 1).subquery()
    return connection.execute(select(func.count()).select_from(first)).scalar_one()


def _paged(count: int, page: PageRequest, items: list[T], cap: int = TOTAL_CAP) -> Page[T]:
    return Page(items, page.page, page.per_page, min(count, cap), total_capped=count > cap)


def _customer_search(merchant_id: int, q: str, dialect: str, names: bool = True) -> ColumnElement[bool] | None:
    """Customers whose name contains q (accents and case ignored), or whose CPF/CNPJ or
    e-mail is q. A single token with digits (a number, a tracking code, a document) never
    names anybody, so names are not searched for it: that search reads every customer of
    the merchant."""
    c = t.customers.c
    conditions: list[ColumnElement[bool]] = []
    name = _searched_name(q)
    if name and names:
        # normalise_name leaves only [a-z0-9 ], so nothing in it is a LIKE wildcard. The
        # names' trigram index answers it (adapters/sql/search.py).
        conditions.append(search.name_matches(dialect, name))
    document = _DOCUMENT_SEPARATORS.sub("", q).upper()
    if len(document) in (11, 14):
        conditions.append(c.document == document)
    email = normalise_email(q)
    if email:
        conditions.append(c.email == email)
    if not conditions:
        return None
    return (c.merchant_id == merchant_id) & or_(*conditions)


def _searched_name(q: str) -> str | None:
    """The name q may be part of, normalised; None when q cannot name anybody."""
    name = normalise_name(q)
    looks_like_a_code = " " not in q and any(ch.isdigit() for ch in q)
    return name if name and any(ch.isalpha() for ch in name) and not looks_like_a_code else None


def _search_parts(merchant_id: int, q: str, dialect: str) -> tuple[list[Select[Any]], ColumnElement[bool] | None]:
    """The exact lookups of a search (number, e-commerce number, tracking code: each on its own
    index), and the condition on customers (name, document, e-mail), if q can name anybody."""
    o = t.orders.c
    mine = o.merchant_id == merchant_id
    exact = [
        select(o.id).where(mine, o.number == q),
        select(o.id).where(mine, o.ecommerce_number.in_({q, q.upper()})),
        select(o.id).where(mine, o.tracking_code == re.sub(r"\s", "", q).upper()),
    ]
    return exact, _customer_search(merchant_id, q, dialect)


def _search(merchant_id: int, q: str, dialect: str) -> ColumnElement[bool]:
    """Orders matching q, as a UNION of indexed lookups (exact number, e-commerce number or
    tracking code; orders of the customers found): each branch uses its own index, where one
    WHERE with ORs would read every order of the merchant. Every branch is limited to the
    merchant (the customers' one by the customers it starts from)."""
    o = t.orders.c
    exact, customers = _search_parts(merchant_id, q, dialect)
    branches = list(exact)
    if customers is not None:
        branches.append(select(o.id).where(o.customer_id.in_(select(t.customers.c.id).where(customers))))
    return o.id.in_(union(*branches))


def _search_count(connection: Connection, merchant_id: int, q: str, dialect: str, cap: int) -> int:
    """How many orders match q, up to cap + 1, reading no further: the branches as a UNION ALL
    (the customers' one joined, so it streams) stop at cap + 1; only a total within the cap
    is then counted exactly (an order found by two branches counted once)."""
    o, c = t.orders.c, t.customers.c
    exact, customers = _search_parts(merchant_id, q, dialect)
    branches = list(exact)
    if customers is not None:
        branches.append(select(o.id).select_from(t.customers.join(t.orders, o.customer_id == c.id)).where(customers))
    first = connection.execute(select(func.count()).select_from(union_all(*branches).limit(cap + 1).subquery()))
    count = first.scalar_one()
    if count > cap or count <= 1:  # one match (a number, a code) cannot be counted twice
        return count
    return connection.execute(select(func.count()).select_from(union(*branches).subquery())).scalar_one()


def _search_walked(merchant_id: int, q: str, dialect: str) -> ColumnElement[bool]:
    """The same orders, as a condition to check on each order while walking the merchant's
    orders newest first: for a search with thousands of matches (a common surname), the
    page's twenty are among the first few hundred walked, where the UNION would fetch and
    sort every match. The names' matches come straight from the FTS5 table where there is
    one (a customer of another merchant never owns this merchant's orders)."""
    o, c = t.orders.c, t.customers.c
    exact, _ = _search_parts(merchant_id, q, dialect)
    found = [o.id.in_(union(*exact))]
    name = _searched_name(q)
    by_name = search.matching_ids(dialect, name) if name else None
    if by_name is not None:
        found.append(o.customer_id.in_(by_name))
    customers = _customer_search(merchant_id, q, dialect, names=by_name is None)
    if customers is not None:
        found.append(o.customer_id.in_(select(c.id).where(customers)))
    return (o.merchant_id == merchant_id) & or_(*found)


def _order_conditions(merchant_id: int, filters: OrderFilters, dialect: str,
                      walked: bool = False) -> list[ColumnElement[bool]]:
    o = t.orders.c
    q = (filters.q or "").strip()
    # A search already keeps to the merchant's orders; repeating the merchant here would
    # invite SQLite to read all of them through a merchant index instead of fetching the
    # few matches by id.
    if not q:
        where: list[ColumnElement[bool]] = [o.merchant_id == merchant_id]
    else:
        where = [_search_walked(merchant_id, q, dialect) if walked else _search(merchant_id, q, dialect)]
    if filters.situacao is not None:
        where.append(o.situacao == filters.situacao)
    if filters.tracking_status is not None:
        where.append(o.tracking_status == filters.tracking_status)
    if filters.carrier_code == UNKNOWN_CARRIER:
        where.append(o.carrier_code.is_(None))
    elif filters.carrier_code:
        where.append(o.carrier_code == filters.carrier_code)
    if filters.customer_id is not None:
        where.append(o.customer_id == filters.customer_id)
    if filters.updated_since is not None:
        where.append(o.updated_at >= filters.updated_since)
    return where


def _open_failures(connection: Connection, orders: Sequence[Order]) -> dict[tuple[int, int], str]:
    if not orders:
        return {}
    f = t.import_failures.c
    rows = connection.execute(
        select(f.connection_id, f.erp_order_id, f.reason).where(
            f.resolved_at.is_(None),
            f.connection_id.in_({o.connection_id for o in orders}),
            f.erp_order_id.in_({o.erp_order_id for o in orders}),
        )
    )
    return {(row.connection_id, row.erp_order_id): row.reason for row in rows}


def _views(connection: Connection, orders: Sequence[Order]) -> list[OrderView]:
    errors = _open_failures(connection, orders)
    return [OrderView(order, errors.get((order.connection_id, order.erp_order_id))) for order in orders]


def _built(cls: type[T], row: Mapping[str, Any], **more: object) -> T:
    """A domain entity from a plain row: every column that is one of its attrs fields (a
    column added to the table and the entity is carried over with no change here)."""
    fields = attrs.fields_dict(cls)  # type: ignore[arg-type]
    values = {fields[k].alias: v for k, v in row.items() if k in fields}
    return cls(**values, **more)


def _orders(connection: Connection, ids: Iterable[int]) -> dict[int, Order]:
    """Orders with their customers and shipments, from three plain queries: no ORM session,
    identity map or relationship loading (half of a page's CPU at 100,000 orders)."""
    wanted = list(ids)
    if not wanted:
        return {}
    o, c, s = t.orders, t.customers, t.shipments
    rows = connection.execute(select(o).where(o.c.id.in_(wanted))).mappings().all()
    customer_ids = {row["customer_id"] for row in rows if row["customer_id"] is not None}
    customers = {
        row["id"]: _built(Customer, row)
        for row in (connection.execute(select(c).where(c.c.id.in_(customer_ids))).mappings() if customer_ids else [])
    }
    shipments: dict[int, list[Shipment]] = {}
    for row in connection.execute(select(s).where(s.c.order_id.in_(wanted)).order_by(s.c.id)).mappings():
        shipments.setdefault(row["order_id"], []).append(_built(Shipment, row))
    return {
        row["id"]: _built(Order, row, customer=customers.get(row["customer_id"]), shipments=shipments.get(row["id"], []))
        for row in rows
    }


class SqlOrderQueries:
    def __init__(self, engine: Engine, total_cap: int = TOTAL_CAP) -> None:
        self._engine = engine
        self._sessions = session_factory(engine)
        self._cap = total_cap

    def list_orders(self, merchant_id: int, filters: OrderFilters, page: PageRequest) -> Page[OrderView]:
        page = _bounded(page)
        o = t.orders.c
        where = _order_conditions(merchant_id, filters, self._engine.dialect.name)
        newest_first = (o.created_at.desc(), o.id.desc())
        with self._engine.connect() as connection:
            # A search's matches are counted once, from the indexes alone (the customers'
            # names through their trigram index); its page comes from the few matches sorted,
            # or, past WALK_ABOVE matches, from walking the newest orders (see _search_walked).
            q = (filters.q or "").strip()
            cap = min(self._cap, SEARCH_TOTAL_CAP) if q else self._cap
            if q and attrs.evolve(filters, q=None) == OrderFilters():  # a search alone
                count = _search_count(connection, merchant_id, q, self._engine.dialect.name, cap)
            else:
                count = _capped_count(connection, t.orders, where, cap)
            if q and count > WALK_ABOVE:
                where = _order_conditions(merchant_id, filters, self._engine.dialect.name, walked=True)
            # The page's ids first, from the index alone (a deep OFFSET walks index entries,
            # not rows), then the twenty orders with their customers and shipments.
            ids = list(connection.scalars(
                select(o.id).where(*where).order_by(*newest_first).limit(page.per_page).offset(page.offset)
            ))
            by_id = _orders(connection, ids)
            views = _views(connection, [by_id[i] for i in ids])
        return _paged(count, page, views, cap)

    def get_order(self, merchant_id: int, order_id: int) -> OrderView | None:
        with self._engine.connect() as connection:
            order = _orders(connection, [order_id]).get(order_id)
            if order is None or order.merchant_id != merchant_id:
                return None
            return _views(connection, [order])[0]

    def import_failures(self, merchant_id: int, page: PageRequest) -> Page[ImportFailure]:
        page = _bounded(page)
        f, c = t.import_failures.c, t.erp_connections.c
        where = (
            f.resolved_at.is_(None),
            f.connection_id.in_(select(c.id).where(c.merchant_id == merchant_id)),
        )
        with self._sessions() as session:
            items, total = _counted_page(
                session, ImportFailure, t.import_failures, where, (f.last_seen_at.desc(), f.id.desc()), page
            )
            return _paged(total, page, items)

    def unmatched_services(self, merchant_id: int) -> Sequence[UnmatchedService]:
        o, m = t.orders.c, t.carrier_mappings.c
        with self._sessions() as session:
            groups = session.execute(
                select(o.shipping_key, func.count().label("waiting"), func.max(o.id).label("sample"))
                .where(o.merchant_id == merchant_id, o.carrier_code.is_(None), o.shipping_key.is_not(None))
                .group_by(o.shipping_key)
                .order_by(func.count().desc(), o.shipping_key)
            ).all()
            if not groups:
                return []
            # The label as the merchant wrote it, from the newest order of each service.
            samples = dict(session.execute(select(o.id, o.shipping).where(o.id.in_([g.sample for g in groups]))).all())
            mapped = dict(
                session.execute(select(m.shipping_key, m.carrier_code).where(m.merchant_id == merchant_id)).all()
            )
            return [
                UnmatchedService(
                    shipping_key=g.shipping_key,
                    label=samples[g.sample].label,
                    orders_waiting=g.waiting,
                    mapped_carrier_code=mapped.get(g.shipping_key),
                )
                for g in groups
            ]


class SqlCustomerQueries:
    def __init__(self, engine: Engine) -> None:
        self._engine = engine
        self._sessions = session_factory(engine)

    def list_customers(self, merchant_id: int, q: str | None, page: PageRequest) -> Page[CustomerView]:
        page = _bounded(page)
        c = t.customers.c
        where: list[ColumnElement[bool]] = [c.merchant_id == merchant_id]
        if q and q.strip():
            search = _customer_search(merchant_id, q.strip(), self._engine.dialect.name)
            if search is None:
                return Page([], page.page, page.per_page, 0)
            where.append(search)
        with self._sessions() as session:
            customers, total = _counted_page(session, Customer, t.customers, where, (c.search_name, c.id), page)
            counts = self._order_counts(session, [x.id for x in customers if x.id is not None])
            return _paged(total, page, [CustomerView(x, counts.get(x.id, 0)) for x in customers])

    def get_customer(self, merchant_id: int, customer_id: int) -> CustomerView | None:
        with self._sessions() as session:
            customer = session.get(Customer, customer_id)
            if customer is None or customer.merchant_id != merchant_id:
                return None
            return CustomerView(customer, self._order_counts(session, [customer_id]).get(customer_id, 0))

    @staticmethod
    def _order_counts(session: Session, customer_ids: list[int]) -> dict[int, int]:
        if not customer_ids:
            return {}
        o = t.orders.c
        rows = session.execute(
            select(o.customer_id, func.count()).where(o.customer_id.in_(customer_ids)).group_by(o.customer_id)
        )
        return dict(rows.all())


class SqlMerchantQueries:
    def __init__(self, engine: Engine) -> None:
        self._sessions = session_factory(engine)

    def by_api_key_hash(self, key_hash: str) -> Merchant | None:
        with self._sessions() as session:
            return merchant_by_api_key_hash(session, key_hash)

    def by_email(self, email: str) -> Merchant | None:
        with self._sessions() as session:
            return session.scalars(select(Merchant).where(t.merchants.c.email == email)).first()

    def get(self, merchant_id: int) -> Merchant | None:
        with self._sessions() as session:
            return session.get(Merchant, merchant_id)

    def connection_summary(self, merchant_id: int) -> ConnectionSummary:
        o, f, c = t.orders.c, t.import_failures.c, t.erp_connections.c
        with self._sessions() as session:
            connection = connection_for_merchant(session, merchant_id)
            orders = session.scalar(select(func.count()).select_from(t.orders).where(o.merchant_id == merchant_id))
            failures = session.scalar(
                select(func.count())
                .select_from(t.import_failures)
                .where(f.resolved_at.is_(None), f.connection_id.in_(select(c.id).where(c.merchant_id == merchant_id)))
            )
            return ConnectionSummary(connection, orders or 0, failures or 0)
