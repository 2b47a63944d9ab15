"""Revocations waiting for Tiny (the `token_revocations` table), in the unit of work's session:
Desconectar writes one in the same transaction that forgets the connection's tokens."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import insert, or_, select, update
from sqlalchemy.orm import Session

from kanglu.adapters.sql import tables as t
from kanglu.adapters.sql.engine import hold_write_lock
from kanglu.domain.revocations import TokenRevocation


class SqlTokenRevocationRepository:
    def __init__(self, session: Session) -> None:
        self._session = session

    def add(self, revocation: TokenRevocation) -> None:
        r = t.token_revocations
        revocation.id = self._session.execute(
            insert(r)
            .values(
                connection_id=revocation.connection_id,
                client_id=revocation.client_id,
                client_secret=revocation.client_secret,
                refresh_token=revocation.refresh_token,
                created_at=revocation.created_at,
                next_attempt_at=revocation.next_attempt_at,
                attempts=revocation.attempts,
            )
            .returning(r.c.id)
        ).scalar_one()

    def claim(self, owner: str, now: datetime, lease: timedelta, limit: int) -> list[TokenRevocation]:
        r = t.token_revocations
        due = (
            r.c.finished_at.is_(None),
            r.c.next_attempt_at <= now,
            or_(r.c.lease_expires_at.is_(None), r.c.lease_expires_at <= now),
        )
        # A plain read first: the outbox job asks every few seconds and there is almost never
        # anything, so the write lock (SQLite) is taken only when there is.
        if self._session.execute(select(r.c.id).where(*due).limit(1)).first() is None:
            return []
        hold_write_lock(self._session)
        rows = self._session.execute(
            select(r).where(*due).order_by(r.c.id).limit(limit).with_for_update(skip_locked=True)
        ).all()
        claimed = [TokenRevocation(**row._mapping) for row in rows]
        if claimed:
            self._session.execute(
                update(r)
                .where(r.c.id.in_([c.id for c in claimed]))
                .values(lease_owner=owner, lease_expires_at=now + lease)
            )
        return claimed

    def finish(
        self, revocation_id: int, owner: str, *, outcome: str | None, error: str | None,
        next_attempt_at: datetime | None, now: datetime,
    ) -> None:
        r = t.token_revocations
        values: dict[str, object] = {
            "attempts": r.c.attempts + 1, "last_error": error, "lease_owner": None, "lease_expires_at": None,
        }
        if outcome is not None:
            values.update(finished_at=now, outcome=outcome, refresh_token=None, client_secret=None)
        else:
            values["next_attempt_at"] = next_attempt_at or now
        self._session.execute(
            update(r).where(r.c.id == revocation_id, r.c.lease_owner == owner).values(**values)
        )
