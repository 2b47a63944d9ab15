"""The worker: claims due jobs with leases and runs them on a pool of threads.

Threads, not asyncio: a job is a few HTTP calls to the ERP and a few database transactions,
both blocking libraries (httpx.Client, SQLAlchemy sessions); threads overlap their waits with
no second code path. `bench/bench_worker.py`: with Tiny 50 ms away, 64 threads poll ~15 times as
fast as one, until the process is CPU-bound at one core (the GIL); beyond that, run more worker
processes.

Several workers on several machines share one PostgreSQL: a job is leased to one worker at a
time (`FOR UPDATE SKIP LOCKED`), an expired lease (a crashed worker) is claimed again.
"""

from __future__ import annotations

import logging
import os
import queue
import signal
import socket
import threading
import time
import uuid
from collections.abc import Callable
from datetime import timedelta

import attrs
import structlog

from kanglu.application.ports import Clock, UnitOfWorkFactory
from kanglu.application.scheduling import EnsureJobs, JobHandlers, JobResult
from kanglu.application.tokens import TokenKeeper
from kanglu.application.use_cases.refresh_token import WRITE_RETRY_DELAYS
from kanglu.domain.jobs import Job, JobKind
from kanglu.entrypoints.containers import Container
from kanglu.entrypoints.job_leases import JobLeases
from kanglu.entrypoints.settings import Settings

log = logging.getLogger(__name__)

_PRIORITY = {JobKind.RENEW_TOKEN: 0, JobKind.POLL: 1, JobKind.DELIVER_OUTBOX: 2, JobKind.PURGE_EVENTS: 3}
# How long the claimer waits for a batch of slots to free up before claiming fewer jobs: a
# job starts at most this much later, which no poll interval notices.
CLAIM_GATHER_SECONDS = 0.05


def new_owner() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


@attrs.define
class RunSummary:
    jobs: int = 0
    errors: int = 0
    lease_losses: int = 0
    imported: int = 0


