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

from kanglu.application.queries import OrderView, Page
from kanglu.domain.access_keys import AccessKey
from kanglu.domain.carriers import CarrierRegistry
from kanglu.domain.connections import ConnectionStatus, ErpConnection
from kanglu.domain.customers import Address, Customer
from kanglu.domain.documents import Document
from kanglu.domain.money import Money
from kanglu.domain.orders import ShippingAddress
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
    total: Money
    created_at: date | datetime | None
    customer: CustomerOut | None
    invoice: InvoiceOut | None
    carrier: CarrierOut | None
    tracking_code: TrackingCode | None
    tracking_url: str | None
    tracking_status: ShipmentStatus
    import_error: str | None
    shipping_address: ShippingAddressOut | None


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
        shipping_address=shipping_address_out(order.shipping_address),
    )


def shipping_address_out(shipping: ShippingAddress | None) -> ShippingAddressOut | None:
    if shipping is None:
        return None
    a = shipping.address
    return ShippingAddressOut(shipping.name, a.street, a.number, a.complement, a.district, a.city, a.state, a.zip,
                              a.country)


def page_out(page: Page[V], convert: Callable[[V], T]) -> PageOut[T]:
    return PageOut([convert(item) for item in page.items], page.page, page.per_page, page.total)


def integration_out(connection: ErpConnection | None, redirect_url: str) -> IntegrationOut:
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
    )


def mappings_out(mapping: StatusMapping, import_point_of_sale: bool = False) -> MappingsOut:
    return MappingsOut([MappingOut(situacao, action) for situacao, action in mapping.full()], import_point_of_sale)


# -- the wire format ------------------------------------------------------------------------


def _datetime(value: datetime) -> str:
    # Tiny's dates are São Paulo wall time without an offset: say so in the answer.
    aware = value if value.tzinfo is not None else value.replace(tzinfo=SAO_PAULO)
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
