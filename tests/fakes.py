"""In-memory fakes of the ports, for unit tests of the domain and the use cases."""

from __future__ import annotations

import copy
import copyreg
import itertools
import threading
from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from types import MappingProxyType
from typing import Any

import attrs

from kanglu.application.errors import (
    AuthorizationFailed,
    PermissionMissing,
    ReauthorizationRequired,
    TransientFailure,
)
from kanglu.application.ports import (
    OAuthClient,
    OAuthState,
    OrderPage,
    PendingGrant,
    StoredPage,
    TokenGrant,
    TokenSource,
)
from kanglu.domain.connections import ErpConnection, ErrorKind
from kanglu.domain.customers import Customer
from kanglu.domain.events import ConnectionEvent, NotificationSettings
from kanglu.domain.import_failures import ImportFailure
from kanglu.domain.jobs import Job, JobKey, JobKind
from kanglu.domain.merchants import ApiKey, Merchant
from kanglu.domain.orders import (
    ErpOrder,
    Invoice,
    MalformedOrder,
    Order,
    StoredOrder,
    comparable_fingerprint,
)
from kanglu.domain.permissions import ErpPermission
from kanglu.domain.revocations import TokenRevocation
from kanglu.domain.secrets import Sealed, Secret
from kanglu.domain.shipping import ShippingFamily, families_by_service
from kanglu.domain.situacoes import StatusMapping
from kanglu.domain.tracking import OutboxMessage, TrackingRequest
from tests.fake_snapshot import Snapshot, where


class FakeClock:
    def __init__(self, start: datetime | None = None) -> None:
        self._now = start or datetime(2026, 7, 1, 12, 0, tzinfo=UTC)

    def now(self) -> datetime:
        return self._now

    def advance(self, delta: timedelta | None = None, **kwargs: float) -> datetime:
        self._now += delta if delta is not None else timedelta(**kwargs)
        return self._now


class FakeSecretBox:
    """Reversible and obviously not plaintext, so tests can check nothing leaks unsealed."""

    def seal(self, plaintext: Secret) -> Sealed:
        return Sealed("sealed:" + plaintext.value[::-1])

    def open(self, sealed: Sealed) -> Secret:
        assert sealed.ciphertext.startswith("sealed:")
        return Secret(sealed.ciphertext[len("sealed:"):][::-1])


class FakeStateSigner:
    def __init__(self, clock: FakeClock) -> None:
        self._clock = clock

    def sign(self, state: OAuthState) -> str:
        return f"{state.connection_id}.{state.nonce}.{self._clock.now().timestamp():.0f}.signed"

    def verify(self, token: str, max_age: timedelta) -> OAuthState:
        parts = token.split(".")
        if len(parts) != 4 or parts[3] != "signed":
            raise AuthorizationFailed("estado inválido", "invalid_state")
        issued = datetime.fromtimestamp(float(parts[2]), UTC)
        if self._clock.now() - issued > max_age:
            raise AuthorizationFailed("estado expirado", "expired")
        return OAuthState(int(parts[0]), parts[1])


class FakePasswordHasher:
    def hash(self, password: str) -> str:
        return "hashed:" + password[::-1]

    def verify(self, password_hash: str, password: str) -> bool:
        return password_hash == self.hash(password)


# -- persistence -------------------------------------------------------------------------


@attrs.define
class _State:
    merchants: dict[int, Merchant] = attrs.Factory(dict)
    api_keys: list[ApiKey] = attrs.Factory(list)
    connections: dict[int, ErpConnection] = attrs.Factory(dict)
    mappings: dict[int, StatusMapping] = attrs.Factory(dict)
    customers: dict[int, Customer] = attrs.Factory(dict)
    orders: dict[int, Order] = attrs.Factory(dict)
    failures: list[ImportFailure] = attrs.Factory(list)
    families: dict[int, dict[int, ShippingFamily]] = attrs.Factory(dict)
    carrier_mappings: dict[int, dict[str, str]] = attrs.Factory(dict)
    outbox: dict[int, OutboxMessage] = attrs.Factory(dict)
    jobs: dict[tuple[JobKind, int], Job] = attrs.Factory(dict)
    revocations: list[TokenRevocation] = attrs.Factory(list)
    events: list[ConnectionEvent] = attrs.Factory(list)
    notifications: dict[int, NotificationSettings] = attrs.Factory(dict)


