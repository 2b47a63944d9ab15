"""Repository ports: what the core reads and writes, one aggregate each."""

from __future__ import annotations

from collections.abc import Collection, Iterable
from datetime import datetime, timedelta
from typing import Protocol


from kanglu.domain.connections import ErpConnection
from kanglu.domain.customers import Customer
from kanglu.domain.events import ConnectionEvent, NotificationSettings
from kanglu.domain.import_failures import ImportFailure
from kanglu.domain.jobs import Job, JobKey, JobKind
from kanglu.domain.revocations import TokenRevocation
from kanglu.domain.merchants import ApiKey, Merchant
from kanglu.domain.orders import Order, StoredOrder
from kanglu.domain.shipping import ShippingFamily
from kanglu.domain.situacoes import StatusMapping
from kanglu.domain.tracking import OutboxMessage

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
        """The import signature of each of those orders that is stored (a light read); ""
        for one written by another FINGERPRINT_VERSION (domain/orders.py), never equal."""
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

    def by_ids(self, message_ids: Collection[int]) -> list[OutboxMessage]:
        """The messages with these ids, in id order; an id that names none is left out."""
        ...

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

