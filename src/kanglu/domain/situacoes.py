"""Tiny's order situações, Kanglu's actions, and the mapping between them."""

from __future__ import annotations

import enum
from collections.abc import Mapping
from types import MappingProxyType

import attrs

from kanglu.domain.errors import InvalidValue


class Situacao(enum.IntEnum):
    """Order situações of Tiny API v3, with Tiny's own codes."""

    DADOS_INCOMPLETOS = 8
    ABERTA = 0
    APROVADA = 3
    PREPARANDO_ENVIO = 4
    FATURADA = 1
    PRONTO_ENVIO = 7
    ENVIADA = 5
    ENTREGUE = 6
    CANCELADA = 2
    NAO_ENTREGUE = 9

    @property
    def label(self) -> str:
        return SITUACAO_LABELS[self]


SITUACAO_LABELS: Mapping[Situacao, str] = MappingProxyType(
    {
        Situacao.DADOS_INCOMPLETOS: "Dados Incompletos",
        Situacao.ABERTA: "Aberta",
        Situacao.APROVADA: "Aprovada",
        Situacao.PREPARANDO_ENVIO: "Preparando Envio",
        Situacao.FATURADA: "Faturada",
        Situacao.PRONTO_ENVIO: "Pronto Envio",
        Situacao.ENVIADA: "Enviada",
        Situacao.ENTREGUE: "Entregue",
        Situacao.CANCELADA: "Cancelada",
        Situacao.NAO_ENTREGUE: "Não Entregue",
    }
)

# Situações in which Tiny has already issued the invoice, so one is worth looking for.
INVOICED_SITUACOES = frozenset(
    {Situacao.FATURADA, Situacao.PRONTO_ENVIO, Situacao.ENVIADA, Situacao.ENTREGUE, Situacao.NAO_ENTREGUE}
)


class Action(enum.StrEnum):
    """What Kanglu does with an order in a given situação."""

    IMPORT = "import"
    MARK_DELIVERED = "mark_delivered"
    CANCEL_TRACKING = "cancel_tracking"
    IGNORE = "ignore"

    @property
    def label(self) -> str:
        return ACTION_LABELS[self]


ACTION_LABELS: Mapping[Action, str] = MappingProxyType(
    {
        Action.IMPORT: "Importar e rastrear",
        Action.MARK_DELIVERED: "Marcar entregue",
        Action.CANCEL_TRACKING: "Cancelar rastreamento",
        Action.IGNORE: "Ignorar",
    }
)

DEFAULT_ACTIONS: Mapping[Situacao, Action] = MappingProxyType(
    {
        Situacao.FATURADA: Action.IMPORT,
        Situacao.PRONTO_ENVIO: Action.IMPORT,
        Situacao.ENVIADA: Action.IMPORT,
        Situacao.ENTREGUE: Action.MARK_DELIVERED,
        Situacao.CANCELADA: Action.CANCEL_TRACKING,
    }
)


def parse_situacao(value: object) -> Situacao:
    try:
        return Situacao(int(value))  # type: ignore[call-overload]
    except (TypeError, ValueError):
        raise InvalidValue(f"situação desconhecida: {value!r}") from None


def _read_only(actions: Mapping[Situacao, Action]) -> Mapping[Situacao, Action]:
    return MappingProxyType(dict(actions))


def _default_actions() -> Mapping[Situacao, Action]:
    return dict(DEFAULT_ACTIONS)


@attrs.frozen
class StatusMapping:
    """For every Tiny situação, the action Kanglu takes; unmapped situações are ignored."""

    actions: Mapping[Situacao, Action] = attrs.field(factory=_default_actions, converter=_read_only)

    @classmethod
    def default(cls) -> StatusMapping:
        return cls(DEFAULT_ACTIONS)

    def action_for(self, situacao: Situacao) -> Action:
        return self.actions.get(situacao, Action.IGNORE)

    def with_actions(self, changes: Mapping[Situacao, Action]) -> StatusMapping:
        merged = dict(self.actions)
        merged.update(changes)
        return StatusMapping({s: a for s, a in merged.items() if a is not Action.IGNORE})

    @property
    def imported_situacoes(self) -> frozenset[Situacao]:
        """The situações whose orders Kanglu brings in (every action but ignore)."""
        return frozenset(s for s, a in self.actions.items() if a is not Action.IGNORE)

    def full(self) -> list[tuple[Situacao, Action]]:
        """Every situação in Tiny's order, with its action (ignore where unmapped)."""
        return [(s, self.action_for(s)) for s in Situacao]
