"""The ERP permissions a poll finds missing or back: noted on the connection, told in its
history and to the merchant (journal), and asked again every so often."""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime, timedelta

from kanglu.application import journal
from kanglu.application.errors import PermissionMissing, TransientFailure
from kanglu.application.ports import Clock, ErpGateway, UnitOfWorkFactory
from kanglu.application.tokens import ConnectionTokens
from kanglu.domain.connections import ErpConnection, PollProgress
from kanglu.domain.permissions import ErpPermission, ordered

log = logging.getLogger("kanglu.application.use_cases.poll_orders")  # the poll's own lines

# How often a missing permission is asked for again (one small call), and a poll without the
# Pedidos permission tried again: a merchant who ticks it in Tiny waits at most this long.
PERMISSION_RECHECK = timedelta(minutes=5)


class PollPermissions:
    """A poll's rare writes about permissions: each on the stored connection (read again,
    locked) and on the poll's own copy, apart from the poll's own columns."""

    def __init__(
        self, *, uow: UnitOfWorkFactory, clock: Clock, gateway: ErpGateway, recheck_every: timedelta = PERMISSION_RECHECK,
    ) -> None:
        self._uow = uow
        self._clock = clock
        self._gateway = gateway
        self.recheck_every = recheck_every

    def recheck(self, connection_id: int, tokens: ConnectionTokens, connection: ErpConnection) -> bool:
        """Every `recheck_every`, ask again for the missing permissions (Pedidos is asked by
        the poll's own listing). One that is back may move the poll's window back to the orders
        imported without it: True when they were asked (the window is to be read again)."""
        now = self._clock.now()
        if not connection.permissions_recheck_due(now, self.recheck_every):
            return False
        back: list[ErpPermission] = []
        account_name: str | None = None
        for permission in ordered(connection.missing_permissions - {ErpPermission.PEDIDOS}):
            try:
                if permission is ErpPermission.INFO_CONTA:
                    account_name = self._gateway.account_name(tokens)  # the probe and what was skipped
                elif not self._gateway.has_permission(tokens, permission):
                    continue
            except PermissionMissing:
                continue
            back.append(permission)

        def change(row: ErpConnection) -> None:
            for permission in back:
                row.note_permission_back(permission, now)
                if permission is ErpPermission.INFO_CONTA and account_name:
                    row.account_name = account_name
            row.permissions_checked_at = now

        self._change(connection_id, connection, change)
        if back:
            log.info("erp permissions back", extra={"connection_id": connection_id,
                                                    "permissions": [p.value for p in back]})
        return True

    def missing(
        self, connection_id: int | None, connection: ErpConnection, permission: ErpPermission,
        progress: PollProgress | None,
    ) -> None:
        """Note a missing permission (and the window imported without it), once per poll."""
        assert connection_id is not None
        known = permission in connection.missing_permissions
        if known and (progress is None or (connection.incomplete_since is not None
                                           and connection.incomplete_since <= progress.since)):
            return  # already noted for this window: no write per page
        now = self._clock.now()
        self._change(connection_id, connection,
                     lambda row: row.note_permission_missing(permission, progress.since if progress else None, now))
        if not known:
            log.warning("erp permission missing", extra={"connection_id": connection_id, "permission": permission.value})

    def back(self, connection_id: int, connection: ErpConnection, permission: ErpPermission) -> None:
        now = self._clock.now()
        self._change(connection_id, connection, lambda row: row.note_permission_back(permission, now))
        log.info("erp permissions back", extra={"connection_id": connection_id, "permissions": [permission.value]})

    def pause(self, connection_id: int, connection: ErpConnection, exc: PermissionMissing) -> datetime:
        """No Pedidos permission: nothing to import. Not a disconnection (reconnecting would not
        help): the card says what to tick, and the poll tries again every `recheck_every`, from
        the instant returned."""
        now = self._clock.now()
        known = exc.permission in connection.missing_permissions

        def change(row: ErpConnection) -> None:
            row.note_permission_missing(exc.permission, None, now)
            row.note_poll_failure(exc.message, now)

        try:
            self._change(connection_id, connection, change)
        except TransientFailure:
            pass  # the retry is scheduled below all the same
        if not known:
            log.warning("poll paused: erp permission missing",
                        extra={"connection_id": connection_id, "permission": exc.permission.value,
                               "request_id": exc.request_id})
        return now + self.recheck_every

    def _change(self, connection_id: int, connection: ErpConnection, change: Callable[[ErpConnection], object]) -> None:
        """Apply a change to the stored connection (read again, locked) and to this poll's copy:
        rare writes (a permission missing or back), apart from the poll's own columns."""
        with self._uow() as uow:
            row = uow.connections.lock(connection_id)
            if row is not None:
                before = {p.value for p in row.missing_permissions}
                change(row)
                after = {p.value for p in row.missing_permissions}
                if before != after:  # the history's event and the merchant's alert, in the same commit
                    journal.permissions_changed(uow, row, before, after, self._clock.now())
                uow.commit()
        change(connection)

