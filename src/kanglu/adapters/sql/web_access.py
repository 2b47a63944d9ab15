"""Server-side web sessions and the login throttle in the database: every web process (gunicorn
workers, machines) sees the same sessions and counts the same failures.

Plain Core statements on the engine, each store call its own short transaction: these are
small rows read on every page view, nothing the ORM's identity map would help with.
"""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Iterable
from datetime import datetime, timedelta

from sqlalchemy import bindparam, delete, insert, or_, select, update
from sqlalchemy.engine import Connection, Engine

from kanglu.adapters.sql import tables as t
from kanglu.adapters.sql.engine import BEGIN_MODE, upsert_insert
from kanglu.application.web_access import (
    POLICIES,
    SESSION_IDLE_TIMEOUT,
    SESSION_MAX_AGE,
    SESSION_TOUCH_INTERVAL,
    ThrottlePolicy,
    WebSession,
    policy_of,
    session_expired,
    token_hash,
)

_USER_AGENT_MAX = 200
_ADDRESS_MAX = 64


def _writing(engine: Engine) -> Connection:
    """A connection whose transaction takes SQLite's write lock at BEGIN (PostgreSQL locks
    rows instead), so that read-then-write sequences do not interleave between processes."""
    connection = engine.connect()
    if engine.dialect.name == "sqlite":
        connection = connection.execution_options(**{BEGIN_MODE: "IMMEDIATE"})
    return connection


def _row_session(row: object) -> WebSession:
    m = row._mapping  # type: ignore[attr-defined]
    return WebSession(
        id=m["id"],
        merchant_id=m["merchant_id"],
        created_at=m["created_at"],
        last_seen_at=m["last_seen_at"],
        user_agent=m["user_agent"],
        address=m["address"],
    )


_SESSION_COLUMNS = (
    t.web_sessions.c.id,
    t.web_sessions.c.merchant_id,
    t.web_sessions.c.created_at,
    t.web_sessions.c.last_seen_at,
    t.web_sessions.c.user_agent,
    t.web_sessions.c.address,
)
# Read at every page view: built once, with a bind parameter (building the statement and its
# cache key at each call cost more than the lookup).
_SESSION_BY_TOKEN = select(*_SESSION_COLUMNS).where(t.web_sessions.c.token_hash == bindparam("token_hash"))


class SqlWebSessions:
    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    def open(self, merchant_id: int, now: datetime, user_agent: str | None, address: str | None) -> str:
        token = secrets.token_urlsafe(32)
        s = t.web_sessions
        with self._engine.begin() as connection:
            # Dead sessions go now (everyone's idle ones, through an index; the merchant's old
            # ones): the table holds live sessions, give or take.
            connection.execute(delete(s).where(s.c.last_seen_at <= now - SESSION_IDLE_TIMEOUT))
            connection.execute(delete(s).where(s.c.merchant_id == merchant_id, _dead(now)))
            connection.execute(
                insert(s).values(
                    merchant_id=merchant_id,
                    token_hash=token_hash(token),
                    created_at=now,
                    last_seen_at=now,
                    user_agent=(user_agent or "")[:_USER_AGENT_MAX] or None,
                    address=(address or "")[:_ADDRESS_MAX] or None,
                )
            )
        return token

    def resolve(self, token: str, now: datetime) -> WebSession | None:
        s = t.web_sessions
        hashed = token_hash(token)
        with self._engine.connect() as connection:
            row = connection.execute(_SESSION_BY_TOKEN, {"token_hash": hashed}).first()
        if row is None:
            return None
        found = _row_session(row)
        if session_expired(found.created_at, found.last_seen_at, now):
            self.end(token)
            return None
        if now - found.last_seen_at >= SESSION_TOUCH_INTERVAL:
            with self._engine.begin() as connection:
                connection.execute(update(s).where(s.c.id == found.id).values(last_seen_at=now))
        return found

    def end(self, token: str) -> None:
        with self._engine.begin() as connection:
            connection.execute(delete(t.web_sessions).where(t.web_sessions.c.token_hash == token_hash(token)))

    def end_one(self, merchant_id: int, session_id: int) -> bool:
        s = t.web_sessions
        with self._engine.begin() as connection:
            ended = connection.execute(delete(s).where(s.c.id == session_id, s.c.merchant_id == merchant_id))
        return ended.rowcount > 0

    def end_others(self, merchant_id: int, keep_token: str | None) -> int:
        s = t.web_sessions
        statement = delete(s).where(s.c.merchant_id == merchant_id)
        if keep_token is not None:
            statement = statement.where(s.c.token_hash != token_hash(keep_token))
        with self._engine.begin() as connection:
            return connection.execute(statement).rowcount

    def active(self, merchant_id: int, now: datetime) -> list[WebSession]:
        s = t.web_sessions
        with self._engine.connect() as connection:
            rows = connection.execute(
                select(*_SESSION_COLUMNS)
                .where(s.c.merchant_id == merchant_id, ~_dead(now))
                .order_by(s.c.last_seen_at.desc(), s.c.id.desc())
            ).all()
        return [_row_session(row) for row in rows]


