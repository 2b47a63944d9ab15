"""Orders imported from an ERP: the incoming snapshot, the invoice, and the Order entity.

An imported order keeps the fingerprint of what its last import wrote, so that a poll's overlap
(which re-lists unchanged orders) skips them without loading them. The fingerprint is the
SHA-256 of a canonical JSON form of the snapshot, its situação's action and its carrier: keys
sorted, compact, Decimal as text, dates ISO 8601, enums by value, None as null, and every attrs
field left out while it holds its default. So reordering fields changes nothing, and adding a
field with a default changes only the orders where it holds something else.

The fingerprint is stored with FINGERPRINT_VERSION, the version of that canonical form. A
stored fingerprint of another version (1: the repr() hashes written before December 2026) is
compared as unknown: the order is imported again the next time the ERP lists it, and written
once with the current version. Nothing rewrites the orders in bulk: a deploy that changes the
form costs one write per order when the ERP lists it next, and no migration time.
"""

from __future__ import annotations

import hashlib
from datetime import date, datetime

import attrs

from kanglu.domain.access_keys import AccessKey
from kanglu.domain.canonical import canonical_json
from kanglu.domain.carriers import NOT_TRACKED, Carrier
from kanglu.domain.customers import Address, Customer, CustomerData
from kanglu.domain.money import Money
from kanglu.domain.shipping import ShippingService
from kanglu.domain.situacoes import Action, Situacao
from kanglu.domain.tracking import (
    Shipment,
    ShipmentStatus,
    TrackingRequest,
    TrackingRequestKind,
)
from kanglu.domain.tracking_codes import TrackingCode


@attrs.frozen
class OrderWarning:
    """A defect in one field of an order: the order is imported all the same, the bad value
    is kept out of its validated field, and the merchant reads `message` (plain pt-BR, no
    field paths). `field` names the field as the API does (`customer.document`...)."""

    field: str
    message: str


# The fields a warning can name (the API's names for them).
CARRIER_FIELD = "carrier"
TOTAL_FIELD = "total"


@attrs.frozen
class ShippingAddress:
    """Where the parcel goes: the recipient's name and the address."""

    name: str | None
    address: Address


@attrs.frozen
class Invoice:
    """The order's nota fiscal: number and series without leading zeros, and the access key;
    also where it sends the parcel (its enderecoEntrega), when it says.

    `warnings`: what was wrong with the nota's own fields (a corrupt access key, a tracking
    code that fails its check digit); the bad values are left out."""

    number: str | None = None
    series: str | None = None
    access_key: AccessKey | None = None
    erp_invoice_id: int | None = None
    tracking_code: TrackingCode | None = None
    tracking_url: str | None = None
    warnings: tuple[OrderWarning, ...] = ()
    delivery_address: ShippingAddress | None = None


@attrs.frozen
class ErpOrder:
    """One order exactly as the ERP describes it now, already validated and converted.

    `created_at` is a date or a local (São Paulo) date-time, as Tiny gives it. `total` is
    None when the ERP gave none (never an invented zero). `warnings` are the defects found in
    the order's own fields; the invoice carries its own.
    """

    erp_order_id: int
    situacao: Situacao
    number: str | None = None
    ecommerce_number: str | None = None
    total: Money | None = attrs.field(factory=Money.zero)
    created_at: date | datetime | None = None
    customer: CustomerData | None = None
    invoice: Invoice | None = None
    shipping: ShippingService = attrs.field(factory=ShippingService)
    tracking_code: TrackingCode | None = None
    warnings: tuple[OrderWarning, ...] = ()
    delivery_address: ShippingAddress | None = None  # the order's own enderecoEntrega (its detail)
    point_of_sale: bool = False  # a PDV sale at the counter: nothing to ship

    @property
    def all_warnings(self) -> tuple[OrderWarning, ...]:
        """The order's warnings and its invoice's, each once."""
        invoice = self.invoice.warnings if self.invoice else ()
        return tuple(dict.fromkeys(self.warnings + invoice))

    def with_total(self, total: Money | None, warning: OrderWarning | None) -> ErpOrder:
        """The order with a total found elsewhere (its detail, or what is stored), and the
        warning about the total replaced by `warning`."""
        kept = tuple(w for w in self.warnings if w.field != TOTAL_FIELD)
        return attrs.evolve(self, total=total, warnings=kept + ((warning,) if warning else ()))

    @property
    def lacks_total(self) -> bool:
        return self.total is None

    @property
    def shipping_address(self) -> ShippingAddress | None:
        """Where the parcel goes: the order's delivery address, else its invoice's, else the
        customer's own address. A delivery address without a recipient goes to the customer."""
        customer_name = self.customer.name or None if self.customer else None
        delivery = self.delivery_address or (self.invoice.delivery_address if self.invoice else None)
        if delivery is not None:
            return delivery if delivery.name or not customer_name else attrs.evolve(delivery, name=customer_name)
        if self.customer is not None and self.customer.address is not None:
            return ShippingAddress(customer_name, self.customer.address)
        return None

    @property
    def effective_tracking_code(self) -> TrackingCode | None:
        """The order's own code, else the one on its invoice."""
        if self.tracking_code is not None:
            return self.tracking_code
        return self.invoice.tracking_code if self.invoice else None

    @property
    def erp_tracking_url(self) -> str | None:
        return self.shipping.tracking_url or (self.invoice.tracking_url if self.invoice else None)


