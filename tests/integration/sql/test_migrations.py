"""Alembic: one head, migrations shipped in the package, and a migrated database that the
tables agree with (autogenerate finds nothing to do) on both backends."""

from __future__ import annotations

import logging
import threading
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import inspect

from kanglu.adapters.sql import search
from kanglu.adapters.sql.engine import make_engine
from kanglu.adapters.sql.revision import HEAD_REVISION, at_head, stored_revision
from kanglu.adapters.sql.schema import (
    MIGRATIONS,
    alembic_config,
    current_revision,
    head_revision,
    upgrade_embedded_if_behind,
    upgrade_to_head,
)
from kanglu.adapters.sql.tables import metadata


def test_a_single_head() -> None:
    assert len(ScriptDirectory.from_config(alembic_config()).get_heads()) == 1


def test_the_head_written_down_for_process_starts_is_alembics() -> None:
    # A new migration must bump HEAD_REVISION, or every start would load Alembic to find it out.
    assert HEAD_REVISION == head_revision()


def test_a_database_is_at_head_only_once_upgraded(empty_database_url: str) -> None:
    engine = make_engine(empty_database_url)
    try:
        assert (stored_revision(engine), at_head(engine)) == (None, False)
        upgrade_to_head(engine)
        assert (stored_revision(engine), at_head(engine)) == (current_revision(engine), True)
    finally:
        engine.dispose()


def test_migrations_live_inside_the_package() -> None:
    import kanglu

    package = Path(kanglu.__file__).parent
    assert MIGRATIONS.is_relative_to(package)
    for name in ("env.py", "script.py.mako", "__init__.py", "versions/__init__.py"):
        assert (MIGRATIONS / name).is_file(), name
    # Package data reaches the wheel through pyproject's globs: *.mako is listed, and the
    # .py files are in packages (both directories have an __init__.py).
    pyproject = (package.parent.parent / "pyproject.toml").read_text(encoding="utf-8")
    assert '"**/*.mako"' in pyproject


def test_upgrade_creates_the_schema_the_tables_describe(empty_database_url: str) -> None:
    engine = make_engine(empty_database_url)
    try:
        assert upgrade_to_head(engine) == head_revision()
        assert upgrade_to_head(engine) == head_revision()  # nothing to do the second time
        with engine.connect() as connection:
            context = MigrationContext.configure(
                connection, opts={"compare_type": True, "compare_server_default": True,
                                  "include_name": search.include_name}
            )
            assert compare_metadata(context, metadata) == []
            tables = {name for name in inspect(connection).get_table_names() if search.include_name(name, "table", {})}
            assert tables == set(metadata.tables) | {"alembic_version"}
    finally:
        engine.dispose()


def test_downgrade_to_nothing_and_back(empty_database_url: str) -> None:
    from alembic import command

    engine = make_engine(empty_database_url)
    try:
        upgrade_to_head(engine)
        with engine.begin() as connection:
            command.downgrade(alembic_config(connection), "base")
        with engine.connect() as connection:
            assert set(inspect(connection).get_table_names()) == {"alembic_version"}
        assert upgrade_to_head(engine) == head_revision()
    finally:
        engine.dispose()


def test_concurrent_upgrades_wait_for_each_other(empty_database_url: str) -> None:
    results: list[object] = []

    def upgrade() -> None:
        try:
            results.append(upgrade_to_head(empty_database_url))
        except Exception as exc:  # noqa: BLE001 - the assertion below shows it
            results.append(exc)

    threads = [threading.Thread(target=upgrade) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert results == [head_revision()] * 3


def test_the_embedded_database_is_upgraded_at_start_only_when_behind(tmp_path) -> None:  # type: ignore[no-untyped-def]
    url = f"sqlite:///{tmp_path / 'kanglu.sqlite3'}"
    assert upgrade_embedded_if_behind(url) is True
    assert upgrade_embedded_if_behind(url) is False
    engine = make_engine(url)
    assert current_revision(engine) == head_revision()
    engine.dispose()


def test_postgresql_behind_is_reported_not_upgraded(empty_database_url: str, caplog) -> None:  # type: ignore[no-untyped-def]
    engine = make_engine(empty_database_url)
    try:
        if engine.dialect.name == "sqlite":
            pytest.skip("the embedded SQLite case is the test above")
        with caplog.at_level(logging.WARNING):
            assert upgrade_embedded_if_behind(engine) is False
        assert "kanglu db upgrade" in caplog.text
        assert current_revision(engine) is None
    finally:
        engine.dispose()


def test_0002_masks_recorded_failures_and_drops_non_https_tracking_links(empty_database_url: str) -> None:
    import json

    from alembic import command
    from sqlalchemy import text

    engine = make_engine(empty_database_url)
    try:
        with engine.begin() as connection:
            command.upgrade(alembic_config(connection), "0001")
            connection.execute(text(
                "INSERT INTO merchants (id, name, email, created_at) VALUES (1, 'Loja', 'l@x.com', '2026-07-01')"))
            connection.execute(text(
                "INSERT INTO erp_connections (id, merchant_id, erp, status, token_version, refresh_failures) "
                "VALUES (1, 1, 'tiny', 'connected', 0, 0)"))
            raw = {"id": 5, "numeroPedido": 10005, "cliente": {"nome": "Ana Souza", "cpfCnpj": "123.456.789-09",
                                                               "email": "ana@exemplo.com", "celular": "(11) 98888-7777"}}
            connection.execute(
                text("INSERT INTO import_failures (connection_id, erp_order_id, reason, raw, first_seen_at, last_seen_at)"
                     " VALUES (1, 5, 'CPF inválido', :raw, '2026-07-01', '2026-07-01')"),
                {"raw": json.dumps(raw)},
            )
            for erp_id, url in ((1, "javascript:alert(1)"), (2, "https://www.loggi.com/rastreador/X")):
                connection.execute(text(
                    "INSERT INTO orders (merchant_id, connection_id, erp_order_id, situacao, imported_at, updated_at,"
                    " total, created_at, shipping, tracking_status, fingerprint, tracking_url) VALUES (1, 1, :id, 5,"
                    " '2026-07-01', '2026-07-01', 10, '2026-07-01', '{}', 'waiting_data', '', :url)"),
                    {"id": erp_id, "url": url})
        assert upgrade_to_head(engine) == head_revision()
        with engine.connect() as connection:
            row = connection.execute(text("SELECT raw, number, customer_name FROM import_failures")).one()
            stored = row.raw if isinstance(row.raw, dict) else json.loads(row.raw)
            assert (row.number, row.customer_name) == ("10005", "Ana Souza")
            text_of = json.dumps(stored)
            assert "123.456.789-09" not in text_of and "ana@exemplo.com" not in text_of and "98888" not in text_of
            assert stored["cliente"]["nome"] == "Ana Souza" and stored["id"] == 5
            urls = dict(connection.execute(text("SELECT erp_order_id, tracking_url FROM orders")).all())
            assert urls == {1: None, 2: "https://www.loggi.com/rastreador/X"}
    finally:
        engine.dispose()
