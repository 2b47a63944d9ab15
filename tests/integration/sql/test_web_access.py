"""Sessions and the login throttle in the database, on SQLite and PostgreSQL: two web apps
with their own containers and engines (as two gunicorn workers would be) share both."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from dependency_injector import providers
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select
from sqlalchemy.engine import Engine

from kanglu.adapters.crypto import FernetSecretBox
from kanglu.adapters.sql import tables as t
from kanglu.adapters.sql.web_access import SqlLoginAttempts, SqlWebSessions
from kanglu.application.commands import CreateMerchantCommand
from kanglu.application.web_access import (
    SESSION_IDLE_TIMEOUT,
    SESSION_MAX_AGE,
    token_hash,
)
from kanglu.domain.secrets import Secret
from kanglu.entrypoints.containers import Container
from kanglu.entrypoints.settings import Settings
from kanglu.entrypoints.web import create_app
from tests.fakes import FakeClock, FakePasswordHasher

T0 = datetime(2026, 7, 1, 12, 0, tzinfo=UTC)
PASSWORD = "senha-muito-forte"
_CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


def _url(engine: Engine) -> str:
    return engine.url.render_as_string(hide_password=False)


# -- the stores ------------------------------------------------------------------------------


def _merchant(engine: Engine) -> int:
    with engine.begin() as connection:
        return connection.execute(
            t.merchants.insert().values(name="Loja", email="a@b.com.br", created_at=T0).returning(t.merchants.c.id)
        ).scalar_one()


def test_a_session_is_stored_hashed_and_ends_idle_or_old(engine: Engine) -> None:
    merchant_id = _merchant(engine)
    sessions = SqlWebSessions(engine)
    token = sessions.open(merchant_id, T0, "Mozilla/5.0 (X11; Linux) Firefox/130.0", "203.0.113.5")
    with engine.connect() as connection:
        stored = connection.execute(select(t.web_sessions.c.token_hash)).scalars().all()
    assert stored == [token_hash(token)] and token not in stored

    found = sessions.resolve(token, T0 + timedelta(minutes=5))
    assert found is not None and found.merchant_id == merchant_id and found.address == "203.0.113.5"
    # Used every few hours: alive until the fixed age, however busy.
    now = T0
    while now + timedelta(hours=11) < T0 + SESSION_MAX_AGE:
        now += timedelta(hours=11)
        assert sessions.resolve(token, now) is not None
    assert sessions.resolve(token, T0 + SESSION_MAX_AGE) is None

    idle = sessions.open(merchant_id, T0, None, None)
    assert sessions.resolve(idle, T0 + SESSION_IDLE_TIMEOUT - timedelta(seconds=1)) is not None
    assert sessions.resolve(idle, T0 + 2 * SESSION_IDLE_TIMEOUT - timedelta(seconds=2)) is not None
    assert sessions.resolve(idle, T0 + 3 * SESSION_IDLE_TIMEOUT) is None


def test_last_seen_is_written_at_most_once_a_minute(engine: Engine) -> None:
    merchant_id = _merchant(engine)
    sessions = SqlWebSessions(engine)
    token = sessions.open(merchant_id, T0, None, None)
    writes: list[str] = []

    from sqlalchemy import event

    def _count(_conn, _cursor, statement: str, *_args) -> None:  # type: ignore[no-untyped-def]
        if statement.lstrip().upper().startswith("UPDATE"):
            writes.append(statement)

    event.listen(engine, "before_cursor_execute", _count)
    try:
        for second in range(0, 120, 5):
            assert sessions.resolve(token, T0 + timedelta(seconds=second)) is not None
    finally:
        event.remove(engine, "before_cursor_execute", _count)
    assert len(writes) == 1  # at 60 s; the 24 page views before and after cost no write


def test_ending_sessions_one_the_others_or_all(engine: Engine) -> None:
    merchant_id = _merchant(engine)
    sessions = SqlWebSessions(engine)
    a, b, c = (sessions.open(merchant_id, T0 + timedelta(seconds=n), f"agent {n}", None) for n in range(3))
    listed = sessions.active(merchant_id, T0 + timedelta(minutes=1))
    assert [s.user_agent for s in listed] == ["agent 2", "agent 1", "agent 0"]
    assert sessions.end_one(merchant_id + 1, listed[0].id) is False  # another merchant's session: no
    assert sessions.end_one(merchant_id, listed[0].id) is True
    assert sessions.resolve(c, T0) is None
    assert sessions.end_others(merchant_id, keep_token=a) == 1
    assert sessions.resolve(b, T0) is None and sessions.resolve(a, T0) is not None
    sessions.end(a)
    assert sessions.resolve(a, T0) is None


def test_throttle_counts_lock_and_forget(engine: Engine) -> None:
    attempts = SqlLoginAttempts(engine)
    keys = ["pair:a@b.com.br|203.0.113.5"]
    for n in range(4):
        attempts.failed(keys, T0)
        assert attempts.blocked_for(keys, T0) is None, n
    attempts.failed(keys, T0)
    assert attempts.blocked_for(keys, T0) == timedelta(seconds=30)
    attempts.failed(keys, T0 + timedelta(seconds=31))
    assert attempts.blocked_for(keys, T0 + timedelta(seconds=31)) == timedelta(seconds=60)
    attempts.succeeded(keys)
    assert attempts.blocked_for(keys, T0 + timedelta(seconds=31)) is None
    # A quiet hour wipes the count, and expired rows are purged by the next failure.
    for _ in range(4):
        attempts.failed(keys, T0 + timedelta(minutes=2))
    attempts.failed(["ip:198.51.100.1"], T0 + timedelta(hours=3))
    attempts.failed(keys, T0 + timedelta(hours=3))
    assert attempts.blocked_for(keys, T0 + timedelta(hours=3)) is None
    with engine.connect() as connection:
        assert len(connection.execute(select(t.login_throttle.c.key_hash)).all()) == 2
        stored = connection.execute(select(t.login_throttle.c.key_hash)).scalars().all()
    assert all("@" not in key and "." not in key for key in stored)  # e-mails and addresses hashed


# -- two web processes on one database ----------------------------------------------------------


def _app(url: str, data_dir: Path, clock: FakeClock, proxy_hops: int = 0) -> Flask:
    settings = Settings(
        data_dir=data_dir,
        database_url=url,
        secret_key="kanglu-test-secret-key-0123456789",
        encryption_keys=(FernetSecretBox.generate_key(),),
        public_url="http://kanglu.test",
        proxy_hops=proxy_hops,
    )
    container = Container(settings=settings)
    container.core.clock.override(providers.Object(clock))
    container.core.passwords.override(providers.Object(FakePasswordHasher()))
    app = create_app(container)
    app.testing = True
    app.extensions["kanglu-test-container"] = container
    return app


def _login(client: FlaskClient, email: str, password: str, forwarded_for: str | None = None) -> int:
    headers = {"X-Forwarded-For": forwarded_for} if forwarded_for else {}
    page = client.get("/login", headers=headers).get_data(as_text=True)
    found = _CSRF.search(page)
    assert found
    form = {"csrf_token": found.group(1), "email": email, "password": password}
    return client.post("/login", data=form, headers=headers).status_code


@pytest.fixture
def two_apps(engine: Engine, tmp_path: Path) -> Iterator[tuple[Flask, Flask, FakeClock]]:
    clock = FakeClock(T0)
    first, second = _app(_url(engine), tmp_path, clock), _app(_url(engine), tmp_path, clock)
    container = first.extensions["kanglu-test-container"]
    container.use_cases.create_merchant()(CreateMerchantCommand("Loja", "lojista@aurora.com.br", Secret(PASSWORD)))
    yield first, second, clock
    for app in (first, second):
        app.extensions["kanglu-test-container"].shutdown_resources()


def test_two_web_processes_share_the_throttle(two_apps: tuple[Flask, Flask, FakeClock]) -> None:
    first, second, _clock = two_apps
    a, b = first.test_client(), second.test_client()
    # Five failures in all, alternating between the processes: the fifth locks, in both.
    for n in range(4):
        assert _login(a if n % 2 else b, "lojista@aurora.com.br", "errada-123") == 401
    assert _login(a, "lojista@aurora.com.br", "errada-123") == 429
    assert _login(b, "lojista@aurora.com.br", PASSWORD) == 429


def test_two_web_processes_share_the_sessions(two_apps: tuple[Flask, Flask, FakeClock]) -> None:
    first, second, _clock = two_apps
    browser = first.test_client()
    assert _login(browser, "lojista@aurora.com.br", PASSWORD) == 302
    cookie = browser.get_cookie("kanglu_session")
    assert cookie is not None
    other = second.test_client()
    other.set_cookie("kanglu_session", cookie.value)
    assert other.get("/orders").status_code == 200  # the cookie opens the session in the other process
    page = browser.get("/orders").get_data(as_text=True)
    found = _CSRF.search(page)
    assert found
    assert browser.post("/logout", data={"csrf_token": found.group(1)}).status_code == 302
    assert other.get("/orders").status_code == 302  # logged out everywhere


def test_behind_one_proxy_each_forwarded_address_has_its_own_count(engine: Engine, tmp_path: Path) -> None:
    clock = FakeClock(T0)
    app = _app(_url(engine), tmp_path, clock, proxy_hops=1)
    container = app.extensions["kanglu-test-container"]
    try:
        container.use_cases.create_merchant()(CreateMerchantCommand("Loja", "lojista@aurora.com.br", Secret(PASSWORD)))
        attacker, merchant = app.test_client(), app.test_client()
        for _ in range(4):
            assert _login(attacker, "lojista@aurora.com.br", "chute-123", "203.0.113.66") == 401
        assert _login(attacker, "lojista@aurora.com.br", "chute-123", "203.0.113.66") == 429
        # A client cannot pick its address by adding its own header before the proxy's.
        assert _login(attacker, "lojista@aurora.com.br", PASSWORD, "198.51.100.7, 203.0.113.66") == 429
        assert _login(merchant, "lojista@aurora.com.br", PASSWORD, "198.51.100.7") == 302
    finally:
        container.shutdown_resources()


def test_concurrent_failures_in_two_processes_are_all_counted(engine: Engine) -> None:
    import threading

    from kanglu.adapters.sql.engine import make_engine
    from kanglu.adapters.sql.web_access import _key_hash

    other = make_engine(_url(engine))
    stores = [SqlLoginAttempts(engine), SqlLoginAttempts(other)]
    key = "ip:203.0.113.9"
    errors: list[BaseException] = []

    def fail(store: SqlLoginAttempts) -> None:
        try:
            for _ in range(5):
                store.failed([key], T0)
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=fail, args=(stores[n % 2],)) for n in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    other.dispose()
    assert errors == []
    with engine.connect() as connection:
        failures = connection.execute(
            select(t.login_throttle.c.failures).where(t.login_throttle.c.key_hash == _key_hash(key))
        ).scalar_one()
    assert failures == 30
