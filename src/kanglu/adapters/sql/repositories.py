"""The SQL repositories of application/ports/, importable from here. Each lives in a module of
its own (connections, jobs, merchants, orders, import_failures, mappings, outbox); the
connection events' stays here, beside nothing else, because its folded upsert is the history
statement the poll's progress store shares (history.py). None of them commits: the unit of work
does."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import delete

from kanglu.adapters.sql import tables as t
from kanglu.adapters.sql.connections import SqlConnectionRepository, connection_for_merchant
from kanglu.adapters.sql.history import RECORD_EVENT, RECORD_EVENT_PG, event_params
from kanglu.adapters.sql.import_failures import SqlImportFailureRepository
from kanglu.adapters.sql.jobs import SqlJobRepository
from kanglu.adapters.sql.mappings import (
    SqlCarrierMappingRepository,
    SqlShippingFamilyRepository,
    SqlStatusMappingRepository,
)
from kanglu.adapters.sql.merchants import (
    SqlMerchantRepository,
    SqlNotificationRepository,
    merchant_by_api_key_hash,
)
from kanglu.adapters.sql.orders import SqlCustomerRepository, SqlOrderRepository
from kanglu.adapters.sql.outbox import SqlOutboxRepository
from kanglu.adapters.sql.repository_base import SessionRepository
from kanglu.domain.events import ConnectionEvent

__all__ = [
    "SqlCarrierMappingRepository",
    "SqlConnectionEventRepository",
    "SqlConnectionRepository",
    "SqlCustomerRepository",
    "SqlImportFailureRepository",
    "SqlJobRepository",
    "SqlMerchantRepository",
    "SqlNotificationRepository",
    "SqlOrderRepository",
    "SqlOutboxRepository",
    "SqlShippingFamilyRepository",
    "SqlStatusMappingRepository",
    "connection_for_merchant",
    "merchant_by_api_key_hash",
]


class SqlConnectionEventRepository(SessionRepository):
    def add(self, event: ConnectionEvent) -> None:
        if event.is_folded:
            # Folded into the hour's row: an upsert, which the ORM cannot express.
            self._session.execute(RECORD_EVENT if self._dialect != "postgresql" else RECORD_EVENT_PG,
                                  event_params(event))
        else:
            self._session.add(event)

    def purge(self, before: datetime) -> int:
        result = self._session.execute(delete(t.connection_events).where(t.connection_events.c.at < before))
        return int(result.rowcount)  # type: ignore[attr-defined]
