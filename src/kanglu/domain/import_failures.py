"""Orders the ERP sent that could not be imported, with the reason the merchant sees."""

from __future__ import annotations

from datetime import datetime

import attrs


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

    def seen_again(self, reason: str, raw: object, now: datetime) -> None:
        self.reason = reason
        self.raw = raw
        self.last_seen_at = now
        self.resolved_at = None

    def resolve(self, now: datetime) -> None:
        self.resolved_at = now
