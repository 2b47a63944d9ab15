import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kanglu.domain.errors import InvalidValue
from kanglu.domain.tracking_codes import TrackingCode, s10_check_digit
from tests.strategies import s10_codes

EXAMPLES = settings(max_examples=200, deadline=None)


@EXAMPLES
@given(s10_codes(), st.booleans())
def test_valid_s10_codes_are_accepted(code: str, spaced: bool) -> None:
    text = f" {code[:2]} {code[2:11]} {code[11:].lower()} " if spaced else code
    parsed = TrackingCode.parse(text)
    assert parsed.value == code
    assert parsed.is_s10
    assert parsed.s10_country == code[-2:]


@EXAMPLES
@given(s10_codes(), st.integers(1, 9))
def test_another_s10_check_digit_is_rejected(code: str, delta: int) -> None:
    mutated = code[:10] + str((int(code[10]) + delta) % 10) + code[11:]
    with pytest.raises(InvalidValue, match="verificador"):
        TrackingCode.parse(mutated)


@EXAMPLES
@given(st.text(max_size=60))
def test_garbage_only_raises_invalid_value(text: str) -> None:
    try:
        TrackingCode.parse(text)
    except InvalidValue as exc:
        assert exc.message


def test_the_spec_example() -> None:
    assert TrackingCode.parse("AA123456785BR").is_s10
    assert s10_check_digit("12345678") == 5


@pytest.mark.parametrize("code", ["10843000123456", "MEL123456789BR0", "JD00012345678901", "LGI-ABC-123"])
def test_other_carriers_codes_are_accepted(code: str) -> None:
    assert not TrackingCode.parse(code).is_s10


@pytest.mark.parametrize("text", ["", "   ", "AB", "código!", "x" * 51])
def test_implausible_codes_are_rejected(text: str) -> None:
    with pytest.raises(InvalidValue):
        TrackingCode.parse(text)
