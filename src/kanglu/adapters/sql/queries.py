"""The read side of application/queries.py: order and customer lists with search, filters and
pagination that stay fast at 100,000 orders, and the merchant's summaries."""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any, TypeVar, cast

import attrs
from sqlalchemy import ColumnElement, FromClause, Select, Table, bindparam, func, select
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.orm import Session, configure_mappers
from sqlalchemy.orm.base import opt_manager_of_class

from kanglu.adapters.sql import search
from kanglu.adapters.sql import tables as t
from kanglu.adapters.sql.repositories import connection_for_merchant
from kanglu.adapters.sql.unit_of_work import session_factory
from kanglu.application.queries import (
    MAX_PER_PAGE,
    TOTAL_CAP,
    UNKNOWN_CARRIER,
    ConnectionSummary,
    CustomerSummary,
    CustomerView,
    OrderFilters,
    OrderSummary,
    OrderView,
    Page,
    PageRequest,
    UnmatchedService,
)
from kanglu.domain.customers import Customer
from kanglu.domain.import_failures import ImportFailure
from kanglu.domain.merchants import Merchant
from kanglu.domain.orders import Order
from kanglu.domain.tracking import Shipment

# A search with more matches than this finds its page walking the newest orders (OrderSearch.walked).
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


def _order_conditions(merchant_id: int, filters: OrderFilters, found: search.OrderSearch | None = None,
                      walked_from: int | None = None) -> tuple[FromClause, list[ColumnElement[bool]]]:
    """What to read and the conditions of a list: the merchant's orders, or a search's matches
    (sorted, or walked from an offset: see OrderSearch.walked), and the filters."""
    o = t.orders.c
    source: FromClause = t.orders
    # A search already keeps to the merchant's orders; repeating the merchant here would
    # invite SQLite to read all of them through a merchant index instead of fetching the
    # few matches by id.
    if found is None:
        where: list[ColumnElement[bool]] = [o.merchant_id == merchant_id]
    elif walked_from is not None:
        source, condition = found.walked(walked_from)
        where = [condition]
    else:
        where = [found.condition()]
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
    return source, where


@functools.cache
def _blueprint(cls: type) -> tuple[frozenset[str], dict[str, Any]]:
    """An entity class's attrs fields and their defaults (a Factory as is)."""
    fields = attrs.fields(cls)
    return frozenset(f.name for f in fields), {f.name: f.default for f in fields if f.default is not attrs.NOTHING}


def _built(cls: type[T], row: Mapping[Any, Any], **more: object) -> T:
    """A domain entity from a plain row: every column that is one of its attrs fields (a
    column added to the table and the entity is carried over with no change here). A mapped
    entity is built as the ORM builds what it loads, its attributes written to the instance's
    dictionary, not through __init__, whose every assignment goes through SQLAlchemy's
    instrumentation (a third of a page's CPU at 20 orders)."""
    names, defaults = _blueprint(cast(type, cls))
    manager = opt_manager_of_class(cls)  # None: the entities are not mapped (a test's choice)
    values: dict[str, Any] = {k: v for k, v in row.items() if k in names}
    values.update(more)
    if manager is None:  # not mapped: the plain attrs class
        fields = attrs.fields_dict(cls)  # type: ignore[arg-type]
        return cls(**{str(fields[k].alias or k): v for k, v in values.items()})
    for name, default in defaults.items():
        if name not in values:
            values[name] = default.factory() if isinstance(default, attrs.Factory) else default  # type: ignore[arg-type]
    entity: T = manager.new_instance()
    entity.__dict__.update(values)
    return entity


# The orders joined to their customers, with each order's open import failure (one at most:
# uq_import_failures_open), built once (a statement of sixty columns costs a millisecond to
# build): _orders adds the page's condition.
_OPEN_FAILURE = select(t.import_failures.c.reason).where(
    t.import_failures.c.resolved_at.is_(None),
    t.import_failures.c.connection_id == t.orders.c.connection_id,
    t.import_failures.c.erp_order_id == t.orders.c.erp_order_id,
).scalar_subquery()
_ORDERS_AND_CUSTOMERS = select(
    *t.orders.c, *(column.label("customer__" + column.name) for column in t.customers.c),
    _OPEN_FAILURE.label("import_error"),
).select_from(t.orders.outerjoin(t.customers, t.customers.c.id == t.orders.c.customer_id))
_SHIPMENTS = select(t.shipments).order_by(t.shipments.c.id)


