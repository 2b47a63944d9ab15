"""Reads the read-side ports do not cover: the status mapping, straight from its repository."""

from __future__ import annotations

import attrs

from kanglu.domain.situacoes import StatusMapping
from kanglu.entrypoints.web.deps import deps


@attrs.frozen
class MappingState:
    configured: bool  # False: no Tiny integration yet, so nothing can be saved
    mapping: StatusMapping
    import_point_of_sale: bool = False


def status_mapping_of(merchant_id: int) -> MappingState:
    with deps().uow() as uow:
        connection = uow.connections.for_merchant(merchant_id)
        if connection is None or connection.id is None:
            return MappingState(False, StatusMapping.default())
        return MappingState(True, uow.status_mappings.get(connection.id), connection.import_point_of_sale)
