"""The SQL poll-progress store honours the contract the fake honours, on SQLite and on
PostgreSQL (skipped, saying so, when KANGLU_TEST_POSTGRES_URL is unset)."""

from __future__ import annotations

import pytest
from sqlalchemy.engine import Engine

from kanglu.adapters.sql.poll_progress import SqlPollProgress
from kanglu.adapters.sql.sync_queries import SqlSyncQueries
from kanglu.adapters.sql.unit_of_work import SqlUnitOfWorkFactory
from tests.poll_progress_contract import *
from tests.poll_progress_contract import ProgressSide
from tests.write_side_contract import WriteSide


@pytest.fixture
def progress_side(engine: Engine) -> ProgressSide:
    return ProgressSide(WriteSide(SqlUnitOfWorkFactory(engine), SqlSyncQueries(engine)), SqlPollProgress(engine))
