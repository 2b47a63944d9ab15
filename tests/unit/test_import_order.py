from datetime import UTC, datetime

import attrs
from hypothesis import given, settings
from hypothesis import strategies as st

from kanglu.application.commands import ImportOrderCommand, MapShippingServiceCommand
from kanglu.application.use_cases.map_shipping_service import MapShippingService as MapUseCase
from kanglu.domain.carriers import DEFAULT_REGISTRY
from kanglu.domain.orders import MalformedOrder
from kanglu.domain.shipping import ShippingService
from kanglu.domain.situacoes import Situacao
from kanglu.domain.tracking import ShipmentStatus, TrackingRequestKind
from kanglu.domain.tracking_codes import TrackingCode
from tests.builders import access_key, connected_world, customer, erp_order, s10


def run(world, cid, *items):
    return world.import_order()(ImportOrderCommand(cid, list(items)))


def orders(world):
    return world.uow.read().orders.all()


def outbox_kinds(world):
    return [(m.request.kind, m.request.tracking_code) for m in world.uow.read().outbox.all()]


def test_imports_every_field_and_starts_tracking() -> None:
    world, cid = connected_world()
    report = run(world, cid, erp_order(1))
    assert report.imported == 1 and report.tracking_requests == 1
    (order,) = orders(world)
    assert (order.number, order.ecommerce_number, str(order.total)) == ("10001", "MLB-1", "199.90")
    assert order.customer.document.value == customer(1).document.value
    assert order.invoice.access_key == access_key(501)
    assert order.carrier_code == "correios"
    assert order.tracking_code == s10(1)
    assert order.tracking_url.endswith(s10(1).value)
    assert order.tracking_status is ShipmentStatus.TRACKING
    assert outbox_kinds(world) == [(TrackingRequestKind.START, s10(1).value)]


def test_the_same_payload_twice_changes_nothing() -> None:
    world, cid = connected_world()
    run(world, cid, erp_order(1))
    commits = world.uow.db.commits
    report = run(world, cid, erp_order(1))
    assert report.unchanged == 1 and report.imported == 0
    assert len(orders(world)) == 1 and len(world.uow.read().outbox.all()) == 1
    assert len(world.uow.read().customers._of(7)) == 1
    assert world.uow.db.commits == commits + 1


def test_only_orders_that_changed_are_loaded_whole(monkeypatch) -> None:  # type: ignore[no-untyped-def]
    """A poll's overlap re-lists orders that did not change: their stored signature is enough."""
    from tests.fakes import FakeOrders

    world, cid = connected_world()
    run(world, cid, erp_order(1), erp_order(2), erp_order(3))
    loaded: list[list[int]] = []
    original = FakeOrders.by_erp_ids
    monkeypatch.setattr(FakeOrders, "by_erp_ids",
                        lambda self, c, ids: loaded.append(sorted(ids)) or original(self, c, ids))
    report = run(world, cid, erp_order(1), erp_order(2, situacao=Situacao.ENTREGUE), erp_order(3), erp_order(4))
    assert (report.unchanged, report.imported) == (2, 2)
    assert loaded == [[2]]  # 4 is new: nothing to load; 1 and 3 are unchanged
    assert {o.erp_order_id: o.tracking_status for o in orders(world)}[2] is ShipmentStatus.DELIVERED


def test_tracking_code_arriving_later_starts_tracking_then() -> None:
    world, cid = connected_world()
    run(world, cid, erp_order(1, situacao=Situacao.FATURADA, tracking_code=None))
    (order,) = orders(world)
    assert order.tracking_status is ShipmentStatus.WAITING_DATA and outbox_kinds(world) == []
    run(world, cid, erp_order(1, situacao=Situacao.ENVIADA))
    (order,) = orders(world)
    assert order.tracking_status is ShipmentStatus.TRACKING
    assert outbox_kinds(world) == [(TrackingRequestKind.START, s10(1).value)]


def test_invoice_tracking_code_is_the_fallback() -> None:
    world, cid = connected_world()
    invoice = attrs.evolve(erp_order(1).invoice, tracking_code=s10(77))
    run(world, cid, erp_order(1, tracking_code=None, invoice=invoice))
    assert orders(world)[0].tracking_code == s10(77)


def test_new_tracking_code_restarts_tracking() -> None:
    world, cid = connected_world()
    run(world, cid, erp_order(1))
    run(world, cid, erp_order(1, tracking_code=s10(2)))
    assert outbox_kinds(world) == [
        (TrackingRequestKind.START, s10(1).value),
        (TrackingRequestKind.CANCEL, s10(1).value),
        (TrackingRequestKind.START, s10(2).value),
    ]
    (order,) = orders(world)
    assert [s.active for s in order.shipments] == [False, True]


def test_cancelled_order_stops_tracking_and_delivered_closes_it() -> None:
    world, cid = connected_world()
    run(world, cid, erp_order(1), erp_order(2))
    run(world, cid, erp_order(1, situacao=Situacao.CANCELADA), erp_order(2, situacao=Situacao.ENTREGUE))
    by_id = {o.erp_order_id: o for o in orders(world)}
    assert by_id[1].tracking_status is ShipmentStatus.CANCELLED
    assert by_id[2].tracking_status is ShipmentStatus.DELIVERED
    kinds = [m.request.kind for m in world.uow.read().outbox.all()]
    assert kinds.count(TrackingRequestKind.CANCEL) == 1 and kinds.count(TrackingRequestKind.DELIVERED) == 1


def test_first_seen_delivered_or_cancelled_is_imported_closed_without_tracking() -> None:
    world, cid = connected_world()
    run(world, cid, erp_order(1, situacao=Situacao.ENTREGUE), erp_order(2, situacao=Situacao.CANCELADA))
    assert {o.tracking_status for o in orders(world)} == {ShipmentStatus.DELIVERED, ShipmentStatus.CANCELLED}
    assert outbox_kinds(world) == []


