"""The use cases end to end on the real unit of work, with the fakes of the ERP and OAuth; the
in-memory fakes' behaviour is the reference (the differential test at the end)."""

from __future__ import annotations

import itertools
from datetime import timedelta

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import select

from kanglu.adapters.sql import tables as t
from kanglu.adapters.tracking.builtin import BuiltinTrackingService
from kanglu.application.commands import (
    DeliverTrackingRequestsCommand,
    ImportOrderCommand,
    DisconnectErpCommand,
    MapShippingServiceCommand,
    PollOrdersByStatusCommand,
    RefreshTokenCommand,
    UpdateStatusMappingCommand,
)
from kanglu.application.errors import TransientFailure
from kanglu.application.importing import ImportReport
from kanglu.application.use_cases.deliver_tracking import DeliverTrackingRequests
from kanglu.application.use_cases.disconnect_erp import DisconnectErp as DisconnectUseCase
from kanglu.application.use_cases.map_shipping_service import MapShippingService as MapUseCase
from kanglu.application.use_cases.poll_orders import PollOutcome
from kanglu.application.use_cases.refresh_token import RenewalOutcome
from kanglu.application.use_cases.update_status_mapping import UpdateStatusMapping as UpdateMappingUseCase
from kanglu.domain.carriers import DEFAULT_REGISTRY
from kanglu.domain.connections import ConnectionStatus
from kanglu.domain.customers import Customer
from kanglu.domain.jobs import JobKind
from kanglu.domain.money import Money
from kanglu.domain.orders import MalformedOrder
from kanglu.domain.shipping import ShippingFamily, ShippingService
from kanglu.domain.situacoes import Situacao
from kanglu.domain.tracking import ShipmentStatus, TrackingRequestKind
from kanglu.domain.tracking_codes import TrackingCode
from tests.builders import World, connected_world, customer, erp_order, s10
from tests.fakes import transient
from tests.integration.sql.helpers import CLIENT_SECRET, SqlWorld


def kinds(world: SqlWorld) -> list[tuple[str, str]]:
    return [(m.request.kind.value, m.request.tracking_code) for m in world.outbox()]


# -- connecting and tokens ----------------------------------------------------------------


def test_connect_stores_sealed_tokens_and_makes_the_first_poll_due(world: SqlWorld) -> None:
    merchant_id, cid = world.connect()
    with world.uow() as u:
        connection = u.connections.get(cid)
        assert connection.status is ConnectionStatus.CONNECTED and connection.account_name == "Loja Exemplo Ltda"
        assert world.box.open(connection.client_secret).value == CLIENT_SECRET
        assert world.box.open(connection.access_token).value.startswith("access-")
        assert connection.auth_nonce is None and connection.auth_verifier is None
        assert u.jobs.get(JobKind.POLL, cid).due_at == world.clock.now()
        assert u.jobs.get(JobKind.RENEW_TOKEN, cid).due_at == connection.renewal_due_at(timedelta(minutes=10))


def test_refresh_when_due_then_not_again(world: SqlWorld) -> None:
    _, cid = world.connect()
    assert world.refresh()(RefreshTokenCommand(cid)).outcome is RenewalOutcome.NOT_DUE
    world.clock.advance(hours=3, minutes=55)
    assert world.refresh()(RefreshTokenCommand(cid)).outcome is RenewalOutcome.RENEWED
    assert world.refresh()(RefreshTokenCommand(cid)).outcome is RenewalOutcome.NOT_DUE
    assert world.oauth.refresh_calls == 1
    with world.uow() as u:
        connection = u.connections.get(cid)
        assert connection.token_version == 2
        assert world.box.open(connection.access_token).value in world.oauth.current_access()


def test_a_refused_renewal_disconnects_and_a_transient_one_changes_nothing(world: SqlWorld) -> None:
    _, cid = world.connect()
    world.clock.advance(hours=3, minutes=55)
    world.oauth.fail_next.append(transient())
    assert world.refresh()(RefreshTokenCommand(cid)).outcome is RenewalOutcome.RETRY
    with world.uow() as u:
        connection = u.connections.get(cid)
        assert (connection.status, connection.refresh_failures, connection.last_error) == (
            ConnectionStatus.CONNECTED, 1, None)
    world.oauth.valid_refresh.clear()  # Tiny revoked the refresh token
    assert world.refresh()(RefreshTokenCommand(cid)).outcome is RenewalOutcome.DISCONNECTED
    with world.uow() as u:
        connection = u.connections.get(cid)
        assert connection.status is ConnectionStatus.DISCONNECTED and connection.access_token is None
        assert connection.last_error == "token de renovação inválido"  # the reason alone: the page adds when, and what to do


