"""The order list at 100,000 orders: first page, deep pages, searches and filters, in ms, on
SQLite and PostgreSQL (the read side of application/queries.py through the SQL adapter).

    python bench/bench_order_queries_sql.py [--orders 100000]

The orders are loaded through the bulk import path first (which takes a while). PostgreSQL
runs when KANGLU_BENCH_POSTGRES_URL (or KANGLU_TEST_POSTGRES_URL) is set.
Writes bench/results/bench_order_queries_sql.json.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

from sql_bench_data import OrderFactory, backends, database, machine, maintain, seed_connection, write_result

from kanglu.adapters.clock import SystemClock
from kanglu.adapters.sql.queries import SqlCustomerQueries, SqlOrderQueries
from kanglu.adapters.sql.unit_of_work import SqlUnitOfWorkFactory
from kanglu.application.commands import ImportOrderCommand
from kanglu.application.queries import UNKNOWN_CARRIER, OrderFilters, PageRequest
from kanglu.application.use_cases.import_order import ImportOrder
from kanglu.domain.carriers import DEFAULT_REGISTRY
from kanglu.domain.situacoes import Situacao
from kanglu.domain.tracking import ShipmentStatus

PER_PAGE = 20
REPEAT = 9


def timed(query: Callable[[], object]) -> dict[str, float]:
    query()  # warm: plans, caches, pages in memory
    samples = []
    for _ in range(REPEAT):
        start = time.perf_counter()
        query()
        samples.append((time.perf_counter() - start) * 1000)
    return {"median_ms": round(statistics.median(samples), 2), "min_ms": round(min(samples), 2),
            "max_ms": round(max(samples), 2)}


def measure(backend: str, workdir: Path, count: int) -> dict[str, object]:
    factory = OrderFactory(seed=11)
    with database(backend, workdir, "queries") as engine:
        uow = SqlUnitOfWorkFactory(engine)
        merchant_id, cid = seed_connection(uow)
        use_case = ImportOrder(uow=uow, clock=SystemClock(), carriers=DEFAULT_REGISTRY)
        start = time.perf_counter()
        sample = None
        for first in range(1, count + 1, 1000):
            orders = factory.orders(min(1000, count + 1 - first), first_id=first)
            sample = sample or next(o for o in orders if o.tracking_code and o.situacao is not Situacao.ABERTA)
            for page in range(0, len(orders), 100):
                use_case(ImportOrderCommand(cid, orders[page : page + 100]))
            if first % 10_000 == 1:
                maintain(engine)
        load_seconds = time.perf_counter() - start
        maintain(engine, vacuum=True)
        assert sample is not None and sample.customer is not None and sample.tracking_code is not None
        orders_q, customers_q = SqlOrderQueries(engine), SqlCustomerQueries(engine)
        total = orders_q.list_orders(merchant_id, OrderFilters(), PageRequest(1, PER_PAGE)).total
        last_page = -(-total // PER_PAGE)

        def orders_page(page: int = 1, **filters: object) -> Callable[[], object]:
            return lambda: orders_q.list_orders(merchant_id, OrderFilters(**filters), PageRequest(page, PER_PAGE))

        cases = {
            "first_page": orders_page(),
            "deep_page_middle": orders_page(last_page // 2),
            "deep_page_last": orders_page(last_page),
            "search_order_number": orders_page(q=sample.number),
            "search_tracking_code": orders_page(q=sample.tracking_code.value.lower()),
            "search_cpf_formatted": orders_page(q=sample.customer.document.formatted()),  # type: ignore[union-attr]
            "search_customer_full_name": orders_page(q=sample.customer.name),  # type: ignore[union-attr]
            "search_customer_surname_common": orders_page(q="silva"),  # about one customer in seven
            "search_customer_surname_page_10": orders_page(10, q="silva"),
            "search_no_match": orders_page(q="ninguém com este nome"),
            "filter_situacao_enviada": orders_page(situacao=int(Situacao.ENVIADA)),
            "filter_waiting_data": orders_page(tracking_status=ShipmentStatus.WAITING_DATA),
            "filter_unknown_carrier": orders_page(carrier_code=UNKNOWN_CARRIER),
            "filter_carrier_and_search": orders_page(carrier_code="correios", q="souza"),
            "unmatched_services": lambda: orders_q.unmatched_services(merchant_id),
            "customers_first_page": lambda: customers_q.list_customers(merchant_id, None, PageRequest(1, PER_PAGE)),
            "customers_search": lambda: customers_q.list_customers(merchant_id, "oliveira", PageRequest(1, PER_PAGE)),
        }
        figures: dict[str, object] = {
            "orders": total,
            "load_seconds": round(load_seconds, 1),
            "load_orders_per_s": round(count / load_seconds),
            "per_page": PER_PAGE,
        }
        for name, query in cases.items():
            figures[name] = timed(query)
            print(f"  {name:<32} {figures[name]['median_ms']:>8.2f} ms median"  # type: ignore[index]
                  f"  ({figures[name]['min_ms']:.2f}–{figures[name]['max_ms']:.2f})", flush=True)  # type: ignore[index]
        return figures


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--orders", type=int, default=100_000)
    args = parser.parse_args()
    result: dict[str, object] = {
        "benchmark": "bench_order_queries_sql",
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": machine(),
        "repeat": REPEAT,
        "note": "each figure: median and spread (min, max) of the repeats after one warm-up run; a page is 20 orders "
                "with their customers, shipments and import errors, plus the total count",
    }
    with tempfile.TemporaryDirectory(prefix="kanglu-bench-") as tmp:
        for backend in backends():
            print(f"{backend}: loading {args.orders} orders through the bulk import path…", flush=True)
            result[backend] = measure(backend, Path(tmp), args.orders)
    write_result("bench_order_queries_sql", result)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
