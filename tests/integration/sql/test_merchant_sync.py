"""The history, alert settings and carrier mappings against the real databases: a quiet poll's
event rides in the poll's own statement and folds into one row per hour; the purge; the read
side of the Integrações card and the Histórico page."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import event

from kanglu.adapters.sql.sync_queries import SqlSyncQueries
from kanglu.adapters.sql.poll_progress import SqlPollProgress
from kanglu.adapters.sql.unit_of_work import SqlUnitOfWorkFactory
from kanglu.application.queries import PageRequest, mapping_id
from kanglu.domain.connections import ErpConnection, PollProgress
from kanglu.domain.events import AlertChannel, AlertKind, AlertRequest, ConnectionEvent, EventKind, NotificationSettings
from kanglu.domain.jobs import JobKey, JobKind
from kanglu.domain.merchants import Merchant
from kanglu.domain.secrets import Sealed
from kanglu.domain.tracking import OutboxMessage

NOW = datetime(2026, 7, 1, 12, 0, tzinfo=UTC)


@pytest.fixture
def ids(uow: SqlUnitOfWorkFactory) -> tuple[int, int]:
    with uow() as u:
        m = Merchant(name="Loja", email="loja@example.com", password_hash="x", created_at=NOW)
        u.merchants.add(m)
        u.flush()
        c = ErpConnection(merchant_id=m.id, client_id="cid", client_secret=Sealed("gAAAA-cipher"), updated_at=NOW)
        u.connections.add(c)
        u.commit()
        return m.id, c.id


def quiet_poll(uow: SqlUnitOfWorkFactory, connection_id: int, at: datetime, owner: str = "w1") -> list[str]:
    """One completed quiet poll as the worker writes it; the statements it sent."""
    with uow() as u:
        u.jobs.schedule(JobKind.POLL, connection_id, at)
        u.commit()
    with uow() as u:
        u.jobs.claim(owner, at, timedelta(minutes=5), 1)
        u.commit()
    progress = SqlPollProgress(uow.engine)
    copy = progress.start(connection_id)
    copy.finish_poll(PollProgress(at - timedelta(minutes=2), at, 0), at)
    statements: list[str] = []
    listener = lambda *args: statements.append(args[2])  # noqa: E731
    event.listen(uow.engine, "before_cursor_execute", listener)
    try:
        key = JobKey(JobKind.POLL, connection_id)
        progress.offer_release(key, owner)
        poll = ConnectionEvent.poll(connection_id, at, imported=0, updated=0, failed=0, api_calls=1)
        progress.complete(copy, poll, at + timedelta(minutes=2))
        assert progress.released(key) is True
    finally:
        event.remove(uow.engine, "before_cursor_execute", listener)
    return statements


def test_a_quiet_polls_event_adds_no_statement_on_postgresql_and_folds_per_hour(uow, ids) -> None:  # type: ignore[no-untyped-def]
    _, connection_id = ids
    statements = quiet_poll(uow, connection_id, NOW)
    # PostgreSQL: the poll's write, the job's release and the event are one statement (one round
    # trip, as before the history existed); SQLite: three statements in one transaction.
    assert len(statements) == (1 if uow.engine.dialect.name == "postgresql" else 3)
    for minutes in (2, 4, 58):
        quiet_poll(uow, connection_id, NOW + timedelta(minutes=minutes))
    quiet_poll(uow, connection_id, NOW + timedelta(hours=1, minutes=1))  # the next hour: a new row
    page = SqlSyncQueries(uow.engine).events(1, PageRequest(1, 20))
    assert [(e.kind, e.polls, e.api_calls) for e in page.items] == [(EventKind.POLL, 1, 1), (EventKind.POLL, 4, 4)]
    folded = page.items[1]
    assert (folded.first_at, folded.at) == (NOW, NOW + timedelta(minutes=58))


def test_busy_polls_and_other_events_are_one_row_each_newest_first_and_purged_after_90_days(uow, ids) -> None:  # type: ignore[no-untyped-def]
    merchant_id, connection_id = ids
    with uow() as u:
        u.events.add(ConnectionEvent(connection_id, EventKind.CONNECTED, NOW - timedelta(days=91), "conta Loja"))
        u.events.add(ConnectionEvent.poll(connection_id, NOW, imported=3, updated=1, failed=1, api_calls=4))
        u.events.add(ConnectionEvent.poll(connection_id, NOW + timedelta(minutes=2), imported=1, updated=0,
                                          failed=0, api_calls=2))
        u.events.add(ConnectionEvent(connection_id, EventKind.RENEWAL, NOW + timedelta(minutes=3)))
        u.commit()
    queries = SqlSyncQueries(uow.engine)
    page = queries.events(merchant_id, PageRequest(1, 2))
    assert page.total == 4
    assert [(e.kind, e.imported) for e in page.items] == [(EventKind.RENEWAL, 0), (EventKind.POLL, 1)]
    with uow() as u:
        assert u.events.purge(NOW - timedelta(days=90)) == 1
        u.commit()
    assert queries.events(merchant_id, PageRequest(1, 20)).total == 3
    assert queries.events(merchant_id + 1, PageRequest(1, 20)).total == 0  # another merchant sees nothing


def test_notification_settings_default_save_and_an_alert_round_trips_through_the_outbox(uow, ids) -> None:  # type: ignore[no-untyped-def]
    merchant_id, connection_id = ids
    queries = SqlSyncQueries(uow.engine)
    assert queries.notifications(merchant_id).email is True
    with uow() as u:
        settings = u.notifications.get(merchant_id)
        settings.email, settings.webhook_url, settings.webhook_secret = False, "https://x.example/h", Sealed("gAAAA-s")
        u.notifications.save(settings)
        alert = AlertRequest(AlertChannel.WEBHOOK, AlertKind.DISCONNECTED, merchant_id, connection_id, "motivo", NOW)
        u.outbox.add(OutboxMessage(stream=alert.stream, request=alert, created_at=NOW, next_attempt_at=NOW))
        u.commit()
    saved = queries.notifications(merchant_id)
    assert (saved.email, saved.webhook_url, saved.webhook_secret) == (False, "https://x.example/h", Sealed("gAAAA-s"))
    with uow() as u:
        [message] = u.outbox.claim("w", NOW, timedelta(minutes=1), 10)
        assert message.request == alert


def test_sync_state_and_carrier_mappings(uow, ids) -> None:  # type: ignore[no-untyped-def]
    merchant_id, connection_id = ids
    queries = SqlSyncQueries(uow.engine)
    with uow() as u:
        c = u.connections.get(connection_id)
        c.status = c.status.CONNECTED
        u.jobs.schedule(JobKind.POLL, connection_id, NOW)
        u.carrier_mappings.set(merchant_id, "retirada na loja", "none")
        u.commit()
    state = queries.sync_state(merchant_id)
    assert state is not None and state.first_import and state.next_sync_at == NOW and state.orders == 0
    [mapping] = queries.carrier_mappings(merchant_id)
    assert (mapping.id, mapping.carrier_code, mapping.label) == (mapping_id("retirada na loja"), "none", "retirada na loja")
    with uow() as u:
        assert u.carrier_mappings.remove(merchant_id, "retirada na loja") is True
        assert u.carrier_mappings.remove(merchant_id, "retirada na loja") is False
        u.commit()
    assert queries.carrier_mappings(merchant_id) == []
    assert NotificationSettings(merchant_id).email is True
