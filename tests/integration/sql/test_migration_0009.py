"""Migration 0009 on connections with errors: the kind of each error is told by its prefix, once."""

from __future__ import annotations

from alembic import command
from sqlalchemy import text

from kanglu.adapters.sql.engine import make_engine
from kanglu.adapters.sql.schema import alembic_config, upgrade_to_head


def test_each_stored_error_gets_its_kind_from_the_prefix_it_was_written_with(empty_database_url: str) -> None:
    engine = make_engine(empty_database_url)
    try:
        with engine.begin() as connection:
            command.upgrade(alembic_config(connection), "0008")
        rows = {
            1: ("connected", "Sincronização: Tiny indisponível (503)"),
            2: ("connected", "Renovação do acesso: o Tiny não respondeu"),
            3: ("disconnected", "integração desconectada pelo lojista"),
            4: ("connected", None),
        }
        with engine.begin() as connection:
            connection.execute(text("INSERT INTO merchants (id, name, email, created_at) VALUES "
                                    "(1, 'Loja', 'a@b.com', '2026-12-07')"))
            for connection_id, (status, error) in rows.items():
                connection.execute(
                    text("INSERT INTO erp_connections (id, merchant_id, erp, status, token_version, refresh_failures,"
                         " last_error) VALUES (:id, 1, :erp, :status, 0, 0, :error)"),
                    {"id": connection_id, "erp": f"tiny{connection_id}", "status": status, "error": error},
                )
        upgrade_to_head(engine)
        with engine.connect() as connection:
            kinds = dict(connection.execute(text("SELECT id, error_kind FROM erp_connections ORDER BY id")).all())
            errors = dict(connection.execute(text("SELECT id, last_error FROM erp_connections ORDER BY id")).all())
        assert kinds == {1: "poll", 2: "renewal", 3: "disconnected", 4: None}
        assert errors == {i: error for i, (_, error) in rows.items()}  # the texts stay as the merchant read them
        with engine.begin() as connection:  # and back
            command.downgrade(alembic_config(connection), "0008")
    finally:
        engine.dispose()
