"""What any PollProgressStore (application/ports/poll_progress.py) must do, written once: a
test module imports these tests and provides a `progress_side` fixture (a WriteSide and the
store over the same storage). The fake (tests/fakes.py: FakePollProgress) runs them in
tests/unit, the SQL store on SQLite and PostgreSQL in tests/integration/sql, so the poll's
unit tests cannot pass over a fake that the database would contradict. How few statements the
SQL store spends is tested beside it (tests/integration/sql/test_poll_progress.py)."""

from __future__ import annotations

from datetime import timedelta

import attrs

from kanglu.application.ports import PollProgressStore
from kanglu.application.queries import PageRequest
from kanglu.domain.connections import ErrorKind, PollProgress
from kanglu.domain.events import ConnectionEvent, EventKind
from tests.write_side_contract import WriteSide


@attrs.define
class ProgressSide:
    write: WriteSide
    store: PollProgressStore


def _quiet_poll(connection_id: int, side: ProgressSide) -> ConnectionEvent:
    return ConnectionEvent.poll(connection_id, side.write.clock.now(), imported=0, updated=0, failed=0, api_calls=1)


def test_start_reads_the_connection_and_nothing_for_an_unknown_one(progress_side: ProgressSide) -> None:
    _, connection_id = progress_side.write.shop()
    started = progress_side.store.start(connection_id)
    assert started is not None and started.id == connection_id
    assert progress_side.store.start(connection_id + 1000) is None


def test_a_checkpoint_keeps_the_window_and_leaves_what_another_process_wrote(progress_side: ProgressSide) -> None:
    side = progress_side
    _, connection_id = side.write.shop()
    copy = side.store.start(connection_id)
    assert copy is not None
    with side.write.uow() as uow:  # a renewal elsewhere after the poll's read
        other = uow.connections.get(connection_id)
        assert other is not None
        other.note_refresh_failure("o Tiny não respondeu", side.write.clock.now())
        uow.commit()
    now = side.write.clock.now()
    window = PollProgress(now - timedelta(days=1), now, 0)
    copy.advance_poll(window, 100)
    side.store.checkpoint(copy)
    with side.write.uow() as uow:
        stored = uow.connections.get(connection_id)
        assert stored is not None
        assert stored.poll_progress() == PollProgress(now - timedelta(days=1), now, 100)
        assert stored.error_kind is ErrorKind.RENEWAL and stored.refresh_failures == 1


def test_complete_moves_the_cursor_clears_the_polls_error_and_records_the_run(progress_side: ProgressSide) -> None:
    side = progress_side
    merchant_id, connection_id = side.write.shop()
    now = side.write.clock.now()
    side.store.fail(connection_id, "o Tiny não respondeu", now)
    copy = side.store.start(connection_id)
    assert copy is not None and copy.error_kind is ErrorKind.POLL and copy.last_error
    copy.finish_poll(PollProgress(now - timedelta(days=1), now, 0), now)
    side.store.complete(copy, _quiet_poll(connection_id, side), now + timedelta(minutes=2))
    with side.write.uow() as uow:
        stored = uow.connections.get(connection_id)
        assert stored is not None
        assert stored.poll_cursor == now and stored.last_sync_at == now and stored.poll_progress() is None
        assert stored.last_error is None and stored.error_kind is None
    kinds = [e.kind for e in side.write.sync.events(merchant_id, PageRequest(1, 50)).items]
    assert EventKind.POLL in kinds


def test_a_completed_poll_keeps_an_error_that_is_not_the_polls(progress_side: ProgressSide) -> None:
    side = progress_side
    _, connection_id = side.write.shop()
    now = side.write.clock.now()
    copy = side.store.start(connection_id)
    assert copy is not None
    with side.write.uow() as uow:
        other = uow.connections.get(connection_id)
        assert other is not None
        other.note_refresh_failure("o Tiny não respondeu", now)
        uow.commit()
    copy.finish_poll(PollProgress(now - timedelta(days=1), now, 0), now)
    side.store.complete(copy, _quiet_poll(connection_id, side), now + timedelta(minutes=2))
    with side.write.uow() as uow:
        stored = uow.connections.get(connection_id)
        assert stored is not None and stored.poll_cursor == now
        assert stored.error_kind is ErrorKind.RENEWAL and stored.last_error


def test_a_failure_is_the_polls_own_error(progress_side: ProgressSide) -> None:
    side = progress_side
    _, connection_id = side.write.shop()
    side.store.fail(connection_id, "o Tiny não respondeu", side.write.clock.now())
    with side.write.uow() as uow:
        stored = uow.connections.get(connection_id)
        assert stored is not None and stored.error_kind is ErrorKind.POLL
        assert stored.last_error is not None and "o Tiny não respondeu" in stored.last_error
