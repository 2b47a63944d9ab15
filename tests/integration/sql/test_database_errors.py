"""A database error that retrying cannot fix is not reported as "busy"."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy.exc import OperationalError

from kanglu.adapters.sql.engine import make_engine
from kanglu.adapters.sql.unit_of_work import SqlUnitOfWorkFactory


def test_a_missing_schema_is_said_as_such_not_as_busy(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'empty.sqlite3'}")
    try:
        uow = SqlUnitOfWorkFactory(engine)
        with pytest.raises(OperationalError, match="no such table"), uow() as unit:
            unit.merchants.get_by_email("a@b.com.br")
    finally:
        engine.dispose()
