"""CPF and CNPJ (alphanumeric CNPJ included): parsing, check digits and normalisation."""

from __future__ import annotations

import enum
import re

import attrs
from stdnum.br import cnpj as stdnum_cnpj
from stdnum.br import cpf as stdnum_cpf
from stdnum.exceptions import InvalidChecksum, ValidationError

from kanglu.domain.errors import InvalidValue

# What people and ERPs put between the characters of a document.
_SEPARATORS = re.compile(r"[\s./\-]")
_CPF_SHAPE = re.compile(r"^\d{11}$")
# Since July 2026 the first 12 CNPJ characters may be letters; the 2 check digits stay digits.
_CNPJ_SHAPE = re.compile(r"^[0-9A-Z]{12}\d{2}$")


class DocumentKind(enum.StrEnum):
    CPF = "cpf"
    CNPJ = "cnpj"


def _normalise(text: str) -> str:
    return _SEPARATORS.sub("", text).upper()


@attrs.frozen
class Document:
    """A validated Brazilian taxpayer id, stored bare: digits, or digits and letters for a CNPJ."""

    kind: DocumentKind
    value: str

    @classmethod
    def parse(cls, text: str) -> Document:
        if not isinstance(text, str):
            raise InvalidValue("CPF/CNPJ ausente ou em formato inesperado")
        bare = _normalise(text)
        if not bare:
            raise InvalidValue("CPF/CNPJ vazio")
        if len(bare) == 11:
            return cls._parse_cpf(bare, text)
        if len(bare) == 14:
            return cls._parse_cnpj(bare, text)
        raise InvalidValue(
            f"CPF/CNPJ com {len(bare)} caracteres: um CPF tem 11 dígitos e um CNPJ tem 14 caracteres"
        )

    @classmethod
    def _parse_cpf(cls, bare: str, original: str) -> Document:
        if not _CPF_SHAPE.match(bare):
            raise InvalidValue(f"CPF com caracteres inválidos: {original!r}")
        # stdnum accepts 111.111.111-11 and friends, which the Receita never issues.
        if len(set(bare)) == 1:
            raise InvalidValue("CPF inválido: todos os dígitos são iguais")
        try:
            stdnum_cpf.validate(bare)
        except InvalidChecksum:
            raise InvalidValue("CPF inválido: os dígitos verificadores não conferem") from None
        except ValidationError as exc:
            raise InvalidValue(f"CPF inválido: {exc}") from None
        return cls(DocumentKind.CPF, bare)

    @classmethod
    def _parse_cnpj(cls, bare: str, original: str) -> Document:
        if not _CNPJ_SHAPE.match(bare):
            raise InvalidValue(f"CNPJ com caracteres inválidos: {original!r}")
        if len(set(bare)) == 1:
            raise InvalidValue("CNPJ inválido: todos os caracteres são iguais")
        try:
            stdnum_cnpj.validate(bare)
        except InvalidChecksum:
            raise InvalidValue("CNPJ inválido: os dígitos verificadores não conferem") from None
        except ValidationError as exc:
            raise InvalidValue(f"CNPJ inválido: {exc}") from None
        return cls(DocumentKind.CNPJ, bare)

    def formatted(self) -> str:
        v = self.value
        if self.kind is DocumentKind.CPF:
            return f"{v[:3]}.{v[3:6]}.{v[6:9]}-{v[9:]}"
        return f"{v[:2]}.{v[2:5]}.{v[5:8]}/{v[8:12]}-{v[12:]}"

    def masked(self) -> str:
        """A form safe for logs: enough to tell documents apart, not enough to identify anyone."""
        return f"{self.kind.value}:***{self.value[-4:-2]}**"

    def __str__(self) -> str:
        return self.value
