"""The in-memory read side honours the read-side contract the SQL one will share."""

from __future__ import annotations

import pytest

from tests.fake_queries import FakeCustomerQueries, FakeMerchantQueries, FakeOrderQueries
from tests.fakes import FakeUnitOfWorkFactory
from tests.read_side_contract import *  # noqa: F403 - the contract's tests run here
from tests.read_side_contract import ReadSide


@pytest.fixture
def read_side() -> ReadSide:
    uow = FakeUnitOfWorkFactory()
    return ReadSide(uow, FakeOrderQueries(uow.db), FakeCustomerQueries(uow.db), FakeMerchantQueries(uow.db))
