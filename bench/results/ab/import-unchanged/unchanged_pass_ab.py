"""The script behind the A/B figures of this folder (not part of `make bench`): the unchanged
pass of bench_import_sql.py (pages of 100 orders imported again, nothing changed), measured by
CPU time rather than wall time, for any tree (`KANGLU_BENCH_SRC=/path/to/tree/src`, 77ab5b8's
ImportOrder included).

    KANGLU_BENCH_SRC=/tmp/base/src python bench/results/ab/import-unchanged/unchanged_pass_ab.py \
        --backend postgresql --orders 5000 --passes 3 --label base

Prints one JSON line: per pass, the wall rate, Kanglu's CPU per order (time.process_time) and,
on PostgreSQL, the server backend's CPU per order (/proc/PID/schedstat: Linux, a local server);
the statements per page. --trace FILE writes libpq's trace of the pass (every message, with
times: round trips, prepared statements), --profile FILE a cProfile with a CPU clock,
TIME_SIG=1 times import_signature in place.
"""

from __future__ import annotations

import argparse
import cProfile
import json
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[3]))  # bench/

from sql_bench_data import SRC, OrderFactory, database, maintain, seed_connection  # noqa: E402
from sqlalchemy import event  # noqa: E402

import kanglu  # noqa: E402
import kanglu.application.importing as importing  # noqa: E402
from kanglu.adapters.clock import SystemClock  # noqa: E402
from kanglu.adapters.sql.unit_of_work import SqlUnitOfWorkFactory  # noqa: E402
from kanglu.application import commands  # noqa: E402
from kanglu.application.use_cases.import_order import ImportOrder  # noqa: E402
from kanglu.domain.carriers import DEFAULT_REGISTRY  # noqa: E402

assert kanglu.__file__.startswith(SRC), (kanglu.__file__, SRC)
PAGE = 100


def use_case(uow: Any) -> tuple[Any, Any]:
    try:
        return ImportOrder(uow=uow, clock=SystemClock(), carriers=DEFAULT_REGISTRY), commands.ImportOrderCommand
    except TypeError:  # 77ab5b8: the importer was given to the use case
        from kanglu.application.importing import OrderImporter  # type: ignore[attr-defined]

        importer = OrderImporter(carriers=DEFAULT_REGISTRY)
        return ImportOrder(uow=uow, clock=SystemClock(), importer=importer), commands.ImportOrders  # type: ignore[call-arg,attr-defined]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--backend", default="sqlite", choices=["sqlite", "postgresql"])
    parser.add_argument("--orders", type=int, default=5000)
    parser.add_argument("--passes", type=int, default=3)
    parser.add_argument("--label", default="")
    parser.add_argument("--trace")
    parser.add_argument("--profile")
    args = parser.parse_args()
    orders = OrderFactory().orders(args.orders)
    pages = -(-len(orders) // PAGE)
    with tempfile.TemporaryDirectory() as tmp, database(args.backend, Path(tmp), f"unchanged{os.getpid()}") as engine:
        uow = SqlUnitOfWorkFactory(engine)
        _, cid = seed_connection(uow)
        import_order, command = use_case(uow)
        for first in range(0, len(orders), PAGE):  # the new orders, as bench_import_sql.py does
            if first and first % 2000 == 0:
                maintain(engine)
            import_order(command(cid, orders[first : first + PAGE]))
        maintain(engine)

        statements = [0]
        event.listen(engine, "before_cursor_execute", lambda *_: statements.__setitem__(0, statements[0] + 1))
        backend_pids: set[int] = set()
        trace = open(args.trace, "w") if args.trace and args.backend == "postgresql" else None  # noqa: SIM115
        if args.backend == "postgresql":
            import psycopg.pq

            @event.listens_for(engine, "checkout")
            def _server(dbapi: Any, record: Any, _proxy: Any) -> None:
                if "pid" not in record.info:
                    cursor = dbapi.cursor()
                    cursor.execute("SELECT pg_backend_pid()")
                    record.info["pid"] = cursor.fetchone()[0]
                    cursor.close()
                    dbapi.commit()  # not rollback(): psycopg would drop its prepared statements
                    if trace is not None:
                        dbapi.pgconn.trace(trace.fileno())
                        dbapi.pgconn.set_trace_flags(psycopg.pq.Trace(0))
                backend_pids.add(record.info["pid"])

        def server_ns() -> int:
            total = 0
            for pid in backend_pids:
                with open(f"/proc/{pid}/schedstat") as stat:
                    total += int(stat.read().split()[0])
            return total

        signature_cpu = [0.0]
        if os.environ.get("TIME_SIG") == "1":
            real = importing.import_signature

            def timed(*signature_args: Any) -> str:
                start = time.process_time()
                try:
                    return real(*signature_args)
                finally:
                    signature_cpu[0] += time.process_time() - start

            importing.import_signature = timed  # type: ignore[assignment]
        profile = cProfile.Profile(time.process_time) if args.profile else None
        import_order(command(cid, orders[:PAGE]))  # a warm page (and the server's pid)
        walls, cpus, servers = [], [], []
        for _ in range(args.passes):
            statements[0] = 0
            wall = cpu = 0.0
            server_start = server_ns()
            for first in range(0, len(orders), PAGE):
                batch = orders[first : first + PAGE]
                start, start_cpu = time.perf_counter(), time.process_time()
                if profile:
                    profile.enable()
                import_order(command(cid, batch))
                if profile:
                    profile.disable()
                wall += time.perf_counter() - start
                cpu += time.process_time() - start_cpu
            walls.append(wall)
            cpus.append(cpu)
            servers.append(server_ns() - server_start)
        if trace is not None:
            trace.close()
        if profile:
            profile.dump_stats(args.profile)
        print(json.dumps({
            "label": args.label, "backend": args.backend, "orders": len(orders),
            "orders_per_s_wall": [round(len(orders) / w) for w in walls],
            "cpu_us_per_order": [round(c / len(orders) * 1e6, 1) for c in cpus],
            "server_cpu_us_per_order": [round(s / len(orders) / 1e3, 1) for s in servers],
            "sig_cpu_us_per_order": round(signature_cpu[0] / (args.passes * len(orders)) * 1e6, 2),
            "statements_per_page": statements[0] / pages,
        }))


if __name__ == "__main__":
    main()
