"""What each kind of job does, and when it runs next: the worker's policy, free of threads."""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from datetime import datetime, timedelta

import attrs

from kanglu.application.commands import (
    DeliverTrackingRequestsCommand,
    PollOrdersByStatusCommand,
    RefreshTokenCommand,
)
from kanglu.application.ports import Clock, PollJobLink, UnitOfWork, UnitOfWorkFactory
from kanglu.application.use_cases.deliver_tracking import DeliverTrackingRequests
from kanglu.application.use_cases.merchant_sync import PurgeEvents
from kanglu.application.use_cases.poll_orders import PollOrdersByStatus
from kanglu.application.use_cases.refresh_token import RefreshToken, backoff
from kanglu.application.use_cases.retry_import_failure import PurgeResolvedFailures
from kanglu.application.use_cases.revoke_tokens import RevokeTokens
from kanglu.domain.connections import ConnectionStatus
from kanglu.domain.jobs import Job, JobKey, JobKind

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
    # Set when the job's lease was released with the job's own last write (a completed poll,
    # through PollJobLink): whether the lease was still ours. None: the worker records the result.
    lease_kept: bool | None = None


class JobHandlers:
    def __init__(
        self,
        *,
        clock: Clock,
        refresh: Callable[[], RefreshToken],
        poll: Callable[[], PollOrdersByStatus],
        poll_jobs: PollJobLink,
        deliver: Callable[[], DeliverTrackingRequests],
        outbox_interval: timedelta = timedelta(seconds=2),
        outbox_batch: int = 200,
        revoke: Callable[[], RevokeTokens] | None = None,
        purge: Callable[[], PurgeResolvedFailures] | None = None,
        purge_events: Callable[[], PurgeEvents] | None = None,
        purge_interval: timedelta = timedelta(hours=1),
    ) -> None:
        self._purge_events = purge_events
        self._clock = clock
        self._refresh = refresh
        self._poll = poll
        self._poll_jobs = poll_jobs
        self._deliver = deliver
        self._outbox_interval = outbox_interval
        self._outbox_batch = outbox_batch
        self._revoke = revoke
        # Housekeeping rides on the outbox job, the one job that always runs: at most once per
        # interval and process (the purge is idempotent, so several processes do no harm).
        self._purge = purge
        self._purge_interval = purge_interval
        self._purged_at: datetime | None = None

    def prefetch(self, uow: UnitOfWork, jobs: Sequence[Job]) -> None:
        """In the claim's unit of work: read what the claimed polls read first (their
        connections), one query for the batch instead of one round trip per poll. Not for a
        connection whose renewal is in the same batch: that renewal may disconnect it or
        rotate its token before the poll starts, and the poll must see it."""
        renewed = {job.subject_id for job in jobs if job.kind is JobKind.RENEW_TOKEN}
        polled = [job.subject_id for job in jobs if job.kind is JobKind.POLL and job.subject_id not in renewed]
        if polled:
            self._poll_jobs.preload(uow.connections.many(polled))

    def forget(self, jobs: Sequence[Job]) -> None:
        """Claimed jobs handed back without running: their prefetched reads are dropped."""
        self._poll_jobs.drop(job.subject_id for job in jobs if job.kind is JobKind.POLL)

    def run(self, job: Job, owner: str) -> JobResult:
        """Never raises for a merchant's problem; an unexpected error is retried with backoff."""
        try:
            if job.kind is JobKind.RENEW_TOKEN:
                renewal = self._refresh()(RefreshTokenCommand(job.subject_id))
                return JobResult(job.kind, renewal.outcome.value, renewal.next_due_at, renewal.reason)
            if job.kind is JobKind.POLL:
                return self._run_poll(job, owner)
            if job.kind is JobKind.PURGE_EVENTS:
                purged = self._purge_events()() if self._purge_events is not None else 0
                return JobResult(job.kind, f"purged {purged}", self._clock.now() + self._purge_interval)
            delivery = self._deliver()(DeliverTrackingRequestsCommand(owner=owner, limit=self._outbox_batch))
            self._revoke_tokens(owner)
            now = self._clock.now()
            self._housekeeping(now)
            # A full batch means more is waiting: run again at once.
            next_due = now if delivery.delivered + delivery.failed >= self._outbox_batch else now + self._outbox_interval
            return JobResult(job.kind, "delivered", next_due, delivered=delivery.delivered)
        except Exception as exc:  # noqa: BLE001 - the worker loop must survive anything
            log.exception("job failed unexpectedly", extra={"job_kind": job.kind.value, "subject_id": job.subject_id})
            retry_at = backoff(max(job.attempts, 1), self._clock.now())
            return JobResult(job.kind, "error", retry_at, f"{type(exc).__name__}: {exc}"[:500])

    def _run_poll(self, job: Job, owner: str) -> JobResult:
        """The poll's completion may hand the job back in its own write (PollJobLink): then
        the worker has nothing left to record."""
        self._poll_jobs.offer_release(job.key, owner)
        try:
            poll = self._poll()(PollOrdersByStatusCommand(job.subject_id))
        finally:
            lease_kept = self._poll_jobs.released(job.key)
        return JobResult(job.kind, poll.outcome.value, poll.next_due_at, poll.reason,
                         imported=poll.report.imported, failed_orders=poll.report.failed, lease_kept=lease_kept)

    def _revoke_tokens(self, owner: str) -> None:
        """Revocations at the ERP ride on the outbox's job (their own table, their own
        leases); a failure there never holds up tracking deliveries."""
        if self._revoke is None:
            return
        try:
            self._revoke()(owner)
        except Exception:  # noqa: BLE001 - best effort, retried at the next run
            log.exception("token revocations failed unexpectedly")

    def _housekeeping(self, now: datetime) -> None:
        if self._purge is None or (self._purged_at is not None and now - self._purged_at < self._purge_interval):
            return
        self._purged_at = now
        try:
            self._purge()()
        except Exception:  # noqa: BLE001 - housekeeping must never hold up deliveries
            log.exception("purge of resolved import failures failed; retried next interval")


