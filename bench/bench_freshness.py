"""How long a new order takes to reach Kanglu's database, as a fraction of the poll interval:
orders must arrive within one interval.

    python bench/bench_freshness.py [--connections 200] [--interval 10] [--seconds 60]
                                    [--rate 2] [--concurrency 8] [--postgres-url URL]

One `kanglu worker` runs forever (KANGLU_POLL_INTERVAL=--interval) against the sandbox in its own
process. Once every connection has been imported, new orders (situação Enviada, which the
default mapping imports) are created on random accounts at random moments (a Poisson stream of
--rate orders/s) through the control API for --seconds; each order's latency is the order's
`imported_at` in Kanglu's database minus the moment the sandbox answered that it exists, and,
for the orders that carry a carrier and a tracking code, until the tracking service received
the start of their tracking (`tracking_handoffs.received_at`, the outbox delivered). No
baseline: the reference is the interval itself (1.0). The issue's figure is at the default
interval: `--interval 120 --seconds 240`. SQLite by default; PostgreSQL too when a URL is
given. Writes bench/results/bench_freshness.json.
"""

from __future__ import annotations

import argparse
import random
import statistics
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

from sql_bench_data import machine, postgres_url, write_result
from sqlalchemy import select
from sqlalchemy.engine import Engine
from worker_bench_data import WorkerProcess, database_url, deployment, memory_mb, sandbox_process

from kanglu.adapters.sql import tables as t
from kanglu.domain.tracking import ShipmentStatus

ENVIADA = 5


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


def run_backend(backend: str, workdir: Path, args: argparse.Namespace) -> dict[str, object]:
    rng = random.Random(args.seed)
    with sandbox_process() as sandbox, database_url(backend, workdir, "fresh", args.postgres_url) as url, \
            deployment(sandbox, url, workdir, KANGLU_POLL_INTERVAL=str(args.interval)) as d:
        d.seed(args.connections, args.orders)
        accounts = {account: cid for cid, account in d.connections.items()}
        worker = WorkerProcess.start(d, concurrency=args.concurrency)
        try:
            worker.wait_started()
            # The first import of every connection (their backfill) is not what is measured.
            deadline = time.monotonic() + 300
            while sum(worker.polls().values()) < args.connections:
                assert time.monotonic() < deadline, "the first import did not finish in 300 s"
                time.sleep(0.5)
            print(f"  {args.connections} connections imported; creating orders for {args.seconds} s", flush=True)
            created: dict[tuple[int, int], float] = {}  # (connection id, erp order id) -> seconds since epoch
            started = time.time()
            while time.time() - started < args.seconds:
                time.sleep(rng.expovariate(args.rate))
                account = rng.choice(list(accounts))
                answer = sandbox.call("POST", f"/accounts/{account}/orders", count=1, situacao=ENVIADA)
                exists_at = time.time()  # the order is listed from now on
                created[(accounts[account], answer["orders"][0]["id"])] = exists_at
            # Wait for the last ones: two intervals is more than any should need.
            deadline = time.time() + 2 * args.interval + 10
            imported: dict[tuple[int, int], float] = {}
            tracked: dict[tuple[int, int], float] = {}
            trackable: set[tuple[int, int]] = set()
            while time.time() < deadline:
                imported, trackable, tracked = arrivals(d.container.adapters.engine(), started)
                if all(key in imported for key in created) and trackable <= tracked.keys():
                    break
                time.sleep(0.5)
            memory = memory_mb(worker.pid)
        finally:
            code = worker.stop()
        assert code == 0, f"worker exited {code}:\n{worker.output()[-3000:]}"
    missing = [key for key in created if key not in imported]
    latencies = [imported[key] - at for key, at in created.items() if key in imported]
    to_tracking = [tracked[key] - at for key, at in created.items() if key in tracked]
    return {
        "orders_created": len(created),
        "orders_arrived": len(latencies),
        "orders_missing": len(missing),
        "latency_seconds": summary(latencies),
        "latency_fraction_of_interval": summary([s / args.interval for s in latencies], digits=3),
        "within_one_interval": sum(1 for s in latencies if s <= args.interval),
        # Orders that carry a carrier and a tracking code: until the tracking service received
        # the start of tracking (the outbox delivered it).
        "orders_tracked": len(to_tracking),
        "orders_trackable_not_tracked": len(trackable - tracked.keys()),
        "tracking_start_seconds": summary(to_tracking),
        "tracking_start_fraction_of_interval": summary([s / args.interval for s in to_tracking], digits=3),
        **memory,
    }


