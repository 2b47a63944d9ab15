"""The built-in tracking service (KANGLU_TRACKING_URL unset): the shipments are in Kanglu's
database, so delivering a tracking request means recording that tracking received it.

Each request is recorded once, by its idempotency key, in its own transaction; a redelivery
(a worker that died between the call and the outbox update) changes nothing. Operators read
`tracking_handoffs` to see what tracking received.
"""

from __future__ import annotations

import logging

from sqlalchemy import select
from sqlalchemy.engine import Engine
from sqlalchemy.exc import OperationalError

from kanglu.adapters.sql import tables as t
from kanglu.adapters.sql.engine import upsert_insert
from kanglu.adapters.sql.unit_of_work import DATABASE_BUSY
from kanglu.application.errors import TransientFailure
from kanglu.application.ports import Clock
from kanglu.domain.tracking import TrackingRequest

log = logging.getLogger(__name__)


class BuiltinTrackingService:
    def __init__(self, *, engine: Engine, clock: Clock) -> None:
        self._engine = engine
        self._clock = clock

    def deliver(self, request: TrackingRequest) -> None:
        insert = upsert_insert(self._engine.dialect.name, t.tracking_handoffs)
        statement = insert.values(
            idempotency_key=request.idempotency_key,
            shipment_key=request.shipment_key,
            kind=request.kind.value,
            merchant_id=request.merchant_id,
            erp_order_id=request.erp_order_id,
            carrier_code=request.carrier_code,
            tracking_code=request.tracking_code,
            request=request,
            occurred_at=request.occurred_at,
            received_at=self._clock.now(),
        ).on_conflict_do_nothing(index_elements=["idempotency_key"])
        try:
            with self._engine.begin() as connection:
                recorded = connection.execute(statement).rowcount == 1
        except OperationalError as exc:
            raise TransientFailure(DATABASE_BUSY) from exc
        log.info(
            "tracking request received" if recorded else "tracking request already received",
            extra={"shipment": request.shipment_key, "kind": request.kind.value, "merchant_id": request.merchant_id},
        )

    def received(self, shipment_key: str) -> list[TrackingRequest]:
        """What tracking received for one shipment, in order."""
        h = t.tracking_handoffs.c
        with self._engine.connect() as connection:
            return list(
                connection.scalars(select(h.request).where(h.shipment_key == shipment_key).order_by(h.id))
            )
