"""Shipments handed to tracking, their states, and the requests sent to the tracking service."""

from __future__ import annotations

import enum
import uuid
from datetime import datetime

import attrs

from kanglu.domain.events import AlertRequest


class ShipmentStatus(enum.StrEnum):
    WAITING_DATA = "waiting_data"
    TRACKING = "tracking"
    DELIVERED = "delivered"
    CANCELLED = "cancelled"

    @property
    def label(self) -> str:
        return {
            # What tracking waits for, most often: the code Tiny gets once the parcel ships.
            ShipmentStatus.WAITING_DATA: "Aguardando código de rastreio",
            ShipmentStatus.TRACKING: "Em rastreamento",
            ShipmentStatus.DELIVERED: "Entregue",
            ShipmentStatus.CANCELLED: "Cancelado",
        }[self]


class TrackingRequestKind(enum.StrEnum):
    START = "start"
    DELIVERED = "delivered"
    CANCEL = "cancel"


@attrs.define(slots=False, eq=False)
class Shipment:
    """One tracked shipment: a carrier and a code handed to tracking.

    A shipment is created when tracking starts and is never reopened: a new code, or tracking
    that resumes after delivery or cancellation, makes a new shipment, so the tracking service
    sees each start, delivery and cancellation exactly once per shipment key.
    """

    carrier_code: str
    tracking_code: str
    started_at: datetime
    status: ShipmentStatus = ShipmentStatus.TRACKING
    active: bool = True
    closed_at: datetime | None = None
    key: str = attrs.field(factory=lambda: uuid.uuid4().hex)
    id: int | None = None

    def close(self, status: ShipmentStatus, now: datetime) -> None:
        self.status = status
        self.closed_at = now

    def retire(self, now: datetime) -> None:
        """Superseded by a newer shipment of the same order."""
        self.active = False
        if self.closed_at is None:
            self.closed_at = now


@attrs.frozen
class TrackingRequest:
    """What the tracking service receives, through the outbox, for one shipment transition."""

    kind: TrackingRequestKind
    shipment_key: str
    merchant_id: int
    erp_order_id: int
    order_number: str | None
    ecommerce_number: str | None
    carrier_code: str
    tracking_code: str
    tracking_url: str | None
    customer_name: str | None
    customer_email: str | None
    customer_phone: str | None
    occurred_at: datetime

    @property
    def idempotency_key(self) -> str:
        return f"{self.shipment_key}:{self.kind.value}"


@attrs.define(slots=False, eq=False)
class OutboxMessage:
    """A tracking request (or a merchant alert) waiting to be delivered, with its delivery attempts.

    Messages of one `stream` (one order) are delivered in the order they were written, so the
    tracking service never sees a new shipment start before the old one was cancelled.
    """

    stream: str
    request: TrackingRequest | AlertRequest
    created_at: datetime
    next_attempt_at: datetime
    attempts: int = 0
    delivered_at: datetime | None = None
    last_error: str | None = None
    lease_owner: str | None = None
    lease_expires_at: datetime | None = None
    id: int | None = None