def _dead(now: datetime):  # type: ignore[no-untyped-def]
    s = t.web_sessions
    return or_(s.c.last_seen_at <= now - SESSION_IDLE_TIMEOUT, s.c.created_at <= now - SESSION_MAX_AGE)


def _key_hash(key: str) -> str:
    """Keys name an e-mail and an address: only their hash is stored."""
    return hashlib.sha256(b"kanglu-login:" + key.encode("utf-8")).hexdigest()


class SqlLoginAttempts:
    """The LoginAttempts port over the `login_throttle` table (application/web_access.py)."""

    def __init__(self, engine: Engine, policies: dict[str, ThrottlePolicy] | None = None) -> None:
        self._engine = engine
        self._policies = policies or POLICIES

    def blocked_for(self, keys: Iterable[str], now: datetime) -> timedelta | None:
        hashes = [_key_hash(key) for key in keys]
        lt = t.login_throttle
        with self._engine.connect() as connection:
            until = connection.execute(
                select(lt.c.locked_until).where(lt.c.key_hash.in_(hashes), lt.c.locked_until > now)
            ).scalars().all()
        return max(until) - now if until else None

    def failed(self, keys: Iterable[str], now: datetime) -> None:
        lt = t.login_throttle
        with _writing(self._engine) as connection, connection.begin():
            # Rows nobody needs any more go first (indexed): a flood of made-up e-mails cannot
            # grow the table for longer than an hour.
            connection.execute(delete(lt).where(lt.c.expires_at <= now))
            for key in keys:
                self._count(connection, key, now)

    def _count(self, connection: Connection, key: str, now: datetime) -> None:
        lt = t.login_throttle
        policy = policy_of(key, self._policies)
        hashed = _key_hash(key)
        # The row exists before it is locked, so two processes counting the same new key
        # both count (one insert wins, both update in turn).
        connection.execute(
            upsert_insert(connection.dialect.name, lt)
            .values(key_hash=hashed, failures=0, last_failure_at=now, expires_at=now)
            .on_conflict_do_nothing(index_elements=["key_hash"])
        )
        row = connection.execute(
            select(lt.c.failures, lt.c.last_failure_at).where(lt.c.key_hash == hashed).with_for_update()
        ).one()
        failures = row.failures if now - row.last_failure_at <= policy.forget_after else 0
        failures += 1
        lock = policy.lock_for(failures)
        locked_until = now + lock if lock is not None else None
        connection.execute(
            update(lt)
            .where(lt.c.key_hash == hashed)
            .values(
                failures=failures,
                last_failure_at=now,
                locked_until=locked_until,
                expires_at=max(now + policy.forget_after, locked_until or now),
            )
        )

    def succeeded(self, keys: Iterable[str]) -> None:
        lt = t.login_throttle
        with self._engine.begin() as connection:
            connection.execute(delete(lt).where(lt.c.key_hash.in_([_key_hash(key) for key in keys])))
