"""PollProgressStore (and the runner's PollJobLink) over an engine: every poll of every
connection reads and writes here, most of them finding nothing new, so each step costs as
little as the database allows.

- Reads take no transaction on PostgreSQL (autocommit: no BEGIN and ROLLBACK round trips; each
  statement sees what was committed when it started) and no write lock on SQLite.
- A write is one statement on PostgreSQL, sent in autocommit: one round trip, the whole write
  of a quiet poll. The run's history row rides along as a data-modifying WITH, and so does the
  poll job's release when the runner offered it (PollJobLink). On SQLite, where a transaction
  costs no round trip, the same rows are written by a few statements of one transaction.
- No session around a write: its identity map and bookkeeping cost more CPU than the statement,
  and every poll pays it. Statements are Core, built once, and write only the poll's own
  columns of the copy the poll started from.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import datetime
from typing import Any

from sqlalchemy import bindparam, case, null, update
from sqlalchemy.engine import CursorResult, Engine
from sqlalchemy.orm import Session
from sqlalchemy.sql import Executable

from kanglu.adapters.sql import tables as t
from kanglu.adapters.sql.engine import BEGIN_MODE
from kanglu.adapters.sql.history import RECORD_EVENT, RECORD_EVENT_PG, event_params
from kanglu.adapters.sql.jobs import RELEASE_MY_JOB, job_release_params
from kanglu.adapters.sql.repositories import (
    SqlCarrierMappingRepository,
    SqlImportFailureRepository,
    SqlOrderRepository,
    SqlShippingFamilyRepository,
    SqlStatusMappingRepository,
)
from kanglu.adapters.sql.unit_of_work import session_factory, transient_on_busy
from kanglu.application.ports import StoredPage
from kanglu.domain.connections import ErpConnection, ErrorKind
from kanglu.domain.events import ConnectionEvent
from kanglu.domain.jobs import JobKey, JobKind
from kanglu.domain.shipping import families_by_service

Statement = tuple[Executable, dict[str, Any]]

_CONNECTION = t.erp_connections.c
_POLL_ERROR = _CONNECTION.error_kind == ErrorKind.POLL.value
_SAVE_POLL_WINDOW = (
    update(t.erp_connections)
    .where(_CONNECTION.id == bindparam("conn_id"))
    .values(poll_since=bindparam("p_since", type_=_CONNECTION.poll_since.type),
            poll_started_at=bindparam("p_started", type_=_CONNECTION.poll_started_at.type),
            poll_offset=bindparam("p_offset", type_=_CONNECTION.poll_offset.type))
)
_SAVE_POLL_COMPLETED = (
    update(t.erp_connections)
    .where(_CONNECTION.id == bindparam("conn_id"))
    .values(poll_cursor=bindparam("p_cursor", type_=_CONNECTION.poll_cursor.type),
            poll_since=None, poll_started_at=None, poll_offset=None,
            last_sync_at=bindparam("p_synced", type_=_CONNECTION.last_sync_at.type),
            updated_at=bindparam("p_updated", type_=_CONNECTION.updated_at.type),
            # ErpConnection.finish_poll's rule, applied to the row as it is now: the poll clears
            # its own error, and only its own (a renewal's error written meanwhile stays).
            last_error=case((_POLL_ERROR, null()), else_=_CONNECTION.last_error),
            error_kind=case((_POLL_ERROR, null()), else_=_CONNECTION.error_kind))
)
# PostgreSQL: each write of a poll as one statement (data-modifying WITHs), atomic on its own.
_SAVE_POLL_WINDOW_WITH_EVENT = RECORD_EVENT_PG.add_cte(
    _SAVE_POLL_WINDOW.returning(_CONNECTION.id).cte("saved_window")
)
_SAVE_POLL_COMPLETED_WITH_EVENT = RECORD_EVENT_PG.add_cte(
    _SAVE_POLL_COMPLETED.returning(_CONNECTION.id).cte("saved_poll")
)
_SAVE_POLL_AND_RELEASE_JOB_WITH_EVENT = RELEASE_MY_JOB.add_cte(
    _SAVE_POLL_COMPLETED.returning(_CONNECTION.id).cte("saved_poll")
).add_cte(RECORD_EVENT_PG.returning(t.connection_events.c.id).cte("recorded_event"))


class SqlPollProgress:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self._postgresql = engine.dialect.name == "postgresql"
        if self._postgresql:
            autocommit = engine.execution_options(isolation_level="AUTOCOMMIT")
            self._writer = autocommit  # one statement per write: its own transaction
            self._readers = session_factory(autocommit, autoflush=False)
            self._sessions = session_factory(engine)
        else:
            # Writes begin as writers (BEGIN IMMEDIATE: see SqlUnitOfWorkFactory); reads with a
            # plain BEGIN, which takes no write lock.
            self._writer = engine.execution_options(**{BEGIN_MODE: "IMMEDIATE"})
            self._readers = session_factory(engine.execution_options(), autoflush=False)
            self._sessions = session_factory(self._writer)
        # The runner's side (PollJobLink), shared by the worker's threads: one poll of a
        # connection runs at a time, and a dict's single operations are atomic.
        self._preloaded: dict[int, ErpConnection] = {}
        self._offers: dict[JobKey, str] = {}
        self._released: dict[JobKey, bool] = {}

    # -- PollProgressStore ---------------------------------------------------------------

    def start(self, connection_id: int) -> ErpConnection | None:
        preloaded = self._preloaded.pop(connection_id, None)
        if preloaded is not None:
            return preloaded
        with self._reading() as session:
            return session.get(ErpConnection, connection_id)

    def stored_page(
        self, connection: ErpConnection, erp_ids: Sequence[int], families: Mapping[int, int | None] | None
    ) -> StoredPage:
        assert connection.id is not None
        with self._reading() as session:
            mapping = SqlStatusMappingRepository(session).get(connection.id)
            if families is None:
                families = families_by_service(SqlShippingFamilyRepository(session).for_connection(connection.id))
            if not erp_ids:
                return StoredPage(mapping, families, {}, frozenset(), {})
            orders = SqlOrderRepository(session).stored(connection.id, erp_ids)
            failing = frozenset(SqlImportFailureRepository(session).for_erp_ids(connection.id, erp_ids))
            carriers = SqlCarrierMappingRepository(session).for_merchant(connection.merchant_id)
        return StoredPage(mapping, families, orders, failing, carriers)

    def checkpoint(self, connection: ErpConnection, event: ConnectionEvent | None = None) -> None:
        window = {"conn_id": connection.id, "p_since": connection.poll_since,
                  "p_started": connection.poll_started_at, "p_offset": connection.poll_offset}
        if event is None:
            self._write([(_SAVE_POLL_WINDOW, window)])
        elif self._postgresql:
            self._write([(_SAVE_POLL_WINDOW_WITH_EVENT, window | event_params(event))])
        else:
            self._write([(_SAVE_POLL_WINDOW, window), (RECORD_EVENT, event_params(event))])

    def complete(self, connection: ErpConnection, event: ConnectionEvent, next_poll_at: datetime) -> None:
        assert connection.id is not None and connection.poll_progress() is None, "finish_poll first"
        completed = {"conn_id": connection.id, "p_cursor": connection.poll_cursor,
                     "p_synced": connection.last_sync_at, "p_updated": connection.updated_at}
        recorded = event_params(event)
        job = JobKey(JobKind.POLL, connection.id)
        owner = self._offers.pop(job, None)
        if owner is None:
            if self._postgresql:
                self._write([(_SAVE_POLL_COMPLETED_WITH_EVENT, completed | recorded)])
            else:
                self._write([(_SAVE_POLL_COMPLETED, completed), (RECORD_EVENT, recorded)])
            return
        released = job_release_params(job, owner, next_poll_at)
        if self._postgresql:
            result = self._write([(_SAVE_POLL_AND_RELEASE_JOB_WITH_EVENT, completed | released | recorded)])
        else:
            result = self._write([(_SAVE_POLL_COMPLETED, completed), (RECORD_EVENT, recorded),
                                  (RELEASE_MY_JOB, released)])
        self._released[job] = result.rowcount == 1

    def fail(self, connection_id: int, reason: str, at: datetime) -> None:
        # Rare (a failed page): the domain's rule on the row as it is now, through the ORM.
        with transient_on_busy(), self._sessions() as session:
            connection = session.get(ErpConnection, connection_id)
            if connection is not None:
                connection.note_poll_failure(reason, at)
                session.commit()

    # -- PollJobLink -----------------------------------------------------------------------

    def preload(self, connections: Mapping[int, ErpConnection]) -> None:
        self._preloaded.update(connections)

    def drop(self, connection_ids: Iterable[int]) -> None:
        for connection_id in connection_ids:
            self._preloaded.pop(connection_id, None)

    def offer_release(self, job: JobKey, owner: str) -> None:
        self._offers[job] = owner

    def released(self, job: JobKey) -> bool | None:
        self._offers.pop(job, None)
        self._preloaded.pop(job.subject_id, None)  # a poll that failed before it started
        return self._released.pop(job, None)

    # -- plumbing --------------------------------------------------------------------------

    @contextmanager
    def _reading(self) -> Iterator[Session]:
        # close() ends the read (a rollback on SQLite, nothing on PostgreSQL) and detaches what
        # was read, still readable (no expiry).
        with transient_on_busy(), self._readers() as session:
            yield session

    def _write(self, statements: list[Statement]) -> CursorResult[Any]:
        """The statements in one transaction; on PostgreSQL there is one, in autocommit."""
        if self._postgresql:
            assert len(statements) == 1, "one statement per write on PostgreSQL"
            [(statement, params)] = statements
            with transient_on_busy(), self._writer.connect() as connection:  # autocommit: no BEGIN, no COMMIT
                return connection.execute(statement, params)
        with transient_on_busy(), self._writer.begin() as connection:
            for statement, params in statements:
                result = connection.execute(statement, params)
        return result