def test_ignored_situacao_is_not_imported_but_updates_a_known_order() -> None:
    world, cid = connected_world()
    run(world, cid, erp_order(1, situacao=Situacao.ABERTA))
    assert orders(world) == []
    run(world, cid, erp_order(2))
    run(world, cid, erp_order(2, situacao=Situacao.NAO_ENTREGUE))
    (order,) = orders(world)
    assert order.situacao is Situacao.NAO_ENTREGUE and order.tracking_status is ShipmentStatus.TRACKING


def test_a_bad_payload_among_good_ones_is_recorded_and_the_rest_imported() -> None:
    world, cid = connected_world()
    bad = MalformedOrder(3, "chave de acesso inválida: o dígito verificador não confere", {"id": 3})
    report = run(world, cid, erp_order(1), bad, erp_order(2))
    assert (report.imported, report.failed) == (2, 1)
    failures = world.uow.read().import_failures.for_erp_ids(cid, [3])
    assert failures[3].reason.startswith("chave de acesso")
    run(world, cid, erp_order(3))
    assert world.uow.read().import_failures.for_erp_ids(cid, [3]) == {}


def test_customer_created_once_and_matched_by_document_then_email() -> None:
    world, cid = connected_world()
    same_person = customer(1, name="Cliente Um Atualizado", email=None, erp_customer_id=None)
    by_email = customer(9, document=None, email=customer(1).email, erp_customer_id=None)
    run(world, cid, erp_order(1), erp_order(2, customer=same_person), erp_order(3, customer=by_email))
    people = world.uow.read().customers._of(7)
    assert len(people) == 1
    assert people[0].name == "Cliente 9"  # the last order's data wins
    assert people[0].email == customer(1).email  # an empty field keeps what was known


def test_same_email_but_another_document_is_another_customer() -> None:
    world, cid = connected_world()
    other = customer(2, email=customer(1).email)
    run(world, cid, erp_order(1), erp_order(2, customer=other))
    assert len(world.uow.read().customers._of(7)) == 2


def test_unknown_carrier_waits_until_the_merchant_maps_the_service() -> None:
    world, cid = connected_world()
    odd = ShippingService(service_id=99, service_name="Entrega Expressa Zé", freight_name="Motoboy")
    courier_code = TrackingCode.parse("ZE-000123")
    run(world, cid, erp_order(1, shipping=odd, tracking_code=None, invoice=None),
        erp_order(2, shipping=odd, tracking_code=courier_code))
    assert {o.carrier_code for o in orders(world)} == {None}
    assert outbox_kinds(world) == []
    moved = MapUseCase(uow=world.uow, clock=world.clock, carriers=DEFAULT_REGISTRY)(
        MapShippingServiceCommand(7, odd.key, "loggi")
    )
    assert moved == 2
    by_id = {o.erp_order_id: o for o in orders(world)}
    assert by_id[2].tracking_status is ShipmentStatus.TRACKING
    assert by_id[1].tracking_status is ShipmentStatus.WAITING_DATA  # no code yet
    assert outbox_kinds(world) == [(TrackingRequestKind.START, "ZE-000123")]
    run(world, cid, erp_order(3, shipping=odd, tracking_code=courier_code))
    assert {o.erp_order_id: o.carrier_code for o in orders(world)}[3] == "loggi"


# -- any sequence of versions imports to the state of the last one -------------------------

MAPPED = [Situacao.FATURADA, Situacao.PRONTO_ENVIO, Situacao.ENVIADA, Situacao.ENTREGUE, Situacao.CANCELADA]

versions = st.builds(
    lambda situacao, code, total, name, email, with_invoice: erp_order(
        1,
        situacao=situacao,
        tracking_code=s10(code) if code is not None else None,
        total=__import__("kanglu.domain.money", fromlist=["Money"]).Money.parse(total),
        customer=customer(1, name=name, email=email),
        invoice=erp_order(1).invoice if with_invoice else None,
    ),
    st.sampled_from(list(Situacao)),
    st.one_of(st.none(), st.integers(0, 3)),
    st.sampled_from(["10.00", "199.90", "0.00"]),
    st.sampled_from(["Ana", "Bruno"]),
    st.sampled_from(["ana@example.com", "bruno@example.com"]),
    st.booleans(),
)

ORDER_FIELDS = ("situacao", "number", "ecommerce_number", "total", "created_at", "invoice", "shipping",
                "carrier_code", "tracking_code", "tracking_url", "tracking_status")


def observable(world):
    (order,) = orders(world)
    state = {f: getattr(order, f) for f in ORDER_FIELDS}
    state["customer"] = (order.customer.name, order.customer.document, order.customer.email)
    return state


@settings(max_examples=200, deadline=None)
@given(st.lists(versions, min_size=1, max_size=5), st.sampled_from(MAPPED))
def test_any_sequence_of_versions_ends_as_the_last_one(history, last_situacao) -> None:
    last = attrs.evolve(history[-1], situacao=last_situacao)
    world, cid = connected_world()
    for version in history[:-1]:
        run(world, cid, version)
    run(world, cid, last)
    alone, alone_cid = connected_world()
    run(alone, alone_cid, last)
    assert observable(world) == observable(alone)
    # Tracking requests always make sense: each shipment starts once, ends at most once.
    per_shipment: dict[str, list[str]] = {}
    for message in world.uow.read().outbox.all():
        per_shipment.setdefault(message.request.shipment_key, []).append(message.request.kind.value)
    assert all(kinds[0] == "start" and len(kinds) <= 2 for kinds in per_shipment.values())
