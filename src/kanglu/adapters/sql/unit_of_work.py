"""The unit of work over a SQLAlchemy session: one transaction at a time, rolled back unless
the use case commits; `commit()` may be called more than once, each call ending a transaction."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from types import TracebackType
from typing import Self

from sqlalchemy.engine import Engine
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session, sessionmaker

from kanglu.adapters.sql.orm import start_mappers
from kanglu.adapters.sql.repositories import (
    SqlCarrierMappingRepository,
    SqlConnectionRepository,
    SqlCustomerRepository,
    SqlImportFailureRepository,
    SqlJobRepository,
    SqlMerchantRepository,
    SqlOrderRepository,
    SqlOutboxRepository,
    SqlShippingFamilyRepository,
    SqlStatusMappingRepository,
)
from kanglu.application.errors import TransientFailure

log = logging.getLogger(__name__)

DATABASE_BUSY = "o banco de dados está ocupado ou indisponível; nova tentativa em instantes"


def session_factory(engine: Engine) -> sessionmaker[Session]:
    """Sessions whose objects keep their values after commit: use cases return entities from
    a closed unit of work, and a detached object must still be readable."""
    start_mappers()
    return sessionmaker(bind=engine, expire_on_commit=False)


@contextmanager
def _transient_on_busy() -> Iterator[None]:
    # A locked SQLite database, a deadlock or a dropped connection on PostgreSQL: the
    # transaction is lost but the work can be retried; callers already retry
    # TransientFailure with backoff.
    try:
        yield
    except OperationalError as exc:
        log.warning("database operation failed, will be retried", extra={"error": exc.orig.__class__.__name__})
        raise TransientFailure(DATABASE_BUSY) from exc


class SqlUnitOfWork:
    def __init__(self, sessions: sessionmaker[Session]) -> None:
        self._sessions = sessions
        self._session: Session | None = None

    @property
    def session(self) -> Session:
        if self._session is None:
            raise RuntimeError("the unit of work is used outside its `with` block")
        return self._session

    def __enter__(self) -> Self:
        session = self._session = self._sessions()
        self.merchants = SqlMerchantRepository(session)
        self.connections = SqlConnectionRepository(session)
        self.status_mappings = SqlStatusMappingRepository(session)
        self.customers = SqlCustomerRepository(session)
        self.orders = SqlOrderRepository(session)
        self.import_failures = SqlImportFailureRepository(session)
        self.shipping_families = SqlShippingFamilyRepository(session)
        self.carrier_mappings = SqlCarrierMappingRepository(session)
        self.outbox = SqlOutboxRepository(session)
        self.jobs = SqlJobRepository(session)
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        # close() rolls back whatever was not committed and detaches the objects as they are
        # (no expiry), so entities a use case returns stay readable.
        session, self._session = self.session, None
        session.close()

    def flush(self) -> None:
        with _transient_on_busy():
            self.session.flush()

    def commit(self) -> None:
        with _transient_on_busy():
            self.session.commit()

    def rollback(self) -> None:
        self.session.rollback()


class SqlUnitOfWorkFactory:
    """What the container provides as `uow`: a new unit of work per call."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self._sessions = session_factory(engine)

    def __call__(self) -> SqlUnitOfWork:
        return SqlUnitOfWork(self._sessions)
