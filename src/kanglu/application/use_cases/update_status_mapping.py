"""UpdateStatusMapping: the merchant decides what each Tiny situação means for tracking."""

from __future__ import annotations

from kanglu.application.commands import UpdateStatusMapping as Command
from kanglu.application.errors import InvalidInput, NotFound
from kanglu.application.ports import UnitOfWorkFactory
from kanglu.domain.situacoes import Action, Situacao, StatusMapping


class UpdateStatusMapping:
    def __init__(self, *, uow: UnitOfWorkFactory) -> None:
        self._uow = uow

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
            uow.commit()
            return mapping
