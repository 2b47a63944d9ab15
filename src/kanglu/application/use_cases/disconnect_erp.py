"""DisconnectErp: the merchant stops the integration; imported data stays."""

from __future__ import annotations

import logging

from kanglu.application.commands import DisconnectErp as Command
from kanglu.application import journal
from kanglu.application.errors import NotFound
from kanglu.application.ports import Clock, UnitOfWorkFactory
from kanglu.domain.connections import ConnectionStatus, ErpConnection

log = logging.getLogger(__name__)

DISCONNECTED_BY_MERCHANT = "integração desconectada pelo lojista"


class DisconnectErp:
    def __init__(self, *, uow: UnitOfWorkFactory, clock: Clock) -> None:
        self._uow = uow
        self._clock = clock

    def __call__(self, command: Command) -> ErpConnection:
        with self._uow() as uow:
            connection = uow.connections.for_merchant(command.merchant_id)
            if connection is None:
                raise NotFound("integração não encontrada")
            if connection.id is not None:
                connection = uow.connections.lock(connection.id) or connection
            if connection.status is not ConnectionStatus.NOT_CONFIGURED:
                # The worker drops the jobs of a connection that is not connected.
                now = self._clock.now()
                connection.mark_disconnected(DISCONNECTED_BY_MERCHANT, now)
                journal.disconnected(uow, connection, DISCONNECTED_BY_MERCHANT, now, by_merchant=True)
            uow.commit()
            log.info("erp disconnected by merchant", extra={"connection_id": connection.id})
            return connection
