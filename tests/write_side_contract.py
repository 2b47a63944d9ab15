"""What any implementation of the repository ports (application/ports/repositories.py) must do
on the write side, written once: a test module imports these tests and provides a
`write_side` fixture (a WriteSide over its own storage). The in-memory fakes (tests/fakes.py)
and the SQL repositories on SQLite and PostgreSQL run them, as they run the read side's.

Each test writes through one unit of work, commits, and reads back through another: what a
use case relies on, not how the storage keeps it. Jobs, token revocations and the poll's own
writes have suites of their own."""

from __future__ import annotations

from datetime import timedelta

import attrs

from kanglu.application.commands import (
    CreateMerchantCommand,
    ImportOrderCommand,
    SaveErpCredentialsCommand,
)
from kanglu.application.ports import UnitOfWorkFactory
from kanglu.application.queries import PageRequest, SyncQueries
from kanglu.application.use_cases.create_merchant import CreateMerchant, hash_api_key
from kanglu.application.use_cases.import_order import ImportOrder
from kanglu.application.use_cases.save_erp_credentials import SaveErpCredentials
from kanglu.domain.carriers import DEFAULT_REGISTRY
from kanglu.domain.customers import Customer
from kanglu.domain.events import ConnectionEvent, EventKind, NotificationSettings
from kanglu.domain.import_failures import ImportFailure
from kanglu.domain.orders import FINGERPRINT_VERSION, Order, StoredOrder
from kanglu.domain.secrets import Sealed, Secret
from kanglu.domain.shipping import ShippingFamily, ShippingService
from kanglu.domain.situacoes import Action, Situacao, StatusMapping
from kanglu.domain.tracking import (
    OutboxMessage,
    ShipmentStatus,
    TrackingRequest,
    TrackingRequestKind,
)
from tests.builders import customer, erp_order, s10
from tests.fakes import FakeClock, FakePasswordHasher, FakeSecretBox

LEASE = timedelta(minutes=5)


@attrs.define
class WriteSide:
    uow: UnitOfWorkFactory
    sync: SyncQueries  # reads the connection history back (the event port only writes)
    clock: FakeClock = attrs.Factory(FakeClock)

    def merchant(self, email: str) -> tuple[int, str]:
        created = CreateMerchant(uow=self.uow, clock=self.clock, passwords=FakePasswordHasher())(
            CreateMerchantCommand(email.split("@")[0], email, Secret("senha-forte"))
        )
        assert created.merchant.id is not None
        return created.merchant.id, created.api_key

    def connection(self, merchant_id: int) -> int:
        SaveErpCredentials(uow=self.uow, clock=self.clock, secret_box=FakeSecretBox())(
            SaveErpCredentialsCommand(merchant_id, "tiny-api-x", Secret("s"), "https://tiny.com.br/convite")
        )
        with self.uow() as uow:
            connection = uow.connections.for_merchant(merchant_id)
            assert connection is not None and connection.id is not None
            return connection.id

    def shop(self, email: str = "loja@loja.com.br") -> tuple[int, int]:
        merchant_id, _ = self.merchant(email)
        return merchant_id, self.connection(merchant_id)

    def import_orders(self, connection_id: int, *items: object) -> None:
        ImportOrder(uow=self.uow, clock=self.clock, carriers=DEFAULT_REGISTRY)(
            ImportOrderCommand(connection_id, list(items))  # type: ignore[arg-type]
        )

    def order(self, connection_id: int, erp_id: int) -> Order:
        with self.uow() as uow:
            return uow.orders.by_erp_ids(connection_id, [erp_id])[erp_id]


def request(erp_order_id: int, kind: TrackingRequestKind = TrackingRequestKind.START) -> TrackingRequest:
    return TrackingRequest(kind, f"shipment-{erp_order_id}-{kind.value}", 1, erp_order_id, None, None, "correios",
                           s10(erp_order_id).value, None, None, None, None, FakeClock().now())


# -- merchants, keys, notifications ------------------------------------------------------


def test_what_is_not_committed_is_lost(write_side: WriteSide) -> None:
    merchant_id, _ = write_side.merchant("a@loja.com.br")
    with write_side.uow() as uow:
        uow.carrier_mappings.set(merchant_id, "correios|sedex", "jadlog")
        uow.notifications.save(NotificationSettings(merchant_id, email=False))
    with write_side.uow() as uow:
        assert uow.carrier_mappings.for_merchant(merchant_id) == {}
        assert uow.notifications.get(merchant_id).email is True


