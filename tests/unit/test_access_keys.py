import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kanglu.domain.access_keys import AccessKey, access_key_check_digit
from kanglu.domain.errors import InvalidValue
from tests.strategies import access_keys

EXAMPLES = settings(max_examples=200, deadline=None)


@EXAMPLES
@given(access_keys(), st.booleans())
def test_valid_keys_are_accepted_bare_or_grouped(key: str, grouped: bool) -> None:
    text = " ".join(key[i : i + 4] for i in range(0, 44, 4)) if grouped else key
    parsed = AccessKey.parse(text)
    assert parsed.value == key
    assert parsed.issuer_cnpj == key[6:20]
    assert parsed.model in ("55", "65")
    assert parsed.number == int(key[25:34])
    assert parsed.series == int(key[22:25])


@EXAMPLES
@given(access_keys(), st.integers(1, 9))
def test_another_check_digit_is_rejected(key: str, delta: int) -> None:
    mutated = key[:43] + str((int(key[43]) + delta) % 10)
    with pytest.raises(InvalidValue, match="verificador"):
        AccessKey.parse(mutated)


@EXAMPLES
@given(access_keys(), st.integers(1, 10))
def test_wrong_lengths_are_rejected(key: str, cut: int) -> None:
    with pytest.raises(InvalidValue, match="44"):
        AccessKey.parse(key[:-cut])


@EXAMPLES
@given(access_keys(), st.sampled_from(range(0, 6)))
def test_letters_outside_the_issuer_are_rejected(key: str, position: int) -> None:
    with pytest.raises(InvalidValue, match="caracteres inválidos"):
        AccessKey.parse(key[:position] + "A" + key[position + 1 :])


@EXAMPLES
@given(st.text(max_size=60))
def test_garbage_only_raises_invalid_value(text: str) -> None:
    try:
        AccessKey.parse(text)
    except InvalidValue as exc:
        assert exc.message


def test_parts_of_a_real_shaped_key() -> None:
    first = "35260712ABC34501DE35550010000214901123456789"[:43]
    key = AccessKey.parse(first + str(access_key_check_digit(first)))
    assert key.uf == "SP"
    assert key.year_month == (2026, 7)
    assert key.issuer_cnpj == "12ABC34501DE35"
    assert key.model == "55"
    assert key.series == 1
    assert key.number == 21490


def test_check_digit_remainders_zero_and_one_give_zero() -> None:
    # Search a prefix whose weighted sum leaves remainder 0 or 1: the digit must be 0.
    for n in range(10_000):
        first = f"35260712345678000190550010000{n:05d}1{n:08d}"[:43]
        total = sum((ord(c) - 48) * (2 + i % 8) for i, c in enumerate(reversed(first)))
        if total % 11 in (0, 1):
            assert access_key_check_digit(first) == 0
            return
    pytest.fail("no prefix with remainder 0 or 1 found")
