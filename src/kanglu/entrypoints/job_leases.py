"""The worker's leases on jobs: claimed in batches, released with each job's result (retried
while the database is away), handed back when the worker stops."""

from __future__ import annotations

import logging
import threading
from datetime import timedelta

from kanglu.application.ports import Clock, UnitOfWorkFactory
from kanglu.application.scheduling import OUTBOX_SUBJECT, JobHandlers, JobResult
from kanglu.domain.jobs import Job, JobKind

log = logging.getLogger("kanglu.entrypoints.worker")  # the worker's own lines

# Recording a job's result is retried after these pauses (about 30 s in all) before the lease
# is left to expire.
_RECORD_RETRY_DELAYS = (0.5, 1.0, 2.0, 4.0, 8.0, 15.0)


class JobLeases:
    def __init__(
        self, *, uow: UnitOfWorkFactory, clock: Clock, owner: str, lease: timedelta, handlers: JobHandlers,
        stopping: threading.Event,
    ) -> None:
        self._uow = uow
        self._clock = clock
        self._owner = owner
        self._lease_span = lease
        self._handlers = handlers
        self.stopping = stopping

    def claim(self, limit: int) -> list[Job]:
        """Due jobs leased to this worker, what their runs read first read with them."""
        with self._uow() as uow:
            jobs = uow.jobs.claim(self._owner, self._clock.now(), self._lease_span, limit)
            self._handlers.prefetch(uow, jobs)
            uow.commit()
        return jobs

    def record(self, job: Job, result: JobResult) -> bool | None:
        """Release the lease and set the next run; whether the lease was still ours, None when
        the database would not take it.

        Retried for a while: a job that failed because the database went away usually ends
        while it is still away, and giving up at once would leave the lease held until it
        expires (minutes), so the merchant's polling would stop for that long after a blip."""
        delays = iter(_RECORD_RETRY_DELAYS)
        while True:
            try:
                with self._uow() as uow:
                    kept = uow.jobs.finish(job, self._owner, result.next_due_at, result.error)
                    uow.commit()
                return kept
            except Exception:  # noqa: BLE001 - retried, then the lease expires and another worker retries it
                delay = next(delays, None)
                log.exception("could not record a job's result", extra={
                    "job_kind": job.kind.value, "subject_id": job.subject_id,
                    "retry_in": delay, "owner": self._owner})
                # A stop request ends the retries: exiting within the grace period matters more.
                if delay is None or self.stopping.wait(delay):
                    return None

    def release(self, jobs: list[Job]) -> None:
        """Give leases back so another worker starts these jobs now, not when they expire."""
        if not jobs:
            return
        self._handlers.forget(jobs)
        try:
            with self._uow() as uow:
                for job in jobs:
                    uow.jobs.finish(job, self._owner, self._clock.now(), "interrompido: worker encerrado")
                uow.commit()
        except Exception:  # noqa: BLE001 - the leases will expire on their own
            log.exception("could not release leases", extra={"owner": self._owner})

    def outbox_due_now(self) -> None:
        """Imports queued tracking requests: deliver them now rather than at the next tick."""
        try:
            with self._uow() as uow:
                job = uow.jobs.get(JobKind.DELIVER_OUTBOX, OUTBOX_SUBJECT)
                if job is not None and job.due_at > self._clock.now() and job.lease_owner is None:
                    uow.jobs.schedule(JobKind.DELIVER_OUTBOX, OUTBOX_SUBJECT, self._clock.now())
                    uow.commit()
        except Exception:  # noqa: BLE001 - an optimisation only: the outbox job runs anyway
            log.debug("could not bring the outbox delivery forward", exc_info=True)
