"""Tentar de novo: the order behind an import failure fetched again from its detail, now.

Synchronous, in the merchant's request: one detail call (and the invoice lookup when the order
should have one), then the same import a poll does. The merchant sees the outcome at once; a
Tiny that is down answers "try again later" and changes nothing.
"""

from __future__ import annotations

import enum
import logging
from collections.abc import Callable

import attrs

from kanglu.application.commands import ImportOrderCommand
from kanglu.application.commands import PurgeResolvedFailuresCommand as PurgeCommand
from kanglu.application.commands import RetryImportFailureCommand as Command
from kanglu.application.errors import ApplicationError, NotFound
from kanglu.application.ports import Clock, ErpGateway, SecretBox, UnitOfWorkFactory
from kanglu.application.tokens import ConnectionTokens
from kanglu.application.use_cases.import_order import ImportOrder
from kanglu.domain.connections import ErpConnection
from kanglu.domain.import_failures import RESOLVED_RETENTION, ImportFailure
from kanglu.domain.orders import ErpOrder, MalformedOrder
from kanglu.domain.situacoes import INVOICED_SITUACOES

log = logging.getLogger(__name__)

NOT_IN_TINY = "o Tiny não encontrou este pedido (pode ter sido excluído)"


class RetryOutcome(enum.StrEnum):
    IMPORTED = "imported"  # the order is in, the failure resolved
    FAILED = "failed"  # still unreadable: the failure has the new reason
    NOT_FOUND = "not_found"  # Tiny does not know the order any more
    ALREADY_RESOLVED = "already_resolved"


@attrs.frozen
class RetryResult:
    outcome: RetryOutcome
    reason: str | None = None


class CannotRetry(ApplicationError):
    """Nothing to fetch: no Tiny id, or no working connection."""


class RetryImportFailure:
    def __init__(
        self,
        *,
        uow: UnitOfWorkFactory,
        clock: Clock,
        gateway: ErpGateway,
        import_order: ImportOrder,
        secret_box: SecretBox,
        tokens_for: Callable[[int], ConnectionTokens],
    ) -> None:
        self._uow = uow
        self._clock = clock
        self._gateway = gateway
        self._import_order = import_order
        self._box = secret_box
        self._tokens_for = tokens_for

    def __call__(self, command: Command) -> RetryResult:
        """Raises NotFound, CannotRetry, TransientFailure (Tiny unavailable: try later) or
        ReauthorizationRequired."""
        failure, connection = self._read(command)
        if failure.resolved_at is not None:
            return RetryResult(RetryOutcome.ALREADY_RESOLVED)
        if failure.erp_order_id is None:
            raise CannotRetry("o Tiny enviou este pedido sem identificador, então não há como buscá-lo de novo")
        if not connection.is_pollable or connection.access_token is None or connection.id is None:
            raise CannotRetry("conecte o Tiny em Integrações para buscar o pedido de novo")

        fetched = self._fetch(connection, failure.erp_order_id)
        if fetched is None:
            with self._uow() as uow:
                stored = uow.import_failures.get(command.failure_id)
                if stored is not None:
                    stored.seen_again(NOT_IN_TINY, stored.raw, self._clock.now())
                uow.commit()
            return RetryResult(RetryOutcome.NOT_FOUND, NOT_IN_TINY)
        report = self._import_order(ImportOrderCommand(connection.id, [fetched]))
        log.info("import failure retried", extra={"connection_id": connection.id,
                                                   "erp_order_id": failure.erp_order_id, "failed": report.failed})
        if isinstance(fetched, MalformedOrder):
            return RetryResult(RetryOutcome.FAILED, fetched.reason)
        return RetryResult(RetryOutcome.IMPORTED)

    def _read(self, command: Command) -> tuple[ImportFailure, ErpConnection]:
        with self._uow() as uow:
            failure = uow.import_failures.get(command.failure_id)
            connection = uow.connections.get(failure.connection_id) if failure is not None else None
        if failure is None or connection is None or connection.merchant_id != command.merchant_id:
            raise NotFound("falha de importação não encontrada")
        return failure, connection

    def _fetch(self, connection: ErpConnection, erp_order_id: int) -> ErpOrder | MalformedOrder | None:
        """The order from its detail, with its invoice when it should have one by now."""
        assert connection.id is not None and connection.access_token is not None
        tokens = self._tokens_for(connection.id)
        tokens.preload(self._box.open(connection.access_token), connection.token_version)
        fetched = self._gateway.order(tokens, erp_order_id)
        if isinstance(fetched, ErpOrder) and fetched.invoice is None and fetched.situacao in INVOICED_SITUACOES:
            invoice = self._gateway.invoices_for(tokens, [fetched]).get(fetched.erp_order_id)
            if invoice is not None and not isinstance(invoice, MalformedOrder):
                fetched = attrs.evolve(fetched, invoice=invoice)
        if isinstance(fetched, MalformedOrder) and fetched.erp_order_id is None:
            fetched = attrs.evolve(fetched, erp_order_id=erp_order_id)  # the id we asked for
        return fetched


class PurgeResolvedFailures:
    """Resolved failures are kept a while (RESOLVED_RETENTION) as history, then deleted."""

    def __init__(self, *, uow: UnitOfWorkFactory, clock: Clock) -> None:
        self._uow = uow
        self._clock = clock

    def __call__(self, command: PurgeCommand | None = None) -> int:
        with self._uow() as uow:
            purged = uow.import_failures.purge_resolved(self._clock.now() - RESOLVED_RETENTION)
            uow.commit()
        if purged:
            log.info("resolved import failures purged", extra={"purged": purged})
        return purged
