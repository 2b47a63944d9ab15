"""The worker process meets its own faults: killed mid-poll, asked to stop, its database away.

Every test runs `kanglu worker` as a real process against the Tiny sandbox on a real port and
asserts exact final states: every order the sandbox says should be imported is in the
database exactly once, leases are free, the poll cursor moved, and the sandbox's counters show
what the worker asked for.
"""

from __future__ import annotations

import json
import signal
import sqlite3
import time
import uuid
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any

import pytest
from sqlalchemy.engine import make_url

from kanglu.domain.jobs import JobKind
from kanglu.sandbox.accounts import Account
from tests.e2e.worker.harness import Deployment, importable_ids, wait_until

PAGE = 100  # the gateway's page size on GET /pedidos
# A generous plan, so that no 429 interferes with the fault under test. Not "unlimited" (0): the
# sandbox then sends no X-RateLimit-* headers, and the pacer, with nothing to go by, keeps to its
# fallback of one call a second (ratelimit.py), which made each run here wait ~1 s per call.
GENEROUS_PLAN = {"rate_limit": 600}
PEDIDOS = "GET /pedidos"


# -- what the sandbox says, what the database holds ------------------------------------------

def imported_ids(d: Deployment, connection_id: int) -> list[int]:
    return [int(r.erp_order_id) for r in d.rows(
        "SELECT erp_order_id FROM orders WHERE connection_id = :id ORDER BY erp_order_id", id=connection_id)]


def order_count(d: Deployment, connection_id: int) -> int:
    return int(d.scalar("SELECT count(*) FROM orders WHERE connection_id = :id", id=connection_id))


def pedidos_calls(d: Deployment, account: Account) -> int:
    return int(d.counters(account)["api"].get(PEDIDOS, {}).get("total", 0))


def without_customer(truth: Iterable[dict[str, Any]]) -> set[int]:
    """Orders Tiny lists with no cliente at all (the sandbox's CLIENTE_NULL/ABSENT quirks)."""
    return {o["id"] for o in truth if not o["pedido"].get("cliente")}


def assert_consistent(d: Deployment, connection_id: int, truth: list[dict[str, Any]]) -> None:
    """No half-written order: each order has its customer (unless Tiny lists none), each tracked
    order its one running shipment, no shipment or customer without its order, no order twice."""
    c = connection_id
    customerless = {int(r[0]) for r in d.rows(
        "SELECT erp_order_id FROM orders WHERE connection_id = :c AND customer_id IS NULL", c=c)}
    assert customerless == without_customer(truth) & set(imported_ids(d, c))
    assert d.scalar(
        "SELECT count(*) FROM (SELECT erp_order_id FROM orders WHERE connection_id = :c "
        "GROUP BY erp_order_id HAVING count(*) > 1) AS twice", c=c) == 0
    assert d.scalar(
        "SELECT count(*) FROM customers WHERE NOT EXISTS "
        "(SELECT 1 FROM orders WHERE orders.customer_id = customers.id)") == 0
    assert d.scalar("SELECT count(*) FROM shipments WHERE order_id NOT IN (SELECT id FROM orders)") == 0
    # An order with a code being tracked has exactly one active shipment, and only those do.
    assert d.scalar(
        "SELECT count(*) FROM orders WHERE connection_id = :c AND tracking_status = 'tracking' AND "
        "(SELECT count(*) FROM shipments s WHERE s.order_id = orders.id AND s.active) <> 1", c=c) == 0
    assert d.scalar(
        "SELECT count(*) FROM orders WHERE connection_id = :c AND tracking_status <> 'tracking' AND "
        "EXISTS (SELECT 1 FROM shipments s WHERE s.order_id = orders.id AND s.active "
        "AND s.status = 'tracking')", c=c) == 0


def poll_job(d: Deployment, connection_id: int) -> Any:
    with d.container.adapters.uow()() as uow:
        return uow.jobs.get(JobKind.POLL, connection_id)


def connection_row(d: Deployment, connection_id: int) -> Any:
    with d.container.adapters.uow()() as uow:
        return uow.connections.get(connection_id)