def test_disconnect_keeps_imported_orders(world: SqlWorld) -> None:
    merchant_id, cid = world.connect()
    world.import_orders(cid, erp_order(1))
    DisconnectUseCase(uow=world.uow, clock=world.clock)(DisconnectErpCommand(merchant_id))
    with world.uow() as u:
        assert u.connections.get(cid).status is ConnectionStatus.DISCONNECTED
    assert len(world.orders(cid)) == 1


def test_update_status_mapping(world: SqlWorld) -> None:
    merchant_id, cid = world.connect()
    UpdateMappingUseCase(uow=world.uow, clock=world.clock)(UpdateStatusMappingCommand(merchant_id, {"3": "import", "5": "ignore"}))
    with world.uow() as u:
        mapping = u.status_mappings.get(cid)
        assert Situacao.APROVADA in mapping.imported_situacoes and Situacao.ENVIADA not in mapping.imported_situacoes
        assert u.connections.get(cid).import_point_of_sale is False


def test_turning_point_of_sale_sales_on_is_stored_and_reads_the_backfill_again(world: SqlWorld) -> None:
    merchant_id, cid = world.connect()
    with world.uow() as u:
        connection = u.connections.get(cid)
        connection.poll_cursor = world.clock.now()
        u.commit()
    UpdateMappingUseCase(uow=world.uow, clock=world.clock)(UpdateStatusMappingCommand(merchant_id, {}, True))
    with world.uow() as u:
        connection = u.connections.get(cid)
        assert connection.import_point_of_sale is True and connection.poll_cursor is None
        connection.poll_cursor = world.clock.now()
        u.commit()
    UpdateMappingUseCase(uow=world.uow, clock=world.clock)(UpdateStatusMappingCommand(merchant_id, {}, False))
    with world.uow() as u:
        connection = u.connections.get(cid)
        assert connection.import_point_of_sale is False and connection.poll_cursor is not None


# -- polling and importing ----------------------------------------------------------------


def test_poll_imports_every_page_and_resumes_after_a_failure(world: SqlWorld) -> None:
    _, cid = world.connect()
    world.gateway.page_size = 10
    world.gateway.families = [ShippingFamily(10, "Correios", 1)]
    for i in range(1, 26):
        world.gateway.put(erp_order(i), world.clock.now() - timedelta(hours=1))
    original = world.gateway.changed_orders
    calls = itertools.count(1)

    def flaky(tokens, since, offset, **kw):  # type: ignore[no-untyped-def]
        if next(calls) == 2:
            raise TransientFailure("Tiny respondeu 503")
        return original(tokens, since, offset, **kw)

    world.gateway.changed_orders = flaky  # type: ignore[method-assign]
    assert world.poll()(PollOrdersByStatusCommand(cid)).outcome is PollOutcome.RETRY
    assert len(world.orders(cid)) == 10
    with world.uow() as u:
        assert u.connections.get(cid).poll_progress().next_offset == 10
        assert u.shipping_families.for_connection(cid) == {10: ShippingFamily(10, "Correios", 1)}
    result = world.poll()(PollOrdersByStatusCommand(cid))
    assert result.outcome is PollOutcome.COMPLETED and result.pages == 2
    assert [o.erp_order_id for o in world.orders(cid)] == list(range(1, 26))
    with world.uow() as u:
        connection = u.connections.get(cid)
        assert connection.poll_progress() is None and connection.last_sync_at == world.clock.now()


def test_import_is_idempotent_and_writes_nothing_the_second_time(world: SqlWorld) -> None:
    from sqlalchemy import event

    _, cid = world.connect()
    world.import_orders(cid, erp_order(1), erp_order(2))
    writes: list[str] = []

    def record(conn, cursor, statement, *args):  # type: ignore[no-untyped-def]
        if statement.lstrip().upper().startswith(("INSERT", "UPDATE", "DELETE")):
            writes.append(statement)

    event.listen(world.uow.engine, "before_cursor_execute", record)
    try:
        report = world.import_orders(cid, erp_order(1), erp_order(2))
    finally:
        event.remove(world.uow.engine, "before_cursor_execute", record)
    assert (report.imported, report.unchanged) == (0, 2)
    assert writes == []
    assert len(world.orders(cid)) == 2 and len(world.outbox()) == 2


