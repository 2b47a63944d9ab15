"""The read side: what pages and the JSON API list and show, as ports.

Kept apart from the repositories, which serve the use cases' writes: listing 100,000 orders
with search and filters is a different job from upserting a page of them.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from datetime import date, datetime
from typing import Generic, Protocol, TypeVar

import attrs

from kanglu.domain.connections import ErpConnection
from kanglu.domain.customers import Customer
from kanglu.domain.documents import Document
from kanglu.domain.events import ConnectionEvent, NotificationSettings
from kanglu.domain.import_failures import ImportFailure
from kanglu.domain.merchants import Merchant
from kanglu.domain.money import Money
from kanglu.domain.orders import Order, OrderWarning
from kanglu.domain.situacoes import Situacao
from kanglu.domain.tracking import ShipmentStatus
from kanglu.domain.tracking_codes import TrackingCode

T = TypeVar("T")

MAX_PER_PAGE = 100
# Lists count their rows no further: past it the total says "more than 10,000" (total_capped),
# and a count never reads every order of a big merchant for a page of twenty.
TOTAL_CAP = 10_000
UNKNOWN_CARRIER = "unknown"  # the carrier filter value for "transportadora não identificada"


@attrs.frozen
class PageRequest:
    page: int = 1  # 1-based
    per_page: int = 20

    @property
    def offset(self) -> int:
        return (self.page - 1) * self.per_page


@attrs.frozen
class Page(Generic[T]):
    items: Sequence[T]
    page: int
    per_page: int
    total: int  # at most TOTAL_CAP
    total_capped: bool = False  # there are more than `total`

    @property
    def pages(self) -> int:
        """The pages known to exist (one more past a capped total: the list goes on)."""
        return max(1, -(-self.total // self.per_page)) + (1 if self.total_capped else 0)


@attrs.frozen
class OrderFilters:
    q: str | None = None  # number, e-commerce number, customer name, document, tracking code
    situacao: int | None = None
    tracking_status: ShipmentStatus | None = None
    carrier_code: str | None = None  # a carrier code, or UNKNOWN_CARRIER
    customer_id: int | None = None
    updated_since: datetime | None = None  # changed in Kanglu at or after this instant


@attrs.frozen
class OrderView:
    """An order with its customer loaded and its unresolved import error, if any."""

    order: Order
    import_error: str | None = None


@attrs.frozen
class CustomerSummary:
    name: str
    document: Document | None = None


@attrs.frozen
class OrderSummary:
    """What a list of orders on the merchant's pages shows of one order. Read without the
    invoice, the addresses and the shipments an OrderView carries, which no listing shows and
    which cost the most to read (JSON documents turned into value objects, row by row)."""

    id: int
    erp_order_id: int
    situacao: Situacao
    created_at: date | datetime | None
    number: str | None = None
    ecommerce_number: str | None = None
    total: Money | None = None
    customer: CustomerSummary | None = None
    carrier_code: str | None = None
    tracking_code: TrackingCode | None = None
    tracking_status: ShipmentStatus = ShipmentStatus.WAITING_DATA
    warnings: tuple[OrderWarning, ...] = ()
    import_error: str | None = None

    @classmethod
    def of(cls, view: OrderView) -> OrderSummary:
        """The summary of an order read whole (what a listing of summaries must agree with)."""
        order, customer = view.order, view.order.customer
        assert order.id is not None, "an order read back has its id"
        return cls(
            id=order.id,
            erp_order_id=order.erp_order_id,
            situacao=order.situacao,
            created_at=order.created_at,
            number=order.number,
            ecommerce_number=order.ecommerce_number,
            total=order.total,
            customer=CustomerSummary(customer.name, customer.document) if customer is not None else None,
            carrier_code=order.carrier_code,
            tracking_code=order.tracking_code,
            tracking_status=order.tracking_status,
            warnings=tuple(order.warnings),
            import_error=view.import_error,
        )


@attrs.frozen
class CustomerView:
    customer: Customer
    orders: int


@attrs.frozen
class UnmatchedService:
    """A shipping service with orders whose carrier no rule identified."""

    shipping_key: str
    label: str
    orders_waiting: int
    mapped_carrier_code: str | None = None


@attrs.frozen
class ConnectionSummary:
    connection: ErpConnection | None
    orders: int
    open_failures: int


class OrderQueries(Protocol):
    def list_orders(self, merchant_id: int, filters: OrderFilters, page: PageRequest) -> Page[OrderView]:
        """Newest first (creation date in the ERP, then id)."""
        ...

    def list_order_summaries(self, merchant_id: int, filters: OrderFilters, page: PageRequest) -> Page[OrderSummary]:
        """The page list_orders lists, each order as a listing shows it (OrderSummary.of)."""
        ...

    def get_order(self, merchant_id: int, order_id: int) -> OrderView | None: ...

    def import_failures(self, merchant_id: int, page: PageRequest) -> Page[ImportFailure]:
        """Unresolved failures, newest first, including orders never imported."""
        ...

    def unmatched_services(self, merchant_id: int) -> Sequence[UnmatchedService]: ...


class CustomerQueries(Protocol):
    def list_customers(self, merchant_id: int, q: str | None, page: PageRequest) -> Page[CustomerView]:
        """By name; `q` matches name, document or e-mail."""
        ...

    def get_customer(self, merchant_id: int, customer_id: int) -> CustomerView | None: ...


class MerchantQueries(Protocol):
    def by_api_key_hash(self, key_hash: str) -> Merchant | None: ...

    def by_email(self, email: str) -> Merchant | None: ...

    def get(self, merchant_id: int) -> Merchant | None: ...

    def connection_summary(self, merchant_id: int) -> ConnectionSummary: ...


# -- the merchant's view of the sync (issue 18) -------------------------------------------


@attrs.frozen
class SyncState:
    """What the Integrações card shows of the sync, and what its script polls for."""

    status: str  # ConnectionStatus value
    orders: int  # imported so far
    first_import: bool  # connected and no poll has completed yet
    syncing: bool  # a poll is under way (a window in progress, or its job leased)
    last_sync_at: datetime | None
    next_sync_at: datetime | None


def mapping_id(shipping_key: str) -> str:
    """A carrier mapping's id in the API: its key is free text, the id is URL-safe and stable."""
    return hashlib.sha256(shipping_key.encode()).hexdigest()[:16]


@attrs.frozen
class CarrierMappingView:
    id: str  # stable, derived from the shipping service's key
    shipping_key: str
    label: str  # as the merchant's orders write it, when one is stored
    carrier_code: str
    orders: int  # orders of that service


class SyncQueries(Protocol):
    def sync_state(self, merchant_id: int) -> SyncState | None:
        """None: no integration yet."""
        ...

    def next_sync_at(self, connection_id: int) -> datetime | None: ...

    def events(self, merchant_id: int, page: PageRequest) -> Page[ConnectionEvent]:
        """The connection's history, newest first."""
        ...

    def carrier_mappings(self, merchant_id: int) -> Sequence[CarrierMappingView]: ...

    def notifications(self, merchant_id: int) -> NotificationSettings: ...