# The fake database deep-copies its state; StatusMapping keeps its actions in a read-only
# MappingProxyType, which copy cannot handle by itself.
copyreg.pickle(MappingProxyType, lambda proxy: (MappingProxyType, (dict(proxy),)))


class FakeDatabase:
    """What has been committed. Each unit of work works on its own snapshot (rows copied as
    it touches them: tests/fake_snapshot.py) and publishes it on commit, so a rollback really
    loses what was not committed."""

    def __init__(self) -> None:
        self.committed = _State()
        self.ids = itertools.count(1)
        self.commits = 0
        # One unit of work at a time, like SQLite's single writer: lets worker threads share it.
        self.lock = threading.RLock()
        # The next so many commits fail as a database that went away would (TransientFailure).
        self.failing_commits = 0


class _Repo:
    def __init__(self, uow: FakeUnitOfWork) -> None:
        self._uow = uow

    @property
    def s(self) -> Any:  # a Snapshot of _State: its dict tables are `Rows`
        return self._uow.state

    def _new_id(self) -> int:
        return next(self._uow.db.ids)


class FakeMerchants(_Repo):
    def add(self, merchant: Merchant) -> None:
        merchant.id = self._new_id()
        self.s.merchants[merchant.id] = merchant

    def get(self, merchant_id: int) -> Merchant | None:
        return self.s.merchants.get(merchant_id)

    def get_by_email(self, email: str) -> Merchant | None:
        return next(where(self.s.merchants, lambda m: m.email == email), None)

    def add_api_key(self, key: ApiKey) -> None:
        key.id = self._new_id()
        self.s.api_keys.append(key)

    def by_api_key_hash(self, key_hash: str) -> Merchant | None:
        key = next((k for k in self.s.api_keys if k.key_hash == key_hash and k.revoked_at is None), None)
        return self.s.merchants.get(key.merchant_id) if key else None

    def revoke_api_keys(self, merchant_id: int, now: datetime) -> int:
        live = [k for k in self.s.api_keys if k.merchant_id == merchant_id and k.revoked_at is None]
        for key in live:
            key.revoked_at = now
        return len(live)


class FakeConnections(_Repo):
    def __init__(self, uow: FakeUnitOfWork) -> None:
        super().__init__(uow)
        self.locks = 0

    def add(self, connection: ErpConnection) -> None:
        connection.id = self._new_id()
        self.s.connections[connection.id] = connection

    def get(self, connection_id: int) -> ErpConnection | None:
        return self.s.connections.get(connection_id)

    def many(self, connection_ids: Iterable[int]) -> dict[int, ErpConnection]:
        return {i: self.s.connections[i] for i in connection_ids if i in self.s.connections}

    def for_merchant(self, merchant_id: int, erp: str = "tiny") -> ErpConnection | None:
        return next(where(self.s.connections, lambda c: c.merchant_id == merchant_id and c.erp == erp), None)

    def lock(self, connection_id: int) -> ErpConnection | None:
        self.locks += 1
        return self.get(connection_id)

    def all(self) -> Iterable[ErpConnection]:
        return list(self.s.connections.values())


class FakeStatusMappings(_Repo):
    def get(self, connection_id: int) -> StatusMapping:
        return self.s.mappings.get(connection_id, StatusMapping.default())

    def save(self, connection_id: int, mapping: StatusMapping) -> None:
        self.s.mappings[connection_id] = mapping


