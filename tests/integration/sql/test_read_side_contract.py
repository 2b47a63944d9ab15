"""The SQL read side honours the read-side contract the in-memory fakes honour, on SQLite
and on PostgreSQL."""

from __future__ import annotations

import pytest
from sqlalchemy.engine import Engine

from kanglu.adapters.sql.queries import SqlCustomerQueries, SqlMerchantQueries, SqlOrderQueries
from kanglu.adapters.sql.unit_of_work import SqlUnitOfWorkFactory
from tests.read_side_contract import *  # noqa: F403 - the contract's tests run here
from tests.read_side_contract import ReadSide


@pytest.fixture
def read_side(engine: Engine) -> ReadSide:
    return ReadSide(
        SqlUnitOfWorkFactory(engine), SqlOrderQueries(engine), SqlCustomerQueries(engine), SqlMerchantQueries(engine)
    )
