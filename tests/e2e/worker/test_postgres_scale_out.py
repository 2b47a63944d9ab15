"""Several `kanglu worker` processes sharing one PostgreSQL: one renewal per due token however
many processes race for it, and every order of many connections imported exactly once."""

from __future__ import annotations

import json
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest

from kanglu.sandbox.accounts import Account
from tests.e2e.worker.harness import Deployment, WorkerProcess, importable_ids, wait_until

def expected_orders(d: Deployment, account: Account) -> set[int]:
    """The Tiny order ids Kanglu must hold for `account`, from the sandbox's own view."""
    return importable_ids(d.truth(account))


def log_records(output: str) -> list[dict[str, Any]]:
    records = []
    for line in output.splitlines():
        try:
            records.append(json.loads(line))
        except ValueError:
            continue
    return records


def start_together(d: Deployment, count: int, **options: Any) -> list[WorkerProcess]:
    """`count` workers started back to back, so that their first claims really race."""
    return [d.start_worker(**options) for _ in range(count)]


@pytest.mark.postgres
def test_four_workers_racing_for_a_due_token_make_one_refresh_call(postgres_deployment: Any) -> None:
    with postgres_deployment(KANGLU_POLL_INTERVAL="60") as d:
        # A 5-minute access token is inside the 10-minute renewal margin: due at once.
        account = d.new_account(orders=30, seed=11, settings={"access_lifetime": 300})
        connection_id = d.connect(account)
        assert d.scalar("SELECT token_version FROM erp_connections WHERE id = :id", id=connection_id) == 1

        workers = start_together(d, 4, once=True, concurrency=4)
        codes = [w.wait() for w in workers]
        outputs = [w.output() for w in workers]
        assert codes == [0, 0, 0, 0], "\n".join(o[-2000:] for o in outputs)

        oauth = d.counters(account)["oauth"]
        assert oauth.get("refresh_calls") == 1, oauth
        assert oauth.get("token:refresh_token") == {"200": 1}, oauth
        assert oauth.get("spent_refresh_token_uses", 0) == 0, oauth
        renewals = [r for o in outputs for r in log_records(o) if r.get("event") == "token renewed"]
        assert len(renewals) == 1, renewals

        connection = d.rows("SELECT status, token_version, last_error FROM erp_connections WHERE id = :id",
                            id=connection_id)[0]
        assert (connection.status, connection.token_version, connection.last_error) == ("connected", 2, None)

        imported = {r.erp_order_id for r in d.orders_of(connection_id)}
        assert imported == expected_orders(d, account)
        assert d.scalar("SELECT count(*) FROM jobs WHERE lease_owner IS NOT NULL") == 0


ACCOUNTS = 200
ORDERS_PER_ACCOUNT = 50
PROCESSES = 4


@pytest.mark.postgres
def test_four_workers_import_every_order_of_200_connections_exactly_once(postgres_deployment: Any) -> None:
    # A poll interval longer than the test: every connection is polled once, then waits.
    with postgres_deployment(KANGLU_POLL_INTERVAL="600", KANGLU_JOB_LEASE_SECONDS="60") as d:
        started = time.monotonic()
        accounts = [d.new_account(orders=ORDERS_PER_ACCOUNT, seed=1000 + i) for i in range(ACCOUNTS)]
        connection_ids = [d.connect(accounts[0])]  # the first builds the container's shared adapters
        with ThreadPoolExecutor(8) as pool:
            connection_ids += list(pool.map(d.connect, accounts[1:]))
        connected = time.monotonic() - started
        with ThreadPoolExecutor(8) as pool:
            expected = dict(zip(connection_ids, pool.map(lambda a: expected_orders(d, a), accounts), strict=True))
        truth_read = time.monotonic() - started - connected
        total = sum(len(ids) for ids in expected.values())
        assert total > ACCOUNTS * ORDERS_PER_ACCOUNT // 3  # the mapping keeps a good share of the dataset

        started = time.monotonic()
        workers = start_together(d, PROCESSES, concurrency=4)
        try:
            wait_until(lambda: d.scalar("SELECT count(*) FROM orders") >= total, timeout=240, every=1,
                       what=f"{total} orders imported")
            imported_in = time.monotonic() - started
            wait_until(lambda: d.scalar("SELECT count(*) FROM outbox WHERE delivered_at IS NULL") == 0,
                       timeout=240, every=1, what="the outbox delivered")
            delivered_in = time.monotonic() - started
        finally:
            stops = [w.stop() for w in workers]
        outputs = [w.output() for w in workers]
        assert [code for code, _ in stops] == [0] * PROCESSES, "\n".join(o[-2000:] for o in outputs)

        # Every order exactly once, and no other.
        rows = d.rows("SELECT connection_id, erp_order_id FROM orders")
        assert len(rows) == total
        assert len(set(rows)) == total
        held: dict[int, set[int]] = {}
        for row in rows:
            held.setdefault(row.connection_id, set()).add(row.erp_order_id)
        assert held == {cid: ids for cid, ids in expected.items() if ids}

        # The workers' own account: every order imported once across processes, no error.
        records = [log_records(o) for o in outputs]
        polls = [[r for r in rs if r.get("event") == "poll completed"] for rs in records]
        assert sum(r["imported"] for rs in polls for r in rs) == total
        assert sorted(r["connection_id"] for rs in polls for r in rs) == sorted(connection_ids)
        errors = [r for rs in records for r in rs if r.get("level") in ("error", "critical")]
        assert errors == []
        assert Counter(r["event"] for rs in records for r in rs if r.get("level") == "warning") == Counter()

        # Every connection keeps its two jobs, none leased after a clean stop; nothing pending.
        job_rows = d.rows("SELECT kind, subject_id FROM jobs WHERE kind NOT IN ('deliver_outbox', 'purge_events')")
        jobs = Counter((r.kind, r.subject_id) for r in job_rows)
        assert jobs == Counter({(kind, cid): 1 for cid in connection_ids for kind in ("poll", "renew_token")})
        assert d.scalar("SELECT count(*) FROM jobs WHERE lease_owner IS NOT NULL OR lease_expires_at IS NOT NULL") == 0
        assert d.scalar("SELECT count(*) FROM outbox WHERE delivered_at IS NULL") == 0
        assert d.scalar("SELECT count(*) FROM outbox WHERE lease_owner IS NOT NULL") == 0

        spread = [len(p) for p in polls]
        outbox = d.scalar("SELECT count(*) FROM outbox")
        print(f"\nscale-out: {ACCOUNTS} connections made in {connected:.1f} s; {total} orders imported by "
              f"{PROCESSES} processes in {imported_in:.1f} s ({total / imported_in:.0f} orders/s); "
              f"outbox delivered at {delivered_in:.1f} s ({outbox} messages); polls per process {spread}; "
              f"truth read in {truth_read:.1f} s; stopped in {max(s for _, s in stops):.1f} s")
