"""The SQL repositories of application/ports/, importable from here: the connections', the
jobs' and the connection events' (which share the poll's statements) live in this module, the
others in a module of their own each (merchants, orders, import_failures, mappings, outbox).
None of them commits: the unit of work does."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import and_, bindparam, case, delete, null, or_, select, update
from sqlalchemy.orm import Session
from sqlalchemy.sql import Executable

from kanglu.adapters.sql import tables as t
from kanglu.adapters.sql.engine import hold_write_lock, upsert_insert
from kanglu.adapters.sql.import_failures import SqlImportFailureRepository
from kanglu.adapters.sql.mappings import (
    SqlCarrierMappingRepository,
    SqlShippingFamilyRepository,
    SqlStatusMappingRepository,
)
from kanglu.adapters.sql.merchants import (
    SqlMerchantRepository,
    SqlNotificationRepository,
    merchant_by_api_key_hash,
)
from kanglu.adapters.sql.orders import SqlCustomerRepository, SqlOrderRepository
from kanglu.adapters.sql.orm import built_once_per_mapping
from kanglu.adapters.sql.outbox import SqlOutboxRepository
from kanglu.adapters.sql.repository_base import SessionRepository
from kanglu.domain.connections import POLL_ERROR_PREFIX, ErpConnection
from kanglu.domain.events import ConnectionEvent
from kanglu.domain.jobs import Job, JobKey, JobKind, JobRelease

__all__ = [
    "SqlCarrierMappingRepository",
    "SqlConnectionEventRepository",
    "SqlConnectionRepository",
    "SqlCustomerRepository",
    "SqlImportFailureRepository",
    "SqlJobRepository",
    "SqlMerchantRepository",
    "SqlNotificationRepository",
    "SqlOrderRepository",
    "SqlOutboxRepository",
    "SqlShippingFamilyRepository",
    "SqlStatusMappingRepository",
    "connection_for_merchant",
    "merchant_by_api_key_hash",
    "save_poll",
]

_Repository = SessionRepository  # the base the repositories below were written with


class SqlConnectionRepository(_Repository):
    def add(self, connection: ErpConnection) -> None:
        self._session.add(connection)

    def get(self, connection_id: int) -> ErpConnection | None:
        return self._session.get(ErpConnection, connection_id)

    def many(self, connection_ids: Iterable[int]) -> dict[int, ErpConnection]:
        ids = list(connection_ids)
        if not ids:
            return {}
        # The worker reads every batch of claimed polls here: a statement built once.
        found = self._session.scalars(_connections_by_id(), {"ids": ids})
        return {c.id: c for c in found if c.id is not None}

    def for_merchant(self, merchant_id: int, erp: str = "tiny") -> ErpConnection | None:
        return connection_for_merchant(self._session, merchant_id, erp)

    def lock(self, connection_id: int) -> ErpConnection | None:
        # PostgreSQL: a row lock held until the transaction ends, in any process or machine.
        # SQLite: the database's write lock, held the same way. Either way the row is read
        # again once the lock is ours (populate_existing), so a second renewal sees the
        # tokens the first one stored.
        hold_write_lock(self._session)
        return self._session.scalars(
            select(ErpConnection)
            .where(t.erp_connections.c.id == connection_id)
            .with_for_update()
            .execution_options(populate_existing=True)
        ).first()

    def save_poll(
        self, connection: ErpConnection, release: JobRelease | None = None, event: ConnectionEvent | None = None
    ) -> bool | None:
        lease_kept = save_poll(self._session.execute, self._dialect, connection, release, event)
        if release is not None:
            _forget_job(self._session, release.key)
        return lease_kept

    def all(self) -> list[ErpConnection]:
        return list(self._session.scalars(select(ErpConnection).order_by(t.erp_connections.c.id)))


@built_once_per_mapping
def _connections_by_id():  # type: ignore[no-untyped-def]
    return select(ErpConnection).where(t.erp_connections.c.id.in_(bindparam("ids", expanding=True)))


_CONNECTION = t.erp_connections.c
_SAVE_POLL_WINDOW = (
    update(t.erp_connections)
    .where(_CONNECTION.id == bindparam("conn_id"))
    .values(poll_since=bindparam("p_since", type_=_CONNECTION.poll_since.type),
            poll_started_at=bindparam("p_started", type_=_CONNECTION.poll_started_at.type),
            poll_offset=bindparam("p_offset", type_=_CONNECTION.poll_offset.type))
)
_SAVE_POLL_COMPLETED = (
    update(t.erp_connections)
    .where(_CONNECTION.id == bindparam("conn_id"))
    .values(poll_cursor=bindparam("p_cursor", type_=_CONNECTION.poll_cursor.type),
            poll_since=None, poll_started_at=None, poll_offset=None,
            last_sync_at=bindparam("p_synced", type_=_CONNECTION.last_sync_at.type),
            updated_at=bindparam("p_updated", type_=_CONNECTION.updated_at.type),
            # ErpConnection.finish_poll's rule, applied to the row as it is now: the poll clears
            # its own error, and only its own (a renewal's message written meanwhile stays).
            last_error=case((_CONNECTION.last_error.startswith(POLL_ERROR_PREFIX), null()),
                            else_=_CONNECTION.last_error))
)


def save_poll(
    execute: Callable[[Executable, dict[str, Any]], Any], dialect: str, connection: ErpConnection,
    release: JobRelease | None = None, event: ConnectionEvent | None = None,
) -> bool | None:
    """ConnectionRepository.save_poll through `execute` (a session's or a bare connection's).

    Core statements built once: every poll writes here, and the ORM's merge and flush of the
    copy cost several times what the statement does. The poll's event rides along: on
    PostgreSQL as one more data-modifying WITH of the same statement (no round trip added to
    a quiet poll), on SQLite as one more statement of the same transaction."""
    recorded = _event_params(event) if event is not None else None
    if connection.poll_progress() is not None:
        assert release is None, "only a completed poll hands its job back"
        window = {"conn_id": connection.id, "p_since": connection.poll_since,
                  "p_started": connection.poll_started_at, "p_offset": connection.poll_offset}
        if recorded is not None and dialect == "postgresql":
            execute(_SAVE_POLL_WINDOW_WITH_EVENT, window | recorded)
            return None
        execute(_SAVE_POLL_WINDOW, window)
        if recorded is not None:
            execute(_RECORD_EVENT, recorded)
        return None
    completed = {"conn_id": connection.id, "p_cursor": connection.poll_cursor,
                 "p_synced": connection.last_sync_at, "p_updated": connection.updated_at}
    if release is None:
        if recorded is not None and dialect == "postgresql":
            execute(_SAVE_POLL_COMPLETED_WITH_EVENT, completed | recorded)
            return None
        execute(_SAVE_POLL_COMPLETED, completed)
        if recorded is not None:
            execute(_RECORD_EVENT, recorded)
        return None
    released = _job_release_params(release.key, release.owner, release.next_due_at)
    if dialect == "postgresql":
        # One statement for both rows (a data-modifying WITH), atomic on its own.
        if recorded is not None:
            result = execute(_SAVE_POLL_AND_RELEASE_JOB_WITH_EVENT, completed | released | recorded)
        else:
            result = execute(_SAVE_POLL_AND_RELEASE_JOB, completed | released)
    else:
        execute(_SAVE_POLL_COMPLETED, completed)
        if recorded is not None:
            execute(_RECORD_EVENT, recorded)
        result = execute(_RELEASE_MY_JOB, released)
    return bool(result.rowcount == 1)


def _event_params(event: ConnectionEvent) -> dict[str, Any]:
    return {"ev_conn": event.connection_id, "ev_kind": event.kind, "ev_at": event.at, "ev_first": event.first_at,
            "ev_message": event.message, "ev_imported": event.imported, "ev_updated": event.updated,
            "ev_failed": event.failed, "ev_calls": event.api_calls, "ev_polls": event.polls,
            "ev_fold": event.fold_key}


def connection_for_merchant(session: Session, merchant_id: int, erp: str = "tiny") -> ErpConnection | None:
    c = t.erp_connections.c
    return session.scalars(select(ErpConnection).where(c.merchant_id == merchant_id, c.erp == erp)).first()


class SqlConnectionEventRepository(_Repository):
    def add(self, event: ConnectionEvent) -> None:
        if event.is_folded:
            # Folded into the hour's row: an upsert, which the ORM cannot express.
            self._session.execute(_RECORD_EVENT if self._dialect != "postgresql" else _RECORD_EVENT_PG,
                                  _event_params(event))
        else:
            self._session.add(event)

    def purge(self, before: datetime) -> int:
        result = self._session.execute(delete(t.connection_events).where(t.connection_events.c.at < before))
        return int(result.rowcount)  # type: ignore[attr-defined]


class SqlJobRepository(_Repository):
    def schedule(self, kind: JobKind, subject_id: int, due_at: datetime) -> None:
        insert = upsert_insert(self._dialect, t.jobs)
        # One statement, so that two processes scheduling the same new job cannot collide;
        # the lease columns are left alone.
        self._session.execute(
            insert.values(kind=kind, subject_id=subject_id, due_at=due_at, attempts=0).on_conflict_do_update(
                index_elements=["kind", "subject_id"], set_={"due_at": insert.excluded.due_at}
            )
        )
        _forget_job(self._session, JobKey(kind, subject_id))

    def claim(self, owner: str, now: datetime, lease: timedelta, limit: int) -> list[Job]:
        hold_write_lock(self._session)
        rows = self._session.execute(
            _CLAIM_JOBS, {"claim_now": now, "claim_limit": limit, "claim_owner": owner, "claim_until": now + lease}
        )
        # Plain rows made into jobs: they are handed to the worker's threads, not kept in
        # this session.
        jobs = [Job(**row._mapping) for row in rows]
        for job in jobs:
            _forget_job(self._session, job)
        return sorted(jobs, key=lambda job: (job.due_at, job.id or 0))

    def finish(self, job: Job | JobKey, owner: str, next_due_at: datetime | None, error: str | None = None) -> bool:
        # One conditional statement: the lease is checked and released atomically.
        if next_due_at is None:
            statement = _DELETE_MY_JOB
        else:
            # `attempts` counts consecutive unsuccessful runs (the retry backoff reads it): a run
            # that ends without an error starts the count again.
            statement = _RELEASE_MY_JOB_FAILED if error else _RELEASE_MY_JOB
        result = self._session.execute(statement, _job_release_params(job, owner, next_due_at, error))
        _forget_job(self._session, job)
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


def _forget_job(session: Session, job: Job | JobKey) -> None:
    """A Core statement changed a job's row behind the session's back: drop its copy."""
    for obj in list(session.identity_map.values()):
        if isinstance(obj, Job) and obj.kind == job.kind and obj.subject_id == job.subject_id:
            session.expunge(obj)


def _lease_free(lease_expires_at, now):  # type: ignore[no-untyped-def]
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
    .where(t.jobs.c.due_at <= _CLAIM_NOW, _lease_free(t.jobs.c.lease_expires_at, _CLAIM_NOW))
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
_RELEASE_MY_JOB = update(t.jobs).where(_MY_JOB).values(**_RELEASED, last_error=None, attempts=0)
_RELEASE_MY_JOB_FAILED = update(t.jobs).where(_MY_JOB).values(
    **_RELEASED, last_error=bindparam("job_error", type_=t.jobs.c.last_error.type)
)
# PostgreSQL: a completed poll's write and its job's release in one statement.
_SAVE_POLL_AND_RELEASE_JOB = _RELEASE_MY_JOB.add_cte(
    _SAVE_POLL_COMPLETED.returning(t.erp_connections.c.id).cte("saved_poll")
)


def _record_event_statement(dialect: str):  # type: ignore[no-untyped-def]
    """An event's row; a quiet poll's is folded into its hour's row (same `fold_key`): one more
    poll, its API calls added, `at` moved to the latest."""
    e = t.connection_events.c
    insert = upsert_insert(dialect, t.connection_events)
    return insert.values(
        connection_id=bindparam("ev_conn"), kind=bindparam("ev_kind", type_=e.kind.type),
        at=bindparam("ev_at", type_=e.at.type), first_at=bindparam("ev_first", type_=e.first_at.type),
        message=bindparam("ev_message", type_=e.message.type), imported=bindparam("ev_imported"),
        updated=bindparam("ev_updated"), failed=bindparam("ev_failed"), api_calls=bindparam("ev_calls"),
        polls=bindparam("ev_polls"), fold_key=bindparam("ev_fold", type_=e.fold_key.type),
    ).on_conflict_do_update(
        index_elements=["connection_id", "fold_key"],
        set_={"at": insert.excluded.at, "polls": e.polls + insert.excluded.polls,
              "api_calls": e.api_calls + insert.excluded.api_calls},
    )


# SQLite and PostgreSQL spell ON CONFLICT alike; the statement is built with the PostgreSQL
# dialect's insert for the WITH below and with SQLite's for its own statement.
_RECORD_EVENT_PG = _record_event_statement("postgresql")
_RECORD_EVENT = _record_event_statement("sqlite")
_SAVE_POLL_AND_RELEASE_JOB_WITH_EVENT = _SAVE_POLL_AND_RELEASE_JOB.add_cte(
    _RECORD_EVENT_PG.returning(t.connection_events.c.id).cte("recorded_event")
)
_SAVE_POLL_COMPLETED_WITH_EVENT = _RECORD_EVENT_PG.add_cte(
    _SAVE_POLL_COMPLETED.returning(t.erp_connections.c.id).cte("saved_poll")
)
_SAVE_POLL_WINDOW_WITH_EVENT = _RECORD_EVENT_PG.add_cte(
    _SAVE_POLL_WINDOW.returning(t.erp_connections.c.id).cte("saved_window")
)


def _job_release_params(
    job: Job | JobKey, owner: str, next_due_at: datetime | None, error: str | None = None
) -> dict[str, object]:
    return {"job_kind": job.kind, "job_subject": job.subject_id, "job_owner": owner, "next_due_at": next_due_at,
            "job_error": error}