def summary(values: list[float], digits: int = 2) -> dict[str, float]:
    if not values:
        return {}
    return {"p50": round(statistics.median(values), digits), "p95": round(percentile(values, 95), digits),
            "p99": round(percentile(values, 99), digits), "max": round(max(values), digits),
            "min": round(min(values), digits)}


def arrivals(engine: Engine, since: float) -> tuple[dict[tuple[int, int], float], set[tuple[int, int]],
                                                     dict[tuple[int, int], float]]:
    """Keyed by (connection id, ERP order id): when each order was imported, which of them are
    in tracking, and when the tracking service received each one's start."""
    o, h, c = t.orders.c, t.tracking_handoffs.c, t.erp_connections.c
    after = datetime.fromtimestamp(since - 1, UTC)
    with engine.connect() as connection:
        # typed columns: datetimes come back aware on both backends
        rows = connection.execute(select(o.connection_id, o.erp_order_id, o.imported_at, o.tracking_status)
                                  .where(o.imported_at >= after)).all()
        imported = {(r[0], r[1]): _epoch(r[2]) for r in rows}
        trackable = {(r[0], r[1]) for r in rows if r[3] is ShipmentStatus.TRACKING}
        handoffs = connection.execute(
            select(c.id, h.erp_order_id, h.received_at)
            .join(t.erp_connections, c.merchant_id == h.merchant_id)
            .where(h.kind == "start", h.received_at >= after)
        ).all()
    tracked = {(r[0], r[1]): _epoch(r[2]) for r in handoffs if (r[0], r[1]) in imported}
    return imported, trackable, tracked


def _epoch(value: datetime) -> float:
    return value.timestamp()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--connections", type=int, default=200)
    parser.add_argument("--orders", type=int, default=5, help="orders per sandbox account before the run")
    parser.add_argument("--interval", type=int, default=10, help="KANGLU_POLL_INTERVAL, seconds")
    parser.add_argument("--seconds", type=float, default=60, help="how long new orders keep arriving")
    parser.add_argument("--rate", type=float, default=2.0, help="new orders per second (Poisson)")
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--postgres-url", default=postgres_url())
    parser.add_argument("--backends", nargs="+", choices=["sqlite", "postgresql"])
    args = parser.parse_args()
    chosen = args.backends or ["sqlite"]
    result: dict[str, object] = {
        "benchmark": "bench_freshness",
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": machine(),
        "parameters": {k: getattr(args, k) for k in ("connections", "orders", "interval", "seconds", "rate",
                                                      "concurrency", "seed")},
        "reference": "the poll interval (1.0): every order should arrive within it",
    }
    with tempfile.TemporaryDirectory(prefix="kanglu-bench-fresh-") as tmp:
        for backend in chosen:
            workdir = Path(tmp) / backend
            workdir.mkdir()
            print(f"{backend}: {args.connections} connections, poll interval {args.interval} s", flush=True)
            figures = run_backend(backend, workdir, args)
            result[backend] = figures
            lat, frac = figures["latency_seconds"], figures["latency_fraction_of_interval"]
            track = figures["tracking_start_seconds"]
            print(f"  {figures['orders_arrived']}/{figures['orders_created']} orders arrived; latency "
                  f"p50 {lat['p50']} s ({frac['p50']:.2f} of the interval), p99 {lat['p99']} s ({frac['p99']:.2f}), "  # type: ignore[index]
                  f"max {lat['max']} s ({frac['max']:.2f}); {figures['within_one_interval']} within one interval; "  # type: ignore[index]
                  f"tracking started for {figures['orders_tracked']}: p50 {track.get('p50')} s, "  # type: ignore[union-attr]
                  f"p99 {track.get('p99')} s", flush=True)  # type: ignore[union-attr]
    write_result("bench_freshness", result)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
