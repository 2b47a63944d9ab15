"""ConnectionRepository over one SQLAlchemy session (the poll's own writes are in
poll_progress.py)."""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import bindparam, select
from sqlalchemy.orm import Session

from kanglu.adapters.sql import tables as t
from kanglu.adapters.sql.engine import hold_write_lock
from kanglu.adapters.sql.orm import built_once_per_mapping
from kanglu.domain.connections import ErpConnection


class SqlConnectionRepository:
    def __init__(self, session: Session) -> None:
        self._session = session

    def add(self, connection: ErpConnection) -> None:
        self._session.add(connection)

    def get(self, connection_id: int) -> ErpConnection | None:
        return self._session.get(ErpConnection, connection_id)

    def many(self, connection_ids: Iterable[int]) -> dict[int, ErpConnection]:
        ids = list(connection_ids)
        if not ids:
            return {}
        # The worker reads every batch of claimed polls here: a statement built once.
        found = self._session.scalars(_connections_by_id(), {"ids": ids})
        return {c.id: c for c in found if c.id is not None}

    def for_merchant(self, merchant_id: int, erp: str = "tiny") -> ErpConnection | None:
        return connection_for_merchant(self._session, merchant_id, erp)

    def lock(self, connection_id: int) -> ErpConnection | None:
        # PostgreSQL: a row lock held until the transaction ends, in any process or machine.
        # SQLite: the database's write lock, held the same way. Either way the row is read
        # again once the lock is ours (populate_existing), so a second renewal sees the
        # tokens the first one stored.
        hold_write_lock(self._session)
        return self._session.scalars(
            select(ErpConnection)
            .where(t.erp_connections.c.id == connection_id)
            .with_for_update()
            .execution_options(populate_existing=True)
        ).first()

    def all(self) -> list[ErpConnection]:
        return list(self._session.scalars(select(ErpConnection).order_by(t.erp_connections.c.id)))


@built_once_per_mapping
def _connections_by_id():
    return select(ErpConnection).where(t.erp_connections.c.id.in_(bindparam("ids", expanding=True)))


def connection_for_merchant(session: Session, merchant_id: int, erp: str = "tiny") -> ErpConnection | None:
    c = t.erp_connections.c
    return session.scalars(select(ErpConnection).where(c.merchant_id == merchant_id, c.erp == erp)).first()
