"""Money in BRL as an exact Decimal, never a float."""

from __future__ import annotations

import re
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation

import attrs

from kanglu.domain.errors import InvalidValue

CENT = Decimal("0.01")
# "1234.50", "598", "-3", and the Brazilian "1.234,50" / "1234,50" some exports use.
_DOT_DECIMAL = re.compile(r"^-?\d+(\.\d+)?$")
_COMMA_DECIMAL = re.compile(r"^-?\d{1,3}(\.\d{3})*(,\d+)?$|^-?\d+(,\d+)?$")


@attrs.frozen(order=True)
class Money:
    """An amount in reais, kept to the cent."""

    amount: Decimal

    @classmethod
    def parse(cls, value: str | int | Decimal) -> Money:
        if isinstance(value, bool) or isinstance(value, float):
            raise InvalidValue("valor monetário recebido como número de ponto flutuante")
        if isinstance(value, int):
            return cls(Decimal(value).quantize(CENT))
        if isinstance(value, Decimal):
            return cls._from_decimal(value)
        if not isinstance(value, str):
            raise InvalidValue("valor monetário em formato inesperado")
        text = value.strip().replace("R$", "").strip()
        if _DOT_DECIMAL.match(text):
            return cls._from_decimal(Decimal(text))
        if _COMMA_DECIMAL.match(text):
            return cls._from_decimal(Decimal(text.replace(".", "").replace(",", ".")))
        raise InvalidValue(f"valor monetário inválido: {value!r}")

    @classmethod
    def _from_decimal(cls, amount: Decimal) -> Money:
        try:
            if not amount.is_finite():
                raise InvalidValue("valor monetário não é um número finito")
            return cls(amount.quantize(CENT, rounding=ROUND_HALF_UP))
        except InvalidOperation:
            raise InvalidValue("valor monetário grande demais") from None

    @classmethod
    def zero(cls) -> Money:
        return cls(Decimal("0.00"))

    def __str__(self) -> str:
        return f"{self.amount:.2f}"
