"""Acceptance: the outbox and the HTTP adapter against a real local tracking service that fails,
times out after processing, and deduplicates on the idempotency key."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta

import httpx
import pytest

from kanglu.adapters.tracking.http import HttpTrackingService
from kanglu.application.commands import DeliverTrackingRequestsCommand, ImportOrderCommand
from kanglu.application.use_cases.deliver_tracking import DeliverTrackingRequests
from kanglu.domain.situacoes import Situacao
from tests.builders import World, connected_world, erp_order, s10
from tests.integration.tracking_server import ServerState, tracking_server

CLIENT_TIMEOUT = 0.5
SLOW = 5.0  # far past the client's timeout; the server stops waiting when the test ends
PAST_ANY_BACKOFF = timedelta(minutes=16)  # the outbox backs off 15 minutes at most


def deliver_until_empty(world: World, url: str, max_cycles: int = 40) -> int:
    """Worker cycles, the clock moving on between them, until the outbox is empty."""
    with httpx.Client(timeout=CLIENT_TIMEOUT) as client:
        deliver = DeliverTrackingRequests(
            uow=world.uow, clock=world.clock, tracking=HttpTrackingService(client=client, url=url)
        )
        for cycle in range(1, max_cycles + 1):
            deliver(DeliverTrackingRequestsCommand(owner="worker-1"))
            if not world.uow.read().outbox.pending():
                return cycle
            world.clock.advance(PAST_ANY_BACKOFF)
    raise AssertionError(f"outbox not empty after {max_cycles} cycles: {world.uow.read().outbox.pending()}")


@pytest.fixture
def service() -> Iterator[tuple[ServerState, str]]:
    state = ServerState(fail_first=3, slow_on=frozenset({1}), slow_seconds=SLOW)
    with tracking_server(state) as url:
        yield state, url


def test_each_order_reaches_the_service_once_in_order_despite_failures_and_a_timeout(service) -> None:
    world, cid = connected_world()
    state, url = service
    importing = world.import_order()
    importing(ImportOrderCommand(cid, [erp_order(i) for i in range(1, 7)]))
    world.clock.advance(minutes=1)
    importing(ImportOrderCommand(cid, [
        erp_order(1, situacao=Situacao.ENTREGUE),
        erp_order(2, situacao=Situacao.ENTREGUE),
        erp_order(3, situacao=Situacao.CANCELADA),
    ]))
    assert len(world.uow.read().outbox.pending()) == 9

    cycles = deliver_until_empty(world, url)

    assert state.events_by_order() == {
        1: [("start", s10(1).value), ("delivered", s10(1).value)],
        2: [("start", s10(2).value), ("delivered", s10(2).value)],
        3: [("start", s10(3).value), ("cancel", s10(3).value)],
        4: [("start", s10(4).value)],
        5: [("start", s10(5).value)],
        6: [("start", s10(6).value)],
    }
    shipments = state.shipments_by_order()
    assert {order: len(found) for order, found in shipments.items()} == {i: 1 for i in range(1, 7)}
    assert {order: found[0].status for order, found in shipments.items()} == {
        1: "delivered", 2: "delivered", 3: "cancelled", 4: "tracking", 5: "tracking", 6: "tracking"
    }
    assert all(found[0].carrier_code == "correios" for found in shipments.values())
    # The scenario really happened: three 500s, one answer lost after processing and its
    # retry recognised by its key, and nothing refused as malformed or out of order.
    assert (state.failures_served, state.slow_served) == (3, 1)
    assert state.replays >= 1
    assert state.rejected == []
    assert cycles > 2
    assert all(m.delivered_at is not None for m in world.uow.read().outbox.all())


def test_a_new_tracking_code_cancels_the_old_shipment_before_starting_the_new_one() -> None:
    world, cid = connected_world()
    state = ServerState(fail_first=2, slow_on=frozenset({0}), slow_seconds=SLOW)
    importing = world.import_order()
    importing(ImportOrderCommand(cid, [erp_order(1), erp_order(2)]))
    importing(ImportOrderCommand(cid, [erp_order(1, tracking_code=s10(91))]))
    with tracking_server(state) as url:
        deliver_until_empty(world, url)

    assert state.events_by_order() == {
        1: [("start", s10(1).value), ("cancel", s10(1).value), ("start", s10(91).value)],
        2: [("start", s10(2).value)],
    }
    first, second = state.shipments_by_order()[1]
    assert (first.tracking_code, first.status) == (s10(1).value, "cancelled")
    assert (second.tracking_code, second.status) == (s10(91).value, "tracking")
    assert state.rejected == [] and state.slow_served == 1 and state.replays >= 1
