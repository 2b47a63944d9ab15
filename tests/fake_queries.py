"""In-memory implementations of the read-side ports (application/queries.py) over the fakes'
committed state: real filtering, search, ordering, pagination and tenant scoping, so the web
layer can be tested before (and independently of) the SQL read side."""

from __future__ import annotations

import copy
import re
import unicodedata
from collections.abc import Callable, Iterable, Sequence
from datetime import datetime
from typing import TypeVar

from kanglu.application.queries import (
    TOTAL_CAP,
    UNKNOWN_CARRIER,
    ConnectionSummary,
    CustomerView,
    OrderFilters,
    OrderSummary,
    OrderView,
    Page,
    PageRequest,
    CarrierMappingView,
    SyncState,
    UnmatchedService,
    mapping_id,
)
from kanglu.domain.connections import ConnectionStatus, ErpConnection
from kanglu.domain.events import ConnectionEvent, NotificationSettings
from kanglu.domain.jobs import JobKind
from kanglu.domain.customers import Customer
from kanglu.domain.import_failures import ImportFailure
from kanglu.domain.merchants import Merchant
from kanglu.domain.orders import Order
from tests.fakes import FakeDatabase, _State

T = TypeVar("T")


def _fold(text: str | None) -> str:
    """Case- and accent-insensitive form, as a search box is expected to behave."""
    if not text:
        return ""
    decomposed = unicodedata.normalize("NFKD", text)
    return "".join(c for c in decomposed if not unicodedata.combining(c)).casefold().strip()


def _bare(text: str) -> str:
    """What a document or a tracking code looks like once punctuation and spaces are gone."""
    return re.sub(r"[\s./\-]", "", text).upper()


def _created_key(order: Order) -> tuple[int, float, int]:
    """Newest first, orders without a creation date last, then by id (descending)."""
    created = order.created_at
    if created is None:
        return (1, 0.0, -(order.id or 0))
    if not isinstance(created, datetime):
        created = datetime(created.year, created.month, created.day)
    seconds = (created.replace(tzinfo=None) - datetime(1970, 1, 1)).total_seconds()
    return (0, -seconds, -(order.id or 0))


def _page(items: Sequence[T], request: PageRequest, cap: int = TOTAL_CAP) -> Page[T]:
    """Counted up to the cap, as the SQL read side counts."""
    chosen = items[request.offset : request.offset + request.per_page]
    return Page(items=list(chosen), page=request.page, per_page=request.per_page, total=min(len(items), cap),
                total_capped=len(items) > cap)


class _Reader:
    def __init__(self, db: FakeDatabase) -> None:
        self._db = db

    def _read(self, fn: Callable[[_State], T]) -> T:
        # Deep copies: a caller must never be able to change the "database" through a view.
        with self._db.lock:
            return copy.deepcopy(fn(self._db.committed))


def _connection_ids(state: _State, merchant_id: int) -> set[int]:
    return {cid for cid, c in state.connections.items() if c.merchant_id == merchant_id}


def _open_failures(state: _State, connection_ids: Iterable[int]) -> list[ImportFailure]:
    wanted = set(connection_ids)
    return [f for f in state.failures if f.connection_id in wanted and f.resolved_at is None]


def _matches(order: Order, q: str) -> bool:
    folded, bare = _fold(q), _bare(q)
    customer = order.customer
    exact = {
        _fold(order.number),
        _fold(order.ecommerce_number),
        _fold(order.tracking_code.value if order.tracking_code else None),
    }
    if folded in exact:
        return True
    if customer is not None:
        if customer.document is not None and bare and bare == customer.document.value:
            return True
        if folded in _fold(customer.name):
            return True
    return False


