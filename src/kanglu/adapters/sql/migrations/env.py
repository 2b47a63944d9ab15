"""Alembic's environment: runs on the connection `schema.py` hands over (already inside a
transaction that holds the migration lock), or on `sqlalchemy.url` from the command line."""

from __future__ import annotations

from alembic import context
from sqlalchemy.engine import Connection

from kanglu.adapters.sql import search
from kanglu.adapters.sql.engine import make_engine
from kanglu.adapters.sql.tables import metadata

config = context.config


def _configure(
    *, connection: Connection | None = None, url: str | None = None, render_as_batch: bool = False,
    literal_binds: bool = False,
) -> None:
    context.configure(
        connection=connection,
        url=url,
        target_metadata=metadata,
        compare_type=True,
        # The engine emits BEGIN itself on SQLite too, so DDL there is transactional: a
        # failed migration leaves the schema as it was.
        transactional_ddl=True,
        # The search index objects (FTS5 table, trigram index) are not in the metadata.
        include_name=search.include_name,
        render_as_batch=render_as_batch,
        literal_binds=literal_binds,
    )


def _url() -> str:
    url = config.get_main_option("sqlalchemy.url")
    if not url:
        raise SystemExit("no database: give `sqlalchemy.url` (alembic -x or the ini file)")
    return url


def _run(connection: Connection) -> None:
    _configure(connection=connection, render_as_batch=connection.dialect.name == "sqlite")
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_offline() -> None:
    _configure(url=_url(), literal_binds=True)
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    connection = config.attributes.get("connection")
    if connection is not None:
        _run(connection)
        return
    engine = make_engine(_url())
    try:
        with engine.connect() as connection:
            _run(connection)
            connection.commit()
    finally:
        engine.dispose()


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
