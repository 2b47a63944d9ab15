"""What happened to a connection (its history) and the alerts a merchant is sent about it."""

from __future__ import annotations

import enum
import uuid
from datetime import datetime, timedelta

import attrs

from kanglu.domain.secrets import Sealed

# Events older than this are purged by the worker's periodic job.
EVENT_RETENTION = timedelta(days=90)


class EventKind(enum.StrEnum):
    POLL = "poll"
    RENEWAL = "renewal"
    RENEWAL_FAILED = "renewal_failed"
    DISCONNECTED = "disconnected"
    CONNECTED = "connected"
    PERMISSION_MISSING = "permission_missing"
    ALERT_SENT = "alert_sent"

    @property
    def label(self) -> str:
        return {
            EventKind.POLL: "Sincronização",
            EventKind.RENEWAL: "Acesso renovado",
            EventKind.RENEWAL_FAILED: "Falha ao renovar o acesso",
            EventKind.DISCONNECTED: "Desconectado",
            EventKind.CONNECTED: "Conectado",
            EventKind.PERMISSION_MISSING: "Permissão faltando",
            EventKind.ALERT_SENT: "Aviso enviado",
        }[self]


@attrs.define(slots=False, eq=False)
class ConnectionEvent:
    """One row of a connection's history.

    Quiet polls (nothing imported, updated or failed) are folded: one row per connection and
    hour, found again by `fold_key`, counts the polls and their API calls, `first_at` to `at`.
    """

    connection_id: int
    kind: EventKind
    at: datetime
    message: str | None = None
    imported: int = 0
    updated: int = 0
    failed: int = 0
    api_calls: int = 0
    polls: int = 1
    first_at: datetime | None = None
    fold_key: str | None = None
    id: int | None = None

    @classmethod
    def poll(cls, connection_id: int, at: datetime, *, imported: int, updated: int, failed: int,
             api_calls: int) -> ConnectionEvent:
        quiet = not (imported or updated or failed)
        return cls(
            connection_id, EventKind.POLL, at, imported=imported, updated=updated, failed=failed,
            api_calls=api_calls, first_at=at, fold_key=f"quiet:{at:%Y-%m-%dT%H}" if quiet else None,
        )

    @property
    def is_folded(self) -> bool:
        return self.fold_key is not None


class AlertKind(enum.StrEnum):
    DISCONNECTED = "disconnected"
    PERMISSION_MISSING = "permission_missing"
    RECOVERED = "recovered"


class AlertChannel(enum.StrEnum):
    EMAIL = "email"
    WEBHOOK = "webhook"


@attrs.frozen
class AlertRequest:
    """One alert to one channel, written to the outbox in the transaction that saw the change.

    `key` identifies the alert across retries (the webhook's X-Kanglu-Delivery, the e-mail's
    Message-ID), so a receiver can drop the copy a crash between sending and recording makes.
    """

    channel: AlertChannel
    kind: AlertKind
    merchant_id: int
    connection_id: int
    reason: str | None
    occurred_at: datetime
    key: str = attrs.field(factory=lambda: uuid.uuid4().hex)

    @property
    def stream(self) -> str:
        """Alerts of one merchant and channel go out in order: "desconectado" before
        "recuperado"."""
        return f"alert:{self.merchant_id}:{self.channel.value}"


@attrs.define(slots=False, eq=False)
class NotificationSettings:
    """Where a merchant's alerts go: the login e-mail (on unless turned off) and a webhook."""

    merchant_id: int
    email: bool = True
    webhook_url: str | None = None
    webhook_secret: Sealed | None = None  # opened only to sign a delivery
    updated_at: datetime | None = None
