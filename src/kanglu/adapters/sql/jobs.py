"""The worker's jobs over one SQLAlchemy session: scheduled, claimed with a lease, released."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import and_, bindparam, delete, or_, select, update
from sqlalchemy.orm import Session
from sqlalchemy.sql import Executable

from kanglu.adapters.sql import tables as t
from kanglu.adapters.sql.engine import hold_write_lock, upsert_insert
from kanglu.domain.jobs import Job, JobKey, JobKind


class SqlJobRepository:
    def __init__(self, session: Session) -> None:
        self._session = session

    @property
    def _dialect(self) -> str:
        return self._session.get_bind().dialect.name

    def schedule(self, kind: JobKind, subject_id: int, due_at: datetime) -> None:
        insert = upsert_insert(self._dialect, t.jobs)
        # One statement, so that two processes scheduling the same new job cannot collide;
        # the lease columns are left alone.
        self._session.execute(
            insert.values(kind=kind, subject_id=subject_id, due_at=due_at, attempts=0).on_conflict_do_update(
                index_elements=["kind", "subject_id"], set_={"due_at": insert.excluded.due_at}
            )
        )
        forget_job(self._session, JobKey(kind, subject_id))

    def claim(self, owner: str, now: datetime, lease: timedelta, limit: int) -> list[Job]:
        hold_write_lock(self._session)
        rows = self._session.execute(
            _CLAIM_JOBS, {"claim_now": now, "claim_limit": limit, "claim_owner": owner, "claim_until": now + lease}
        )
        # Plain rows made into jobs: they are handed to the worker's threads, not kept in
        # this session.
        jobs = [Job(**row._mapping) for row in rows]
        for job in jobs:
            forget_job(self._session, job)
        return sorted(jobs, key=lambda job: (job.due_at, job.id or 0))

    def finish(self, job: Job | JobKey, owner: str, next_due_at: datetime | None, error: str | None = None) -> bool:
        # One conditional statement: the lease is checked and released atomically.
        statement: Executable
        if next_due_at is None:
            statement = _DELETE_MY_JOB
        else:
            # `attempts` counts consecutive unsuccessful runs (the retry backoff reads it): a run
            # that ends without an error starts the count again.
            statement = RELEASE_MY_JOB_FAILED if error else RELEASE_MY_JOB
        result = self._session.execute(statement, job_release_params(job, owner, next_due_at, error))
        forget_job(self._session, job)
        return result.rowcount == 1  # type: ignore[attr-defined]

    def keys(self) -> set[JobKey]:
        j = t.jobs.c
        return {JobKey(kind, subject_id) for kind, subject_id in self._session.execute(select(j.kind, j.subject_id))}

    def get(self, kind: JobKind, subject_id: int) -> Job | None:
        j = t.jobs.c
        return self._session.scalars(
            select(Job)
            .where(j.kind == kind, j.subject_id == subject_id)
            .execution_options(populate_existing=True)
        ).first()


def forget_job(session: Session, job: Job | JobKey) -> None:
    """A Core statement changed a job's row behind the session's back: drop its copy."""
    for obj in list(session.identity_map.values()):
        if isinstance(obj, Job) and obj.kind == job.kind and obj.subject_id == job.subject_id:
            session.expunge(obj)


def lease_free(lease_expires_at, now):
    return or_(lease_expires_at.is_(None), lease_expires_at <= now)


# Claiming: one statement picks the due jobs and leases them together (UPDATE ... WHERE id IN
# (SELECT ... FOR UPDATE SKIP LOCKED) RETURNING), one round trip instead of a select and an
# update per job. SKIP LOCKED: concurrent workers take different jobs instead of queueing
# behind each other; a row another worker leased meanwhile is re-checked by PostgreSQL against
# the WHERE clause once that worker commits, so it is not taken twice. SQLite has no row locks:
# its write lock, held from the claim's first statement, does the same. The statements of
# this module that run for every job are built once: building and hashing one anew costs
# more CPU than the round trip.
_CLAIM_NOW = bindparam("claim_now", type_=t.jobs.c.due_at.type)
_DUE_JOBS = (
    select(t.jobs.c.id)
    .where(t.jobs.c.due_at <= _CLAIM_NOW, lease_free(t.jobs.c.lease_expires_at, _CLAIM_NOW))
    .order_by(t.jobs.c.due_at, t.jobs.c.id)
    .limit(bindparam("claim_limit"))
    .with_for_update(skip_locked=True)
)
_CLAIM_JOBS = (
    update(t.jobs)
    .where(t.jobs.c.id.in_(_DUE_JOBS.scalar_subquery()))
    .values(lease_owner=bindparam("claim_owner"),
            lease_expires_at=bindparam("claim_until", type_=t.jobs.c.lease_expires_at.type),
            attempts=t.jobs.c.attempts + 1)
    .returning(*t.jobs.c)
)
_MY_JOB = and_(
    t.jobs.c.kind == bindparam("job_kind"),
    t.jobs.c.subject_id == bindparam("job_subject"),
    t.jobs.c.lease_owner == bindparam("job_owner"),
)
_DELETE_MY_JOB = delete(t.jobs).where(_MY_JOB)
_RELEASED = {"due_at": bindparam("next_due_at", type_=t.jobs.c.due_at.type), "lease_owner": None,
             "lease_expires_at": None}
RELEASE_MY_JOB = update(t.jobs).where(_MY_JOB).values(**_RELEASED, last_error=None, attempts=0)
RELEASE_MY_JOB_FAILED = update(t.jobs).where(_MY_JOB).values(
    **_RELEASED, last_error=bindparam("job_error", type_=t.jobs.c.last_error.type)
)
def job_release_params(
    job: Job | JobKey, owner: str, next_due_at: datetime | None, error: str | None = None
) -> dict[str, object]:
    return {"job_kind": job.kind, "job_subject": job.subject_id, "job_owner": owner, "next_due_at": next_due_at,
            "job_error": error}
