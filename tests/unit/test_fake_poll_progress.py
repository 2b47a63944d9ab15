"""The fake poll-progress store honours the contract the SQL store honours."""

from __future__ import annotations

import pytest

from tests.fake_queries import FakeSyncQueries
from tests.fakes import FakePollProgress, FakeUnitOfWorkFactory
from tests.poll_progress_contract import *
from tests.poll_progress_contract import ProgressSide
from tests.write_side_contract import WriteSide


@pytest.fixture
def progress_side() -> ProgressSide:
    uow = FakeUnitOfWorkFactory()
    return ProgressSide(WriteSide(uow, FakeSyncQueries(uow.db)), FakePollProgress(uow))