def _orders(connection: Connection, ids: Iterable[int] | Select[Any]) -> list[OrderView]:
    """Orders with their customers, shipments and open import errors, newest first, from two
    plain queries (the orders joined to their customers, the shipments): no ORM session,
    identity map or relationship loading (half of a page's CPU at 100,000 orders). `ids` may
    be the page's query itself, which then costs no round trip of its own."""
    configure_mappers()  # what a first query through the ORM would do (cheap once done): _built needs it
    o, c, s = t.orders, t.customers, t.shipments
    wanted = ids if isinstance(ids, Select) else list(ids)
    rows = connection.execute(
        _ORDERS_AND_CUSTOMERS.where(o.c.id.in_(wanted)).order_by(o.c.created_at.desc(), o.c.id.desc())
    ).all()
    if not rows:
        return []
    shipments: dict[int, list[Shipment]] = {}
    for shipment in connection.execute(_SHIPMENTS.where(s.c.order_id.in_([r.id for r in rows]))).mappings():
        shipments.setdefault(shipment["order_id"], []).append(_built(Shipment, shipment))
    split, order_keys, customer_keys = len(o.c), o.c.keys(), c.c.keys()
    views = []
    for row in rows:
        customer = None
        if row[split + customer_keys.index("id")] is not None:
            customer = _built(Customer, dict(zip(customer_keys, row[split:-1], strict=True)))
        order = _built(Order, dict(zip(order_keys, row[:split], strict=True)), customer=customer,
                       shipments=shipments.get(row.id, []))
        views.append(OrderView(order, row.import_error))
    return views


# What a listing shows of each order (OrderSummary): the orders' columns it renders and their
# customers' names and documents; no invoice, addresses or shipments to read and decode.
_SUMMARIES = select(
    t.orders.c.id, t.orders.c.erp_order_id, t.orders.c.situacao, t.orders.c.created_at, t.orders.c.number,
    t.orders.c.ecommerce_number, t.orders.c.total, t.customers.c.id, t.customers.c.name, t.customers.c.document,
    t.orders.c.carrier_code, t.orders.c.tracking_code, t.orders.c.tracking_status, t.orders.c.warnings,
    _OPEN_FAILURE.label("import_error"),
).select_from(t.orders.outerjoin(t.customers, t.customers.c.id == t.orders.c.customer_id))


def _summaries(connection: Connection, ids: Select[Any]) -> list[OrderSummary]:
    """The page's orders as a listing shows them, newest first, in one statement."""
    o = t.orders.c
    rows = connection.execute(_SUMMARIES.where(o.id.in_(ids)).order_by(o.created_at.desc(), o.id.desc()))
    return [
        OrderSummary(
            id=id_, erp_order_id=erp_order_id, situacao=situacao, created_at=created_at, number=number,
            ecommerce_number=ecommerce_number, total=total,
            customer=CustomerSummary(name, document) if customer_id is not None else None,
            carrier_code=carrier_code, tracking_code=tracking_code, tracking_status=tracking_status,
            warnings=warnings, import_error=import_error,
        )
        for (id_, erp_order_id, situacao, created_at, number, ecommerce_number, total, customer_id, name, document,
             carrier_code, tracking_code, tracking_status, warnings, import_error) in rows
    ]


