"""The worker runtime over fakes: due jobs run once, leases, stop and release."""

import threading
import time
from datetime import timedelta

import attrs

from kanglu.application.errors import ReauthorizationRequired
from kanglu.domain.connections import ConnectionStatus
from kanglu.domain.jobs import JobKind
from kanglu.entrypoints.settings import Settings
from kanglu.entrypoints.worker import settings_for_worker
from tests.builders import connected_world, erp_order, worker_for


def seed(world, n):
    for i in range(1, n + 1):
        world.gateway.put(erp_order(i), world.clock.now() - timedelta(hours=1))


def test_once_polls_imports_and_delivers_tracking_then_stops() -> None:
    world, cid = connected_world()
    seed(world, 5)
    worker, tracking = worker_for(world, concurrency=4)
    summary = worker.run_once()
    assert summary.imported == 5 and summary.errors == 0
    assert len(tracking.received) == 5
    jobs = world.uow.read().jobs
    assert jobs.get(JobKind.POLL, cid).due_at > world.clock.now()
    assert jobs.get(JobKind.POLL, cid).lease_owner is None
    # Nothing is due any more: a second pass does nothing.
    assert worker.run_once().imported == 0
    assert world.gateway.calls["orders"] == 1


def test_once_renews_a_due_token_before_polling() -> None:
    world, cid = connected_world()
    seed(world, 1)
    world.clock.advance(hours=3, minutes=55)
    worker, _ = worker_for(world)
    worker.run_once()
    assert world.oauth.refresh_calls == 1
    assert world.uow.read().connections.get(cid).token_version == 2


def test_a_refused_renewal_disconnects_and_stops_polling_that_connection() -> None:
    world, cid = connected_world()
    seed(world, 1)
    world.clock.advance(hours=4)
    world.gateway.accepted_tokens = lambda: set()  # the access token is dead at Tiny too
    world.sleep = time.sleep  # the poll's forced renewal really waits for the scheduled one under way
    world.oauth.fail_next.append(ReauthorizationRequired("Token is not active", "invalid_grant"))
    worker, _ = worker_for(world)
    worker.run_once()
    read = world.uow.read()
    assert read.connections.get(cid).status is ConnectionStatus.DISCONNECTED
    assert read.jobs.get(JobKind.POLL, cid) is None and read.jobs.get(JobKind.RENEW_TOKEN, cid) is None
    assert read.orders.all() == []
    assert world.oauth.refresh_calls == 1  # the poll's 401 and the due renewal cost one refusal


def test_an_unexpected_error_is_retried_later_not_fatal() -> None:
    world, cid = connected_world()
    seed(world, 1)
    world.gateway.faults.append(("orders", RuntimeError("bug")))
    worker, _ = worker_for(world)
    summary = worker.run_once()
    assert summary.errors == 1
    job = world.uow.read().jobs.get(JobKind.POLL, cid)
    assert job.due_at > world.clock.now() and "RuntimeError" in job.last_error


def test_a_lost_lease_is_counted_and_not_recorded() -> None:
    world, cid = connected_world()
    seed(world, 1)
    worker, _ = worker_for(world)
    stolen = []

    def steal(job):
        if job.kind is JobKind.POLL:
            with world.uow() as uow:
                uow.jobs.get(job.kind, job.subject_id).lease_owner = "someone-else"
                uow.commit()
            stolen.append(job)

    worker._on_claim = steal
    summary = worker.run_once(max_rounds=1)
    assert stolen and summary.lease_losses == 1


def test_forever_runs_until_stopped_then_releases_and_exits_quickly() -> None:
    world, cid = connected_world()
    seed(world, 3)
    worker, tracking = worker_for(world, concurrency=2, idle_sleep=0.01)
    thread = threading.Thread(target=worker.run_forever, kwargs={"grace": 2.0})
    thread.start()
    deadline = time.monotonic() + 10
    while len(tracking.received) < 3 and time.monotonic() < deadline:
        time.sleep(0.01)
    worker.stop()
    thread.join(5)
    assert not thread.is_alive()
    assert len(tracking.received) == 3
    assert all(j.lease_owner is None for j in world.uow.read().state.jobs.values())


def test_a_result_the_database_refuses_for_a_moment_is_recorded_on_retry(monkeypatch) -> None:
    """Giving up at once would leave the job leased until the lease expires (minutes)."""
    import kanglu.entrypoints.job_leases as leases_module
    from kanglu.application.errors import TransientFailure

    monkeypatch.setattr(leases_module, "_RECORD_RETRY_DELAYS", (0.01, 0.01, 0.01))
    world, cid = connected_world()
    seed(world, 1)
    worker, _ = worker_for(world)
    refusals = []
    real_uow = worker._leases._uow

    def flaky_uow():
        # The database is away from the moment the poll is claimed, for three units of work.
        if 0 < len(refusals) < 4:
            refusals.append("refused")
            raise TransientFailure("banco de dados indisponível")
        return real_uow()

    def away(job):
        if job.kind is JobKind.POLL:
            refusals.append("claimed")

    worker._leases._uow = flaky_uow
    worker._on_claim = away
    summary = worker.run_once(max_rounds=1)
    assert refusals.count("refused") == 3
    job = world.uow.read().jobs.get(JobKind.POLL, cid)
    assert summary.imported == 1 and summary.lease_losses == 0
    assert job.lease_owner is None and job.due_at > world.clock.now()


def test_a_claimed_poll_starts_from_the_connection_read_with_the_claim() -> None:
    """The claim reads the batch's connections in one query: a poll that then finds nothing
    new opens no read of its own before its API call."""
    world, cid = connected_world()
    worker, _ = worker_for(world)
    worker.run_once()  # the first poll, and the renewal job is not due: polls only from here
    world.clock.advance(minutes=5)
    reads = world.progress.reads
    summary = worker.run_once()
    assert summary.jobs >= 1 and summary.errors == 0
    assert world.progress.reads == reads
    assert world.uow.read().jobs.get(JobKind.POLL, cid).due_at > world.clock.now()


def test_the_worker_pool_has_a_database_connection_for_every_thread(tmp_path) -> None:  # type: ignore[no-untyped-def]
    settings = Settings(data_dir=tmp_path, database_url="postgresql+psycopg://db/kanglu", secret_key="k" * 32,
                        encryption_keys=("x",), db_pool_size=20)
    assert settings_for_worker(settings, 8).db_pool_size == 20
    assert settings_for_worker(settings, 64).db_pool_size == 66  # the threads, the claimer, one spare
    sqlite = attrs.evolve(settings, database_url="sqlite:///k.sqlite3")
    assert settings_for_worker(sqlite, 64) is sqlite  # one file, no pool to size
