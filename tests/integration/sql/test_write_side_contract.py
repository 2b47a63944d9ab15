"""The SQL repositories honour the write-side contract the in-memory fakes honour, on SQLite
and on PostgreSQL (skipped, saying so, when KANGLU_TEST_POSTGRES_URL is unset)."""

from __future__ import annotations

import pytest
from sqlalchemy.engine import Engine

from kanglu.adapters.sql.sync_queries import SqlSyncQueries
from kanglu.adapters.sql.unit_of_work import SqlUnitOfWorkFactory
from tests.write_side_contract import *
from tests.write_side_contract import WriteSide


@pytest.fixture
def write_side(engine: Engine) -> WriteSide:
    return WriteSide(SqlUnitOfWorkFactory(engine), SqlSyncQueries(engine))
