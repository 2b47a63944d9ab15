"""Orders the ERP sent that could not be imported, with the reason the merchant sees."""

from __future__ import annotations

from datetime import datetime, timedelta

import attrs

# Resolved failures are history the merchant no longer needs: purged after this long.
RESOLVED_RETENTION = timedelta(days=30)


@attrs.define(slots=False, eq=False)
class ImportFailure:
    """The last reason an ERP order could not be imported; resolved by a later good import."""

    connection_id: int
    erp_order_id: int | None
    reason: str
    raw: object
    first_seen_at: datetime
    last_seen_at: datetime
    resolved_at: datetime | None = None
    id: int | None = None
    # What lets the merchant recognise the order, when it could be read.
    number: str | None = None
    customer_name: str | None = None

    def seen_again(
        self, reason: str, raw: object, now: datetime, number: str | None = None, customer_name: str | None = None
    ) -> None:
        self.reason = reason
        self.raw = raw
        self.last_seen_at = now
        self.resolved_at = None
        self.number = number or self.number
        self.customer_name = customer_name or self.customer_name

    def resolve(self, now: datetime) -> None:
        self.resolved_at = now
