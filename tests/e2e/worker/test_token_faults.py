"""Tiny's token endpoint misbehaving under the real `kanglu worker`, through the sandbox's controls.

Only a definite refusal disconnects: a timeout, 5xx, 429 or dropped connection at a scheduled
renewal or at one forced by a 401, once or three times in a row, leaves every connection
connected; the orders changed meanwhile are imported once the endpoint recovers; the sandbox
counts no spent refresh token sent again. `invalid_grant` still disconnects, with the reason.

Tokens Tiny issued are never lost: neither a database that fails right after the token call nor
a SIGTERM while the call is in flight costs the merchant a re-authorisation.

The whole matrix runs in one deployment, a connection per case, so that a few worker passes
serve every case at once; backoffs are skipped by bringing jobs forward (`make_due`), not waited.
"""

from __future__ import annotations

import signal
import sqlite3
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import attrs
import pytest
from sqlalchemy import bindparam, text
from sqlalchemy.engine import make_url

from kanglu.adapters.sql.types import UtcDateTime
from kanglu.domain.secrets import Sealed
from kanglu.sandbox.accounts import Account
from tests.e2e.worker.harness import Deployment, deployment, importable_ids, wait_until
from tests.e2e.worker.test_tiny_faults import SecretWatch, as_utc, connection, imported_ids, job, make_due

pytestmark = pytest.mark.timeout(240)

ORDERS = 8
PASSES = 4  # up to three failing, then the one that renews and imports
FAULTS = ("503", "timeout", "reset", "429")
TRIGGERS = ("scheduled", "forced")
TIMES = (1, 3)
# What each fault looks like at the sandbox, `n` times in a row. A hang outlasts the worker's
# token timeout (KANGLU_TOKEN_TIMEOUT=1 below): the worker sees a timeout.
FAULT_CONTROLS: dict[str, Any] = {
    "503": lambda n: {"force_errors": [503] * n},
    "timeout": lambda n: {"force_hang": n, "hang_seconds": 2.5},
    "reset": lambda n: {"force_reset": n},
    "429": lambda n: {"force_429": n},
    "invalid_grant": lambda n: {"force_invalid_grant": n},
}


@attrs.frozen
class Case:
    fault: str
    trigger: str
    times: int

    @property
    def id(self) -> str:
        return f"{self.fault}-{self.trigger}-x{self.times}"


CASES = [Case(f, t, n) for f in FAULTS for t in TRIGGERS for n in TIMES]
REFUSALS = [Case("invalid_grant", t, 1) for t in TRIGGERS]


@attrs.define
class Observed:
    """What one case's connection went through."""

    account: Account
    connection_id: int
    statuses: list[str] = attrs.Factory(list)  # after every pass
    refresh_calls_per_pass: list[int] = attrs.Factory(list)
    rescheduled: list[tuple[str, float, str | None]] = attrs.Factory(list)  # (job, seconds ahead, error)
    recovered_at_pass: int | None = None
    added: list[int] = attrs.Factory(list)  # orders changed in Tiny during the fault
    final: dict[str, Any] = attrs.Factory(dict)


# -- small helpers ----------------------------------------------------------------------------------


def oauth_state(d: Deployment, account: Account) -> dict[str, int]:
    return d.sandbox_call("GET", f"/accounts/{account.id}/oauth")


def stored_refresh_token_is_live(d: Deployment, connection_id: int, account: Account) -> bool:
    sealed = connection(d, connection_id).refresh_token
    assert sealed is not None
    token = d.container.core.secret_box().open(Sealed(sealed)).value
    return d.sandbox_call("POST", f"/accounts/{account.id}/oauth/check", refresh_token=token)["live"]


def renewal_due_now(d: Deployment, connection_id: int) -> None:
    """Time passes for the worker: the access token is near its end by Kanglu's clock (inside
    the renewal margin) and the renewal job comes due."""
    update = text("UPDATE erp_connections SET access_expires_at = :at WHERE id = :id").bindparams(
        bindparam("at", type_=UtcDateTime())
    )
    with d.container.adapters.engine().begin() as db:
        db.execute(update, {"at": datetime.now(UTC) + timedelta(minutes=2), "id": connection_id})
    make_due(d, "renew_token", connection_id)


def postpone(d: Deployment, kind: str, connection_id: int) -> None:
    update = text("UPDATE jobs SET due_at = :at WHERE kind = :kind AND subject_id = :id").bindparams(
        bindparam("at", type_=UtcDateTime())
    )
    with d.container.adapters.engine().begin() as db:
        db.execute(update, {"at": datetime.now(UTC) + timedelta(hours=1), "kind": kind, "id": connection_id})


def seconds_ahead(row: Any) -> float:
    return (as_utc(row.due_at) - datetime.now(UTC)).total_seconds()