class FakeCustomers(_Repo):
    def add(self, customer: Customer) -> None:
        if customer.document is not None:
            clash = self.by_documents(customer.merchant_id, [customer.document.value])
            assert not clash, "unique (merchant, document) violated"
        customer.id = self._new_id()
        self.s.customers[customer.id] = customer

    def get(self, merchant_id: int, customer_id: int) -> Customer | None:
        customer = self.s.customers.get(customer_id)
        return customer if customer is not None and customer.merchant_id == merchant_id else None

    def _of(self, merchant_id: int) -> list[Customer]:
        return sorted(where(self.s.customers, lambda c: c.merchant_id == merchant_id), key=lambda c: c.id or 0)

    def by_documents(self, merchant_id: int, documents: Iterable[str]) -> dict[str, Customer]:
        wanted = set(documents)
        return {c.document.value: c for c in self._of(merchant_id) if c.document and c.document.value in wanted}

    def by_emails(self, merchant_id: int, emails: Iterable[str]) -> dict[str, Customer]:
        wanted = set(emails)
        found: dict[str, Customer] = {}
        for c in self._of(merchant_id):
            if c.email in wanted:
                found.setdefault(c.email, c)
        return found

    def by_erp_ids(self, merchant_id: int, erp_ids: Iterable[int]) -> dict[int, Customer]:
        wanted = set(erp_ids)
        found: dict[int, Customer] = {}
        for c in self._of(merchant_id):
            if c.erp_customer_id in wanted:
                found.setdefault(c.erp_customer_id, c)
        return found


class FakeOrders(_Repo):
    def add(self, order: Order) -> None:
        assert not self._matching(order.connection_id, [order.erp_order_id]), "unique order violated"
        order.id = self._new_id()
        self.s.orders[order.id] = order

    def get(self, merchant_id: int, order_id: int) -> Order | None:
        order = self.s.orders.get(order_id)
        return order if order is not None and order.merchant_id == merchant_id else None

    def by_erp_ids(self, connection_id: int, erp_ids: Iterable[int]) -> dict[int, Order]:
        return self._matching(connection_id, erp_ids)

    def _matching(self, connection_id: int, erp_ids: Iterable[int]) -> dict[int, Order]:
        wanted = set(erp_ids)
        return {
            o.erp_order_id: o
            for o in where(self.s.orders, lambda o: o.connection_id == connection_id and o.erp_order_id in wanted)
        }

    def fingerprints(self, connection_id: int, erp_ids: Iterable[int]) -> dict[int, str]:
        return {
            erp_id: comparable_fingerprint(order.fingerprint, order.fingerprint_version)
            for erp_id, order in self._matching(connection_id, erp_ids).items()
        }

    def stored(self, connection_id: int, erp_ids: Iterable[int]) -> dict[int, StoredOrder]:
        return {
            erp_id: StoredOrder(comparable_fingerprint(order.fingerprint, order.fingerprint_version), order.invoice,
                                order.total)
            for erp_id, order in self._matching(connection_id, erp_ids).items()
        }

    def waiting_for_carrier(self, connection_id: int, shipping_key: str, or_carrier: str | None = None) -> list[Order]:
        return list(where(self.s.orders,
            lambda o: o.connection_id == connection_id and o.shipping_key == shipping_key
            and (o.carrier_code is None or (or_carrier is not None and o.carrier_code == or_carrier))
        ))

    def all(self) -> list[Order]:
        return sorted(self.s.orders.values(), key=lambda o: o.id or 0)


class FakeImportFailures(_Repo):
    def for_erp_ids(self, connection_id: int, erp_ids: Iterable[int]) -> dict[int, ImportFailure]:
        wanted = set(erp_ids)
        return {
            f.erp_order_id: f
            for f in self.s.failures
            if f.connection_id == connection_id and f.erp_order_id in wanted and f.resolved_at is None
        }

    def add(self, failure: ImportFailure) -> None:
        failure.id = self._new_id()
        self.s.failures.append(failure)

    def get(self, failure_id: int) -> ImportFailure | None:
        return next((f for f in self.s.failures if f.id == failure_id), None)

    def open_without_id(self, connection_id: int) -> list[ImportFailure]:
        return [f for f in self.s.failures
                if f.connection_id == connection_id and f.erp_order_id is None and f.resolved_at is None]

    def purge_resolved(self, before: datetime) -> int:
        kept = [f for f in self.s.failures if f.resolved_at is None or f.resolved_at >= before]
        purged = len(self.s.failures) - len(kept)
        self.s.failures[:] = kept
        return purged