# Version 1 hashed repr(); bump this only when the canonical form itself changes meaning.
FINGERPRINT_VERSION = 2


def import_signature(snapshot: ErpOrder, action: Action, carrier: Carrier | None) -> str:
    """Identifies everything an import would write (FINGERPRINT_VERSION's canonical form): the
    same signature twice means the second import has nothing to change."""
    text = canonical_json({"order": snapshot, "action": action, "carrier": carrier.code if carrier else None})
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def comparable_fingerprint(fingerprint: str, version: int) -> str:
    """A stored fingerprint as an import compares it: itself when written by this version of
    the canonical form, else "" (unknown, never equal to a signature: imported again)."""
    return fingerprint if version == FINGERPRINT_VERSION else ""


@attrs.frozen
class StoredOrder:
    """An imported order as a poll compares it with the ERP's listing, without loading it: its
    import signature ("" when unknown: see comparable_fingerprint) and its invoice (None:
    imported without one)."""

    fingerprint: str
    invoice: Invoice | None
    total: Money | None = None


@attrs.frozen
class MalformedOrder:
    """An order payload that could not be converted: the reason (Portuguese) and the raw data
    (masked), with the order number and customer name when they could be read."""

    erp_order_id: int | None
    reason: str
    raw: object = None
    number: str | None = None
    customer_name: str | None = None


def carrier_warning(shipping: ShippingService) -> OrderWarning:
    """Why tracking cannot start: no carrier recognised in what the order says of its shipping."""
    if shipping.key is None:
        message = "O pedido não informa a forma de envio, então a transportadora não foi identificada."
    else:
        message = (
            f"A transportadora da forma de envio “{shipping.label}” não foi identificada. "
            "Escolha a transportadora em Transportadoras para começar o rastreamento."
        )
    return OrderWarning(CARRIER_FIELD, message)


def target_status(action: Action, carrier: Carrier | None, code: TrackingCode | None) -> ShipmentStatus:
    """The tracking state an order should be in, from its situação's action and its data."""
    if action is Action.MARK_DELIVERED:
        return ShipmentStatus.DELIVERED
    if action is Action.CANCEL_TRACKING:
        return ShipmentStatus.CANCELLED
    if carrier is not None and carrier.code == NOT_TRACKED.code:
        # "Não rastrear" (pickup, own delivery): tracking is closed as for a cancelled order,
        # within the contract's four states; `carrier.code` = `none` tells the two apart.
        return ShipmentStatus.CANCELLED
    if carrier is not None and code is not None:
        return ShipmentStatus.TRACKING
    return ShipmentStatus.WAITING_DATA


