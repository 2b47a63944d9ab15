"""The SQL repository of import failures: the orders that could not be imported, until resolved."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any

from sqlalchemy import Select, delete, select

from kanglu.adapters.sql import tables as t
from kanglu.adapters.sql.orm import built_once_per_mapping
from kanglu.adapters.sql.repository_base import (
    CONNECTION_ID,
    SessionRepository,
    erp_id_in,
)
from kanglu.domain.import_failures import ImportFailure


@built_once_per_mapping
def _open_failures(dialect: str) -> Select[Any]:
    c = t.import_failures.c
    return select(ImportFailure).where(c.connection_id == CONNECTION_ID, erp_id_in(c.erp_order_id, dialect),
                                       c.resolved_at.is_(None))


class SqlImportFailureRepository(SessionRepository):
    def for_erp_ids(self, connection_id: int, erp_ids: Iterable[int]) -> dict[int, ImportFailure]:
        wanted = list(set(erp_ids))
        if not wanted:
            return {}
        found = self._session.scalars(_open_failures(self._dialect), {"conn_id": connection_id, "erp_ids": wanted})
        return {failure.erp_order_id: failure for failure in found}

    def add(self, failure: ImportFailure) -> None:
        self._session.add(failure)

    def get(self, failure_id: int) -> ImportFailure | None:
        return self._session.get(ImportFailure, failure_id)

    def open_without_id(self, connection_id: int) -> list[ImportFailure]:
        c = t.import_failures.c
        return list(self._session.scalars(
            select(ImportFailure).where(c.connection_id == connection_id, c.erp_order_id.is_(None),
                                        c.resolved_at.is_(None)).order_by(c.id)
        ))

    def purge_resolved(self, before: datetime) -> int:
        c = t.import_failures.c
        result = self._session.execute(
            delete(t.import_failures).where(c.resolved_at.is_not(None), c.resolved_at < before)
        )
        return result.rowcount or 0  # type: ignore[attr-defined]