class FakeShippingFamilies(_Repo):
    def for_connection(self, connection_id: int) -> dict[int, ShippingFamily]:
        return dict(self.s.families.get(connection_id, {}))

    def save(self, connection_id: int, families: Iterable[ShippingFamily]) -> None:
        self.s.families.setdefault(connection_id, {}).update({f.service_id: f for f in families})


class FakeCarrierMappings(_Repo):
    def for_merchant(self, merchant_id: int) -> dict[str, str]:
        return dict(self.s.carrier_mappings.get(merchant_id, {}))

    def set(self, merchant_id: int, shipping_key: str, carrier_code: str) -> None:
        self.s.carrier_mappings.setdefault(merchant_id, {})[shipping_key] = carrier_code

    def remove(self, merchant_id: int, shipping_key: str) -> bool:
        return self.s.carrier_mappings.get(merchant_id, {}).pop(shipping_key, None) is not None


class FakeEvents(_Repo):
    def add(self, event: ConnectionEvent) -> None:
        if event.fold_key is not None:
            for row in self.s.events:
                if (row.connection_id, row.fold_key) == (event.connection_id, event.fold_key):
                    row.at, row.polls, row.api_calls = event.at, row.polls + event.polls, row.api_calls + event.api_calls
                    return
        event.id = self._new_id()
        self.s.events.append(event)

    def purge(self, before: datetime) -> int:
        kept = [e for e in self.s.events if e.at >= before]
        gone = len(self.s.events) - len(kept)
        self.s.events[:] = kept
        return gone

    def all(self) -> list[ConnectionEvent]:
        return list(self.s.events)


class FakeNotifications(_Repo):
    def get(self, merchant_id: int) -> NotificationSettings:
        return self.s.notifications.get(merchant_id) or NotificationSettings(merchant_id)

    def save(self, settings: NotificationSettings) -> None:
        self.s.notifications[settings.merchant_id] = settings


class FakeOutbox(_Repo):
    def add(self, message: OutboxMessage) -> None:
        message.id = self._new_id()
        self.s.outbox[message.id] = message

    def by_ids(self, message_ids: Collection[int]) -> list[OutboxMessage]:
        return [self.s.outbox[i] for i in sorted(set(message_ids)) if i in self.s.outbox]

    def claim(self, owner: str, now: datetime, lease: timedelta, limit: int) -> list[OutboxMessage]:
        firsts: dict[str, OutboxMessage] = {}
        for message in sorted(self.s.outbox.values(), key=lambda m: m.id or 0):
            if message.delivered_at is None:
                firsts.setdefault(message.stream, message)
        claimed = []
        for message in firsts.values():
            free = message.lease_expires_at is None or message.lease_expires_at <= now
            if message.next_attempt_at <= now and free and len(claimed) < limit:
                message.lease_owner, message.lease_expires_at = owner, now + lease
                claimed.append(message)
        return claimed

    def pending(self) -> list[OutboxMessage]:
        return [m for m in sorted(self.s.outbox.values(), key=lambda m: m.id or 0) if m.delivered_at is None]

    def all(self) -> list[OutboxMessage]:
        return sorted(self.s.outbox.values(), key=lambda m: m.id or 0)


