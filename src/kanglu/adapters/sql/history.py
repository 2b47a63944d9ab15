"""The connection history's upsert: one row per event, a quiet poll's folded into its hour's."""

from __future__ import annotations

from typing import Any

from sqlalchemy import bindparam

from kanglu.adapters.sql import tables as t
from kanglu.adapters.sql.engine import upsert_insert
from kanglu.domain.events import ConnectionEvent


def record_event_statement(dialect: str):  # type: ignore[no-untyped-def]
    """An event's row; a quiet poll's is folded into its hour's row (same `fold_key`): one more
    poll, its API calls added, `at` moved to the latest."""
    e = t.connection_events.c
    insert = upsert_insert(dialect, t.connection_events)
    return insert.values(
        connection_id=bindparam("ev_conn"), kind=bindparam("ev_kind", type_=e.kind.type),
        at=bindparam("ev_at", type_=e.at.type), first_at=bindparam("ev_first", type_=e.first_at.type),
        message=bindparam("ev_message", type_=e.message.type), imported=bindparam("ev_imported"),
        updated=bindparam("ev_updated"), failed=bindparam("ev_failed"), api_calls=bindparam("ev_calls"),
        polls=bindparam("ev_polls"), fold_key=bindparam("ev_fold", type_=e.fold_key.type),
    ).on_conflict_do_update(
        index_elements=["connection_id", "fold_key"],
        set_={"at": insert.excluded.at, "polls": e.polls + insert.excluded.polls,
              "api_calls": e.api_calls + insert.excluded.api_calls},
    )


# SQLite and PostgreSQL spell ON CONFLICT alike; the statement is built with the PostgreSQL
# dialect's insert (for the poll's data-modifying WITH) and with SQLite's for its own statement.
RECORD_EVENT_PG = record_event_statement("postgresql")
RECORD_EVENT = record_event_statement("sqlite")


def event_params(event: ConnectionEvent) -> dict[str, Any]:
    return {"ev_conn": event.connection_id, "ev_kind": event.kind, "ev_at": event.at, "ev_first": event.first_at,
            "ev_message": event.message, "ev_imported": event.imported, "ev_updated": event.updated,
            "ev_failed": event.failed, "ev_calls": event.api_calls, "ev_polls": event.polls,
            "ev_fold": event.fold_key}
