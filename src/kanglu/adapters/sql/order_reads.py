"""Orders as the pages and the API read them: whole (OrderView) or as a listing shows them
(OrderSummary), and the statements of a list of orders, built once for each shape of list.

A list's statements depend on its shape (the search's lookups, which filters are set, a walk
of the newest orders or not) and take everything else as bind parameters: building a statement
of this size and its cache key at each request cost SQLAlchemy more CPU than SQLite took to run
it (~2 ms of a name search's ~5).
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping, Sequence
from typing import Any, Generic, TypeVar, Unpack, cast

import attrs
from sqlalchemy import ColumnElement, FromClause, Integer, Row, Select, bindparam, func, select
from sqlalchemy.engine import Connection
from sqlalchemy.orm import configure_mappers
from sqlalchemy.orm.base import opt_manager_of_class

from kanglu.adapters.sql import search
from kanglu.adapters.sql import tables as t
from kanglu.adapters.sql.search import SearchShape
from kanglu.application.queries import UNKNOWN_CARRIER, CustomerSummary, OrderFilters, OrderSummary, OrderView
from kanglu.domain.customers import Customer
from kanglu.domain.orders import Order
from kanglu.domain.tracking import Shipment

T = TypeVar("T")
Rows = Sequence[Row[Unpack[tuple[Any, ...]]]]


@functools.cache
def _blueprint(cls: type) -> tuple[frozenset[str], dict[str, Any]]:
    """An entity class's attrs fields and their defaults (a Factory as is)."""
    fields = attrs.fields(cls)
    return frozenset(f.name for f in fields), {f.name: f.default for f in fields if f.default is not attrs.NOTHING}


def built(cls: type[T], row: Mapping[Any, Any], **more: object) -> T:
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
# uq_import_failures_open): a statement of sixty columns costs a millisecond to build.
_OPEN_FAILURE = select(t.import_failures.c.reason).where(
    t.import_failures.c.resolved_at.is_(None),
    t.import_failures.c.connection_id == t.orders.c.connection_id,
    t.import_failures.c.erp_order_id == t.orders.c.erp_order_id,
).scalar_subquery()
_ORDERS_AND_CUSTOMERS = select(
    *t.orders.c, *(column.label("customer__" + column.name) for column in t.customers.c),
    _OPEN_FAILURE.label("import_error"),
).select_from(t.orders.outerjoin(t.customers, t.customers.c.id == t.orders.c.customer_id))
ORDER_BY_ID = _ORDERS_AND_CUSTOMERS.where(t.orders.c.id == bindparam("order_id"))
_SHIPMENTS_OF = (select(t.shipments).where(t.shipments.c.order_id.in_(bindparam("order_ids", expanding=True)))
                 .order_by(t.shipments.c.id))


