"""The repositories of application/ports/ over one SQLAlchemy session. None of them commits:
the unit of work does."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import and_, bindparam, case, delete, exists, null, or_, select, update
from sqlalchemy.orm import Session
from sqlalchemy.sql import Executable

from kanglu.adapters.sql import tables as t
from kanglu.adapters.sql.engine import hold_write_lock, upsert_insert
from kanglu.adapters.sql.orm import built_once_per_mapping
from kanglu.domain.connections import POLL_ERROR_PREFIX, ErpConnection
from kanglu.domain.customers import Customer
from kanglu.domain.events import ConnectionEvent, NotificationSettings
from kanglu.domain.import_failures import ImportFailure
from kanglu.domain.jobs import Job, JobKey, JobKind, JobRelease
from kanglu.domain.merchants import ApiKey, Merchant
from kanglu.domain.orders import Order, StoredOrder, comparable_fingerprint
from kanglu.domain.shipping import ShippingFamily
from kanglu.domain.situacoes import Action, Situacao, StatusMapping
from kanglu.domain.tracking import OutboxMessage


class _Repository:
    def __init__(self, session: Session) -> None:
        self._session = session

    @property
    def _dialect(self) -> str:
        return self._session.get_bind().dialect.name


class SqlMerchantRepository(_Repository):
    def add(self, merchant: Merchant) -> None:
        self._session.add(merchant)

    def get(self, merchant_id: int) -> Merchant | None:
        return self._session.get(Merchant, merchant_id)

    def get_by_email(self, email: str) -> Merchant | None:
        return self._session.scalars(select(Merchant).where(t.merchants.c.email == email)).first()

    def add_api_key(self, key: ApiKey) -> None:
        self._session.add(key)

    def by_api_key_hash(self, key_hash: str) -> Merchant | None:
        return merchant_by_api_key_hash(self._session, key_hash)

    def revoke_api_keys(self, merchant_id: int, now: datetime) -> int:
        k = t.api_keys
        revoked = self._session.execute(
            update(k).where(k.c.merchant_id == merchant_id, k.c.revoked_at.is_(None)).values(revoked_at=now)
        )
        return revoked.rowcount  # type: ignore[attr-defined, no-any-return]


def merchant_by_api_key_hash(session: Session, key_hash: str) -> Merchant | None:
    return session.scalars(
        select(Merchant)
        .join(t.api_keys, t.api_keys.c.merchant_id == t.merchants.c.id)
        .where(t.api_keys.c.key_hash == key_hash, t.api_keys.c.revoked_at.is_(None))
    ).first()


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


class SqlStatusMappingRepository(_Repository):
    def get(self, connection_id: int) -> StatusMapping:
        rows = self._session.execute(_MAPPING_OF, {"conn_id": connection_id}).all()
        if not rows:
            return StatusMapping.default()
        known = {int(s) for s in Situacao}  # a code a later version dropped is ignored, not an error
        return StatusMapping({Situacao(s): Action(a) for s, a in rows if a != Action.IGNORE.value and s in known})

    def save(self, connection_id: int, mapping: StatusMapping) -> None:
        self._session.execute(delete(t.status_mappings).where(t.status_mappings.c.connection_id == connection_id))
        self._session.execute(
            t.status_mappings.insert(),
            [{"connection_id": connection_id, "situacao": int(s), "action": a.value} for s, a in mapping.full()],
        )


# The reads of a poll's page that re-lists imported orders (every poll's overlap does) are
# built once, as the claim's are: building and hashing a statement anew costs about as much CPU
# as running it. The ones that select an entity are built once per mapping (see orm.py).
_CONN_ID = bindparam("conn_id")
_ERP_IDS = bindparam("erp_ids", expanding=True)
_MAPPING_OF = select(t.status_mappings.c.situacao, t.status_mappings.c.action).where(
    t.status_mappings.c.connection_id == _CONN_ID
)
_FAMILIES_OF = select(
    t.shipping_families.c.service_id, t.shipping_families.c.name, t.shipping_families.c.family
).where(t.shipping_families.c.connection_id == _CONN_ID)
_ORDERS_BY_ERP_ID = (t.orders.c.connection_id == _CONN_ID, t.orders.c.erp_order_id.in_(_ERP_IDS))
_STORED_ORDERS = select(
    t.orders.c.erp_order_id, t.orders.c.fingerprint, t.orders.c.fingerprint_version, t.orders.c.invoice,
    t.orders.c.total,
).where(*_ORDERS_BY_ERP_ID)
_FINGERPRINTS = select(
    t.orders.c.erp_order_id, t.orders.c.fingerprint, t.orders.c.fingerprint_version
).where(*_ORDERS_BY_ERP_ID)
_CARRIERS_OF = select(t.carrier_mappings.c.shipping_key, t.carrier_mappings.c.carrier_code).where(
    t.carrier_mappings.c.merchant_id == bindparam("merchant_id")
)


@built_once_per_mapping
def _open_failures():  # type: ignore[no-untyped-def]
    c = t.import_failures.c
    return select(ImportFailure).where(c.connection_id == _CONN_ID, c.erp_order_id.in_(_ERP_IDS),
                                       c.resolved_at.is_(None))


class SqlCustomerRepository(_Repository):
    def add(self, customer: Customer) -> None:
        self._session.add(customer)

    def get(self, merchant_id: int, customer_id: int) -> Customer | None:
        customer = self._session.get(Customer, customer_id)
        return customer if customer is not None and customer.merchant_id == merchant_id else None

    def by_documents(self, merchant_id: int, documents: Iterable[str]) -> dict[str, Customer]:
        wanted = set(documents)
        if not wanted:
            return {}
        c = t.customers.c
        found = self._session.scalars(select(Customer).where(c.merchant_id == merchant_id, c.document.in_(wanted)))
        return {customer.document.value: customer for customer in found if customer.document is not None}

    def by_emails(self, merchant_id: int, emails: Iterable[str]) -> dict[str, Customer]:
        return self._oldest_by(merchant_id, t.customers.c.email, emails, "email")

    def by_erp_ids(self, merchant_id: int, erp_ids: Iterable[int]) -> dict[int, Customer]:
        return self._oldest_by(merchant_id, t.customers.c.erp_customer_id, erp_ids, "erp_customer_id")

    def _oldest_by(self, merchant_id: int, column, values: Iterable, attribute: str) -> dict:  # type: ignore[no-untyped-def,type-arg]
        """One customer per value: the oldest, when several share it."""
        wanted = set(values)
        if not wanted:
            return {}
        c = t.customers.c
        found: dict = {}  # type: ignore[type-arg]
        for customer in self._session.scalars(
            select(Customer).where(c.merchant_id == merchant_id, column.in_(wanted)).order_by(c.id)
        ):
            found.setdefault(getattr(customer, attribute), customer)
        return found


class SqlOrderRepository(_Repository):
    def add(self, order: Order) -> None:
        self._session.add(order)

    def get(self, merchant_id: int, order_id: int) -> Order | None:
        order = self._session.get(Order, order_id)
        return order if order is not None and order.merchant_id == merchant_id else None

    def by_erp_ids(self, connection_id: int, erp_ids: Iterable[int]) -> dict[int, Order]:
        wanted = set(erp_ids)
        if not wanted:
            return {}
        c = t.orders.c
        found = self._session.scalars(select(Order).where(c.connection_id == connection_id, c.erp_order_id.in_(wanted)))
        return {order.erp_order_id: order for order in found}

    def fingerprints(self, connection_id: int, erp_ids: Iterable[int]) -> dict[int, str]:
        return {
            erp_id: comparable_fingerprint(fingerprint, version)
            for erp_id, fingerprint, version in self._by_erp_id(_FINGERPRINTS, connection_id, erp_ids)
        }

    def stored(self, connection_id: int, erp_ids: Iterable[int]) -> dict[int, StoredOrder]:
        return {
            erp_id: StoredOrder(comparable_fingerprint(fingerprint, version), invoice, total)
            for erp_id, fingerprint, version, invoice, total in self._by_erp_id(_STORED_ORDERS, connection_id, erp_ids)
        }

    def _by_erp_id(self, statement, connection_id: int, erp_ids: Iterable[int]) -> list:  # type: ignore[no-untyped-def,type-arg]
        """(erp_order_id, ...) of those orders that are stored: a light read."""
        wanted = list(set(erp_ids))
        if not wanted:
            return []
        return list(self._session.execute(statement, {"conn_id": connection_id, "erp_ids": wanted}))

    def waiting_for_carrier(self, connection_id: int, shipping_key: str, or_carrier: str | None = None) -> list[Order]:
        c = t.orders.c
        carrier = c.carrier_code.is_(None) if or_carrier is None else or_(c.carrier_code.is_(None),
                                                                          c.carrier_code == or_carrier)
        return list(
            self._session.scalars(
                select(Order)
                .where(c.connection_id == connection_id, c.shipping_key == shipping_key, carrier)
                .order_by(c.id)
            )
        )


class SqlImportFailureRepository(_Repository):
    def for_erp_ids(self, connection_id: int, erp_ids: Iterable[int]) -> dict[int, ImportFailure]:
        wanted = list(set(erp_ids))
        if not wanted:
            return {}
        found = self._session.scalars(_open_failures(), {"conn_id": connection_id, "erp_ids": wanted})
        return {failure.erp_order_id: failure for failure in found}  # type: ignore[misc]

    def add(self, failure: ImportFailure) -> None:
        self._session.add(failure)

    def get(self, failure_id: int) -> ImportFailure | None:
        return self._session.get(ImportFailure, failure_id)

    def open_without_id(self, connection_id: int) -> list[ImportFailure]:
        c = t.import_failures.c
        return list(self._session.scalars(
            select(ImportFailure).where(c.connection_id == connection_id, c.erp_order_id.is_(None),
                                        c.resolved_at.is_(None)).order_by(c.id)
        ))

    def purge_resolved(self, before: datetime) -> int:
        c = t.import_failures.c
        result = self._session.execute(
            delete(t.import_failures).where(c.resolved_at.is_not(None), c.resolved_at < before)
        )
        return result.rowcount or 0  # type: ignore[attr-defined]


class SqlShippingFamilyRepository(_Repository):
    def for_connection(self, connection_id: int) -> dict[int, ShippingFamily]:
        rows = self._session.execute(_FAMILIES_OF, {"conn_id": connection_id}).all()
        return {row.service_id: ShippingFamily(row.service_id, row.name, row.family) for row in rows}

    def save(self, connection_id: int, families: Iterable[ShippingFamily]) -> None:
        rows = {f.service_id: {"connection_id": connection_id, "service_id": f.service_id, "name": f.name,
                               "family": f.family} for f in families}
        if not rows:
            return
        insert = upsert_insert(self._dialect, t.shipping_families)
        self._session.execute(
            insert.on_conflict_do_update(
                index_elements=["connection_id", "service_id"],
                set_={"name": insert.excluded.name, "family": insert.excluded.family},
            ),
            list(rows.values()),
        )


class SqlCarrierMappingRepository(_Repository):
    def for_merchant(self, merchant_id: int) -> dict[str, str]:
        rows = self._session.execute(_CARRIERS_OF, {"merchant_id": merchant_id})
        return {key: code for key, code in rows}

    def set(self, merchant_id: int, shipping_key: str, carrier_code: str) -> None:
        insert = upsert_insert(self._dialect, t.carrier_mappings)
        self._session.execute(
            insert.values(merchant_id=merchant_id, shipping_key=shipping_key, carrier_code=carrier_code)
            .on_conflict_do_update(
                index_elements=["merchant_id", "shipping_key"], set_={"carrier_code": insert.excluded.carrier_code}
            )
        )


    def remove(self, merchant_id: int, shipping_key: str) -> bool:
        m = t.carrier_mappings.c
        result = self._session.execute(
            delete(t.carrier_mappings).where(m.merchant_id == merchant_id, m.shipping_key == shipping_key)
        )
        return bool(result.rowcount)  # type: ignore[attr-defined]


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


class SqlNotificationRepository(_Repository):
    def get(self, merchant_id: int) -> NotificationSettings:
        found = self._session.get(NotificationSettings, merchant_id)
        return found if found is not None else NotificationSettings(merchant_id)

    def save(self, settings: NotificationSettings) -> None:
        self._session.add(settings)


class SqlOutboxRepository(_Repository):
    def add(self, message: OutboxMessage) -> None:
        self._session.add(message)

    def get(self, message_id: int) -> OutboxMessage | None:
        return self._session.get(OutboxMessage, message_id)

    def claim(self, owner: str, now: datetime, lease: timedelta, limit: int) -> list[OutboxMessage]:
        o = t.outbox
        earlier = o.alias("earlier")
        # Only the oldest pending message of each stream: an order's requests go out in the
        # order they were written, whatever the number of workers.
        earlier_pending = exists().where(
            earlier.c.stream == o.c.stream, earlier.c.delivered_at.is_(None), earlier.c.id < o.c.id
        )
        hold_write_lock(self._session)
        messages = list(
            self._session.scalars(
                select(OutboxMessage)
                .where(
                    o.c.delivered_at.is_(None),
                    o.c.next_attempt_at <= now,
                    _lease_free(o.c.lease_expires_at, now),
                    ~earlier_pending,
                )
                .order_by(o.c.id)
                .limit(limit)
                .with_for_update(skip_locked=True, of=o)
                .execution_options(populate_existing=True)
            )
        )
        for message in messages:
            message.lease_owner = owner
            message.lease_expires_at = now + lease
        self._session.flush()
        return messages


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
