"""The ERP application's per-module read permissions, and the box to tick in Tiny for each.

A Tiny application is created with permissions per module; a token of an application without
one is refused (HTTP 403) on that module only. That is a missing permission, not a lost
authorisation: the merchant ticks the box in Tiny, and nothing else needs doing.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable


class ErpPermission(enum.StrEnum):
    """The names are the external contract (`missing_permissions` in the API)."""

    PEDIDOS = "pedidos"
    NOTAS_FISCAIS = "notas_fiscais"
    FORMAS_ENVIO = "formas_envio"
    INFO_CONTA = "info_conta"

    @property
    def module(self) -> str:
        """The module as Tiny's application page names it."""
        return _MODULES[self]

    @property
    def box(self) -> str:
        """The box to tick in Tiny, e.g. "Notas Fiscais: leitura"."""
        return f"{_MODULES[self]}: leitura"

    @property
    def without_it(self) -> str:
        """What the integration does while the permission is missing (Portuguese, for the card)."""
        return _WITHOUT[self]


_MODULES = {
    ErpPermission.PEDIDOS: "Pedidos",
    ErpPermission.NOTAS_FISCAIS: "Notas Fiscais",
    ErpPermission.FORMAS_ENVIO: "Formas de Envio",
    ErpPermission.INFO_CONTA: "Informações da Conta",
}
_WITHOUT = {
    ErpPermission.PEDIDOS: "nenhum pedido é importado",
    ErpPermission.NOTAS_FISCAIS: "os pedidos são importados sem a nota fiscal",
    ErpPermission.FORMAS_ENVIO: "a transportadora é reconhecida só pelo nome da forma de envio",
    ErpPermission.INFO_CONTA: "o nome da conta do Tiny não aparece aqui",
}

# Permissions whose absence leaves imported orders incomplete: once back, the orders imported
# meanwhile are read again (invoices, shipping families).
FILLED_IN_LATER = frozenset({ErpPermission.NOTAS_FISCAIS, ErpPermission.FORMAS_ENVIO})


def ordered(permissions: Iterable[ErpPermission]) -> list[ErpPermission]:
    """In the enum's order (the order of the help table), whatever the set's."""
    wanted = set(permissions)
    return [p for p in ErpPermission if p in wanted]