def test_merchants_are_found_by_id_email_and_live_key(write_side: WriteSide) -> None:
    merchant_id, key = write_side.merchant("a@loja.com.br")
    other_id, other_key = write_side.merchant("b@loja.com.br")
    with write_side.uow() as uow:
        assert uow.merchants.get(merchant_id).email == "a@loja.com.br"  # type: ignore[union-attr]
        assert uow.merchants.get_by_email("b@loja.com.br").id == other_id  # type: ignore[union-attr]
        assert uow.merchants.get_by_email("c@loja.com.br") is None
        assert uow.merchants.by_api_key_hash(hash_api_key(key)).id == merchant_id  # type: ignore[union-attr]
        assert uow.merchants.revoke_api_keys(merchant_id, write_side.clock.now()) == 1
        uow.commit()
    with write_side.uow() as uow:
        assert uow.merchants.by_api_key_hash(hash_api_key(key)) is None
        assert uow.merchants.by_api_key_hash(hash_api_key(other_key)).id == other_id  # type: ignore[union-attr]
        assert uow.merchants.revoke_api_keys(merchant_id, write_side.clock.now()) == 0


def test_notification_settings_default_until_saved(write_side: WriteSide) -> None:
    merchant_id, _ = write_side.merchant("a@loja.com.br")
    with write_side.uow() as uow:
        default = uow.notifications.get(merchant_id)
        assert (default.email, default.webhook_url, default.webhook_secret) == (True, None, None)
        uow.notifications.save(NotificationSettings(merchant_id, email=False, webhook_url="https://hook.example/k",
                                                    webhook_secret=Sealed("sealed:x"), updated_at=write_side.clock.now()))
        uow.commit()
    with write_side.uow() as uow:
        saved = uow.notifications.get(merchant_id)
        assert (saved.email, saved.webhook_url, saved.webhook_secret) == (False, "https://hook.example/k", Sealed("sealed:x"))
        saved.email = True
        uow.notifications.save(saved)
        uow.commit()
    with write_side.uow() as uow:
        assert uow.notifications.get(merchant_id).email is True


# -- what maps the ERP's words -------------------------------------------------------------


def test_status_mapping_defaults_until_saved_even_all_ignore(write_side: WriteSide) -> None:
    _, connection_id = write_side.shop()
    with write_side.uow() as uow:
        assert uow.status_mappings.get(connection_id).full() == StatusMapping.default().full()
        uow.status_mappings.save(connection_id, StatusMapping.default().with_actions({Situacao.ENVIADA: Action.IGNORE}))
        uow.commit()
    with write_side.uow() as uow:
        assert uow.status_mappings.get(connection_id).action_for(Situacao.ENVIADA) is Action.IGNORE
        every = StatusMapping.default().with_actions({s: Action.IGNORE for s in Situacao})
        uow.status_mappings.save(connection_id, every)
        uow.commit()
    with write_side.uow() as uow:  # all-ignore is a choice, not "never saved"
        assert uow.status_mappings.get(connection_id).full() == every.full()


def test_shipping_families_are_upserted_by_service(write_side: WriteSide) -> None:
    _, connection_id = write_side.shop()
    with write_side.uow() as uow:
        uow.shipping_families.save(connection_id, [ShippingFamily(1, "Correios", 3), ShippingFamily(2, "Jadlog", None)])
        uow.shipping_families.save(connection_id, [])
        uow.commit()
    with write_side.uow() as uow:
        uow.shipping_families.save(connection_id, [ShippingFamily(2, "Jadlog Expresso", 5)])
        uow.commit()
    with write_side.uow() as uow:
        assert uow.shipping_families.for_connection(connection_id) == {
            1: ShippingFamily(1, "Correios", 3), 2: ShippingFamily(2, "Jadlog Expresso", 5)}
        assert uow.shipping_families.for_connection(connection_id + 1000) == {}


