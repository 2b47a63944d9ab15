"""Jobs and the tracking outbox: due work claimed in batches under leases; an expired lease
is claimable again; only the owner of a lease records the result; an order's tracking
requests are claimable one at a time, oldest first."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from kanglu.adapters.sql.unit_of_work import SqlUnitOfWorkFactory
from kanglu.domain.jobs import JobKey, JobKind
from kanglu.domain.tracking import OutboxMessage, TrackingRequest, TrackingRequestKind

NOW = datetime(2026, 7, 1, 12, 0, tzinfo=UTC)
LEASE = timedelta(minutes=2)


def claim(uow: SqlUnitOfWorkFactory, owner: str, now: datetime = NOW, limit: int = 10) -> list[tuple[JobKind, int]]:
    with uow() as u:
        jobs = u.jobs.claim(owner, now, LEASE, limit)
        u.commit()
        return [(j.kind, j.subject_id) for j in jobs]


def test_schedule_creates_then_moves_the_due_time(uow: SqlUnitOfWorkFactory) -> None:
    with uow() as u:
        u.jobs.schedule(JobKind.POLL, 1, NOW + timedelta(minutes=5))
        u.commit()
        u.jobs.schedule(JobKind.POLL, 1, NOW)
        u.jobs.schedule(JobKind.RENEW_TOKEN, 1, NOW + timedelta(hours=1))
        u.commit()
    with uow() as u:
        assert u.jobs.get(JobKind.POLL, 1).due_at == NOW
        assert u.jobs.get(JobKind.RENEW_TOKEN, 1).due_at == NOW + timedelta(hours=1)
        assert u.jobs.get(JobKind.POLL, 2) is None


def test_keys_lists_every_job(uow: SqlUnitOfWorkFactory) -> None:
    with uow() as u:
        assert u.jobs.keys() == set()
        u.jobs.schedule(JobKind.POLL, 1, NOW)
        u.jobs.schedule(JobKind.RENEW_TOKEN, 1, NOW)
        u.jobs.schedule(JobKind.POLL, 2, NOW + timedelta(days=1))
        u.commit()
    with uow() as u:
        assert u.jobs.keys() == {JobKey(JobKind.POLL, 1), JobKey(JobKind.RENEW_TOKEN, 1), JobKey(JobKind.POLL, 2)}


def test_a_claimed_job_comes_back_whole(uow: SqlUnitOfWorkFactory) -> None:
    with uow() as u:
        u.jobs.schedule(JobKind.POLL, 7, NOW - timedelta(minutes=1))
        u.commit()
    with uow() as u:
        [job] = u.jobs.claim("w1", NOW, LEASE, 10)
        u.commit()
    assert (job.kind, job.subject_id, job.due_at, job.attempts) == (JobKind.POLL, 7, NOW - timedelta(minutes=1), 1)
    assert (job.lease_owner, job.lease_expires_at, job.last_error) == ("w1", NOW + LEASE, None)
    assert job.id is not None


def test_claim_takes_due_jobs_oldest_first_in_batches(uow: SqlUnitOfWorkFactory) -> None:
    with uow() as u:
        for subject, minutes in ((1, -1), (2, -5), (3, 0), (4, 1)):
            u.jobs.schedule(JobKind.POLL, subject, NOW + timedelta(minutes=minutes))
        u.commit()
    assert claim(uow, "a", limit=2) == [(JobKind.POLL, 2), (JobKind.POLL, 1)]
    assert claim(uow, "b") == [(JobKind.POLL, 3)]  # leased ones and the not-yet-due one stay
    assert claim(uow, "c") == []
    with uow() as u:
        job = u.jobs.get(JobKind.POLL, 2)
        assert (job.lease_owner, job.lease_expires_at, job.attempts) == ("a", NOW + LEASE, 1)


def test_an_expired_lease_is_claimable_again(uow: SqlUnitOfWorkFactory) -> None:
    with uow() as u:
        u.jobs.schedule(JobKind.POLL, 1, NOW)
        u.commit()
    assert claim(uow, "crashed") == [(JobKind.POLL, 1)]
    assert claim(uow, "b", now=NOW + LEASE - timedelta(seconds=1)) == []
    assert claim(uow, "b", now=NOW + LEASE) == [(JobKind.POLL, 1)]
    with uow() as u:
        assert u.jobs.get(JobKind.POLL, 1).attempts == 2


def test_schedule_leaves_a_lease_in_force_alone(uow: SqlUnitOfWorkFactory) -> None:
    with uow() as u:
        u.jobs.schedule(JobKind.POLL, 1, NOW)
        u.commit()
    claim(uow, "a")
    with uow() as u:
        u.jobs.schedule(JobKind.POLL, 1, NOW - timedelta(minutes=1))
        u.commit()
    assert claim(uow, "b") == []
    with uow() as u:
        assert u.jobs.get(JobKind.POLL, 1).lease_owner == "a"


def test_attempts_count_consecutive_unsuccessful_runs(uow: SqlUnitOfWorkFactory) -> None:
    """The retry backoff reads `attempts`: a job that succeeded 1,000 times and then fails once
    must wait the first step of the backoff, not its ceiling."""
    with uow() as u:
        u.jobs.schedule(JobKind.POLL, 1, NOW)
        u.commit()

    def run(at: datetime, error: str | None) -> int:
        with uow() as u:
            (job,) = u.jobs.claim("a", at, LEASE, 1)
            assert u.jobs.finish(job, "a", at, error)
            u.commit()
        with uow() as u:
            return u.jobs.get(JobKind.POLL, 1).attempts

    assert run(NOW, "falhou") == 1
    assert run(NOW + timedelta(minutes=1), "falhou") == 2
    assert run(NOW + timedelta(minutes=2), None) == 0
    assert run(NOW + timedelta(minutes=3), "falhou") == 1


def test_finish_only_by_the_lease_owner(uow: SqlUnitOfWorkFactory) -> None:
    with uow() as u:
        u.jobs.schedule(JobKind.POLL, 1, NOW)
        u.jobs.schedule(JobKind.RENEW_TOKEN, 1, NOW)
        u.commit()
    with uow() as u:
        poll, renew = sorted(u.jobs.claim("a", NOW, LEASE, 10), key=lambda j: j.kind)
        u.commit()
    # "a" stalls past its lease; "b" takes the poll over.
    assert claim(uow, "b", now=NOW + LEASE) == [(JobKind.POLL, 1), (JobKind.RENEW_TOKEN, 1)]
    with uow() as u:
        assert u.jobs.finish(poll, "a", NOW + timedelta(minutes=9)) is False  # lost: not recorded
        assert u.jobs.finish(poll, "b", NOW + timedelta(minutes=2), error="Sincronização: falhou") is True
        assert u.jobs.finish(renew, "b", None) is True  # None deletes the job
        u.commit()
    with uow() as u:
        job = u.jobs.get(JobKind.POLL, 1)
        assert (job.due_at, job.lease_owner, job.lease_expires_at) == (NOW + timedelta(minutes=2), None, None)
        assert job.last_error == "Sincronização: falhou"
        assert u.jobs.get(JobKind.RENEW_TOKEN, 1) is None
        assert u.jobs.finish(poll, "b", NOW) is False  # the lease is gone


def test_finish_within_the_claiming_unit_of_work(uow: SqlUnitOfWorkFactory) -> None:
    with uow() as u:
        u.jobs.schedule(JobKind.POLL, 1, NOW)
        (job,) = u.jobs.claim("a", NOW, LEASE, 10)
        assert u.jobs.finish(job, "a", NOW + timedelta(minutes=2)) is True
        assert u.jobs.get(JobKind.POLL, 1).lease_owner is None
        u.commit()


# -- outbox -----------------------------------------------------------------------------


def request(order: int, kind: TrackingRequestKind, code: str = "QB000000014BR") -> TrackingRequest:
    return TrackingRequest(
        kind=kind, shipment_key=f"s{order}-{code}", merchant_id=1, erp_order_id=order, order_number=str(order),
        ecommerce_number=None, carrier_code="correios", tracking_code=code, tracking_url=None,
        customer_name="Cliente", customer_email=None, customer_phone=None, occurred_at=NOW,
    )


def message(order: int, kind: TrackingRequestKind, due: datetime = NOW) -> OutboxMessage:
    return OutboxMessage(stream=f"1:{order}", request=request(order, kind), created_at=NOW, next_attempt_at=due)


def claim_outbox(uow: SqlUnitOfWorkFactory, owner: str, now: datetime = NOW, limit: int = 10) -> list[tuple[int, str]]:
    with uow() as u:
        messages = u.outbox.claim(owner, now, LEASE, limit)
        u.commit()
        return [(m.request.erp_order_id, m.request.kind.value) for m in messages]


def deliver(uow: SqlUnitOfWorkFactory, erp_order_id: int, kind: str) -> None:
    with uow() as u:
        for m in u.session.query(OutboxMessage).all():
            if (m.request.erp_order_id, m.request.kind.value) == (erp_order_id, kind):
                m.delivered_at, m.lease_owner, m.lease_expires_at = NOW, None, None
        u.commit()


def test_outbox_round_trip(uow: SqlUnitOfWorkFactory) -> None:
    with uow() as u:
        m = message(1, TrackingRequestKind.START)
        u.outbox.add(m)
        u.commit()
    with uow() as u:
        (loaded,) = u.outbox.by_ids([m.id, 999])  # an unknown id is left out
        assert loaded.request == request(1, TrackingRequestKind.START) and loaded.stream == "1:1"
        assert u.outbox.by_ids([999]) == []


def test_only_the_oldest_pending_message_of_a_stream_is_claimable(uow: SqlUnitOfWorkFactory) -> None:
    with uow() as u:
        for m in (
            message(1, TrackingRequestKind.CANCEL),
            message(2, TrackingRequestKind.START),
            message(1, TrackingRequestKind.START),
            message(3, TrackingRequestKind.START, due=NOW + timedelta(minutes=1)),
        ):
            u.outbox.add(m)
        u.commit()
    assert claim_outbox(uow, "a") == [(1, "cancel"), (2, "start")]
    assert claim_outbox(uow, "b") == []  # order 1's start waits for its cancel
    deliver(uow, 1, "cancel")
    assert claim_outbox(uow, "b") == [(1, "start")]
    assert claim_outbox(uow, "c", now=NOW + timedelta(minutes=1)) == [(3, "start")]


def test_an_undelivered_message_keeps_its_stream_waiting_until_its_lease_expires(uow: SqlUnitOfWorkFactory) -> None:
    with uow() as u:
        u.outbox.add(message(1, TrackingRequestKind.START))
        u.outbox.add(message(1, TrackingRequestKind.DELIVERED))
        u.commit()
    assert claim_outbox(uow, "crashed") == [(1, "start")]
    assert claim_outbox(uow, "b", now=NOW + LEASE - timedelta(seconds=1)) == []
    assert claim_outbox(uow, "b", now=NOW + LEASE) == [(1, "start")]
    with uow() as u:
        (m, _) = u.session.query(OutboxMessage).order_by("id").all()
        assert m.lease_owner == "b" and m.lease_expires_at == NOW + 2 * LEASE


def test_outbox_claim_respects_the_limit(uow: SqlUnitOfWorkFactory) -> None:
    with uow() as u:
        for order in range(1, 6):
            u.outbox.add(message(order, TrackingRequestKind.START))
        u.commit()
    assert claim_outbox(uow, "a", limit=2) == [(1, "start"), (2, "start")]
    assert claim_outbox(uow, "b", limit=10) == [(3, "start"), (4, "start"), (5, "start")]
