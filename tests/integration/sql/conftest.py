"""Fixtures: every test runs on SQLite (a fresh file) and on PostgreSQL (a private schema,
emptied before each test) when KANGLU_TEST_POSTGRES_URL is set; it is skipped, saying so,
otherwise."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest
from sqlalchemy import text
from sqlalchemy.engine import Engine, make_url

from kanglu.adapters.sql.engine import make_engine
from kanglu.adapters.sql.tables import metadata
from kanglu.adapters.sql.unit_of_work import SqlUnitOfWorkFactory
from tests.integration.sql.helpers import SqlWorld

POSTGRES_URL = os.environ.get("KANGLU_TEST_POSTGRES_URL")
NO_POSTGRES = "KANGLU_TEST_POSTGRES_URL is unset: PostgreSQL tests skipped"
BACKENDS = ["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)]


def postgres_url_in(schema: str) -> str:
    """KANGLU_TEST_POSTGRES_URL, working inside `schema` (tests never touch `public`, which
    other suites sharing the database may use)."""
    assert POSTGRES_URL
    url = make_url(POSTGRES_URL)
    return url.update_query_dict({"options": f"-csearch_path={schema}"}).render_as_string(hide_password=False)


def postgres_engine_in(schema: str, **kwargs: object) -> Engine:
    return make_engine(postgres_url_in(schema), **kwargs)


def create_schema(schema: str) -> None:
    admin = make_engine(POSTGRES_URL)  # type: ignore[arg-type]
    with admin.begin() as connection:
        connection.execute(text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
        connection.execute(text(f'CREATE SCHEMA "{schema}"'))
    admin.dispose()


def drop_schema(schema: str) -> None:
    admin = make_engine(POSTGRES_URL)  # type: ignore[arg-type]
    with admin.begin() as connection:
        connection.execute(text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
    admin.dispose()


def private_schema_name(label: str) -> str:
    worker = os.environ.get("PYTEST_XDIST_WORKER", "main")
    return f"kanglu_sqltest_{label}_{worker}_{os.getpid()}"


@pytest.fixture(scope="session")
def postgres_engine() -> Iterator[Engine]:
    if not POSTGRES_URL:
        pytest.skip(NO_POSTGRES)
    schema = private_schema_name("shared")
    create_schema(schema)
    engine = postgres_engine_in(schema)
    metadata.create_all(engine)
    yield engine
    engine.dispose()
    drop_schema(schema)


def empty_postgres(engine: Engine) -> None:
    # DELETE and restarted sequences: several times faster than TRUNCATE on tiny tables.
    with engine.begin() as connection:
        for table in reversed(metadata.sorted_tables):
            connection.execute(table.delete())
        sequences = connection.scalars(
            text("SELECT sequence_name FROM information_schema.sequences WHERE sequence_schema = current_schema()")
        ).all()
        for sequence in sequences:
            connection.execute(text(f'ALTER SEQUENCE "{sequence}" RESTART'))


@pytest.fixture(params=BACKENDS)
def engine(request: pytest.FixtureRequest, tmp_path) -> Iterator[Engine]:  # type: ignore[no-untyped-def]
    if request.param == "sqlite":
        engine = make_engine(f"sqlite:///{tmp_path / 'kanglu.sqlite3'}")
        metadata.create_all(engine)
        yield engine
        engine.dispose()
    else:
        engine = request.getfixturevalue("postgres_engine")
        empty_postgres(engine)
        yield engine


@pytest.fixture(params=BACKENDS)
def empty_database_url(request: pytest.FixtureRequest, tmp_path) -> Iterator[str]:  # type: ignore[no-untyped-def]
    """The URL of a database with no tables at all (for migrations and the CLI)."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'kanglu.sqlite3'}"
        return
    if not POSTGRES_URL:
        pytest.skip(NO_POSTGRES)
    schema = private_schema_name(f"empty{tmp_path.name[-12:]}".lower().replace("-", "_"))
    create_schema(schema)
    yield postgres_url_in(schema)
    drop_schema(schema)


@pytest.fixture
def uow(engine: Engine) -> SqlUnitOfWorkFactory:
    return SqlUnitOfWorkFactory(engine)


@pytest.fixture
def world(uow: SqlUnitOfWorkFactory) -> SqlWorld:
    return SqlWorld(uow=uow)
