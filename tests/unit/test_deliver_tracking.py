from kanglu.application.commands import DeliverTrackingRequestsCommand, ImportOrderCommand
from kanglu.application.use_cases.deliver_tracking import DeliverTrackingRequests
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
