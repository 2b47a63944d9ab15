"""What each kind of job does, and when it runs next: the worker's policy, free of threads."""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime, timedelta

import attrs

from kanglu.application.commands import DeliverTrackingRequests, PollOrders, RefreshToken
from kanglu.application.ports import Clock, UnitOfWorkFactory
from kanglu.application.use_cases.deliver_tracking import DeliverTrackingRequestsUseCase
from kanglu.application.use_cases.poll_orders import PollOrdersByStatus
from kanglu.application.use_cases.refresh_token import RefreshTokenUseCase, backoff
from kanglu.domain.connections import ConnectionStatus
from kanglu.domain.jobs import Job, JobKind

log = logging.getLogger(__name__)

OUTBOX_SUBJECT = 0  # the outbox has one delivery job; its messages carry their own leases


@attrs.frozen
class JobResult:
    """The outcome of one run: when to run again (None: never) and what to count."""

    kind: JobKind
    outcome: str
    next_due_at: datetime | None
    error: str | None = None
    imported: int = 0
    failed_orders: int = 0
    delivered: int = 0
    # Set when the job released its own lease with its last write (a completed poll): whether
    # the lease was still ours. None: the worker records the result.
    lease_kept: bool | None = None


class JobHandlers:
    def __init__(
        self,
        *,
        clock: Clock,
        refresh: Callable[[], RefreshTokenUseCase],
        poll: Callable[[], PollOrdersByStatus],
        deliver: Callable[[], DeliverTrackingRequestsUseCase],
        outbox_interval: timedelta = timedelta(seconds=2),
        outbox_batch: int = 200,
    ) -> None:
        self._clock = clock
        self._refresh = refresh
        self._poll = poll
        self._deliver = deliver
        self._outbox_interval = outbox_interval
        self._outbox_batch = outbox_batch

    def run(self, job: Job, owner: str) -> JobResult:
        """Never raises for a merchant's problem; an unexpected error is retried with backoff."""
        try:
            if job.kind is JobKind.RENEW_TOKEN:
                renewal = self._refresh()(RefreshToken(job.subject_id))
                return JobResult(job.kind, renewal.outcome.value, renewal.next_due_at, renewal.reason)
            if job.kind is JobKind.POLL:
                poll = self._poll()(PollOrders(job.subject_id, lease_owner=owner))
                return JobResult(
                    job.kind, poll.outcome.value, poll.next_due_at, poll.reason,
                    imported=poll.report.imported, failed_orders=poll.report.failed, lease_kept=poll.lease_kept,
                )
            delivery = self._deliver()(DeliverTrackingRequests(owner=owner, limit=self._outbox_batch))
            now = self._clock.now()
            # A full batch means more is waiting: run again at once.
            next_due = now if delivery.delivered + delivery.failed >= self._outbox_batch else now + self._outbox_interval
            return JobResult(job.kind, "delivered", next_due, delivered=delivery.delivered)
        except Exception as exc:  # noqa: BLE001 - the worker loop must survive anything
            log.exception("job failed unexpectedly", extra={"job_kind": job.kind.value, "subject_id": job.subject_id})
            retry_at = backoff(max(job.attempts, 1), self._clock.now())
            return JobResult(job.kind, "error", retry_at, f"{type(exc).__name__}: {exc}"[:500])


class EnsureJobs:
    """Every connected connection has its poll and renewal jobs, and the outbox its delivery
    job: run at worker start, so nothing depends on a job having survived every deploy."""

    def __init__(self, *, uow: UnitOfWorkFactory, clock: Clock, renewal_margin: timedelta) -> None:
        self._uow = uow
        self._clock = clock
        self._margin = renewal_margin

    def __call__(self) -> int:
        created = 0
        with self._uow() as uow:
            now = self._clock.now()
            if uow.jobs.get(JobKind.DELIVER_OUTBOX, OUTBOX_SUBJECT) is None:
                uow.jobs.schedule(JobKind.DELIVER_OUTBOX, OUTBOX_SUBJECT, now)
                created += 1
            for connection in uow.connections.all():
                if connection.status is not ConnectionStatus.CONNECTED or connection.id is None:
                    continue
                if uow.jobs.get(JobKind.POLL, connection.id) is None:
                    uow.jobs.schedule(JobKind.POLL, connection.id, now)
                    created += 1
                if uow.jobs.get(JobKind.RENEW_TOKEN, connection.id) is None:
                    uow.jobs.schedule(JobKind.RENEW_TOKEN, connection.id, connection.renewal_due_at(self._margin) or now)
                    created += 1
            uow.commit()
        return created
