"""Migration 0005 on a database with orders: each keeps its customer's address as where its
parcel goes, and PDV sales stay off for every connection."""

from __future__ import annotations

import json
from datetime import UTC, datetime

from alembic import command
from sqlalchemy import text

from kanglu.adapters.sql.engine import make_engine
from kanglu.adapters.sql.schema import alembic_config, upgrade_to_head

NOW = datetime(2026, 12, 7, 12, tzinfo=UTC)


def test_orders_imported_before_keep_their_customers_address_and_pdv_stays_off(empty_database_url: str) -> None:
    engine = make_engine(empty_database_url)
    try:
        with engine.begin() as connection:
            command.upgrade(alembic_config(connection), "0004")
        with engine.begin() as connection:
            run = connection.execute
            run(text("INSERT INTO merchants (id, name, email, created_at) VALUES (1, 'Loja', 'a@b.com', :now)"),
                {"now": NOW})
            run(text("INSERT INTO erp_connections (id, merchant_id, erp, status, token_version, refresh_failures) "
                     "VALUES (1, 1, 'tiny', 'connected', 0, 0)"))
            run(text("INSERT INTO customers (id, merchant_id, name, search_name, address) VALUES "
                     "(1, 1, 'Ana Souza', 'ana souza', :address), (2, 1, 'Sem Endereço', 'sem endereco', NULL)"),
                {"address": '{"street": "Rua A", "number": "1", "complement": null, "district": "Centro", '
                            '"city": "Recife", "state": "PE", "zip": "50010000", "country": "Brasil"}'})
            for order_id, customer_id in ((1, 1), (2, 2), (3, None)):
                run(text("INSERT INTO orders (id, merchant_id, connection_id, erp_order_id, situacao, imported_at, "
                         "updated_at, total, created_at, customer_id, shipping, tracking_status, fingerprint) VALUES "
                         "(:id, 1, 1, :id, 5, :now, :now, 10, '2026-12-01', :customer, '{}', 'waiting_data', '')"),
                    {"id": order_id, "customer": customer_id, "now": NOW})
        upgrade_to_head(engine)
        with engine.connect() as connection:
            rows = dict(connection.execute(text("SELECT id, shipping_address FROM orders ORDER BY id")).all())
            pdv = connection.execute(text("SELECT import_point_of_sale FROM erp_connections")).scalar()
        loaded = {k: (json.loads(v) if isinstance(v, str) else v) for k, v in rows.items()}
        assert loaded[1] == {"name": "Ana Souza", "address": {
            "street": "Rua A", "number": "1", "complement": None, "district": "Centro", "city": "Recife",
            "state": "PE", "zip": "50010000", "country": "Brasil"}}
        assert loaded[2] is None and loaded[3] is None
        assert pdv in (False, 0)
        with engine.begin() as connection:  # and back: the orders stay
            command.downgrade(alembic_config(connection), "0004")
        with engine.connect() as connection:
            assert connection.execute(text("SELECT COUNT(*) FROM orders")).scalar() == 3
    finally:
        engine.dispose()
