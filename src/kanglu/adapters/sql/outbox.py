"""The SQL outbox: tracking requests and alerts written with the change that caused them, then
claimed by the worker's deliverers, each stream's messages in the order they were written."""

from __future__ import annotations

from collections.abc import Collection
from datetime import datetime, timedelta

from sqlalchemy import exists, select

from kanglu.adapters.sql import tables as t
from kanglu.adapters.sql.jobs import lease_free
from kanglu.adapters.sql.engine import hold_write_lock
from kanglu.adapters.sql.repository_base import SessionRepository
from kanglu.domain.tracking import OutboxMessage


class SqlOutboxRepository(SessionRepository):
    def add(self, message: OutboxMessage) -> None:
        self._session.add(message)

    def by_ids(self, message_ids: Collection[int]) -> list[OutboxMessage]:
        # One query: a get() per id would flush the previous message's change each time.
        return list(self._session.scalars(
            select(OutboxMessage).where(t.outbox.c.id.in_(list(message_ids))).order_by(t.outbox.c.id)
        ))

    def claim(self, owner: str, now: datetime, lease: timedelta, limit: int) -> list[OutboxMessage]:
        o = t.outbox
        earlier = o.alias("earlier")
        # Only the oldest pending message of each stream: an order's requests go out in the
        # order they were written, whatever the number of workers.
        earlier_pending = exists().where(
            earlier.c.stream == o.c.stream, earlier.c.delivered_at.is_(None), earlier.c.id < o.c.id
        )
        hold_write_lock(self._session)
        messages = list(
            self._session.scalars(
                select(OutboxMessage)
                .where(
                    o.c.delivered_at.is_(None),
                    o.c.next_attempt_at <= now,
                    lease_free(o.c.lease_expires_at, now),
                    ~earlier_pending,
                )
                .order_by(o.c.id)
                .limit(limit)
                .with_for_update(skip_locked=True, of=o)
                .execution_options(populate_existing=True)
            )
        )
        for message in messages:
            message.lease_owner = owner
            message.lease_expires_at = now + lease
        self._session.flush()
        return messages