@attrs.define(slots=False, eq=False)
class Order:
    """An imported order, unique per (connection, ERP order id)."""

    merchant_id: int
    connection_id: int
    erp_order_id: int
    situacao: Situacao
    imported_at: datetime
    updated_at: datetime
    number: str | None = None
    ecommerce_number: str | None = None
    total: Money | None = attrs.field(factory=Money.zero)
    created_at: date | datetime | None = None
    customer: Customer | None = None
    invoice: Invoice | None = None
    shipping: ShippingService = attrs.field(factory=ShippingService)
    shipping_key: str | None = None
    carrier_code: str | None = None
    tracking_code: TrackingCode | None = None
    tracking_url: str | None = None
    tracking_status: ShipmentStatus = ShipmentStatus.WAITING_DATA
    shipments: list[Shipment] = attrs.field(factory=list)
    fingerprint: str = ""
    id: int | None = None
    warnings: tuple[OrderWarning, ...] = ()
    shipping_address: ShippingAddress | None = None
    fingerprint_version: int = FINGERPRINT_VERSION  # of `fingerprint`'s canonical form

    @classmethod
    def new(cls, merchant_id: int, connection_id: int, snapshot: ErpOrder, now: datetime) -> Order:
        return cls(
            merchant_id=merchant_id,
            connection_id=connection_id,
            erp_order_id=snapshot.erp_order_id,
            situacao=snapshot.situacao,
            imported_at=now,
            updated_at=now,
        )

    @property
    def outbox_stream(self) -> str:
        """Orders the tracking requests of this order in the outbox."""
        return f"{self.connection_id}:{self.erp_order_id}"

    @property
    def active_shipment(self) -> Shipment | None:
        return next((s for s in self.shipments if s.active), None)

    def apply(
        self,
        snapshot: ErpOrder,
        action: Action,
        carrier: Carrier | None,
        customer: Customer | None,
        now: datetime,
    ) -> list[TrackingRequest]:
        """Take the snapshot's data and move tracking to where the action says it should be.

        Returns the requests for the tracking service, in order. The resulting state depends
        only on the snapshot (and the carrier it identifies), never on the versions before it.
        An ignored situação refreshes the data and leaves tracking where it was.
        """
        code = snapshot.effective_tracking_code
        self.situacao = snapshot.situacao
        self.number = snapshot.number
        self.ecommerce_number = snapshot.ecommerce_number
        self.total = snapshot.total
        self.created_at = snapshot.created_at
        self.customer = customer
        self.invoice = snapshot.invoice
        self.shipping = snapshot.shipping
        self.shipping_key = snapshot.shipping.key
        self.shipping_address = snapshot.shipping_address
        self.carrier_code = carrier.code if carrier else None
        self.tracking_code = code
        self.tracking_url = snapshot.erp_tracking_url or (carrier.tracking_url(code) if carrier and code else None)
        self.fingerprint = import_signature(snapshot, action, carrier)
        self.fingerprint_version = FINGERPRINT_VERSION
        self.updated_at = now
        self.warnings = snapshot.all_warnings + ((carrier_warning(snapshot.shipping),) if carrier is None else ())
        if action is Action.IGNORE:
            return []
        return self._move_tracking(target_status(action, carrier, code), carrier, code, now)

    def assign_carrier(self, carrier: Carrier, action: Action, now: datetime) -> list[TrackingRequest]:
        """A carrier chosen later (the merchant mapped the shipping service by hand)."""
        self.carrier_code = carrier.code
        self.warnings = tuple(w for w in self.warnings if w.field != CARRIER_FIELD)
        self.fingerprint = ""  # the next import must not be skipped as unchanged
        if self.tracking_url is None and self.tracking_code is not None:
            self.tracking_url = carrier.tracking_url(self.tracking_code)
        self.updated_at = now
        if action is Action.IGNORE:
            return []
        return self._move_tracking(target_status(action, carrier, self.tracking_code), carrier, self.tracking_code, now)

    def _move_tracking(
        self, target: ShipmentStatus, carrier: Carrier | None, code: TrackingCode | None, now: datetime
    ) -> list[TrackingRequest]:
        requests: list[TrackingRequest] = []
        active = self.active_shipment
        tracking = active if active is not None and active.status is ShipmentStatus.TRACKING else None
        if target is ShipmentStatus.TRACKING:
            assert carrier is not None and code is not None
            if tracking and (tracking.carrier_code, tracking.tracking_code) == (carrier.code, code.value):
                pass
            else:
                if tracking:
                    tracking.close(ShipmentStatus.CANCELLED, now)
                    requests.append(self._request(TrackingRequestKind.CANCEL, tracking, now))
                if active:
                    active.retire(now)
                started = Shipment(carrier_code=carrier.code, tracking_code=code.value, started_at=now)
                self.shipments.append(started)
                requests.append(self._request(TrackingRequestKind.START, started, now))
        elif tracking is not None:
            # Delivered, cancelled, or the data tracking needs is gone: close what runs.
            if target is ShipmentStatus.DELIVERED:
                tracking.close(ShipmentStatus.DELIVERED, now)
                requests.append(self._request(TrackingRequestKind.DELIVERED, tracking, now))
            else:
                tracking.close(ShipmentStatus.CANCELLED, now)
                requests.append(self._request(TrackingRequestKind.CANCEL, tracking, now))
                if target is ShipmentStatus.WAITING_DATA:
                    tracking.retire(now)
        self.tracking_status = target
        return requests

    def _request(self, kind: TrackingRequestKind, shipment: Shipment, now: datetime) -> TrackingRequest:
        customer = self.customer
        return TrackingRequest(
            kind=kind,
            shipment_key=shipment.key,
            merchant_id=self.merchant_id,
            erp_order_id=self.erp_order_id,
            order_number=self.number,
            ecommerce_number=self.ecommerce_number,
            carrier_code=shipment.carrier_code,
            tracking_code=shipment.tracking_code,
            tracking_url=self.tracking_url,
            customer_name=customer.name if customer else None,
            customer_email=customer.email if customer else None,
            customer_phone=customer.phone if customer else None,
            occurred_at=now,
        )
