"""The merchant's status mapping as the pages and the API show it, read through the unit of work
(the read-side ports in queries.py do not cover it: it is read one row at a time)."""

from __future__ import annotations

import attrs

from kanglu.application.ports import UnitOfWorkFactory
from kanglu.domain.situacoes import StatusMapping


@attrs.frozen
class MappingState:
    configured: bool  # False: no Tiny integration yet, so nothing can be saved
    mapping: StatusMapping
    import_point_of_sale: bool = False


class StatusMappingQuery:
    def __init__(self, *, uow: UnitOfWorkFactory) -> None:
        self._uow = uow

    def __call__(self, merchant_id: int) -> MappingState:
        with self._uow() as uow:
            connection = uow.connections.for_merchant(merchant_id)
            if connection is None or connection.id is None:
                return MappingState(False, StatusMapping.default())
            return MappingState(True, uow.status_mappings.get(connection.id), connection.import_point_of_sale)
