"""The schema as SQLAlchemy Core tables: constraints that make duplicates impossible, and the
indexes the order list, search, due jobs and the outbox need."""

from __future__ import annotations

from sqlalchemy import (
    Boolean,
    Column,
    Date,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    SmallInteger,
    String,
    Table,
    Text,
    UniqueConstraint,
    false,
    insert_sentinel,
    text,
)
from sqlalchemy import BigInteger

from kanglu.adapters.sql.types import (
    AddressType,
    DocumentType,
    Id,
    InvoiceType,
    JsonDocument,
    LocalDateOrDateTime,
    MoneyType,
    PermissionSetType,
    OutboxRequestType,
    SealedType,
    ShippingAddressType,
    ShippingServiceType,
    SituacaoType,
    StrEnumType,
    TrackingCodeType,
    TrackingRequestType,
    UtcDateTime,
    WarningsType,
)
from kanglu.domain.connections import ConnectionStatus, ErrorKind
from kanglu.domain.events import EventKind
from kanglu.domain.jobs import JobKind
from kanglu.domain.tracking import ShipmentStatus

# Stable constraint names, so that migrations can refer to them on both backends.
metadata = MetaData(
    naming_convention={
        "ix": "ix_%(table_name)s_%(column_0_N_name)s",
        "uq": "uq_%(table_name)s_%(column_0_N_name)s",
        "ck": "ck_%(table_name)s_%(constraint_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    }
)


def _id() -> Column:  # type: ignore[type-arg]
    return Column("id", Id, primary_key=True, autoincrement=True)


def _sentinel() -> Column:  # type: ignore[type-arg]
    """A column SQLAlchemy fills with a counter in multi-row INSERTs, so that the ids
    RETURNING gives back can be matched to the rows. PostgreSQL does without (it orders
    generated ids itself); SQLite needs it, or the ORM inserts a page one row at a time."""
    return insert_sentinel("insert_sentinel")


merchants = Table(
    "merchants",
    metadata,
    _id(),
    Column("name", Text, nullable=False),
    Column("email", String(254), nullable=False, unique=True),
    Column("password_hash", Text),
    Column("created_at", UtcDateTime, nullable=False),
)

api_keys = Table(
    "api_keys",
    metadata,
    _id(),
    Column("merchant_id", Id, ForeignKey("merchants.id", ondelete="CASCADE"), nullable=False, index=True),
    # SHA-256 of the key: the key itself is shown once and never stored.
    Column("key_hash", String(64), nullable=False, unique=True),
    Column("prefix", String(16), nullable=False),
    Column("created_at", UtcDateTime, nullable=False),
    Column("revoked_at", UtcDateTime),
)

erp_connections = Table(
    "erp_connections",
    metadata,
    _id(),
    Column("merchant_id", Id, ForeignKey("merchants.id", ondelete="CASCADE"), nullable=False),
    Column("erp", String(20), nullable=False),
    Column("status", StrEnumType(ConnectionStatus, 20), nullable=False),
    Column("client_id", String(200)),
    # Sealed columns hold Fernet ciphertext only (see SealedType and key_rotation.py).
    Column("client_secret", SealedType),
    Column("invite_link", Text),
    Column("auth_nonce", String(64)),
    Column("auth_verifier", SealedType),
    Column("auth_started_at", UtcDateTime),
    Column("access_token", SealedType),
    Column("refresh_token", SealedType),
    Column("access_expires_at", UtcDateTime),
    Column("refresh_expires_at", UtcDateTime),
    Column("token_version", Integer, nullable=False),
    Column("refresh_failures", Integer, nullable=False),
    Column("account_name", Text),
    Column("connected_at", UtcDateTime),
    Column("last_sync_at", UtcDateTime),
    Column("last_error", Text),
    Column("error_kind", StrEnumType(ErrorKind, 20)),  # migration 0009: whose error last_error is
    Column("poll_cursor", UtcDateTime),
    Column("poll_since", UtcDateTime),
    Column("poll_started_at", UtcDateTime),
    Column("poll_offset", Integer),
    Column("updated_at", UtcDateTime),
    # Issue 17 (migration 0004): the application's missing read permissions (NULL: none), when
    # they were last probed, and the earliest window imported without one, to read again.
    Column("missing_permissions", PermissionSetType),
    Column("permissions_checked_at", UtcDateTime),
    Column("incomplete_since", UtcDateTime),
    # A renewal under way (issue 16, migration 0003): see ErpConnection.renewal_claimed_by.
    Column("renewal_claimed_by", String(40)),
    Column("renewal_claimed_until", UtcDateTime),
    Column("import_point_of_sale", Boolean, nullable=False, server_default=false()),
    UniqueConstraint("merchant_id", "erp"),
    Column("alert_open", String(40)),
    Column("sync_requested_at", UtcDateTime),
)

# Every situação is stored, "ignore" included: no rows at all means "never saved, use the
# defaults", which an all-ignore mapping must not be mistaken for.
status_mappings = Table(
    "status_mappings",
    metadata,
    Column("connection_id", Id, ForeignKey("erp_connections.id", ondelete="CASCADE"), primary_key=True),
    Column("situacao", SmallInteger, primary_key=True, autoincrement=False),
    Column("action", String(20), nullable=False),
)

customers = Table(
    "customers",
    metadata,
    _id(),
    Column("merchant_id", Id, ForeignKey("merchants.id", ondelete="CASCADE"), nullable=False),
    Column("name", Text, nullable=False),
    # Lower case, no accents, no punctuation: what search and the by-name order use, the
    # same on both backends whatever their collations.
    Column("search_name", Text, nullable=False),
    Column("document", DocumentType),
    Column("email", String(254)),
    Column("phone", Text),
    Column("address", AddressType),
    Column("erp_customer_id", BigInteger),
    _sentinel(),
    UniqueConstraint("merchant_id", "document"),
    Index("ix_customers_merchant_email", "merchant_id", "email"),
    Index("ix_customers_merchant_erp_customer", "merchant_id", "erp_customer_id"),
    Index("ix_customers_merchant_name", "merchant_id", "search_name", "id"),
)

orders = Table(
    "orders",
    metadata,
    _id(),
    Column("merchant_id", Id, ForeignKey("merchants.id", ondelete="CASCADE"), nullable=False),
    Column("connection_id", Id, ForeignKey("erp_connections.id", ondelete="CASCADE"), nullable=False),
    Column("erp_order_id", BigInteger, nullable=False),
    Column("situacao", SituacaoType, nullable=False),
    Column("imported_at", UtcDateTime, nullable=False),
    Column("updated_at", UtcDateTime, nullable=False),
    Column("number", Text),
    Column("ecommerce_number", Text),
    Column("total", MoneyType),  # NULL: Tiny gave no total (never an invented 0.00)
    Column("created_at", LocalDateOrDateTime, nullable=False),
    Column("customer_id", Id, ForeignKey("customers.id", ondelete="SET NULL")),
    Column("invoice", InvoiceType),
    Column("shipping", ShippingServiceType, nullable=False),
    Column("shipping_key", Text),
    Column("carrier_code", String(40)),
    Column("tracking_code", TrackingCodeType),
    Column("tracking_url", Text),
    Column("tracking_status", StrEnumType(ShipmentStatus, 20), nullable=False),
    Column("fingerprint", String(64), nullable=False),
    _sentinel(),
    # The field defects the order was imported with ([{field, message}]); NULL: none.
    Column("warnings", WarningsType),
    Column("shipping_address", ShippingAddressType),
    UniqueConstraint("connection_id", "erp_order_id"),
    # The order list, newest first, and its filters (each index read backwards).
    Index("ix_orders_list", "merchant_id", "created_at", "id"),
    Index("ix_orders_situacao", "merchant_id", "situacao", "created_at", "id"),
    Index("ix_orders_tracking_status", "merchant_id", "tracking_status", "created_at", "id"),
    # Carrier filter, "unknown carrier" (carrier_code IS NULL) and unmatched services.
    Index("ix_orders_carrier", "merchant_id", "carrier_code", "shipping_key"),
    # Search.
    Index("ix_orders_number", "merchant_id", "number"),
    Index("ix_orders_ecommerce_number", "merchant_id", "ecommerce_number"),
    Index("ix_orders_tracking_code", "merchant_id", "tracking_code"),
    Index("ix_orders_customer", "customer_id"),
)

shipments = Table(
    "shipments",
    metadata,
    _id(),
    Column("order_id", Id, ForeignKey("orders.id", ondelete="CASCADE"), nullable=False),
    # Unique and generated by the domain: also the insert sentinel of multi-row INSERTs.
    Column("key", String(32), nullable=False, unique=True, insert_sentinel=True),
    Column("carrier_code", String(40), nullable=False),
    Column("tracking_code", String(50), nullable=False),
    Column("started_at", UtcDateTime, nullable=False),
    Column("status", StrEnumType(ShipmentStatus, 20), nullable=False),
    Column("active", Boolean, nullable=False),
    Column("closed_at", UtcDateTime),
    # An order's shipments (loaded with every order; the partial index below cannot serve it).
    Index("ix_shipments_order", "order_id"),
    # One active shipment per order, whatever a buggy or concurrent writer tries.
    Index(
        "uq_shipments_active_order",
        "order_id",
        unique=True,
        postgresql_where=text("active"),
        sqlite_where=text("active"),
    ),
)

import_failures = Table(
    "import_failures",
    metadata,
    _id(),
    Column("connection_id", Id, ForeignKey("erp_connections.id", ondelete="CASCADE"), nullable=False),
    Column("erp_order_id", BigInteger),
    Column("reason", Text, nullable=False),
    Column("raw", JsonDocument),
    Column("first_seen_at", UtcDateTime, nullable=False),
    Column("last_seen_at", UtcDateTime, nullable=False),
    Column("resolved_at", UtcDateTime),
    # What lets the merchant recognise the order, when the payload let us read it.
    Column("number", Text),
    Column("customer_name", Text),
    # One open failure per ERP order; also the lookup of an order's import error.
    Index(
        "uq_import_failures_open",
        "connection_id",
        "erp_order_id",
        unique=True,
        postgresql_where=text("resolved_at IS NULL"),
        sqlite_where=text("resolved_at IS NULL"),
    ),
    Index("ix_import_failures_recent", "connection_id", "last_seen_at"),
)

shipping_families = Table(
    "shipping_families",
    metadata,
    Column("connection_id", Id, ForeignKey("erp_connections.id", ondelete="CASCADE"), primary_key=True),
    Column("service_id", BigInteger, primary_key=True, autoincrement=False),
    Column("name", Text),
    Column("family", Integer),
)

carrier_mappings = Table(
    "carrier_mappings",
    metadata,
    Column("merchant_id", Id, ForeignKey("merchants.id", ondelete="CASCADE"), primary_key=True),
    Column("shipping_key", Text, primary_key=True),
    Column("carrier_code", String(40), nullable=False),
)

outbox = Table(
    "outbox",
    metadata,
    _id(),
    Column("stream", String(64), nullable=False),
    Column("request", OutboxRequestType, nullable=False),
    Column("created_at", UtcDateTime, nullable=False),
    Column("next_attempt_at", UtcDateTime, nullable=False),
    Column("attempts", Integer, nullable=False),
    Column("delivered_at", UtcDateTime),
    Column("last_error", Text),
    Column("lease_owner", String(100)),
    Column("lease_expires_at", UtcDateTime),
    _sentinel(),
    # Due messages, and "is there an older pending message in this stream": both only over
    # what is still pending, so delivered history does not slow them down.
    Index(
        "ix_outbox_due",
        "next_attempt_at",
        postgresql_where=text("delivered_at IS NULL"),
        sqlite_where=text("delivered_at IS NULL"),
    ),
    Index(
        "ix_outbox_stream_pending",
        "stream",
        "id",
        postgresql_where=text("delivered_at IS NULL"),
        sqlite_where=text("delivered_at IS NULL"),
    ),
)

jobs = Table(
    "jobs",
    metadata,
    _id(),
    Column("kind", StrEnumType(JobKind, 32), nullable=False),
    Column("subject_id", BigInteger, nullable=False),
    Column("due_at", UtcDateTime, nullable=False),
    Column("lease_owner", String(100)),
    Column("lease_expires_at", UtcDateTime),
    Column("attempts", Integer, nullable=False),
    Column("last_error", Text),
    UniqueConstraint("kind", "subject_id"),
    Index("ix_jobs_due", "due_at"),
)

# What the built-in tracking service received: one row per tracking request, whatever the
# number of deliveries (the idempotency key is unique).
tracking_handoffs = Table(
    "tracking_handoffs",
    metadata,
    _id(),
    Column("idempotency_key", String(64), nullable=False, unique=True),
    Column("shipment_key", String(32), nullable=False, index=True),
    Column("kind", String(20), nullable=False),
    Column("merchant_id", Id, nullable=False),
    Column("erp_order_id", BigInteger, nullable=False),
    Column("carrier_code", String(40), nullable=False),
    Column("tracking_code", String(50), nullable=False),
    Column("request", TrackingRequestType, nullable=False),
    Column("occurred_at", UtcDateTime, nullable=False),
    Column("received_at", UtcDateTime, nullable=False),
)

# -- issue 19: server-side sessions, the shared login throttle, revocations at Tiny ----------

# One row per browser login. The cookie carries a random id; only its SHA-256 is stored, so a
# copy of the database opens no session.
web_sessions = Table(
    "web_sessions",
    metadata,
    _id(),
    Column("merchant_id", Id, ForeignKey("merchants.id", ondelete="CASCADE"), nullable=False, index=True),
    Column("token_hash", String(64), nullable=False, unique=True),
    Column("created_at", UtcDateTime, nullable=False),
    Column("last_seen_at", UtcDateTime, nullable=False),
    Column("user_agent", String(200)),
    Column("address", String(64)),
    # Idle sessions are purged at each login (a session older than 7 days is idle by then too,
    # unless in use, and a session in use is checked at every request).
    Index("ix_web_sessions_last_seen", "last_seen_at"),
)

# Failed logins per key (a SHA-256 of "pair:e-mail|address", "email:…" or "ip:…"), shared by
# every web process. `expires_at` is when the row means nothing any more (purged then).
login_throttle = Table(
    "login_throttle",
    metadata,
    Column("key_hash", String(64), primary_key=True),
    Column("failures", Integer, nullable=False),
    Column("last_failure_at", UtcDateTime, nullable=False),
    Column("locked_until", UtcDateTime),
    Column("expires_at", UtcDateTime, nullable=False, index=True),
)

# Refresh tokens to revoke at Tiny after Desconectar: the connection forgets its tokens at
# once, and the worker delivers these (best effort, retried) with the client's credentials.
token_revocations = Table(
    "token_revocations",
    metadata,
    _id(),
    Column("connection_id", Id, ForeignKey("erp_connections.id", ondelete="CASCADE"), nullable=False),
    Column("client_id", String(200), nullable=False),
    # Both emptied (NULL) once the revocation is finished.
    Column("client_secret", SealedType),
    Column("refresh_token", SealedType),
    Column("created_at", UtcDateTime, nullable=False),
    Column("next_attempt_at", UtcDateTime, nullable=False),
    Column("attempts", Integer, nullable=False),
    Column("finished_at", UtcDateTime),
    Column("outcome", String(20)),
    Column("last_error", Text),
    Column("lease_owner", String(100)),
    Column("lease_expires_at", UtcDateTime),
    Index(
        "ix_token_revocations_due",
        "next_attempt_at",
        postgresql_where=text("finished_at IS NULL"),
        sqlite_where=text("finished_at IS NULL"),
    ),
)


# A connection's history, newest first. Quiet polls share one row per hour (`fold_key`), found
# again by the unique constraint (NULL for every other event: NULLs never collide).
connection_events = Table(
    "connection_events",
    metadata,
    _id(),
    Column("connection_id", Id, ForeignKey("erp_connections.id", ondelete="CASCADE"), nullable=False),
    Column("kind", StrEnumType(EventKind, 32), nullable=False),
    Column("at", UtcDateTime, nullable=False),
    Column("first_at", UtcDateTime),
    Column("message", Text),
    Column("imported", Integer, nullable=False),
    Column("updated", Integer, nullable=False),
    Column("failed", Integer, nullable=False),
    Column("api_calls", Integer, nullable=False),
    Column("polls", Integer, nullable=False),
    Column("fold_key", String(40)),
    UniqueConstraint("connection_id", "fold_key"),
    Index("ix_connection_events_list", "connection_id", "at", "id"),
    Index("ix_connection_events_at", "at"),
)

# Where a merchant's alerts go; no row: the defaults (e-mail on, no webhook).
notification_settings = Table(
    "notification_settings",
    metadata,
    Column("merchant_id", Id, ForeignKey("merchants.id", ondelete="CASCADE"), primary_key=True),
    Column("email", Boolean, nullable=False),
    Column("webhook_url", Text),
    Column("webhook_secret", SealedType),
    Column("updated_at", UtcDateTime),
)


# What the Tiny adapter's invoice finder remembers across processes (adapters/tiny/invoices.py,
# adapters/sql/invoice_checks.py), keyed by the token source's key ("connection:<id>"): how far
# the latest window of an account's notas was read, and what each order's last look found.
invoice_listings = Table(
    "invoice_listings",
    metadata,
    Column("account_key", String(100), primary_key=True),
    Column("window_start", Date, nullable=False),
    Column("started_at", UtcDateTime, nullable=False),
    Column("read_offset", Integer, nullable=False),
)

invoice_checks = Table(
    "invoice_checks",
    metadata,
    Column("account_key", String(100), primary_key=True),
    Column("erp_order_id", BigInteger, primary_key=True, autoincrement=False),
    Column("started_at", UtcDateTime, nullable=False),
    Column("checked_upto", Integer, nullable=False),
    Column("nota", JsonDocument),
)

# The search objects (a trigram index, or an FTS5 table and its triggers) are created with the
# tables: importing the module registers them with metadata.create_all.
from kanglu.adapters.sql import search as _search  # noqa: E402,F401