def test_tracking_follows_the_payload_versions(world: SqlWorld) -> None:
    _, cid = world.connect()
    world.import_orders(cid, erp_order(1, situacao=Situacao.FATURADA, tracking_code=None), erp_order(2))
    assert kinds(world) == [("start", s10(2).value)]
    world.import_orders(cid, erp_order(1), erp_order(2, tracking_code=s10(3)))
    world.import_orders(cid, erp_order(1, situacao=Situacao.ENTREGUE), erp_order(2, situacao=Situacao.CANCELADA))
    assert sorted(kinds(world)) == sorted([
        ("start", s10(2).value), ("start", s10(1).value), ("cancel", s10(2).value), ("start", s10(3).value),
        ("delivered", s10(1).value), ("cancel", s10(3).value)])
    first, second = world.orders(cid)
    assert first.tracking_status is ShipmentStatus.DELIVERED and second.tracking_status is ShipmentStatus.CANCELLED
    assert [(s.tracking_code, s.active, s.status) for s in second.shipments] == [
        (s10(2).value, False, ShipmentStatus.CANCELLED), (s10(3).value, True, ShipmentStatus.CANCELLED)]


def test_a_bad_payload_is_recorded_then_resolved(world: SqlWorld) -> None:
    _, cid = world.connect()
    bad = MalformedOrder(3, "chave de acesso inválida: o dígito verificador não confere", {"id": 3})
    report = world.import_orders(cid, erp_order(1), bad, MalformedOrder(None, "pedido sem id", {"x": 1}))
    assert (report.imported, report.failed) == (1, 2)
    world.import_orders(cid, bad)  # seen again: still one open failure
    with world.uow() as u:
        assert u.import_failures.for_erp_ids(cid, [3])[3].reason.startswith("chave de acesso")
    world.import_orders(cid, erp_order(3))
    with world.uow() as u:
        assert u.import_failures.for_erp_ids(cid, [3]) == {}


def test_customers_are_created_once_and_matched(world: SqlWorld) -> None:
    merchant_id, cid = world.connect()
    same_person = customer(1, name="Cliente Um Atualizado", email=None, erp_customer_id=None)
    by_email = customer(9, document=None, email=customer(1).email, erp_customer_id=None)
    world.import_orders(cid, erp_order(1), erp_order(2, customer=same_person), erp_order(3, customer=by_email))
    world.import_orders(cid, erp_order(4, customer=customer(1)))
    with world.uow() as u:
        people = list(u.session.scalars(select(t.customers.c.name)))
    assert people == ["Cliente 1"]
    assert {o.customer.id for o in world.orders(cid)} == {1}


def test_mapping_a_shipping_service_starts_tracking_of_waiting_orders(world: SqlWorld) -> None:
    merchant_id, cid = world.connect()
    odd = ShippingService(service_id=99, service_name="Entrega Expressa Zé", freight_name="Motoboy")
    code = TrackingCode.parse("ZE-000123")
    world.import_orders(cid, erp_order(1, shipping=odd, tracking_code=None, invoice=None),
                        erp_order(2, shipping=odd, tracking_code=code))
    moved = MapUseCase(uow=world.uow, clock=world.clock, carriers=DEFAULT_REGISTRY)(
        MapShippingServiceCommand(merchant_id, odd.key, "loggi"))
    assert moved == 2 and kinds(world) == [("start", "ZE-000123")]
    world.import_orders(cid, erp_order(3, shipping=odd, tracking_code=code))
    assert {o.erp_order_id: o.carrier_code for o in world.orders(cid)} == {1: "loggi", 2: "loggi", 3: "loggi"}