def test_carrier_mappings_are_set_replaced_and_removed(write_side: WriteSide) -> None:
    a, _ = write_side.merchant("a@loja.com.br")
    b, _ = write_side.merchant("b@loja.com.br")
    with write_side.uow() as uow:
        uow.carrier_mappings.set(a, "k1", "jadlog")
        uow.carrier_mappings.set(a, "k2", "none")
        uow.carrier_mappings.set(b, "k1", "correios")
        uow.commit()
    with write_side.uow() as uow:
        uow.carrier_mappings.set(a, "k1", "loggi")
        assert uow.carrier_mappings.remove(a, "k2") is True
        assert uow.carrier_mappings.remove(a, "k3") is False
        uow.commit()
    with write_side.uow() as uow:
        assert uow.carrier_mappings.for_merchant(a) == {"k1": "loggi"}
        assert uow.carrier_mappings.for_merchant(b) == {"k1": "correios"}


# -- customers and orders ------------------------------------------------------------------


def test_customers_are_found_by_document_email_and_erp_id_within_their_merchant(write_side: WriteSide) -> None:
    a, _ = write_side.merchant("a@loja.com.br")
    b, _ = write_side.merchant("b@loja.com.br")
    first = Customer.from_data(a, customer(1))
    twin = Customer.from_data(a, customer(2, document=None, email=customer(1).email, erp_customer_id=1001))
    with write_side.uow() as uow:
        uow.customers.add(first)
        uow.customers.add(Customer.from_data(b, customer(1)))
        uow.commit()
    with write_side.uow() as uow:
        uow.customers.add(twin)
        uow.commit()
    document, email = customer(1).document.value, customer(1).email  # type: ignore[union-attr]
    with write_side.uow() as uow:
        found = uow.customers.by_documents(a, [document, "00000000000"])
        assert list(found) == [document] and found[document].id == first.id
        assert uow.customers.by_emails(a, [email])[email].id == first.id  # type: ignore[index]  # the oldest
        assert uow.customers.by_erp_ids(a, [1001])[1001].id == first.id
        assert uow.customers.by_documents(a, []) == {} and uow.customers.by_emails(a, []) == {}
        assert uow.customers.get(a, first.id).name == "Cliente 1"  # type: ignore[arg-type, union-attr]
        assert uow.customers.get(b, first.id) is None  # type: ignore[arg-type]
        assert uow.customers.by_documents(b, [document])[document].merchant_id == b


def test_an_order_is_stored_once_per_connection_and_erp_id(write_side: WriteSide) -> None:
    a, connection_a = write_side.shop("a@loja.com.br")
    _, connection_b = write_side.shop("b@loja.com.br")
    write_side.import_orders(connection_a, erp_order(1), erp_order(2))
    write_side.import_orders(connection_a, erp_order(1, situacao=Situacao.ENTREGUE))
    write_side.import_orders(connection_b, erp_order(1))
    with write_side.uow() as uow:
        mine = uow.orders.by_erp_ids(connection_a, [1, 2, 3])
        assert sorted(mine) == [1, 2]
        assert mine[1].tracking_status is ShipmentStatus.DELIVERED
        theirs = uow.orders.by_erp_ids(connection_b, [1])[1]
        assert theirs.id != mine[1].id and theirs.tracking_status is ShipmentStatus.TRACKING
        assert uow.orders.get(a, mine[1].id).erp_order_id == 1  # type: ignore[arg-type, union-attr]
        assert uow.orders.get(a, theirs.id) is None  # type: ignore[arg-type]
        assert uow.orders.by_erp_ids(connection_a, []) == {}


def test_an_order_is_read_back_as_saved_with_its_customer_and_shipments(write_side: WriteSide) -> None:
    _, connection_id = write_side.shop()
    write_side.import_orders(connection_id, erp_order(1))
    write_side.import_orders(connection_id, erp_order(1, tracking_code=s10(2), total=None))
    order = write_side.order(connection_id, 1)
    assert (order.number, order.ecommerce_number, order.total) == ("10001", "MLB-1", None)
    assert order.customer is not None and order.customer.document == customer(1).document
    assert order.invoice == erp_order(1).invoice and order.shipping == erp_order(1).shipping
    assert (order.carrier_code, order.tracking_code, order.tracking_status) == ("correios", s10(2), ShipmentStatus.TRACKING)
    assert [(s.tracking_code, s.status, s.active) for s in order.shipments] == [
        (s10(1).value, ShipmentStatus.CANCELLED, False), (s10(2).value, ShipmentStatus.TRACKING, True)]
    assert order.fingerprint_version == FINGERPRINT_VERSION and len(order.fingerprint) == 64
    assert order.warnings == () and order.shipping_address is not None


