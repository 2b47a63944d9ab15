"""Every repository against the real database, and the constraints that make duplicates
impossible rather than unlikely."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import attrs
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError, StatementError

from kanglu.adapters.sql import orm
from kanglu.adapters.sql import tables as t
from kanglu.adapters.sql.unit_of_work import SqlUnitOfWorkFactory
from kanglu.domain.connections import ConnectionStatus, ErpConnection
from kanglu.domain.customers import Address, Customer
from kanglu.domain.documents import Document
from kanglu.domain.import_failures import ImportFailure
from kanglu.domain.merchants import ApiKey, Merchant
from kanglu.domain.money import Money
from kanglu.domain.orders import Order, StoredOrder
from kanglu.domain.secrets import Sealed
from kanglu.domain.shipping import ShippingFamily, ShippingService
from kanglu.domain.situacoes import Action, Situacao, StatusMapping
from kanglu.domain.tracking import Shipment, ShipmentStatus
from tests.builders import access_key, cpf, customer, erp_order, s10

NOW = datetime(2026, 7, 1, 12, 0, tzinfo=UTC)
SAO_PAULO = ZoneInfo("America/Sao_Paulo")


@pytest.fixture
def ids(uow: SqlUnitOfWorkFactory) -> tuple[int, int]:
    """A merchant and its connection: (merchant_id, connection_id)."""
    with uow() as u:
        m = Merchant(name="Loja", email="loja@example.com", password_hash="x", created_at=NOW)
        u.merchants.add(m)
        u.flush()
        c = ErpConnection(merchant_id=m.id, client_id="cid", client_secret=Sealed("gAAAA-cipher"), updated_at=NOW)
        u.connections.add(c)
        u.commit()
        return m.id, c.id


def new_order(merchant_id: int, connection_id: int, erp_id: int, **changes) -> Order:  # type: ignore[no-untyped-def]
    order = Order.new(merchant_id, connection_id, erp_order(erp_id), NOW)
    return attrs.evolve(order, **changes) if changes else order


# -- merchants ------------------------------------------------------------------------


def test_merchants_by_email_and_by_api_key_hash(uow: SqlUnitOfWorkFactory, ids) -> None:  # type: ignore[no-untyped-def]
    merchant_id, _ = ids
    with uow() as u:
        u.merchants.add_api_key(ApiKey(merchant_id=merchant_id, key_hash="a" * 64, prefix="kgl_abc", created_at=NOW))
        u.merchants.add_api_key(
            ApiKey(merchant_id=merchant_id, key_hash="b" * 64, prefix="kgl_old", created_at=NOW, revoked_at=NOW)
        )
        u.commit()
    with uow() as u:
        assert u.merchants.get_by_email("loja@example.com").id == merchant_id
        assert u.merchants.get(merchant_id).created_at == NOW
        assert u.merchants.by_api_key_hash("a" * 64).id == merchant_id
        assert u.merchants.by_api_key_hash("b" * 64) is None  # revoked
        assert u.merchants.by_api_key_hash("c" * 64) is None
        assert u.merchants.get_by_email("nobody@example.com") is None


def test_a_second_merchant_with_the_same_email_is_refused(uow: SqlUnitOfWorkFactory, ids) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(IntegrityError), uow() as u:
        u.merchants.add(Merchant(name="Outra", email="loja@example.com", password_hash=None, created_at=NOW))
        u.flush()


# -- connections ------------------------------------------------------------------------


def test_connection_round_trip_with_sealed_secrets(uow: SqlUnitOfWorkFactory, ids) -> None:  # type: ignore[no-untyped-def]
    merchant_id, connection_id = ids
    with uow() as u:
        c = u.connections.get(connection_id)
        c.status = ConnectionStatus.CONNECTED
        c.access_token, c.refresh_token = Sealed("gAAAA-access"), Sealed("gAAAA-refresh")
        c.access_expires_at = NOW + timedelta(hours=4)
        c.poll_cursor = NOW - timedelta(minutes=3)
        c.token_version = 3
        u.commit()
    with uow() as u:
        c = u.connections.for_merchant(merchant_id)
        assert c.id == connection_id and c.status is ConnectionStatus.CONNECTED
        assert (c.client_secret, c.access_token, c.refresh_token) == (
            Sealed("gAAAA-cipher"), Sealed("gAAAA-access"), Sealed("gAAAA-refresh"))
        assert c.access_expires_at == NOW + timedelta(hours=4) and c.access_expires_at.tzinfo is not None
        assert c.poll_cursor == NOW - timedelta(minutes=3) and c.token_version == 3
        assert u.connections.for_merchant(merchant_id, erp="bling") is None
        assert [x.id for x in u.connections.all()] == [connection_id]


def test_one_connection_per_merchant_and_erp(uow: SqlUnitOfWorkFactory, ids) -> None:  # type: ignore[no-untyped-def]
    merchant_id, _ = ids
    with pytest.raises(IntegrityError), uow() as u:
        u.connections.add(ErpConnection(merchant_id=merchant_id))
        u.flush()


def test_a_plaintext_value_never_reaches_a_sealed_column(uow: SqlUnitOfWorkFactory, ids) -> None:  # type: ignore[no-untyped-def]
    _, connection_id = ids
    with uow() as u:
        c = u.connections.get(connection_id)
        c.client_secret = "plain text"  # type: ignore[assignment]
        with pytest.raises(StatementError):
            u.flush()


def test_lock_reads_the_row_anew(uow: SqlUnitOfWorkFactory, ids) -> None:  # type: ignore[no-untyped-def]
    _, connection_id = ids
    if uow.engine.dialect.name == "sqlite":
        pytest.skip("on SQLite every unit of work holds the write lock from its first statement: "
                    "no other writer can change the row between the read and the lock")
    with uow() as u:
        stale = u.connections.get(connection_id)
        assert stale.token_version == 0
        with uow.engine.begin() as other:  # another process renews meanwhile
            other.execute(update(t.erp_connections).values(token_version=5))
        locked = u.connections.lock(connection_id)
        assert locked is stale and locked.token_version == 5
        assert u.connections.lock(999) is None


def test_lock_after_a_write_keeps_the_write(uow: SqlUnitOfWorkFactory, ids) -> None:  # type: ignore[no-untyped-def]
    _, connection_id = ids
    with uow() as u:
        u.merchants.add(Merchant(name="Outra", email="outra@example.com", password_hash=None, created_at=NOW))
        u.connections.get(connection_id).account_name = "Conta"
        u.flush()
        assert u.connections.lock(connection_id).account_name == "Conta"
        u.commit()
    with uow() as u:
        assert u.merchants.get_by_email("outra@example.com") is not None
        assert u.connections.get(connection_id).account_name == "Conta"


def test_lock_keeps_pending_changes(uow: SqlUnitOfWorkFactory, ids) -> None:  # type: ignore[no-untyped-def]
    _, connection_id = ids
    with uow() as u:
        u.connections.get(connection_id).account_name = "Pendente"  # not flushed yet
        assert u.connections.lock(connection_id).account_name == "Pendente"
        u.commit()
    with uow() as u:
        assert u.connections.get(connection_id).account_name == "Pendente"


def test_status_mapping_defaults_then_saved(uow: SqlUnitOfWorkFactory, ids) -> None:  # type: ignore[no-untyped-def]
    _, connection_id = ids
    with uow() as u:
        assert u.status_mappings.get(connection_id) == StatusMapping.default()
        custom = StatusMapping.default().with_actions({Situacao.APROVADA: Action.IMPORT, Situacao.ENVIADA: Action.IGNORE})
        u.status_mappings.save(connection_id, custom)
        u.commit()
    with uow() as u:
        assert u.status_mappings.get(connection_id) == custom


def test_an_all_ignore_mapping_is_not_mistaken_for_never_saved(uow: SqlUnitOfWorkFactory, ids) -> None:  # type: ignore[no-untyped-def]
    _, connection_id = ids
    nothing = StatusMapping({})
    with uow() as u:
        u.status_mappings.save(connection_id, nothing)
        u.commit()
    with uow() as u:
        assert u.status_mappings.get(connection_id).imported_situacoes == frozenset()


# -- customers ---------------------------------------------------------------------------


def test_customer_lookups(uow: SqlUnitOfWorkFactory, ids) -> None:  # type: ignore[no-untyped-def]
    merchant_id, _ = ids
    with uow() as u:
        first = Customer.from_data(merchant_id, customer(1))
        twin = Customer.from_data(merchant_id, customer(2, email=customer(1).email, erp_customer_id=1001))
        nameless = Customer(merchant_id=merchant_id, name="Sem documento", email="x@example.com")
        for c in (first, twin, nameless):
            u.customers.add(c)
        u.commit()
    with uow() as u:
        doc = customer(1).document.value
        assert u.customers.by_documents(merchant_id, [doc, cpf(99)])[doc].id == first.id
        # One per e-mail or ERP id: the oldest.
        assert u.customers.by_emails(merchant_id, [customer(1).email])[customer(1).email].id == first.id
        assert u.customers.by_erp_ids(merchant_id, [1001])[1001].id == first.id
        assert u.customers.by_documents(merchant_id + 1, [doc]) == {}
        loaded = u.customers.get(merchant_id, first.id)
        assert loaded.address == customer(1).address and loaded.document == customer(1).document
        assert u.customers.get(merchant_id + 1, first.id) is None
        assert u.customers.get(merchant_id, nameless.id).document is None


def test_one_customer_per_merchant_and_document(uow: SqlUnitOfWorkFactory, ids) -> None:  # type: ignore[no-untyped-def]
    merchant_id, _ = ids
    with uow() as u:
        u.customers.add(Customer.from_data(merchant_id, customer(1)))
        u.commit()
    with pytest.raises(IntegrityError), uow() as u:
        u.customers.add(Customer.from_data(merchant_id, customer(1, name="Outro nome")))
        u.flush()
    with uow() as u:  # customers without a document are not duplicates of each other
        u.customers.add(Customer(merchant_id=merchant_id, name="A"))
        u.customers.add(Customer(merchant_id=merchant_id, name="B"))
        u.commit()


# -- orders ----------------------------------------------------------------------------


CREATED_AT = st.one_of(
    st.none(),
    st.dates(min_value=date(2000, 1, 1), max_value=date(2100, 1, 1)),
    st.datetimes(min_value=datetime(2000, 1, 1), max_value=datetime(2100, 1, 1)),
    # Local times that existed (an ERP's clock never shows a time skipped by daylight saving).
    st.datetimes(min_value=datetime(2000, 1, 1), max_value=datetime(2100, 1, 1), timezones=st.just(SAO_PAULO),
                 allow_imaginary=False),
)
AMOUNTS = st.decimals(min_value=Decimal("-999999999999.99"), max_value=Decimal("999999999999.99"), places=2)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(created_at=CREATED_AT, amount=AMOUNTS)
def test_order_values_round_trip(uow: SqlUnitOfWorkFactory, ids, created_at, amount) -> None:  # type: ignore[no-untyped-def]
    merchant_id, connection_id = ids
    with uow() as u:
        order = new_order(merchant_id, connection_id, 1)
        order.apply(erp_order(1, created_at=created_at, total=Money(amount)), Action.IMPORT, None, None, NOW)
        u.orders.add(order)
        u.flush()
        u.session.expunge_all()
        loaded = u.orders.get(merchant_id, order.id)
        assert loaded.created_at == created_at and type(loaded.created_at) is type(created_at)
        assert loaded.total == Money(amount)


def test_order_round_trip_with_customer_invoice_shipping_and_shipments(uow: SqlUnitOfWorkFactory, ids) -> None:  # type: ignore[no-untyped-def]
    from kanglu.domain.carriers import DEFAULT_REGISTRY

    merchant_id, connection_id = ids
    snapshot = erp_order(1, invoice=attrs.evolve(erp_order(1).invoice, tracking_code=s10(5), erp_invoice_id=77))
    with uow() as u:
        order = new_order(merchant_id, connection_id, 1)
        buyer = Customer.from_data(merchant_id, snapshot.customer)
        u.customers.add(buyer)
        u.orders.add(order)
        requests = order.apply(snapshot, Action.IMPORT, DEFAULT_REGISTRY.get("correios"), buyer, NOW)
        u.commit()
    assert len(requests) == 1
    with uow() as u:
        loaded = u.orders.by_erp_ids(connection_id, [1, 2])[1]
        assert loaded.customer.id == buyer.id and loaded.customer.name == snapshot.customer.name
        assert loaded.invoice == snapshot.invoice and loaded.invoice.access_key == access_key(501)
        assert loaded.shipping == snapshot.shipping and loaded.shipping_key == snapshot.shipping.key
        assert loaded.tracking_code == snapshot.tracking_code and loaded.situacao is Situacao.ENVIADA
        assert loaded.tracking_status is ShipmentStatus.TRACKING and loaded.carrier_code == "correios"
        assert [(s.carrier_code, s.tracking_code, s.active) for s in loaded.shipments] == [
            ("correios", snapshot.tracking_code.value, True)]
        assert loaded.fingerprint == order.fingerprint
        assert u.orders.get(merchant_id + 1, loaded.id) is None


def test_stored_invoices_and_signatures_of_some_orders(uow: SqlUnitOfWorkFactory, ids) -> None:  # type: ignore[no-untyped-def]
    merchant_id, connection_id = ids
    with uow() as u:
        with_invoice = new_order(merchant_id, connection_id, 1)
        with_invoice.invoice = erp_order(1).invoice
        u.orders.add(with_invoice)
        u.orders.add(new_order(merchant_id, connection_id, 2))  # stored, no invoice yet
        u.commit()
    with uow() as u:
        # 3 was never stored: absent, unlike 2, which is stored without an invoice.
        stored = u.orders.by_erp_ids(connection_id, [1, 2])
        assert u.orders.stored(connection_id, [1, 2, 3]) == {
            1: StoredOrder(stored[1].fingerprint, erp_order(1).invoice, stored[1].total),
            2: StoredOrder(stored[2].fingerprint, None, stored[2].total)}
        assert u.orders.fingerprints(connection_id, [1, 2, 3]) == {1: stored[1].fingerprint, 2: stored[2].fingerprint}
        assert u.orders.stored(connection_id + 1, [1, 2]) == {}
        assert u.orders.stored(connection_id, []) == {}


def test_new_rows_of_a_flush_get_ids_in_the_order_they_were_added(uow: SqlUnitOfWorkFactory, ids) -> None:  # type: ignore[no-untyped-def]
    """Ids are given before the flush (one query per table): they follow the order of `add`
    (the outbox's per-order ordering relies on it) and never collide with stored rows."""
    merchant_id, connection_id = ids
    with uow() as u:
        u.orders.add(new_order(merchant_id, connection_id, 100))
        u.commit()
    with uow() as u:
        batch = [new_order(merchant_id, connection_id, erp_id) for erp_id in (7, 3, 9, 1)]
        for order in batch:
            u.orders.add(order)
        u.commit()
    with uow() as u:
        stored = u.session.execute(select(t.orders.c.id, t.orders.c.erp_order_id).order_by(t.orders.c.id)).all()
    assert [erp_id for _, erp_id in stored] == [100, 7, 3, 9, 1]
    assert [o.id for o in batch] == [i for i, erp_id in stored if erp_id != 100]
    assert len({i for i, _ in stored}) == 5


def test_one_order_per_connection_and_erp_id(uow: SqlUnitOfWorkFactory, ids) -> None:  # type: ignore[no-untyped-def]
    merchant_id, connection_id = ids
    with uow() as u:
        u.orders.add(new_order(merchant_id, connection_id, 1))
        u.commit()
    with pytest.raises(IntegrityError), uow() as u:
        u.orders.add(new_order(merchant_id, connection_id, 1))
        u.flush()


def test_one_active_shipment_per_order(uow: SqlUnitOfWorkFactory, ids) -> None:  # type: ignore[no-untyped-def]
    merchant_id, connection_id = ids
    with uow() as u:
        order = new_order(merchant_id, connection_id, 1)
        order.shipments.append(Shipment("correios", "QB000000014BR", NOW, active=False))
        order.shipments.append(Shipment("correios", "QB000000028BR", NOW))
        u.orders.add(order)
        u.commit()
    with pytest.raises(IntegrityError), uow() as u:
        again = u.orders.by_erp_ids(connection_id, [1])[1]
        again.shipments.append(Shipment("jadlog", "123456789", NOW))
        u.flush()


def test_orders_waiting_for_a_carrier(uow: SqlUnitOfWorkFactory, ids) -> None:  # type: ignore[no-untyped-def]
    merchant_id, connection_id = ids
    odd = ShippingService(service_name="Entrega Expressa Fulano")
    with uow() as u:
        for erp_id, carrier in ((1, None), (2, "correios"), (3, None)):
            order = new_order(merchant_id, connection_id, erp_id, shipping=odd, shipping_key=odd.key,
                              carrier_code=carrier)
            u.orders.add(order)
        u.orders.add(new_order(merchant_id, connection_id, 4, shipping_key="outra"))
        u.commit()
    with uow() as u:
        assert [o.erp_order_id for o in u.orders.waiting_for_carrier(connection_id, odd.key)] == [1, 3]


# -- import failures, families, carrier mappings ------------------------------------------


def test_import_failures_open_ones_only_and_one_open_per_order(uow: SqlUnitOfWorkFactory, ids) -> None:  # type: ignore[no-untyped-def]
    _, connection_id = ids
    raw = {"id": 5, "valor": Decimal("1.50"), "quando": NOW, "texto": "ação"}  # not all JSON-native
    with uow() as u:
        u.import_failures.add(ImportFailure(connection_id, 5, "chave inválida", raw, NOW, NOW))
        u.import_failures.add(ImportFailure(connection_id, 6, "velha", None, NOW, NOW, resolved_at=NOW))
        u.import_failures.add(ImportFailure(connection_id, None, "sem id", [1, 2], NOW, NOW))
        u.import_failures.add(ImportFailure(connection_id, None, "sem id de novo", "x", NOW, NOW))
        u.commit()
    with uow() as u:
        found = u.import_failures.for_erp_ids(connection_id, [5, 6, 7])
        assert list(found) == [5] and found[5].reason == "chave inválida"
        assert found[5].raw == {"id": 5, "valor": "1.50", "quando": str(NOW), "texto": "ação"}
    with pytest.raises(IntegrityError), uow() as u:
        u.import_failures.add(ImportFailure(connection_id, 5, "outra", None, NOW, NOW))
        u.flush()


def test_import_failures_by_id_recognisable_and_purged_once_resolved_long_ago(uow: SqlUnitOfWorkFactory, ids) -> None:  # type: ignore[no-untyped-def]
    _, connection_id = ids
    with uow() as u:
        u.import_failures.add(ImportFailure(connection_id, 5, "r", None, NOW, NOW, number="10005",
                                            customer_name="Ana Souza"))
        u.import_failures.add(ImportFailure(connection_id, 6, "r", None, NOW, NOW, resolved_at=NOW - timedelta(days=31)))
        u.import_failures.add(ImportFailure(connection_id, 7, "r", None, NOW, NOW, resolved_at=NOW - timedelta(days=29)))
        u.import_failures.add(ImportFailure(connection_id, None, "sem id", {"numeroPedido": 9}, NOW, NOW, number="9"))
        u.import_failures.add(ImportFailure(connection_id, None, "sem id", {}, NOW, NOW, resolved_at=NOW))
        u.commit()
    with uow() as u:
        open_one = u.import_failures.for_erp_ids(connection_id, [5])[5]
        assert open_one.id is not None
        again = u.import_failures.get(open_one.id)
        assert again is not None and (again.number, again.customer_name) == ("10005", "Ana Souza")
        assert u.import_failures.get(10**9) is None
        assert [f.number for f in u.import_failures.open_without_id(connection_id)] == ["9"]
        assert u.import_failures.open_without_id(connection_id + 1) == []
        assert u.import_failures.purge_resolved(NOW - timedelta(days=30)) == 1
        u.commit()
    with uow() as u:
        assert u.import_failures.purge_resolved(NOW - timedelta(days=30)) == 0
        assert u.import_failures.get(open_one.id) is not None


def test_entity_reads_built_once_survive_the_mapping_undone_and_redone(uow: SqlUnitOfWorkFactory, ids) -> None:  # type: ignore[no-untyped-def]
    # Statements that select an entity are built once and kept; a test that wants the plain
    # domain classes back undoes the mapping, and the next mapping must not load rows through
    # the mapper that statement was built with (it failed CI once: "'NoneType' object has no
    # attribute 'load'").
    _, connection_id = ids
    with uow() as u:
        u.import_failures.add(ImportFailure(connection_id, 5, "chave inválida", None, NOW, NOW))
        u.commit()
    for _ in range(2):
        with uow() as u:
            assert list(u.import_failures.for_erp_ids(connection_id, [5])) == [5]
            assert list(u.connections.many([connection_id])) == [connection_id]
        orm.stop_mappers()
        orm.start_mappers()


def test_shipping_families_cache_is_merged(uow: SqlUnitOfWorkFactory, ids) -> None:  # type: ignore[no-untyped-def]
    _, connection_id = ids
    with uow() as u:
        assert u.shipping_families.for_connection(connection_id) == {}
        u.shipping_families.save(connection_id, [ShippingFamily(1, "Correios", 1), ShippingFamily(2, "Jadlog", 7)])
        u.commit()
    with uow() as u:
        u.shipping_families.save(connection_id, [ShippingFamily(2, "Jadlog Package", 7), ShippingFamily(3, None, None)])
        u.shipping_families.save(connection_id, [])
        u.commit()
    with uow() as u:
        assert u.shipping_families.for_connection(connection_id) == {
            1: ShippingFamily(1, "Correios", 1), 2: ShippingFamily(2, "Jadlog Package", 7), 3: ShippingFamily(3, None, None)}


def test_carrier_mappings_are_set_and_replaced(uow: SqlUnitOfWorkFactory, ids) -> None:  # type: ignore[no-untyped-def]
    merchant_id, _ = ids
    with uow() as u:
        u.carrier_mappings.set(merchant_id, "entrega expressa", "loggi")
        u.carrier_mappings.set(merchant_id, "entrega expressa", "jadlog")
        u.carrier_mappings.set(merchant_id, "moto", "loggi")
        u.commit()
    with uow() as u:
        assert u.carrier_mappings.for_merchant(merchant_id) == {"entrega expressa": "jadlog", "moto": "loggi"}
        assert u.carrier_mappings.for_merchant(merchant_id + 1) == {}


# -- types -------------------------------------------------------------------------------


def test_instants_come_back_aware_in_utc_and_naive_ones_are_refused(uow: SqlUnitOfWorkFactory, ids) -> None:  # type: ignore[no-untyped-def]
    _, connection_id = ids
    local = datetime(2026, 7, 1, 9, 30, tzinfo=SAO_PAULO)
    with uow() as u:
        u.connections.get(connection_id).last_sync_at = local
        u.commit()
    with uow.engine.connect() as connection:
        stored = connection.scalar(select(t.erp_connections.c.last_sync_at))
    assert stored == local and stored.tzinfo is UTC and stored.hour == 12
    with uow() as u:
        u.connections.get(connection_id).last_sync_at = datetime(2026, 7, 1, 9, 30)
        with pytest.raises(StatementError):
            u.flush()


def test_documents_keep_their_kind(uow: SqlUnitOfWorkFactory, ids) -> None:  # type: ignore[no-untyped-def]
    merchant_id, _ = ids
    cnpj = Document.parse("12.ABC.345/01DE-35")
    with uow() as u:
        u.customers.add(Customer(merchant_id=merchant_id, name="Empresa", document=cnpj, address=Address(city="Recife")))
        u.commit()
    with uow() as u:
        (found,) = u.customers.by_documents(merchant_id, [cnpj.value]).values()
        assert found.document == cnpj and found.address == Address(city="Recife")
