import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kanglu.domain.documents import Document, DocumentKind
from kanglu.domain.errors import InvalidValue
from tests.strategies import cnpjs, cpfs, format_cnpj, format_cpf

EXAMPLES = settings(max_examples=200, deadline=None)


@EXAMPLES
@given(cpfs(), st.booleans())
def test_valid_cpf_is_accepted_bare_or_formatted(cpf: str, formatted: bool) -> None:
    doc = Document.parse(format_cpf(cpf) if formatted else cpf)
    assert doc == Document(DocumentKind.CPF, cpf)
    assert doc.formatted() == format_cpf(cpf)


@EXAMPLES
@given(cnpjs(), st.booleans())
def test_valid_cnpj_alphanumeric_included_is_accepted(cnpj: str, formatted: bool) -> None:
    text = format_cnpj(cnpj) if formatted else cnpj.lower()
    doc = Document.parse(text)
    assert doc == Document(DocumentKind.CNPJ, cnpj)


@EXAMPLES
@given(st.one_of(cpfs(), cnpjs()), st.integers(0, 1), st.integers(1, 9))
def test_changing_a_check_digit_is_rejected(number: str, which: int, delta: int) -> None:
    position = len(number) - 2 + which
    changed = str((int(number[position]) + delta) % 10)
    mutated = number[:position] + changed + number[position + 1 :]
    with pytest.raises(InvalidValue, match="verificador"):
        Document.parse(mutated)


@EXAMPLES
@given(st.one_of(cpfs(), cnpjs()), st.integers(-3, 5).filter(lambda n: n != 0))
def test_wrong_lengths_are_rejected_with_the_length(number: str, change: int) -> None:
    text = number[:-change] if change > 0 else number + "7" * -change
    if len(text) in (11, 14):
        return  # another valid length: that is a check-digit question, covered above
    with pytest.raises(InvalidValue, match=f"com {len(text)} caracteres"):
        Document.parse(text)


@EXAMPLES
@given(st.text(max_size=30))
def test_garbage_never_raises_anything_but_invalid_value(text: str) -> None:
    try:
        Document.parse(text)
    except InvalidValue as exc:
        assert exc.message


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("111.111.111-11", "iguais"),
        ("123.456.789-0A", "caracteres inválidos"),
        ("", "vazio"),
        ("12.ABC.345/01DE-3X", "caracteres inválidos"),
        ("12.ABC.345/01DE-36", "verificador"),
    ],
)
def test_clear_reasons(text: str, reason: str) -> None:
    with pytest.raises(InvalidValue, match=reason):
        Document.parse(text)


def test_the_published_alphanumeric_example() -> None:
    assert Document.parse("12.ABC.345/01DE-35").value == "12ABC34501DE35"


def test_masked_form_hides_the_document() -> None:
    doc = Document.parse("123.456.789-09")
    assert "456" not in doc.masked() and "123" not in doc.masked()
