"""The unit-of-work port: one transaction over every repository."""

from __future__ import annotations

from types import TracebackType
from typing import Protocol, Self

from kanglu.application.ports.repositories import (
    MerchantRepository,
    ConnectionRepository,
    StatusMappingRepository,
    CustomerRepository,
    OrderRepository,
    ImportFailureRepository,
    ShippingFamilyRepository,
    CarrierMappingRepository,
    ConnectionEventRepository,
    NotificationRepository,
    OutboxRepository,
    TokenRevocationRepository,
    JobRepository,
)


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
