"""The in-memory repositories honour the write-side contract the SQL ones honour."""

from __future__ import annotations

import pytest

from tests.fake_queries import FakeSyncQueries
from tests.fakes import FakeUnitOfWorkFactory
from tests.write_side_contract import *
from tests.write_side_contract import WriteSide


@pytest.fixture
def write_side() -> WriteSide:
    uow = FakeUnitOfWorkFactory()
    return WriteSide(uow, FakeSyncQueries(uow.db))
