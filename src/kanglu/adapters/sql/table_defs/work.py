"""The tables of the work done in the background: jobs, the outbox, each connection's history,
what the built-in tracking service received, and the Tiny invoice finder's memory."""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Column,
    Date,
    ForeignKey,
    Index,
    Integer,
    String,
    Table,
    Text,
    UniqueConstraint,
    text,
)

from kanglu.adapters.sql.table_defs.base import id_column, metadata, sentinel_column
from kanglu.adapters.sql.types import (
    Id,
    JsonDocument,
    OutboxRequestType,
    StrEnumType,
    TrackingRequestType,
    UtcDateTime,
)
from kanglu.domain.events import EventKind
from kanglu.domain.jobs import JobKind

jobs = Table(
    "jobs",
    metadata,
    id_column(),
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

outbox = Table(
    "outbox",
    metadata,
    id_column(),
    Column("stream", String(64), nullable=False),
    Column("request", OutboxRequestType, nullable=False),
    Column("created_at", UtcDateTime, nullable=False),
    Column("next_attempt_at", UtcDateTime, nullable=False),
    Column("attempts", Integer, nullable=False),
    Column("delivered_at", UtcDateTime),
    Column("last_error", Text),
    Column("lease_owner", String(100)),
    Column("lease_expires_at", UtcDateTime),
    sentinel_column(),
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

# A connection's history, newest first. Quiet polls share one row per hour (`fold_key`), found
# again by the unique constraint (NULL for every other event: NULLs never collide).
connection_events = Table(
    "connection_events",
    metadata,
    id_column(),
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

# What the built-in tracking service received: one row per tracking request, whatever the
# number of deliveries (the idempotency key is unique).
tracking_handoffs = Table(
    "tracking_handoffs",
    metadata,
    id_column(),
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