class FakeJobs(_Repo):
    def schedule(self, kind: JobKind, subject_id: int, due_at: datetime) -> None:
        job = self.s.jobs.get((kind, subject_id))
        if job is None:
            self.s.jobs[(kind, subject_id)] = Job(kind=kind, subject_id=subject_id, due_at=due_at, id=self._new_id())
        else:
            job.due_at = due_at

    def claim(self, owner: str, now: datetime, lease: timedelta, limit: int) -> list[Job]:
        due = sorted((j for j in self.s.jobs.values() if j.is_claimable(now)), key=lambda j: j.due_at)[:limit]
        for job in due:
            job.lease_owner, job.lease_expires_at = owner, now + lease
            job.attempts += 1
        return due

    def finish(self, job: Job | JobKey, owner: str, next_due_at: datetime | None, error: str | None = None) -> bool:
        current = self.s.jobs.get((job.kind, job.subject_id))
        if current is None or current.lease_owner != owner:
            return False
        if next_due_at is None:
            del self.s.jobs[(job.kind, job.subject_id)]
        else:
            current.due_at, current.lease_owner, current.lease_expires_at = next_due_at, None, None
            current.last_error = error
            if not error:
                current.attempts = 0
        return True

    def get(self, kind: JobKind, subject_id: int) -> Job | None:
        return self.s.jobs.get((kind, subject_id))

    def keys(self) -> set[JobKey]:
        return {JobKey(kind, subject_id) for kind, subject_id in self.s.jobs}


class FakeRevocations(_Repo):
    def add(self, revocation: TokenRevocation) -> None:
        revocation.id = self._new_id()
        self.s.revocations.append(revocation)

    def claim(self, owner: str, now: datetime, lease: timedelta, limit: int) -> list[TokenRevocation]:
        due = [
            r for r in self.s.revocations
            if r.finished_at is None and r.next_attempt_at <= now
            and (r.lease_expires_at is None or r.lease_expires_at <= now)
        ][:limit]
        for r in due:
            r.lease_owner, r.lease_expires_at = owner, now + lease
        return [attrs.evolve(r) for r in due]

    def finish(
        self, revocation_id: int, owner: str, *, outcome: str | None, error: str | None,
        next_attempt_at: datetime | None, now: datetime,
    ) -> None:
        for r in self.s.revocations:
            if r.id == revocation_id and r.lease_owner == owner:
                r.attempts += 1
                r.last_error = error
                r.lease_owner = r.lease_expires_at = None
                if outcome is not None:
                    r.finished_at, r.outcome, r.refresh_token, r.client_secret = now, outcome, None, None
                else:
                    r.next_attempt_at = next_attempt_at or now


class FakeUnitOfWork:
    def __init__(self, db: FakeDatabase) -> None:
        self.db = db
        self.state = Snapshot(db.committed)
        self.committed = False
        self.merchants = FakeMerchants(self)
        self.connections = FakeConnections(self)
        self.status_mappings = FakeStatusMappings(self)
        self.customers = FakeCustomers(self)
        self.orders = FakeOrders(self)
        self.import_failures = FakeImportFailures(self)
        self.shipping_families = FakeShippingFamilies(self)
        self.carrier_mappings = FakeCarrierMappings(self)
        self.outbox = FakeOutbox(self)
        self.jobs = FakeJobs(self)
        self.revocations = FakeRevocations(self)
        self.events = FakeEvents(self)
        self.notifications = FakeNotifications(self)

    def __enter__(self) -> FakeUnitOfWork:
        self.db.lock.acquire()
        self.rollback()  # start from what is committed now
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.rollback()
        self.db.lock.release()

    def flush(self) -> None:
        pass

    def commit(self) -> None:
        if self.db.failing_commits:
            self.db.failing_commits -= 1
            raise TransientFailure("o banco de dados está ocupado ou indisponível; nova tentativa em instantes")
        self.db.committed = self.state.publish()
        self.db.commits += 1
        self.committed = True

    def rollback(self) -> None:
        self.state = Snapshot(self.db.committed)


class FakeUnitOfWorkFactory:
    def __init__(self, db: FakeDatabase | None = None) -> None:
        self.db = db or FakeDatabase()

    def __call__(self) -> FakeUnitOfWork:
        return FakeUnitOfWork(self.db)

    def read(self) -> FakeUnitOfWork:
        """A look at what is committed, for assertions."""
        return FakeUnitOfWork(self.db)



