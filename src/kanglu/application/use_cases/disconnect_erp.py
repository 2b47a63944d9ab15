"""DisconnectErp: the merchant stops the integration; imported data stays.

The tokens are forgotten at once; the refresh token is also queued, sealed, for revocation at
Tiny (RevokeTokens, run by the worker), so that it stops working there too.
"""

from __future__ import annotations

import logging

from kanglu.application.commands import DisconnectErpCommand as Command
from kanglu.application import journal
from kanglu.application.errors import NotFound
from kanglu.application.ports import Clock, UnitOfWorkFactory
from kanglu.domain.connections import ConnectionStatus, ErpConnection
from kanglu.domain.revocations import TokenRevocation

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
                now = self._clock.now()
                if (
                    connection.id is not None
                    and connection.refresh_token is not None
                    and connection.client_id
                    and connection.client_secret is not None
                ):
                    uow.revocations.add(TokenRevocation(
                        connection_id=connection.id,
                        client_id=connection.client_id,
                        client_secret=connection.client_secret,
                        refresh_token=connection.refresh_token,
                        created_at=now,
                        next_attempt_at=now,
                    ))
                # The worker drops the jobs of a connection that is not connected.
                now = self._clock.now()
                connection.mark_disconnected(DISCONNECTED_BY_MERCHANT, now)
                journal.disconnected(uow, connection, DISCONNECTED_BY_MERCHANT, now, by_merchant=True)
            uow.commit()
            log.info("erp disconnected by merchant", extra={"connection_id": connection.id})
            return connection
