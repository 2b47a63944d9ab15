"""MapShippingService: the merchant names the carrier of a shipping service no rule matched
(or `none`: not tracked); the orders waiting on it get the carrier and start tracking.

Changing a mapping moves the orders the old one had given its carrier to the new one: the
merchant is correcting a mistake. Removing one leaves the orders as they are; new orders of
that service go back to the rules (and, if no rule matches, to the list to map)."""

from __future__ import annotations

from kanglu.application.commands import MapShippingServiceCommand as Command
from kanglu.application.commands import RemoveCarrierMappingCommand as RemoveCommand
from kanglu.application.errors import InvalidInput, NotFound
from kanglu.application.ports import Clock, UnitOfWorkFactory
from kanglu.domain.carriers import CarrierRegistry
from kanglu.domain.tracking import OutboxMessage


class MapShippingService:
    def __init__(self, *, uow: UnitOfWorkFactory, clock: Clock, carriers: CarrierRegistry) -> None:
        self._uow = uow
        self._clock = clock
        self._carriers = carriers

    def __call__(self, command: Command) -> int:
        """How many waiting orders got the carrier."""
        carrier = self._carriers.get(command.carrier_code)
        if carrier is None:
            raise InvalidInput({"carrier_code": "transportadora desconhecida"})
        if not command.shipping_key.strip():
            raise InvalidInput({"shipping_key": "forma de envio não informada"})
        with self._uow() as uow:
            connection = uow.connections.for_merchant(command.merchant_id)
            if connection is None or connection.id is None:
                raise NotFound("integração não encontrada")
            previous = uow.carrier_mappings.for_merchant(command.merchant_id).get(command.shipping_key)
            uow.carrier_mappings.set(command.merchant_id, command.shipping_key, carrier.code)
            mapping = uow.status_mappings.get(connection.id)
            now = self._clock.now()
            waiting = uow.orders.waiting_for_carrier(
                connection.id, command.shipping_key, previous if previous != carrier.code else None
            )
            for order in waiting:
                for request in order.assign_carrier(carrier, mapping.action_for(order.situacao), now):
                    uow.outbox.add(OutboxMessage(stream=order.outbox_stream, request=request, created_at=now, next_attempt_at=now))
            uow.commit()
            return len(waiting)


class RemoveCarrierMapping:
    def __init__(self, *, uow: UnitOfWorkFactory) -> None:
        self._uow = uow

    def __call__(self, command: RemoveCommand) -> None:
        with self._uow() as uow:
            if not uow.carrier_mappings.remove(command.merchant_id, command.shipping_key):
                raise NotFound("mapeamento não encontrado")
            uow.commit()
