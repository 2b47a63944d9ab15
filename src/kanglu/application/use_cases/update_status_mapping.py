"""UpdateStatusMapping: the merchant decides what each Tiny situação means for tracking, and
whether point-of-sale (PDV) sales are imported at all."""

from __future__ import annotations

from kanglu.application.commands import UpdateStatusMappingCommand as Command
from kanglu.application.errors import InvalidInput, NotFound
from kanglu.application.ports import Clock, UnitOfWorkFactory
from kanglu.domain.situacoes import Action, Situacao, StatusMapping


class UpdateStatusMapping:
    def __init__(self, *, uow: UnitOfWorkFactory, clock: Clock) -> None:
        self._uow = uow
        self._clock = clock

    def __call__(self, command: Command) -> StatusMapping:
        errors: dict[str, str] = {}
        changes: dict[Situacao, Action] = {}
        for raw_situacao, raw_action in command.actions.items():
            try:
                situacao = Situacao(int(raw_situacao))
            except (TypeError, ValueError):
                errors[f"situacao.{raw_situacao}"] = "situação desconhecida"
                continue
            try:
                changes[situacao] = Action(raw_action)
            except ValueError:
                errors[f"action.{raw_situacao}"] = (
                    "ação inválida: use import, mark_delivered, cancel_tracking ou ignore"
                )
        if errors:
            raise InvalidInput(errors)
        with self._uow() as uow:
            connection = uow.connections.for_merchant(command.merchant_id)
            if connection is None or connection.id is None:
                raise NotFound("configure a integração com o Tiny antes de mapear as situações")
            mapping = uow.status_mappings.get(connection.id).with_actions(changes)
            uow.status_mappings.save(connection.id, mapping)
            if command.import_point_of_sale is not None and command.import_point_of_sale != connection.import_point_of_sale:
                connection.set_import_point_of_sale(command.import_point_of_sale, self._clock.now())
            uow.commit()
            return mapping
