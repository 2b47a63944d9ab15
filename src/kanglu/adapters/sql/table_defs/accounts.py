"""The merchants' tables: accounts, API keys, browser sessions and the login throttle, where
alerts go, and the refresh tokens still to revoke at Tiny."""

from __future__ import annotations

from sqlalchemy import (
    Boolean,
    Column,
    ForeignKey,
    Index,
    Integer,
    String,
    Table,
    Text,
    text,
)

from kanglu.adapters.sql.table_defs.base import id_column, metadata
from kanglu.adapters.sql.types import (
    Id,
    SealedType,
    UtcDateTime,
)

merchants = Table(
    "merchants",
    metadata,
    id_column(),
    Column("name", Text, nullable=False),
    Column("email", String(254), nullable=False, unique=True),
    Column("password_hash", Text),
    Column("created_at", UtcDateTime, nullable=False),
)

api_keys = Table(
    "api_keys",
    metadata,
    id_column(),
    Column("merchant_id", Id, ForeignKey("merchants.id", ondelete="CASCADE"), nullable=False, index=True),
    # SHA-256 of the key: the key itself is shown once and never stored.
    Column("key_hash", String(64), nullable=False, unique=True),
    Column("prefix", String(16), nullable=False),
    Column("created_at", UtcDateTime, nullable=False),
    Column("revoked_at", UtcDateTime),
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

# One row per browser login. The cookie carries a random id; only its SHA-256 is stored, so a
# copy of the database opens no session.
web_sessions = Table(
    "web_sessions",
    metadata,
    id_column(),
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
    id_column(),
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
