"""ImportOrder: idempotent upsert of ERP orders of one connection, as one transaction."""

from __future__ import annotations

from kanglu.application.commands import ImportOrderCommand as Command
from kanglu.application.commands import ImportSettings
from kanglu.application.errors import NotFound
from kanglu.application.importing import ImportReport, OrderImporter
from kanglu.application.ports import Clock, UnitOfWork, UnitOfWorkFactory
from kanglu.domain.carriers import CarrierRegistry
from kanglu.domain.shipping import families_by_service


class ImportOrder:
    """The one way orders come in: each page a poll reads, and the order a merchant's "Tentar
    de novo" fetches again. Works on a whole batch at once (a handful of queries whatever its
    size); OrderImporter does the upsert inside this use case's transaction."""

    def __init__(self, *, uow: UnitOfWorkFactory, clock: Clock, carriers: CarrierRegistry) -> None:
        self._uow = uow
        self._clock = clock
        self._importer = OrderImporter(carriers=carriers)

    def __call__(self, command: Command) -> ImportReport:
        """Raises NotFound for a connection that does not exist."""
        with self._uow() as uow:
            settings = command.settings or self._read_settings(uow, command.connection_id)
            report = self._importer.import_batch(
                uow, settings.connection, settings.mapping, command.items, self._clock.now(), settings.families
            )
            uow.commit()
            return report

    @staticmethod
    def _read_settings(uow: UnitOfWork, connection_id: int) -> ImportSettings:
        connection = uow.connections.get(connection_id)
        if connection is None:
            raise NotFound("integração não encontrada")
        families = families_by_service(uow.shipping_families.for_connection(connection_id))
        return ImportSettings(connection, uow.status_mappings.get(connection_id), families)