def expire_access_token(d: Deployment, account: Account) -> None:
    """Tiny ends the access token early (Kanglu's clock still trusts it): the next call is a 401."""
    assert d.sandbox_call("POST", f"/accounts/{account.id}/expire", tokens="access")["expired"] >= 1


def add_orders(d: Deployment, account: Account, count: int = 2) -> list[int]:
    """New orders Kanglu imports by default: a point-of-sale sale among them (about 3 %) is left
    out by Kanglu, so the sandbox is asked again."""
    ids: list[int] = []
    while len(ids) < count:
        added = d.sandbox_call("POST", f"/accounts/{account.id}/orders", count=count - len(ids), situacao=1)["orders"]
        ids += [o["id"] for o in added if not o.get("origemPedido")]
    return ids


# -- the matrix, run once for every case -------------------------------------------------------------


@pytest.fixture(scope="module")
def matrix(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Observed]]:
    tmp = tmp_path_factory.mktemp("token-matrix")
    with deployment(tmp, f"sqlite:///{tmp / 'kanglu.sqlite3'}", KANGLU_POLL_INTERVAL="60",
                    KANGLU_TOKEN_TIMEOUT="1") as d:
        watch = SecretWatch(d)
        observed: dict[str, Observed] = {}
        for n, case in enumerate([*CASES, *REFUSALS]):
            account = d.new_account(orders=ORDERS, seed=300 + n)
            watch.account(account)
            observed[case.id] = Observed(account, d.connect(account))
        watch.run_once(concurrency=8)  # the first import; no renewal is due
        cases = {c.id: c for c in [*CASES, *REFUSALS]}

        for case_id, seen in observed.items():
            case = cases[case_id]
            d.sandbox_call("PATCH", f"/accounts/{seen.account.id}/faults?scope=token",
                           **FAULT_CONTROLS[case.fault](case.times))
            # Either way the access token dies at Tiny: nothing is imported until a renewal works.
            expire_access_token(d, seen.account)
            seen.added = add_orders(d, seen.account)
            if case.trigger == "scheduled":
                renewal_due_now(d, seen.connection_id)
                postpone(d, "poll", seen.connection_id)  # only the renewal meets the fault
            else:
                make_due(d, "poll", seen.connection_id)  # the renewal is hours away: the 401 forces it

        before = {cid: oauth_state(d, o.account)["refresh_calls"] for cid, o in observed.items()}
        for pass_number in range(1, PASSES + 1):
            watch.run_once(concurrency=8)
            for case_id, seen in observed.items():
                case = cases[case_id]
                row = connection(d, seen.connection_id)
                seen.statuses.append(row.status)
                calls = oauth_state(d, seen.account)["refresh_calls"]
                seen.refresh_calls_per_pass.append(calls - before[case_id])
                before[case_id] = calls
                if row.status != "connected":
                    continue
                kind = "renew_token" if case.trigger == "scheduled" else "poll"
                if seen.recovered_at_pass is None and row.token_version > 1:  # 1 when connected, 2 once renewed
                    seen.recovered_at_pass = pass_number
                if seen.recovered_at_pass is None:
                    pending = job(d, kind, seen.connection_id)
                    seen.rescheduled.append((kind, seconds_ahead(pending), pending.last_error))
                    make_due(d, kind, seen.connection_id)  # skip the backoff
                    if pass_number == case.times and case.trigger == "scheduled":
                        # The fault is spent: the regular poll comes due with the renewal's retry
                        # (whichever runs first renews, the other uses the new token).
                        make_due(d, "poll", seen.connection_id)
        for seen in observed.values():
            seen.final = {
                "imported": imported_ids(d, seen.connection_id),
                "expected": importable_ids(d.truth(seen.account)),
                "oauth": oauth_state(d, seen.account),
                "row": connection(d, seen.connection_id),
                "live": (stored_refresh_token_is_live(d, seen.connection_id, seen.account)
                         if connection(d, seen.connection_id).refresh_token else None),
            }
        yield observed


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_a_transient_token_endpoint_fault_never_disconnects(matrix: dict[str, Observed], case: Case) -> None:
    seen = matrix[case.id]
    assert seen.statuses == ["connected"] * PASSES, "the connection must stay connected throughout"
    # One refused or lost token call per pass while the fault lasts, then the one that works.
    assert seen.recovered_at_pass == case.times + 1, seen
    assert seen.refresh_calls_per_pass[: case.times + 1] == [1] * (case.times + 1), seen.refresh_calls_per_pass
    assert sum(seen.refresh_calls_per_pass) == case.times + 1
    # Each failed pass rescheduled the job with a backoff and said why (never a disconnection).
    assert len(seen.rescheduled) == case.times
    for kind, ahead, error in seen.rescheduled:
        assert ahead > 1, f"{kind} retried without a backoff"
        assert error and "reautoriz" not in error
        if case.trigger == "forced":
            assert "continua conectada" in error, error
    # Once the endpoint recovered, the orders changed meanwhile were imported, exactly once.
    final = seen.final
    assert set(seen.added) <= final["imported"]
    assert final["imported"] == final["expected"]
    row = final["row"]
    assert (row.status, row.poll_offset) == ("connected", None)
    assert row.last_error is None, row.last_error
    # The refresh token never got lost or sent again after being spent.
    assert final["oauth"]["spent_refresh_token_uses"] == 0
    assert final["live"] is True


