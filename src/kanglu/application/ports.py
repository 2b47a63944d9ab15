"""The ports: what the core needs from the outside world, as typing.Protocols."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime, timedelta
from types import TracebackType
from typing import Protocol, Self

import attrs

from kanglu.domain.connections import ErpConnection
from kanglu.domain.customers import Customer
from kanglu.domain.events import ConnectionEvent, NotificationSettings
from kanglu.domain.import_failures import ImportFailure
from kanglu.domain.jobs import Job, JobKey, JobKind, JobRelease
from kanglu.domain.revocations import TokenRevocation
from kanglu.domain.merchants import ApiKey, Merchant
from kanglu.domain.orders import ErpOrder, Invoice, MalformedOrder, Order, StoredOrder
from kanglu.domain.permissions import ErpPermission
from kanglu.domain.secrets import Sealed, Secret
from kanglu.domain.shipping import ShippingFamily
from kanglu.domain.situacoes import StatusMapping
from kanglu.domain.tracking import OutboxMessage, TrackingRequest

# -- time, secrets, signatures ---------------------------------------------------------


class Clock(Protocol):
    def now(self) -> datetime:
        """The current instant, timezone-aware (UTC)."""
        ...


class SecretBox(Protocol):
    """Encryption of secrets at rest (client secret, tokens, PKCE verifier)."""

    def seal(self, plaintext: Secret) -> Sealed: ...

    def open(self, sealed: Sealed) -> Secret: ...


@attrs.frozen
class OAuthState:
    """What the signed `state` parameter carries: the connection and a single-use nonce."""

    connection_id: int
    nonce: str


class StateSigner(Protocol):
    def sign(self, state: OAuthState) -> str: ...

    def verify(self, token: str, max_age: timedelta) -> OAuthState:
        """Raises AuthorizationFailed (reason 'expired' or 'invalid_state')."""
        ...


class PasswordHasher(Protocol):
    def hash(self, password: str) -> str: ...

    def verify(self, password_hash: str, password: str) -> bool: ...


# -- the ERP ---------------------------------------------------------------------------


@attrs.frozen
class OAuthClient:
    client_id: str
    client_secret: Secret


@attrs.frozen
class TokenGrant:
    """A token answer: lifetimes in seconds; `refresh_expires_in` None when not said."""

    access_token: Secret
    refresh_token: Secret
    expires_in: int
    refresh_expires_in: int | None = None


@attrs.frozen
class PendingGrant:
    """Tokens Tiny issued for a connection and not yet stored: the refresh token they replace
    is spent at Tiny, so these are the only ones that still work."""

    connection_id: int
    seen_token_version: int  # the version they replace
    grant: TokenGrant = attrs.field(repr=False)
    obtained_at: datetime


class TokenJournal(Protocol):
    """Tokens Tiny issued, written down (sealed) before the database takes them: a process that
    dies in between leaves them for the next start to store."""

    def record(self, pending: PendingGrant) -> None: ...

    def remove(self, pending: PendingGrant) -> None: ...

    def pending(self) -> list[PendingGrant]: ...


class NoTokenJournal:
    """Keeps nothing (a process with nowhere to write, and unit tests that do not need it)."""

    def record(self, pending: PendingGrant) -> None:
        return None

    def remove(self, pending: PendingGrant) -> None:
        return None

    def pending(self) -> list[PendingGrant]:
        return []


class OAuthProvider(Protocol):
    """The ERP's OAuth 2.0 server. Raises ReauthorizationRequired for a definite refusal and
    TransientFailure for anything worth retrying."""

    def authorize_url(self, client_id: str, redirect_uri: str, state: str, code_challenge: str) -> str: ...

    def exchange_code(self, client: OAuthClient, code: str, redirect_uri: str, code_verifier: str) -> TokenGrant: ...

    def refresh(self, client: OAuthClient, refresh_token: Secret) -> TokenGrant: ...

    def revoke(self, client: OAuthClient, refresh_token: Secret) -> None:
        """Revoke a refresh token (and its session) at the ERP (RFC 7009). Raises
        TransientFailure when it may pass later, ReauthorizationRequired when the ERP refuses
        the client for good."""
        ...


class TokenSource(Protocol):
    """The access token of one connection, and a way to get a fresh one after a 401.

    `key` names the ERP account behind the token (rate-limit budgets are per account) and
    appears in logs; it never contains the token.
    """

    @property
    def key(self) -> str: ...

    def access_token(self) -> Secret: ...

    def renew(self) -> Secret:
        """Renew (single-flight across processes) and return the new access token; raises
        ReauthorizationRequired when the ERP refuses for good."""
        ...


@attrs.frozen
class OrderPage:
    """One page of changed orders. The window goes on at `next_offset` of the same listing,
    else (a listing read to its end) from `next_since` at offset 0; both None: it is done."""

    items: Sequence[ErpOrder | MalformedOrder]
    next_offset: int | None
    total: int | None = None
    next_since: datetime | None = None


class ErpGateway(Protocol):
    """The ERP's API, in domain terms. Raises TransientFailure / RateLimited /
    ReauthorizationRequired, and PermissionMissing when the application lacks the module's read
    permission; a malformed order is an item of the page, never an exception."""

    def account_name(self, tokens: TokenSource) -> str | None: ...

    def changed_orders(
        self, tokens: TokenSource, since: datetime, offset: int, *, until: datetime | None = None,
        point_of_sale: bool = True, window_start: datetime | None = None,
    ) -> OrderPage:
        """Orders changed at or after `since` (any situação), from `offset`, in listings the
        page chains (`next_offset`, `next_since`) until everything changed up to `until` (the
        poll's start) was listed; `window_start` is where the window began (`since` moves on
        with `next_since`). Without `point_of_sale`, point-of-sale (PDV) sales are left out."""
        ...

    def invoices_for(self, tokens: TokenSource, orders: Sequence[ErpOrder]) -> Mapping[int, Invoice | MalformedOrder]:
        """The invoice of each order that has one, by ERP order id; as few calls as possible."""
        ...

    def shipping_families(self, tokens: TokenSource) -> Sequence[ShippingFamily]:
        """Every shipping service of the account, with its family."""
        ...

    def has_permission(self, tokens: TokenSource, permission: ErpPermission) -> bool:
        """Whether the application may read that module now (one cheap call)."""
        ...

    def order(self, tokens: TokenSource, erp_order_id: int) -> ErpOrder | MalformedOrder | None:
        """One order from its detail (one call): its total when the listing had none, or an
        order fetched again on the merchant's request. None when the ERP does not know it."""
        ...


