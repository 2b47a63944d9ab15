"""The unit of work over a SQLAlchemy session: one transaction at a time, rolled back unless
the use case commits; `commit()` may be called more than once, each call ending a transaction."""

from __future__ import annotations

import logging
import sqlite3
from collections import defaultdict
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from types import TracebackType
from typing import Any, Self

from sqlalchemy import Table, event, func, inspect, select
from sqlalchemy.engine import Engine
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session, UOWTransaction, sessionmaker

from kanglu.adapters.sql.connections import SqlConnectionRepository
from kanglu.adapters.sql.engine import BEGIN_MODE
from kanglu.adapters.sql.jobs import SqlJobRepository
from kanglu.adapters.sql.orm import start_mappers
from kanglu.adapters.sql.repositories import (
    SqlCarrierMappingRepository,
    SqlConnectionEventRepository,
    SqlCustomerRepository,
    SqlImportFailureRepository,
    SqlMerchantRepository,
    SqlNotificationRepository,
    SqlOrderRepository,
    SqlOutboxRepository,
    SqlShippingFamilyRepository,
    SqlStatusMappingRepository,
)
from kanglu.adapters.sql.revocations import SqlTokenRevocationRepository
from kanglu.application.errors import TransientFailure

log = logging.getLogger(__name__)

DATABASE_BUSY = "o banco de dados está ocupado ou indisponível; nova tentativa em instantes"


def session_factory(engine: Engine, *, autoflush: bool = True) -> sessionmaker[Session]:
    """Sessions whose objects keep their values after commit: use cases return entities from
    a closed unit of work, and a detached object must still be readable."""
    start_mappers()
    sessions = sessionmaker(bind=engine, expire_on_commit=False, autoflush=autoflush)
    if engine.dialect.name in _NEXT_IDS:
        event.listen(sessions, "before_flush", _ids_before_flush)
    return sessions


def _next_ids_postgresql(session: Session, table: Table, count: int) -> list[int]:
    return list(
        session.scalars(
            select(func.nextval(func.pg_get_serial_sequence(table.name, "id"))).select_from(
                func.generate_series(1, count)
            )
        )
    )


def _next_ids_sqlite(session: Session, table: Table, count: int) -> list[int]:
    # What SQLite itself would assign (the largest rowid plus one; the tables are not
    # AUTOINCREMENT). Safe because a unit of work holds the database's only write lock from its
    # first statement (BEGIN IMMEDIATE): no other insert can come between this read and ours.
    top = session.scalar(select(func.max(table.c.id))) or 0
    return list(range(top + 1, top + 1 + count))


_NEXT_IDS = {"postgresql": _next_ids_postgresql, "sqlite": _next_ids_sqlite}


def _ids_before_flush(session: Session, _flush: UOWTransaction, _instances: Iterable[Any] | None) -> None:
    """New rows get their ids before the flush, one query per table.

    The INSERTs then need no RETURNING, so each table's rows go out as one executemany of a
    short statement: on PostgreSQL instead of one multi-VALUES statement with thousands of
    placeholders that psycopg parses anew at every page (a third of a page's flush time); on
    SQLite a smaller gain, but a page of new orders is the bulk path's common case. Ids follow
    the order the objects were added in, which the outbox's per-order ordering relies on.
    """
    next_ids = _NEXT_IDS[session.get_bind().dialect.name]
    waiting: dict[Table, list[Any]] = defaultdict(list)
    for state in sorted((inspect(obj) for obj in session.new), key=lambda s: s.insert_order):
        table = state.mapper.local_table
        if isinstance(table, Table) and "id" in table.c and state.obj().id is None:
            waiting[table].append(state.obj())
    for table, objects in waiting.items():
        if len(objects) < 2:
            continue  # a single row gains nothing
        for obj, new_id in zip(objects, next_ids(session, table, len(objects)), strict=True):
            obj.id = new_id


def is_transient(exc: OperationalError) -> bool:
    """A locked SQLite database, a deadlock or a dropped connection on PostgreSQL: the
    transaction is lost but the work can be retried; so can a file that cannot be opened for
    now (a volume not mounted yet). Not SQLite's other "operational" errors (no such table or
    column, a read-only file): those say what is wrong, and must reach whoever can fix it
    instead of being retried as "busy" for ever."""
    if isinstance(exc.orig, sqlite3.OperationalError):
        message = str(exc.orig).lower()
        return any(word in message for word in ("locked", "busy", "unable to open", "disk i/o"))
    return True


@contextmanager
def transient_on_busy() -> Iterator[None]:
    # Callers already retry TransientFailure with backoff.
    try:
        yield
    except OperationalError as exc:
        if not is_transient(exc):
            raise
        log.warning("database operation failed, will be retried", extra={"error": exc.orig.__class__.__name__})
        raise TransientFailure(DATABASE_BUSY) from exc


class SqlUnitOfWork:
    def __init__(self, sessions: sessionmaker[Session]) -> None:
        self._sessions = sessions
        self._session: Session | None = None

    @property
    def session(self) -> Session:
        if self._session is None:
            raise RuntimeError("the unit of work is used outside its `with` block")
        return self._session

    def __enter__(self) -> Self:
        session = self._session = self._sessions()
        self.merchants = SqlMerchantRepository(session)
        self.connections = SqlConnectionRepository(session)
        self.status_mappings = SqlStatusMappingRepository(session)
        self.customers = SqlCustomerRepository(session)
        self.orders = SqlOrderRepository(session)
        self.import_failures = SqlImportFailureRepository(session)
        self.shipping_families = SqlShippingFamilyRepository(session)
        self.carrier_mappings = SqlCarrierMappingRepository(session)
        self.outbox = SqlOutboxRepository(session)
        self.jobs = SqlJobRepository(session)
        self.revocations = SqlTokenRevocationRepository(session)
        self.events = SqlConnectionEventRepository(session)
        self.notifications = SqlNotificationRepository(session)
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        # close() rolls back whatever was not committed and detaches the objects as they are
        # (no expiry), so entities a use case returns stay readable.
        session, self._session = self.session, None
        session.close()
        if isinstance(exc, OperationalError) and is_transient(exc):
            # A read that failed the way commit() can (the database away for a moment, too many
            # clients): the same transient failure, so that callers retry it as they retry a
            # failed write instead of counting it as a bug.
            log.warning("database read failed, will be retried", extra={"error": exc.orig.__class__.__name__})
            raise TransientFailure(DATABASE_BUSY) from exc

    def flush(self) -> None:
        with transient_on_busy():
            self.session.flush()

    def commit(self) -> None:
        with transient_on_busy():
            self.session.commit()

    def rollback(self) -> None:
        self.session.rollback()


class SqlUnitOfWorkFactory:
    """What the container provides as `uow`: a new unit of work per call."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        writer = engine
        if engine.dialect.name == "sqlite":
            # A use case reads, then writes. On SQLite (WAL) a transaction that began as a
            # reader cannot become a writer once another connection has committed since: it
            # fails at once with "database is locked", busy timeout or not. Beginning every
            # use-case transaction as a writer (BEGIN IMMEDIATE) makes the second one wait for
            # the first instead. The read side (pages, API, the poll's reads) keeps plain,
            # concurrent reads.
            writer = engine.execution_options(**{BEGIN_MODE: "IMMEDIATE"})
        self._sessions = session_factory(writer)

    def __call__(self) -> SqlUnitOfWork:
        return SqlUnitOfWork(self._sessions)
