"""Tentar de novo (fetch a failed order again now) and the purge of resolved failures."""

from __future__ import annotations

from datetime import timedelta

import pytest

from kanglu.application.commands import ImportOrderCommand, RetryImportFailureCommand
from kanglu.application.errors import NotFound, TransientFailure
from kanglu.application.scheduling import JobHandlers
from kanglu.application.use_cases.retry_import_failure import (
    NOT_IN_TINY,
    CannotRetry,
    PurgeResolvedFailures,
    RetryImportFailure as Retry,
    RetryOutcome,
)
from kanglu.domain.jobs import Job, JobKind
from kanglu.domain.orders import MalformedOrder
from kanglu.domain.tracking import ShipmentStatus
from tests.builders import World, connected_world, erp_order


def retry(world: World) -> Retry:
    return Retry(uow=world.uow, clock=world.clock, gateway=world.gateway, import_order=world.import_order(),
                 secret_box=world.box, tokens_for=world.tokens_for)


def failed_once(world: World, cid: int, erp_id: int | None = 5) -> int:
    bad = MalformedOrder(erp_id, "situação desconhecida: 77", {"id": erp_id}, number="10005", customer_name="Ana")
    world.import_order()(ImportOrderCommand(cid, [bad]))
    (failure,) = world.uow.db.committed.failures
    assert failure.id is not None
    return failure.id


def merchant_of(world: World, cid: int) -> int:
    connection = world.uow.read().connections.get(cid)
    assert connection is not None
    return connection.merchant_id


def test_the_order_fixed_in_tiny_is_imported_now_and_its_failure_resolved() -> None:
    world, cid = connected_world()
    failure_id = failed_once(world, cid)
    world.gateway.details[5] = erp_order(5)  # what GET /pedidos/5 answers now
    result = retry(world)(RetryImportFailureCommand(merchant_of(world, cid), failure_id))
    assert result.outcome is RetryOutcome.IMPORTED
    (order,) = world.uow.read().orders.all()
    assert order.erp_order_id == 5 and order.tracking_status is ShipmentStatus.TRACKING
    assert world.uow.db.committed.failures[0].resolved_at is not None
    assert world.gateway.calls["order"] == 1
    # Again: nothing left to do.
    assert retry(world)(RetryImportFailureCommand(merchant_of(world, cid), failure_id)).outcome is RetryOutcome.ALREADY_RESOLVED


def test_still_unreadable_keeps_the_failure_with_the_new_reason() -> None:
    world, cid = connected_world()
    failure_id = failed_once(world, cid)
    world.gateway.details[5] = MalformedOrder(None, "o Tiny enviou este pedido sem um identificador utilizável", {})
    result = retry(world)(RetryImportFailureCommand(merchant_of(world, cid), failure_id))
    assert result.outcome is RetryOutcome.FAILED and "identificador" in (result.reason or "")
    (failure,) = [f for f in world.uow.db.committed.failures if f.resolved_at is None]
    assert failure.erp_order_id == 5 and "identificador" in failure.reason
    assert world.uow.read().orders.all() == []


def test_an_order_tiny_no_longer_has_says_so() -> None:
    world, cid = connected_world()
    failure_id = failed_once(world, cid)
    result = retry(world)(RetryImportFailureCommand(merchant_of(world, cid), failure_id))
    assert (result.outcome, result.reason) == (RetryOutcome.NOT_FOUND, NOT_IN_TINY)
    assert world.uow.db.committed.failures[0].reason == NOT_IN_TINY


def test_what_cannot_be_retried_and_what_is_not_yours() -> None:
    world, cid = connected_world()
    without_id = failed_once(world, cid, erp_id=None)
    with pytest.raises(CannotRetry):
        retry(world)(RetryImportFailureCommand(merchant_of(world, cid), without_id))
    with pytest.raises(NotFound):
        retry(world)(RetryImportFailureCommand(merchant_of(world, cid) + 1, without_id))
    with pytest.raises(NotFound):
        retry(world)(RetryImportFailureCommand(merchant_of(world, cid), 999))


def test_tiny_down_changes_nothing() -> None:
    world, cid = connected_world()
    failure_id = failed_once(world, cid)
    world.gateway.faults.append(("order", TransientFailure("Tiny indisponível (503)")))
    with pytest.raises(TransientFailure):
        retry(world)(RetryImportFailureCommand(merchant_of(world, cid), failure_id))
    assert world.uow.db.committed.failures[0].resolved_at is None


def test_resolved_failures_are_purged_after_thirty_days_and_open_ones_kept() -> None:
    world, cid = connected_world()
    old = failed_once(world, cid, erp_id=5)
    world.gateway.details[5] = erp_order(5)
    retry(world)(RetryImportFailureCommand(merchant_of(world, cid), old))  # resolved now
    failed_once_more = MalformedOrder(6, "situação desconhecida: 77", {"id": 6})
    world.import_order()(ImportOrderCommand(cid, [failed_once_more]))
    purge = PurgeResolvedFailures(uow=world.uow, clock=world.clock)

    world.clock.advance(timedelta(days=29))
    assert purge() == 0
    world.clock.advance(timedelta(days=2))
    assert purge() == 1
    assert [f.erp_order_id for f in world.uow.db.committed.failures] == [6]  # the open one stays


def test_the_outbox_job_purges_at_most_once_an_hour() -> None:
    world, _ = connected_world()
    purges: list[int] = []

    class CountingPurge:
        def __call__(self) -> int:
            purges.append(1)
            return 0

    class NoDeliveries:
        def __call__(self, command: object) -> object:
            from kanglu.application.use_cases.deliver_tracking import DeliveryReport

            return DeliveryReport(0, 0)

    handlers = JobHandlers(clock=world.clock, refresh=world.refresh, poll=world.poll, poll_jobs=world.progress,
                           deliver=lambda: NoDeliveries(), purge=lambda: CountingPurge())  # type: ignore[arg-type,return-value]
    job = Job(JobKind.DELIVER_OUTBOX, 0, world.clock.now())
    handlers.run(job, "w1")
    handlers.run(job, "w1")
    world.clock.advance(timedelta(minutes=61))
    handlers.run(job, "w1")
    assert len(purges) == 2


def test_an_item_without_id_listed_again_keeps_one_failure() -> None:
    world, cid = connected_world()
    run = world.import_order()
    item = MalformedOrder(None, "o Tiny enviou este pedido sem um identificador utilizável", {"numeroPedido": 9},
                          number="9", customer_name="Ana")
    other = MalformedOrder(None, "o Tiny enviou este pedido sem um identificador utilizável", {"numeroPedido": 10},
                           number="10", customer_name="Bia")
    run(ImportOrderCommand(cid, [item, other]))
    world.clock.advance(timedelta(minutes=2))
    run(ImportOrderCommand(cid, [item, other]))  # the overlap lists them again
    failures = world.uow.db.committed.failures
    assert sorted(f.number for f in failures) == ["10", "9"]
    assert all(f.last_seen_at == world.clock.now() for f in failures)
