"""Substring search of customers' names, and the order search built on it.

`customers.search_name LIKE '%silva%'` reads every customer of the merchant without them. So:

- PostgreSQL: a GIN index with pg_trgm's trigram operator class, which the planner uses for
  that very LIKE. pg_trgm is an extension: migration 0008 creates it (trusted since PostgreSQL
  13, so a database owner may), and says plainly what to do where that is not allowed.
- SQLite: an FTS5 table with the trigram tokenizer (SQLite ≥ 3.34) over the same column,
  external content (the text is not stored twice), kept in sync by triggers; the search asks
  it for the matching customer ids, or joins its matches to the customers.

A trigram index cannot serve fewer than 3 characters: such searches use LIKE, as before.

`OrderSearch` is the order list's search: each of its lookups (order number, e-commerce
number, tracking code, name, document, e-mail) on its own index, a count that stops at the
cap, and, for a search with many matches, a walk of the newest orders. Its statements are
built once for each shape of search (SearchShape) and run with the search's values.

These objects are not in the SQLAlchemy metadata (a virtual table, triggers, an operator class
of an extension): `install()` creates them (the migration, and `metadata.create_all` through
an event, for tests), and `include_name` keeps Alembic's autogenerate from reporting them.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Mapping
from typing import Any

import attrs
from sqlalchemy import (
    ColumnElement,
    FromClause,
    Integer,
    Select,
    and_,
    bindparam,
    column,
    event,
    func,
    literal,
    or_,
    select,
    table,
    text,
    true,
    union,
    union_all,
)
from sqlalchemy.engine import Connection
from sqlalchemy.exc import DBAPIError

from kanglu.adapters.sql import tables as t
from kanglu.domain.customers import normalise_email
from kanglu.domain.shipping import normalise_name

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


_FTS = table(FTS_TABLE, column("rowid"))
# The FTS5 matches of a name, the phrase bound as :phrase (see OrderSearch.of).
_FTS_MATCH = text(f"{FTS_TABLE} MATCH :phrase")
_DOCUMENT_SEPARATORS = re.compile(r"[\s./\-]")
# A walk this shallow checks each order's customer row (a primary-key lookup) instead of
# first reading every customer that matches (see walked).
PER_ROW_WALK_BELOW = 100


def searched_name(q: str) -> str | None:
    """The name q may be part of, normalised; None when q cannot name anybody. A single token
    with digits (a number, a tracking code, a document) never names anybody, so names are not
    searched for it: that search reads every customer of the merchant."""
    name = normalise_name(q)
    looks_like_a_code = " " not in q and any(ch.isdigit() for ch in q)
    return name if name and any(ch.isalpha() for ch in name) and not looks_like_a_code else None


@attrs.frozen
class SearchShape:
    """What the statements of a search depend on besides the values bound into them: the
    dialect, and which lookups q calls for. Its statements are built once per shape and run
    with the search's values (OrderSearch.values): building them at each request (and their
    cache keys) cost SQLAlchemy more than SQLite took to run them."""

    dialect: str
    name: str | None  # "fts": SQLite's trigram table; "like": LIKE on the name; None: q names nobody
    document: bool  # q may be a CPF or CNPJ
    email: bool  # q may be an e-mail address


def _merchants_customer(c: Any) -> ColumnElement[bool]:
    return c.merchant_id == bindparam("merchant_id")


@functools.cache
def _customer_condition(shape: SearchShape, like: bool) -> ColumnElement[bool] | None:
    """Customers of the merchant whose name contains the name searched, or whose CPF/CNPJ or
    e-mail is q; the name through the FTS5 matches on SQLite (on PostgreSQL the planner takes
    the trigram index for the LIKE itself), or, `like`, a LIKE to check on one customer's row."""
    c = t.customers.c
    conditions: list[ColumnElement[bool]] = []
    if shape.name == "fts" and not like:
        conditions.append(c.id.in_(select(_FTS.c.rowid).where(_FTS_MATCH)))
    elif shape.name is not None:
        # normalise_name leaves only [a-z0-9 ], so nothing in the name is a LIKE wildcard.
        conditions.append(c.search_name.contains(bindparam("name"), autoescape=False))
    if shape.document:
        conditions.append(c.document == bindparam("document"))
    if shape.email:
        conditions.append(c.email == bindparam("email"))
    return _merchants_customer(c) & or_(*conditions) if conditions else None


