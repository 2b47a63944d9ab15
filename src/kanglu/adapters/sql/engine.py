"""Engines that behave alike on SQLite and PostgreSQL, and the write lock SQLite offers instead
of row locks.

SQLite: SQLAlchemy emits BEGIN itself (the pysqlite recipe "Serializable isolation /
Savepoints / Transactional DDL"), so a transaction can be started as BEGIN IMMEDIATE when it
must hold the database's single write lock; WAL lets readers go on while somebody writes, and
a busy timeout makes a second writer wait instead of failing.
"""

from __future__ import annotations

import re
import sqlite3
import time
from typing import Any

from sqlalchemy import Table, event
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import URL, Connection, Engine, create_engine, make_url
from sqlalchemy.orm import Session

BUSY_TIMEOUT_MS = 30_000
MIN_SQLITE = (3, 35)
BEGIN_MODE = "kanglu_sqlite_begin"  # execution option: "IMMEDIATE" for a writer's transaction
_WROTE = "kanglu_wrote"  # connection info: this transaction already holds the write lock
_WRITE_STATEMENT = re.compile(r"^\s*(INSERT|UPDATE|DELETE|REPLACE)\b", re.IGNORECASE)


def make_engine(url: str | URL, **kwargs: Any) -> Engine:
    """An engine for a KANGLU_DATABASE_URL (sqlite:///… or postgresql+psycopg://…)."""
    url = make_url(url)
    if url.get_backend_name() == "sqlite":
        if sqlite3.sqlite_version_info < MIN_SQLITE:
            # UPDATE ... RETURNING (the job claim) arrived in 3.35 (March 2021).
            raise RuntimeError(
                f"Kanglu needs SQLite {'.'.join(map(str, MIN_SQLITE))} or newer; this Python has "
                f"{sqlite3.sqlite_version}. Use a newer Python build or PostgreSQL."
            )
        engine = create_engine(url, **kwargs)
        _configure_sqlite(engine)
        return engine
    kwargs.setdefault("pool_pre_ping", True)
    return create_engine(url, **kwargs)


def _configure_sqlite(engine: Engine) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # The driver must not BEGIN (or COMMIT before DDL) on its own: SQLAlchemy does it.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
        _use_wal(cursor)
        # NORMAL is safe with WAL (no corruption); a power cut may lose the last commits,
        # which the use cases redo: a page and its poll cursor commit together.
        cursor.execute("PRAGMA synchronous = NORMAL")
        cursor.execute("PRAGMA foreign_keys = ON")
        # Freed space is zeroed: after `kanglu keys rotate`, old ciphertexts do not linger
        # in the file's free pages.
        cursor.execute("PRAGMA secure_delete = ON")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(connection: Connection) -> None:
        immediate = connection.get_execution_options().get(BEGIN_MODE) == "IMMEDIATE"
        connection.info[_WROTE] = immediate
        # Straight to the driver: a BEGIN per unit of work through SQLAlchemy's statement
        # machinery (events, cursor, result) cost ~4 % of a quiet poll's CPU.
        connection.connection.driver_connection.execute("BEGIN IMMEDIATE" if immediate else "BEGIN")  # type: ignore[union-attr]

    @event.listens_for(engine, "before_cursor_execute")
    def _on_execute(connection: Connection, _cursor: Any, statement: str, *_args: Any) -> None:
        # The first write of a transaction takes SQLite's write lock until the end.
        if not connection.info.get(_WROTE) and _WRITE_STATEMENT.match(statement):
            connection.info[_WROTE] = True


def _use_wal(cursor: Any) -> None:
    """WAL is a property of the file, set by the first connection. Switching to it needs the
    file to itself and, unlike other locks, does not wait on the busy timeout: processes
    that open a new database together (web and worker at first start) retry for a while."""
    deadline = time.monotonic() + BUSY_TIMEOUT_MS / 1000
    while True:
        try:
            if cursor.execute("PRAGMA journal_mode").fetchone()[0] != "wal":
                cursor.execute("PRAGMA journal_mode = WAL")
            return
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) or time.monotonic() > deadline:
                raise
            time.sleep(0.01)


def hold_write_lock(session: Session) -> None:
    """Make the session's transaction exclusive among writers until it ends.

    On PostgreSQL this does nothing: callers lock rows (`FOR UPDATE`). On SQLite, whose only
    lock is the database's write lock, the transaction is made to hold it from now on: it
    already does if it wrote; if it only read so far, it is restarted as BEGIN IMMEDIATE
    (nothing is lost: pending changes were flushed and none were written, so the restart
    drops a read snapshot, and what is read next is read under the lock).
    """
    if session.get_bind().dialect.name != "sqlite":
        return
    session.flush()
    connection = session.connection()
    if connection.info.get(_WROTE):
        return
    session.rollback()
    session.connection(execution_options={BEGIN_MODE: "IMMEDIATE"})


def is_sqlite(engine_or_session: Engine | Session) -> bool:
    bind = engine_or_session.get_bind() if isinstance(engine_or_session, Session) else engine_or_session
    return bind.dialect.name == "sqlite"


def upsert_insert(dialect_name: str, table: Table) -> postgresql.Insert | sqlite.Insert:
    """An INSERT that takes ON CONFLICT clauses: both backends spell them the same way."""
    if dialect_name == "postgresql":
        return postgresql.insert(table)
    if dialect_name == "sqlite":
        return sqlite.insert(table)
    raise NotImplementedError(f"Kanglu runs on SQLite and PostgreSQL, not {dialect_name}")
