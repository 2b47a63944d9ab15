"""The connection's history and the merchant's alerts, written in the caller's transaction.

Every use case that changes a connection's state calls one of these at its outcome, before it
commits: the event row and the alerts (outbox messages, one per channel the merchant turned
on) are then written atomically with the change. Delivery happens later, in the worker's
outbox job, so a slow mail server never holds a poll or a renewal.

An alert is sent when a problem opens (`ErpConnection.open_alert`: once, whatever the number
of times the problem is seen again) and a "recovered" one when it closes.
"""

from __future__ import annotations

from collections.abc import Collection
from datetime import datetime

from kanglu.application.ports import UnitOfWork
from kanglu.domain.connections import ErpConnection
from kanglu.domain.events import AlertChannel, AlertKind, AlertRequest, ConnectionEvent, EventKind
from kanglu.domain.tracking import OutboxMessage

PERMISSION_LABELS = {
    "pedidos": "Pedidos",
    "notas_fiscais": "Notas Fiscais",
    "formas_envio": "Formas de Envio",
    "info_conta": "Informações da Conta",
}


def record(uow: UnitOfWork, connection: ErpConnection, kind: EventKind, now: datetime,
           message: str | None = None) -> None:
    assert connection.id is not None
    uow.events.add(ConnectionEvent(connection.id, kind, now, message=message))


def connected(uow: UnitOfWork, connection: ErpConnection, now: datetime) -> None:
    """A (re)connection: the event, and a "recovered" alert when a disconnection had been
    alerted. A missing permission stays open: a new authorisation does not tick it in Tiny."""
    record(uow, connection, EventKind.CONNECTED, now, _account(connection))
    if connection.close_alert(AlertKind.DISCONNECTED.value):
        _alert(uow, connection, AlertKind.RECOVERED, "a integração com o Tiny voltou a funcionar", now)


def disconnected(uow: UnitOfWork, connection: ErpConnection, reason: str, now: datetime, *,
                 by_merchant: bool = False) -> None:
    """The connection became desconectado. The merchant who clicked Desconectar is not alerted."""
    record(uow, connection, EventKind.DISCONNECTED, now, reason)
    if not by_merchant and connection.open_alert(AlertKind.DISCONNECTED.value):
        _alert(uow, connection, AlertKind.DISCONNECTED, reason, now)


def renewed(uow: UnitOfWork, connection: ErpConnection, now: datetime) -> None:
    record(uow, connection, EventKind.RENEWAL, now)


def renewal_failed(uow: UnitOfWork, connection: ErpConnection, reason: str, now: datetime) -> None:
    record(uow, connection, EventKind.RENEWAL_FAILED, now, reason)


def permissions_changed(uow: UnitOfWork, connection: ErpConnection, before: Collection[str],
                        after: Collection[str], now: datetime) -> None:
    """The seam for the per-module permissions: call it whenever the set of missing
    permissions of a connection changes (`before` → `after`, codes such as `notas_fiscais`).

    A permission newly missing is an event and, unless a problem is already alerted, an alert;
    the set becoming empty closes a permission alert with a "recovered" one."""
    newly = sorted(set(after) - set(before))
    if newly:
        names = ", ".join(PERMISSION_LABELS.get(code, code) for code in newly)
        reason = f"falta a permissão {names} no aplicativo do Tiny"
        record(uow, connection, EventKind.PERMISSION_MISSING, now, reason)
        if connection.open_alert(AlertKind.PERMISSION_MISSING.value):
            _alert(uow, connection, AlertKind.PERMISSION_MISSING, reason, now)
    elif not after and before and connection.close_alert(AlertKind.PERMISSION_MISSING.value):
        _alert(uow, connection, AlertKind.RECOVERED, "as permissões do aplicativo do Tiny estão completas", now)


def _alert(uow: UnitOfWork, connection: ErpConnection, kind: AlertKind, reason: str, now: datetime) -> None:
    """One outbox message per channel the merchant has on; what each says is decided at
    delivery (the e-mail address and webhook are read then)."""
    assert connection.id is not None
    settings = uow.notifications.get(connection.merchant_id)
    channels = [AlertChannel.EMAIL] if settings.email else []
    if settings.webhook_url:
        channels.append(AlertChannel.WEBHOOK)
    for channel in channels:
        request = AlertRequest(channel, kind, connection.merchant_id, connection.id, reason, now)
        uow.outbox.add(OutboxMessage(stream=request.stream, request=request, created_at=now, next_attempt_at=now))


def _account(connection: ErpConnection) -> str | None:
    return f"conta {connection.account_name}" if connection.account_name else None
