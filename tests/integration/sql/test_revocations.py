"""Revocations waiting for Tiny, in the database: claimed once, leased, finished without the
token and secret."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import select
from sqlalchemy.engine import Engine

from kanglu.adapters.sql import tables as t
from kanglu.adapters.sql.unit_of_work import SqlUnitOfWorkFactory
from kanglu.domain.revocations import REVOKED, TokenRevocation
from kanglu.domain.secrets import Sealed

T0 = datetime(2026, 7, 1, 12, 0, tzinfo=UTC)


def _connection(engine: Engine) -> int:
    with engine.begin() as c:
        merchant = c.execute(t.merchants.insert().values(name="L", email="l@x.com.br", created_at=T0)
                             .returning(t.merchants.c.id)).scalar_one()
        return c.execute(t.erp_connections.insert().values(
            merchant_id=merchant, erp="tiny", status="disconnected", token_version=1, refresh_failures=0,
        ).returning(t.erp_connections.c.id)).scalar_one()


def test_claim_lease_retry_and_finish(engine: Engine) -> None:
    uow = SqlUnitOfWorkFactory(engine)
    connection_id = _connection(engine)
    with uow() as u:
        u.revocations.add(TokenRevocation(connection_id, "client", Sealed("sealed-secret"), Sealed("sealed-refresh"),
                                          T0, T0))
        u.commit()
    with uow() as u:
        claimed = u.revocations.claim("w1", T0, timedelta(minutes=2), 10)
        u.commit()
    assert [r.refresh_token for r in claimed] == [Sealed("sealed-refresh")]
    with uow() as u:
        assert u.revocations.claim("w2", T0 + timedelta(minutes=1), timedelta(minutes=2), 10) == []  # leased
        u.revocations.finish(claimed[0].id, "w1", outcome=None, error="HTTP 503",
                             next_attempt_at=T0 + timedelta(minutes=5), now=T0)
        u.commit()
    with uow() as u:
        assert u.revocations.claim("w2", T0 + timedelta(minutes=4), timedelta(minutes=2), 10) == []  # not due
        again = u.revocations.claim("w2", T0 + timedelta(minutes=5), timedelta(minutes=2), 10)
        u.revocations.finish(again[0].id, "w1", outcome=REVOKED, error=None, next_attempt_at=None, now=T0)  # not its lease
        u.revocations.finish(again[0].id, "w2", outcome=REVOKED, error=None, next_attempt_at=None, now=T0)
        u.commit()
    with engine.connect() as c:
        row = c.execute(select(t.token_revocations)).one()
    assert (row.attempts, row.outcome, row.refresh_token, row.client_secret) == (2, REVOKED, None, None)
    with uow() as u:
        assert u.revocations.claim("w3", T0 + timedelta(days=1), timedelta(minutes=2), 10) == []
