"""Scheduled work for the worker: one job per (kind, subject), leased while it runs."""

from __future__ import annotations

import enum
from datetime import datetime

import attrs


class JobKind(enum.StrEnum):
    RENEW_TOKEN = "renew_token"
    POLL = "poll"
    DELIVER_OUTBOX = "deliver_outbox"
    PURGE_EVENTS = "purge_events"  # the history's 90 days (one job, subject 0)


@attrs.frozen
class JobKey:
    """Which job: there is one per (kind, subject)."""

    kind: JobKind
    subject_id: int


@attrs.define(slots=False, eq=False)
class Job:
    """A due time and, while a worker runs it, a lease that expires if the worker dies."""

    kind: JobKind
    subject_id: int
    due_at: datetime
    lease_owner: str | None = None
    lease_expires_at: datetime | None = None
    attempts: int = 0
    last_error: str | None = None
    id: int | None = None

    @property
    def key(self) -> JobKey:
        return JobKey(self.kind, self.subject_id)

    def is_claimable(self, now: datetime) -> bool:
        return self.due_at <= now and (self.lease_expires_at is None or self.lease_expires_at <= now)
