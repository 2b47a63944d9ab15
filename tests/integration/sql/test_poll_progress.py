"""The poll's progress store on both backends: the poll's own columns only, a quiet poll's
whole write in one statement on PostgreSQL (with its history row and its job's release), reads
without a transaction, and the error kind that decides which error a completed poll clears."""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta

import pytest
from sqlalchemy import event, update

from kanglu.adapters.sql import tables as t
from kanglu.adapters.sql.engine import make_engine
from kanglu.adapters.sql.poll_progress import SqlPollProgress
from kanglu.adapters.sql.unit_of_work import SqlUnitOfWorkFactory
from kanglu.application.commands import PollOrdersByStatusCommand
from kanglu.application.errors import TransientFailure
from kanglu.domain.connections import ErrorKind, PollProgress
from kanglu.domain.events import ConnectionEvent
from kanglu.domain.jobs import JobKey, JobKind
from kanglu.domain.secrets import Sealed
from tests.integration.sql.helpers import SqlWorld
from tests.integration.sql.test_repositories import NOW, ids  # noqa: F401 - the fixture


@contextmanager
def statements(uow: SqlUnitOfWorkFactory) -> Iterator[list[str]]:
    sent: list[str] = []
    listener = lambda *args: sent.append(args[2])  # noqa: E731
    event.listen(uow.engine, "before_cursor_execute", listener)
    try:
        yield sent
    finally:
        event.remove(uow.engine, "before_cursor_execute", listener)


def poll_event(connection_id: int) -> ConnectionEvent:
    return ConnectionEvent.poll(connection_id, NOW, imported=0, updated=0, failed=0, api_calls=1)


def test_a_poll_writes_its_own_columns_of_its_copy_and_clears_its_own_error(uow: SqlUnitOfWorkFactory, ids) -> None:  # type: ignore[no-untyped-def]  # noqa: F811
    """The poll reads its connection once: each page's write takes that copy's poll columns and
    leaves what another process wrote meanwhile (a renewal) alone."""
    _, connection_id = ids
    progress = SqlPollProgress(uow.engine)
    progress.fail(connection_id, "o Tiny não respondeu", NOW)
    copy = progress.start(connection_id)
    assert copy is not None and copy.error_kind is ErrorKind.POLL
    with uow.engine.begin() as other:  # a renewal in another process, after the poll's read
        other.execute(update(t.erp_connections).values(token_version=5, access_token=Sealed("gAAAA-renewed")))
    with statements(uow) as sent:
        copy.advance_poll(PollProgress(NOW - timedelta(days=1), NOW, 0), 100)
        progress.checkpoint(copy)
        with uow() as u:
            assert u.connections.get(connection_id).poll_progress() == PollProgress(NOW - timedelta(days=1), NOW, 100)
        sent.clear()
        copy.finish_poll(PollProgress(NOW - timedelta(days=1), NOW, 100), NOW)  # the next page, the last one
        progress.complete(copy, poll_event(connection_id), NOW + timedelta(minutes=2))
    # PostgreSQL: the cursor and the history row, one statement; SQLite: two, one transaction.
    assert len(sent) == (1 if uow.engine.dialect.name == "postgresql" else 2)
    with uow() as u:
        stored = u.connections.get(connection_id)
        assert (stored.token_version, stored.access_token) == (5, Sealed("gAAAA-renewed"))
        assert stored.poll_cursor == NOW and stored.poll_progress() is None and stored.last_sync_at == NOW
        assert (stored.last_error, stored.error_kind) == (None, None)  # the poll's own error, cleared


def test_a_completed_poll_keeps_an_error_that_is_not_the_polls(uow: SqlUnitOfWorkFactory, ids) -> None:  # type: ignore[no-untyped-def]  # noqa: F811
    _, connection_id = ids
    progress = SqlPollProgress(uow.engine)
    copy = progress.start(connection_id)
    with uow() as u:  # written after the poll's read, by a renewal whose text looks like the poll's
        u.connections.get(connection_id).note_refresh_failure("Sincronização: o Tiny recusou", NOW)
        u.commit()
    copy.finish_poll(PollProgress(NOW - timedelta(days=1), NOW, 0), NOW)
    progress.complete(copy, poll_event(connection_id), NOW + timedelta(minutes=2))
    with uow() as u:
        stored = u.connections.get(connection_id)
        assert stored.error_kind is ErrorKind.RENEWAL and "o Tiny recusou" in stored.last_error