class FakePollProgress:
    """PollProgressStore and the runner's PollJobLink over the fake database. Each write is
    one commit of its own (the SQL adapter's one statement): `writes` counts them."""

    def __init__(self, uow: FakeUnitOfWorkFactory) -> None:
        self._uow = uow
        self.writes = 0
        self.reads = 0
        self._preloaded: dict[int, ErpConnection] = {}
        self._offers: dict[JobKey, str] = {}
        self._released: dict[JobKey, bool] = {}

    def start(self, connection_id: int) -> ErpConnection | None:
        preloaded = self._preloaded.pop(connection_id, None)
        if preloaded is not None:
            return preloaded
        self.reads += 1
        with self._uow() as uow:
            return uow.connections.get(connection_id)

    def stored_page(
        self, connection: ErpConnection, erp_ids: Sequence[int], families: Mapping[int, int | None] | None
    ) -> StoredPage:
        assert connection.id is not None
        self.reads += 1
        with self._uow() as uow:
            mapping = uow.status_mappings.get(connection.id)
            if families is None:
                families = families_by_service(uow.shipping_families.for_connection(connection.id))
            if not erp_ids:
                return StoredPage(mapping, families, {}, frozenset(), {})
            return StoredPage(
                mapping, families, uow.orders.stored(connection.id, erp_ids),
                frozenset(uow.import_failures.for_erp_ids(connection.id, erp_ids)),
                uow.carrier_mappings.for_merchant(connection.merchant_id),
            )

    def checkpoint(self, connection: ErpConnection, event: ConnectionEvent | None = None) -> None:
        self._write(connection, event, None)

    def complete(self, connection: ErpConnection, event: ConnectionEvent, next_poll_at: datetime) -> None:
        assert connection.id is not None and connection.poll_progress() is None
        self._write(connection, event, next_poll_at)

    def fail(self, connection_id: int, reason: str, at: datetime) -> None:
        with self._uow() as uow:
            connection = uow.connections.get(connection_id)
            if connection is not None:
                connection.note_poll_failure(reason, at)
                uow.commit()

    def _write(self, connection: ErpConnection, event: ConnectionEvent | None, next_poll_at: datetime | None) -> None:
        assert connection.id is not None
        job = JobKey(JobKind.POLL, connection.id)
        owner = self._offers.pop(job, None) if next_poll_at is not None else None
        with self._uow() as uow:
            if event is not None:
                uow.events.add(event)
            stored = uow.state.connections[connection.id]  # the row as it is now: only the poll's columns
            stored.poll_since, stored.poll_started_at, stored.poll_offset = (
                connection.poll_since, connection.poll_started_at, connection.poll_offset)
            if connection.poll_progress() is None:  # completed
                stored.poll_cursor, stored.last_sync_at = connection.poll_cursor, connection.last_sync_at
                stored.updated_at = connection.updated_at
                if stored.error_kind is ErrorKind.POLL:
                    stored.last_error = stored.error_kind = None
            kept = uow.jobs.finish(job, owner, next_poll_at) if owner is not None and next_poll_at else None
            uow.commit()
        self.writes += 1
        if kept is not None:
            self._released[job] = kept

    # -- PollJobLink -----------------------------------------------------------------------

    def preload(self, connections: Mapping[int, ErpConnection]) -> None:
        self._preloaded.update(copy.deepcopy(dict(connections)))

    def drop(self, connection_ids: Iterable[int]) -> None:
        for connection_id in connection_ids:
            self._preloaded.pop(connection_id, None)

    def offer_release(self, job: JobKey, owner: str) -> None:
        self._offers[job] = owner

    def released(self, job: JobKey) -> bool | None:
        self._offers.pop(job, None)
        self._preloaded.pop(job.subject_id, None)
        return self._released.pop(job, None)