def order_views(connection: Connection, rows: Rows) -> list[OrderView]:
    """Orders with their customers, shipments and open import errors, in the order of `rows`
    (of _ORDERS_AND_CUSTOMERS), and one query for their shipments: no ORM session, identity
    map or relationship loading (half of a page's CPU at 100,000 orders)."""
    if not rows:
        return []
    configure_mappers()  # what a first query through the ORM would do (cheap once done): built needs it
    o, c = t.orders, t.customers
    shipments: dict[int, list[Shipment]] = {}
    for shipment in connection.execute(_SHIPMENTS_OF, {"order_ids": [r.id for r in rows]}).mappings():
        shipments.setdefault(shipment["order_id"], []).append(built(Shipment, shipment))
    split, order_keys, customer_keys = len(o.c), o.c.keys(), c.c.keys()
    views = []
    for row in rows:
        customer = None
        if row[split + customer_keys.index("id")] is not None:
            customer = built(Customer, dict(zip(customer_keys, row[split:-1], strict=True)))
        order = built(Order, dict(zip(order_keys, row[:split], strict=True)), customer=customer,
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


def order_summaries(_connection: Connection, rows: Rows) -> list[OrderSummary]:
    """The orders of `rows` (of _SUMMARIES) as a listing shows them."""
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


@attrs.frozen
class OrderRead(Generic[T]):
    """What a list reads of each of its orders: the statement's columns, and the items its rows make."""

    columns: Select[Any]
    items: Callable[[Connection, Rows], list[T]]


VIEWS = OrderRead(_ORDERS_AND_CUSTOMERS, order_views)
SUMMARIES = OrderRead(_SUMMARIES, order_summaries)

# The filters a list can have, in the order their conditions are written, each with its values
# by bind parameter ("unknown_carrier": no carrier identified, which binds nothing).
_FILTERS: dict[str, Callable[[], ColumnElement[bool]]] = {
    "situacao": lambda: t.orders.c.situacao == bindparam("situacao"),
    "tracking_status": lambda: t.orders.c.tracking_status == bindparam("tracking_status"),
    "unknown_carrier": lambda: t.orders.c.carrier_code.is_(None),
    "carrier_code": lambda: t.orders.c.carrier_code == bindparam("carrier_code"),
    "customer_id": lambda: t.orders.c.customer_id == bindparam("customer_id"),
    "updated_since": lambda: t.orders.c.updated_at >= bindparam("updated_since"),
}


def list_terms(merchant_id: int, filters: OrderFilters,
               found: search.OrderSearch | None) -> tuple[ListShape, dict[str, object]]:
    """A list's shape and the values of its filters and search (the merchant's among them)."""
    names, values = _filter_values(filters)
    values.update(found.values if found else {"merchant_id": merchant_id})
    return ListShape(found.shape if found else None, names), values


def _filter_values(filters: OrderFilters) -> tuple[tuple[str, ...], dict[str, object]]:
    """The filters set (names of _FILTERS, in its order) and their values (the search apart)."""
    carrier = filters.carrier_code
    values: dict[str, object] = {
        "situacao": filters.situacao, "tracking_status": filters.tracking_status,
        "carrier_code": carrier if carrier and carrier != UNKNOWN_CARRIER else None,
        "customer_id": filters.customer_id, "updated_since": filters.updated_since,
    }
    values = {name: value for name, value in values.items() if value is not None}
    unknown = carrier == UNKNOWN_CARRIER
    return tuple(n for n in _FILTERS if n in values or (unknown and n == "unknown_carrier")), values


@attrs.frozen
class ListShape:
    """What the statements of a list depend on: the search's shape (None: no search), the
    filters set, and `walk`: None, or how the newest orders are walked for a search with many
    matches ("per_row" near the top, else "matches_first": see search.walked)."""

    search: SearchShape | None
    filters: tuple[str, ...]
    walk: str | None = None

    def walked_from(self, offset: int) -> ListShape:
        """The same list, its page found by walking the newest orders from `offset`."""
        return attrs.evolve(self, walk="per_row" if offset < search.PER_ROW_WALK_BELOW else "matches_first")


@attrs.frozen
class ListStatements:
    count: Select[Any]  # the matches counted up to :count_limit
    page: Select[Any]  # the page's orders (:per_page from :offset), newest first


@functools.lru_cache(maxsize=512)
def list_statements(shape: ListShape, columns: Select[Any]) -> ListStatements:
    """A list's statements, run with its values: merchant_id (or the search's values), the
    filters', count_limit, per_page and offset."""
    o = t.orders.c
    source: FromClause = t.orders
    # A search already keeps to the merchant's orders; repeating the merchant here would
    # invite SQLite to read all of them through a merchant index instead of fetching the
    # few matches by id.
    if shape.search is None:
        where: list[ColumnElement[bool]] = [o.merchant_id == bindparam("merchant_id")]
    elif shape.walk is not None:
        source, condition = search.walked(shape.search, per_row=shape.walk == "per_row")
        where = [condition]
    else:
        where = [search.matches(shape.search)]
    where += [_FILTERS[name]() for name in shape.filters]
    matches = select(o.id).where(*where).limit(bindparam("count_limit", type_=Integer)).subquery()
    newest_first = (o.created_at.desc(), o.id.desc())
    # The page's ids from the index alone (a deep OFFSET walks index entries, not rows),
    # inside the statement that reads the orders with their customers.
    ids = (select(o.id).select_from(source).where(*where).order_by(*newest_first)
           .limit(bindparam("per_page", type_=Integer)).offset(bindparam("offset", type_=Integer)))
    return ListStatements(select(func.count()).select_from(matches),
                          columns.where(o.id.in_(ids)).order_by(*newest_first))