class SqlOrderQueries:
    def __init__(self, engine: Engine, total_cap: int = TOTAL_CAP) -> None:
        self._engine = engine
        self._sessions = session_factory(engine)
        self._cap = total_cap

    def list_orders(self, merchant_id: int, filters: OrderFilters, page: PageRequest) -> Page[OrderView]:
        return self._listing(merchant_id, filters, page, _orders)

    def list_order_summaries(self, merchant_id: int, filters: OrderFilters, page: PageRequest) -> Page[OrderSummary]:
        return self._listing(merchant_id, filters, page, _summaries)

    def _listing(self, merchant_id: int, filters: OrderFilters, page: PageRequest,
                 read: Callable[[Connection, Select[Any]], list[T]]) -> Page[T]:
        """The page of orders the filters find, each read by `read` from the page's ids."""
        page = _bounded(page)
        o = t.orders.c
        q = (filters.q or "").strip()
        found = search.OrderSearch.of(merchant_id, q, self._engine.dialect.name) if q else None
        source, where = _order_conditions(merchant_id, filters, found)
        cap = min(self._cap, SEARCH_TOTAL_CAP) if found else self._cap
        with self._engine.connect() as connection:

            def count() -> int:
                # A search's matches are counted once, from the indexes alone (the customers'
                # names through their trigram index).
                if found and attrs.evolve(filters, q=None) == OrderFilters():  # a search alone
                    return found.count(connection, cap)
                return _capped_count(connection, t.orders, where, cap)

            # A search by name is counted first: past WALK_ABOVE matches its page comes from
            # walking the newest orders (OrderSearch.walked), not from sorting every match.
            total = count() if found and found.by_name else None
            if total is not None and total > WALK_ABOVE:
                source, where = _order_conditions(merchant_id, filters, found, walked_from=page.offset)
            # The page's ids from the index alone (a deep OFFSET walks index entries, not
            # rows), inside the statement that reads the twenty orders with their customers.
            page_ids = select(o.id).select_from(source).where(*where).order_by(o.created_at.desc(), o.id.desc())
            items = read(connection, page_ids.limit(page.per_page).offset(page.offset))
            if total is None:  # a first page that is not full is every match: nothing to count
                total = len(items) if page.offset == 0 and len(items) < page.per_page else count()
        return _paged(total, page, items, cap)

    def get_order(self, merchant_id: int, order_id: int) -> OrderView | None:
        with self._engine.connect() as connection:
            view = next(iter(_orders(connection, [order_id])), None)
            return view if view is not None and view.order.merchant_id == merchant_id else None

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
            searched = search.customer_search(merchant_id, q.strip(), self._engine.dialect.name)
            if searched is None:
                return Page([], page.page, page.per_page, 0)
            where.append(searched)
        with self._sessions() as session:
            customers, total = _counted_page(session, Customer, t.customers, where, (c.search_name, c.id), page)
            counts = self._order_counts(session, [x.id for x in customers if x.id is not None])
            return _paged(total, page, [CustomerView(x, counts.get(x.id, 0) if x.id is not None else 0) for x in customers])

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


# Every page view and API call reads its merchant: these statements are built once, with bind
# parameters. Building one per call (and its cache key) cost ~0.2 ms of the ~0.35 the read took
# through an ORM session; the read itself is a lookup by a unique key.
_MERCHANT_BY_ID = select(t.merchants).where(t.merchants.c.id == bindparam("merchant_id"))
_MERCHANT_BY_EMAIL = select(t.merchants).where(t.merchants.c.email == bindparam("email")).limit(1)
_MERCHANT_BY_API_KEY = (
    select(t.merchants)
    .join(t.api_keys, t.api_keys.c.merchant_id == t.merchants.c.id)
    .where(t.api_keys.c.key_hash == bindparam("key_hash"), t.api_keys.c.revoked_at.is_(None))
    .limit(1)
)


class SqlMerchantQueries:
    def __init__(self, engine: Engine) -> None:
        self._engine = engine
        self._sessions = session_factory(engine)

    def by_api_key_hash(self, key_hash: str) -> Merchant | None:
        return self._merchant(_MERCHANT_BY_API_KEY, key_hash=key_hash)

    def by_email(self, email: str) -> Merchant | None:
        return self._merchant(_MERCHANT_BY_EMAIL, email=email)

    def get(self, merchant_id: int) -> Merchant | None:
        return self._merchant(_MERCHANT_BY_ID, merchant_id=merchant_id)

    def _merchant(self, statement: Select[Any], **params: object) -> Merchant | None:
        configure_mappers()  # _built needs the mapping configured (cheap once done)
        with self._engine.connect() as connection:
            row = connection.execute(statement, params).mappings().first()
        return _built(Merchant, row) if row is not None else None

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
