"""Creating and migrating the schema with Alembic, configured in code (no alembic.ini).

`upgrade_to_head` backs `kanglu db upgrade`; `upgrade_embedded_if_behind` is what the web app
and the worker call at start so that the embedded SQLite default needs no separate step.
Concurrent upgrades (web and worker starting together) are serialised: SQLite's write lock
(BEGIN IMMEDIATE) or a PostgreSQL advisory lock is taken before the current revision is read.

Developers add a revision with:
    KANGLU_DATABASE_URL=sqlite:///var/dev.sqlite3 python -m kanglu.adapters.sql.schema revision "what changed"
"""

from __future__ import annotations

import logging
import os
import sys
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import text
from sqlalchemy.engine import URL, Connection, Engine

from kanglu.adapters.sql.engine import BEGIN_MODE, make_engine

log = logging.getLogger(__name__)

MIGRATIONS = Path(__file__).with_name("migrations")
_ADVISORY_LOCK_KEY = 0x6B616E676C75  # "kanglu": one migration at a time per database


def alembic_config(connection: Connection | None = None, url: str | None = None) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    if url is not None:
        config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    if connection is not None:
        config.attributes["connection"] = connection
    return config


def head_revision() -> str | None:
    return ScriptDirectory.from_config(alembic_config()).get_current_head()


def current_revision(engine: Engine) -> str | None:
    with engine.connect() as connection:
        return MigrationContext.configure(connection).get_current_revision()


@contextmanager
def _engine(engine_or_url: Engine | str | URL) -> Iterator[Engine]:
    if isinstance(engine_or_url, Engine):
        yield engine_or_url
        return
    engine = make_engine(engine_or_url)
    try:
        yield engine
    finally:
        engine.dispose()


@contextmanager
def _migration_lock(engine: Engine) -> Iterator[Connection]:
    """A connection inside a transaction that no other migration can enter until it ends."""
    with engine.connect() as connection:
        sqlite = connection.dialect.name == "sqlite"
        if sqlite:
            connection.execution_options(**{BEGIN_MODE: "IMMEDIATE"})
            # Batch migrations rebuild a table on SQLite (copy, drop, rename): with foreign keys
            # on, the drop would cascade to every row that refers to it (rebuilding
            # erp_connections would delete every order). SQLite ignores this pragma inside a
            # transaction, so it is set on the driver's connection before BEGIN, and the keys
            # are checked before the commit instead.
            _sqlite_foreign_keys(connection, on=False)
        try:
            with connection.begin():
                if connection.dialect.name == "postgresql":
                    connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _ADVISORY_LOCK_KEY})
                yield connection
                if sqlite:
                    broken = connection.exec_driver_sql("PRAGMA foreign_key_check").fetchall()
                    if broken:
                        raise RuntimeError(f"the migration would break {len(broken)} foreign key(s): {broken[:5]}")
        finally:
            if sqlite:
                _sqlite_foreign_keys(connection, on=True)


def _sqlite_foreign_keys(connection: Connection, *, on: bool) -> None:
    driver = connection.connection.dbapi_connection
    assert driver is not None
    driver.execute(f"PRAGMA foreign_keys = {'ON' if on else 'OFF'}")


def upgrade_to_head(engine_or_url: Engine | str | URL) -> str | None:
    """Create or migrate the schema to the newest revision, in one transaction; returns it."""
    with _engine(engine_or_url) as engine, _migration_lock(engine) as connection:
        before = MigrationContext.configure(connection).get_current_revision()
        command.upgrade(alembic_config(connection), "head")
        after = MigrationContext.configure(connection).get_current_revision()
        if before != after:
            log.info("database schema upgraded", extra={"from_revision": before, "to_revision": after})
        return after


def upgrade_embedded_if_behind(engine_or_url: Engine | str | URL) -> bool:
    """At start of the web app and the worker: bring an embedded SQLite database to the head
    revision when it is behind (True when it was). PostgreSQL is left to `kanglu db
    upgrade`, run once per deployment; a schema behind there is only reported."""
    with _engine(engine_or_url) as engine:
        current, head = current_revision(engine), head_revision()
        if current == head:
            return False
        if engine.dialect.name != "sqlite":
            log.warning(
                "database schema is behind this version: run `kanglu db upgrade`",
                extra={"current_revision": current, "head_revision": head},
            )
            return False
        upgrade_to_head(engine)
        return True


def main(argv: Sequence[str] | None = None) -> int:
    """`revision MESSAGE`: autogenerate a new revision against KANGLU_DATABASE_URL."""
    args = list(sys.argv[1:] if argv is None else argv)
    if len(args) != 2 or args[0] != "revision":
        print(__doc__)
        return 2
    url = os.environ.get("KANGLU_DATABASE_URL")
    if not url:
        print("set KANGLU_DATABASE_URL to a database migrated to the current head")
        return 2
    command.revision(alembic_config(url=url), message=args[1], autogenerate=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