class TrackingService(Protocol):
    """Where shipments are handed for tracking. Must be safe to call twice with the same
    request (idempotency key); raises TransientFailure to be retried later."""

    def deliver(self, request: TrackingRequest) -> None: ...


# -- persistence -----------------------------------------------------------------------


class MerchantRepository(Protocol):
    def add(self, merchant: Merchant) -> None: ...

    def get(self, merchant_id: int) -> Merchant | None: ...

    def get_by_email(self, email: str) -> Merchant | None: ...

    def add_api_key(self, key: ApiKey) -> None: ...

    def by_api_key_hash(self, key_hash: str) -> Merchant | None: ...

    def revoke_api_keys(self, merchant_id: int, now: datetime) -> int:
        """Revoke every live API key of the merchant; how many were live."""
        ...


class ConnectionRepository(Protocol):
    def add(self, connection: ErpConnection) -> None: ...

    def get(self, connection_id: int) -> ErpConnection | None: ...

    def many(self, connection_ids: Iterable[int]) -> dict[int, ErpConnection]:
        """Several connections in one read, by id (the ids that do not exist are left out)."""
        ...

    def for_merchant(self, merchant_id: int, erp: str = "tiny") -> ErpConnection | None: ...

    def lock(self, connection_id: int) -> ErpConnection | None:
        """The connection, read anew under a lock that holds across processes until the unit
        of work ends: the single-flight guard of token renewal."""
        ...

    def save_poll(
        self, connection: ErpConnection, release: JobRelease | None = None, event: ConnectionEvent | None = None
    ) -> bool | None:
        """Write the poll's own columns of a copy read earlier (in another unit of work),
        without reading the row again: the window in progress, or (once the poll completed)
        the cursor, the last sync and the poll's error cleared. Nothing else of the row: a
        token renewed or a status changed meanwhile is kept, and so is an error message that
        is not the poll's.

        With `release` (a completed poll whose worker holds the poll job's lease), the job is
        handed back in the same statement where the database allows it (PostgreSQL), so that
        a quiet poll's whole write fits in `UnitOfWorkFactory.one_statement()`. Returns
        whether the lease was still the owner's (None without `release`).

        With `event` (the poll's row of the history), the event is recorded in that same
        statement on PostgreSQL, folded into the hour's row when it is a quiet poll's."""
        ...

    def all(self) -> Iterable[ErpConnection]:
        """Every connection (for key rotation and operators' tools)."""
        ...