# -- the ERP and tracking ---------------------------------------------------------------


class FakeOAuth:
    """An OAuth server in memory, with refresh-token rotation: a spent token is refused."""

    def __init__(self, lifetime: int = 14400, refresh_lifetime: int = 86400) -> None:
        self.lifetime = lifetime
        self.refresh_lifetime = refresh_lifetime
        self.codes: dict[str, str] = {}  # code -> expected verifier
        self.valid_refresh: set[str] = set()
        self.refresh_calls = 0
        self.exchange_calls = 0
        self.revoked: list[str] = []  # refresh tokens revoked, in order
        self.fail_next: list[Exception] = []
        # Run once Tiny has answered a refresh (the old refresh token spent): what happens next.
        self.after_refresh: list[Callable[[], object]] = []
        self._counter = itertools.count(1)

    def authorize_url(self, client_id: str, redirect_uri: str, state: str, code_challenge: str) -> str:
        return f"https://erp.example/auth?client_id={client_id}&state={state}&code_challenge={code_challenge}"

    def issue_code(self, verifier_challenge_ok: bool = True) -> str:
        code = f"code-{next(self._counter)}"
        self.codes[code] = "any" if verifier_challenge_ok else "mismatch"
        return code

    def _grant(self) -> TokenGrant:
        n = next(self._counter)
        refresh = f"refresh-{n}"
        self.valid_refresh.add(refresh)
        return TokenGrant(Secret(f"access-{n}"), Secret(refresh), self.lifetime, self.refresh_lifetime)

    def exchange_code(self, client: OAuthClient, code: str, redirect_uri: str, code_verifier: str) -> TokenGrant:
        self.exchange_calls += 1
        if self.fail_next:
            raise self.fail_next.pop(0)
        if self.codes.pop(code, None) != "any":
            raise ReauthorizationRequired("código inválido", "invalid_grant")
        return self._grant()

    def refresh(self, client: OAuthClient, refresh_token: Secret) -> TokenGrant:
        self.refresh_calls += 1
        if self.fail_next:
            raise self.fail_next.pop(0)
        if refresh_token.value not in self.valid_refresh:
            raise ReauthorizationRequired("token de renovação inválido", "invalid_grant")
        self.valid_refresh.discard(refresh_token.value)
        grant = self._grant()
        while self.after_refresh:
            self.after_refresh.pop(0)()
        return grant

    def revoke(self, client: OAuthClient, refresh_token: Secret) -> None:
        if self.fail_next:
            raise self.fail_next.pop(0)
        self.revoked.append(refresh_token.value)
        self.valid_refresh.discard(refresh_token.value)

    def current_access(self) -> set[str]:
        return {f"access-{r.split('-')[1]}" for r in self.valid_refresh}