def test_a_quiet_poll_hands_its_job_back_in_the_same_write(uow: SqlUnitOfWorkFactory, ids) -> None:  # type: ignore[no-untyped-def]  # noqa: F811
    """A completed poll's write when the runner offered the job: the connection's poll columns,
    the history row and the job's release, one statement on PostgreSQL, three on SQLite."""
    _, connection_id = ids
    key = JobKey(JobKind.POLL, connection_id)
    with uow() as u:
        u.jobs.schedule(JobKind.POLL, connection_id, NOW)
        u.commit()
    with uow() as u:
        [job] = u.jobs.claim("w1", NOW, timedelta(minutes=5), 1)
        u.commit()
    progress = SqlPollProgress(uow.engine)
    copy = progress.start(connection_id)
    copy.finish_poll(PollProgress(NOW - timedelta(days=1), NOW, 0), NOW)
    with statements(uow) as sent:
        progress.offer_release(key, "w2")  # a lease lost: not released
        progress.complete(copy, poll_event(connection_id), NOW + timedelta(minutes=2))
        assert progress.released(key) is False
        progress.offer_release(key, "w1")
        progress.complete(copy, poll_event(connection_id), NOW + timedelta(minutes=2))
        assert progress.released(key) is True
        assert progress.released(key) is None  # told once
    assert len(sent) == (2 if uow.engine.dialect.name == "postgresql" else 6)
    with uow() as u:
        stored = u.connections.get(connection_id)
        assert stored.poll_cursor == NOW and stored.last_sync_at == NOW and stored.poll_progress() is None
        released = u.jobs.get(JobKind.POLL, connection_id)
        assert released.lease_owner is None and released.due_at == NOW + timedelta(minutes=2)
        assert released.attempts == 0 and released.id == job.id


def test_a_preloaded_connection_spares_the_read_once(uow: SqlUnitOfWorkFactory, ids) -> None:  # type: ignore[no-untyped-def]  # noqa: F811
    _, connection_id = ids
    progress = SqlPollProgress(uow.engine)
    with uow() as u:
        progress.preload(u.connections.many([connection_id]))
    with statements(uow) as sent:
        assert progress.start(connection_id).id == connection_id
    assert sent == []
    with statements(uow) as sent:
        assert progress.start(connection_id).id == connection_id  # taken: read anew
    assert len(sent) == 1


def test_the_polls_reads_open_no_transaction_on_postgresql(uow: SqlUnitOfWorkFactory, ids) -> None:  # type: ignore[no-untyped-def]  # noqa: F811
    if uow.engine.dialect.name != "postgresql":
        pytest.skip("SQLite readers begin a plain (deferred) transaction: see the next test")
    _, connection_id = ids
    progress = SqlPollProgress(uow.engine)
    autocommit: list[bool] = []
    listener = lambda conn, *args: autocommit.append(conn.connection.driver_connection.autocommit)  # noqa: E731
    event.listen(uow.engine, "before_cursor_execute", listener)
    try:
        connection = progress.start(connection_id)
        progress.stored_page(connection, [1, 2], None)
        connection.advance_poll(PollProgress(NOW, NOW, 0), 100)
        progress.checkpoint(connection)
    finally:
        event.remove(uow.engine, "before_cursor_execute", listener)
    assert autocommit and all(autocommit)  # no BEGIN, no COMMIT or ROLLBACK: one round trip each
    with uow() as u:  # the pooled connection is back to transactions for writers
        assert not u.session.connection().connection.driver_connection.autocommit


def test_the_polls_read_on_sqlite_does_not_wait_for_a_writer(uow: SqlUnitOfWorkFactory, ids) -> None:  # type: ignore[no-untyped-def]  # noqa: F811
    if uow.engine.dialect.name != "sqlite":
        pytest.skip("PostgreSQL readers never wait for writers")
    _, connection_id = ids
    progress = SqlPollProgress(uow.engine)
    with uow() as writer:
        writer.connections.get(connection_id).account_name = "Outra"
        writer.flush()  # holds SQLite's write lock until the end of this block
        started = time.monotonic()
        assert progress.start(connection_id).account_name is None  # not committed yet
        assert time.monotonic() - started < 5  # not the 30 s busy timeout


def test_a_write_to_a_database_that_is_away_is_a_transient_failure(uow: SqlUnitOfWorkFactory, ids) -> None:  # type: ignore[no-untyped-def]  # noqa: F811
    _, connection_id = ids
    copy = SqlPollProgress(uow.engine).start(connection_id)
    copy.advance_poll(PollProgress(NOW, NOW, 0), 100)
    engine = make_engine("postgresql+psycopg://postgres@127.0.0.1:1/kanglu?connect_timeout=2")
    try:
        with pytest.raises(TransientFailure):
            SqlPollProgress(engine).checkpoint(copy)
    finally:
        engine.dispose()


def test_a_quiet_poll_run_by_the_runner_costs_one_statement_on_postgresql(world: SqlWorld) -> None:
    """The whole database cost of a poll that finds nothing new, once its job is claimed: the
    connection came with the claim, the empty page needs no read, and the cursor, the history
    row and the job's release are one statement (three in one transaction on SQLite)."""
    _, connection_id = world.connect()
    world.poll()(PollOrdersByStatusCommand(connection_id))  # the first poll: the backfill, empty
    world.clock.advance(minutes=5)
    handlers = world.handlers()
    with world.uow() as u:
        u.jobs.schedule(JobKind.POLL, connection_id, world.clock.now())
        u.commit()
    with world.uow() as u:
        [job] = u.jobs.claim("w1", world.clock.now(), timedelta(minutes=5), 10)
        handlers.prefetch(u, [job])
        u.commit()
    with statements(world.uow) as sent:
        result = handlers.run(job, "w1")
    assert (result.outcome, result.lease_kept) == ("completed", True)
    assert len(sent) == (1 if world.uow.engine.dialect.name == "postgresql" else 3), sent
    with world.uow() as u:
        assert u.jobs.get(JobKind.POLL, connection_id).lease_owner is None
