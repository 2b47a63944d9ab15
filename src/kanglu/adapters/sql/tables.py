"""The schema as SQLAlchemy Core tables: constraints that make duplicates impossible, and the
indexes the order list, search, due jobs and the outbox need.

`metadata` and every table are importable from here. The ERP connections' table is defined
here; the others by area in table_defs/ (accounts, orders, work)."""

from __future__ import annotations

from sqlalchemy import (
    Boolean,
    Column,
    ForeignKey,
    Integer,
    String,
    Table,
    Text,
    UniqueConstraint,
    false,
)

from kanglu.adapters.sql.table_defs.accounts import (
    api_keys,
    login_throttle,
    merchants,
    notification_settings,
    token_revocations,
    web_sessions,
)
from kanglu.adapters.sql.table_defs.base import id_column as _id
from kanglu.adapters.sql.table_defs.base import metadata
from kanglu.adapters.sql.table_defs.orders import (
    carrier_mappings,
    customers,
    import_failures,
    orders,
    shipments,
    shipping_families,
    status_mappings,
)
from kanglu.adapters.sql.table_defs.work import (
    connection_events,
    invoice_checks,
    invoice_listings,
    jobs,
    outbox,
    tracking_handoffs,
)
from kanglu.adapters.sql.types import (
    Id,
    PermissionSetType,
    SealedType,
    StrEnumType,
    UtcDateTime,
)
from kanglu.domain.connections import ConnectionStatus, ErrorKind

__all__ = [
    "api_keys",
    "carrier_mappings",
    "connection_events",
    "customers",
    "erp_connections",
    "import_failures",
    "invoice_checks",
    "invoice_listings",
    "jobs",
    "login_throttle",
    "merchants",
    "metadata",
    "notification_settings",
    "orders",
    "outbox",
    "shipments",
    "shipping_families",
    "status_mappings",
    "token_revocations",
    "tracking_handoffs",
    "web_sessions",
]

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


# The search objects (a trigram index, or an FTS5 table and its triggers) are created with the
# tables: importing the module registers them with metadata.create_all.
from kanglu.adapters.sql import search as _search  # noqa: E402,F401
