"""The read side of the merchant's sync view: the card's state, the history, carrier mappings
and alert settings (application/queries.py, SyncQueries)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.engine import Engine

from kanglu.adapters.sql import tables as t
from kanglu.adapters.sql.repositories import connection_for_merchant
from kanglu.adapters.sql.unit_of_work import session_factory
from kanglu.application.queries import MAX_PER_PAGE, CarrierMappingView, Page, PageRequest, SyncState, mapping_id
from kanglu.domain.connections import ConnectionStatus
from kanglu.domain.events import ConnectionEvent, NotificationSettings
from kanglu.domain.jobs import JobKind


class SqlSyncQueries:
    def __init__(self, engine: Engine) -> None:
        self._sessions = session_factory(engine)

    def next_sync_at(self, connection_id: int) -> datetime | None:
        j = t.jobs.c
        with self._sessions() as session:
            return session.scalar(select(j.due_at).where(j.kind == JobKind.POLL, j.subject_id == connection_id))

    def sync_state(self, merchant_id: int) -> SyncState | None:
        j, o = t.jobs.c, t.orders.c
        with self._sessions() as session:
            connection = connection_for_merchant(session, merchant_id)
            if connection is None or connection.id is None:
                return None
            job = session.execute(
                select(j.due_at, j.lease_owner).where(j.kind == JobKind.POLL, j.subject_id == connection.id)
            ).first()
            # The count of one connection's orders, on its unique (connection_id, erp_order_id) index.
            orders = session.scalar(select(func.count()).select_from(t.orders).where(o.connection_id == connection.id))
            connected = connection.status is ConnectionStatus.CONNECTED
            return SyncState(
                status=connection.status.value,
                orders=orders or 0,
                first_import=connected and connection.poll_cursor is None,
                syncing=connected and (connection.poll_offset is not None or (job is not None and job.lease_owner is not None)),
                last_sync_at=connection.last_sync_at,
                next_sync_at=job.due_at if job is not None and connected else None,
            )

    def events(self, merchant_id: int, page: PageRequest) -> Page[ConnectionEvent]:
        page = PageRequest(max(1, page.page), min(max(1, page.per_page), MAX_PER_PAGE))
        e = t.connection_events.c
        with self._sessions() as session:
            connection = connection_for_merchant(session, merchant_id)
            if connection is None or connection.id is None:
                return Page([], page.page, page.per_page, 0)
            where = e.connection_id == connection.id
            total = session.scalar(select(func.count()).select_from(t.connection_events).where(where)) or 0
            items = session.scalars(
                select(ConnectionEvent).where(where).order_by(e.at.desc(), e.id.desc())
                .limit(page.per_page).offset(page.offset)
            )
            return Page(list(items), page.page, page.per_page, total)

    def carrier_mappings(self, merchant_id: int) -> Sequence[CarrierMappingView]:
        m, o = t.carrier_mappings.c, t.orders.c
        with self._sessions() as session:
            mappings = session.execute(
                select(m.shipping_key, m.carrier_code).where(m.merchant_id == merchant_id).order_by(m.shipping_key)
            ).all()
            if not mappings:
                return []
            keys = [row.shipping_key for row in mappings]
            groups = {
                g.shipping_key: g
                for g in session.execute(
                    select(o.shipping_key, func.count().label("orders"), func.max(o.id).label("sample"))
                    .where(o.merchant_id == merchant_id, o.shipping_key.in_(keys))
                    .group_by(o.shipping_key)
                )
            }
            samples = dict(session.execute(
                select(o.id, o.shipping).where(o.id.in_([g.sample for g in groups.values()]))
            ).all()) if groups else {}
            return [
                CarrierMappingView(
                    id=mapping_id(row.shipping_key),
                    shipping_key=row.shipping_key,
                    label=samples[groups[row.shipping_key].sample].label if row.shipping_key in groups else row.shipping_key,
                    carrier_code=row.carrier_code,
                    orders=groups[row.shipping_key].orders if row.shipping_key in groups else 0,
                )
                for row in mappings
            ]

    def notifications(self, merchant_id: int) -> NotificationSettings:
        with self._sessions() as session:
            found = session.get(NotificationSettings, merchant_id)
            return found if found is not None else NotificationSettings(merchant_id)