def customer_search(
    merchant_id: int, q: str, dialect: str
) -> tuple[ColumnElement[bool], Mapping[str, object]] | None:
    """Customers of the merchant whose name contains q (accents and case ignored), or whose
    CPF/CNPJ or e-mail is q, each through its index: the condition and the values to run it
    with; None when q can find nobody."""
    found = OrderSearch.of(merchant_id, q, dialect)
    condition = _customer_condition(found.shape, like=False)
    return (condition, found.values) if condition is not None else None


@functools.cache
def _exact_lookups() -> tuple[Select[Any], ...]:
    """The merchant's orders whose number, e-commerce number or tracking code is q."""
    o = t.orders.c
    mine = o.merchant_id == bindparam("merchant_id")
    return (
        select(o.id).where(mine, o.number == bindparam("q")),
        select(o.id).where(mine, o.ecommerce_number.in_([bindparam("q"), bindparam("q_upper")])),
        select(o.id).where(mine, o.tracking_code == bindparam("tracking_code")),
    )


@functools.cache
def _customer_lookups(shape: SearchShape) -> tuple[Select[Any], ...]:
    """The merchant's customers q finds, as one select of ids per index: the name's (on
    SQLite the FTS5 matches joined to their customers, which streams where an IN list of them
    would be read whole first), (merchant, document), (merchant, e-mail)."""
    c = t.customers.c
    mine = _merchants_customer(c)
    lookups: list[Select[Any]] = []
    if shape.name == "fts":
        # `merchant_id + 0`: no index of customers fits it, so SQLite reads the FTS5 matches
        # first and each one's customer by its id (through the merchant index it would read every
        # customer of the merchant, running the MATCH once for each).
        lookups.append(select(c.id).select_from(_FTS.join(t.customers, c.id == _FTS.c.rowid))
                       .where(_FTS_MATCH, c.merchant_id + 0 == bindparam("merchant_id")))
    elif shape.name == "like":
        lookups.append(select(c.id).where(mine, c.search_name.contains(bindparam("name"), autoescape=False)))
    if shape.document:
        lookups.append(select(c.id).where(mine, c.document == bindparam("document")))
    if shape.email:
        lookups.append(select(c.id).where(mine, c.email == bindparam("email")))
    return tuple(lookups)


@functools.cache
def matches(shape: SearchShape) -> ColumnElement[bool]:
    """The matches as a UNION of indexed lookups (the exact ones; the orders of the customers
    found): each branch uses its own index, where one WHERE with ORs would read every order of
    the merchant. For a few matches, sorted afterwards."""
    o = t.orders.c
    branches = list(_exact_lookups())
    if lookups := _customer_lookups(shape):
        branches.append(select(o.id).where(o.customer_id.in_(union(*lookups))))
    return o.id.in_(union(*branches))


def _their_orders(dialect: str, lookup: Select[Any]) -> Select[Any]:
    """The orders of the customers a lookup finds, customer by customer (each customer's
    orders through their index), so that a LIMIT stops the customers' scan too. On
    PostgreSQL the orders' lookup is a LATERAL subquery with OFFSET 0, which keeps the
    planner from hashing every matching customer first (a read of all their rows)."""
    o = t.orders.c
    found = lookup.subquery()
    if dialect != "postgresql":
        return select(o.id).select_from(found.join(t.orders, o.customer_id == found.c.id))
    theirs = select(o.id.label("id")).where(o.customer_id == found.c.id).offset(0).lateral()
    return select(theirs.c.id).select_from(found.join(theirs, true()))


@functools.cache
def _counts(shape: SearchShape) -> tuple[Select[Any], Select[Any]]:
    """The two counts of OrderSearch.count, each stopping at :count_limit: the exact lookups'
    orders and the customers' orders apart, and the UNION of every branch."""
    branches = [_their_orders(shape.dialect, lookup) for lookup in _customer_lookups(shape)]
    theirs = (branches[0] if len(branches) == 1 else union_all(*branches)) if branches else None
    limit = bindparam("count_limit", type_=Integer)
    exact = select(func.count()).select_from(union(*_exact_lookups()).subquery()).scalar_subquery()
    by_customer = (select(func.count()).select_from(theirs.limit(limit).subquery()).scalar_subquery()
                   if theirs is not None else literal(0))
    every = union(*_exact_lookups(), *branches).limit(limit).subquery()
    return select(exact, by_customer), select(func.count()).select_from(every)