class FakeOrderQueries(_Reader):
    def list_orders(self, merchant_id: int, filters: OrderFilters, page: PageRequest) -> Page[OrderView]:
        def run(state: _State) -> Page[OrderView]:
            orders = [o for o in state.orders.values() if o.merchant_id == merchant_id]
            if filters.q and filters.q.strip():
                orders = [o for o in orders if _matches(o, filters.q.strip())]
            if filters.situacao is not None:
                orders = [o for o in orders if int(o.situacao) == filters.situacao]
            if filters.tracking_status is not None:
                orders = [o for o in orders if o.tracking_status is filters.tracking_status]
            if filters.carrier_code == UNKNOWN_CARRIER:
                orders = [o for o in orders if o.carrier_code is None]
            elif filters.carrier_code is not None:
                orders = [o for o in orders if o.carrier_code == filters.carrier_code]
            if filters.customer_id is not None:
                orders = [o for o in orders if o.customer is not None and o.customer.id == filters.customer_id]
            if filters.updated_since is not None:
                orders = [o for o in orders if o.updated_at >= filters.updated_since]
            orders.sort(key=_created_key)
            chosen = _page(orders, page)
            views = [OrderView(o, _import_error(state, o)) for o in chosen.items]
            return Page(views, chosen.page, chosen.per_page, chosen.total, chosen.total_capped)

        return self._read(run)

    def list_order_summaries(self, merchant_id: int, filters: OrderFilters, page: PageRequest) -> Page[OrderSummary]:
        listed = self.list_orders(merchant_id, filters, page)
        return Page([OrderSummary.of(v) for v in listed.items], listed.page, listed.per_page, listed.total,
                    listed.total_capped)

    def get_order(self, merchant_id: int, order_id: int) -> OrderView | None:
        def run(state: _State) -> OrderView | None:
            order = state.orders.get(order_id)
            if order is None or order.merchant_id != merchant_id:
                return None
            return OrderView(order, _import_error(state, order))

        return self._read(run)

    def import_failures(self, merchant_id: int, page: PageRequest) -> Page[ImportFailure]:
        def run(state: _State) -> Page[ImportFailure]:
            failures = _open_failures(state, _connection_ids(state, merchant_id))
            failures.sort(key=lambda f: (f.last_seen_at, f.id or 0), reverse=True)
            return _page(failures, page)

        return self._read(run)

    def unmatched_services(self, merchant_id: int) -> Sequence[UnmatchedService]:
        def run(state: _State) -> list[UnmatchedService]:
            mappings = state.carrier_mappings.get(merchant_id, {})
            grouped: dict[str, list[Order]] = {}
            for order in state.orders.values():
                if order.merchant_id == merchant_id and order.carrier_code is None and order.shipping_key:
                    grouped.setdefault(order.shipping_key, []).append(order)
            services = [
                UnmatchedService(
                    shipping_key=key,
                    label=max(orders, key=lambda o: o.id or 0).shipping.label,
                    orders_waiting=len(orders),
                    mapped_carrier_code=mappings.get(key),
                )
                for key, orders in grouped.items()
            ]
            services.sort(key=lambda s: (-s.orders_waiting, s.label))
            return services

        return self._read(run)


def _import_error(state: _State, order: Order) -> str | None:
    for failure in state.failures:
        if (
            failure.connection_id == order.connection_id
            and failure.erp_order_id == order.erp_order_id
            and failure.resolved_at is None
        ):
            return failure.reason
    return None


def _customer_matches(customer: Customer, q: str) -> bool:
    folded, bare = _fold(q), _bare(q)
    if folded in _fold(customer.name):
        return True
    if customer.document is not None and bare and bare in customer.document.value:
        return True
    return bool(customer.email) and folded in _fold(customer.email)


class FakeCustomerQueries(_Reader):
    def list_customers(self, merchant_id: int, q: str | None, page: PageRequest) -> Page[CustomerView]:
        def run(state: _State) -> Page[CustomerView]:
            customers = [c for c in state.customers.values() if c.merchant_id == merchant_id]
            if q and q.strip():
                customers = [c for c in customers if _customer_matches(c, q.strip())]
            customers.sort(key=lambda c: (_fold(c.name), c.id or 0))
            chosen = _page(customers, page)
            views = [CustomerView(c, _orders_of(state, c)) for c in chosen.items]
            return Page(views, chosen.page, chosen.per_page, chosen.total, chosen.total_capped)

        return self._read(run)

    def get_customer(self, merchant_id: int, customer_id: int) -> CustomerView | None:
        def run(state: _State) -> CustomerView | None:
            customer = state.customers.get(customer_id)
            if customer is None or customer.merchant_id != merchant_id:
                return None
            return CustomerView(customer, _orders_of(state, customer))

        return self._read(run)


