"""Indexes for substring search of customers' names (the order and customer searches).

`customers.search_name LIKE '%silva%'` reads every customer of the merchant without them. So:

- PostgreSQL: a GIN index with pg_trgm's trigram operator class, which the planner uses for
  that very LIKE. pg_trgm is an extension: migration 0008 creates it (trusted since PostgreSQL
  13, so a database owner may), and says plainly what to do where that is not allowed.
- SQLite: an FTS5 table with the trigram tokenizer (SQLite ≥ 3.34) over the same column,
  external content (the text is not stored twice), kept in sync by triggers; the search asks
  it for the matching customer ids (`name_matches`).

A trigram index cannot serve fewer than 3 characters: such searches use LIKE, as before.

These objects are not in the SQLAlchemy metadata (a virtual table, triggers, an operator class
of an extension): `install()` creates them (the migration, and `metadata.create_all` through
an event, for tests), and `include_name` keeps Alembic's autogenerate from reporting them.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import ColumnElement, Select, event, literal_column, select, text
from sqlalchemy.engine import Connection
from sqlalchemy.exc import DBAPIError

from kanglu.adapters.sql import tables as t

MIN_TRIGRAM_CHARS = 3
FTS_TABLE = "customers_search"
PG_INDEX = "ix_customers_search_name_trgm"

_SQLITE_DDL = [
    f"CREATE VIRTUAL TABLE IF NOT EXISTS {FTS_TABLE} USING fts5("
    "search_name, content='customers', content_rowid='id', tokenize='trigram')",  # nosec B608 - a constant
    f"""CREATE TRIGGER IF NOT EXISTS {FTS_TABLE}_insert AFTER INSERT ON customers BEGIN
        INSERT INTO {FTS_TABLE}(rowid, search_name) VALUES (new.id, new.search_name);
    END""",  # nosec B608 - FTS_TABLE is this module's constant: no input reaches the DDL
    f"""CREATE TRIGGER IF NOT EXISTS {FTS_TABLE}_delete AFTER DELETE ON customers BEGIN
        INSERT INTO {FTS_TABLE}({FTS_TABLE}, rowid, search_name) VALUES ('delete', old.id, old.search_name);
    END""",  # nosec B608 - FTS_TABLE is this module's constant: no input reaches the DDL
    f"""CREATE TRIGGER IF NOT EXISTS {FTS_TABLE}_update AFTER UPDATE OF search_name ON customers BEGIN
        INSERT INTO {FTS_TABLE}({FTS_TABLE}, rowid, search_name) VALUES ('delete', old.id, old.search_name);
        INSERT INTO {FTS_TABLE}(rowid, search_name) VALUES (new.id, new.search_name);
    END""",  # nosec B608 - FTS_TABLE is this module's constant: no input reaches the DDL
    # What was there before the table (a migrated database's customers).
    f"INSERT INTO {FTS_TABLE}({FTS_TABLE}) VALUES ('rebuild')",  # nosec B608 - a constant
]

PG_TRGM_REFUSED = (
    "PostgreSQL refused `CREATE EXTENSION pg_trgm` ({error}). Kanglu's search needs it (a trigram "
    "index on customers' names). Ask the database's owner (or a superuser) to run, once, in this "
    "database: CREATE EXTENSION pg_trgm; then run the migration again."
)


class SearchIndexUnavailable(RuntimeError):
    pass


def install(connection: Connection) -> None:
    """Create the search objects on this connection's database (idempotent)."""
    if connection.dialect.name == "sqlite":
        for statement in _SQLITE_DDL:
            connection.exec_driver_sql(statement)
    elif connection.dialect.name == "postgresql":
        schema = _pg_trgm_schema(connection)
        connection.exec_driver_sql(
            f'CREATE INDEX IF NOT EXISTS {PG_INDEX} ON customers USING gin (search_name "{schema}".gin_trgm_ops)'
        )


def uninstall(connection: Connection) -> None:
    """Drop them (the migration's downgrade). pg_trgm itself stays: other things may use it."""
    if connection.dialect.name == "sqlite":
        for suffix in ("insert", "delete", "update"):
            connection.exec_driver_sql(f"DROP TRIGGER IF EXISTS {FTS_TABLE}_{suffix}")
        connection.exec_driver_sql(f"DROP TABLE IF EXISTS {FTS_TABLE}")
    elif connection.dialect.name == "postgresql":
        connection.exec_driver_sql(f"DROP INDEX IF EXISTS {PG_INDEX}")


def _pg_trgm_schema(connection: Connection) -> str:
    """Where pg_trgm lives, creating it if needed. In `public` when Kanglu creates it: a
    deployment (or a test) that works in its own schema must not own the extension, which
    exists once per database."""
    found = _installed_in(connection)
    if found:
        return found
    try:
        with connection.begin_nested():
            connection.exec_driver_sql("CREATE EXTENSION IF NOT EXISTS pg_trgm WITH SCHEMA public")
    except DBAPIError as exc:
        found = _installed_in(connection)  # another session created it meanwhile
        if found:
            return found
        raise SearchIndexUnavailable(PG_TRGM_REFUSED.format(error=str(exc.orig).strip().splitlines()[0])) from exc
    return _installed_in(connection) or "public"


def _installed_in(connection: Connection) -> str | None:
    return connection.execute(
        text("SELECT n.nspname FROM pg_extension e JOIN pg_namespace n ON n.oid = e.extnamespace "
             "WHERE e.extname = 'pg_trgm'")
    ).scalar()


def include_name(name: str | None, type_: str, parent_names: Any) -> bool:
    """Alembic's filter: the search objects are not the metadata's to compare."""
    if name is None:
        return True
    if type_ == "table":
        return not (name == FTS_TABLE or name.startswith(FTS_TABLE + "_"))
    if type_ == "index":
        return name != PG_INDEX
    return True


def name_matches(dialect: str, name: str) -> ColumnElement[bool]:
    """Customers whose search_name contains `name` (already normalised: only [a-z0-9 ])."""
    c = t.customers.c
    matching = matching_ids(dialect, name)
    if matching is None:
        # PostgreSQL's planner takes the trigram index for this LIKE by itself.
        return c.search_name.contains(name, autoescape=False)
    return c.id.in_(matching)


def matching_ids(dialect: str, name: str) -> Select[Any] | None:
    """On SQLite, the ids of every customer (of any merchant) whose name contains `name`,
    straight from the FTS5 table; None where a LIKE on customers is the way."""
    if dialect != "sqlite" or len(name) < MIN_TRIGRAM_CHARS:
        return None
    phrase = '"' + name.replace('"', '""') + '"'
    return select(literal_column("rowid")).select_from(text(FTS_TABLE)).where(
        text(f"{FTS_TABLE} MATCH :phrase").bindparams(phrase=phrase)
    )


@event.listens_for(t.metadata, "after_create")
def _after_create(_target: Any, connection: Connection, **_kw: Any) -> None:
    install(connection)
