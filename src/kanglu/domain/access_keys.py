"""NF-e / NFC-e access keys (chave de acesso): shape, mod-11 check digit and parts."""

from __future__ import annotations

import re

import attrs

from kanglu.domain.errors import InvalidValue

_SEPARATORS = re.compile(r"[\s.\-]")
# cUF(2) AAMM(4) issuer CNPJ(14, alphanumeric since 2026) model(2) series(3) number(9) tpEmis(1) cNF(8) DV(1)
_SHAPE = re.compile(r"^\d{6}[0-9A-Z]{12}\d{2}\d{24}$")
# IBGE codes of the 27 federative units.
UF_CODES = {
    11: "RO", 12: "AC", 13: "AM", 14: "RR", 15: "PA", 16: "AP", 17: "TO",
    21: "MA", 22: "PI", 23: "CE", 24: "RN", 25: "PB", 26: "PE", 27: "AL", 28: "SE", 29: "BA",
    31: "MG", 32: "ES", 33: "RJ", 35: "SP",
    41: "PR", 42: "SC", 43: "RS",
    50: "MS", 51: "MT", 52: "GO", 53: "DF",
}
MODELS = {"55": "NF-e", "65": "NFC-e"}


def access_key_check_digit(first_43: str) -> int:
    """Mod 11 with weights 2..9 from the right; each character weighs ord(c) - 48."""
    total = 0
    for position, char in enumerate(reversed(first_43)):
        total += (ord(char) - 48) * (2 + position % 8)
    remainder = total % 11
    return 0 if remainder < 2 else 11 - remainder


@attrs.frozen
class AccessKey:
    """A validated 44-character chave de acesso."""

    value: str

    @classmethod
    def parse(cls, text: str) -> AccessKey:
        if not isinstance(text, str):
            raise InvalidValue("chave de acesso ausente ou em formato inesperado")
        bare = _SEPARATORS.sub("", text).upper()
        if bare.startswith(("NFE", "CFE")) and len(bare) == 47:
            bare = bare[3:]  # the id attribute of the XML: "NFe" + key
        if len(bare) != 44:
            raise InvalidValue(f"chave de acesso com {len(bare)} caracteres: deve ter 44")
        if not _SHAPE.match(bare):
            raise InvalidValue(
                "chave de acesso com caracteres inválidos: só dígitos, e letras apenas no CNPJ do emitente"
            )
        if int(bare[:2]) not in UF_CODES:
            raise InvalidValue(f"chave de acesso com código de UF inexistente: {bare[:2]}")
        if not 1 <= int(bare[4:6]) <= 12:
            raise InvalidValue(f"chave de acesso com mês de emissão inválido: {bare[4:6]}")
        if bare[20:22] not in MODELS:
            raise InvalidValue(f"chave de acesso de modelo {bare[20:22]}: esperado 55 (NF-e) ou 65 (NFC-e)")
        if access_key_check_digit(bare[:43]) != int(bare[43]):
            raise InvalidValue("chave de acesso inválida: o dígito verificador não confere")
        return cls(bare)

    @property
    def uf(self) -> str:
        return UF_CODES[int(self.value[:2])]

    @property
    def year_month(self) -> tuple[int, int]:
        return 2000 + int(self.value[2:4]), int(self.value[4:6])

    @property
    def issuer_cnpj(self) -> str:
        return self.value[6:20]

    @property
    def model(self) -> str:
        return self.value[20:22]

    @property
    def series(self) -> int:
        return int(self.value[22:25])

    @property
    def number(self) -> int:
        return int(self.value[25:34])

    @property
    def emission_type(self) -> int:
        return int(self.value[34])

    @property
    def random_code(self) -> str:
        return self.value[35:43]

    @property
    def check_digit(self) -> int:
        return int(self.value[43])

    def __str__(self) -> str:
        return self.value