def test_fingerprints_are_light_reads_and_an_older_version_is_unknown(write_side: WriteSide) -> None:
    _, connection_id = write_side.shop()
    write_side.import_orders(connection_id, erp_order(1), erp_order(2, invoice=None))
    one, two = write_side.order(connection_id, 1), write_side.order(connection_id, 2)
    with write_side.uow() as uow:
        assert uow.orders.fingerprints(connection_id, [1, 2, 3]) == {1: one.fingerprint, 2: two.fingerprint}
        assert uow.orders.stored(connection_id, [2, 3, 1]) == {
            1: StoredOrder(one.fingerprint, one.invoice, one.total), 2: StoredOrder(two.fingerprint, None, two.total)}
        assert uow.orders.fingerprints(connection_id, []) == {} and uow.orders.stored(connection_id, []) == {}
        stale = uow.orders.by_erp_ids(connection_id, [2])[2]
        stale.fingerprint_version = FINGERPRINT_VERSION - 1
        uow.commit()
    with write_side.uow() as uow:
        assert uow.orders.fingerprints(connection_id, [1, 2]) == {1: one.fingerprint, 2: ""}
        assert uow.orders.stored(connection_id, [2])[2].fingerprint == ""


def test_orders_waiting_for_a_carrier(write_side: WriteSide) -> None:
    _, connection_id = write_side.shop()
    odd = ShippingService(service_id=9, service_name="Rota Sul")
    write_side.import_orders(connection_id, erp_order(1, shipping=odd, tracking_code=None),
                             erp_order(2, shipping=odd, tracking_code=None), erp_order(3))
    with write_side.uow() as uow:
        assert sorted(o.erp_order_id for o in uow.orders.waiting_for_carrier(connection_id, odd.key)) == [1, 2]  # type: ignore[arg-type]
        order = uow.orders.by_erp_ids(connection_id, [2])[2]
        order.assign_carrier(DEFAULT_REGISTRY.get("jadlog"), Action.IMPORT, write_side.clock.now())  # type: ignore[arg-type]
        uow.commit()
    with write_side.uow() as uow:
        assert [o.erp_order_id for o in uow.orders.waiting_for_carrier(connection_id, odd.key)] == [1]  # type: ignore[arg-type]
        assert sorted(o.erp_order_id for o in uow.orders.waiting_for_carrier(connection_id, odd.key, "jadlog")) == [1, 2]  # type: ignore[arg-type]
        assert uow.orders.fingerprints(connection_id, [2]) == {2: ""}  # the next import must not be skipped


# -- import failures -------------------------------------------------------------------------


def test_import_failures_are_recorded_resolved_and_purged(write_side: WriteSide) -> None:
    _, connection_id = write_side.shop()
    now = write_side.clock.now()
    with write_side.uow() as uow:
        uow.import_failures.add(ImportFailure(connection_id, 1, "situação desconhecida: 77", {"id": 1}, now, now,
                                              number="10001", customer_name="Cliente 1"))
        uow.import_failures.add(ImportFailure(connection_id, None, "sem id", {"x": [1, None]}, now, now))
        uow.commit()
    with write_side.uow() as uow:
        (failure,) = uow.import_failures.for_erp_ids(connection_id, [1, 2]).values()
        assert (failure.erp_order_id, failure.reason, failure.raw, failure.number) == (
            1, "situação desconhecida: 77", {"id": 1}, "10001")
        assert uow.import_failures.get(failure.id).customer_name == "Cliente 1"  # type: ignore[arg-type, union-attr]
        (without_id,) = uow.import_failures.open_without_id(connection_id)
        assert without_id.raw == {"x": [1, None]}
        failure.seen_again("outra razão", {"id": 1, "v": 2}, now + timedelta(minutes=1))
        without_id.resolve(now)
        uow.commit()
    with write_side.uow() as uow:
        assert uow.import_failures.for_erp_ids(connection_id, [1])[1].reason == "outra razão"
        assert uow.import_failures.open_without_id(connection_id) == []
        uow.import_failures.for_erp_ids(connection_id, [1])[1].resolve(now + timedelta(days=1))
        uow.commit()
    with write_side.uow() as uow:
        assert uow.import_failures.for_erp_ids(connection_id, [1]) == {}
        assert uow.import_failures.purge_resolved(now + timedelta(hours=1)) == 1  # the one resolved at `now`
        uow.commit()
    with write_side.uow() as uow:
        assert uow.import_failures.purge_resolved(now + timedelta(days=2)) == 1
        assert uow.import_failures.get(without_id.id) is None  # type: ignore[arg-type]