def test_tracking_requests_reach_the_built_in_tracking_service_once_and_in_order(world: SqlWorld) -> None:
    _, cid = world.connect()
    tracking = BuiltinTrackingService(engine=world.uow.engine, clock=world.clock)
    deliver = DeliverTrackingRequests(uow=world.uow, clock=world.clock, tracking=tracking)
    world.import_orders(cid, erp_order(1))
    world.import_orders(cid, erp_order(1, tracking_code=s10(2)))
    assert deliver(DeliverTrackingRequestsCommand("w1")).delivered == 1  # the cancel waits for the start
    assert deliver(DeliverTrackingRequestsCommand("w1")).delivered == 1
    assert deliver(DeliverTrackingRequestsCommand("w1")).delivered == 1
    assert deliver(DeliverTrackingRequestsCommand("w1")).delivered == 0
    (order,) = world.orders(cid)
    first, second = order.shipments
    assert [r.kind for r in tracking.received(first.key)] == [TrackingRequestKind.START, TrackingRequestKind.CANCEL]
    assert [r.kind for r in tracking.received(second.key)] == [TrackingRequestKind.START]
    # A redelivery (worker died before recording it) is harmless.
    tracking.deliver(tracking.received(second.key)[0])
    assert len(tracking.received(second.key)) == 1
    assert all(m.delivered_at is not None for m in world.outbox())


# -- the fakes are the reference ---------------------------------------------------------

ORDER_FIELDS = ("situacao", "number", "ecommerce_number", "total", "created_at", "invoice", "shipping",
                "shipping_key", "carrier_code", "tracking_code", "tracking_url", "tracking_status", "fingerprint")

odd_service = ShippingService(service_id=77, service_name="Transportadora Regional")
versions = st.builds(
    lambda erp_id, situacao, code, total, who, shipping, with_invoice: erp_order(
        erp_id,
        situacao=situacao,
        tracking_code=s10(code) if code is not None else None,
        total=Money.parse(total),
        customer=customer(who) if who < 4 else customer(who, document=None, email=customer(1).email),
        shipping=shipping,
        invoice=erp_order(erp_id).invoice if with_invoice else None,
    ),
    st.integers(1, 4),
    st.sampled_from(list(Situacao)),
    st.one_of(st.none(), st.integers(0, 3)),
    st.sampled_from(["10.00", "199.90"]),
    st.integers(1, 5),
    st.sampled_from([erp_order(1).shipping, odd_service]),
    st.booleans(),
)
pages = st.lists(
    st.lists(st.one_of(versions, st.builds(lambda i: MalformedOrder(i, "inválido", {"id": i}), st.integers(1, 4))),
             min_size=1, max_size=4),
    min_size=1, max_size=4,
)
_merchants = itertools.count(1)


def import_on_fake(world: World, cid: int, page: list) -> ImportReport:  # type: ignore[type-arg]
    return world.import_order()(ImportOrderCommand(cid, page))


def fake_state(world: World, cid: int) -> dict:  # type: ignore[type-arg]
    u = world.uow.read()
    return _state(u.orders.all(), u.customers._of(7), u.outbox.all(), u.import_failures.for_erp_ids(cid, range(1, 5)))


def sql_state(world: SqlWorld, merchant_id: int, cid: int) -> dict:  # type: ignore[type-arg]
    with world.uow() as u:
        customers = list(u.session.scalars(
            select(Customer).where(t.customers.c.merchant_id == merchant_id).order_by(t.customers.c.id)))
        failures = u.import_failures.for_erp_ids(cid, range(1, 5))
    outbox = [m for m in world.outbox() if m.stream.startswith(f"{cid}:")]
    return _state(world.orders(cid), customers, outbox, failures)


def _state(orders, customers, outbox, failures) -> dict:  # type: ignore[no-untyped-def,type-arg]
    return {
        "orders": sorted(
            (
                {**{f: getattr(o, f) for f in ORDER_FIELDS},
                 "customer": o.customer.name if o.customer else None,
                 "shipments": [(s.carrier_code, s.tracking_code, s.status, s.active, s.closed_at) for s in o.shipments]}
                for o in orders
            ),
            key=lambda o: o["number"],
        ),
        "customers": [(c.name, c.document, c.email, c.phone, c.address, c.erp_customer_id) for c in customers],
        "outbox": [(m.request.erp_order_id, m.request.kind, m.request.tracking_code, m.request.customer_name)
                   for m in outbox],
        "failures": {k: f.reason for k, f in failures.items()},
    }


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(history=pages)
def test_the_sql_unit_of_work_behaves_like_the_fake(world: SqlWorld, history) -> None:  # type: ignore[no-untyped-def]
    fake, fake_cid = connected_world()
    merchant_id, cid = world.connect(email=f"loja{next(_merchants)}@example.com")
    for page in history:
        assert world.import_orders(cid, *page) == import_on_fake(fake, fake_cid, page)
    assert sql_state(world, merchant_id, cid) == fake_state(fake, fake_cid)
