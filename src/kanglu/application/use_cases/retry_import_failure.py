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

from kanglu.application.commands import PurgeResolvedFailuresCommand as PurgeCommand
from kanglu.application.commands import RetryImportFailureCommand as Command
from kanglu.application.errors import ApplicationError, NotFound
from kanglu.application.importing import OrderImporter
from kanglu.application.ports import Clock, ErpGateway, SecretBox, UnitOfWorkFactory
from kanglu.application.tokens import ConnectionTokens
from kanglu.domain.import_failures import RESOLVED_RETENTION
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
        importer: OrderImporter,
        secret_box: SecretBox,
        tokens_for: Callable[[int], ConnectionTokens],
    ) -> None:
        self._uow = uow
        self._clock = clock
        self._gateway = gateway
        self._importer = importer
        self._box = secret_box
        self._tokens_for = tokens_for

    def __call__(self, command: Command) -> RetryResult:
        """Raises NotFound, CannotRetry, TransientFailure (Tiny unavailable: try later) or
        ReauthorizationRequired."""
        with self._uow.reading() as uow:
            failure = uow.import_failures.get(command.failure_id)
            connection = uow.connections.get(failure.connection_id) if failure is not None else None
        if failure is None or connection is None or connection.merchant_id != command.merchant_id:
            raise NotFound("falha de importação não encontrada")
        if failure.resolved_at is not None:
            return RetryResult(RetryOutcome.ALREADY_RESOLVED)
        if failure.erp_order_id is None:
            raise CannotRetry("o Tiny enviou este pedido sem identificador, então não há como buscá-lo de novo")
        if not connection.is_pollable or connection.access_token is None or connection.id is None:
            raise CannotRetry("conecte o Tiny em Integrações para buscar o pedido de novo")

        tokens = self._tokens_for(connection.id)
        tokens.preload(self._box.open(connection.access_token), connection.token_version)
        fetched = self._gateway.order(tokens, failure.erp_order_id)
        if isinstance(fetched, ErpOrder) and fetched.invoice is None and fetched.situacao in INVOICED_SITUACOES:
            invoice = self._gateway.invoices_for(tokens, [fetched]).get(fetched.erp_order_id)
            if invoice is not None and not isinstance(invoice, MalformedOrder):
                fetched = attrs.evolve(fetched, invoice=invoice)

        if isinstance(fetched, MalformedOrder) and fetched.erp_order_id is None:
            fetched = attrs.evolve(fetched, erp_order_id=failure.erp_order_id)  # the id we asked for
        with self._uow() as uow:
            now = self._clock.now()
            if fetched is None:
                stored = uow.import_failures.get(command.failure_id)
                if stored is not None:
                    stored.seen_again(NOT_IN_TINY, stored.raw, now)
                uow.commit()
                return RetryResult(RetryOutcome.NOT_FOUND, NOT_IN_TINY)
            mapping = uow.status_mappings.get(connection.id)
            families = {sid: f.family for sid, f in uow.shipping_families.for_connection(connection.id).items()}
            report = self._importer.import_batch(uow, connection, mapping, [fetched], now, families)
            uow.commit()
        log.info("import failure retried", extra={"connection_id": connection.id,
                                                   "erp_order_id": failure.erp_order_id, "failed": report.failed})
        if isinstance(fetched, MalformedOrder):
            return RetryResult(RetryOutcome.FAILED, fetched.reason)
        return RetryResult(RetryOutcome.IMPORTED)


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
