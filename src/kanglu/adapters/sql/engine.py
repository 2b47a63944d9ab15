"""Engines that behave alike on SQLite and PostgreSQL, and the write lock SQLite offers instead
of row locks.

SQLite: SQLAlchemy emits BEGIN itself (the pysqlite recipe "Serializable isolation /
Savepoints / Transactional DDL"), so a transaction can be started as BEGIN IMMEDIATE when it
must hold the database's single write lock; WAL lets readers go on while somebody writes, and
a busy timeout makes a second writer wait instead of failing.
"""

from __future__ import annotations

import os
import re
import sqlite3
import stat
import time
from typing import Any

from sqlalchemy import Table, event
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import URL, Connection, Engine, create_engine, make_url
from sqlalchemy.exc import DisconnectionError
from sqlalchemy.orm import Session

BUSY_TIMEOUT_MS = 30_000
PING_AFTER_IDLE_SECONDS = 5.0
_IDLE_SINCE = "kanglu_idle_since"  # connection record info: when it went back to the pool
MIN_SQLITE = (3, 35)
BEGIN_MODE = "kanglu_sqlite_begin"  # execution option: "IMMEDIATE" for a writer's transaction
_WROTE = "kanglu_wrote"  # connection info: this transaction already holds the write lock
WRITE_STATEMENT = re.compile(r"^\s*(INSERT|UPDATE|DELETE|REPLACE)\b", re.IGNORECASE)


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
        if url.database and url.database != ":memory:" and not url.database.startswith("file:"):
            private_database_file(url.database)
        engine = create_engine(url, **kwargs)
        _configure_sqlite(engine)
        return engine
    engine = create_engine(url, **kwargs)
    _ping_after_idle(engine)
    return engine


def private_database_file(path: str) -> None:
    """The SQLite file holds customers' CPFs and addresses: readable by its owner only.

    Created 0600 before SQLite opens it; SQLite gives its -wal and -shm files the database
    file's permissions. A file an older version created 0644 is tightened (with its -wal and
    -shm) when it belongs to this user."""
    if not os.path.isdir(os.path.dirname(os.path.abspath(path))):
        return  # SQLite itself reports the missing folder ("unable to open database file")
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    os.close(fd)
    for name in (path, f"{path}-wal", f"{path}-shm", f"{path}-journal"):
        try:
            info = os.stat(name)
        except FileNotFoundError:
            continue
        if info.st_uid == os.getuid() and stat.S_IMODE(info.st_mode) & 0o077:
            os.chmod(name, 0o600)


def _ping_after_idle(engine: Engine) -> None:
    """Check a pooled connection before use when it has sat idle for a while: a database
    restarted, or a firewall that dropped an idle connection, then costs a reconnection
    instead of a failed unit of work.

    Not `pool_pre_ping`, which pings at every checkout: a worker checks a connection out two
    or three times per poll, and each ping is a round trip to the server. A connection in
    steady use was alive a moment ago; if the server went away since, the first statement
    fails, SQLAlchemy discards the whole pool, and the job is retried. (The "pessimistic
    disconnect handling" recipe of SQLAlchemy's pooling documentation, with an idle bound.)
    """

    @event.listens_for(engine, "checkin")
    def _on_checkin(_dbapi_connection: Any, record: Any) -> None:
        record.info[_IDLE_SINCE] = time.monotonic()

    @event.listens_for(engine, "checkout")
    def _on_checkout(dbapi_connection: Any, record: Any, _proxy: Any) -> None:
        idle_since = record.info.get(_IDLE_SINCE)
        after = engine.info_ping_after if hasattr(engine, "info_ping_after") else PING_AFTER_IDLE_SECONDS
        if idle_since is None or time.monotonic() - idle_since < after:
            return
        try:
            _ping(dbapi_connection)
        except engine.dialect.loaded_dbapi.Error as exc:
            raise DisconnectionError("idle connection failed its ping") from exc  # the pool opens another


def ping_on_every_checkout(engine: Engine) -> None:
    """The web's choice: a ping at every checkout (PostgreSQL), so that no merchant's request
    meets a connection the server dropped a moment ago and answers 500. A page costs two or
    three checkouts, each ping one local round trip (bench figures in SECURITY.md); the
    worker, whose hot path checks out far more often, keeps the idle bound."""
    if engine.dialect.name != "sqlite":
        engine.info_ping_after = 0.0  # type: ignore[attr-defined]


def _ping(dbapi_connection: Any) -> None:
    """SELECT 1 outside a transaction: psycopg would otherwise begin one, and the connection
    would be handed out in it (a reading unit of work could then not switch to autocommit)."""
    autocommit = dbapi_connection.autocommit
    dbapi_connection.autocommit = True
    try:
        cursor = dbapi_connection.cursor()
        try:
            cursor.execute("SELECT 1")
        finally:
            cursor.close()
    finally:
        dbapi_connection.autocommit = autocommit


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
        if not connection.info.get(_WROTE) and WRITE_STATEMENT.match(statement):
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