class Worker:
    def __init__(
        self,
        *,
        uow: UnitOfWorkFactory,
        clock: Clock,
        handlers: JobHandlers,
        ensure_jobs: EnsureJobs,
        concurrency: int = 8,
        lease: timedelta = timedelta(minutes=5),
        idle_sleep: float = 0.5,
        owner: str | None = None,
        on_result: Callable[[JobResult, Job], None] | None = None,
        on_lease_lost: Callable[[Job], None] | None = None,
        on_claim: Callable[[Job], None] | None = None,
        stopping: threading.Event | None = None,
        keeper: TokenKeeper | None = None,
        grace: float = 8.0,
        renewal_grace: float = 90.0,
    ) -> None:
        self._clock = clock
        self._handlers = handlers
        self._ensure_jobs = ensure_jobs
        self._concurrency = max(1, concurrency)
        self._lease = lease
        self._idle_sleep = idle_sleep
        self.owner = owner or new_owner()
        self._on_result = on_result
        self._on_lease_lost = on_lease_lost
        self._on_claim = on_claim
        # Shared with the use cases (the poll checks it between pages) when the container gives it.
        self.stopping = stopping or threading.Event()
        self._keeper = keeper
        self._grace = grace
        self._renewal_grace = renewal_grace
        self._summary = RunSummary()
        self._lock = threading.Lock()
        self._leases = JobLeases(uow=uow, clock=clock, owner=self.owner, lease=lease, handlers=handlers,
                                 stopping=self.stopping)

    # -- one pass --------------------------------------------------------------------

    def run_once(self, max_rounds: int = 10_000) -> RunSummary:
        """Run every job that is due, then deliver what the imports queued, then return."""
        self._summary = RunSummary()
        self._ensure_jobs()
        for _ in range(max_rounds):
            jobs = self._claim(self._concurrency * 4)
            if not jobs:
                break
            jobs.sort(key=lambda j: _PRIORITY[j.kind])
            outbox = [j for j in jobs if j.kind is JobKind.DELIVER_OUTBOX]
            self._run_in_pool([j for j in jobs if j.kind is not JobKind.DELIVER_OUTBOX])
            for job in outbox:
                self._run(job)
        return self._summary

    def _run_in_pool(self, jobs: list[Job]) -> None:
        work: queue.Queue[Job] = queue.Queue()
        for job in jobs:
            work.put(job)
        threads = [
            threading.Thread(target=self._drain, args=(work,), daemon=True, name=f"kanglu-once-{i}")
            for i in range(min(self._concurrency, len(jobs)))
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()

    def _drain(self, work: queue.Queue[Job]) -> None:
        while True:
            try:
                job = work.get_nowait()
            except queue.Empty:
                return
            self._run(job)

    # -- forever -----------------------------------------------------------------------

    def run_forever(self, grace: float | None = None) -> RunSummary:
        """Claim as slots free up until `stop()`; then finish or release what is in flight
        within `grace` seconds, except token renewals under way, which are waited for (up to
        `renewal_grace`): cut off after Tiny answered, one would lose the rotated refresh token."""
        grace = self._grace if grace is None else grace
        self._summary = RunSummary()
        self._ensure_jobs_with_retry()
        work: queue.Queue[Job | None] = queue.Queue()
        busy = threading.Semaphore(self._concurrency)
        running: dict[int, Job] = {}
        threads = [
            threading.Thread(target=self._serve, args=(work, busy, running), daemon=True, name=f"kanglu-worker-{i}")
            for i in range(self._concurrency)
        ]
        for thread in threads:
            thread.start()
        log.info("worker started", extra={"owner": self.owner, "concurrency": self._concurrency})
        while not self.stopping.is_set():
            free = 0
            while busy.acquire(blocking=False):
                free += 1
            if free == 0:
                # Wait for a slot to free up, not for a fixed tick: at low concurrency a 50 ms
                # tick was longer than a whole steady-state poll (most of concurrency 1's time
                # went there). The timeout keeps stop() prompt.
                if not busy.acquire(timeout=0.05):
                    continue
                free = 1 + self._gather_slots(busy)
            jobs = self._claim_safely(free)
            for _ in range(free - len(jobs)):
                busy.release()
            for job in jobs:
                work.put(job)
            if not jobs:
                self.stopping.wait(self._idle_sleep)

        # Stopping: no more claims. Jobs still queued go back at once; running ones get the
        # grace period (a poll stops between pages when asked), then their leases are freed.
        queued = []
        while True:
            try:
                item = work.get_nowait()
            except queue.Empty:
                break
            if item is not None:
                queued.append(item)
        for _ in threads:
            work.put(None)
        self._leases.release(queued)
        if self._keeper is not None:
            self._keeper.close()
        deadline = time.monotonic() + grace
        for thread in threads:
            thread.join(max(0.0, deadline - time.monotonic()))
        self._wait_for_renewals()
        with self._lock:
            still_running = list(running.values())
        self._leases.release(still_running)
        log.info("worker stopped", extra={"owner": self.owner, "released": len(queued) + len(still_running)})
        return self._summary

    def stop(self) -> None:
        self.stopping.set()

    def _wait_for_renewals(self) -> None:
        keeper = self._keeper
        if keeper is None or not keeper.running:
            return
        log.info("waiting for token renewals under way", extra={"owner": self.owner, "renewals": keeper.running})
        if not keeper.wait_idle(self._renewal_grace):
            log.error("token renewals still under way at exit", extra={"owner": self.owner, "renewals": keeper.running})
        if keeper.pending_count():
            log.error("renewed tokens not stored at exit: left in the token journal for the next start",
                      extra={"owner": self.owner, "connections": keeper.pending_count()})

    def _serve(self, work: queue.Queue[Job | None], busy: threading.Semaphore, running: dict[int, Job]) -> None:
        while True:
            job = work.get()
            if job is None:
                return
            key = id(job)
            with self._lock:
                running[key] = job
            try:
                self._run(job)
            finally:
                with self._lock:
                    running.pop(key, None)
                busy.release()

    # -- one job -----------------------------------------------------------------------

    def _run(self, job: Job) -> None:
        # Every log line written while this job runs, in any layer, names the job and its
        # connection (each thread has its own context).
        context: dict[str, object] = {"job_kind": job.kind.value}
        if job.kind not in (JobKind.DELIVER_OUTBOX, JobKind.PURGE_EVENTS):
            context["connection_id"] = job.subject_id
        with structlog.contextvars.bound_contextvars(**context):
            self._run_in_context(job)

    def _run_in_context(self, job: Job) -> None:
        result = self._handlers.run(job, self.owner)
        with self._lock:
            self._summary.jobs += 1
            self._summary.imported += result.imported
            if result.outcome == "error":
                self._summary.errors += 1
        if result.imported and job.kind is JobKind.POLL:
            self._leases.outbox_due_now()
        if self._on_result:
            self._on_result(result, job)
        kept = result.lease_kept if result.lease_kept is not None else self._leases.record(job, result)
        if kept is None:
            return
        if not kept:
            with self._lock:
                self._summary.lease_losses += 1
            log.warning("lease lost before the job finished",
                        extra={"job_kind": job.kind.value, "subject_id": job.subject_id, "owner": self.owner})
            if self._on_lease_lost:
                self._on_lease_lost(job)

    def _gather_slots(self, busy: threading.Semaphore) -> int:
        """More free slots, waiting briefly for a batch of them: under load slots free up one
        by one, and a claim transaction per job costs about as much CPU as a quiet poll's own
        reads. A quarter of the pool, or whatever is free after CLAIM_GATHER_SECONDS."""
        batch = max(1, self._concurrency // 4)
        gathered = 0
        deadline = time.monotonic() + CLAIM_GATHER_SECONDS
        while 1 + gathered < batch and not self.stopping.is_set():
            remaining = deadline - time.monotonic()
            if remaining <= 0 or not busy.acquire(timeout=remaining):
                break
            gathered += 1
        while busy.acquire(blocking=False):
            gathered += 1
        return gathered

    def _claim(self, limit: int) -> list[Job]:
        jobs = self._leases.claim(limit)
        if self._on_claim:
            for job in jobs:
                self._on_claim(job)
        return jobs

    def _claim_safely(self, limit: int) -> list[Job]:
        try:
            return self._claim(limit)
        except Exception:  # noqa: BLE001 - the database may be away for a moment
            log.exception("could not claim jobs; retrying shortly", extra={"owner": self.owner})
            self.stopping.wait(2.0)
            return []

    def _ensure_jobs_with_retry(self) -> None:
        while not self.stopping.is_set():
            try:
                self._ensure_jobs()
                return
            except Exception:  # noqa: BLE001
                log.exception("could not prepare jobs; retrying shortly")
                self.stopping.wait(2.0)

def install_signal_handlers(worker: Worker) -> None:
    def handle(signum: int, _frame: object) -> None:
        log.info("stop requested", extra={"signal": signal.Signals(signum).name})
        worker.stop()

    signal.signal(signal.SIGTERM, handle)
    signal.signal(signal.SIGINT, handle)


def build_shared_adapters(container: Container) -> None:
    """Build the process-wide adapters (engine, HTTP client, Tiny clients, tracking) in this
    thread, before the pool starts: dependency-injector's singletons are not thread-safe on
    first use, and eight threads racing there would each open a client and close the others'."""
    adapters = container.adapters
    adapters.uow()
    adapters.poll_progress()
    adapters.oauth()
    adapters.gateway()
    adapters.tracking()


def settings_for_worker(settings: Settings, concurrency: int) -> Settings:
    """A PostgreSQL pool with a connection for every thread and the claimer. A smaller pool
    makes the threads beyond it open a connection (and PostgreSQL fork a backend) for each
    unit of work and close it after, because overflow connections are not kept."""
    needed = concurrency + 2
    if settings.is_sqlite or settings.db_pool_size >= needed:
        return settings
    log.info("database pool enlarged to the worker's concurrency",
             extra={"configured": settings.db_pool_size, "pool_size": needed})
    return attrs.evolve(settings, db_pool_size=needed)


def build_worker(container: Container, *, concurrency: int, idle_sleep: float = 0.5) -> Worker:
    """The worker as every entrypoint runs it (`kanglu worker`, `kanglu demo`, the browser test):
    the container's use cases, the lease setting, metrics recorded for each job."""
    settings = container.settings()
    metrics = container.core.metrics()
    clock = container.core.clock()
    build_shared_adapters(container)
    return Worker(
        uow=container.adapters.uow(),
        clock=clock,
        handlers=container.use_cases.job_handlers(),
        ensure_jobs=container.use_cases.ensure_jobs(),
        concurrency=concurrency,
        lease=timedelta(seconds=settings.job_lease_seconds),
        idle_sleep=idle_sleep,
        stopping=container.core.stop_event(),
        keeper=container.core.token_keeper(),
        grace=settings.stop_grace,
        renewal_grace=settings.token_timeout + sum(WRITE_RETRY_DELAYS) + 5.0,
        on_result=lambda result, job: metrics.record(result),
        on_claim=lambda job: metrics.job_lag.labels(job.kind.value).observe(
            max(0.0, (clock.now() - job.due_at).total_seconds())
        ),
        on_lease_lost=lambda job: metrics.lease_losses.inc(),
    )


def run_worker(container: Container, *, once: bool, concurrency: int) -> int:
    """`kanglu worker`: build the worker from the container and run it. Exit code 0 unless
    the worker itself fails (a merchant's Tiny failing is that merchant's job's business)."""
    from kanglu.entrypoints.bootstrap import prepare_database, start_metrics_server

    prepare_database(container)
    start_metrics_server(container.settings(), container.core.metrics())
    worker = build_worker(container, concurrency=concurrency)
    try:
        if once:
            summary = worker.run_once()
            log.info("worker pass finished", extra={"jobs": summary.jobs, "imported": summary.imported,
                                                    "errors": summary.errors, "lease_losses": summary.lease_losses})
        else:
            install_signal_handlers(worker)
            worker.run_forever()
    finally:
        container.shutdown_resources()
    return 0
