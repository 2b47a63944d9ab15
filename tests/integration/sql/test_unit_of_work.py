"""The unit of work: one transaction at a time, rolled back unless committed, several commits
in one `with`, and repositories that never commit."""

from __future__ import annotations

import time
from datetime import UTC, datetime

import pytest
from sqlalchemy import Insert, func, insert, select, text
from sqlalchemy.engine import Engine

from kanglu.adapters.sql import engine as engine_module
from kanglu.adapters.sql import tables as t
from kanglu.adapters.sql.engine import make_engine
from kanglu.adapters.sql.poll_progress import SqlPollProgress
from kanglu.adapters.sql.unit_of_work import SqlUnitOfWorkFactory
from kanglu.application.errors import TransientFailure
from kanglu.domain.merchants import Merchant

NOW = datetime(2026, 7, 1, 12, 0, tzinfo=UTC)


def merchant(email: str = "a@example.com") -> Merchant:
    return Merchant(name="Loja", email=email, password_hash=None, created_at=NOW)


def merchant_row(email: str) -> Insert:
    """A merchant as one Core statement (what a repository's single-statement write is)."""
    return insert(t.merchants).values(name="Loja", email=email, created_at=NOW)


def count_merchants(uow: SqlUnitOfWorkFactory) -> int:
    with uow.engine.connect() as connection:
        return connection.scalar(select(func.count()).select_from(t.merchants))


def test_nothing_is_kept_unless_committed(uow: SqlUnitOfWorkFactory) -> None:
    with uow() as u:
        u.merchants.add(merchant())
        u.flush()
    assert count_merchants(uow) == 0


def test_an_exception_rolls_back(uow: SqlUnitOfWorkFactory) -> None:
    with pytest.raises(RuntimeError), uow() as u:
        u.merchants.add(merchant())
        u.flush()
        raise RuntimeError("boom")
    assert count_merchants(uow) == 0


def test_commit_keeps_and_the_entity_stays_readable_after_the_block(uow: SqlUnitOfWorkFactory) -> None:
    with uow() as u:
        m = merchant()
        u.merchants.add(m)
        u.commit()
    assert count_merchants(uow) == 1
    assert (m.id, m.email, m.created_at) == (1, "a@example.com", NOW)


def test_flush_gives_ids_before_commit(uow: SqlUnitOfWorkFactory) -> None:
    with uow() as u:
        m = merchant()
        u.merchants.add(m)
        assert m.id is None
        u.flush()
        assert m.id is not None


def test_several_commits_in_one_block_each_end_a_transaction(uow: SqlUnitOfWorkFactory) -> None:
    with uow() as u:
        first = merchant("first@example.com")
        u.merchants.add(first)
        u.commit()
        assert count_merchants(uow) == 1  # visible to others: the transaction ended
        first.name = "Renomeada"
        u.merchants.add(merchant("second@example.com"))
        u.commit()
        u.merchants.add(merchant("third@example.com"))
        # not committed: lost when the block ends
    with uow() as u:
        assert u.merchants.get_by_email("first@example.com").name == "Renomeada"
        assert u.merchants.get_by_email("second@example.com") is not None
        assert u.merchants.get_by_email("third@example.com") is None


def test_explicit_rollback_forgets_and_the_unit_stays_usable(uow: SqlUnitOfWorkFactory) -> None:
    with uow() as u:
        u.merchants.add(merchant("gone@example.com"))
        u.flush()
        u.rollback()
        u.merchants.add(merchant("kept@example.com"))
        u.commit()
    with uow() as u:
        assert u.merchants.get_by_email("gone@example.com") is None
        assert u.merchants.get_by_email("kept@example.com") is not None


