"""What the JSON API answers: resource classes built from the read side, unstructured by cattrs.

The classes hold domain values (Money, Document, AccessKey…); the converter's hooks decide
how each one is written, so the wire format lives here and nowhere in the domain.
"""

from __future__ import annotations

from datetime import date, datetime
from collections.abc import Callable
from typing import Any, Generic, TypeVar

import attrs
import cattrs

from kanglu.adapters.tiny.gateway import order_web_url
from kanglu.application.queries import OrderView, Page
from kanglu.domain.access_keys import AccessKey
from kanglu.domain.carriers import CarrierRegistry
from kanglu.domain.connections import ConnectionStatus, ErpConnection
from kanglu.domain.customers import Address, Customer
from kanglu.domain.documents import Document
from kanglu.domain.import_failures import ImportFailure
from kanglu.domain.events import ConnectionEvent, EventKind
from kanglu.domain.money import Money
from kanglu.domain.orders import ShippingAddress
from kanglu.domain.permissions import ErpPermission, ordered
from kanglu.domain.situacoes import Action, Situacao, StatusMapping
from kanglu.domain.tracking import ShipmentStatus
from kanglu.domain.tracking_codes import TrackingCode
from kanglu.entrypoints.web.formatting import SAO_PAULO

T = TypeVar("T")
V = TypeVar("V")


@attrs.frozen
class CustomerOut:
    id: int
    name: str
    document: Document | None
    phone: str | None
    email: str | None
    address: Address  # its fields are the contract's; always an object, empty fields null


@attrs.frozen
class InvoiceOut:
    number: str | None
    series: str | None
    access_key: AccessKey | None


@attrs.frozen
class WarningOut:
    field: str
    message: str


@attrs.frozen
class CarrierOut:
    code: str
    name: str


@attrs.frozen
class ShippingAddressOut:
    """Where the parcel goes: the recipient and the address, flat, as the contract names them."""

    name: str | None
    street: str | None
    number: str | None
    complement: str | None
    district: str | None
    city: str | None
    state: str | None
    zip: str | None
    country: str | None


@attrs.frozen
class OrderOut:
    id: int
    erp_order_id: int
    number: str | None
    ecommerce_number: str | None
    situacao: Situacao
    total: Money | None  # None: Tiny gave no total
    created_at: date | datetime | None
    customer: CustomerOut | None
    invoice: InvoiceOut | None
    carrier: CarrierOut | None
    tracking_code: TrackingCode | None
    tracking_url: str | None
    tracking_status: ShipmentStatus
    import_error: str | None
    warnings: list[WarningOut]
    shipping_address: ShippingAddressOut | None


@attrs.frozen
class ImportFailureOut:
    id: int
    erp_order_id: int | None
    number: str | None
    customer_name: str | None
    reason: str
    first_seen_at: datetime
    last_seen_at: datetime
    erp_url: str | None  # the order in Tiny's web app, when its id is known


@attrs.frozen
class RetryOut:
    id: int
    outcome: str
    reason: str | None


@attrs.frozen
class PageOut(Generic[T]):
    items: list[T]
    page: int
    per_page: int
    total: int


@attrs.frozen
class IntegrationOut:
    status: ConnectionStatus
    client_id: str | None
    invite_link: str | None
    redirect_url: str
    account_name: str | None
    connected_at: datetime | None
    last_sync_at: datetime | None
    last_error: str | None
    # The Tiny application's read permissions that are missing (403s): the boxes to tick.
    missing_permissions: list[ErpPermission] = attrs.field(factory=list)
    next_sync_at: datetime | None = None


@attrs.frozen
class SyncOut:
    next_sync_at: datetime


@attrs.frozen
class EventOut:
    at: datetime
    kind: str
    message: str | None
    imported: int
    updated: int
    failed: int
    api_calls: int


@attrs.frozen
class NotificationsOut:
    email: bool
    webhook_url: str | None
    webhook_secret: str | None = None  # only in the answer to the PUT that made it


@attrs.frozen
class CarrierMappingOut:
    id: str
    shipping_service: str
    carrier: str


@attrs.frozen
class CarrierMappingsOut:
    mappings: list[CarrierMappingOut]


@attrs.frozen
class AuthorizeOut:
    authorize_url: str


@attrs.frozen
class MappingOut:
    situacao: Situacao
    action: Action


@attrs.frozen
class MappingsOut:
    mappings: list[MappingOut]
    import_point_of_sale: bool = False


# -- from the read side -----------------------------------------------------------------


def customer_out(customer: Customer) -> CustomerOut:
    assert customer.id is not None
    return CustomerOut(
        id=customer.id,
        name=customer.name,
        document=customer.document,
        phone=customer.phone,
        email=customer.email,
        address=customer.address or Address(),
    )


