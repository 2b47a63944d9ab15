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
from sqlalchemy.engine import Connection, CursorResult, Engine
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session, UOWTransaction, sessionmaker
from sqlalchemy.sql import Executable

from kanglu.adapters.sql.engine import BEGIN_MODE, WRITE_STATEMENT
from kanglu.adapters.sql.orm import start_mappers
from kanglu.adapters.sql.revocations import SqlTokenRevocationRepository
from kanglu.adapters.sql.repositories import (
    SqlCarrierMappingRepository,
    SqlConnectionEventRepository,
    SqlConnectionRepository,
    SqlCustomerRepository,
    SqlImportFailureRepository,
    SqlJobRepository,
    SqlMerchantRepository,
    SqlNotificationRepository,
    SqlOrderRepository,
    SqlOutboxRepository,
    SqlShippingFamilyRepository,
    SqlStatusMappingRepository,
    save_poll,
)
from kanglu.application.errors import TransientFailure
from kanglu.application.ports import ConnectionRepository, UnitOfWork
from kanglu.domain.connections import ErpConnection
from kanglu.domain.events import ConnectionEvent
from kanglu.domain.jobs import JobRelease

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
def _transient_on_busy() -> Iterator[None]:
    # Callers already retry TransientFailure with backoff.
    try:
        yield
    except OperationalError as exc:
        if not is_transient(exc):
            raise
        log.warning("database operation failed, will be retried", extra={"error": exc.orig.__class__.__name__})
        raise TransientFailure(DATABASE_BUSY) from exc


class SqlUnitOfWork:
    def __init__(self, sessions: sessionmaker[Session], *, read_only: bool = False) -> None:
        self._sessions = sessions
        self._session: Session | None = None
        self._read_only = read_only

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
        self._refuse_if_read_only()
        with _transient_on_busy():
            self.session.flush()

    def commit(self) -> None:
        self._refuse_if_read_only()
        with _transient_on_busy():
            self.session.commit()

    def _refuse_if_read_only(self) -> None:
        if self._read_only:
            raise ReadOnlyViolation("a reading unit of work cannot write")

    def rollback(self) -> None:
        self.session.rollback()


class StatementUnitOfWork:
    """PostgreSQL's one-statement unit of work: a pooled connection in autocommit and no
    session at all. A quiet poll's whole write is one statement (`save_poll`); a session
    around it (its identity map, its transaction bookkeeping, its close) cost more CPU than
    the statement itself, and every poll pays it.

    Only `connections.save_poll` is offered; any other repository is refused, as is a second
    write (`_refuse_second_write`): in autocommit two writes would not be atomic."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine
        self._connection: Connection | None = None
        self.connections = _StatementConnectionWrites(self)

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        connection, self._connection = self._connection, None
        if connection is not None:
            connection.close()

    def execute(self, statement: Executable, params: dict[str, Any]) -> CursorResult[Any]:
        """Run one statement, committed as it returns."""
        with _transient_on_busy():  # connecting too: the database may be away for a moment
            if self._connection is None:
                self._connection = self._engine.connect()
            return self._connection.execute(statement, params)

    def __getattr__(self, name: str) -> Any:
        # Only for names not set in __init__: the other repositories of a UnitOfWork are a
        # caller's bug worth its own error; anything else is an ordinary missing attribute.
        if name in _OTHER_REPOSITORIES:
            raise OneStatementViolation(f"a one-statement unit of work has no {name}")
        raise AttributeError(name)

    # The statement was committed as it ran: nothing is pending.
    def flush(self) -> None:
        pass

    def commit(self) -> None:
        pass

    def rollback(self) -> None:
        pass


class _StatementConnectionWrites:
    def __init__(self, unit_of_work: StatementUnitOfWork) -> None:
        self._unit_of_work = unit_of_work

    def save_poll(
        self, connection: ErpConnection, release: JobRelease | None = None, event: ConnectionEvent | None = None
    ) -> bool | None:
        return save_poll(self._unit_of_work.execute, "postgresql", connection, release, event)

    def __getattr__(self, name: str) -> Any:
        if name in _CONNECTION_METHODS:
            raise OneStatementViolation(f"a one-statement unit of work cannot call connections.{name}")
        raise AttributeError(name)


_OTHER_REPOSITORIES = frozenset(UnitOfWork.__annotations__) - {"connections"} | {"session"}
_CONNECTION_METHODS = frozenset(name for name in vars(ConnectionRepository) if not name.startswith("_"))


class ReadOnlyViolation(RuntimeError):
    """A write in a reading unit of work: a bug in the caller, never a merchant's doing."""


class OneStatementViolation(RuntimeError):
    """More than one write in a one-statement unit of work: a bug in the caller."""


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
            # the first instead. The read side (pages, API) keeps plain, concurrent reads.
            writer = engine.execution_options(**{BEGIN_MODE: "IMMEDIATE"})
            # Readers: a plain BEGIN, which takes no write lock (WAL lets them read while
            # somebody writes).
            reader = engine.execution_options()
        else:
            # Readers: no transaction at all (no BEGIN and ROLLBACK round trips); each
            # statement sees what was committed when it started, as READ COMMITTED would.
            reader = engine.execution_options(isolation_level="AUTOCOMMIT")
        _refuse_writes(reader)
        self._sessions = session_factory(writer)
        # No autoflush: a change made to an entity read here is never sent.
        self._reading_sessions = session_factory(reader, autoflush=False)
        if engine.dialect.name == "postgresql":
            single = engine.execution_options(isolation_level="AUTOCOMMIT")
            _refuse_second_write(single)
            self._single: Engine | None = single
        else:
            # SQLite: a write transaction costs no round trip; the ordinary one it is.
            self._single = None

    def __call__(self) -> SqlUnitOfWork:
        return SqlUnitOfWork(self._sessions)

    def reading(self) -> SqlUnitOfWork:
        return SqlUnitOfWork(self._reading_sessions, read_only=True)

    def one_statement(self) -> SqlUnitOfWork | StatementUnitOfWork:
        if self._single is None:
            return SqlUnitOfWork(self._sessions)
        return StatementUnitOfWork(self._single)


def _refuse_writes(reader: Engine) -> None:
    """A statement that writes, sent through a reading unit of work, fails before it reaches
    the database: on PostgreSQL it would otherwise be committed at once."""

    @event.listens_for(reader, "before_cursor_execute")
    def _refuse(_connection: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        if WRITE_STATEMENT.match(statement):
            raise ReadOnlyViolation("a reading unit of work cannot write")


_WRITES = "kanglu_writes"  # connection info: write statements since a unit of work took it


def _refuse_second_write(single: Engine) -> None:
    """In autocommit every statement is its own transaction: a second write would not be
    atomic with the first, so it fails before it reaches the database."""

    @event.listens_for(single, "engine_connect")
    def _reset(connection: Any) -> None:
        connection.info[_WRITES] = 0

    @event.listens_for(single, "before_cursor_execute")
    def _count(connection: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        if WRITE_STATEMENT.match(statement) or statement.lstrip().upper().startswith("WITH"):
            if connection.info.get(_WRITES):
                raise OneStatementViolation("a one-statement unit of work wrote twice")
            connection.info[_WRITES] = 1
