from collections.abc import Callable

import pytest

from kanglu.application.commands import DeliverTrackingRequestsCommand, ImportOrderCommand
from kanglu.application.errors import TransientFailure
from kanglu.application.use_cases.deliver_tracking import RECORD_EVERY, DeliverTrackingRequests
from kanglu.domain.tracking import TrackingRequest
from kanglu.domain.situacoes import Situacao
from tests.builders import connected_world, erp_order, s10
from tests.fakes import FakeTrackingService, transient


def test_requests_reach_the_service_once_each_in_order_despite_failures() -> None:
    world, cid = connected_world()
    importer = world.import_order()
    importer(ImportOrderCommand(cid, [erp_order(1), erp_order(2)]))
    importer(ImportOrderCommand(cid, [erp_order(1, tracking_code=s10(5)), erp_order(2, situacao=Situacao.ENTREGUE)]))
    service = FakeTrackingService()
    service.failures = [transient(), transient()]
    deliver = DeliverTrackingRequests(uow=world.uow, clock=world.clock, tracking=service)
    for _ in range(12):
        deliver(DeliverTrackingRequestsCommand(owner="w1"))
        world.clock.advance(minutes=20)
    assert [m.delivered_at is not None for m in world.uow.read().outbox.all()] == [True] * 5
    per_order = {}
    for request in service.received:
        per_order.setdefault(request.erp_order_id, []).append((request.kind.value, request.tracking_code))
    assert per_order[1] == [("start", s10(1).value), ("cancel", s10(1).value), ("start", s10(5).value)]
    assert per_order[2] == [("start", s10(2).value), ("delivered", s10(2).value)]


def test_a_failure_records_the_error_and_backs_off() -> None:
    world, cid = connected_world()
    world.import_order()(ImportOrderCommand(cid, [erp_order(1)]))
    service = FakeTrackingService()
    service.failures = [transient("serviço de rastreamento fora do ar")]
    deliver = DeliverTrackingRequests(uow=world.uow, clock=world.clock, tracking=service)
    report = deliver(DeliverTrackingRequestsCommand(owner="w1"))
    assert (report.delivered, report.failed) == (0, 1)
    (message,) = world.uow.read().outbox.all()
    assert message.attempts == 1 and "fora do ar" in message.last_error
    assert message.next_attempt_at > world.clock.now()
    assert deliver(DeliverTrackingRequestsCommand(owner="w1")).delivered == 0  # not due yet


def test_an_unexpected_adapter_error_does_not_escape_and_is_retried() -> None:
    world, cid = connected_world()
    world.import_order()(ImportOrderCommand(cid, [erp_order(1)]))
    service = FakeTrackingService()
    service.failures = [ValueError("resposta inesperada")]
    deliver = DeliverTrackingRequests(uow=world.uow, clock=world.clock, tracking=service)
    assert deliver(DeliverTrackingRequestsCommand(owner="w1")).failed == 1
    (message,) = world.uow.read().outbox.all()
    assert "ValueError" in message.last_error and message.delivered_at is None
    world.clock.advance(minutes=5)
    assert deliver(DeliverTrackingRequestsCommand(owner="w1")).delivered == 1


class _CountingService(FakeTrackingService):
    """Counts every call, redeliveries included (FakeTrackingService keeps each key once)."""

    def __init__(self, on_call: Callable[[int], None] = lambda _: None) -> None:
        super().__init__()
        self.calls = 0
        self._on_call = on_call

    def deliver(self, request: TrackingRequest) -> None:
        self.calls += 1
        self._on_call(self.calls)
        super().deliver(request)


def test_delivered_requests_are_marked_in_groups_of_record_every() -> None:
    world, cid = connected_world()
    world.import_order()(ImportOrderCommand(cid, [erp_order(i) for i in range(1, 121)]))
    service = _CountingService()
    deliver = DeliverTrackingRequests(uow=world.uow, clock=world.clock, tracking=service)
    before = world.uow.db.commits
    assert deliver(DeliverTrackingRequestsCommand(owner="w1", limit=200)).delivered == 120
    # The claim, then 50 + 50 + 20: three commits for 120 requests, not 120.
    assert world.uow.db.commits - before == 1 + -(-120 // RECORD_EVERY)
    assert all(m.delivered_at is not None and m.lease_owner is None for m in world.uow.read().outbox.all())


def test_a_group_whose_mark_is_lost_is_delivered_again_and_nothing_is_lost() -> None:
    world, cid = connected_world()
    world.import_order()(ImportOrderCommand(cid, [erp_order(i) for i in range(1, 121)]))

    def database_away_for_the_second_group(call: int) -> None:
        if call == RECORD_EVERY + 1:
            world.uow.db.failing_commits = 1

    service = _CountingService(database_away_for_the_second_group)
    deliver = DeliverTrackingRequests(uow=world.uow, clock=world.clock, tracking=service)
    with pytest.raises(TransientFailure):
        deliver(DeliverTrackingRequestsCommand(owner="w1", limit=200))
    outbox = world.uow.read().outbox.all()
    assert sum(m.delivered_at is not None for m in outbox) == RECORD_EVERY  # the first group only

    world.clock.advance(minutes=5)  # the leases of the rest run out
    assert deliver(DeliverTrackingRequestsCommand(owner="w1", limit=200)).delivered == 120 - RECORD_EVERY
    assert all(m.delivered_at is not None for m in world.uow.read().outbox.all())
    # The second group went out twice (harmless: same idempotency keys), the service kept one each.
    assert service.calls == 120 + RECORD_EVERY
    assert len(service.received) == 120