@pytest.mark.parametrize("case", REFUSALS, ids=[c.id for c in REFUSALS])
def test_invalid_grant_still_disconnects_with_the_reason(matrix: dict[str, Observed], case: Case) -> None:
    seen = matrix[case.id]
    assert seen.statuses == ["disconnected"] * PASSES
    assert seen.refresh_calls_per_pass == [1] + [0] * (PASSES - 1)  # refused once, never asked again
    row = seen.final["row"]
    assert (row.access_token, row.refresh_token) == (None, None)
    assert row.last_error.startswith("o Tiny não aceita mais a autorização dada à Kanglu")
    assert "Conectar" not in row.last_error  # a plain reason: the page adds what to do
    assert seen.final["oauth"]["spent_refresh_token_uses"] == 0


# -- tokens Tiny issued are never lost --------------------------------------------------------------


def connected_and_imported(d: Deployment) -> tuple[Account, int]:
    account = d.new_account(orders=ORDERS, seed=401)
    cid = d.connect(account)
    d.run_once()
    assert imported_ids(d, cid) == importable_ids(d.truth(account))
    return account, cid


def assert_works_without_reauthorisation(d: Deployment, account: Account, cid: int, version: int) -> None:
    """The next 401 renews with the stored refresh token, and the orders changed meanwhile come in."""
    expire_access_token(d, account)
    added = add_orders(d, account)
    make_due(d, "poll", cid)
    d.run_once()
    row = connection(d, cid)
    assert (row.status, row.token_version, row.last_error) == ("connected", version + 1, None)
    assert set(added) <= imported_ids(d, cid)
    assert imported_ids(d, cid) == importable_ids(d.truth(account))
    assert stored_refresh_token_is_live(d, cid, account)
    assert oauth_state(d, account)["spent_refresh_token_uses"] == 0


def refresh_in_flight(d: Deployment, account: Account, calls: int = 1) -> None:
    wait_until(lambda: oauth_state(d, account)["refresh_calls"] >= calls, timeout=60, every=0.02,
               what="the worker's token call to reach the sandbox")