class EnsureJobs:
    """Every connected connection has its poll and renewal jobs, and the outbox its delivery
    job: run at worker start, so nothing depends on a job having survived every deploy."""

    def __init__(
        self,
        *,
        uow: UnitOfWorkFactory,
        clock: Clock,
        renewal_margin: timedelta,
        recover_renewals: Callable[[], int] | None = None,
    ) -> None:
        self._uow = uow
        self._clock = clock
        self._margin = renewal_margin
        # Tokens a worker got from Tiny and died before storing (the token journal): stored first.
        self._recover_renewals = recover_renewals

    def __call__(self) -> int:
        if self._recover_renewals is not None:
            self._recover_renewals()
        # One read of the jobs there are, not one per connection: with 10,000 merchants the
        # worker would otherwise start with 20,000 queries.
        with self._uow() as uow:
            now = self._clock.now()
            existing = uow.jobs.keys()
            wanted: list[tuple[JobKind, int, datetime]] = [
                (JobKind.DELIVER_OUTBOX, OUTBOX_SUBJECT, now), (JobKind.PURGE_EVENTS, OUTBOX_SUBJECT, now)]
            for connection in uow.connections.all():
                if connection.status is not ConnectionStatus.CONNECTED or connection.id is None:
                    continue
                wanted.append((JobKind.POLL, connection.id, now))
                wanted.append((JobKind.RENEW_TOKEN, connection.id, connection.renewal_due_at(self._margin) or now))
            missing = [(kind, subject, due) for kind, subject, due in wanted if JobKey(kind, subject) not in existing]
            for kind, subject, due in missing:
                uow.jobs.schedule(kind, subject, due)
            uow.commit()
        return len(missing)
