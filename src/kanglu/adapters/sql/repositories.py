"""The repositories of application/ports/ over one SQLAlchemy session. None of them commits:
the unit of work does."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timedelta

from sqlalchemy import bindparam, delete, exists, or_, select, update
from sqlalchemy.orm import Session

from kanglu.adapters.sql import tables as t
from kanglu.adapters.sql.connections import connection_for_merchant  # noqa: F401 - the read side's import
from kanglu.adapters.sql.engine import hold_write_lock, upsert_insert
from kanglu.adapters.sql.history import RECORD_EVENT, RECORD_EVENT_PG, event_params
from kanglu.adapters.sql.jobs import lease_free
from kanglu.adapters.sql.orm import built_once_per_mapping
from kanglu.domain.customers import Customer
from kanglu.domain.events import ConnectionEvent, NotificationSettings
from kanglu.domain.import_failures import ImportFailure
from kanglu.domain.merchants import ApiKey, Merchant
from kanglu.domain.orders import Order, StoredOrder
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
    t.orders.c.erp_order_id, t.orders.c.fingerprint, t.orders.c.invoice, t.orders.c.total
).where(*_ORDERS_BY_ERP_ID)
_FINGERPRINTS = select(t.orders.c.erp_order_id, t.orders.c.fingerprint).where(*_ORDERS_BY_ERP_ID)
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
        return dict(self._by_erp_id(_FINGERPRINTS, connection_id, erp_ids))

    def stored(self, connection_id: int, erp_ids: Iterable[int]) -> dict[int, StoredOrder]:
        return {
            erp_id: StoredOrder(fingerprint, invoice, total)
            for erp_id, fingerprint, invoice, total in self._by_erp_id(_STORED_ORDERS, connection_id, erp_ids)
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
            self._session.execute(RECORD_EVENT if self._dialect != "postgresql" else RECORD_EVENT_PG,
                                  event_params(event))
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
                    lease_free(o.c.lease_expires_at, now),
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