@pytest.mark.postgres
def test_tokens_survive_a_database_that_fails_right_after_the_token_call(postgres_deployment: Any) -> None:
    app = f"kanglu-token-test-{uuid.uuid4().hex[:8]}"
    with postgres_deployment(KANGLU_POLL_INTERVAL="60") as d:
        account, cid = connected_and_imported(d)
        # The refresh is carried out at once (the old refresh token spent) and answered 2 s later;
        # meanwhile the worker's database connections are cut, the renewal's transaction with them.
        d.sandbox_call("PATCH", f"/accounts/{account.id}/faults?scope=token", force_late=1, late_seconds=2)
        expire_access_token(d, account)
        added = add_orders(d, account)
        make_due(d, "poll", cid)
        url = make_url(d.env["KANGLU_DATABASE_URL"]).update_query_dict({"application_name": app})
        worker = d.start_worker(env={"KANGLU_DATABASE_URL": url.render_as_string(hide_password=False)})
        try:
            refresh_in_flight(d, account)
            # While Tiny answers, the test takes the connection's row: the worker's write waits on
            # it, and that waiting backend is cut. The write right after the token call fails.
            with d.container.adapters.engine().connect() as holder:
                holder.execute(text("SELECT id FROM erp_connections WHERE id = :id FOR UPDATE"), {"id": cid})
                waiting = wait_until(lambda: [r.pid for r in d.rows(
                    "SELECT pid FROM pg_stat_activity WHERE datname = current_database() "
                    "AND application_name = :app AND wait_event_type = 'Lock'", app=app)],
                    timeout=60, every=0.02, what="the worker's write waiting on the row")
                for pid in waiting:
                    assert d.scalar("SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                                    "WHERE pid = :pid AND application_name = :app", pid=pid, app=app)
                time.sleep(1.0)  # a retry or two meets the lock again
                holder.rollback()
            # The database is back: the tokens Tiny issued during the outage are stored, and the
            # poll (retried after its failure) imports the orders changed meanwhile.
            wait_until(lambda: connection(d, cid).token_version == 2, timeout=60, what="the renewed tokens stored")
            make_due(d, "poll", cid)
            wait_until(lambda: set(added) <= imported_ids(d, cid), timeout=60, what="the orders changed meanwhile")
        finally:
            code, _ = worker.stop(signal.SIGTERM, timeout=60)
        output = worker.output()
        assert code == 0, output[-4000:]
        assert "renewed tokens not stored, retrying" in output, output[-4000:]  # the write did fail
        row = connection(d, cid)
        assert (row.status, row.token_version) == ("connected", 2)
        assert stored_refresh_token_is_live(d, cid, account)  # the rotated one, kept through the outage
        assert oauth_state(d, account)["spent_refresh_token_uses"] == 0
        assert oauth_state(d, account)["refresh_calls"] == 1
        assert_works_without_reauthorisation(d, account, cid, version=2)


def test_sigterm_during_a_token_call_lets_the_renewal_store_its_tokens(sqlite_deployment: Any) -> None:
    # A stop grace (1 s) far shorter than the token answer (4 s): only the wait for renewals
    # under way keeps the rotated refresh token.
    with sqlite_deployment(KANGLU_POLL_INTERVAL="60", KANGLU_STOP_GRACE="1") as d:
        account, cid = connected_and_imported(d)
        d.sandbox_call("PATCH", f"/accounts/{account.id}/faults?scope=token", force_late=1, late_seconds=4)
        expire_access_token(d, account)
        added = add_orders(d, account)
        make_due(d, "poll", cid)
        worker = d.start_worker(concurrency=2)
        try:
            refresh_in_flight(d, account)
            code, seconds = worker.stop(signal.SIGTERM, timeout=60)
        finally:
            worker.kill()
        output = worker.output()
        assert code == 0, output[-4000:]
        assert "waiting for token renewals under way" in output, output[-4000:]
        assert "token renewals still under way at exit" not in output
        row = connection(d, cid)
        assert (row.status, row.token_version) == ("connected", 2)
        assert stored_refresh_token_is_live(d, cid, account)
        assert oauth_state(d, account)["spent_refresh_token_uses"] == 0
        assert d.scalar("SELECT count(*) FROM jobs WHERE lease_owner IS NOT NULL") == 0
        make_due(d, "poll", cid)
        d.run_once()
        assert set(added) <= imported_ids(d, cid)
        assert_works_without_reauthorisation(d, account, cid, version=2)


def test_a_worker_killed_between_the_token_call_and_the_write_leaves_the_tokens_to_the_next_start(
    sqlite_deployment: Any,
) -> None:
    with sqlite_deployment(KANGLU_POLL_INTERVAL="60", KANGLU_JOB_LEASE_SECONDS="5") as d:
        account, cid = connected_and_imported(d)
        d.sandbox_call("PATCH", f"/accounts/{account.id}/faults?scope=token", force_late=1, late_seconds=1.5)
        expire_access_token(d, account)
        added = add_orders(d, account)
        make_due(d, "poll", cid)
        journal = Path(d.env["KANGLU_DATA_DIR"]) / "token-journal"
        path = make_url(d.env["KANGLU_DATABASE_URL"]).database
        worker = d.start_worker(concurrency=2)
        other = sqlite3.connect(path, isolation_level=None, timeout=30)
        try:
            refresh_in_flight(d, account)
            # The database is taken away (another process holds its write lock) while Tiny answers;
            # the worker, waiting to store the tokens, is killed.
            other.execute("BEGIN EXCLUSIVE")
            wait_until(lambda: list(journal.glob("connection-*.json")), timeout=30, every=0.02,
                       what="the token answer written down")
            worker.kill()
            other.execute("ROLLBACK")
        finally:
            worker.kill()
            other.close()
        row = connection(d, cid)
        assert row.token_version == 1  # never stored...
        assert not stored_refresh_token_is_live(d, cid, account)  # ...and the stored refresh token is spent
        wait_until(lambda: as_utc(job(d, "poll", cid).lease_expires_at) <= datetime.now(UTC), timeout=15,
                   what="the killed worker's poll lease to expire")
        d.run_once()  # the next start
        assert list(journal.glob("connection-*.json")) == []
        row = connection(d, cid)
        assert (row.status, row.token_version, row.renewal_claimed_by) == ("connected", 2, None)
        assert stored_refresh_token_is_live(d, cid, account)
        assert set(added) <= imported_ids(d, cid)
        state = oauth_state(d, account)
        assert (state["spent_refresh_token_uses"], state["refresh_calls"]) == (0, 1)
        assert_works_without_reauthorisation(d, account, cid, version=2)
