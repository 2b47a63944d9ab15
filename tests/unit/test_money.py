from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kanglu.domain.errors import InvalidValue
from kanglu.domain.money import Money


@pytest.mark.parametrize(
    ("raw", "expected"),
    [("598", "598.00"), ("1234.50", "1234.50"), ("1.234,50", "1234.50"), ("12,3", "12.30"), (7, "7.00"),
     (Decimal("0.005"), "0.01"), ("R$ 10,00", "10.00")],
)
def test_parses_what_tiny_and_people_send(raw: object, expected: str) -> None:
    assert str(Money.parse(raw)) == expected


@pytest.mark.parametrize("raw", [1.5, "", "abc", "1.2.3", "NaN", "Infinity", None, True])
def test_refuses_floats_and_garbage(raw: object) -> None:
    with pytest.raises(InvalidValue):
        Money.parse(raw)  # type: ignore[arg-type]


@settings(max_examples=200)
@given(st.decimals(min_value=0, max_value=10**9, places=2))
def test_round_trips_through_its_text(amount: Decimal) -> None:
    money = Money.parse(str(amount))
    assert money.amount == amount
    assert Money.parse(str(money)) == money
