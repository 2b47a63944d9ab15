"""MapShippingServiceCommand: the merchant names the carrier of a service no rule identified."""

from __future__ import annotations

import pytest

from kanglu.application.commands import DeliverTrackingRequestsCommand, ImportOrderCommand, MapShippingServiceCommand
from kanglu.application.errors import InvalidInput
from kanglu.application.use_cases.deliver_tracking import DeliverTrackingRequests
from kanglu.application.use_cases.map_shipping_service import MapShippingService as MapUseCase
from kanglu.domain.carriers import DEFAULT_REGISTRY
from kanglu.domain.shipping import ShippingService
from kanglu.domain.tracking import ShipmentStatus, TrackingRequestKind
from kanglu.domain.tracking_codes import TrackingCode
from tests.builders import connected_world, erp_order
from tests.fakes import FakeTrackingService

GENERIC = dict(service_id=40, service_name="Transportadora", freight_name="Normal", family=2)
BRASPRESS = ShippingService(**GENERIC, carrier_name="BRASPRESS TRANSPORTES URGENTES LTDA")
SILVA = ShippingService(**GENERIC, carrier_name="Transportes Silva Ltda")
CODE = TrackingCode.parse("SILVA-000123")


def test_mapping_a_generic_service_leaves_its_other_carriers_alone_and_tracks_at_the_next_cycle() -> None:
    world, cid = connected_world()
    world.import_order()(
        ImportOrderCommand(cid, [erp_order(1, shipping=BRASPRESS, tracking_code=CODE),
                           erp_order(2, shipping=SILVA, tracking_code=CODE)])
    )
    before = {o.erp_order_id: o for o in world.uow.read().orders.all()}
    assert (before[1].carrier_code, before[2].carrier_code) == ("braspress", None)
    assert before[2].shipping_key == "transportadora / normal / transportes silva ltda"

    moved = MapUseCase(uow=world.uow, clock=world.clock, carriers=DEFAULT_REGISTRY)(
        MapShippingServiceCommand(7, before[2].shipping_key, "rodonaves")
    )
    assert moved == 1
    after = {o.erp_order_id: o for o in world.uow.read().orders.all()}
    assert after[1].carrier_code == "braspress"  # same label words but another carrier: untouched
    assert after[2].carrier_code == "rodonaves" and after[2].tracking_status is ShipmentStatus.TRACKING

    service = FakeTrackingService()
    DeliverTrackingRequests(uow=world.uow, clock=world.clock, tracking=service)(
        DeliverTrackingRequestsCommand(owner="worker-1")
    )
    started = [(r.erp_order_id, r.kind, r.carrier_code) for r in service.received]
    assert (2, TrackingRequestKind.START, "rodonaves") in started


def test_the_mapping_then_wins_for_new_orders_of_that_service() -> None:
    world, cid = connected_world()
    MapUseCase(uow=world.uow, clock=world.clock, carriers=DEFAULT_REGISTRY)(
        MapShippingServiceCommand(7, SILVA.key or "", "rodonaves")
    )
    world.import_order()(
        ImportOrderCommand(cid, [erp_order(3, shipping=SILVA, tracking_code=CODE)])
    )
    (order,) = world.uow.read().orders.all()
    assert order.carrier_code == "rodonaves"


def test_an_unknown_carrier_code_is_refused_in_portuguese() -> None:
    world, _ = connected_world()
    with pytest.raises(InvalidInput) as refused:
        MapUseCase(uow=world.uow, clock=world.clock, carriers=DEFAULT_REGISTRY)(
            MapShippingServiceCommand(7, "motoboy", "teletransporte")
        )
    assert refused.value.field_errors == {"carrier_code": "transportadora desconhecida"}
