"""Migration 0010 on a database with orders: no row is rewritten at deploy; each order's
fingerprint is version 1, compared as unknown, and rewritten once when its order is imported
again, the others left alone."""

from __future__ import annotations

from datetime import UTC, datetime

from alembic import command
from sqlalchemy import text

from kanglu.adapters.sql.engine import make_engine
from kanglu.adapters.sql.schema import alembic_config, upgrade_to_head
from kanglu.adapters.sql.unit_of_work import SqlUnitOfWorkFactory
from kanglu.application.commands import ImportOrderCommand
from kanglu.application.use_cases.import_order import ImportOrder
from kanglu.domain.carriers import DEFAULT_REGISTRY
from kanglu.domain.orders import FINGERPRINT_VERSION
from tests.builders import erp_order
from tests.fakes import FakeClock

BEFORE = datetime(2026, 12, 1, 12, tzinfo=UTC)
LEGACY = "0123456789abcdef0123456789abcdef"  # a blake2b of repr(), as version 1 wrote them
ROWS = "SELECT erp_order_id, fingerprint, fingerprint_version, updated_at FROM orders ORDER BY erp_order_id"


def test_orders_keep_their_rows_until_imported_again(empty_database_url: str) -> None:
    engine = make_engine(empty_database_url)
    try:
        with engine.begin() as connection:
            command.upgrade(alembic_config(connection), "0008")
        with engine.begin() as connection:
            run = connection.execute
            run(text("INSERT INTO merchants (id, name, email, created_at) VALUES (1, 'Loja', 'a@b.com', :at)"),
                {"at": BEFORE})
            run(text("INSERT INTO erp_connections (id, merchant_id, erp, status, token_version, refresh_failures) "
                     "VALUES (1, 1, 'tiny', 'connected', 0, 0)"))
            for erp_id in (1, 2):
                run(text("INSERT INTO orders (id, merchant_id, connection_id, erp_order_id, situacao, imported_at, "
                         "updated_at, total, created_at, shipping, tracking_status, fingerprint) VALUES "
                         "(:id, 1, 1, :id, 5, :at, :at, 10, '2026-12-01', '{}', 'waiting_data', :legacy)"),
                    {"id": erp_id, "at": BEFORE, "legacy": LEGACY})
        upgrade_to_head(engine)
        with engine.connect() as connection:
            before = connection.execute(text(ROWS)).all()
        assert [(r[0], r[1], r[2]) for r in before] == [(1, LEGACY, 1), (2, LEGACY, 1)]

        uow = SqlUnitOfWorkFactory(engine)
        with uow() as u:
            assert u.orders.fingerprints(1, [1, 2]) == {1: "", 2: ""}
        clock = FakeClock()
        ImportOrder(uow=uow, clock=clock, carriers=DEFAULT_REGISTRY)(
            ImportOrderCommand(1, [erp_order(1)])
        )
        with engine.connect() as connection:
            one, two = connection.execute(text(ROWS)).all()
        assert one[2] == FINGERPRINT_VERSION and len(one[1]) == 64
        assert two == before[1]  # never listed again: never rewritten
        with uow() as u:
            assert u.orders.fingerprints(1, [1, 2]) == {1: one[1], 2: ""}
        with engine.begin() as connection:  # and back: the orders stay
            command.downgrade(alembic_config(connection), "0008")
        with engine.connect() as connection:
            assert connection.execute(text("SELECT COUNT(*) FROM orders")).scalar() == 2
    finally:
        engine.dispose()