class StatusMappingRepository(Protocol):
    def get(self, connection_id: int) -> StatusMapping:
        """The connection's mapping, the defaults when it never saved one."""
        ...

    def save(self, connection_id: int, mapping: StatusMapping) -> None: ...


class CustomerRepository(Protocol):
    def add(self, customer: Customer) -> None: ...

    def get(self, merchant_id: int, customer_id: int) -> Customer | None: ...

    def by_documents(self, merchant_id: int, documents: Iterable[str]) -> dict[str, Customer]: ...

    def by_emails(self, merchant_id: int, emails: Iterable[str]) -> dict[str, Customer]:
        """One customer per e-mail (the oldest, when several share it)."""
        ...

    def by_erp_ids(self, merchant_id: int, erp_ids: Iterable[int]) -> dict[int, Customer]: ...


class OrderRepository(Protocol):
    def add(self, order: Order) -> None: ...

    def get(self, merchant_id: int, order_id: int) -> Order | None: ...

    def by_erp_ids(self, connection_id: int, erp_ids: Iterable[int]) -> dict[int, Order]: ...

    def fingerprints(self, connection_id: int, erp_ids: Iterable[int]) -> dict[int, str]:
        """The import signature of each of those orders that is stored (a light read)."""
        ...

    def stored(self, connection_id: int, erp_ids: Iterable[int]) -> dict[int, StoredOrder]:
        """The import signature and invoice of each of those orders that is stored; a light
        read, without the orders' customers and shipments."""
        ...

    def waiting_for_carrier(self, connection_id: int, shipping_key: str, or_carrier: str | None = None) -> list[Order]:
        """Orders of that shipping service whose carrier is still unknown (or is `or_carrier`:
        the one a mapping being changed had given them)."""
        ...


class ImportFailureRepository(Protocol):
    def for_erp_ids(self, connection_id: int, erp_ids: Iterable[int]) -> dict[int, ImportFailure]:
        """Unresolved failures of those orders."""
        ...

    def add(self, failure: ImportFailure) -> None: ...

    def get(self, failure_id: int) -> ImportFailure | None: ...

    def open_without_id(self, connection_id: int) -> list[ImportFailure]:
        """Unresolved failures of items that had no usable id (few: they are matched by content)."""
        ...

    def purge_resolved(self, before: datetime) -> int:
        """Delete the failures resolved before `before`; how many went."""
        ...


class ShippingFamilyRepository(Protocol):
    """A per-connection cache of the ERP's shipping services and their families."""

    def for_connection(self, connection_id: int) -> dict[int, ShippingFamily]: ...

    def save(self, connection_id: int, families: Iterable[ShippingFamily]) -> None: ...


class CarrierMappingRepository(Protocol):
    """A merchant's own choices: shipping-service key -> carrier code."""

    def for_merchant(self, merchant_id: int) -> dict[str, str]: ...

    def set(self, merchant_id: int, shipping_key: str, carrier_code: str) -> None: ...

    def remove(self, merchant_id: int, shipping_key: str) -> bool:
        """False when there was no such mapping."""
        ...


class ConnectionEventRepository(Protocol):
    def add(self, event: ConnectionEvent) -> None: ...

    def purge(self, before: datetime) -> int:
        """Delete the events older than `before`; how many went."""
        ...


class NotificationRepository(Protocol):
    def get(self, merchant_id: int) -> NotificationSettings:
        """The merchant's settings, the defaults when never saved (not added to the session)."""
        ...

    def save(self, settings: NotificationSettings) -> None: ...


