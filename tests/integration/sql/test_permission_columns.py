"""The connection's permission columns (migration 0004) on both backends."""

from __future__ import annotations

from datetime import timedelta

from kanglu.adapters.sql.poll_progress import SqlPollProgress
from kanglu.adapters.sql.unit_of_work import SqlUnitOfWorkFactory
from kanglu.domain.connections import PollProgress
from kanglu.domain.permissions import ErpPermission
from tests.integration.sql.test_repositories import NOW, ids  # noqa: F401 - the fixture

NOTAS, INFO = ErpPermission.NOTAS_FISCAIS, ErpPermission.INFO_CONTA


def test_missing_permissions_round_trip_and_a_poll_save_leaves_them_alone(
    uow: SqlUnitOfWorkFactory, ids  # type: ignore[no-untyped-def]  # noqa: F811
) -> None:
    _, connection_id = ids
    with uow() as u:
        assert u.connections.get(connection_id).missing_permissions == frozenset()
    with uow() as u:
        c = u.connections.lock(connection_id)
        assert c.note_permission_missing(NOTAS, NOW - timedelta(days=30), NOW)
        c.note_permission_missing(INFO, None, NOW)
        u.commit()
    with uow() as u:
        copy = u.connections.get(connection_id)
    assert copy.missing_permissions == {NOTAS, INFO}
    assert (copy.permissions_checked_at, copy.incomplete_since) == (NOW, NOW - timedelta(days=30))
    # The poll's own write (its columns only) leaves them as they are.
    copy.advance_poll(PollProgress(NOW - timedelta(days=30), NOW, 100), 100)
    SqlPollProgress(uow.engine).checkpoint(copy)
    with uow() as u:
        c = u.connections.lock(connection_id)
        assert c.missing_permissions == {NOTAS, INFO} and c.poll_offset == 100
        assert c.note_permission_back(NOTAS, NOW + timedelta(minutes=5))
        u.commit()
    with uow() as u:
        c = u.connections.get(connection_id)
    assert c.missing_permissions == {INFO} and c.incomplete_since is None
    # Read again from where the orders went in without invoices, from the first page.
    assert (c.poll_since, c.poll_started_at, c.poll_offset) == (NOW - timedelta(days=30), NOW, 0)
