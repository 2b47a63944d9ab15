"""ImportOrder: idempotent upsert of ERP orders of one connection, as one transaction."""

from __future__ import annotations

from kanglu.application.commands import ImportOrderCommand as Command
from kanglu.application.errors import NotFound
from kanglu.application.importing import ImportReport, OrderImporter
from kanglu.application.ports import Clock, UnitOfWorkFactory


class ImportOrder:
    """Imports orders already fetched (a webhook hint, a replay, tests); the poll uses the
    same OrderImporter inside its per-page transaction."""

    def __init__(self, *, uow: UnitOfWorkFactory, clock: Clock, importer: OrderImporter) -> None:
        self._uow = uow
        self._clock = clock
        self._importer = importer

    def __call__(self, command: Command) -> ImportReport:
        with self._uow() as uow:
            connection = uow.connections.get(command.connection_id)
            if connection is None:
                raise NotFound("integração não encontrada")
            mapping = uow.status_mappings.get(command.connection_id)
            with_families = uow.shipping_families.for_connection(command.connection_id)
            families = {service_id: f.family for service_id, f in with_families.items()}
            report = self._importer.import_batch(uow, connection, mapping, command.items, self._clock.now(), families)
            uow.commit()
            return report