class OutboxRepository(Protocol):
    def add(self, message: OutboxMessage) -> None: ...

    def get(self, message_id: int) -> OutboxMessage | None: ...

    def claim(self, owner: str, now: datetime, lease: timedelta, limit: int) -> list[OutboxMessage]:
        """Due, undelivered messages, each the oldest undelivered one of its stream (so an
        order's requests go out in order), leased to `owner`."""
        ...


class TokenRevocationRepository(Protocol):
    def add(self, revocation: TokenRevocation) -> None: ...

    def claim(self, owner: str, now: datetime, lease: timedelta, limit: int) -> list[TokenRevocation]:
        """Due, unfinished revocations, leased to `owner` until `now + lease`."""
        ...

    def finish(
        self, revocation_id: int, owner: str, *, outcome: str | None, error: str | None,
        next_attempt_at: datetime | None, now: datetime,
    ) -> None:
        """Record an attempt: finished with `outcome`, or to try again at `next_attempt_at`.
        A finished revocation forgets its token and secret."""
        ...


class JobRepository(Protocol):
    def schedule(self, kind: JobKind, subject_id: int, due_at: datetime) -> None:
        """Create the job, or move its due time; a lease in force is left alone."""
        ...

    def claim(self, owner: str, now: datetime, lease: timedelta, limit: int) -> list[Job]:
        """Due jobs whose lease is free or expired, leased to `owner`, oldest due first."""
        ...

    def finish(self, job: Job | JobKey, owner: str, next_due_at: datetime | None, error: str | None = None) -> bool:
        """Release the lease and set the next run (None deletes the job). False when the lease
        was lost to another worker meanwhile: the result is then not recorded."""
        ...

    def get(self, kind: JobKind, subject_id: int) -> Job | None: ...

    def keys(self) -> set[JobKey]:
        """Every job there is, by kind and subject."""
        ...


class UnitOfWork(Protocol):
    """One transaction. Rolls back on exit unless `commit()` was called; repositories never
    commit."""

    merchants: MerchantRepository
    connections: ConnectionRepository
    status_mappings: StatusMappingRepository
    customers: CustomerRepository
    orders: OrderRepository
    import_failures: ImportFailureRepository
    shipping_families: ShippingFamilyRepository
    carrier_mappings: CarrierMappingRepository
    outbox: OutboxRepository
    jobs: JobRepository
    revocations: TokenRevocationRepository
    events: ConnectionEventRepository
    notifications: NotificationRepository

    def __enter__(self) -> Self: ...

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None: ...

    def flush(self) -> None:
        """Send pending writes without committing (new entities get their ids)."""
        ...

    def commit(self) -> None:
        """End the transaction; the unit of work stays usable and the next use begins another."""
        ...

    def rollback(self) -> None: ...


class UnitOfWorkFactory(Protocol):
    def __call__(self) -> UnitOfWork: ...

    def one_statement(self) -> UnitOfWork:
        """A unit of work for one repository call that writes in a single statement
        (`ConnectionRepository.save_poll`): on PostgreSQL that statement is its own
        transaction (autocommit: one round trip, not BEGIN, statement and COMMIT); elsewhere
        an ordinary unit of work. There, nothing else is offered: any other repository, and a
        second write statement, are refused. `commit()` is still called, as for any unit of
        work."""
        ...

    def reading(self) -> UnitOfWork:
        """A unit of work that only reads, for what runs often and writes nothing: cheaper
        (on PostgreSQL no transaction, on SQLite no write lock). `commit()`, `flush()` and
        any statement that writes are refused."""
        ...


# -- merchant alerts ------------------------------------------------------------------------


@attrs.frozen
class MailMessage:
    to: str
    subject: str
    text: str
    message_id: str  # the same for every retry of one alert


class Mailer(Protocol):
    """Sends an e-mail; raises TransientFailure to be retried later."""

    def send(self, message: MailMessage) -> None: ...


class WebhookClient(Protocol):
    """POSTs a signed body; raises TransientFailure to be retried later (and for a refusal:
    a receiver that answers 4xx may be fixed by its owner)."""

    def post(self, url: str, body: bytes, headers: Mapping[str, str]) -> None: ...