def test_repositories_never_commit(uow: SqlUnitOfWorkFactory) -> None:
    from kanglu.domain.jobs import JobKind
    from kanglu.domain.shipping import ShippingFamily

    with uow() as u:
        m = merchant()
        u.merchants.add(m)
        u.flush()
        # Writes that go through Core statements rather than the session's flush.
        u.carrier_mappings.set(m.id, "sedex", "correios")
        u.jobs.schedule(JobKind.POLL, 1, NOW)
    with uow.engine.connect() as connection:
        for table in (t.merchants, t.carrier_mappings, t.jobs):
            assert connection.scalar(select(func.count()).select_from(table)) == 0


def test_the_unit_of_work_cannot_be_used_outside_its_block(uow: SqlUnitOfWorkFactory) -> None:
    unit = uow()
    with unit:
        pass
    with pytest.raises(RuntimeError):
        unit.commit()


def test_sqlite_runs_in_wal_mode_with_a_busy_timeout(tmp_path) -> None:  # type: ignore[no-untyped-def]
    from kanglu.adapters.sql.engine import make_engine

    engine = make_engine(f"sqlite:///{tmp_path / 'x.sqlite3'}")
    with engine.connect() as connection:
        assert connection.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert connection.exec_driver_sql("PRAGMA busy_timeout").scalar() >= 5000
        assert connection.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
    engine.dispose()


def test_an_sqlite_too_old_for_the_job_claim_is_refused_with_a_clear_message(tmp_path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    import sqlite3

    from kanglu.adapters.sql import engine as engine_module

    monkeypatch.setattr(sqlite3, "sqlite_version_info", (3, 31, 1))
    monkeypatch.setattr(sqlite3, "sqlite_version", "3.31.1")
    with pytest.raises(RuntimeError, match=r"SQLite 3\.35 or newer; this Python has 3\.31\.1"):
        engine_module.make_engine(f"sqlite:///{tmp_path / 'old.sqlite3'}")


def test_an_idle_connection_that_died_is_replaced_before_use(engine: Engine, monkeypatch: pytest.MonkeyPatch) -> None:
    """PostgreSQL restarted, or a firewall dropped an idle connection: the pool notices at
    checkout (the connection sat idle) and opens another, instead of failing a unit of work."""
    if engine.dialect.name != "postgresql":
        pytest.skip("SQLite has no server connection to lose")
    monkeypatch.setattr(engine_module, "PING_AFTER_IDLE_SECONDS", 0.0)
    single = make_engine(engine.url.render_as_string(hide_password=False), pool_size=1, max_overflow=0)
    try:
        with single.connect() as connection:
            first = connection.scalar(text("SELECT pg_backend_pid()"))
        with engine.begin() as admin:
            assert admin.scalar(text("SELECT pg_terminate_backend(:pid)"), {"pid": first})
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            with engine.connect() as admin:
                if not admin.scalar(text("SELECT count(*) FROM pg_stat_activity WHERE pid = :pid"), {"pid": first}):
                    break
            time.sleep(0.05)
        with single.connect() as connection:  # would raise OperationalError without the ping
            assert connection.scalar(text("SELECT pg_backend_pid()")) != first
    finally:
        single.dispose()


# -- a database that is away ------------------------------------------------------------------


@pytest.mark.parametrize("url", [
    "postgresql+psycopg://postgres@127.0.0.1:1/kanglu?connect_timeout=2",  # nothing listens on port 1
    "sqlite:////nonexistent-directory/kanglu.sqlite3",
])
def test_a_read_from_a_database_that_is_away_is_a_transient_failure(url: str, caplog: pytest.LogCaptureFixture) -> None:
    # What the poll and the worker retry on their short schedule, as they do a failed commit.
    engine = make_engine(url)
    try:
        with pytest.raises(TransientFailure), SqlUnitOfWorkFactory(engine)() as u:
            u.connections.get(1)
        with pytest.raises(TransientFailure):  # the poll's own read, outside any unit of work
            SqlPollProgress(engine).start(1)
        assert "database read failed, will be retried" in caplog.text
    finally:
        engine.dispose()