@functools.cache
def walked(shape: SearchShape, per_row: bool) -> tuple[FromClause, ColumnElement[bool]]:
    """The same orders as `matches`, as what to read and a condition to check on each order
    while walking the merchant's orders newest first: for a search with thousands of matches
    (a common surname) the page's twenty are among the first few hundred walked, where the
    UNION would fetch and sort every match. Near the top (`per_row`: an offset below
    PER_ROW_WALK_BELOW) each order's customer row is joined and checked, a primary-key lookup
    for each of a few hundred orders; deeper, the matching customers are read once (on SQLite
    the FTS5 matches alone: a customer of another merchant never owns this merchant's orders)
    and each order's customer looked up among them."""
    o, c = t.orders.c, t.customers.c
    found: list[ColumnElement[bool]] = [o.id.in_(union(*_exact_lookups()))]
    source: FromClause = t.orders
    lookups = _customer_lookups(shape)
    if per_row:
        source = t.orders.outerjoin(t.customers, c.id == o.customer_id)
        checked = _customer_condition(shape, like=True)
        found += [checked] if checked is not None else []
    elif shape.name == "fts":  # the FTS5 matches, then the lookups of documents and e-mails
        found += [o.customer_id.in_(select(_FTS.c.rowid).where(_FTS_MATCH)),
                  *(o.customer_id.in_(lookup) for lookup in lookups[1:])]
    elif lookups:
        found.append(o.customer_id.in_(union(*lookups)))
    return source, and_(o.merchant_id == bindparam("merchant_id"), or_(*found))


@attrs.frozen
class OrderSearch:
    """A search of one merchant's orders: its shape (which lookups it makes: order number,
    e-commerce number, tracking code, each on its own index, and the customers' name, document
    and e-mail, each on its own index too) and the values its statements are run with
    (`matches` and `walked` of its shape, and its count)."""

    shape: SearchShape
    values: Mapping[str, object]  # by bind parameter

    @property
    def by_name(self) -> bool:
        """q may name somebody: the search may find many orders (the others find a few)."""
        return self.shape.name is not None

    @classmethod
    def of(cls, merchant_id: int, q: str, dialect: str) -> OrderSearch:
        name = searched_name(q)
        document = _DOCUMENT_SEPARATORS.sub("", q).upper()
        email = normalise_email(q)
        kind = None if name is None else "fts" if dialect == "sqlite" and len(name) >= MIN_TRIGRAM_CHARS else "like"
        values = {
            "merchant_id": merchant_id, "q": q, "q_upper": q.upper(), "tracking_code": re.sub(r"\s", "", q).upper(),
            "name": name, "phrase": '"' + (name or "").replace('"', '""') + '"', "document": document, "email": email,
        }
        return cls(SearchShape(dialect, kind, len(document) in (11, 14), bool(email)), values)

    def count(self, connection: Connection, cap: int) -> int:
        """How many orders match, up to cap + 1, reading no further. One statement counts
        the exact lookups' orders (a few, de-duplicated) and, apart, the customers' orders up
        to cap + 1: counted apart, that count needs nothing but the orders' customer index
        (PostgreSQL reads no order row), and stops the customers' scan at cap + 1 orders.
        Only where both found some, or several lookups found customers, is the UNION of
        every branch counted (an order found twice counts once)."""
        apart, every = _counts(self.shape)
        values = {**self.values, "count_limit": cap + 1}
        found, by_customers = connection.execute(apart, values).one()
        single = len(_customer_lookups(self.shape)) == 1  # one lookup's customers own distinct orders
        if by_customers > cap and single:
            return cap + 1
        if (not found and single) or not by_customers:
            return min(int(found + by_customers), cap + 1)
        return int(connection.execute(every, values).scalar_one())


@event.listens_for(t.metadata, "after_create")
def _after_create(_target: Any, connection: Connection, **_kw: Any) -> None:
    install(connection)