def _orders_of(state: _State, customer: Customer) -> int:
    return sum(1 for o in state.orders.values() if o.customer is not None and o.customer.id == customer.id)


class FakeMerchantQueries(_Reader):
    def by_api_key_hash(self, key_hash: str) -> Merchant | None:
        def run(state: _State) -> Merchant | None:
            key = next((k for k in state.api_keys if k.key_hash == key_hash and k.revoked_at is None), None)
            return state.merchants.get(key.merchant_id) if key else None

        return self._read(run)

    def by_email(self, email: str) -> Merchant | None:
        wanted = email.strip().lower()
        return self._read(lambda state: next((m for m in state.merchants.values() if m.email == wanted), None))

    def get(self, merchant_id: int) -> Merchant | None:
        return self._read(lambda state: state.merchants.get(merchant_id))

    def connection_summary(self, merchant_id: int) -> ConnectionSummary:
        def run(state: _State) -> ConnectionSummary:
            connection = next(
                (c for c in state.connections.values() if c.merchant_id == merchant_id and c.erp == "tiny"), None
            )
            orders = sum(1 for o in state.orders.values() if o.merchant_id == merchant_id)
            failures = len(_open_failures(state, _connection_ids(state, merchant_id)))
            return ConnectionSummary(connection=connection, orders=orders, open_failures=failures)

        return self._read(run)


def _tiny_of(state: _State, merchant_id: int) -> ErpConnection | None:
    return next((c for c in state.connections.values() if c.merchant_id == merchant_id and c.erp == "tiny"), None)


class FakeSyncQueries(_Reader):
    def next_sync_at(self, connection_id: int) -> datetime | None:
        def run(state: _State) -> datetime | None:
            job = state.jobs.get((JobKind.POLL, connection_id))
            return job.due_at if job is not None else None

        return self._read(run)

    def sync_state(self, merchant_id: int) -> SyncState | None:
        def run(state: _State) -> SyncState | None:
            connection = _tiny_of(state, merchant_id)
            if connection is None:
                return None
            job = state.jobs.get((JobKind.POLL, connection.id or 0))
            connected = connection.status is ConnectionStatus.CONNECTED
            return SyncState(
                status=connection.status.value,
                orders=sum(1 for o in state.orders.values() if o.connection_id == connection.id),
                first_import=connected and connection.poll_cursor is None,
                syncing=connected and (connection.poll_offset is not None or (job is not None and job.lease_owner is not None)),
                last_sync_at=connection.last_sync_at,
                next_sync_at=job.due_at if job is not None and connected else None,
            )

        return self._read(run)

    def events(self, merchant_id: int, page: PageRequest) -> Page[ConnectionEvent]:
        def run(state: _State) -> Page[ConnectionEvent]:
            connection = _tiny_of(state, merchant_id)
            events = [e for e in state.events if connection is not None and e.connection_id == connection.id]
            events.sort(key=lambda e: (e.at, e.id or 0), reverse=True)
            return _page(events, page)

        return self._read(run)

    def carrier_mappings(self, merchant_id: int) -> Sequence[CarrierMappingView]:
        def run(state: _State) -> list[CarrierMappingView]:
            views = []
            for key, code in sorted(state.carrier_mappings.get(merchant_id, {}).items()):
                orders = sorted((o for o in state.orders.values() if o.merchant_id == merchant_id and o.shipping_key == key),
                                key=lambda o: o.id or 0)
                label = orders[-1].shipping.label if orders else key
                views.append(CarrierMappingView(mapping_id(key), key, label, code, len(orders)))
            return views

        return self._read(run)

    def notifications(self, merchant_id: int) -> NotificationSettings:
        return self._read(lambda state: state.notifications.get(merchant_id) or NotificationSettings(merchant_id))