def order_out(view: OrderView, carriers: CarrierRegistry) -> OrderOut:
    order = view.order
    assert order.id is not None
    carrier = None
    if order.carrier_code:
        known = carriers.get(order.carrier_code)
        carrier = CarrierOut(order.carrier_code, known.name if known else order.carrier_code)
    invoice = order.invoice
    return OrderOut(
        id=order.id,
        erp_order_id=order.erp_order_id,
        number=order.number,
        ecommerce_number=order.ecommerce_number,
        situacao=order.situacao,
        total=order.total,
        created_at=order.created_at,
        customer=customer_out(order.customer) if order.customer is not None else None,
        invoice=InvoiceOut(invoice.number, invoice.series, invoice.access_key) if invoice is not None else None,
        carrier=carrier,
        tracking_code=order.tracking_code,
        tracking_url=order.tracking_url,
        tracking_status=order.tracking_status,
        import_error=view.import_error,
        warnings=[WarningOut(w.field, w.message) for w in order.warnings],
        shipping_address=shipping_address_out(order.shipping_address),
    )


def failure_out(failure: ImportFailure) -> ImportFailureOut:
    assert failure.id is not None
    return ImportFailureOut(
        id=failure.id,
        erp_order_id=failure.erp_order_id,
        number=failure.number,
        customer_name=failure.customer_name,
        reason=failure.reason,
        first_seen_at=failure.first_seen_at,
        last_seen_at=failure.last_seen_at,
        erp_url=order_web_url(failure.erp_order_id),
    )


def shipping_address_out(shipping: ShippingAddress | None) -> ShippingAddressOut | None:
    if shipping is None:
        return None
    a = shipping.address
    return ShippingAddressOut(shipping.name, a.street, a.number, a.complement, a.district, a.city, a.state, a.zip,
                              a.country)


def page_out(page: Page[V], convert: Callable[[V], T]) -> PageOut[T]:
    return PageOut([convert(item) for item in page.items], page.page, page.per_page, page.total)


def integration_out(
    connection: ErpConnection | None, redirect_url: str, next_sync_at: datetime | None = None
) -> IntegrationOut:
    """The client secret and the tokens have no field here: they cannot leak by accident."""
    if connection is None:
        return IntegrationOut(ConnectionStatus.NOT_CONFIGURED, None, None, redirect_url, None, None, None, None)
    return IntegrationOut(
        status=connection.status,
        client_id=connection.client_id,
        invite_link=connection.invite_link,
        redirect_url=redirect_url,
        account_name=connection.account_name,
        connected_at=connection.connected_at,
        last_sync_at=connection.last_sync_at,
        last_error=connection.last_error,
        missing_permissions=ordered(connection.missing_permissions),
        next_sync_at=next_sync_at if connection.status is ConnectionStatus.CONNECTED else None,
    )


def event_out(event: ConnectionEvent) -> EventOut:
    return EventOut(event.at, event.kind.value, event_message(event), event.imported, event.updated, event.failed,
                    event.api_calls)


def event_message(event: ConnectionEvent) -> str | None:
    """A folded row of quiet polls says how many it stands for."""
    if event.kind is EventKind.POLL and event.message is None:
        if event.is_folded:
            polls = "1 sincronização" if event.polls == 1 else f"{event.polls} sincronizações"
            return f"{polls} sem novidades"
        return "pedidos sincronizados"
    return event.message


def mappings_out(mapping: StatusMapping, import_point_of_sale: bool = False) -> MappingsOut:
    return MappingsOut([MappingOut(situacao, action) for situacao, action in mapping.full()], import_point_of_sale)


# -- the wire format ------------------------------------------------------------------------


def _datetime(value: datetime) -> str:
    # Tiny's dates are São Paulo wall time without an offset: say so in the answer. Instants
    # Kanglu keeps in UTC are written in São Paulo time too: one offset across the API.
    aware = value.astimezone(SAO_PAULO) if value.tzinfo is not None else value.replace(tzinfo=SAO_PAULO)
    return aware.isoformat(timespec="seconds")


def _date_or_datetime(value: date | datetime | None) -> str | None:
    if value is None:
        return None
    return _datetime(value) if isinstance(value, datetime) else value.isoformat()


def make_converter() -> cattrs.Converter:
    converter = cattrs.Converter()
    converter.register_unstructure_hook(Money, str)  # "1234.50": exact, never a float
    converter.register_unstructure_hook(Document, lambda d: d.value)
    converter.register_unstructure_hook(AccessKey, lambda k: k.value)
    converter.register_unstructure_hook(TrackingCode, lambda c: c.value)
    converter.register_unstructure_hook(Situacao, int)
    converter.register_unstructure_hook(datetime, _datetime)
    converter.register_unstructure_hook(date, lambda d: d.isoformat())
    converter.register_unstructure_hook(date | datetime | None, _date_or_datetime)
    converter.register_unstructure_hook(datetime | None, lambda v: None if v is None else _datetime(v))
    return converter


CONVERTER = make_converter()


def to_json(resource: Any) -> Any:
    return CONVERTER.unstructure(resource)