def settle_counters(d: Deployment, account: Account) -> int:
    """The sandbox counts a call when it answers, after its latency: wait until the calls a
    killed worker left in flight are counted."""
    last = -1
    while True:
        now = pedidos_calls(d, account)
        if now == last:
            return now
        last = now
        time.sleep(0.5)


# After the backfill's first day, one page of the next proves that Tiny's update filter reaches
# forward and ends the walk (adapters/tiny/updates.py).
PROOF_PAGE = 1


def listed(truth: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The orders as Kanglu's listing pages them: point-of-sale (PDV) sales left out by Tiny."""
    return [o for o in truth if not o["origemPedido"]]


# -- 1. SIGKILL in the middle of a poll -------------------------------------------------------

def test_a_worker_killed_mid_poll_leaves_whole_pages_and_a_rerun_imports_the_rest_once(
    sqlite_deployment: Any,
) -> None:
    orders = 600  # six pages of 100
    with sqlite_deployment(KANGLU_POLL_INTERVAL="300", KANGLU_JOB_LEASE_SECONDS="5") as d:
        account = d.new_account(orders=orders, seed=11, settings=GENEROUS_PLAN, faults={"latency_ms": 150})
        cid = d.connect(account)
        truth = d.truth(account)
        expected = importable_ids(truth)
        assert len(truth) == orders and 0 < len(expected) < orders

        worker = d.start_worker(concurrency=2)
        try:
            wait_until(lambda: 0 < order_count(d, cid) < len(expected), timeout=60, every=0.05,
                       what="part of the orders imported")
        finally:
            worker.kill()

        # The killed run kept whole pages and where it got to. A page is imported in one
        # transaction and the progress written right after it (poll_orders.py): a kill between
        # the two leaves that page imported and the offset one page behind (no offset at all
        # after the first page), and the rerun finds that page unchanged. Never a part of a page.
        stopped = connection_row(d, cid)
        offset = stopped.poll_offset or 0
        assert stopped.poll_cursor is None, stopped.poll_cursor
        assert (stopped.poll_offset is None) == (stopped.poll_since is None), (offset, stopped.poll_since)
        assert offset % PAGE == 0 and 0 <= offset < orders
        imported = set(imported_ids(d, cid))
        whole_pages = [{o["id"] for o in listed(truth)[:end]} & set(expected) for end in (offset, offset + PAGE)]
        assert imported in whole_pages and imported, (offset, len(imported))
        assert_consistent(d, cid, truth)
        job = poll_job(d, cid)
        assert job.lease_owner is not None, "the poll should have been killed holding its lease"

        # The rerun: no latency, the killed worker's lease expired first.
        d.sandbox_call("PATCH", f"/accounts/{account.id}/faults?scope=api", latency_ms=0)
        settle_counters(d, account)
        d.sandbox_call("DELETE", f"/accounts/{account.id}/counters")
        wait_until(lambda: poll_job(d, cid).lease_expires_at <= datetime.now(UTC), timeout=10,
                   what="the killed worker's lease to expire")
        d.run_once(env={"KANGLU_JOB_LEASE_SECONDS": "5"})

        assert imported_ids(d, cid) == sorted(expected)  # each exactly once
        assert order_count(d, cid) == len(expected)
        assert_consistent(d, cid, truth)
        done = connection_row(d, cid)
        assert done.poll_cursor is not None and done.poll_offset is None and done.poll_since is None
        # The rerun started at the stored offset: it read only the pages the killed run had
        # not finished, one call each, and one page of the next day that ends the walk.
        assert pedidos_calls(d, account) == (orders - offset) // PAGE + PROOF_PAGE  # the lagging page included
        job = poll_job(d, cid)
        assert job.lease_owner is None and job.last_error is None


# -- 2. SIGTERM / SIGINT ------------------------------------------------------------------------

@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
def test_a_stop_signal_mid_poll_exits_promptly_and_frees_the_lease_for_the_next_worker(
    sqlite_deployment: Any, sig: signal.Signals
) -> None:
    orders = 400
    # A long lease: were it left held, the next worker could not start the poll for 5 minutes.
    with sqlite_deployment(KANGLU_POLL_INTERVAL="300", KANGLU_JOB_LEASE_SECONDS="300") as d:
        account = d.new_account(orders=orders, seed=12, settings=GENEROUS_PLAN, faults={"latency_ms": 150})
        cid = d.connect(account)
        truth = d.truth(account)
        expected = importable_ids(truth)

        worker = d.start_worker(concurrency=2)
        wait_until(lambda: 0 < order_count(d, cid) < len(expected), timeout=60, every=0.05,
                   what="part of the orders imported")
        code, seconds = worker.stop(sig)
        output = worker.output()
        assert code == 0, output[-4000:]
        assert seconds < 10, f"took {seconds:.1f} s to exit"
        assert f'"signal": "{sig.name}"' in output and "worker stopped" in output, output[-4000:]

        # Nothing holds a lease; the interrupted poll is due now, its finished pages kept.
        assert d.scalar("SELECT count(*) FROM jobs WHERE lease_owner IS NOT NULL OR lease_expires_at IS NOT NULL") == 0
        job = poll_job(d, cid)
        assert job.due_at <= datetime.now(UTC)
        stopped = connection_row(d, cid)
        offset = stopped.poll_offset
        assert offset is not None and offset % PAGE == 0 and 0 < offset < orders, offset
        assert set(imported_ids(d, cid)) == {o["id"] for o in listed(truth)[:offset]} & set(expected)
        assert_consistent(d, cid, truth)

        # The next worker starts the poll at once (no lease to wait for) where it stopped.
        d.sandbox_call("PATCH", f"/accounts/{account.id}/faults?scope=api", latency_ms=0)
        settle_counters(d, account)
        d.sandbox_call("DELETE", f"/accounts/{account.id}/counters")
        d.run_once()
        assert imported_ids(d, cid) == sorted(expected)
        assert_consistent(d, cid, truth)
        done = connection_row(d, cid)
        assert done.poll_cursor is not None and done.poll_offset is None
        assert pedidos_calls(d, account) == (orders - offset) // PAGE + PROOF_PAGE
        assert poll_job(d, cid).lease_owner is None


# -- 3. The database away for a moment ----------------------------------------------------------

CUT_SECONDS = 3.0


def _run_worker_through_an_outage(d: Deployment, cut: Any, worker_env: dict[str, str] | None = None) -> str:
    """Three merchants importing on a slow ERP; `cut()` takes the database away for a few
    seconds mid-import. The worker must live through it, finish every import exactly once,
    keep polling (new orders arrive afterwards) and stop cleanly."""
    accounts = [
        d.new_account(orders=250, seed=20 + i, settings=GENEROUS_PLAN, faults={"latency_ms": 100})
        for i in range(3)
    ]
    connections = {a.id: d.connect(a) for a in accounts}
    truths = {a.id: d.truth(a) for a in accounts}
    expected = {a.id: importable_ids(truths[a.id]) for a in accounts}
    total = sum(len(e) for e in expected.values())

    def all_orders() -> int:
        return int(d.scalar("SELECT count(*) FROM orders"))

    worker = d.start_worker(concurrency=4, env=worker_env)
    try:
        wait_until(lambda: 0 < all_orders() < total, timeout=60, every=0.05, what="imports under way")
        cut()
        assert worker.process.poll() is None, f"the worker died with the database:\n{worker.output()[-4000:]}"
        for account in accounts:
            d.sandbox_call("PATCH", f"/accounts/{account.id}/faults?scope=api", latency_ms=0)
        wait_until(lambda: all_orders() == total, timeout=90, what="every import to complete after the outage")
        for account in accounts:
            assert imported_ids(d, connections[account.id]) == sorted(expected[account.id])
            assert_consistent(d, connections[account.id], truths[account.id])

        # Still polling: two new invoiced orders on one account arrive.
        first = accounts[0]
        added = d.sandbox_call("POST", f"/accounts/{first.id}/orders", count=2, situacao=1)["orders"]
        wanted = sorted([*expected[first.id], *(o["id"] for o in added if not o.get("origemPedido"))])
        wait_until(lambda: imported_ids(d, connections[first.id]) == wanted, timeout=30,
                   what="the orders added after the outage")
        assert worker.process.poll() is None
    finally:
        code, _ = worker.stop(signal.SIGTERM)
    output = worker.output()
    assert code == 0, output[-4000:]
    for account in accounts:
        cid = connections[account.id]
        assert order_count(d, cid) == len(set(imported_ids(d, cid)))
        assert connection_row(d, cid).poll_offset is None
    assert d.scalar("SELECT count(*) FROM jobs WHERE lease_owner IS NOT NULL") == 0
    return output


@pytest.mark.postgres
def test_the_worker_lives_through_postgresql_dropping_its_connections(postgres_deployment: Any) -> None:
    app = f"kanglu-worker-test-{uuid.uuid4().hex[:8]}"
    # The default 5-minute lease: recovering must not wait for a lease to expire.
    with postgres_deployment(KANGLU_POLL_INTERVAL="2", KANGLU_JOB_LEASE_SECONDS="300") as d:
        url = make_url(d.env["KANGLU_DATABASE_URL"]).update_query_dict({"application_name": app})
        terminated = []

        def cut() -> None:
            # Every backend of this worker (and only of it) is killed, again and again.
            deadline = time.monotonic() + CUT_SECONDS
            while time.monotonic() < deadline:
                # Two statements, not one WHERE: PostgreSQL may evaluate conditions in any order,
                # and pg_terminate_backend must never run on another session's backend.
                pids = [r.pid for r in d.rows(
                    "SELECT pid FROM pg_stat_activity WHERE datname = current_database() "
                    "AND application_name = :app AND pid <> pg_backend_pid()", app=app)]
                for pid in pids:
                    if d.scalar("SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                                "WHERE pid = :pid AND application_name = :app", pid=pid, app=app):
                        terminated.append(pid)
                time.sleep(0.02)
            assert terminated, "the worker had no database connection to cut"

        output = _run_worker_through_an_outage(
            d, cut, {"KANGLU_DATABASE_URL": url.render_as_string(hide_password=False)})
        # The failures are logged with what failed: the job (kind, merchant's connection) or the worker.
        events = [json.loads(line) for line in output.splitlines() if line.startswith("{")]
        failures = [e for e in events if e["level"] in ("warning", "error")
                    and ("AdminShutdown" in e.get("exception", "") or "connection" in e.get("exception", "")
                         or "error" in e)]
        assert failures, output[-4000:]
        ours = [e for e in failures if e["logger"] in ("kanglu.application.scheduling", "kanglu.entrypoints.worker")]
        assert all(("job_kind" in e and "subject_id" in e) or "owner" in e for e in ours), ours
        # A poll that lost its database says so with the merchant's connection, and is retried on
        # the short schedule of a transient failure (not counted as an unexpected error).
        lost = ("database read failed, will be retried", "database operation failed, will be retried")
        assert any(e["event"] in lost and e.get("job_kind") == "poll" and "connection_id" in e for e in failures)
        assert any(e["event"] == "poll interrupted, progress kept" and "connection_id" in e for e in events)


def test_the_worker_lives_through_sqlite_locked_by_another_process(sqlite_deployment: Any) -> None:
    with sqlite_deployment(KANGLU_POLL_INTERVAL="2", KANGLU_JOB_LEASE_SECONDS="300") as d:
        path = make_url(d.env["KANGLU_DATABASE_URL"]).database
        held = []

        def order_count_everywhere() -> int:
            return int(d.scalar("SELECT count(*) FROM orders"))

        def cut() -> None:
            # Another process takes the file's write lock and sits on it.
            other = sqlite3.connect(path, isolation_level=None)
            try:
                other.execute("BEGIN EXCLUSIVE")
                started = time.monotonic()
                before = order_count_everywhere()
                time.sleep(CUT_SECONDS)
                # Nothing was written meanwhile: the worker really waited for the lock.
                assert order_count_everywhere() == before
                held.append(time.monotonic() - started)
                other.execute("ROLLBACK")
            finally:
                other.close()

        _run_worker_through_an_outage(d, cut)
        assert held and held[0] >= CUT_SECONDS