# -- the connection's history -----------------------------------------------------------------


def test_events_are_appended_and_quiet_polls_folded_per_hour(write_side: WriteSide) -> None:
    merchant_id, connection_id = write_side.shop()
    at = write_side.clock.now()
    with write_side.uow() as uow:
        uow.events.add(ConnectionEvent(connection_id, EventKind.CONNECTED, at - timedelta(days=40), "conectado"))
        uow.events.add(ConnectionEvent.poll(connection_id, at, imported=2, updated=0, failed=0, api_calls=3))
        uow.events.add(ConnectionEvent.poll(connection_id, at + timedelta(minutes=1), imported=0, updated=0,
                                            failed=0, api_calls=1))
        uow.commit()
    with write_side.uow() as uow:
        uow.events.add(ConnectionEvent.poll(connection_id, at + timedelta(minutes=2), imported=0, updated=0,
                                            failed=0, api_calls=2))
        uow.commit()
    events = write_side.sync.events(merchant_id, PageRequest(1, 50)).items
    assert [(e.kind, e.imported, e.polls, e.api_calls) for e in events] == [
        (EventKind.POLL, 0, 2, 3), (EventKind.POLL, 2, 1, 3), (EventKind.CONNECTED, 0, 1, 0)]
    assert (events[0].first_at, events[0].at) == (at + timedelta(minutes=1), at + timedelta(minutes=2))
    with write_side.uow() as uow:
        assert uow.events.purge(at - timedelta(days=30)) == 1
        uow.commit()
    assert len(write_side.sync.events(merchant_id, PageRequest(1, 50)).items) == 2


# -- the outbox --------------------------------------------------------------------------------


def test_the_outbox_hands_out_each_streams_oldest_pending_message_once(write_side: WriteSide) -> None:
    now = write_side.clock.now()
    with write_side.uow() as uow:
        for stream, erp_id, kind in [("1:1", 1, TrackingRequestKind.START), ("1:1", 1, TrackingRequestKind.CANCEL),
                                     ("1:2", 2, TrackingRequestKind.START), ("1:3", 3, TrackingRequestKind.START)]:
            uow.outbox.add(OutboxMessage(stream, request(erp_id, kind), now, now))
        uow.outbox.add(OutboxMessage("1:4", request(4), now, now + timedelta(minutes=1)))  # not due yet
        uow.commit()
    with write_side.uow() as uow:
        claimed = uow.outbox.claim("w1", now, LEASE, limit=2)
        uow.commit()
    assert [(m.stream, m.request) for m in claimed] == [("1:1", request(1)), ("1:2", request(2))]
    assert all((m.lease_owner, m.lease_expires_at) == ("w1", now + LEASE) for m in claimed)
    with write_side.uow() as uow:  # leased: another worker gets the rest only
        assert [m.stream for m in uow.outbox.claim("w2", now, LEASE, limit=10)] == ["1:3"]
        uow.commit()
    with write_side.uow() as uow:
        (first,) = uow.outbox.by_ids([claimed[0].id])  # type: ignore[list-item]
        assert first.request == request(1)
        first.delivered_at, first.lease_owner, first.lease_expires_at = now, None, None
        uow.commit()
    with write_side.uow() as uow:  # the next of stream 1:1 once the first is delivered, and 1:4 once due
        again = uow.outbox.claim("w3", now + timedelta(minutes=2), LEASE, limit=10)
        uow.commit()
    assert [(m.stream, m.request.kind) for m in again] == [
        ("1:1", TrackingRequestKind.CANCEL), ("1:4", TrackingRequestKind.START)]
    with write_side.uow() as uow:  # leases that ran out are free again; delivered messages never come back
        expired = uow.outbox.claim("w4", now + LEASE, LEASE, limit=10)
        uow.commit()
    assert [m.stream for m in expired] == ["1:2", "1:3"]