class FakeErpGateway:
    """An ERP account in memory: orders (or malformed payloads) with update times, invoices,
    shipping services; faults can be queued per call."""

    def __init__(self, page_size: int = 100) -> None:
        self.page_size = page_size
        self.orders: dict[int, tuple[datetime, ErpOrder | MalformedOrder]] = {}
        self.invoices: dict[int, Invoice | MalformedOrder] = {}
        # What GET /pedidos/{id} answers, when it differs from the listing (its total, say).
        self.details: dict[int, ErpOrder | MalformedOrder] = {}
        self.families: list[ShippingFamily] = []
        self.account = "Loja Exemplo Ltda"
        self.calls: dict[str, int] = {}
        self.faults: list[tuple[str, Exception]] = []
        self.accepted_tokens: Callable[[], set[str]] | None = None
        self.missing: set[ErpPermission] = set()  # modules answering 403
        self.asked: list[tuple[datetime, datetime | None, int, bool]] = []  # changed_orders' arguments

    def put(self, item: ErpOrder | MalformedOrder, updated_at: datetime, erp_id: int | None = None) -> None:
        key = erp_id if erp_id is not None else item.erp_order_id
        assert key is not None
        self.orders[key] = (updated_at, item)

    def _call(self, name: str, tokens: TokenSource) -> None:
        self.calls[name] = self.calls.get(name, 0) + 1
        for i, (fault_name, exc) in enumerate(self.faults):
            if fault_name == name:
                del self.faults[i]
                raise exc
        if self.accepted_tokens is not None:
            token = tokens.access_token().value
            if token not in self.accepted_tokens():
                token = tokens.renew().value
                if token not in self.accepted_tokens():
                    # As the HTTP adapter: a 401 right after a successful renewal is retried later.
                    raise TransientFailure("o Tiny recusou o token recém-renovado")

    def account_name(self, tokens: TokenSource) -> str | None:
        self._call("info", tokens)
        self._check_permission(ErpPermission.INFO_CONTA)
        return self.account

    def changed_orders(
        self, tokens: TokenSource, since: datetime, offset: int, *, until: datetime | None = None,
        point_of_sale: bool = True, window_start: datetime | None = None,
    ) -> OrderPage:
        self._call("orders", tokens)
        self._check_permission(ErpPermission.PEDIDOS)
        self.asked.append((since, until, offset, point_of_sale))
        changed = [
            item for _, (updated, item) in sorted(self.orders.items())
            if updated >= since and (point_of_sale or not (isinstance(item, ErpOrder) and item.point_of_sale))
        ]
        page = changed[offset : offset + self.page_size]
        next_offset = offset + self.page_size if offset + self.page_size < len(changed) else None
        return OrderPage(page, next_offset, len(changed))

    def invoices_for(self, tokens: TokenSource, orders: Sequence[ErpOrder]) -> Mapping[int, Invoice | MalformedOrder]:
        self._call("invoices", tokens)
        self._check_permission(ErpPermission.NOTAS_FISCAIS)
        return {o.erp_order_id: self.invoices[o.erp_order_id] for o in orders if o.erp_order_id in self.invoices}

    def shipping_families(self, tokens: TokenSource) -> Sequence[ShippingFamily]:
        self._call("families", tokens)
        self._check_permission(ErpPermission.FORMAS_ENVIO)
        return list(self.families)

    def has_permission(self, tokens: TokenSource, permission: ErpPermission) -> bool:
        self.calls[f"probe:{permission}"] = self.calls.get(f"probe:{permission}", 0) + 1
        return permission not in self.missing

    def _check_permission(self, permission: ErpPermission) -> None:
        if permission in self.missing:
            raise PermissionMissing(permission)

    def order(self, tokens: TokenSource, erp_order_id: int) -> ErpOrder | MalformedOrder | None:
        self._call("order", tokens)
        if erp_order_id in self.details:
            return self.details[erp_order_id]
        listed = self.orders.get(erp_order_id)
        return listed[1] if listed is not None else None


class FakeTrackingService:
    def __init__(self) -> None:
        self.received: list[TrackingRequest] = []
        self.seen_keys: set[str] = set()
        self.failures: list[Exception] = []

    def deliver(self, request: TrackingRequest) -> None:
        if self.failures:
            raise self.failures.pop(0)
        if request.idempotency_key in self.seen_keys:
            return
        self.seen_keys.add(request.idempotency_key)
        self.received.append(request)


class FakeTokenJournal:
    """The token journal in memory: survives a "process" (a keeper) being thrown away."""

    def __init__(self) -> None:
        self.entries: dict[tuple[int, int], PendingGrant] = {}

    def record(self, pending: PendingGrant) -> None:
        self.entries[(pending.connection_id, pending.seen_token_version)] = pending

    def remove(self, pending: PendingGrant) -> None:
        self.entries.pop((pending.connection_id, pending.seen_token_version), None)

    def pending(self) -> list[PendingGrant]:
        return list(self.entries.values())


def transient(message: str = "Tiny indisponível (503)", retry_after: float | None = None) -> TransientFailure:
    return TransientFailure(message, retry_after=retry_after)

