"""Tracking codes: normalisation, and the UPU S10 check for Correios-style codes."""

from __future__ import annotations

import re

import attrs

from kanglu.domain.errors import InvalidValue

_S10 = re.compile(r"^([A-Z]{2})(\d{8})(\d)([A-Z]{2})$")
_ALLOWED = re.compile(r"^[A-Z0-9][A-Z0-9\-_]{3,49}$")
_S10_WEIGHTS = (8, 6, 4, 2, 3, 5, 9, 7)


def s10_check_digit(serial: str) -> int:
    """UPU S10: weights 8 6 4 2 3 5 9 7; 11 - sum mod 11, where 10 gives 0 and 11 gives 5."""
    value = 11 - sum(int(d) * w for d, w in zip(serial, _S10_WEIGHTS, strict=True)) % 11
    return {10: 0, 11: 5}.get(value, value)


@attrs.frozen
class TrackingCode:
    """A carrier's tracking code, upper-cased and without spaces.

    Any carrier's code is accepted if it has a plausible shape; a code shaped like an
    S10 (Correios and every postal operator) must also pass its check digit, because a
    typo there would be tracked forever without a single event.
    """

    value: str

    @classmethod
    def parse(cls, text: str) -> TrackingCode:
        if not isinstance(text, str):
            raise InvalidValue("código de rastreamento em formato inesperado")
        bare = re.sub(r"\s", "", text).upper()
        if not bare:
            raise InvalidValue("código de rastreamento vazio")
        if not _ALLOWED.match(bare):
            raise InvalidValue(
                f"código de rastreamento inválido: {text.strip()[:60]!r} "
                "(use de 4 a 50 letras, dígitos ou hífens)"
            )
        match = _S10.match(bare)
        if match and s10_check_digit(match.group(2)) != int(match.group(3)):
            raise InvalidValue(
                f"código de rastreamento {bare} inválido: o dígito verificador (padrão S10 dos Correios) não confere"
            )
        return cls(bare)

    @property
    def is_s10(self) -> bool:
        return _S10.match(self.value) is not None

    @property
    def s10_country(self) -> str | None:
        match = _S10.match(self.value)
        return match.group(4) if match else None

    @property
    def s10_service(self) -> str | None:
        """The two-letter service indicator of an S10 code (e.g. SEDEX codes start with S, O, P…)."""
        match = _S10.match(self.value)
        return match.group(1) if match else None

    def __str__(self) -> str:
        return self.value
